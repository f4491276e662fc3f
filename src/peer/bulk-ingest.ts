/**
 * Untrusted blocks into the engine in bulk: the verify pool (`verify-pool.ts`) judges the
 * stateless rules off the main thread, then each run of blocks goes to the engine by the
 * path its verdict allows, in input order (parents first): `addValidated` for blocks the
 * pool passed whole, `addMany({signatureChecked})` for blocks whose signature alone it
 * passed, and the engine's full check for the rest (which gives the typed rejection). The
 * pool's WebCrypto Ed25519 is strict RFC 8032, a subset of what the engine's check accepts,
 * so this never lets in a block another peer would refuse.
 *
 * A batch goes through in runs (P8): every run is posted to the pool at once, and each is
 * added to the engine (and handed to `onRun`, which queues its store write) as soon as its
 * verdicts are back, while the workers still check the later runs. By default a run is the
 * pool's chunk per worker: runs of 64 (four round trips per batch of 256) were slower on the
 * loaded 2-core bench machine (issue 10's A/B: 1,158 and 1,300 blocks/s against 1,238 and
 * 1,520 with one worker, same run), so smaller runs are the caller's choice (`runBlocks`).
 */
import type { BatchResult, LedgerContext, LedgerEngine, ValidatedBlock } from '../core/ledger/index.ts'
import type { PoolVerdict, VerifyPool } from './verify-pool.ts'

/** Below this many blocks, the engine's own check beats a round trip to the pool. */
export const BULK_MIN_BLOCKS = 4

/**
 * `onRun` gets each run's results right after the engine took them, in engine order (the
 * caller queues the store write there, so writing overlaps checking the later runs).
 */
export async function addUntrustedBlocks (engine: LedgerEngine, ctx: LedgerContext, pool: VerifyPool, blocks: readonly Uint8Array[], now: number, onRun?: (results: readonly BatchResult[]) => void, runBlocks = 0): Promise<BatchResult[]> {
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
