/**
 * The market's seven transaction types as pure functions over a key/value store:
 * `decodeMarketTx` is the stateless check every peer runs when it validates a block (shape and
 * every rule that needs no state or clock), `applyMarketTx` the replay of a confirmed
 * transaction against the state at the block's time. Apply validates before it writes, so a
 * rejected transaction (typed error) leaves the store unchanged even without the ledger's undo.
 *
 *   offer.publish | offer.update | offer.withdraw      (market/offer.ts, SPEC M1–M7)
 *   request.publish | request.withdraw                  (market/bounty.ts, SPEC M11)
 *   session.settle                                      (contracts/settlement.ts, SPEC C1–C12)
 *   rate                                                (contracts/rating.ts, SPEC R3)
 */
import type { Did } from '../identity.ts'
import { expectRecord, isBoundedString } from '../contracts/guards.ts'
import type { Fail } from '../contracts/guards.ts'
import { MARKET_NS, stored } from '../contracts/kv.ts'
import type { KvReader, KvStore } from '../contracts/kv.ts'
import { applySettle, decodeSettleTx } from '../contracts/settlement.ts'
import type { EscrowPort, SessionSettleTx, SettleEffect } from '../contracts/settlement.ts'
import { applyRate, decodeRateTx } from '../contracts/rating.ts'
import type { RateEffect, RateTx, SettledParties } from '../contracts/rating.ts'
import type { Share } from '../contracts/policy.ts'
import type { OfferId, SessionTerms } from '../session/terms.ts'
import { MarketError, MarketRejection, marketFail } from './errors.ts'
import type { KindRegistry } from './kinds.ts'
import { checkExpiry, offerIdOf, parseOfferPatch, sessionTermsOf, termsOfBody, validateOfferBody } from './offer.ts'
import type { OfferPublishTx, OfferRecord, OfferUpdateTx, OfferWithdrawTx } from './offer.ts'
import { requestIdOf, validateBountyBody } from './bounty.ts'
import type { BountyRecord, RequestId, RequestPublishTx, RequestWithdrawTx } from './bounty.ts'

export const MARKET_TX_TYPES = ['offer.publish', 'offer.update', 'offer.withdraw', 'request.publish', 'request.withdraw', 'session.settle', 'rate'] as const
export type MarketTxType = typeof MARKET_TX_TYPES[number]

export type MarketTx = OfferPublishTx | OfferUpdateTx | OfferWithdrawTx | RequestPublishTx | RequestWithdrawTx | SessionSettleTx | RateTx

/** An offer keeps at most this many revisions (their terms stay on the ledger for settlement). */
export const MAX_OFFER_REVISIONS = 1000

export interface MarketDecodeContext {
  readonly kinds?: KindRegistry
}

export interface MarketApplyContext extends MarketDecodeContext {
  /** The block's issuer (its signature covers the transaction). */
  readonly issuer: Did
  /** The block's time, ms. */
  readonly time: number
  /** The block's chain. */
  readonly chain: string
  /** This transaction's id (settlements name their claims after it). */
  readonly txId: string
  /** Deposits a settlement draws from (C9–C11). */
  readonly escrow: EscrowPort
  /** Parties of a confirmed settlement a rating names (R3), or null. */
  settled (txId: string): SettledParties | null
}

/** Ports for applying offers and requests outside a ledger (tests, tools): no deposits, no settlements. */
export const DETACHED_PORTS: Pick<MarketApplyContext, 'chain' | 'txId' | 'escrow' | 'settled'> = Object.freeze({
  chain: '',
  txId: '',
  escrow: { deposit: () => null, close: () => { throw new RangeError('no deposits outside a ledger') } },
  settled: () => null
})

export type MarketEffect =
  | { readonly type: 'offer.publish' | 'offer.update' | 'offer.withdraw', readonly offer: OfferRecord }
  | { readonly type: 'request.publish' | 'request.withdraw', readonly request: BountyRecord }
  | SettleEffect
  | RateEffect

export function isMarketTxType (type: unknown): type is MarketTxType {
  return typeof type === 'string' && (MARKET_TX_TYPES as readonly string[]).includes(type)
}

const shapeFail: Fail = marketFail(MarketRejection.TX_SHAPE)

function idField (value: unknown, what: string): string {
  if (!isBoundedString(value, 128)) shapeFail(`${what} must be an id`)
  return value
}

/** Stateless check of an untrusted market transaction; throws a typed error. */
export function decodeMarketTx (raw: unknown, ctx: MarketDecodeContext = {}): MarketTx {
  const type = (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) ? (raw as { type?: unknown }).type : undefined
  switch (type) {
    case 'offer.publish': {
      const r = expectRecord(raw, type, ['type', 'offer'], [], shapeFail)
      return { type, offer: validateOfferBody(r.offer, { kinds: ctx.kinds }) }
    }
    case 'offer.update': {
      const r = expectRecord(raw, type, ['type', 'offer', 'patch'], [], shapeFail)
      return { type, offer: idField(r.offer, 'offer.update.offer') as OfferId, patch: parseOfferPatch(r.patch) }
    }
    case 'offer.withdraw': {
      const r = expectRecord(raw, type, ['type', 'offer'], [], shapeFail)
      return { type, offer: idField(r.offer, 'offer.withdraw.offer') as OfferId }
    }
    case 'request.publish': {
      const r = expectRecord(raw, type, ['type', 'request'], [], shapeFail)
      return { type, request: validateBountyBody(r.request, { kinds: ctx.kinds }) }
    }
    case 'request.withdraw': {
      const r = expectRecord(raw, type, ['type', 'request'], [], shapeFail)
      return { type, request: idField(r.request, 'request.withdraw.request') as RequestId }
    }
    case 'session.settle':
      return decodeSettleTx(raw)
    case 'rate':
      return decodeRateTx(raw)
    default:
      throw new MarketError(MarketRejection.TX_TYPE, `not a market transaction type: ${String(type).slice(0, 40)}`)
  }
}

export function readOffer (kv: KvReader, id: string): OfferRecord | undefined {
  return kv.get(MARKET_NS.offer, id) as OfferRecord | undefined
}

export function readRequest (kv: KvReader, id: string): BountyRecord | undefined {
  return kv.get(MARKET_NS.request, id) as BountyRecord | undefined
}

/** Session terms of an offer revision as stored, for settlement and for the session machines. */
export function termsLookup (kv: KvReader): (offer: OfferId, rev: number) => { terms: SessionTerms, shares: readonly Share[] } | null {
  return (offer, rev) => {
    const record = readOffer(kv, offer)
    return record === undefined ? null : sessionTermsOf(record, rev)
  }
}

function ownOffer (kv: KvReader, id: OfferId, issuer: Did): OfferRecord {
  const record = readOffer(kv, id)
  if (record === undefined) throw new MarketError(MarketRejection.OFFER_UNKNOWN, `no offer ${id.slice(0, 24)}… on the ledger`)
  if (record.provider !== issuer) throw new MarketError(MarketRejection.OFFER_NOT_PROVIDER, 'only the offer\'s provider may change it')
  if (record.withdrawn) throw new MarketError(MarketRejection.OFFER_WITHDRAWN, 'the offer was withdrawn')
  return record
}

function ownRequest (kv: KvReader, id: RequestId, issuer: Did): BountyRecord {
  const record = readRequest(kv, id)
  if (record === undefined) throw new MarketError(MarketRejection.REQUEST_UNKNOWN, `no request ${id.slice(0, 24)}… on the ledger`)
  if (record.issuer !== issuer) throw new MarketError(MarketRejection.REQUEST_NOT_ISSUER, 'only the request\'s issuer may withdraw it')
  if (record.withdrawn) throw new MarketError(MarketRejection.REQUEST_WITHDRAWN, 'the request was already withdrawn')
  return record
}

/** Applies a decoded market transaction at `ctx.time` by `ctx.issuer`; throws a typed error to reject. */
export function applyMarketTx (kv: KvStore, tx: MarketTx, ctx: MarketApplyContext): MarketEffect {
  const { issuer, time } = ctx
  switch (tx.type) {
    case 'offer.publish': {
      checkExpiry(tx.offer.expiresAt, time, MarketRejection.OFFER_EXPIRY)
      const id = offerIdOf(issuer, tx.offer)
      if (kv.has(MARKET_NS.offer, id)) throw new MarketError(MarketRejection.OFFER_DUPLICATE, 'this provider already published this exact offer; change its nonce')
      const record: OfferRecord = { id, provider: issuer, rev: 0, body: tx.offer, terms: [termsOfBody(tx.offer)], publishedAt: time, updatedAt: time, withdrawn: false }
      kv.set(MARKET_NS.offer, id, stored(record))
      return { type: tx.type, offer: record }
    }
    case 'offer.update': {
      const before = ownOffer(kv, tx.offer, issuer)
      if (before.rev + 1 >= MAX_OFFER_REVISIONS) throw new MarketError(MarketRejection.OFFER_REVISIONS, `an offer keeps at most ${MAX_OFFER_REVISIONS} revisions; publish a new offer`)
      const body = validateOfferBody({ ...before.body, ...tx.patch }, { now: time, kinds: ctx.kinds })
      const record: OfferRecord = { ...before, rev: before.rev + 1, body, terms: [...before.terms, termsOfBody(body)], updatedAt: time }
      kv.set(MARKET_NS.offer, tx.offer, stored(record))
      return { type: tx.type, offer: record }
    }
    case 'offer.withdraw': {
      const record: OfferRecord = { ...ownOffer(kv, tx.offer, issuer), withdrawn: true, updatedAt: time }
      kv.set(MARKET_NS.offer, tx.offer, stored(record))
      return { type: tx.type, offer: record }
    }
    case 'request.publish': {
      checkExpiry(tx.request.expiresAt, time, MarketRejection.REQUEST_EXPIRY)
      const id = requestIdOf(issuer, tx.request)
      if (kv.has(MARKET_NS.request, id)) throw new MarketError(MarketRejection.REQUEST_DUPLICATE, 'this issuer already published this exact request; change its nonce')
      const record: BountyRecord = { id, issuer, body: tx.request, publishedAt: time, withdrawn: false }
      kv.set(MARKET_NS.request, id, stored(record))
      return { type: tx.type, request: record }
    }
    case 'request.withdraw': {
      const record: BountyRecord = { ...ownRequest(kv, tx.request, issuer), withdrawn: true }
      kv.set(MARKET_NS.request, tx.request, stored(record))
      return { type: tx.type, request: record }
    }
    case 'session.settle':
      return applySettle(kv, tx, { issuer, chain: ctx.chain, time, txId: ctx.txId, escrow: ctx.escrow, termsOf: termsLookup(kv) })
    case 'rate':
      return applyRate(kv, tx, { issuer, settled: (id) => ctx.settled(id) })
  }
}
