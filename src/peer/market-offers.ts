/**
 * Offers, requests, ratings and reputation of one peer's market (split out of
 * market-service.ts): validated by the market core before anything is submitted (impossible
 * values fail with the core's codes and messages), then ledger transactions; queries run on
 * the registry index built from the confirmed state, rebuilt only when that state moved.
 */

import { InvalidInputError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import { defaultPolicy } from '../core/contracts/policy.ts'
import { reputationOf } from '../core/contracts/reputation.ts'
import type { Reputation } from '../core/contracts/reputation.ts'
import { readSession } from '../core/contracts/settlement.ts'
import { isOfferActive, offerIdOf, validateOfferBody } from '../core/market/offer.ts'
import type { OfferBody, OfferRecord } from '../core/market/offer.ts'
import { requestIdOf, validateBountyBody } from '../core/market/bounty.ts'
import type { BountyBody } from '../core/market/bounty.ts'
import { readOffer } from '../core/market/apply.ts'
import { MarketError, MarketRejection } from '../core/market/errors.ts'
import { OfferIndex, openRequests, reputationLookup } from '../core/market/registry.ts'
import type { SessionId } from '../core/session/terms.ts'
import { HotspotError, HotspotRejection } from '../net/session-hotspot.ts'
import type { OfferInput, OfferQueryInput, OfferView, RequestInput, RequestView } from './market-api.ts'
import type { MarketCore } from './market-core.ts'
import { asTx, DEFAULT_OFFER_TTL_MS, randomNonce } from './market-core.ts'

export class MarketOffers {
  #index: { key: string, index: OfferIndex } | null = null

  constructor (private readonly c: MarketCore) {}

  async publish (input: OfferInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidInputError('publish needs an offer object')
    const kind = typeof input.kind === 'string' ? this.c.kinds.get(input.kind) : undefined
    if (kind === undefined) throw new MarketError(MarketRejection.OFFER_KIND, `unknown offer kind "${String(input.kind).slice(0, 40)}"; known: ${this.c.kinds.names().join(', ')}`)
    const now = this.c.now()
    const base = defaultPolicy(this.c.did)
    const round = input.round as { size?: unknown, unit?: unknown } | undefined
    const body: Record<string, unknown> = {
      kind: kind.name,
      title: input.title,
      price: input.price,
      round: { unit: round?.unit ?? kind.units[0], size: round?.size },
      trial: input.trial,
      capacity: input.capacity ?? 1,
      expiresAt: input.expiresAt ?? now + DEFAULT_OFFER_TTL_MS,
      policy: {
        mayBuy: input.policy?.mayBuy ?? base.mayBuy,
        shares: input.policy?.shares ?? base.shares,
        refund: input.policy?.refund ?? base.refund
      },
      nonce: input.nonce ?? randomNonce(this.c.random)
    }
    if (input.geohash !== undefined) body.geohash = input.geohash
    // M1–M6: impossible values are refused here, with the code and message the ledger would give
    const clean: OfferBody = validateOfferBody(body, { now, kinds: this.c.kinds })
    if (clean.kind === 'hotspot' && await this.c.hotspotSecret() === null) {
      throw new HotspotError(HotspotRejection.NOT_SET, 'set the hotspot\'s network name and password before offering it')
    }
    this.c.requireMember()
    const id = offerIdOf(this.c.did, clean)
    if (this.c.state().has('market.offer', id)) throw new MarketError(MarketRejection.OFFER_DUPLICATE, 'this exact offer is already published; change its nonce')
    await this.c.o.ledger.submit([asTx({ type: 'offer.publish', offer: clean })])
    this.c.changed()
    return id
  }

  async withdraw (offerId: string): Promise<string> {
    const record = readOffer(this.c.state(), offerId)
    if (record === undefined) throw new MarketError(MarketRejection.OFFER_UNKNOWN, 'no such offer on the ledger (a new one may not be confirmed yet)')
    if (record.provider !== this.c.did) throw new MarketError(MarketRejection.OFFER_NOT_PROVIDER, 'only the offer\'s provider may withdraw it')
    if (record.withdrawn) throw new MarketError(MarketRejection.OFFER_WITHDRAWN, 'the offer was already withdrawn')
    const block = await this.c.o.ledger.submit([asTx({ type: 'offer.withdraw', offer: offerId })])
    this.c.changed()
    return `${block}/0`
  }

  #offerIndex (): OfferIndex {
    const s = this.c.o.ledger.engine.stats()
    const key = `${s.applied}/${s.fullReplays}/${s.confirmed}`
    if (this.#index?.key !== key) this.#index = { key, index: OfferIndex.fromStore(this.c.state()) }
    return this.#index.index
  }

  #equivocationsOf (): (did: Did) => number {
    const counts = new Map<string, number>()
    for (const e of this.c.o.ledger.engine.equivocations()) counts.set(e.issuer, (counts.get(e.issuer) ?? 0) + 1)
    return (did) => counts.get(did) ?? 0
  }

  #offerView (r: OfferRecord, reputation: number, distanceMeters: number | null): OfferView {
    const b = r.body
    return {
      id: r.id,
      provider: r.provider,
      kind: b.kind,
      title: b.title,
      price: b.price,
      round: { unit: b.round.unit, size: b.round.size },
      trial: b.trial,
      capacity: b.capacity,
      geohash: b.geohash ?? null,
      expiresAt: b.expiresAt,
      rev: r.rev,
      publishedAt: r.publishedAt,
      mayBuy: b.policy.mayBuy,
      shares: b.policy.shares,
      refund: b.policy.refund,
      reputation,
      distanceMeters,
      mine: r.provider === this.c.did,
      activeSessions: r.provider === this.c.did ? this.c.activeOn(r.id) : 0
    }
  }

  offers (query: OfferQueryInput = {}): OfferView[] {
    const reputation = reputationLookup(this.c.state(), this.#equivocationsOf())
    const { includeOwn, ...q } = query
    const hits = this.#offerIndex().query(q, { now: this.c.now(), reputation })
    return hits.filter((h) => includeOwn !== false || h.offer.provider !== this.c.did).map((h) => this.#offerView(h.offer, h.reputation, h.distanceMeters))
  }

  offer (offerId: string): OfferView | null {
    const r = readOffer(this.c.state(), offerId)
    if (r === undefined || !isOfferActive(r, this.c.now())) return null
    return this.#offerView(r, reputationLookup(this.c.state(), this.#equivocationsOf())(r.provider), null)
  }

  async postRequest (input: RequestInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidInputError('postRequest needs a request object')
    const now = this.c.now()
    const body: Record<string, unknown> = {
      kind: input.kind,
      target: input.target,
      maxCredits: input.maxCredits,
      expiresAt: input.expiresAt ?? now + DEFAULT_OFFER_TTL_MS,
      nonce: input.nonce ?? randomNonce(this.c.random)
    }
    if (input.title !== undefined) body.title = input.title
    if (input.geohash !== undefined) body.geohash = input.geohash
    const clean: BountyBody = validateBountyBody(body, { now, kinds: this.c.kinds })
    this.c.requireMember()
    const id = requestIdOf(this.c.did, clean)
    if (this.c.state().has('market.request', id)) throw new MarketError(MarketRejection.REQUEST_DUPLICATE, 'this exact request is already published; change its nonce')
    await this.c.o.ledger.submit([asTx({ type: 'request.publish', request: clean })])
    this.c.changed()
    return id
  }

  async withdrawRequest (requestId: string): Promise<string> {
    const block = await this.c.o.ledger.submit([asTx({ type: 'request.withdraw', request: requestId })])
    this.c.changed()
    return `${block}/0`
  }

  requests (kind?: string): RequestView[] {
    return openRequests(this.c.state(), this.c.now(), kind).map((r) => ({
      id: r.id,
      issuer: r.issuer,
      kind: r.body.kind,
      target: r.body.target,
      maxCredits: r.body.maxCredits,
      expiresAt: r.body.expiresAt,
      title: r.body.title ?? null,
      geohash: r.body.geohash ?? null,
      publishedAt: r.publishedAt,
      mine: r.issuer === this.c.did
    }))
  }

  reputation (did: Did): Reputation {
    return reputationOf(this.c.state(), did, this.#equivocationsOf()(did))
  }

  async rate (sessionId: string, score: number): Promise<string> {
    if (!Number.isSafeInteger(score) || score < 1 || score > 5) throw new InvalidInputError('a rating is a whole number from 1 to 5', 'ERR_RATE_SCORE')
    const s = readSession(this.c.state(), sessionId as SessionId)
    if (s === undefined) throw new InvalidInputError('the session is not settled on the ledger yet', 'ERR_RATE_UNKNOWN_SESSION')
    if (s.payer !== this.c.did && s.provider !== this.c.did) throw new InvalidInputError('only the payer or the provider of a session rates it', 'ERR_RATE_NOT_PARTY')
    const block = await this.c.o.ledger.submit([asTx({ type: 'rate', session: sessionId, settle: s.lastSettle, score })])
    this.c.changed()
    return `${block}/0`
  }
}
