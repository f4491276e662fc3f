// Issue 10 end to end (SPEC S20): a fresh tab joins a 10,000-block ledger from a signed
// checkpoint served by a Node validator peer over WebRTC, syncs only the tail after the cut,
// and agrees with the full-history peer on the state hash. The ledger is built in Node
// (test/fixtures/checkpoint-ledger.ts), not mined in a tab.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toBase64url } from '../../src/core/bytes.ts'
import { encodeGenesis } from '../../src/core/ledger/index.ts'
import { startRelay } from '../../src/relay/relay.ts'
import { servedLedger, CP_KEY_BASE, CP_INTERVAL_MS } from '../fixtures/checkpoint-ledger.ts'
import type { ServedLedger } from '../fixtures/checkpoint-ledger.ts'
import { key } from '../fixtures/ledger-helpers.ts'
import { startLedgerPeer } from '../integration/ledger-helpers.ts'
import type { LedgerPeer } from '../integration/ledger-helpers.ts'
import { launch, openPeer, startApp } from './harness.ts'
import type { Stack } from './harness.ts'

const BLOCKS = 10_000
const TAIL = 500
let relay: Awaited<ReturnType<typeof startRelay>>
let server: LedgerPeer
let served: ServedLedger
let stack: Stack
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alliance-ckpt-'))
  served = await servedLedger(BLOCKS, TAIL)
  relay = await startRelay({ port: 0, keyFile: join(dir, 'relay.key') })
  // validator 0 of the 8, holding the whole history and the signed package of the cut
  server = await startLedgerPeer('ckpt-server', {
    ctx: served.ctx,
    relays: relay.multiaddrs,
    seed: key(CP_KEY_BASE).seed,
    store: served.store,
    ledger: { checkpoints: served.checkpoints, checkpointIntervalMs: CP_INTERVAL_MS, witnessIntervalMs: 3_600_000 }
  })
  const genesis = toBase64url(encodeGenesis(served.ctx.genesis))
  stack = await launch(await startApp(relay.multiaddrs, (_req, relays) => ({ relays, alliance: { genesis, operator: server.did, name: 'checkpoint server' } })))
}, 300_000)

afterAll(async () => {
  await stack?.close()
  await stack?.app.close()
  await server?.stop()
  await relay?.stop()
  if (dir != null) rmSync(dir, { recursive: true, force: true })
})

describe('checkpoint join in the browser', () => {
  it('[S20] a fresh tab joins a 10,000-block ledger from a checkpoint, syncs only the tail and agrees on the state hash', async () => {
    // the server opened pruned: the package plus its stored tail (S22)
    expect(server.ledger.engine.stats().blocks).toBeLessThan(2 * TAIL)
    expect(server.ledger.stats().stateHash).toBe(served.stateHash)
    const tab = await openPeer(stack.context, stack.app.url, 'fresh')
    await tab.waitForFunction((hash) => window.alliance?.ledger.ready() === true && window.alliance.ledger.stats().stateHash === hash, served.stateHash, { timeout: 150_000, polling: 200 })
    const stats = await tab.evaluate(() => window.alliance!.ledger.stats())
    expect(stats.rejectedInputs).toEqual({})
    // checkpoint + tail in memory, never the 10,000 blocks
    expect(stats.blocks).toBeLessThan(2 * TAIL)
    expect(stats.confirmed + stats.pending).toBe(stats.blocks)
  })
})
