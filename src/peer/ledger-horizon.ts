/**
 * The on-disk horizon (SPEC.md S40). Memory already holds only checkpoint + tail (S22); this
 * bounds the disk too: stored history more than `horizon` positions below the tail of the
 * oldest kept checkpoint package is forgotten. The rest stays for peers that sync from an
 * earlier position (they are served from the first held block on). Below every kept package's
 * tail, so start-up can still open from any of them (`openLedgerWithCheckpoints` falls back to
 * the older one when the newest no longer verifies).
 */
import type { LedgerStore } from '../store/ledger.ts'
import type { CheckpointStore } from '../store/checkpoints.ts'

/** Blocks kept below the oldest kept package's tail by default (~10–40 MB on a phone). */
export const DEFAULT_DISK_HORIZON = 10_000

/**
 * Prunes `store` to the horizon of the packages kept in `checkpoints`. Returns the first held
 * position after, or null when nothing was due (no package, an infinite horizon, or nothing
 * below it yet).
 */
export async function pruneToHorizon (store: LedgerStore, checkpoints: CheckpointStore, horizon: number): Promise<number | null> {
  if (!Number.isFinite(horizon)) return null
  if (!Number.isSafeInteger(horizon) || horizon < 0) throw new RangeError('the disk horizon is a number of blocks: a non-negative integer, or Infinity')
  const metas = await checkpoints.list()
  if (metas.length === 0) return null
  const floor = Math.min(...metas.map(m => m.tailFrom)) - horizon
  if (floor <= await store.firstPosition()) return null
  return await store.pruneBelow(floor)
}
