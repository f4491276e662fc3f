// StopListeners: what both session sides use to tell their owners that a session stopped.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { StopListeners } from '../../src/net/stop-listeners.ts'

describe('StopListeners', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('runs each listener once at the stop, and one added after the stop at once', () => {
    let stopped = false
    const l = new StopListeners(() => stopped)
    const calls: string[] = []
    l.add(() => calls.push('a'))
    const removeB = l.add(() => calls.push('b'))
    removeB()
    stopped = true
    l.fire()
    l.fire()
    l.add(() => calls.push('late'))
    expect(calls).toEqual(['a', 'late'])
  })

  it('a listener that throws is reported and the others still run', () => {
    const report = vi.spyOn(console, 'error').mockImplementation(() => {})
    const l = new StopListeners(() => false)
    const calls: string[] = []
    l.add(() => { throw new Error('boom') })
    l.add(() => calls.push('after'))
    l.fire()
    expect(calls).toEqual(['after'])
    expect(report).toHaveBeenCalledOnce()
  })
})
