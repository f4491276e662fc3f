/**
 * What a confirmation dialog says before money moves (issue 11: confirm before paying), pure:
 * for a purchase, the total for the rounds bought (rounds × price), the per-round cap, what a
 * deposit locks and what comes back; for an offer, what publishing costs and when it expires;
 * and distances and bearings for "hotspots near me".
 */
import { decodeGeohash, haversineMeters } from '../core/market/geohash.ts'

export interface BuyTerms {
  readonly rounds: number
  readonly price: number
  /** Most this purchase can cost: rounds × price. */
  readonly total: number
  /** The provider can never take more than this per round (SPEC V5). */
  readonly perRoundCap: number
  /** Credits locked up front in the session's deposit (rounds × price, V11); null when none. */
  readonly deposit: number | null
  /** What comes back: the deposit less what was used, or nothing owed for unserved rounds. */
  readonly returns: string
  readonly balanceAfter: number
  readonly affordable: boolean
}

export function buyTerms (offer: { price: number }, rounds: number, balance: number, deposit: number | null = null): BuyTerms {
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be a whole number of at least 1')
  const total = rounds * offer.price
  return {
    rounds,
    price: offer.price,
    total,
    perRoundCap: offer.price,
    deposit,
    returns: deposit != null
      ? `Unused credits of the ${deposit}-credit deposit come back when the session ends.`
      : 'Nothing is locked: you sign for each round only once it has begun, so you never pay for a round you did not get.',
    balanceAfter: balance - total,
    affordable: total <= balance
  }
}

export interface PublishTerms {
  /** Credits publishing costs: none (a block's proof-of-work only). */
  readonly cost: number
  readonly expiresAt: number
  readonly days: number
}

export function publishTerms (now: number, expiresAt?: number): PublishTerms {
  const at = expiresAt ?? now + 30 * 86_400_000
  return { cost: 0, expiresAt: at, days: Math.round((at - now) / 86_400_000) }
}

/** Initial bearing in degrees (0 = north, clockwise) from point a to point b. */
export function bearingDegrees (lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = Math.PI / 180
  const y = Math.sin((lon2 - lon1) * r) * Math.cos(lat2 * r)
  const x = Math.cos(lat1 * r) * Math.sin(lat2 * r) - Math.sin(lat1 * r) * Math.cos(lat2 * r) * Math.cos((lon2 - lon1) * r)
  return (Math.atan2(y, x) / r + 360) % 360
}

const COMPASS = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'] as const
export function compass (deg: number): string { return COMPASS[Math.round(deg / 45) % 8] }

export interface Where { readonly distanceMeters: number, readonly bearing: number }

/** Distance and bearing from a position to a geohash's cell centre; null without a location. */
export function whereIs (from: { lat: number, lon: number } | null, geohash: string | null): Where | null {
  if (from == null || geohash == null) return null
  const c = decodeGeohash(geohash)
  return { distanceMeters: haversineMeters(from.lat, from.lon, c.lat, c.lon), bearing: bearingDegrees(from.lat, from.lon, c.lat, c.lon) }
}

export function formatDistance (m: number): string {
  return m >= 10_000 ? `${Math.round(m / 1000)} km` : m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAge (ms: number): string {
  if (ms < 60_000) return 'just now'
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`
  const d = Math.floor(ms / 86_400_000)
  return `${d} day${d === 1 ? '' : 's'} ago`
}

/** A position typed by hand: "lat, lon" in degrees, or a geohash. */
export function parsePosition (text: string): { lat: number, lon: number } | null {
  const t = text.trim()
  const m = /^(-?\d+(?:\.\d+)?)\s*[,; ]\s*(-?\d+(?:\.\d+)?)$/.exec(t)
  if (m != null) {
    const lat = Number(m[1]); const lon = Number(m[2])
    return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null
  }
  if (/^[0123456789bcdefghjkmnpqrstuvwxyz]{2,12}$/.test(t)) {
    const c = decodeGeohash(t)
    return { lat: c.lat, lon: c.lon }
  }
  return null
}
