/**
 * Geohash encode/decode (base32 alphabet of geohash.org) and great-circle distance. Used to
 * place hotspot offers and to order the registry by distance; all pure and deterministic.
 */

export const GEOHASH_ALPHABET = '0123456789bcdefghjkmnpqrstuvwxyz'
export const MAX_GEOHASH_LENGTH = 12
/** Mean Earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8

const DECODE = new Map<string, number>([...GEOHASH_ALPHABET].map((c, i) => [c, i]))

export function isGeohash (value: unknown, minLength = 1, maxLength = MAX_GEOHASH_LENGTH): value is string {
  if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) return false
  for (const c of value) if (!DECODE.has(c)) return false
  return true
}

export function encodeGeohash (lat: number, lon: number, precision = 9): string {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw new RangeError(`latitude ${lat} is outside -90..90`)
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw new RangeError(`longitude ${lon} is outside -180..180`)
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_GEOHASH_LENGTH) throw new RangeError(`precision must be 1..${MAX_GEOHASH_LENGTH}`)
  let latLo = -90; let latHi = 90; let lonLo = -180; let lonHi = 180
  let out = ''
  let bit = 0; let ch = 0; let even = true
  while (out.length < precision) {
    if (even) {
      const mid = (lonLo + lonHi) / 2
      if (lon >= mid) { ch = (ch << 1) | 1; lonLo = mid } else { ch <<= 1; lonHi = mid }
    } else {
      const mid = (latLo + latHi) / 2
      if (lat >= mid) { ch = (ch << 1) | 1; latLo = mid } else { ch <<= 1; latHi = mid }
    }
    even = !even
    if (++bit === 5) { out += GEOHASH_ALPHABET[ch]; bit = 0; ch = 0 }
  }
  return out
}

export interface GeoCell {
  /** Centre of the cell. */
  readonly lat: number
  readonly lon: number
  /** Half-height and half-width of the cell, degrees. */
  readonly latError: number
  readonly lonError: number
}

export function decodeGeohash (hash: string): GeoCell {
  if (!isGeohash(hash)) throw new RangeError(`not a geohash: ${String(hash).slice(0, 20)}`)
  let latLo = -90; let latHi = 90; let lonLo = -180; let lonHi = 180
  let even = true
  for (const c of hash) {
    const v = DECODE.get(c) as number
    for (let b = 4; b >= 0; b--) {
      const on = ((v >> b) & 1) === 1
      if (even) {
        const mid = (lonLo + lonHi) / 2
        if (on) lonLo = mid; else lonHi = mid
      } else {
        const mid = (latLo + latHi) / 2
        if (on) latLo = mid; else latHi = mid
      }
      even = !even
    }
  }
  return { lat: (latLo + latHi) / 2, lon: (lonLo + lonHi) / 2, latError: (latHi - latLo) / 2, lonError: (lonHi - lonLo) / 2 }
}

const RAD = Math.PI / 180

/** Great-circle distance in metres (haversine on a sphere of the mean Earth radius). */
export function haversineMeters (lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD
  const dLon = (lon2 - lon1) * RAD
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)))
}

/** Distance in metres between the centres of two geohash cells. */
export function geohashDistanceMeters (a: string, b: string): number {
  const p = decodeGeohash(a)
  const q = decodeGeohash(b)
  return haversineMeters(p.lat, p.lon, q.lat, q.lon)
}
