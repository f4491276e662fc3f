/**
 * Ledger trust benchmarks (issue 8), old engine beside new in the same run; the old one is
 * the pre-trust src/ tree extracted from git at bench time (old-tree.ts). One JSON line each:
 * - final-confirmation latency with 3 and 10 peers (median, p95): a transfer's block made
 *   (mined, signed, stored, gossiped) -> `confirmed` on every peer. Real LedgerService paths
 *   (engine, in-memory store, in-thread PoW at difficulty 13, witnessing every 1.5 s as the
 *   app does) in one process, blocks exchanged through an in-memory gossip hub (`Hub`, HUB
 *   DELAY_MS per hop): the figure is the ledger's own, not the network's. New: every peer is a
 *   validator and `confirmed` is final (quorum ⌊2n/3⌋+1 of validators, L23/L25). Old: the
 *   demo alliance's rules (open admission, cumulative weight of any 3 issuers), which is not
 *   final (issue 8, attacks 1 and 2).
 * - what 1,000 attacker blocks (fresh non-member keys, each block near 64 KiB of maximal offer
 *   transactions: issue 8 attack 4) cost one peer that ingests them as gossip does: CPU time,
 *   heap growth, bytes retained after GC (heap + array buffers) and blocks stored; new / old.
 *   Then the same blocks at seq 2 after a prev nobody has: what the orphan pool holds of them.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { randomBytes } from '@noble/hashes/utils.js'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { blockIdOf, foundGenesis, mineSync, prepareBlock, sealBlock } from '../../src/core/ledger/index.ts'
import type { LedgerContext } from '../../src/core/ledger/index.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import { allianceContext, blocksTopic } from '../../src/peer/alliance.ts'
import { inThreadMiner } from '../../src/peer/miner.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { benchAlliance } from '../fixtures/bench-alliance.ts'
import { distribution } from './ledger-kernel.ts'
import { oldTree } from './old-tree.ts'
import { report } from './report.ts'

const BENCH = 'ledger-trust'
/** One-way delay of the in-memory gossip hub (a LAN-ish WebRTC hop). */
const HUB_DELAY_MS = 10
const TRANSFERS = Number(process.env.TRUST_BENCH_TRANSFERS ?? 12)
const ATTACKER_BLOCKS = Number(process.env.TRUST_BENCH_ATTACKERS ?? 1000)
const WITNESS_INTERVAL_MS = 1500

const log = (line: string): void => { process.stderr.write(`[bench trust] ${line}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

// ---- the two implementations behind one narrow shape ------------------------------------------

/** The part of LedgerService (old and new) the benches drive. */
interface ServiceLike {
  status: (txId: string) => string
  balance: (did?: string) => number
  transfer: (to: string, amount: number) => Promise<string>
  ingest: (blocks: Uint8Array[], from?: Did, peerId?: string) => Promise<unknown>
  start: (net: HubNet | null) => Promise<void>
  stop: () => Promise<void>
  stats: () => { blocks: number, orphans: number, rejectedInputs: Record<string, number> }
}

interface Impl {
  readonly name: 'old' | 'new'
  open: (ctx: unknown, did: Did, seed: Uint8Array) => Promise<ServiceLike>
  topic: (ctx: unknown) => string
  /** One sealed block of a fresh key approving the genesis twice; with `prev`, at seq 2 after it. */
  attackerBlock: (ctx: unknown, seed: Uint8Array, txs: unknown[], time: number, prev?: string) => Uint8Array
}

interface CoreModule {
  prepareBlock: (input: unknown) => { header: Uint8Array, difficulty: number }
  sealBlock: (ctx: unknown, prepared: unknown, nonce: number, seed: Uint8Array) => { bytes: Uint8Array }
  mineSync: (header: Uint8Array, difficulty: number) => number
}
interface ServiceModule { LedgerService: { open: (opts: Record<string, unknown>) => Promise<ServiceLike> } }
interface StoreModule { createMemoryLedgerStore: () => unknown }
interface MinerModule { inThreadMiner: unknown }
interface AllianceModule { demoAlliance: () => { allianceId: string }, blocksTopic: (ctx: unknown) => string }

const sealWith = (core: CoreModule) => (ctx: unknown, seed: Uint8Array, txs: unknown[], time: number, prev?: string): Uint8Array => {
  const G = (ctx as { allianceId: string }).allianceId
  const p = core.prepareBlock({ genesis: ctx, issuer: didFromPublicKey(generateKeyPair(seed).publicKey), chain: 'home', seq: prev == null ? 1 : 2, prev: prev ?? null, parents: [G, G], time, txs })
  return core.sealBlock(ctx, p, core.mineSync(p.header, p.difficulty), seed).bytes
}

const newImpl: Impl = {
  name: 'new',
  open: async (ctx, did, seed) => await LedgerService.open({ ctx: ctx as LedgerContext, store: createMemoryLedgerStore(), did, seed: () => seed, miner: inThreadMiner, witnessIntervalMs: WITNESS_INTERVAL_MS }) as unknown as ServiceLike,
  topic: ctx => blocksTopic(ctx as LedgerContext),
  attackerBlock: sealWith({ prepareBlock, sealBlock, mineSync } as unknown as CoreModule)
}

async function loadOld (): Promise<{ impl: Impl, demo: unknown, commit: string } | null> {
  const tree = oldTree()
  if (tree == null) return null
  const core = await tree.load<CoreModule>('core/ledger/index.ts')
  const { LedgerService: OldService } = await tree.load<ServiceModule>('peer/ledger-service.ts')
  const { createMemoryLedgerStore: oldStore } = await tree.load<StoreModule>('store/memory-ledger.ts')
  const { inThreadMiner: oldMiner } = await tree.load<MinerModule>('peer/miner.ts')
  const alliance = await tree.load<AllianceModule>('peer/alliance.ts')
  const impl: Impl = {
    name: 'old',
    open: async (ctx, did, seed) => await OldService.open({ ctx, store: oldStore(), did, seed: () => seed, miner: oldMiner, witnessIntervalMs: WITNESS_INTERVAL_MS }),
    topic: ctx => alliance.blocksTopic(ctx),
    attackerBlock: sealWith(core)
  }
  return { impl, demo: alliance.demoAlliance(), commit: tree.commit.slice(0, 7) }
}

// ---- an in-memory gossip hub: the LedgerNet both services take -------------------------------

type Handler = (data: Uint8Array, from: Did) => void | Promise<void>

/** LedgerNet as both service versions declare it; no direct peers, so no sync and no streams. */
interface HubNet {
  publish: (topic: string, data: Uint8Array) => Promise<number>
  subscribe: (topic: string, handler: Handler) => () => void
  handle: (protocol: string, handler: unknown, opts?: unknown) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dialProtocol: (did: Did, protocol: string) => Promise<never>
  peers: () => Array<{ did: Did, peerId: string, kind: 'direct' | 'relayed' }>
  reportMisbehaviour: (peerId: string, code: string) => void
  on: (type: 'change', listener: () => void) => () => void
}

class Hub {
  private readonly subs = new Map<string, Array<{ did: Did, handler: Handler }>>()
  /** Everything published, per topic: a late subscriber gets it first (what its sync would fetch). */
  private readonly published = new Map<string, Array<{ from: Did, data: Uint8Array }>>()

  net (did: Did): HubNet {
    const deliver = (handler: Handler, data: Uint8Array, from: Did): void => {
      // every receiver gets its own copy, as from the wire
      setTimeout(() => { void handler(data.slice(), from) }, HUB_DELAY_MS)
    }
    return {
      publish: async (topic, data) => {
        const to = (this.subs.get(topic) ?? []).filter(s => s.did !== did)
        this.published.set(topic, [...(this.published.get(topic) ?? []), { from: did, data }])
        for (const s of to) deliver(s.handler, data, did)
        return to.length
      },
      subscribe: (topic, handler) => {
        const entry = { did, handler }
        this.subs.set(topic, [...(this.subs.get(topic) ?? []), entry])
        for (const m of this.published.get(topic) ?? []) if (m.from !== did) deliver(handler, m.data, m.from)
        return () => { this.subs.set(topic, (this.subs.get(topic) ?? []).filter(s => s !== entry)) }
      },
      handle: async () => {},
      unhandle: async () => {},
      dialProtocol: async () => { throw new Error('the in-memory hub has no streams') },
      peers: () => [],
      reportMisbehaviour: () => {},
      on: () => () => {}
    }
  }
}

// ---- (a) final-confirmation latency ---------------------------------------------------------

interface Peer { did: Did, svc: ServiceLike }

async function waitFor (what: string, check: () => boolean, timeoutMs: number, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await sleep(everyMs)
  }
}

/** `n` peers on one hub; latency of TRANSFERS transfers, one at a time (after a warm-up one). */
async function latency (impl: Impl, ctx: unknown, keys: Array<{ did: Did, seed: Uint8Array }>, ready: (peers: Peer[]) => boolean): Promise<number[]> {
  const hub = new Hub()
  const peers: Peer[] = []
  try {
    for (const k of keys) peers.push({ did: k.did, svc: await impl.open(ctx, k.did, k.seed) })
    for (const p of peers) await p.svc.start(hub.net(p.did))
    const t0 = performance.now()
    await waitFor(`${impl.name}: ${peers.length} peers ready`, () => ready(peers), 180_000, 50)
    log(`${impl.name}, ${peers.length} peers: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    const times: number[] = []
    for (let k = -1; k < TRANSFERS; k++) {
      const from = peers[(k + peers.length) % peers.length]
      const to = peers[(k + 1 + peers.length) % peers.length]
      await sleep(300)
      const txId = await from.svc.transfer(to.did, 1)
      const start = performance.now()
      await waitFor(`${impl.name}: transfer confirmed on every peer`, () => peers.every(p => p.svc.status(txId) === 'confirmed'), 120_000)
      if (k >= 0) times.push(performance.now() - start)
    }
    return times
  } finally {
    await Promise.allSettled(peers.map(async p => { await p.svc.stop() }))
  }
}

function newAlliance (n: number): { ctx: LedgerContext, keys: Array<{ did: Did, seed: Uint8Array }> } {
  const chains = ['home', 'business', 'operator']
  const keys = Array.from({ length: n }, () => { const seed = randomBytes(32); return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) } })
  const ctx = allianceContext(foundGenesis({ name: `trust bench ${n}`, chains, founders: keys.map((k, i) => ({ did: k.did, chain: chains[i % 3] })), time: Date.now() - 60_000 }))
  return { ctx, keys }
}

function reportLatency (metric: string, times: number[], baseline: number[] | null, note: string): void {
  const d = distribution(times)
  const b = baseline == null ? null : distribution(baseline)
  const ratio = b == null ? '' : 'ratio = new final / old non-final; '
  report({ bench: BENCH, metric: `${metric}.median`, value: d.median, unit: 'ms', ...(b != null ? { baseline: b.median } : {}), note: `${ratio}n=${d.n}; ${note}` })
  report({ bench: BENCH, metric: `${metric}.p95`, value: d.p95, unit: 'ms', ...(b != null ? { baseline: b.p95 } : {}), note: `${ratio}n=${d.n}, max ${Math.round(d.max)} ms` })
}

export async function finalConfirmationLatency (sizes: readonly number[] = [3, 10]): Promise<void> {
  const old = await loadOld()
  for (const n of sizes) {
    let before: number[] | null = null
    if (old != null) {
      const keys = Array.from({ length: n }, () => { const seed = randomBytes(32); return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) } })
      // the old demo rules: every peer admits itself and gets the grant (1,000)
      before = await latency(old.impl, old.demo, keys, peers => peers.every(p => peers.every(q => p.svc.balance(q.did) === 1000)))
      reportLatency(`in-process.${n}-peers.old-non-final`, before, null, `old engine (${old.commit}), demo rules: open admission, confirmed at cumulative weight 3 of any issuers (not final); block made -> confirmed on all ${n} peers; LedgerService x${n} in one process, in-memory gossip hub (${HUB_DELAY_MS} ms a hop), PoW d13, witnessing every ${WITNESS_INTERVAL_MS} ms`)
    }
    const { ctx, keys } = newAlliance(n)
    const after = await latency(newImpl, ctx, keys, () => true)
    const q = Math.floor(2 * n / 3) + 1
    reportLatency(`in-process.${n}-peers.new-final`, after, before, `new engine: ${n} validators, confirmed (final) at a quorum of ${q}; block made -> confirmed on all ${n} peers; same harness as old-non-final`)
  }
}

// ---- (b) 1,000 attacker blocks ------------------------------------------------------------------

/** A maximal offer (issue 8 attack 4): 16 buyer-credential issuers, 16 shares, longest title. */
function maximalOffer (nonce: number, dids: Did[], now: number): Record<string, unknown> {
  return {
    type: 'offer.publish',
    offer: {
      kind: 'hotspot',
      title: `${'x'.repeat(110)}${String(nonce).padStart(10, '0')}`,
      price: 1_000_000_000,
      round: { unit: 'seconds', size: 60 },
      trial: 10,
      capacity: 10_000,
      geohash: 'u33dc0cpke7v',
      expiresAt: now + 30 * 24 * 3600 * 1000,
      policy: {
        mayBuy: { credentialType: 'c'.repeat(128), issuers: dids.slice(0, 16) },
        shares: dids.slice(0, 16).map(did => ({ did, bps: 625 })),
        refund: 'unused-rounds'
      },
      nonce
    }
  }
}

/** Most maximal offers per block under the 64 KiB limit (L7): 25 here (the issue counted 26 of a smaller shape). */
function attackerBlocks (impl: Impl, ctx: unknown, now: number, unknownPrev = false): { blocks: Uint8Array[], offers: number } {
  const dids = Array.from({ length: 16 }, () => didFromPublicKey(generateKeyPair(randomBytes(32)).publicKey))
  const txsOf = (i: number, n: number): unknown[] => Array.from({ length: n }, (_, k) => maximalOffer(i * 100 + k, dids, now))
  let offers = 64
  for (;;) {
    try {
      impl.attackerBlock(ctx, randomBytes(32), txsOf(0, offers), now)
      break
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_TOO_LARGE' || offers === 1) throw err
      offers--
    }
  }
  const blocks: Uint8Array[] = []
  // a prev nobody has: the block waits for it (L15) unless its issuer is refused first (L39)
  const prev = (): string | undefined => unknownPrev ? blockIdOf(randomBytes(64)) : undefined
  for (let i = 0; i < ATTACKER_BLOCKS; i++) blocks.push(impl.attackerBlock(ctx, randomBytes(32), txsOf(i, offers), now - 5_000 + (i % 1000), prev()))
  return { blocks, offers }
}

function gc (): void {
  setFlagsFromString('--expose-gc')
  const collect = runInNewContext('gc') as () => void
  collect()
  collect()
}

const bytesNow = (): { heap: number, all: number } => {
  const m = process.memoryUsage()
  return { heap: m.heapUsed, all: m.heapUsed + m.arrayBuffers }
}

interface AttackCost { cpuMs: number, wallMs: number, heapDelta: number, retained: number, stored: number, orphans: number, rejected: Record<string, number>, blockBytes: number }

/** One peer (a LedgerService, not started: only its ingest path) takes the blocks one by one, as gossip delivers them. */
async function attackCost (impl: Impl, ctx: unknown, blocks: Uint8Array[]): Promise<AttackCost> {
  const seed = randomBytes(32)
  const svc = await impl.open(ctx, didFromPublicKey(generateKeyPair(seed).publicKey), seed)
  gc()
  const m0 = bytesNow()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  // a copy each, as from the wire: the caller's array must not be what the peer keeps
  for (const b of blocks) await svc.ingest([b.slice()], undefined, 'attacker')
  const wallMs = performance.now() - t0
  const c = process.cpuUsage(c0)
  const m1 = bytesNow()
  gc()
  const m2 = bytesNow()
  const stats = svc.stats()
  await svc.stop()
  return {
    cpuMs: (c.user + c.system) / 1000,
    wallMs,
    heapDelta: m1.heap - m0.heap,
    retained: m2.all - m0.all,
    stored: stats.blocks,
    orphans: stats.orphans,
    rejected: stats.rejectedInputs,
    blockBytes: blocks.reduce((s, b) => s + b.length, 0) / blocks.length
  }
}

export async function attackerBlockCost (): Promise<void> {
  const old = await loadOld()
  if (old == null) return
  const now = Date.now()
  const newCtx = benchAlliance()
  let t0 = performance.now()
  const { blocks: oldBlocks } = attackerBlocks(old.impl, old.demo, now)
  const { blocks: newBlocks, offers } = attackerBlocks(newImpl, newCtx, now)
  log(`mined 2 x ${ATTACKER_BLOCKS} attacker blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  t0 = performance.now()
  // old first, then new, then old again: the old figure is the mean of both (warm JIT either way)
  const o1 = await attackCost(old.impl, old.demo, oldBlocks)
  const n1 = await attackCost(newImpl, newCtx, newBlocks)
  const o2 = await attackCost(old.impl, old.demo, oldBlocks)
  log(`measured in ${((performance.now() - t0) / 1000).toFixed(1)} s; old stored ${o1.stored}/${o2.stored} (${JSON.stringify(o1.rejected)}), new stored ${n1.stored} (${JSON.stringify(n1.rejected)})`)
  const mean = (f: (c: AttackCost) => number): number => (f(o1) + f(o2)) / 2
  const what = `${ATTACKER_BLOCKS} blocks of fresh non-member keys, ${offers} maximal offer.publish each (${Math.round(n1.blockBytes)} B a block), ingested one by one (gossip path) by one LedgerService on an in-memory store; old = ${old.commit} (mean of a run before and after new)`
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.cpu`, value: n1.cpuMs, unit: 'ms', baseline: mean(c => c.cpuMs), note: `ratio = new / old; process CPU (user+system); ${what}` })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.wall`, value: n1.wallMs, unit: 'ms', baseline: mean(c => c.wallMs), note: 'ratio = new / old; wall time of the same ingest' })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.heap-delta`, value: n1.heapDelta / 2 ** 20, unit: 'MiB', baseline: mean(c => c.heapDelta) / 2 ** 20, note: 'ratio = new / old; heapUsed right after the last block, before GC, minus before the first (after GC)' })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.retained`, value: n1.retained / 2 ** 20, unit: 'MiB', baseline: mean(c => c.retained) / 2 ** 20, note: `ratio = new / old; heapUsed + arrayBuffers after GC minus before; old stored ${o1.stored} of ${ATTACKER_BLOCKS}, new ${n1.stored} (rejected ${JSON.stringify(n1.rejected)})` })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.stored`, value: n1.stored, unit: 'blocks', baseline: Math.max(1, mean(c => c.stored)), note: 'ratio = new / old; attacker blocks kept by the engine (and so stored and re-added at every start)' })

  // the same blocks at seq 2 after a prev nobody has: parked as orphans (L15) on both engines
  // today (the new one's L39 check lets seq > 1 through), bounded by the orphan pool
  t0 = performance.now()
  const { blocks: oldOrphans } = attackerBlocks(old.impl, old.demo, now, true)
  const { blocks: newOrphans } = attackerBlocks(newImpl, newCtx, now, true)
  log(`mined 2 x ${ATTACKER_BLOCKS} unknown-prev attacker blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const oo = await attackCost(old.impl, old.demo, oldOrphans)
  const no = await attackCost(newImpl, newCtx, newOrphans)
  log(`unknown prev: old parked ${oo.orphans} (${JSON.stringify(oo.rejected)}), new parked ${no.orphans} (${JSON.stringify(no.rejected)})`)
  const whatO = `${ATTACKER_BLOCKS} blocks of fresh non-member keys at seq 2 after an unknown prev, ${offers} maximal offers each, one by one; old = ${old.commit}`
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.unknown-prev.cpu`, value: no.cpuMs, unit: 'ms', baseline: oo.cpuMs, note: `ratio = new / old; ${whatO}` })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.unknown-prev.retained`, value: no.retained / 2 ** 20, unit: 'MiB', baseline: oo.retained / 2 ** 20, note: `ratio = new / old; heapUsed + arrayBuffers after GC minus before; parked as orphans: old ${oo.orphans}, new ${no.orphans} (pool bound 4,096 blocks / 16 MiB, oldest evicted: honest orphans too)` })
  report({ bench: BENCH, metric: `attacker-${ATTACKER_BLOCKS}.unknown-prev.parked`, value: no.orphans, unit: 'blocks', baseline: Math.max(1, oo.orphans), note: 'ratio = new / old; orphans held after the last block (L39 says: none)' })
}

