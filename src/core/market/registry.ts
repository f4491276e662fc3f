/**
 * The local registry index (white paper 5.2: discovery): answers offer queries from the
 * applied ledger state — by kind, by distance from a geohash, by maximum price, by minimum
 * provider reputation — with withdrawn and expired offers left out (expiry against a `now`
 * parameter). Coordinates are decoded once per offer; a query is one pass over the offers of
 * the kind with a latitude-band prefilter, then a sort of the hits (≈ 1–3 ms for 10,000).
 */
import type { Did } from '../identity.ts'
import { MARKET_NS } from '../contracts/kv.ts'
import type { KvReader } from '../contracts/kv.ts'
import { reputationOf } from '../contracts/reputation.ts'
import { decodeGeohash, EARTH_RADIUS_M } from './geohash.ts'
import { isOfferActive } from './offer.ts'
import type { OfferRecord } from './offer.ts'
import { isBountyActive } from './bounty.ts'
import type { BountyRecord } from './bounty.ts'

export type OfferSort = 'distance' | 'price' | 'reputation'

export interface OfferQuery {
  readonly kind?: string
  /** Geohash of the searcher; enables distances. */
  readonly near?: string
  /** Only offers whose cell centre lies within this many metres of `near` (located offers only). */
  readonly radiusMeters?: number
  /** Price per round at most this. */
  readonly maxPrice?: number
  /** Provider reputation score (0..1) at least this. */
  readonly minReputation?: number
  readonly provider?: Did
  /** Default: 'distance' when `near` is given, else 'reputation'. */
  readonly sortBy?: OfferSort
  readonly limit?: number
}

export interface OfferQueryContext {
  /** ms; offers with expiresAt ≤ now are gone. */
  readonly now: number
  /** Provider reputation score; default 0.5 for everyone. */
  readonly reputation?: (did: Did) => number
}

export interface OfferHit {
  readonly offer: OfferRecord
  /** Metres between cell centres; null when there is no `near` or the offer has no location. */
  readonly distanceMeters: number | null
  readonly reputation: number
}

interface Entry {
  readonly record: OfferRecord
  readonly located: boolean
  readonly lat: number
  readonly latRad: number
  readonly lonRad: number
  readonly cosLat: number
}

const RAD = Math.PI / 180

function entryOf (record: OfferRecord): Entry {
  const gh = record.body.geohash
  if (gh === undefined) return { record, located: false, lat: 0, latRad: 0, lonRad: 0, cosLat: 1 }
  const c = decodeGeohash(gh)
  return { record, located: true, lat: c.lat, latRad: c.lat * RAD, lonRad: c.lon * RAD, cosLat: Math.cos(c.lat * RAD) }
}

function compareIds (a: OfferHit, b: OfferHit): number {
  return a.offer.id < b.offer.id ? -1 : a.offer.id > b.offer.id ? 1 : 0
}

function compareDistance (a: OfferHit, b: OfferHit): number {
  const x = a.distanceMeters ?? Number.POSITIVE_INFINITY
  const y = b.distanceMeters ?? Number.POSITIVE_INFINITY
  return x === y ? 0 : x < y ? -1 : 1
}

const ORDERS: Record<OfferSort, (a: OfferHit, b: OfferHit) => number> = {
  distance: (a, b) => compareDistance(a, b) || a.offer.body.price - b.offer.body.price || b.reputation - a.reputation || compareIds(a, b),
  price: (a, b) => a.offer.body.price - b.offer.body.price || compareDistance(a, b) || b.reputation - a.reputation || compareIds(a, b),
  reputation: (a, b) => b.reputation - a.reputation || a.offer.body.price - b.offer.body.price || compareDistance(a, b) || compareIds(a, b)
}

export class OfferIndex {
  readonly #entries = new Map<string, Entry>()
  #byKind: Map<string, Entry[]> | null = null
  #all: Entry[] | null = null

  /** Every offer record in a store (withdrawn ones are skipped). */
  static fromStore (kv: KvReader): OfferIndex {
    const index = new OfferIndex()
    for (const id of kv.keys(MARKET_NS.offer)) index.upsert(kv.get(MARKET_NS.offer, id) as OfferRecord)
    return index
  }

  get size (): number {
    return this.#entries.size
  }

  /** Adds or replaces an offer (after publish or update); a withdrawn one is removed. */
  upsert (record: OfferRecord): void {
    if (record.withdrawn) { this.remove(record.id); return }
    this.#entries.set(record.id, entryOf(record))
    this.#byKind = null
    this.#all = null
  }

  remove (id: string): void {
    if (this.#entries.delete(id)) { this.#byKind = null; this.#all = null }
  }

  get (id: string): OfferRecord | undefined {
    return this.#entries.get(id)?.record
  }

  #candidates (kind: string | undefined): readonly Entry[] {
    if (this.#all === null || this.#byKind === null) {
      this.#all = [...this.#entries.values()]
      this.#byKind = new Map()
      for (const e of this.#all) {
        const list = this.#byKind.get(e.record.body.kind)
        if (list === undefined) this.#byKind.set(e.record.body.kind, [e]); else list.push(e)
      }
    }
    return kind === undefined ? this.#all : this.#byKind.get(kind) ?? []
  }

  query (q: OfferQuery, ctx: OfferQueryContext): OfferHit[] {
    if (!Number.isFinite(ctx.now)) throw new RangeError('now must be a finite time in ms')
    if (q.radiusMeters !== undefined && (!(q.radiusMeters >= 0) || q.near === undefined)) throw new RangeError('radiusMeters must be ≥ 0 and needs near')
    if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) throw new RangeError('limit must be a non-negative integer')
    const center = q.near === undefined ? null : decodeGeohash(q.near)
    const lat0 = center === null ? 0 : center.lat * RAD
    const lon0 = center === null ? 0 : center.lon * RAD
    const cos0 = Math.cos(lat0)
    const radius = q.radiusMeters ?? Number.POSITIVE_INFINITY
    // any point within `radius` lies within this many degrees of latitude of the centre
    const latBand = radius / EARTH_RADIUS_M / RAD
    const repOf = ctx.reputation ?? (() => 0.5)
    const reps = new Map<Did, number>()
    const hits: OfferHit[] = []
    for (const e of this.#candidates(q.kind)) {
      const r = e.record
      if (!isOfferActive(r, ctx.now)) continue
      if (q.maxPrice !== undefined && r.body.price > q.maxPrice) continue
      if (q.provider !== undefined && r.provider !== q.provider) continue
      let distance: number | null = null
      if (center !== null) {
        if (e.located) {
          if (Math.abs(e.lat - center.lat) > latBand) continue
          const sLat = Math.sin((e.latRad - lat0) / 2)
          const sLon = Math.sin((e.lonRad - lon0) / 2)
          const a = sLat * sLat + cos0 * e.cosLat * sLon * sLon
          distance = 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)))
          if (distance > radius) continue
        } else if (q.radiusMeters !== undefined) {
          continue
        }
      }
      let rep = reps.get(r.provider)
      if (rep === undefined) { rep = repOf(r.provider); reps.set(r.provider, rep) }
      if (q.minReputation !== undefined && rep < q.minReputation) continue
      hits.push({ offer: r, distanceMeters: distance, reputation: rep })
    }
    hits.sort(ORDERS[q.sortBy ?? (center !== null ? 'distance' : 'reputation')])
    return q.limit === undefined ? hits : hits.slice(0, q.limit)
  }
}

/** Reputation scores from the store's facts, with equivocation counts from the ledger engine. */
export function reputationLookup (kv: KvReader, equivocationsOf: (did: Did) => number = () => 0): (did: Did) => number {
  return (did) => reputationOf(kv, did, equivocationsOf(did)).score
}

/** Requests (bounties) still open at `now`, newest first. */
export function openRequests (kv: KvReader, now: number, kind?: string): BountyRecord[] {
  const out: BountyRecord[] = []
  for (const id of kv.keys(MARKET_NS.request)) {
    const r = kv.get(MARKET_NS.request, id) as BountyRecord
    if (isBountyActive(r, now) && (kind === undefined || r.body.kind === kind)) out.push(r)
  }
  return out.sort((a, b) => b.publishedAt - a.publishedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
