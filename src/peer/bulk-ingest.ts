/**
 * Untrusted blocks into the engine in bulk: the verify pool (`verify-pool.ts`) judges the
 * stateless rules off the main thread, then each run of blocks goes to the engine by the
 * path its verdict allows, in input order (parents first): `addValidated` for blocks the
 * pool passed whole, `addMany({signatureChecked})` for blocks whose signature alone it
 * passed, and the engine's full check for the rest (which gives the typed rejection). The
 * pool's WebCrypto Ed25519 is strict RFC 8032, a subset of what the engine's check accepts,
 * so this never lets in a block another peer would refuse.
 *
 * A batch goes through in runs of `RUN_BLOCKS` (P8): every run is posted to the pool at
 * once, and each is added to the engine (and handed to `onRun`, which queues its store
 * write) as soon as its verdicts are back, while the workers still check the later runs.
 * Waiting for the whole batch first left the main thread idle for the pool's whole time and
 * the workers idle for the engine's and the store's.
 */
import type { BatchResult, LedgerContext, LedgerEngine, ValidatedBlock } from '../core/ledger/index.ts'
import type { PoolVerdict, VerifyPool } from './verify-pool.ts'

/** Below this many blocks, the engine's own check beats a round trip to the pool. */
export const BULK_MIN_BLOCKS = 4

/** Blocks per run of a streamed batch: small enough that the engine starts early, big enough that a job's post and context cost little per block. */
export const RUN_BLOCKS = 64

/**
 * `onRun` gets each run's results right after the engine took them, in engine order (the
 * caller queues the store write there, so writing overlaps checking the later runs).
 */
export async function addUntrustedBlocks (engine: LedgerEngine, ctx: LedgerContext, pool: VerifyPool, blocks: readonly Uint8Array[], now: number, onRun?: (results: readonly BatchResult[]) => void, runBlocks = RUN_BLOCKS): Promise<BatchResult[]> {
  if (blocks.length < BULK_MIN_BLOCKS) {
    const r = [engine.addMany(blocks, { now })]
    onRun?.(r)
    return r
  }
  const runs = pool.checkRuns(ctx, blocks, now, runBlocks)
  // every run's promise gets a handler now: a later one failing must not surface as unhandled while an earlier one is awaited
  for (const r of runs) r.catch(() => {})
  const results: BatchResult[] = []
  let at = 0
  for (const run of runs) {
    const verdicts = await run
    const part = applyVerdicts(engine, blocks.slice(at, at + verdicts.length), verdicts, now)
    at += verdicts.length
    onRun?.(part)
    results.push(...part)
  }
  return results
}

type Kind = 'whole' | 'sig' | 'none'
const kindOf = (v: PoolVerdict): Kind => v == null ? 'none' : v === 'sig' ? 'sig' : 'whole'

/** Adds `blocks` by the path each verdict allows, keeping their order (synchronous). */
export function applyVerdicts (engine: LedgerEngine, blocks: readonly Uint8Array[], verdicts: readonly PoolVerdict[], now: number): BatchResult[] {
  const results: BatchResult[] = []
  let i = 0
  while (i < blocks.length) {
    const kind = kindOf(verdicts[i])
    let j = i
    while (j < blocks.length && kindOf(verdicts[j]) === kind) j++
    if (kind === 'whole') results.push(engine.addValidated(verdicts.slice(i, j) as ValidatedBlock[]))
    else results.push(engine.addMany(blocks.slice(i, j), { now, signatureChecked: kind === 'sig' }))
    i = j
  }
  return results
}
