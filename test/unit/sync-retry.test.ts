// When a failed sync is tried again (SPEC S13): after 1, 2, 4, 8 s, then left to the periodic
// sync; a success resets the count; one timer per peer.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SyncRetry } from '../../src/peer/sync-retry.ts'

describe('sync retry', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('[S13] retries after 1, 2, 4 and 8 s, then gives up; a success starts over', () => {
    const r = new SyncRetry()
    const runs: number[] = []
    const fail = (): boolean => r.failed('p', () => { runs.push(Date.now()) })
    const t0 = Date.now()
    for (const delay of [1000, 2000, 4000, 8000]) {
      expect(fail()).toBe(true)
      vi.advanceTimersByTime(delay - 1)
      expect(runs.length).toBe([1000, 2000, 4000, 8000].indexOf(delay))
      vi.advanceTimersByTime(1)
    }
    expect(runs.length).toBe(4)
    expect(runs[0] - t0).toBe(1000)
    expect(fail()).toBe(false)
    vi.advanceTimersByTime(60_000)
    expect(runs.length).toBe(4)
    r.succeeded('p')
    expect(fail()).toBe(true)
    vi.advanceTimersByTime(1000)
    expect(runs.length).toBe(5)
  })

  it('[S13] one pending retry per peer; peers are independent; clear cancels', () => {
    const r = new SyncRetry()
    let a = 0
    let b = 0
    expect(r.failed('a', () => { a++ })).toBe(true)
    expect(r.failed('a', () => { a++ })).toBe(false)
    expect(r.failed('b', () => { b++ })).toBe(true)
    vi.advanceTimersByTime(5000)
    expect([a, b]).toEqual([1, 1])
    r.failed('a', () => { a++ })
    r.clear()
    vi.advanceTimersByTime(60_000)
    expect(a).toBe(1)
  })
})
