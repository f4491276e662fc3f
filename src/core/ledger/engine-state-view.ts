/**
 * Read-only questions the ledger engine answers from its state alone: a reader that cannot
 * write, a member's unreceived claims, and the conservation sum (L30).
 */
import type { LedgerState, StateReader } from './state.ts'
import { balanceOf, claimOf, escrowOf, NS } from './tx.ts'
import type { ClaimRecord } from './tx.ts'

/** A reader of `state` that exposes no way to write it. */
export function readerOf (state: LedgerState): StateReader {
  return { get: (ns, key) => state.get(ns, key), has: (ns, key) => state.has(ns, key), keys: ns => state.keys(ns), size: ns => state.size(ns) }
}

// Both state rules (L52): v3 deletes a taken claim and a closed escrow, v2 marks them
// (`received`, `closedBy`), so "no marker" reads right under either.

/** Claims for `did` that it has not received yet, with their keys (what its wallet receives). */
export function claimsFor (state: StateReader, did: string): Array<{ readonly key: string, readonly claim: ClaimRecord }> {
  const out: Array<{ key: string, claim: ClaimRecord }> = []
  for (const key of state.keys(NS.claim)) {
    const claim = claimOf(state, key)
    if (claim != null && claim.to === did && !state.has(NS.received, key)) out.push({ key, claim })
  }
  return out
}

/** Sum of balances, escrows and unreceived claims: the genesis supply (L30). */
export function totalCredits (state: StateReader): number {
  let sum = 0
  for (const k of state.keys(NS.balance)) sum += balanceOf(state, k)
  for (const k of state.keys(NS.claim)) if (!state.has(NS.received, k)) sum += claimOf(state, k)?.amount ?? 0
  for (const k of state.keys(NS.escrow)) {
    const e = escrowOf(state, k)
    if (e != null && e.closedBy == null) sum += e.amount
  }
  return sum
}
