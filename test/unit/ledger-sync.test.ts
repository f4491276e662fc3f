// Sync orchestration (SPEC S23–S25): a reconnect syncs at once instead of waiting behind a
// request on the dead connection; a serving `get` reads only about what it sends; full
// snapshots wait until the sync ends. The net is
// a fake LedgerNet whose sync streams never answer (a connection that died without closing).
import { describe, expect, it } from 'vitest'
import type { MessageStream } from '@libp2p/interface'
import { createLedgerContext } from '../../src/core/ledger/index.ts'
import type { Did } from '../../src/core/identity.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import type { LedgerNet } from '../../src/peer/ledger-service.ts'
import { storeSyncSource } from '../../src/peer/ledger-sync.ts'
import { inThreadMiner } from '../../src/peer/miner.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { dagGenesis, key } from '../fixtures/ledger-helpers.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { fillStore } from '../bench/ledger-kernel.ts'

const ctx = createLedgerContext(dagGenesis(720, 4))

function fakeNet (remote: { did: Did, peerId: string }): LedgerNet & { direct: boolean, dials: number, aborted: number, emit: () => void } {
  const listeners = new Set<() => void>()
  const net = {
    direct: false,
    dials: 0,
    aborted: 0,
    emit: () => { for (const l of listeners) l() },
    publish: async () => 0,
    subscribe: () => () => {},
    handle: async () => {},
    unhandle: async () => {},
    // a stream that is opened and then never answers: only an abort ends the request
    dialProtocol: async (_did: Did, _protocol: string, opts: { signal?: AbortSignal } = {}): Promise<MessageStream> => {
      net.dials++
      return await new Promise<MessageStream>((_resolve, reject) => {
        opts.signal?.addEventListener('abort', () => { net.aborted++; reject(new Error('aborted')) }, { once: true })
      })
    },
    peers: () => net.direct ? [{ did: remote.did, peerId: remote.peerId, kind: 'direct' as const }] : [],
    reportMisbehaviour: () => {},
    on: (_type: 'change', listener: () => void) => { listeners.add(listener); return () => { listeners.delete(listener) } }
  }
  return net
}

const tick = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 20)) }

describe('[S23][S24][S25] sync orchestration', () => {
  it('[S23] a peer that drops and reconnects is synced again at once, not behind the request on the dead connection', async () => {
    const me = key(730)
    const remote = { did: key(731).did, peerId: 'remote-peer' }
    const ledger = await LedgerService.open({ ctx, store: createMemoryLedgerStore(), did: me.did, seed: () => me.seed, miner: inThreadMiner, syncIntervalMs: 3_600_000, witnessIntervalMs: 3_600_000 })
    const net = fakeNet(remote)
    await ledger.start(net)
    try {
      net.direct = true
      net.emit()
      await tick()
      expect(net.dials).toBe(1) // the sync's first request, hanging
      // the connection goes and comes back (a reconnect): a new sync starts right away
      net.direct = false
      net.emit()
      await tick()
      net.direct = true
      net.emit()
      await tick()
      expect(net.aborted).toBeGreaterThanOrEqual(1)
      expect(net.dials).toBe(2)
    } finally {
      net.direct = false
      await ledger.stop()
    }
  })

  it('[S24] a get reads only about what fits the reply, not every asked id', async () => {
    const blocks = makeDag(ctx, 300, { issuers: 4, sign: false, keyBase: 720 }).map(b => b.bytes)
    const store = createMemoryLedgerStore()
    const engine = await fillStore(ctx, blocks, store, { now: Date.now(), batch: 100 })
    const ids = engine.blockIds().slice(0, 256)
    let read = 0
    const getBlocksBytes = store.getBlocksBytes.bind(store)
    store.getBlocksBytes = async (asked) => { read += asked.length; return await getBlocksBytes(asked) }
    const size = blocks[0].byteLength
    // a budget of about 10 blocks: the reply holds ~10, and the store is asked for at most one slice more
    const sent = await storeSyncSource(store, size * 10, 16).getBlocks(ids)
    expect(sent.length).toBeGreaterThanOrEqual(5)
    expect(sent.length).toBeLessThan(30)
    expect(read).toBeLessThanOrEqual(sent.length + 2 * 16)
    // in the asked order, all of them when they fit
    const all = await storeSyncSource(store).getBlocks(ids)
    expect(all.length).toBe(256)
  })

  it('[S25] no full snapshot while a sync runs; one once it ended', async () => {
    const me = key(732)
    const remote = { did: key(733).did, peerId: 'remote-peer' }
    const store = createMemoryLedgerStore()
    const ledger = await LedgerService.open({ ctx, store, did: me.did, seed: () => me.seed, miner: inThreadMiner, checkpointEvery: 200, syncIntervalMs: 3_600_000, witnessIntervalMs: 3_600_000 })
    const net = fakeNet(remote)
    await ledger.start(net)
    try {
      net.direct = true
      net.emit()
      await tick()
      expect(net.dials).toBe(1) // a sync runs (its request hangs)
      const blocks = makeDag(ctx, 300, { issuers: 4, sign: true, keyBase: 720 }).map(b => b.bytes)
      for (let i = 0; i < blocks.length; i += 100) await ledger.ingest(blocks.slice(i, i + 100))
      await ledger.whenWritten()
      expect(await store.blockCount()).toBe(300)
      expect(await store.getCheckpoint()).toBeUndefined()
      // the peer goes: its sync ends, and the snapshot skipped meanwhile is written
      net.direct = false
      net.emit()
      await tick()
      await ledger.whenWritten()
      expect((await store.getCheckpoint())?.blockCount).toBe(300)
    } finally {
      await ledger.stop()
    }
  })
})
