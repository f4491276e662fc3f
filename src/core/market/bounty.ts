/**
 * Requests (white paper 4.3.3: "recruitment or bounty" postings): a peer that seeks a service
 * publishes `request.publish { kind, target, maxCredits, expiresAt, … }` — e.g. "relay to DID X,
 * up to N credits" — and may withdraw it. Validation mirrors offers (SPEC M11).
 */
import { cidOf } from '../codec.ts'
import type { Did } from '../identity.ts'
import { expectRecord, has, isBoundedString, isDidString, isSafeInt } from '../contracts/guards.ts'
import { MarketError, MarketRejection, marketFail } from './errors.ts'
import { defaultKinds } from './kinds.ts'
import type { KindRegistry } from './kinds.ts'
import { isGeohash } from './geohash.ts'
import { checkExpiry, MAX_TITLE_LENGTH } from './offer.ts'

export type RequestId = string & { readonly __brand: 'RequestId' }

export const MAX_TARGET_LENGTH = 256
export const MAX_BOUNTY_CREDITS = 1_000_000_000_000

export interface BountyBody {
  readonly kind: string
  /** What to do: a DID for relays ("relay to X"), free text for other kinds. */
  readonly target: string
  /** The most the requester will pay in total. */
  readonly maxCredits: number
  readonly expiresAt: number
  readonly title?: string
  readonly geohash?: string
  readonly nonce: number
}

export interface RequestPublishTx { readonly type: 'request.publish', readonly request: BountyBody }
export interface RequestWithdrawTx { readonly type: 'request.withdraw', readonly request: RequestId }

export interface BountyRecord {
  readonly id: RequestId
  readonly issuer: Did
  readonly body: BountyBody
  readonly publishedAt: number
  readonly withdrawn: boolean
}

/** Validates a request body; `now` absent in the ledger's stateless decode (checked at apply). */
export function validateBountyBody (value: unknown, ctx: { readonly now?: number, readonly kinds?: KindRegistry }): BountyBody {
  const kinds = ctx.kinds ?? defaultKinds
  const rec = expectRecord(value, 'request', ['kind', 'target', 'maxCredits', 'expiresAt', 'nonce'], ['title', 'geohash'], marketFail(MarketRejection.TX_SHAPE))
  const kind = typeof rec.kind === 'string' ? kinds.get(rec.kind) : undefined
  if (kind === undefined) throw new MarketError(MarketRejection.REQUEST_KIND, `unknown request kind "${String(rec.kind).slice(0, 40)}"; known: ${kinds.names().join(', ')}`)
  if (kind.target === 'did' ? !isDidString(rec.target) : !isBoundedString(rec.target, MAX_TARGET_LENGTH)) {
    throw new MarketError(MarketRejection.REQUEST_TARGET, kind.target === 'did' ? `a ${kind.name} request's target must be the DID to reach` : `target must be 1..${MAX_TARGET_LENGTH} printable characters`)
  }
  if (!isSafeInt(rec.maxCredits, 1, MAX_BOUNTY_CREDITS)) throw new MarketError(MarketRejection.REQUEST_MAX_CREDITS, `maxCredits must be a positive whole number of credits, at most ${MAX_BOUNTY_CREDITS}`)
  if (!isSafeInt(rec.expiresAt, 0, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.REQUEST_EXPIRY, 'expiresAt must be a time in ms')
  if (ctx.now !== undefined) checkExpiry(rec.expiresAt, ctx.now, MarketRejection.REQUEST_EXPIRY)
  if (!isSafeInt(rec.nonce, 0, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.REQUEST_NONCE, 'nonce must be a non-negative integer')
  let body: BountyBody = { kind: kind.name, target: rec.target as string, maxCredits: rec.maxCredits, expiresAt: rec.expiresAt, nonce: rec.nonce }
  if (has(rec, 'title')) {
    if (!isBoundedString(rec.title, MAX_TITLE_LENGTH)) throw new MarketError(MarketRejection.REQUEST_TITLE, `title must be 1..${MAX_TITLE_LENGTH} printable characters`)
    body = { ...body, title: rec.title }
  }
  if (has(rec, 'geohash')) {
    if (!isGeohash(rec.geohash)) throw new MarketError(MarketRejection.REQUEST_GEOHASH, 'geohash must be 1..12 characters of the geohash alphabet')
    body = { ...body, geohash: rec.geohash }
  }
  return body
}

export function requestIdOf (issuer: Did, body: BountyBody): RequestId {
  return cidOf({ t: 'alliance/request/1', issuer, request: body }).toString() as RequestId
}

export function isBountyActive (record: BountyRecord, now: number): boolean {
  return !record.withdrawn && record.body.expiresAt > now
}
