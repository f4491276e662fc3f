/**
 * Offers (white paper 4.3.3, 5.2: service registration): the bodies of `offer.publish`,
 * `offer.update` and `offer.withdraw`, their validation, ids and the record the ledger keeps.
 * The provider is the transaction's issuer (the block signature covers it), so bodies carry no
 * signature of their own. Validation is a pure function of the body, the block time and the
 * kind registry; every rejection has a MarketError / ContractError code (SPEC M1–M7).
 */
import { cidOf } from '../codec.ts'
import type { Did } from '../identity.ts'
import { parsePolicy } from '../contracts/policy.ts'
import type { RightsPolicy, Share } from '../contracts/policy.ts'
import { expectRecord, has, isBoundedString, isSafeInt } from '../contracts/guards.ts'
import type { Fail } from '../contracts/guards.ts'
import { MAX_PRICE, MAX_ROUND_SIZE, ROUND_UNITS } from '../session/terms.ts'
import type { OfferId, RoundUnit, SessionTerms } from '../session/terms.ts'
import { MarketError, MarketRejection, marketFail } from './errors.ts'
import { defaultKinds } from './kinds.ts'
import type { KindRegistry } from './kinds.ts'
import { isGeohash, MAX_GEOHASH_LENGTH } from './geohash.ts'

export const MAX_TITLE_LENGTH = 120
export const MAX_CAPACITY = 10_000
/** Offers live at most this long (ms) per publish/update, so the registry cannot fill with forgotten offers. */
export const MAX_OFFER_LIFETIME_MS = 366 * 24 * 3600 * 1000

export interface Round {
  readonly unit: RoundUnit
  /** Units per round: seconds or bytes, integer 1..2^36. */
  readonly size: number
}

export interface OfferBody {
  readonly kind: string
  readonly title: string
  /** Credits per round, integer 1..1e9. */
  readonly price: number
  readonly round: Round
  /** Free slice at the start of every round, same unit, 1..round.size. */
  readonly trial: number
  /** Concurrent users the provider will serve. */
  readonly capacity: number
  /** Location cell (required for hotspots). */
  readonly geohash?: string
  /** ms since the Unix epoch. */
  readonly expiresAt: number
  readonly policy: RightsPolicy
  /** Provider-chosen; distinguishes otherwise identical offers. */
  readonly nonce: number
}

/** Fields an update may change; kind and nonce are fixed for an offer's life. */
export type OfferPatch = Partial<Pick<OfferBody, 'title' | 'price' | 'round' | 'trial' | 'capacity' | 'geohash' | 'expiresAt' | 'policy'>>
const PATCH_FIELDS = ['title', 'price', 'round', 'trial', 'capacity', 'geohash', 'expiresAt', 'policy'] as const

export interface OfferPublishTx { readonly type: 'offer.publish', readonly offer: OfferBody }
export interface OfferUpdateTx { readonly type: 'offer.update', readonly offer: OfferId, readonly patch: OfferPatch }
export interface OfferWithdrawTx { readonly type: 'offer.withdraw', readonly offer: OfferId }

/** The part of an offer a session is bound to, kept per revision for settlement. */
export interface OfferTerms {
  readonly price: number
  readonly round: Round
  readonly trial: number
  readonly policy: RightsPolicy
}

export interface OfferRecord {
  readonly id: OfferId
  readonly provider: Did
  /** 0 as published, +1 per update. */
  readonly rev: number
  /** Current body. */
  readonly body: OfferBody
  /** Terms of every revision, index = rev (sessions settle under the revision they named). */
  readonly terms: readonly OfferTerms[]
  readonly publishedAt: number
  readonly updatedAt: number
  readonly withdrawn: boolean
}

export interface OfferValidationContext {
  /**
   * Block time (ms): expiry must be after it and at most MAX_OFFER_LIFETIME_MS ahead. Absent in
   * the ledger's stateless `decode`; the expiry is then checked again at apply time.
   */
  readonly now?: number
  readonly kinds?: KindRegistry
}

const BODY_FIELDS_REQUIRED = ['kind', 'title', 'price', 'round', 'trial', 'capacity', 'expiresAt', 'policy', 'nonce'] as const
const BODY_FIELDS_OPTIONAL = ['geohash'] as const

function parseRound (value: unknown, allowed: readonly RoundUnit[], kind: string): Round {
  const fail: Fail = marketFail(MarketRejection.OFFER_ROUND)
  const rec = expectRecord(value, 'round', ['unit', 'size'], [], fail)
  if (typeof rec.unit !== 'string' || !(ROUND_UNITS as readonly string[]).includes(rec.unit)) fail(`round.unit must be one of ${ROUND_UNITS.join(', ')}`)
  if (!allowed.includes(rec.unit as RoundUnit)) fail(`a ${kind} offer is metered in ${allowed.join(' or ')}, not ${rec.unit}`)
  if (!isSafeInt(rec.size, 1, MAX_ROUND_SIZE)) fail(`round.size must be an integer 1..${MAX_ROUND_SIZE} ${rec.unit} (got ${String(rec.size)})`)
  return { unit: rec.unit as RoundUnit, size: rec.size }
}

/**
 * Validates a complete offer body (publish, or the result of applying an update) and returns a
 * normalised copy. Throws MarketError (or ContractError for the policy).
 */
export function validateOfferBody (value: unknown, ctx: OfferValidationContext): OfferBody {
  const kinds = ctx.kinds ?? defaultKinds
  const rec = expectRecord(value, 'offer', BODY_FIELDS_REQUIRED, BODY_FIELDS_OPTIONAL, marketFail(MarketRejection.TX_SHAPE))
  // M1: known kind
  const kind = typeof rec.kind === 'string' ? kinds.get(rec.kind) : undefined
  if (kind === undefined) throw new MarketError(MarketRejection.OFFER_KIND, `unknown offer kind "${String(rec.kind).slice(0, 40)}"; known: ${kinds.names().join(', ')}`)
  if (!isBoundedString(rec.title, MAX_TITLE_LENGTH) || rec.title.trim().length === 0) throw new MarketError(MarketRejection.OFFER_TITLE, `title must be 1..${MAX_TITLE_LENGTH} printable characters`)
  // M2: positive integer price
  if (!isSafeInt(rec.price, 1, MAX_PRICE)) throw new MarketError(MarketRejection.OFFER_PRICE, `price must be a positive whole number of credits per round, at most ${MAX_PRICE} (got ${String(rec.price)})`)
  const round = parseRound(rec.round, kind.units, kind.name)
  // M3: trial slice within the round
  if (!isSafeInt(rec.trial, 1, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.OFFER_TRIAL, `trial must be a positive whole number of ${round.unit} (got ${String(rec.trial)})`)
  if (rec.trial > round.size) throw new MarketError(MarketRejection.OFFER_TRIAL, `trial of ${rec.trial} ${round.unit} is longer than a round of ${round.size} ${round.unit}`)
  if (!isSafeInt(rec.capacity, 1, MAX_CAPACITY)) throw new MarketError(MarketRejection.OFFER_CAPACITY, `capacity must be 1..${MAX_CAPACITY} concurrent users (got ${String(rec.capacity)})`)
  // M4: location
  let geohash: string | undefined
  if (has(rec, 'geohash')) {
    if (!isGeohash(rec.geohash, kind.minGeohashLength, MAX_GEOHASH_LENGTH)) {
      throw new MarketError(MarketRejection.OFFER_GEOHASH, `geohash must be ${kind.minGeohashLength}..${MAX_GEOHASH_LENGTH} characters of 0-9 and b-z without a, i, l, o`)
    }
    geohash = rec.geohash
  } else if (kind.requiresGeohash) {
    throw new MarketError(MarketRejection.OFFER_GEOHASH_REQUIRED, `a ${kind.name} offer needs a location (geohash)`)
  }
  // M5: expiry in the future, bounded
  if (!isSafeInt(rec.expiresAt, 0, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.OFFER_EXPIRY, 'expiresAt must be a time in ms')
  if (ctx.now !== undefined) checkExpiry(rec.expiresAt, ctx.now, MarketRejection.OFFER_EXPIRY)
  // M6: rights policy (ContractError codes)
  const policy = parsePolicy(rec.policy)
  if (!isSafeInt(rec.nonce, 0, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.OFFER_NONCE, 'nonce must be a non-negative integer')
  const body: OfferBody = { kind: kind.name, title: rec.title, price: rec.price, round, trial: rec.trial, capacity: rec.capacity, expiresAt: rec.expiresAt, policy, nonce: rec.nonce }
  return geohash === undefined ? body : { ...body, geohash }
}

/** M5: `expiresAt` after `now` and at most MAX_OFFER_LIFETIME_MS ahead of it. */
export function checkExpiry (expiresAt: number, now: number, code: typeof MarketRejection.OFFER_EXPIRY | typeof MarketRejection.REQUEST_EXPIRY): void {
  if (expiresAt <= now) throw new MarketError(code, `expiresAt ${expiresAt} is not after now (${now})`)
  if (expiresAt > now + MAX_OFFER_LIFETIME_MS) throw new MarketError(code, 'expiresAt may be at most 366 days ahead')
}

/**
 * Stateless check of an update's patch: known fields only, at least one, and each value valid
 * on its own (same codes as publish). Rules across fields and against the kind (trial ≤ round,
 * unit of the kind, geohash length of the kind) are checked on the merged body at apply time.
 */
export function parseOfferPatch (value: unknown): OfferPatch {
  const rec = expectRecord(value, 'patch', [], PATCH_FIELDS, marketFail(MarketRejection.TX_SHAPE))
  if (Object.keys(rec).length === 0) throw new MarketError(MarketRejection.OFFER_EMPTY_UPDATE, 'an update must change at least one field')
  const out: Record<string, unknown> = {}
  if (has(rec, 'title')) {
    if (!isBoundedString(rec.title, MAX_TITLE_LENGTH) || rec.title.trim().length === 0) throw new MarketError(MarketRejection.OFFER_TITLE, `title must be 1..${MAX_TITLE_LENGTH} printable characters`)
    out.title = rec.title
  }
  if (has(rec, 'price')) {
    if (!isSafeInt(rec.price, 1, MAX_PRICE)) throw new MarketError(MarketRejection.OFFER_PRICE, `price must be a positive whole number of credits per round, at most ${MAX_PRICE} (got ${String(rec.price)})`)
    out.price = rec.price
  }
  if (has(rec, 'round')) out.round = parseRound(rec.round, ROUND_UNITS, 'any')
  if (has(rec, 'trial')) {
    if (!isSafeInt(rec.trial, 1, MAX_ROUND_SIZE)) throw new MarketError(MarketRejection.OFFER_TRIAL, `trial must be a positive whole number (got ${String(rec.trial)})`)
    out.trial = rec.trial
  }
  if (has(rec, 'capacity')) {
    if (!isSafeInt(rec.capacity, 1, MAX_CAPACITY)) throw new MarketError(MarketRejection.OFFER_CAPACITY, `capacity must be 1..${MAX_CAPACITY} concurrent users (got ${String(rec.capacity)})`)
    out.capacity = rec.capacity
  }
  if (has(rec, 'geohash')) {
    if (!isGeohash(rec.geohash)) throw new MarketError(MarketRejection.OFFER_GEOHASH, 'geohash must be 1..12 characters of 0-9 and b-z without a, i, l, o')
    out.geohash = rec.geohash
  }
  if (has(rec, 'expiresAt')) {
    if (!isSafeInt(rec.expiresAt, 0, Number.MAX_SAFE_INTEGER)) throw new MarketError(MarketRejection.OFFER_EXPIRY, 'expiresAt must be a time in ms')
    out.expiresAt = rec.expiresAt
  }
  if (has(rec, 'policy')) out.policy = parsePolicy(rec.policy)
  return out as OfferPatch
}

/** The offer id: CID of `{ t, provider, offer }`; the provider knows it before publishing. */
export function offerIdOf (provider: Did, body: OfferBody): OfferId {
  return cidOf({ t: 'alliance/offer/1', provider, offer: body }).toString() as OfferId
}

export function termsOfBody (body: OfferBody): OfferTerms {
  return { price: body.price, round: body.round, trial: body.trial, policy: body.policy }
}

/** Session terms of an offer at revision `rev`, or null when that revision does not exist. */
export function sessionTermsOf (record: OfferRecord, rev: number): { terms: SessionTerms, shares: readonly Share[] } | null {
  if (!Number.isSafeInteger(rev) || rev < 0 || rev >= record.terms.length) return null
  const t = record.terms[rev]
  return {
    terms: { offer: record.id, rev, provider: record.provider, price: t.price, unit: t.round.unit, roundSize: t.round.size, trial: t.trial, refund: t.policy.refund },
    shares: t.policy.shares
  }
}

/** Listed: not withdrawn and not expired at `now`. */
export function isOfferActive (record: OfferRecord, now: number): boolean {
  return !record.withdrawn && record.body.expiresAt > now
}
