// The RTCPeerConnection budget of a tab (src/net/rtc-budget.ts).
import { describe, expect, it } from 'vitest'
import { RtcBudget, RtcBudgetSpentError, isTooManyPeerConnections } from '../../src/net/rtc-budget.ts'

describe('RtcBudget', () => {
  it('[N2] spends up to its limit, then refuses with ERR_RTC_BUDGET_SPENT', () => {
    const seen: boolean[] = []
    const b = new RtcBudget({ limit: 2, onChange: s => { seen.push(s.spent) } })
    b.spend()
    b.spend()
    expect(b.state()).toEqual({ used: 2, limit: 2, spent: true })
    expect(() => { b.spend() }).toThrow(RtcBudgetSpentError)
    try { b.spend() } catch (err) { expect((err as RtcBudgetSpentError).code).toBe('ERR_RTC_BUDGET_SPENT') }
    expect(seen).toEqual([false, true])
  })

  it('[N2] counts what earlier sessions of the tab spent', () => {
    const b = new RtcBudget({ limit: 400, used: 399 })
    b.spend()
    expect(b.state().spent).toBe(true)
  })

  it('[N2] is spent once the browser refused, whatever the count', () => {
    const b = new RtcBudget({ limit: 400 })
    const err = new DOMException('Cannot create so many PeerConnections', 'UnknownError')
    expect(isTooManyPeerConnections(err)).toBe(true)
    expect(isTooManyPeerConnections(new Error('ICE failed'))).toBe(false)
    b.markRefused()
    expect(b.state()).toEqual({ used: 0, limit: 400, spent: true })
  })

  it('rejects nonsense limits', () => {
    expect(() => new RtcBudget({ limit: -1 })).toThrow(RangeError)
    expect(() => new RtcBudget({ used: 1.5 })).toThrow(RangeError)
  })
})
