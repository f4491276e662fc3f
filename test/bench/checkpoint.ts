/**
 * Checkpoint benchmarks (issue 10, registered in run.ts), Node (a tab is not built for this
 * yet): a fresh engine joining a 100,000-block ledger from a signed checkpoint plus a
 * 1,000-block tail beside a full trusted re-add of the same blocks in the same run, and the
 * engine's heap at 10,000 and 100,000 blocks with the whole history and after rebuilding from
 * the newest checkpoint (the pruned engine: checkpoint + tail, S16). Zero-signature blocks at
 * the test difficulty stand in for real ones on the trusted path, as nodeOpen100k does; the
 * checkpoint's own signatures (quorum of 8 validators) are real and checked.
 * Heap figures need `node --expose-gc` (run.ts reports whether gc was available). Every size is
 * measured under the v2 and the v3 state rules (SPEC L52) in the same run.
 */
import {
  LedgerEngine, blockIdOf, checkpointBodyOf, checkpointPackageOf, createLedgerContext, decodeCheckpointPackage, encodeCheckpointPackage, engineState,
  joinFromCheckpoint, signCheckpoint
} from '../../src/core/ledger/index.ts'
import type { BlockId, CheckpointPackage, LedgerContext, StateRules } from '../../src/core/ledger/index.ts'
import { dagGenesis, key } from '../fixtures/ledger-helpers.ts'
import { makeDag } from './ledger-kernel.ts'
import { report } from './report.ts'

const BENCH = 'ledger'
const ISSUERS = 8
const KEY_BASE = 200
const TAIL = 1_000
const log = (line: string): void => { process.stderr.write(`[bench checkpoint] ${line}\n`) }

function heapMiB (): number {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

function ledger (count: number, rules: StateRules): { ctx: LedgerContext, blocks: Uint8Array[] } {
  // 10 s of parent age: blocks are 200 ms apart, so the retained window is ~100 blocks
  const ctx = createLedgerContext(dagGenesis(KEY_BASE, ISSUERS, 0, { maxParentAgeMs: 10_000, allocation: 1_000_000, v: rules }))
  return { ctx, blocks: makeDag(ctx, count, { issuers: ISSUERS, sign: false, keyBase: KEY_BASE, receive: true }).map(b => b.bytes) }
}

/** The checkpoint of `engine`'s confirmed set, signed by every validator, as the wire carries it. */
function signedPackage (engine: LedgerEngine, blocks: readonly Uint8Array[], ids: readonly BlockId[]): Uint8Array {
  const body = checkpointBodyOf(engine)
  const byId = new Map<BlockId, Uint8Array>(ids.map((id, i) => [id, blocks[i]]))
  const sigs = Array.from({ length: ISSUERS }, (_, i) => signCheckpoint(body, key(KEY_BASE + i).did, key(KEY_BASE + i).seed))
  return encodeCheckpointPackage(checkpointPackageOf(body, sigs, engineState(engine), id => byId.get(id)))
}

function addAll (engine: LedgerEngine, blocks: readonly Uint8Array[]): void {
  for (let i = 0; i < blocks.length; i += 500) engine.addMany(blocks.slice(i, i + 500), { now: Date.now(), trusted: true })
}

/** What one ledger of `count` blocks under `rules` measures. */
interface JoinFigures {
  readonly fullMs: number
  readonly joinMs: number
  readonly verifyMs: number
  readonly sent: number
  readonly fullHeap: number
  readonly joinedHeap: number
  readonly fullBlocks: number
  readonly joinedBlocks: number
  readonly packageBytes: number
  readonly entries: number
  readonly retained: number
}

async function measure (count: number, rules: StateRules): Promise<JoinFigures> {
  let t0 = performance.now()
  const { ctx, blocks } = ledger(count, rules)
  const ids = blocks.map(b => blockIdOf(b))
  log(`v${rules} rules: generated ${count} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const head = blocks.slice(0, count - TAIL)
  const tail = blocks.slice(count - TAIL)
  // the serving peer: full history up to the cut, its checkpoint, then the tail
  t0 = performance.now()
  let full: LedgerEngine | null = new LedgerEngine(ctx)
  addAll(full, head)
  const wire = signedPackage(full, blocks, ids)
  // what the serving peer sends after the checkpoint: its storage order from the first block
  // outside the cut (blocks pending at the cut come before the newer ones)
  const firstOut = ids.findIndex(id => full?.blockStatus(id) !== 'confirmed')
  const sent = blocks.slice(firstOut < 0 ? head.length : firstOut)
  addAll(full, tail)
  const fullMs = performance.now() - t0
  const expected = full.stateHash()
  const fullBlocks = full.stats().blocks
  // an engine's heap: the heap with it minus the heap once it is dropped
  const withFull = heapMiB()
  full = null
  const fullHeap = withFull - heapMiB()
  // the fresh peer: checkpoint + tail only
  t0 = performance.now()
  const pkg: CheckpointPackage = decodeCheckpointPackage(wire)
  let joined: LedgerEngine | null = joinFromCheckpoint(ctx, pkg, { now: Date.now() })
  const verifyMs = performance.now() - t0
  addAll(joined, sent)
  const joinMs = performance.now() - t0
  if (joined.stateHash() !== expected) throw new Error(`the joined engine disagrees on the state hash (${JSON.stringify(joined.stats())})`)
  const joinedBlocks = joined.stats().blocks
  const withJoined = heapMiB()
  joined = null
  const joinedHeap = withJoined - heapMiB()
  const entries = pkg.state.reduce((n, [, p]) => n + p.length, 0)
  return { fullMs, joinMs, verifyMs, sent: sent.length, fullHeap, joinedHeap, fullBlocks, joinedBlocks, packageBytes: wire.length, entries, retained: pkg.retained.length }
}

/**
 * Each size twice in one run: an alliance on the v2 state rules (every taken claim kept, as
 * alliances founded before L52) and one on the v3 rules (taken claims and closed escrows
 * forgotten, SPEC L52), same DAG shape. The v3 figures carry the v2 ones as their baseline;
 * the `.v2-rules` metrics keep the old meaning (baseline: the full engine / full re-add).
 */
export async function nodeCheckpointJoin (): Promise<void> {
  if (globalThis.gc == null) log('no --expose-gc: heap figures include garbage')
  for (const count of [10_000, 100_000]) {
    const k = `${count / 1000}k`
    const old = await measure(count, 2)
    const neu = await measure(count, 3)
    const note = (f: JoinFigures): string => `${ISSUERS} validators sign; package ${(f.packageBytes / 2 ** 20).toFixed(1)} MiB, ${f.retained} retained blocks, ${f.entries} state entries; same state hash`
    report({ bench: BENCH, metric: `node.checkpoint-join-${k}.fresh-peer.v2-rules`, value: old.joinMs, unit: 'ms', baseline: old.fullMs, note: `v2 state rules; ratio = join (decode, verify signatures and LtHash ${old.verifyMs.toFixed(0)} ms, build, the ${old.sent} blocks from the first outside the cut) / full trusted re-add of ${count}; ${note(old)}` })
    report({ bench: BENCH, metric: `node.checkpoint-join-${k}.fresh-peer`, value: neu.joinMs, unit: 'ms', baseline: old.joinMs, note: `v3 state rules (L52); ratio = this join / the v2-rules join of the same run (verify ${neu.verifyMs.toFixed(0)} ms; full trusted re-add ${neu.fullMs.toFixed(0)} ms); ${note(neu)}` })
    report({ bench: BENCH, metric: `node.checkpoint-package-${k}.bytes`, value: neu.packageBytes / 2 ** 20, unit: 'MiB', baseline: old.packageBytes / 2 ** 20, note: 'ratio = v3 rules / v2 rules, same DAG shape, same run' })
    report({ bench: BENCH, metric: `node.checkpoint-package-${k}.state-entries`, value: neu.entries, unit: 'entries', baseline: old.entries, note: 'ratio = v3 rules / v2 rules, same run' })
    report({ bench: BENCH, metric: `node.engine-memory-${k}.full.v2-rules`, value: old.fullHeap, unit: 'MiB', note: `v2 state rules; whole history in the engine: ${old.fullBlocks} blocks` })
    report({ bench: BENCH, metric: `node.engine-memory-${k}.full`, value: neu.fullHeap, unit: 'MiB', baseline: old.fullHeap, note: `v3 state rules; ratio = v3 / v2 rules; whole history in the engine: ${neu.fullBlocks} blocks` })
    report({ bench: BENCH, metric: `node.engine-memory-${k}.pruned.v2-rules`, value: old.joinedHeap, unit: 'MiB', baseline: old.fullHeap, note: `v2 state rules; ratio = pruned / full; checkpoint + tail: ${old.joinedBlocks} blocks in the engine` })
    report({ bench: BENCH, metric: `node.engine-memory-${k}.pruned`, value: neu.joinedHeap, unit: 'MiB', baseline: old.joinedHeap, note: `v3 state rules; ratio = v3 pruned / v2 pruned (same run); checkpoint + tail: ${neu.joinedBlocks} blocks in the engine; v3 pruned / v3 full = ${(neu.joinedHeap / neu.fullHeap).toFixed(3)}` })
  }
}
