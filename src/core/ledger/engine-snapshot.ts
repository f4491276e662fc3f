/**
 * The ledger engine's snapshot format (SPEC L36): one row per block in insertion order, with
 * references as insertion indexes, its status, weight and transactions but no signature, plus
 * the state, the order blocks were applied in and the replay counter. `LedgerEngine.restore`
 * links the rows back without validating, propagating or applying again, so it is only for
 * snapshots a peer made itself; what it checks here is the shape, to fail with ERR_MALFORMED.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode } from './errors.ts'
import type { LedgerState } from './state.ts'
import type { AllianceId, LedgerValue } from './types.ts'
import type { LedgerSnapshot, SnapshotBlock } from './engine-types.ts'
import type { Node } from './engine-node.ts'

/** Throws the error of a snapshot that cannot be restored. */
export function badSnapshot (why: string): never {
  throw new LedgerError(LedgerErrorCode.MALFORMED, `bad snapshot: ${why}`)
}

/** The snapshot's version, alliance and shape, and that its issuers start with `issuers` (the founders). */
export function checkSnapshotHead (s: LedgerSnapshot, allianceId: AllianceId, issuers: readonly Did[]): void {
  if (s == null || s.v !== 2) badSnapshot('version')
  if (s.alliance !== allianceId) badSnapshot('another alliance')
  if (!Array.isArray(s.issuers) || !Array.isArray(s.blocks) || !Array.isArray(s.applied)) badSnapshot('shape')
  if (issuers.some((d, i) => s.issuers[i] !== d)) badSnapshot('validators differ')
}

/** The snapshot of an engine's DAG (`order`, genesis first), state and apply order. */
export function snapshotOf (
  allianceId: AllianceId, order: readonly Node[], issuers: readonly Did[], state: LedgerState, applied: readonly Node[], fullReplays: number
): LedgerSnapshot {
  const blocks: SnapshotBlock[] = []
  for (const n of order) {
    if (n.issuer < 0) continue
    blocks.push([
      n.id, n.issuer, n.seq, n.chain, n.time,
      n.parents[0].index, n.parents[1].index, n.prev?.index ?? -1,
      n.crossChain, n.status, n.reason ?? '', n.weight.slice(), n.txs as unknown as LedgerValue, n.bytes
    ])
  }
  return {
    v: 2,
    alliance: allianceId,
    issuers: [...issuers],
    blocks,
    state: state.entries(),
    applied: applied.map(n => n.index),
    counters: [fullReplays]
  }
}
