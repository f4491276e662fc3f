/**
 * Where a Node-to-Node sync over real WebRTC spends its time (issue 10): two ledger peers, a
 * fresh one syncing N blocks from a filled one; the client's requests, the verify pool, the
 * engine and the store are timed by wrapping them (wall time, overlapping). Dev tool:
 * `npx tsx test/bench/sync-profile.ts [count]` (test difficulty, so the DAG is made in seconds);
 * the window-start/end lines on stderr (µs, process.hrtime) cut a `node --cpu-prof` profile to the sync.
 */
import { createLedgerContext } from '../../src/core/ledger/index.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { SyncClient } from '../../src/net/sync.ts'
import { dagGenesis } from '../fixtures/ledger-helpers.ts'
import { fillStore, makeDag } from './ledger-kernel.ts'

const count = Number(process.argv[2] ?? 10_000)
const ctx = createLedgerContext(dagGenesis(300, 8))
const blocks = makeDag(ctx, count, { issuers: 8, sign: true, keyBase: 300 }).map(b => b.bytes)
const bytes = blocks.reduce((s, b) => s + b.byteLength, 0)
const t: Record<string, { n: number, ms: number, first: number, last: number }> = {}
let T0 = 0
function timed<A extends unknown[], R> (name: string, fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  return async function (this: unknown, ...a: A) {
    const s = performance.now()
    try { return await fn.apply(this, a) } finally {
      const e = performance.now()
      const x = (t[name] ??= { n: 0, ms: 0, first: s - T0, last: 0 })
      x.n++; x.ms += e - s; x.last = e - T0
    }
  }
}
const inv = SyncClient.prototype.inventory
const get = SyncClient.prototype.getBlocks
SyncClient.prototype.inventory = timed('client.inventory', function (this: SyncClient, ...a: Parameters<typeof inv>) { return inv.apply(this, a) })
SyncClient.prototype.getBlocks = timed('client.getBlocks', function (this: SyncClient, ...a: Parameters<typeof get>) { return get.apply(this, a) })
const { defaultVerifyPool } = await import('../../src/peer/verify-pool.ts')
const pool = defaultVerifyPool()
const check = pool.check.bind(pool)
pool.check = timed('pool.check', check)
const { LedgerService } = await import('../../src/peer/ledger-service.ts')
const ingest = LedgerService.prototype.ingest
LedgerService.prototype.ingest = timed('service.ingest', function (this: typeof LedgerService.prototype, ...a: Parameters<typeof ingest>) { return ingest.apply(this, a) })
const { startRelay } = await import('../../src/relay/relay.ts')
const { startLedgerPeer, stopLedgerPeers } = await import('../integration/ledger-helpers.ts')
const { waitFor } = await import('../integration/helpers.ts')
const relay = await startRelay({ port: 0, log: () => {} })
const store = createMemoryLedgerStore()
const filled = await fillStore(ctx, blocks, store, { now: Date.now(), batch: 500, checkpointEvery: 1000 })
const lastId = filled.blockIds().at(-1)!
const a = await startLedgerPeer('prof-a', { ctx, relays: relay.multiaddrs, store })
const sget = store.getBlocksBytes.bind(store)
store.getBlocksBytes = timed('serve.getBlocksBytes', sget)
T0 = performance.now(); console.error(`window-start-us ${process.hrtime.bigint() / 1000n}`)
const b = await startLedgerPeer('prof-b', { ctx, relays: relay.multiaddrs })
const started = performance.now() - T0
let directAt = 0
await waitFor('direct', () => b.net.peers().some(p => p.kind === 'direct'), 60_000, 5)
directAt = performance.now() - T0
await waitFor('synced', () => b.ledger.engine.has(lastId) && b.ledger.stats().blocks >= count, 300_000, 5)
const ms = performance.now() - T0
console.error(`window-end-us ${process.hrtime.bigint() / 1000n}`)
console.log(JSON.stringify({ count, MiB: +(bytes / 2 ** 20).toFixed(2), startedMs: Math.round(started), directMs: Math.round(directAt), totalMs: Math.round(ms), syncMs: Math.round(ms - directAt) }))
for (const [k, v] of Object.entries(t)) console.log(k.padEnd(22), `n=${v.n}`.padEnd(7), `sum ${v.ms.toFixed(0)} ms`.padEnd(14), `first at ${v.first.toFixed(0)}`.padEnd(15), `last end ${v.last.toFixed(0)}`)
await stopLedgerPeers([a, b])
await relay.stop()
const ndc = await import('node-datachannel')
ndc.cleanup()
process.exit(0)
