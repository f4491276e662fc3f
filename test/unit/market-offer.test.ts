// Offers and requests as market transactions (SPEC M1–M8): every rejection code with a clear
// message, ids, updates and withdrawals by the provider only, and the stateless decode that
// every peer runs on a block.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { encode } from '../../src/core/codec.ts'
import { MemoryKv } from '../../src/core/contracts/kv.ts'
import { ContractRejection } from '../../src/core/contracts/errors.ts'
import { applyMarketTx, decodeMarketTx, DETACHED_PORTS, readOffer, MAX_OFFER_REVISIONS, MARKET_TX_TYPES } from '../../src/core/market/apply.ts'
import type { MarketEffect } from '../../src/core/market/apply.ts'
import { offerIdOf, sessionTermsOf, validateOfferBody, isOfferActive, MAX_OFFER_LIFETIME_MS } from '../../src/core/market/offer.ts'
import type { OfferPublishTx, OfferRecord } from '../../src/core/market/offer.ts'
import { requestIdOf } from '../../src/core/market/bounty.ts'
import type { BountyBody } from '../../src/core/market/bounty.ts'
import { MarketError, MarketRejection } from '../../src/core/market/errors.ts'
import { defaultKinds } from '../../src/core/market/kinds.ts'
import { openRequests } from '../../src/core/market/registry.ts'
import { AllianceError } from '../../src/core/errors.ts'

const did = (n: number): Did => didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(n)).publicKey)
const provider = did(51)
const other = did(52)
const T = 1_750_000_000_000
const DAY = 86_400_000

function hotspot (over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'hotspot', title: 'Café Wi-Fi, 2nd floor', price: 3, round: { unit: 'seconds', size: 600 }, trial: 30, capacity: 5, geohash: 'u4pruydqq', expiresAt: T + DAY,
    policy: { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 10000 }], refund: 'none' }, nonce: 0, ...over
  }
}

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { expect(err).toBeInstanceOf(AllianceError); return (err as AllianceError).code }
  return undefined
}

function messageOf (fn: () => unknown): string {
  try { fn() } catch (err) { return (err as Error).message }
  return ''
}

function publish (offer: Record<string, unknown>): string | undefined {
  return codeOf(() => decodeMarketTx({ type: 'offer.publish', offer }))
}

function market (): { kv: MemoryKv, apply: (tx: unknown, issuer?: Did, time?: number) => MarketEffect } {
  const kv = new MemoryKv()
  return { kv, apply: (tx, issuer = provider, time = T) => applyMarketTx(kv, decodeMarketTx(tx), { issuer, time, ...DETACHED_PORTS }) }
}

describe('offer validation', () => {
  it('[M1] accepts a valid hotspot and relay offer and normalises nothing away', () => {
    const tx = { type: 'offer.publish', offer: hotspot() }
    expect(encode(decodeMarketTx(tx))).toEqual(encode(tx))
    const relay = hotspot({ kind: 'relay', round: { unit: 'bytes', size: 1 << 20 }, trial: 65536 })
    delete relay.geohash
    expect(publish(relay)).toBeUndefined()
  })

  it('[M1] an unknown kind is ERR_OFFER_KIND and names the known ones', () => {
    expect(publish(hotspot({ kind: 'storage' }))).toBe(MarketRejection.OFFER_KIND)
    expect(messageOf(() => decodeMarketTx({ type: 'offer.publish', offer: hotspot({ kind: 'storage' }) }))).toContain('hotspot, relay')
    expect(publish(hotspot({ kind: 7 }))).toBe(MarketRejection.OFFER_KIND)
  })

  it('[M1] more kinds plug in through the kind registry', () => {
    const kinds = defaultKinds.with({ name: 'storage', units: ['bytes'], requiresGeohash: false, minGeohashLength: 1, target: 'text' })
    const storage = hotspot({ kind: 'storage', round: { unit: 'bytes', size: 1000 }, trial: 10 })
    expect(validateOfferBody(storage, { kinds }).kind).toBe('storage')
    expect(() => defaultKinds.with({ name: 'hotspot', units: ['seconds'], requiresGeohash: false, minGeohashLength: 1, target: 'text' })).toThrow(RangeError)
    expect(() => defaultKinds.with({ name: 'Bad Name', units: ['seconds'], requiresGeohash: false, minGeohashLength: 1, target: 'text' })).toThrow(RangeError)
  })

  it('[M2] a zero, negative, fractional or huge price is ERR_OFFER_PRICE', () => {
    for (const price of [0, -5, 2.5, 1e10, '3', null]) expect(publish(hotspot({ price }))).toBe(MarketRejection.OFFER_PRICE)
    expect(messageOf(() => decodeMarketTx({ type: 'offer.publish', offer: hotspot({ price: -5 }) }))).toMatch(/positive whole number/)
  })

  it('[M2] title and capacity are bounded (ERR_OFFER_TITLE, ERR_OFFER_CAPACITY)', () => {
    for (const title of ['', '   ', 'x'.repeat(121), 'bell\u0007']) expect(publish(hotspot({ title }))).toBe(MarketRejection.OFFER_TITLE)
    for (const capacity of [0, -1, 1.5, 10001]) expect(publish(hotspot({ capacity }))).toBe(MarketRejection.OFFER_CAPACITY)
  })

  it('[M1] the round unit must suit the kind and the size be a positive integer (ERR_OFFER_ROUND)', () => {
    expect(publish(hotspot({ round: { unit: 'bytes', size: 600 } }))).toBe(MarketRejection.OFFER_ROUND)
    expect(publish(hotspot({ round: { unit: 'minutes', size: 10 } }))).toBe(MarketRejection.OFFER_ROUND)
    for (const size of [0, -1, 0.5, 2 ** 40]) expect(publish(hotspot({ round: { unit: 'seconds', size } }))).toBe(MarketRejection.OFFER_ROUND)
    expect(publish(hotspot({ round: { unit: 'seconds', size: 600, extra: 1 } }))).toBe(MarketRejection.OFFER_ROUND)
  })

  it('[M3] a trial longer than a round, or not positive, is ERR_OFFER_TRIAL', () => {
    expect(publish(hotspot({ trial: 601 }))).toBe(MarketRejection.OFFER_TRIAL)
    expect(messageOf(() => decodeMarketTx({ type: 'offer.publish', offer: hotspot({ trial: 601 }) }))).toBe('trial of 601 seconds is longer than a round of 600 seconds')
    for (const trial of [0, -30, 1.5]) expect(publish(hotspot({ trial }))).toBe(MarketRejection.OFFER_TRIAL)
    expect(publish(hotspot({ trial: 600 }))).toBeUndefined()
  })

  it('[M4] a bad geohash is ERR_OFFER_GEOHASH; a hotspot without one is ERR_OFFER_GEOHASH_REQUIRED', () => {
    for (const geohash of ['u4pra', 'U4PRU', 'u4pri', 'u4', 'u4pruydqqvjxx', '', 42]) expect(publish(hotspot({ geohash }))).toBe(MarketRejection.OFFER_GEOHASH)
    const noLoc = hotspot()
    delete noLoc.geohash
    expect(publish(noLoc)).toBe(MarketRejection.OFFER_GEOHASH_REQUIRED)
  })

  it('[M5] expiry must be after the block time and within 366 days (ERR_OFFER_EXPIRY)', () => {
    const { apply } = market()
    expect(codeOf(() => apply({ type: 'offer.publish', offer: hotspot({ expiresAt: T }) }))).toBe(MarketRejection.OFFER_EXPIRY)
    expect(codeOf(() => apply({ type: 'offer.publish', offer: hotspot({ expiresAt: T + MAX_OFFER_LIFETIME_MS + 1 }) }))).toBe(MarketRejection.OFFER_EXPIRY)
    expect(publish(hotspot({ expiresAt: -1 }))).toBe(MarketRejection.OFFER_EXPIRY)
    expect(codeOf(() => validateOfferBody(hotspot({ expiresAt: T - 1 }), { now: T }))).toBe(MarketRejection.OFFER_EXPIRY)
  })

  it('[M6] the rights policy is checked: shares not summing to 100 % are refused at publish', () => {
    const policy = { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 5000 }, { did: other, bps: 4000 }], refund: 'none' }
    expect(publish(hotspot({ policy }))).toBe(ContractRejection.POLICY_SHARES_SUM)
    expect(messageOf(() => decodeMarketTx({ type: 'offer.publish', offer: hotspot({ policy }) }))).toBe('shares sum to 9000 basis points (90 %), not 10000 (100 %)')
    expect(publish(hotspot({ policy: { ...policy, refund: 'maybe' } }))).toBe(ContractRejection.POLICY_SHARES_SUM)
  })

  it('[M8] unknown fields, bad nonces and unknown types are refused', () => {
    expect(publish(hotspot({ color: 'red' }))).toBe(MarketRejection.TX_SHAPE)
    expect(publish(hotspot({ nonce: -1 }))).toBe(MarketRejection.OFFER_NONCE)
    expect(codeOf(() => decodeMarketTx({ type: 'offer.publish', offer: hotspot(), extra: 1 }))).toBe(MarketRejection.TX_SHAPE)
    expect(codeOf(() => decodeMarketTx({ type: 'offer.delete', offer: 'x' }))).toBe(MarketRejection.TX_TYPE)
    expect(codeOf(() => decodeMarketTx(null))).toBe(MarketRejection.TX_TYPE)
    expect(MARKET_TX_TYPES).toEqual(['offer.publish', 'offer.update', 'offer.withdraw', 'request.publish', 'request.withdraw', 'session.settle', 'rate'])
  })

  it('[M8] decode throws only typed errors on arbitrary input (property)', () => {
    const types = fc.constantFrom(...MARKET_TX_TYPES, 'other')
    fc.assert(fc.property(types, fc.dictionary(fc.string({ maxLength: 10 }), fc.anything(), { maxKeys: 5 }), (type, fields) => {
      try { decodeMarketTx({ ...fields, type }) } catch (err) { expect(err).toBeInstanceOf(AllianceError) }
      try { decodeMarketTx({ type: 'offer.publish', offer: { ...hotspot(), ...fields } }) } catch (err) { expect(err).toBeInstanceOf(AllianceError) }
    }), { numRuns: 300 })
  })
})

describe('offer lifecycle', () => {
  it('[M7] publish stores a record under the id the provider can compute beforehand; a duplicate is refused', () => {
    const { kv, apply } = market()
    const e = apply({ type: 'offer.publish', offer: hotspot() }) as { offer: OfferRecord }
    const id = offerIdOf(provider, (decodeMarketTx({ type: 'offer.publish', offer: hotspot() }) as OfferPublishTx).offer)
    expect(e.offer.id).toBe(id)
    expect(readOffer(kv, id)).toMatchObject({ provider, rev: 0, withdrawn: false, publishedAt: T })
    expect(codeOf(() => apply({ type: 'offer.publish', offer: hotspot() }))).toBe(MarketRejection.OFFER_DUPLICATE)
    expect(apply({ type: 'offer.publish', offer: hotspot({ nonce: 1 }) })).toMatchObject({ offer: { rev: 0 } })
    // the same body from another provider is another offer
    expect(offerIdOf(other, e.offer.body)).not.toBe(id)
  })

  it('[M7] updates: provider only, re-validated, revision +1 with every revision\'s terms kept', () => {
    const { kv, apply } = market()
    const id = (apply({ type: 'offer.publish', offer: hotspot() }) as { offer: OfferRecord }).offer.id
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { price: 4 } }, other))).toBe(MarketRejection.OFFER_NOT_PROVIDER)
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { trial: 700 } }))).toBe(MarketRejection.OFFER_TRIAL)
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { price: 0 } }))).toBe(MarketRejection.OFFER_PRICE)
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: {} }))).toBe(MarketRejection.OFFER_EMPTY_UPDATE)
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { kind: 'relay' } }))).toBe(MarketRejection.TX_SHAPE)
    expect(codeOf(() => apply({ type: 'offer.update', offer: 'bafyreinope', patch: { price: 4 } }))).toBe(MarketRejection.OFFER_UNKNOWN)
    apply({ type: 'offer.update', offer: id, patch: { price: 4, trial: 60 } }, provider, T + 5)
    const r = readOffer(kv, id) as OfferRecord
    expect(r).toMatchObject({ rev: 1, updatedAt: T + 5, body: { price: 4, trial: 60, title: 'Café Wi-Fi, 2nd floor' } })
    expect(sessionTermsOf(r, 0)?.terms).toMatchObject({ price: 3, trial: 30, rev: 0 })
    expect(sessionTermsOf(r, 1)?.terms).toMatchObject({ price: 4, trial: 60, rev: 1, provider, unit: 'seconds', roundSize: 600 })
    expect(sessionTermsOf(r, 2)).toBeNull()
    expect(MAX_OFFER_REVISIONS).toBeGreaterThan(1)
  })

  it('[M7] withdraw: provider only, once; a withdrawn offer cannot be updated and is no longer active', () => {
    const { kv, apply } = market()
    const id = (apply({ type: 'offer.publish', offer: hotspot() }) as { offer: OfferRecord }).offer.id
    expect(isOfferActive(readOffer(kv, id) as OfferRecord, T)).toBe(true)
    expect(codeOf(() => apply({ type: 'offer.withdraw', offer: id }, other))).toBe(MarketRejection.OFFER_NOT_PROVIDER)
    apply({ type: 'offer.withdraw', offer: id })
    expect(isOfferActive(readOffer(kv, id) as OfferRecord, T)).toBe(false)
    expect(codeOf(() => apply({ type: 'offer.withdraw', offer: id }))).toBe(MarketRejection.OFFER_WITHDRAWN)
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { price: 9 } }))).toBe(MarketRejection.OFFER_WITHDRAWN)
  })

  it('[M7] a rejected transaction leaves the store unchanged', () => {
    const { kv, apply } = market()
    const id = (apply({ type: 'offer.publish', offer: hotspot() }) as { offer: OfferRecord }).offer.id
    const before = structuredClone(readOffer(kv, id))
    expect(codeOf(() => apply({ type: 'offer.update', offer: id, patch: { price: 4, trial: 9999 } }))).toBe(MarketRejection.OFFER_TRIAL)
    expect(readOffer(kv, id)).toEqual(before)
  })
})

describe('requests (bounties)', () => {
  const bounty = (over: Partial<Record<keyof BountyBody, unknown>> = {}): Record<string, unknown> => ({ kind: 'relay', target: other, maxCredits: 50, expiresAt: T + DAY, nonce: 0, title: 'relay to my laptop', ...over })

  it('[M11] a relay request targets a DID; bad fields have their own codes', () => {
    const { kv, apply } = market()
    const e = apply({ type: 'request.publish', request: bounty() }) as { request: { id: string } }
    expect(e.request.id).toBe(requestIdOf(provider, bounty() as unknown as BountyBody))
    expect(codeOf(() => apply({ type: 'request.publish', request: bounty() }))).toBe(MarketRejection.REQUEST_DUPLICATE)
    const req = (o: Record<string, unknown>): string | undefined => codeOf(() => decodeMarketTx({ type: 'request.publish', request: bounty(o) }))
    expect(req({ target: 'my laptop' })).toBe(MarketRejection.REQUEST_TARGET)
    expect(req({ kind: 'teleport' })).toBe(MarketRejection.REQUEST_KIND)
    for (const maxCredits of [0, -1, 1.5]) expect(req({ maxCredits })).toBe(MarketRejection.REQUEST_MAX_CREDITS)
    expect(req({ title: '' })).toBe(MarketRejection.REQUEST_TITLE)
    expect(req({ geohash: 'aaaa' })).toBe(MarketRejection.REQUEST_GEOHASH)
    expect(req({ nonce: 'x' })).toBe(MarketRejection.REQUEST_NONCE)
    expect(req({ kind: 'hotspot', target: 'near the station' })).toBeUndefined()
    expect(codeOf(() => apply({ type: 'request.publish', request: bounty({ expiresAt: T - 1, nonce: 2 }) }))).toBe(MarketRejection.REQUEST_EXPIRY)
    expect(openRequests(kv, T).map((r) => r.id)).toEqual([e.request.id])
  })

  it('[M11] withdraw by the issuer only; withdrawn and expired requests are not open', () => {
    const { kv, apply } = market()
    const a = (apply({ type: 'request.publish', request: bounty() }) as { request: { id: string } }).request.id
    const b = (apply({ type: 'request.publish', request: bounty({ nonce: 1, kind: 'hotspot', target: 'station', expiresAt: T + 10 }) }, provider, T + 1) as { request: { id: string } }).request.id
    expect(openRequests(kv, T + 2).map((r) => r.id)).toEqual([b, a])
    expect(openRequests(kv, T + 2, 'relay').map((r) => r.id)).toEqual([a])
    expect(openRequests(kv, T + 10).map((r) => r.id)).toEqual([a])
    expect(codeOf(() => apply({ type: 'request.withdraw', request: a }, other))).toBe(MarketRejection.REQUEST_NOT_ISSUER)
    expect(codeOf(() => apply({ type: 'request.withdraw', request: 'bafyreinope' }))).toBe(MarketRejection.REQUEST_UNKNOWN)
    apply({ type: 'request.withdraw', request: a })
    expect(codeOf(() => apply({ type: 'request.withdraw', request: a }))).toBe(MarketRejection.REQUEST_WITHDRAWN)
    expect(openRequests(kv, T + 2).map((r) => r.id)).toEqual([b])
  })
})

describe('errors', () => {
  it('[M8] market errors are named classes with stable codes', () => {
    try {
      decodeMarketTx({ type: 'offer.publish', offer: hotspot({ price: 0 }) })
      expect.fail('should throw')
    } catch (err) {
      expect(err).toBeInstanceOf(MarketError)
      expect((err as MarketError).name).toBe('MarketError')
      expect((err as MarketError).code).toBe('ERR_OFFER_PRICE')
    }
  })
})
