/**
 * Untrusted blocks into the engine in bulk: the verify pool (`verify-pool.ts`) judges the
 * stateless rules off the main thread, then each run of blocks goes to the engine by the
 * path its verdict allows, in input order (parents first): `addValidated` for blocks the
 * pool passed whole, `addMany({signatureChecked})` for blocks whose signature alone it
 * passed, and the engine's full check for the rest (which gives the typed rejection). The
 * pool's WebCrypto Ed25519 is strict RFC 8032, a subset of what the engine's check accepts,
 * so this never lets in a block another peer would refuse.
 */
import type { BatchResult, LedgerContext, LedgerEngine, ValidatedBlock } from '../core/ledger/index.ts'
import type { PoolVerdict, VerifyPool } from './verify-pool.ts'

/** Below this many blocks, the engine's own check beats a round trip to the pool. */
export const BULK_MIN_BLOCKS = 4

export async function addUntrustedBlocks (engine: LedgerEngine, ctx: LedgerContext, pool: VerifyPool, blocks: readonly Uint8Array[], now: number): Promise<BatchResult[]> {
  if (blocks.length < BULK_MIN_BLOCKS) return [engine.addMany(blocks, { now })]
  const verdicts = await pool.check(ctx, blocks, now)
  return applyVerdicts(engine, blocks, verdicts, now)
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
