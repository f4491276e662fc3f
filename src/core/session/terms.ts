/**
 * The terms a session runs under: an offer at one revision, as the payer's signed request
 * names it. Both the provider's voucher book and the on-ledger settlement check vouchers
 * against these, so they live below both. Also: how much a voucher makes chargeable.
 */
import type { Did } from '../identity.ts'
import type { RefundRule } from '../contracts/policy.ts'

/** CID (base32 string) of an offer's publish body; see market/offer.ts. */
export type OfferId = string & { readonly __brand: 'OfferId' }
/** CID (base32 string) of the payer's signed session request. */
export type SessionId = string & { readonly __brand: 'SessionId' }

export type RoundUnit = 'seconds' | 'bytes'
export const ROUND_UNITS: readonly RoundUnit[] = ['seconds', 'bytes']

/** Upper bounds that keep every product below 2^53: MAX_ROUND × MAX_ROUND_SIZE ≈ 6.9e15. */
export const MAX_PRICE = 1_000_000_000
export const MAX_ROUND = 100_000
export const MAX_ROUND_SIZE = 2 ** 36

export interface SessionTerms {
  readonly offer: OfferId
  /** Offer revision the payer agreed to (0 = as published, +1 per update). */
  readonly rev: number
  readonly provider: Did
  /** Credits per round, integer ≥ 1. */
  readonly price: number
  readonly unit: RoundUnit
  /** Units per round (seconds or bytes). */
  readonly roundSize: number
  /** Units of the trial slice at the start of every round, 1..roundSize. */
  readonly trial: number
  readonly refund: RefundRule
}

/** Where a voucher sequence stands: the newest accepted voucher's numbers. */
export interface VoucherCursor {
  readonly round: number
  readonly cumulative: number
  readonly units: number
}

/**
 * Credits a voucher makes payable (SPEC C4). `none`: its cumulative. `unused-rounds`: no more
 * than `price × ceil(units / roundSize)`, i.e. rounds its units never reached are not charged.
 */
export function chargeable (cursor: VoucherCursor, terms: SessionTerms): number {
  if (terms.refund === 'none') return cursor.cumulative
  const begun = Math.ceil(cursor.units / terms.roundSize)
  return Math.min(cursor.cumulative, begun * terms.price)
}
