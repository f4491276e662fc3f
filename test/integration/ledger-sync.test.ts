// Catching up over /alliance/sync/1 while the remote keeps gossiping, over real WebRTC: a
// fresh peer fetches a few thousand blocks in storage order while every new gossiped block
// it cannot place yet (its parents are still to come) asks for its missing parents. Those
// asks once each opened their own sync stream; past the remote's 16 inbound streams libp2p
// reset them, the remote counted the cut requests as garbage and hung up on the honest peer
// halfway. Blocks are made at the test difficulty (4) so that the file stays short.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import { createLedgerContext } from '../../src/core/ledger/index.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { dagGenesis, key } from '../fixtures/ledger-helpers.ts'
import { fillStore, makeDag } from '../bench/ledger-kernel.ts'
import { logger, waitFor } from './helpers.ts'
import { sameState, startLedgerPeer, stopLedgerPeers } from './ledger-helpers.ts'
import type { LedgerPeer } from './ledger-helpers.ts'

const BLOCKS = 3000

describe('[L15][L37] catching up while the remote gossips', () => {
  // the DAG's 8 issuers and the busy peer (key 508) are validators: no admissions needed
  const ctx = createLedgerContext(dagGenesis(500, 8, 1))
  let relay: RelayHandle | undefined
  const peers: LedgerPeer[] = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
  })

  afterAll(async () => {
    await stopLedgerPeers(peers)
    await relay?.stop()
  })

  it(`a fresh peer fetches ${BLOCKS} blocks from a busy peer without being hung up on`, async () => {
    const blocks = makeDag(ctx, BLOCKS, { issuers: 8, sign: true, keyBase: 500 }).map(b => b.bytes)
    const store = createMemoryLedgerStore()
    const filled = await fillStore(ctx, blocks, store, { now: Date.now(), batch: 500, checkpointEvery: 1000 })
    const lastId = filled.blockIds().at(-1)!
    const a = await startLedgerPeer('busy', { ctx, relays: relay!.multiaddrs, store, seed: key(508).seed })
    peers.push(a)
    expect(a.ledger.stats().blocks).toBeGreaterThanOrEqual(BLOCKS)
    const b = await startLedgerPeer('fresh', { ctx, relays: relay!.multiaddrs })
    peers.push(b)

    // the busy peer gossips a new block every 50 ms while the fresh one catches up; each
    // approves recent tips the fresh peer does not have yet, so it parks them and asks
    let gossiped = 0
    let busy = true
    const gossip = (async () => {
      while (busy) {
        await a.ledger.submit([]).then(() => { gossiped++ }, () => {})
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    try {
      await waitFor('the fresh peer holds every block of the busy one', () => b.ledger.engine.has(lastId) && b.ledger.stats().blocks >= BLOCKS, 60_000, 100)
    } finally {
      busy = false
      await gossip
    }
    expect(gossiped).toBeGreaterThan(5)
    // nobody was hung up on, nothing was counted as garbage
    for (const p of [a, b]) {
      expect(p.net.stats().disconnected).toBe(0)
      expect(p.net.stats().rejected).toEqual({})
      expect(p.ledger.stats().rejectedInputs).toEqual({})
    }
    expect(a.net.peers().find(x => x.did === b.did)?.kind).toBe('direct')
    // and the fresh peer ends with everything, orphans placed, in the same state
    await waitFor('the fresh peer has every block of the busy one and no orphans', () =>
      a.ledger.engine.blockIds().every(id => b.ledger.engine.has(id)) && b.ledger.stats().orphans === 0, 30_000, 100)
    await waitFor('one state hash', () => sameState([a, b]), 30_000, 100)
    expect(await b.store.blockCount()).toBe(b.ledger.stats().blocks)
  }, 120_000)
})
