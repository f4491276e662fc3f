/**
 * Ratings (`rate` transaction): each side of a session on the ledger may rate the other once,
 * with an integer score 1..5. A rating names a confirmed settlement of the session, which it
 * reads as a dependency (SPEC R3): so a rating costs a real, signed, settled interaction, and
 * whether it applies does not depend on the order in which the provider's and the rater's
 * chains are replayed. Each side's rating is its own key, written only by that side's chain.
 */
import type { Did } from '../identity.ts'
import type { SessionId } from '../session/terms.ts'
import { ContractError, ContractRejection, contractFail } from './errors.ts'
import { expectRecord, isBoundedString, isSafeInt } from './guards.ts'
import type { Fail } from './guards.ts'
import { MARKET_NS } from './kv.ts'
import type { KvReader, KvStore } from './kv.ts'
import { addFacts } from './reputation.ts'

export interface RateTx {
  readonly type: 'rate'
  readonly session: SessionId
  /** TxId of a confirmed `session.settle` of this session (read as a dependency). */
  readonly settle: string
  readonly score: number
}

/** Scores each side gave (null: not yet). */
export interface SessionRatings {
  readonly byPayer: number | null
  readonly byProvider: number | null
}

export interface RateEffect {
  readonly type: 'rate'
  readonly session: SessionId
  readonly by: 'payer' | 'provider'
  readonly subject: Did
  readonly score: number
}

/** The parties of a settled session, as a confirmed settlement shows them. */
export interface SettledParties {
  readonly session: SessionId
  readonly payer: Did
  readonly provider: Did
}

export function decodeRateTx (raw: unknown): RateTx {
  const fail: Fail = contractFail(ContractRejection.RATE_SHAPE)
  const rec = expectRecord(raw, 'rate', ['type', 'session', 'settle', 'score'], [], fail)
  if (rec.type !== 'rate') fail('type must be rate')
  if (!isBoundedString(rec.session, 128)) fail('session must be a session id')
  if (!isBoundedString(rec.settle, 128) || !/\/[0-9]{1,2}$/.test(rec.settle)) fail('settle must be the transaction id of a session.settle')
  if (!isSafeInt(rec.score, 1, 5)) throw new ContractError(ContractRejection.RATE_SCORE, `score must be a whole number 1..5 (got ${String(rec.score)})`)
  return { type: 'rate', session: rec.session as SessionId, settle: rec.settle, score: rec.score }
}

function ratingKey (session: SessionId, by: 'payer' | 'provider'): string {
  return `${session}/${by}`
}

export function readRatings (kv: KvReader, session: SessionId): SessionRatings {
  const p = kv.get(MARKET_NS.rating, ratingKey(session, 'payer'))
  const q = kv.get(MARKET_NS.rating, ratingKey(session, 'provider'))
  return { byPayer: typeof p === 'number' ? p : null, byProvider: typeof q === 'number' ? q : null }
}

/**
 * Applies a rating. `settled(txId)` gives the parties of a confirmed, applied settlement (the
 * ledger's dependency lookup), or null.
 */
export function applyRate (kv: KvStore, tx: RateTx, ctx: { readonly issuer: Did, settled: (txId: string) => SettledParties | null }): RateEffect {
  const s = ctx.settled(tx.settle)
  if (s === null) throw new ContractError(ContractRejection.RATE_NO_SETTLEMENT, 'the rating names no confirmed settlement')
  if (s.session !== tx.session) throw new ContractError(ContractRejection.RATE_UNKNOWN_SESSION, 'the settlement is of another session')
  const by = ctx.issuer === s.payer ? 'payer' : ctx.issuer === s.provider ? 'provider' : null
  if (by === null) throw new ContractError(ContractRejection.RATE_NOT_PARTY, 'only the payer or the provider of a session may rate it')
  const key = ratingKey(tx.session, by)
  if (kv.has(MARKET_NS.rating, key)) throw new ContractError(ContractRejection.RATE_DUPLICATE, `the ${by} already rated this session`)
  const subject = by === 'payer' ? s.provider : s.payer
  kv.set(MARKET_NS.rating, key, tx.score)
  // reputation facts are sums that no transaction reads: increments from two chains commute
  addFacts(kv, subject, { ratings: 1, ratingSum: tx.score })
  return { type: 'rate', session: tx.session, by, subject, score: tx.score }
}

