// The garbage detector shared by our protocols (src/net/misbehaviour.ts), driven by a fake clock.
import { describe, expect, it } from 'vitest'
import { MisbehaviourTracker } from '../../src/net/misbehaviour.ts'

function tracker (opts: { threshold?: number, windowMs?: number, denyMs?: number, maxTracked?: number } = {}) {
  let now = 1_000_000
  const t = new MisbehaviourTracker({ ...opts, now: () => now })
  return { t, advance: (ms: number) => { now += ms } }
}

describe('MisbehaviourTracker', () => {
  it('disconnects a peer on its 5th bad frame within a minute, exactly once', () => {
    const { t } = tracker()
    for (let i = 1; i <= 4; i++) expect(t.report('peerA', 'ERR_DECODE')).toEqual({ strikes: i, disconnect: false })
    expect(t.isDenied('peerA')).toBe(false)
    expect(t.report('peerA', 'ERR_DECODE')).toEqual({ strikes: 5, disconnect: true })
    expect(t.isDenied('peerA')).toBe(true)
    // further garbage while denied does not count as a second disconnection
    expect(t.report('peerA', 'ERR_DECODE').disconnect).toBe(false)
    expect(t.stats()).toEqual({ rejected: { ERR_DECODE: 6 }, disconnected: 1, denied: 1 })
  })

  it('forgets strikes older than the window', () => {
    const { t, advance } = tracker({ windowMs: 60_000 })
    for (let i = 0; i < 4; i++) t.report('peerA', 'ERR_BAD_SIGNATURE')
    advance(61_000)
    expect(t.report('peerA', 'ERR_BAD_SIGNATURE')).toEqual({ strikes: 1, disconnect: false })
  })

  it('keeps strikes per peer and counts rejections per code', () => {
    const { t } = tracker({ threshold: 3 })
    t.report('a', 'ERR_DECODE')
    t.report('b', 'ERR_FRAME_TOO_LARGE')
    t.report('a', 'ERR_DECRYPT')
    t.count('ERR_STALE')
    expect(t.report('b', 'ERR_DECODE').disconnect).toBe(false)
    expect(t.report('a', 'ERR_DECODE').disconnect).toBe(true)
    expect(t.stats().rejected).toEqual({ ERR_DECODE: 3, ERR_FRAME_TOO_LARGE: 1, ERR_DECRYPT: 1, ERR_STALE: 1 })
    expect(t.isDenied('a')).toBe(true)
    expect(t.isDenied('b')).toBe(false)
  })

  it('lifts the deny-list after denyMs', () => {
    const { t, advance } = tracker({ threshold: 1, denyMs: 30_000 })
    expect(t.report('a', 'ERR_DECODE').disconnect).toBe(true)
    advance(29_000)
    expect(t.isDenied('a')).toBe(true)
    advance(2_000)
    expect(t.isDenied('a')).toBe(false)
    expect(t.stats().denied).toBe(0)
  })

  it('bounds the number of tracked peers', () => {
    const { t } = tracker({ threshold: 2, maxTracked: 10 })
    t.report('first', 'ERR_DECODE')
    for (let i = 0; i < 20; i++) t.report(`p${i}`, 'ERR_DECODE')
    // the oldest entry was evicted, so its next strike starts over
    expect(t.report('first', 'ERR_DECODE')).toEqual({ strikes: 1, disconnect: false })
  })

  it('rejects nonsense thresholds', () => {
    expect(() => new MisbehaviourTracker({ threshold: 0 })).toThrow(RangeError)
    expect(() => new MisbehaviourTracker({ windowMs: 0 })).toThrow(RangeError)
  })
})
