/**
 * Ratings (`rate` transaction): each side of a session on the ledger may rate the other once,
 * with an integer score 1..5. Only sessions that reached the ledger (at least one accepted
 * settlement) can be rated, so a rating costs a real, signed, settled interaction (SPEC R3).
 */
import type { Did } from '../identity.ts'
import type { SessionId } from '../session/terms.ts'
import { ContractError, ContractRejection, contractFail } from './errors.ts'
import { expectRecord, isBoundedString, isSafeInt } from './guards.ts'
import type { Fail } from './guards.ts'
import { MARKET_NS, stored } from './kv.ts'
import type { KvStore } from './kv.ts'
import { addFacts } from './reputation.ts'
import { readSession } from './settlement.ts'

export interface RateTx {
  readonly type: 'rate'
  readonly session: SessionId
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

export function decodeRateTx (raw: unknown): RateTx {
  const fail: Fail = contractFail(ContractRejection.RATE_SHAPE)
  const rec = expectRecord(raw, 'rate', ['type', 'session', 'score'], [], fail)
  if (rec.type !== 'rate') fail('type must be rate')
  if (!isBoundedString(rec.session, 128)) fail('session must be a session id')
  if (!isSafeInt(rec.score, 1, 5)) throw new ContractError(ContractRejection.RATE_SCORE, `score must be a whole number 1..5 (got ${String(rec.score)})`)
  return { type: 'rate', session: rec.session as SessionId, score: rec.score }
}

export function readRatings (kv: KvStore, session: SessionId): SessionRatings {
  const v = kv.get(MARKET_NS.rating, session)
  return v === undefined ? { byPayer: null, byProvider: null } : v as SessionRatings
}

export function applyRate (kv: KvStore, tx: RateTx, ctx: { readonly issuer: Did }): RateEffect {
  const s = readSession(kv, tx.session)
  if (s === undefined) throw new ContractError(ContractRejection.RATE_UNKNOWN_SESSION, 'no settled session with this id on the ledger')
  const by = ctx.issuer === s.payer ? 'payer' : ctx.issuer === s.provider ? 'provider' : null
  if (by === null) throw new ContractError(ContractRejection.RATE_NOT_PARTY, 'only the payer or the provider of a session may rate it')
  const ratings = readRatings(kv, tx.session)
  if ((by === 'payer' ? ratings.byPayer : ratings.byProvider) !== null) throw new ContractError(ContractRejection.RATE_DUPLICATE, `the ${by} already rated this session`)
  const subject = by === 'payer' ? s.provider : s.payer
  kv.set(MARKET_NS.rating, tx.session, stored(by === 'payer' ? { ...ratings, byPayer: tx.score } : { ...ratings, byProvider: tx.score }))
  addFacts(kv, subject, { ratings: 1, ratingSum: tx.score })
  return { type: 'rate', session: tx.session, by, subject, score: tx.score }
}
