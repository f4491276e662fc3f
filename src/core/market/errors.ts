/**
 * Typed rejections of market transactions (offers and requests). Each code names the rule a
 * transaction broke (SPEC M1–M11); messages say what was wrong and what is allowed.
 */
import { AllianceError } from '../errors.ts'

export const MarketRejection = {
  /** Not a market transaction: wrong shape or unknown fields. */
  TX_SHAPE: 'ERR_MARKET_TX_SHAPE',
  /** A transaction type this module does not handle. */
  TX_TYPE: 'ERR_MARKET_TX_TYPE',
  OFFER_KIND: 'ERR_OFFER_KIND',
  OFFER_TITLE: 'ERR_OFFER_TITLE',
  /** Price per round is not a positive integer number of credits (or is over the cap). */
  OFFER_PRICE: 'ERR_OFFER_PRICE',
  /** Round unit not allowed for the kind, or size not a positive integer. */
  OFFER_ROUND: 'ERR_OFFER_ROUND',
  /** Trial slice not an integer in 1..round size. */
  OFFER_TRIAL: 'ERR_OFFER_TRIAL',
  OFFER_CAPACITY: 'ERR_OFFER_CAPACITY',
  /** Not a geohash (base32 alphabet 0-9 b-h j k m n p-z, length bounds of the kind). */
  OFFER_GEOHASH: 'ERR_OFFER_GEOHASH',
  /** The kind needs a location (hotspots) and none was given. */
  OFFER_GEOHASH_REQUIRED: 'ERR_OFFER_GEOHASH_REQUIRED',
  /** `expiresAt` not after the block time, or too far ahead. */
  OFFER_EXPIRY: 'ERR_OFFER_EXPIRY',
  OFFER_NONCE: 'ERR_OFFER_NONCE',
  /** The same provider already published this exact offer (same id). */
  OFFER_DUPLICATE: 'ERR_OFFER_DUPLICATE',
  OFFER_UNKNOWN: 'ERR_OFFER_UNKNOWN',
  /** Only the offer's provider may update or withdraw it. */
  OFFER_NOT_PROVIDER: 'ERR_OFFER_NOT_PROVIDER',
  OFFER_WITHDRAWN: 'ERR_OFFER_WITHDRAWN',
  /** An update that changes nothing. */
  OFFER_EMPTY_UPDATE: 'ERR_OFFER_EMPTY_UPDATE',
  /** The offer reached MAX_OFFER_REVISIONS updates; publish a new one. */
  OFFER_REVISIONS: 'ERR_OFFER_REVISIONS',
  REQUEST_KIND: 'ERR_REQUEST_KIND',
  REQUEST_TITLE: 'ERR_REQUEST_TITLE',
  /** Target missing, too long, or not a DID where the kind wants one (relay). */
  REQUEST_TARGET: 'ERR_REQUEST_TARGET',
  REQUEST_MAX_CREDITS: 'ERR_REQUEST_MAX_CREDITS',
  REQUEST_GEOHASH: 'ERR_REQUEST_GEOHASH',
  REQUEST_EXPIRY: 'ERR_REQUEST_EXPIRY',
  REQUEST_NONCE: 'ERR_REQUEST_NONCE',
  REQUEST_DUPLICATE: 'ERR_REQUEST_DUPLICATE',
  REQUEST_UNKNOWN: 'ERR_REQUEST_UNKNOWN',
  REQUEST_NOT_ISSUER: 'ERR_REQUEST_NOT_ISSUER',
  REQUEST_WITHDRAWN: 'ERR_REQUEST_WITHDRAWN'
} as const
export type MarketRejectionCode = typeof MarketRejection[keyof typeof MarketRejection]

export class MarketError extends AllianceError {
  declare readonly code: MarketRejectionCode
  constructor (code: MarketRejectionCode, message: string) {
    super(code, message)
  }
}

export function marketFail (code: MarketRejectionCode): (message: string) => never {
  return (message: string) => { throw new MarketError(code, message) }
}
