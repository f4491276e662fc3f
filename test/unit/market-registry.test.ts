// Geohash, distance and the registry index (SPEC M9): known-answer vectors, distance ordering
// identical to a brute-force computation on seeded random data, filters, withdrawn and expired
// offers gone, and the query time with 10,000 offers.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { MemoryKv } from '../../src/core/contracts/kv.ts'
import { applyMarketTx, decodeMarketTx, DETACHED_PORTS } from '../../src/core/market/apply.ts'
import type { OfferRecord } from '../../src/core/market/offer.ts'
import type { OfferId } from '../../src/core/session/terms.ts'
import { decodeGeohash, encodeGeohash, geohashDistanceMeters, haversineMeters, isGeohash, GEOHASH_ALPHABET } from '../../src/core/market/geohash.ts'
import { OfferIndex, reputationLookup } from '../../src/core/market/registry.ts'
import type { OfferHit, OfferQuery } from '../../src/core/market/registry.ts'

const T = 1_750_000_000_000
const dids: Did[] = Array.from({ length: 40 }, (_, i) => didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(60 + i)).publicKey))

/** mulberry32, seeded; the seed is printed by the tests that use it so failures replay. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomRecords (n: number, rnd: () => number, region: { lat: number, lon: number, span: number } = { lat: 48.1, lon: 11.5, span: 2 }): OfferRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const hotspot = rnd() < 0.8
    const lat = Math.max(-90, Math.min(90, region.lat + (rnd() - 0.5) * region.span))
    const lon = Math.max(-180, Math.min(180, region.lon + (rnd() - 0.5) * region.span * 1.5))
    const body = {
      kind: hotspot ? 'hotspot' : 'relay',
      title: `offer ${i}`,
      price: 1 + Math.floor(rnd() * 20),
      round: hotspot ? { unit: 'seconds' as const, size: 600 } : { unit: 'bytes' as const, size: 1 << 20 },
      trial: 30,
      capacity: 3,
      expiresAt: T + Math.floor((rnd() - 0.1) * 1_000_000),
      policy: { mayBuy: { anyone: true as const }, shares: [{ did: dids[i % dids.length], bps: 10000 }], refund: 'none' as const },
      nonce: i,
      ...(hotspot || rnd() < 0.5 ? { geohash: encodeGeohash(lat, lon, 5 + Math.floor(rnd() * 5)) } : {})
    }
    return { id: `offer-${String(i).padStart(6, '0')}` as OfferId, provider: dids[i % dids.length], rev: 0, body, terms: [], publishedAt: T, updatedAt: T, withdrawn: rnd() < 0.05 }
  })
}

/** The query semantics written out naively, for comparison. */
function bruteForce (records: OfferRecord[], q: OfferQuery, now: number, rep: (d: Did) => number): string[] {
  const hits: OfferHit[] = []
  for (const r of records) {
    if (r.withdrawn || r.body.expiresAt <= now) continue
    if (q.kind !== undefined && r.body.kind !== q.kind) continue
    if (q.maxPrice !== undefined && r.body.price > q.maxPrice) continue
    if (q.minReputation !== undefined && rep(r.provider) < q.minReputation) continue
    const d = q.near !== undefined && r.body.geohash !== undefined ? geohashDistanceMeters(q.near, r.body.geohash) : null
    if (q.radiusMeters !== undefined && (d === null || d > q.radiusMeters)) continue
    hits.push({ offer: r, distanceMeters: d, reputation: rep(r.provider) })
  }
  const dist = (h: OfferHit): number => h.distanceMeters ?? Infinity
  hits.sort((a, b) => (dist(a) - dist(b)) || (a.offer.body.price - b.offer.body.price) || (b.reputation - a.reputation) || (a.offer.id < b.offer.id ? -1 : 1))
  return hits.map((h) => h.offer.id)
}

describe('geohash', () => {
  it('[M4] matches known vectors', () => {
    expect(encodeGeohash(57.64911, 10.40744, 11)).toBe('u4pruydqqvj')
    expect(encodeGeohash(42.605, -5.603, 5)).toBe('ezs42')
    const c = decodeGeohash('ezs42')
    expect(c.lat).toBeCloseTo(42.6050, 3)
    expect(c.lon).toBeCloseTo(-5.6030, 3)
    expect(c.latError).toBeCloseTo(0.02197, 4)
    expect(encodeGeohash(0, 0, 1)).toBe('s')
    expect(encodeGeohash(-90, -180, 3)).toBe('000')
    expect(encodeGeohash(90, 180, 3)).toBe('zzz')
  })

  it('[M4] validates the alphabet and length and refuses bad coordinates', () => {
    expect(GEOHASH_ALPHABET).toHaveLength(32)
    expect(isGeohash('u4pruydqqvj')).toBe(true)
    for (const bad of ['', 'a', 'u4pruydqqvjxx', 'U4', 'u4i', 'u4l', 'u4o', 5, null]) expect(isGeohash(bad)).toBe(false)
    expect(() => encodeGeohash(91, 0)).toThrow(RangeError)
    expect(() => encodeGeohash(0, 181)).toThrow(RangeError)
    expect(() => encodeGeohash(0, 0, 13)).toThrow(RangeError)
    expect(() => decodeGeohash('abc')).toThrow(RangeError)
  })

  it('[M4] a decoded cell contains the encoded point (property)', () => {
    fc.assert(fc.property(fc.double({ min: -90, max: 90, noNaN: true }), fc.double({ min: -180, max: 180, noNaN: true }), fc.integer({ min: 1, max: 12 }), (lat, lon, p) => {
      const c = decodeGeohash(encodeGeohash(lat, lon, p))
      expect(Math.abs(c.lat - lat)).toBeLessThanOrEqual(c.latError + 1e-9)
      expect(Math.abs(c.lon - lon)).toBeLessThanOrEqual(c.lonError + 1e-9)
    }), { numRuns: 500 })
  })

  it('[M9] haversine gives known great-circle distances', () => {
    expect(haversineMeters(48.8566, 2.3522, 51.5074, -0.1278) / 1000).toBeCloseTo(343.5, 0) // Paris–London
    expect(haversineMeters(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6_371_008.8, 3)
    expect(haversineMeters(10, 10, 10, 10)).toBe(0)
  })
})

describe('registry index', () => {
  it('[M9] distance order, radius and filters equal a brute-force computation on random data', () => {
    const seed = 0x5eed0001
    const rnd = prng(seed)
    const records = randomRecords(1500, rnd)
    const index = new OfferIndex()
    for (const r of records) index.upsert(r)
    const rep = (d: Did): number => (dids.indexOf(d) % 10) / 10
    for (let i = 0; i < 40; i++) {
      const near = encodeGeohash(48.1 + (rnd() - 0.5) * 2, 11.5 + (rnd() - 0.5) * 3, 7)
      const q: OfferQuery = {
        near,
        ...(rnd() < 0.5 ? { kind: rnd() < 0.7 ? 'hotspot' : 'relay' } : {}),
        ...(rnd() < 0.5 ? { radiusMeters: rnd() * 60_000 } : {}),
        ...(rnd() < 0.4 ? { maxPrice: 1 + Math.floor(rnd() * 20) } : {}),
        ...(rnd() < 0.4 ? { minReputation: rnd() } : {})
      }
      const now = T + Math.floor(rnd() * 800_000)
      const got = index.query(q, { now, reputation: rep })
      expect(got.map((h) => h.offer.id), `seed ${seed} query ${i} ${JSON.stringify(q)}`).toEqual(bruteForce(records, q, now, rep))
      for (let k = 1; k < got.length; k++) {
        expect(got[k].distanceMeters ?? Infinity).toBeGreaterThanOrEqual(got[k - 1].distanceMeters ?? Infinity)
      }
    }
  })

  it('[M9] withdrawn and expired offers are gone; updates and withdrawals through the ledger show up', () => {
    const kv = new MemoryKv()
    const provider = dids[0]
    const apply = (tx: unknown, time = T): unknown => applyMarketTx(kv, decodeMarketTx(tx), { issuer: provider, time, ...DETACHED_PORTS })
    const offer = (nonce: number, expiresAt: number, geohash: string): unknown => ({
      type: 'offer.publish',
      offer: { kind: 'hotspot', title: `h${nonce}`, price: 2 + nonce, round: { unit: 'seconds', size: 600 }, trial: 60, capacity: 1, geohash, expiresAt, policy: { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 10000 }], refund: 'none' }, nonce }
    })
    const ids = [
      (apply(offer(0, T + 1000, 'u281z7j5')) as { offer: OfferRecord }).offer.id,
      (apply(offer(1, T + 100, 'u281z7j6')) as { offer: OfferRecord }).offer.id,
      (apply(offer(2, T + 1000, 'u281zk00')) as { offer: OfferRecord }).offer.id
    ]
    apply({ type: 'offer.withdraw', offer: ids[2] })
    const index = OfferIndex.fromStore(kv)
    expect(index.size).toBe(2)
    expect(index.query({ near: 'u281z7j5' }, { now: T }).map((h) => h.offer.id)).toEqual([ids[0], ids[1]])
    expect(index.query({ near: 'u281z7j5' }, { now: T + 100 }).map((h) => h.offer.id)).toEqual([ids[0]])
    expect(index.query({}, { now: T + 1000 })).toEqual([])
    // an update moves the offer; upsert reflects it
    const moved = apply({ type: 'offer.update', offer: ids[1], patch: { geohash: 'u281z7j5', expiresAt: T + 5000 } }, T + 1) as { offer: OfferRecord }
    index.upsert(moved.offer)
    expect(index.query({ near: 'u281z7j5', sortBy: 'distance' }, { now: T + 200 }).map((h) => [h.offer.id, h.distanceMeters])).toEqual([[ids[0], 0], [ids[1], 0]])
    index.remove(ids[0])
    expect(index.get(ids[0])).toBeUndefined()
    expect(index.query({}, { now: T + 200 }).map((h) => h.offer.id)).toEqual([ids[1]])
  })

  it('[M9] sorts by price or reputation on request, limits, and filters by provider', () => {
    const records = randomRecords(300, prng(7)).map((r) => ({ ...r, withdrawn: false, body: { ...r.body, expiresAt: T + 10_000_000 } }))
    const index = new OfferIndex()
    records.forEach((r) => index.upsert(r))
    const rep = (d: Did): number => dids.indexOf(d) / dids.length
    const byPrice = index.query({ sortBy: 'price', limit: 50 }, { now: T, reputation: rep })
    expect(byPrice).toHaveLength(50)
    for (let k = 1; k < byPrice.length; k++) expect(byPrice[k].offer.body.price).toBeGreaterThanOrEqual(byPrice[k - 1].offer.body.price)
    const byRep = index.query({}, { now: T, reputation: rep })
    expect(byRep).toHaveLength(300)
    for (let k = 1; k < byRep.length; k++) expect(byRep[k].reputation).toBeLessThanOrEqual(byRep[k - 1].reputation)
    expect(index.query({ provider: dids[3] }, { now: T }).every((h) => h.offer.provider === dids[3])).toBe(true)
    expect(index.query({ near: 'u281z', radiusMeters: 1e7, kind: 'relay' }, { now: T }).every((h) => h.offer.body.geohash !== undefined)).toBe(true)
    expect(() => index.query({ radiusMeters: 10 }, { now: T })).toThrow(RangeError)
    expect(() => index.query({ near: 'aaa' }, { now: T })).toThrow(RangeError)
  })

  it('[R2] the default reputation lookup reads the ledger facts', () => {
    const kv = new MemoryKv()
    kv.set('market.rep', dids[1], { settled: 4, completed: 4, ratings: 0, ratingSum: 0, unpaid: 0, unpaidCredits: 0 })
    const lookup = reputationLookup(kv, (d) => (d === dids[2] ? 1 : 0))
    expect(lookup(dids[1])).toBeCloseTo(5 / 6, 10)
    expect(lookup(dids[2])).toBe(0.25)
    expect(lookup(dids[3])).toBe(0.5)
  })

  it('[M9] answers a query over 10,000 offers in a few milliseconds', () => {
    const records = randomRecords(10_000, prng(42), { lat: 48.1, lon: 11.5, span: 4 })
    const t0 = performance.now()
    const index = new OfferIndex()
    for (const r of records) index.upsert(r)
    index.query({}, { now: T }) // builds the per-kind lists
    const build = performance.now() - t0
    const rep = (d: Did): number => (dids.indexOf(d) % 10) / 10
    const rnd = prng(43)
    const times: number[] = []
    let hits = 0
    for (let i = 0; i < 200; i++) {
      const near = encodeGeohash(48.1 + (rnd() - 0.5) * 4, 11.5 + (rnd() - 0.5) * 6, 7)
      const s = performance.now()
      hits += index.query({ kind: 'hotspot', near, maxPrice: 15, minReputation: 0.2, limit: 50 }, { now: T, reputation: rep }).length
      times.push(performance.now() - s)
    }
    times.sort((a, b) => a - b)
    const median = times[times.length >> 1]
    const p95 = times[Math.floor(times.length * 0.95)]
    console.log(JSON.stringify({ bench: 'registry', offers: 10_000, buildMs: +build.toFixed(2), queryMedianMs: +median.toFixed(3), queryP95Ms: +p95.toFixed(3) }))
    expect(hits).toBeGreaterThan(0)
    expect(median).toBeLessThan(25)
  })
})
