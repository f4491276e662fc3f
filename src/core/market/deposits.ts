/**
 * Session deposits (SPEC V11–V14): the payer's `deposit.lock` that a session's vouchers draw
 * from. Pure helpers shared by the buyer (how much to lock, until when), the provider (is the
 * buyer's deposit on the ledger and big enough before serving) and the payer's refund sweep.
 * The ledger owns the records (`NS.escrow`, src/core/ledger/tx.ts); this only reads them.
 */
import type { Did } from '../identity.ts'
import { escrowOf, MAX_DEPOSIT_MS, NS } from '../ledger/tx.ts'
import type { EscrowRecord } from '../ledger/tx.ts'
import type { StateReader } from '../ledger/state.ts'
import type { SessionTerms } from '../session/terms.ts'

/** Time the buyer adds after the session's expected end, for the provider to settle (V12). */
export const DEPOSIT_SETTLE_MARGIN_MS = 30 * 60_000
/** The least time a provider wants after the session's expected end before it serves (V12). */
export const MIN_SETTLE_MARGIN_MS = 10 * 60_000
/** Expected length of a session metered in bytes (no clock bounds it): one hour. */
export const BYTES_SESSION_MS = 3600_000

export interface SessionDeposit {
  /** TxId of the `deposit.lock`. */
  readonly id: string
  readonly record: EscrowRecord
}

/** V11: what a buyer locks for `rounds` rounds: rounds × price, nothing else. */
export function depositAmount (terms: SessionTerms, rounds: number): number {
  return rounds * terms.price
}

/** Expected length of `rounds` rounds: their seconds at `unitMs` a unit, or BYTES_SESSION_MS. */
export function sessionLengthMs (terms: SessionTerms, rounds: number, unitMs: number): number {
  return terms.unit === 'seconds' ? rounds * terms.roundSize * unitMs : BYTES_SESSION_MS
}

/** V12: the deadline a buyer sets: the expected end plus the settle margin, within 30 days. */
export function depositDeadline (terms: SessionTerms, rounds: number, now: number, unitMs: number): number {
  return Math.floor(now + Math.min(MAX_DEPOSIT_MS - 60_000, sessionLengthMs(terms, rounds, unitMs) + DEPOSIT_SETTLE_MARGIN_MS))
}

/**
 * V13: the open, confirmed deposits of `payer` for `provider` bound to `session`, largest
 * first. O(deposits held in the state).
 */
export function sessionDeposits (state: StateReader, q: { readonly session: string, readonly payer: Did, readonly provider: Did }): SessionDeposit[] {
  const out: SessionDeposit[] = []
  for (const id of state.keys(NS.escrow)) {
    const record = escrowOf(state, id)
    if (record == null || record.closedBy != null) continue
    if (record.ref !== q.session || record.payer !== q.payer || record.provider !== q.provider) continue
    out.push({ id, record })
  }
  return out.sort((a, b) => b.record.amount - a.record.amount || (a.id < b.id ? -1 : 1))
}

export type DepositCheck =
  | { readonly ok: true, readonly deposit: SessionDeposit, readonly rounds: number }
  | { readonly ok: false, readonly code: 'ERR_SESSION_NO_DEPOSIT' | 'ERR_SESSION_DEPOSIT_LOW' | 'ERR_SESSION_DEPOSIT_DEADLINE', readonly message: string }

/**
 * V13: the provider serves only against a confirmed deposit of at least `rounds × price` (all
 * the deposit covers when the buyer names no rounds) whose deadline leaves the session's
 * expected length plus MIN_SETTLE_MARGIN_MS from `now`. Returns the rounds it covers.
 */
export function checkSessionDeposit (
  state: StateReader,
  q: { readonly session: string, readonly payer: Did, readonly provider: Did, readonly terms: SessionTerms, readonly rounds: number | undefined, readonly now: number, readonly unitMs: number }
): DepositCheck {
  const found = sessionDeposits(state, q)
  if (found.length === 0) return { ok: false, code: 'ERR_SESSION_NO_DEPOSIT', message: 'no confirmed deposit of the payer for this session on the ledger' }
  const deposit = found[0]
  const covers = Math.floor(deposit.record.amount / q.terms.price)
  const rounds = q.rounds ?? covers
  if (rounds < 1 || covers < rounds) {
    return { ok: false, code: 'ERR_SESSION_DEPOSIT_LOW', message: `the deposit of ${deposit.record.amount} credits covers ${covers} rounds, not ${Math.max(1, rounds)}` }
  }
  const needed = q.now + sessionLengthMs(q.terms, rounds, q.unitMs) + MIN_SETTLE_MARGIN_MS
  if (deposit.record.deadline < needed) {
    return { ok: false, code: 'ERR_SESSION_DEPOSIT_DEADLINE', message: 'the deposit\'s deadline leaves too little time to serve and settle the session' }
  }
  return { ok: true, deposit, rounds }
}

/** V14: the payer's open deposits whose deadline has passed at `now` (to refund). */
export function expiredDeposits (state: StateReader, payer: Did, now: number): SessionDeposit[] {
  const out: SessionDeposit[] = []
  for (const id of state.keys(NS.escrow)) {
    const record = escrowOf(state, id)
    if (record != null && record.payer === payer && record.closedBy == null && record.deadline < now) out.push({ id, record })
  }
  return out
}
