// Confirmation terms before paying, and distances/bearings for hotspots near me.
import { describe, expect, it } from 'vitest'
import { buyTerms, publishTerms, bearingDegrees, compass, whereIs, parsePosition, formatDistance, formatAge } from '../../src/peer/terms.ts'
import { encodeGeohash } from '../../src/core/market/geohash.ts'

describe('confirmation terms', () => {
  it('[U8] a purchase totals rounds × price, caps each round at the price, and says what comes back', () => {
    const t = buyTerms({ price: 5 }, 3, 100)
    expect(t).toMatchObject({ total: 15, perRoundCap: 5, deposit: null, balanceAfter: 85, affordable: true })
    expect(t.returns).toContain('never pay for a round')
    expect(buyTerms({ price: 5 }, 30, 100).affordable).toBe(false)
    expect(buyTerms({ price: 5 }, 3, 100, 15).returns).toContain('15-credit deposit')
    expect(() => buyTerms({ price: 5 }, 0, 100)).toThrow(RangeError)
    expect(publishTerms(0)).toEqual({ cost: 0, expiresAt: 30 * 86_400_000, days: 30 })
  })
})

describe('where offers are', () => {
  it('[U9] bearing and distance to a geohash; typed positions', () => {
    expect(Math.round(bearingDegrees(0, 0, 1, 0))).toBe(0)
    expect(Math.round(bearingDegrees(0, 0, 0, 1))).toBe(90)
    expect(compass(181)).toBe('S')
    expect(compass(350)).toBe('N')
    const here = { lat: 39.9, lon: 116.4 }
    const near = whereIs(here, encodeGeohash(39.905, 116.4, 9))
    expect(near?.distanceMeters).toBeGreaterThan(400)
    expect(near?.distanceMeters).toBeLessThan(700)
    expect(compass(near?.bearing ?? -1)).toBe('N')
    expect(whereIs(null, 'wx4g')).toBeNull()
    expect(parsePosition('39.9, 116.4')).toEqual({ lat: 39.9, lon: 116.4 })
    expect(parsePosition('95, 0')).toBeNull()
    expect(parsePosition('wx4g0bm6')?.lat).toBeCloseTo(39.9, 0)
    expect(parsePosition('hello')).toBeNull()
    expect(formatDistance(512)).toBe('512 m')
    expect(formatDistance(7_184_000)).toBe('7184 km')
    expect(formatAge(90_000)).toBe('1 min ago')
  })
})
