// The session state machines of white paper 5.6.1 (SPEC F1–F7, V10): both sides driven through
// a simulated link in one process. The central property: whatever the payer does, the
// provider never delivers more than one trial slice beyond what accepted vouchers pay for.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import type { SignedVoucher } from '../../src/core/session/voucher.ts'
import { signSessionRequest, sessionIdOf } from '../../src/core/session/request.ts'
import {
  createPayerMachine, createProviderMachine
} from '../../src/core/session/machine.ts'
import type { PayerAction, ProviderAction, ProviderState, PayerState, StopReason } from '../../src/core/session/machine.ts'
import { SessionRejection, VoucherRejection } from '../../src/core/session/errors.ts'
import type { OfferId, SessionTerms } from '../../src/core/session/terms.ts'

function party (n: number): { seed: Uint8Array, did: Did } {
  const seed = new Uint8Array(32).fill(n)
  return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) }
}
const payer = party(11)
const provider = party(12)
const OFFER = 'bafyreisessionoffer' as OfferId
const T = 1_700_000_000_000

function termsOf (over: Partial<SessionTerms> = {}): SessionTerms {
  return { offer: OFFER, rev: 0, provider: provider.did, price: 5, unit: 'bytes', roundSize: 1000, trial: 100, refund: 'none', ...over }
}
const SESSION = sessionIdOf(signSessionRequest(payer.seed, { v: 1, offer: OFFER, rev: 0, provider: provider.did, payer: payer.did, nonce: 1, time: T }))

function sign (a: PayerAction): SignedVoucher {
  if (a.type !== 'signVoucher') throw new Error('not a sign action')
  return signVoucher(payer.seed, a.voucher)
}

function of<T extends { type: string }, K extends T['type']> (actions: readonly T[], type: K): Array<Extract<T, { type: K }>> {
  return actions.filter((a): a is Extract<T, { type: K }> => a.type === type)
}

interface SimOptions {
  readonly terms: SessionTerms
  readonly maxRounds?: number
  /** Rounds the payer signs for; after that it goes silent (undefined: it always signs). */
  readonly signsRounds?: number
  /** Units the provider delivers between a voucher being signed and it arriving. */
  readonly latency: (round: number) => number
  /** Size of each delivery chunk. */
  readonly chunk: () => number
  readonly settleEvery?: number
}

interface SimResult {
  readonly provider: ProviderState
  readonly payer: PayerState
  readonly settles: Array<Extract<ProviderAction, { type: 'settle' }>>
  readonly signed: number
  readonly reason: StopReason | null
  readonly maxOwedUnits: number
}

/** One provider and one payer over an in-memory link; checks S4 after every event. */
function simulate (o: SimOptions): SimResult {
  const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: o.terms, maxRounds: o.maxRounds, settleEvery: o.settleEvery })
  const um = createPayerMachine({ session: SESSION, payer: payer.did, terms: o.terms, maxRounds: o.maxRounds })
  const inFlight: Array<{ voucher: SignedVoucher, dueAt: number }> = []
  const settles: SimResult['settles'] = []
  let signed = 0
  let maxOwed = 0
  let at = T
  const check = (): void => {
    const s = pm.state
    const paid = s.cursor === null ? 0 : Math.min(s.cursor.round, o.maxRounds ?? Infinity)
    const owed = Math.max(0, s.delivered - paid * o.terms.roundSize)
    maxOwed = Math.max(maxOwed, owed)
    expect(owed).toBeLessThanOrEqual(o.terms.trial) // F4
    expect(s.delivered).toBeLessThanOrEqual(s.allowance)
  }
  const onProvider = (actions: readonly ProviderAction[]): void => { settles.push(...of(actions, 'settle')); check() }
  const onPayer = (actions: readonly PayerAction[]): void => {
    for (const a of of(actions, 'signVoucher')) {
      if (o.signsRounds !== undefined && a.voucher.round > o.signsRounds) continue
      signed++
      inFlight.push({ voucher: sign(a), dueAt: pm.state.delivered + o.latency(a.voucher.round) })
    }
  }
  const providerStopped = (): boolean => pm.state.phase === 'stopped'
  um.next({ type: 'start', at })
  onProvider(pm.next({ type: 'start', at }).actions)
  for (let guard = 0; guard < 100_000 && !providerStopped(); guard++) {
    at += 1
    const s = pm.state
    const due = inFlight.filter((f) => f.dueAt <= s.delivered || s.delivered >= s.allowance)
    if (due.length > 0) {
      for (const f of due) {
        inFlight.splice(inFlight.indexOf(f), 1)
        onProvider(pm.next({ type: 'voucherReceived', voucher: f.voucher, at }).actions)
      }
      continue
    }
    const room = s.allowance - s.delivered
    if (room <= 0) throw new Error(`provider waits forever in phase ${s.phase}`)
    const nextDue = Math.min(...inFlight.map((f) => f.dueAt - s.delivered), room)
    // a stream shows the payer the first unit of a round as soon as it arrives
    const toFirstUnitOfNextRound = Math.ceil(s.delivered / o.terms.roundSize) * o.terms.roundSize + 1 - s.delivered
    const n = Math.max(1, Math.min(o.chunk(), nextDue, toFirstUnitOfNextRound))
    onProvider(pm.next({ type: 'unitsUsed', n, at }).actions)
    if (um.state.phase !== 'stopped') {
      const r = um.next({ type: 'unitsUsed', n, at })
      onPayer(r.actions)
      if (r.state.phase === 'stopped' && !providerStopped()) onProvider(pm.next({ type: 'stop', by: 'payer', at }).actions)
    }
  }
  return { provider: pm.state, payer: um.state, settles, signed, reason: pm.state.stopReason, maxOwedUnits: maxOwed }
}

describe('provider machine', () => {
  it('[F2] serves at once: start permits the trial slice of round 1 and arms its timer', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    const { state, actions } = pm.next({ type: 'start', at: T })
    expect(state.phase).toBe('trial')
    expect(actions).toEqual([{ type: 'serve', round: 1, allowance: 100 }, { type: 'armTrialTimer', round: 1, units: 100 }])
  })

  it('[F3] bytes: with no voucher by the end of the trial slice it halts, owed exactly one slice', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    pm.next({ type: 'start', at: T })
    expect(pm.next({ type: 'unitsUsed', n: 99, at: T + 1 }).actions).toEqual([])
    const { state, actions } = pm.next({ type: 'unitsUsed', n: 1, at: T + 2 })
    expect(state.phase).toBe('stopped')
    expect(state.stopReason).toBe('no-voucher')
    expect(actions).toEqual([{ type: 'halt' }, { type: 'ended', reason: 'no-voucher', delivered: 100, paidRounds: 0, unpaidUnits: 100 }])
  })

  it('[F3] seconds: trialSliceElapsed for the current round halts; for a paid round it is ignored', () => {
    const terms = termsOf({ unit: 'seconds', roundSize: 600, trial: 30 })
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms })
    pm.next({ type: 'start', at: T })
    pm.next({ type: 'unitsUsed', n: 10, at: T + 10_000 })
    pm.next({ type: 'voucherReceived', voucher: signVoucher(payer.seed, { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round: 1, cumulative: 5, units: 10, time: T }), at: T + 10_000 })
    expect(pm.next({ type: 'trialSliceElapsed', round: 1, at: T + 30_000 }).actions).toEqual([])
    expect(pm.state.phase).toBe('paid')
    pm.next({ type: 'unitsUsed', n: 590, at: T + 600_000 })
    expect(pm.state).toMatchObject({ phase: 'trial', round: 2, allowance: 630 })
    const { state, actions } = pm.next({ type: 'trialSliceElapsed', round: 2, at: T + 630_000 })
    expect(state.stopReason).toBe('no-voucher')
    expect(of(actions, 'settle')).toEqual([{ type: 'settle', voucher: expect.objectContaining({ round: 1 }), close: true }])
    expect(of(actions, 'ended')[0]).toMatchObject({ paidRounds: 1, unpaidUnits: 0 })
  })

  it('[V10] vouchers more than one round ahead, replays and anything after stop are rejected with codes', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    pm.next({ type: 'start', at: T })
    const mk = (round: number): SignedVoucher => signVoucher(payer.seed, { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round, cumulative: round * 5, units: 1, time: T })
    expect(of(pm.next({ type: 'voucherReceived', voucher: mk(3), at: T }).actions, 'rejectVoucher')[0].code).toBe(VoucherRejection.AHEAD)
    expect(pm.next({ type: 'voucherReceived', voucher: mk(1), at: T }).state.phase).toBe('paid')
    expect(of(pm.next({ type: 'voucherReceived', voucher: mk(1), at: T }).actions, 'rejectVoucher')[0].code).toBe(VoucherRejection.REPLAY)
    expect(of(pm.next({ type: 'voucherReceived', voucher: { junk: true }, at: T }).actions, 'rejectVoucher')[0].code).toBe(VoucherRejection.MALFORMED)
    pm.next({ type: 'stop', by: 'provider', at: T })
    expect(of(pm.next({ type: 'voucherReceived', voucher: mk(2), at: T }).actions, 'rejectVoucher')).toHaveLength(1)
    expect(pm.state.cursor?.round).toBe(1)
  })

  it('[V10] a prepaid next-round voucher carries the provider through the round boundary', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    pm.next({ type: 'start', at: T })
    const mk = (round: number): SignedVoucher => signVoucher(payer.seed, { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round, cumulative: round * 5, units: 1, time: T })
    pm.next({ type: 'voucherReceived', voucher: mk(1), at: T })
    pm.next({ type: 'voucherReceived', voucher: mk(2), at: T })
    expect(pm.state.allowance).toBe(2000)
    pm.next({ type: 'unitsUsed', n: 1500, at: T })
    expect(pm.state).toMatchObject({ phase: 'paid', round: 2 })
  })

  it('[F7] a stop by either side halts, posts the newest voucher to close, and reports the totals', () => {
    for (const by of ['payer', 'provider'] as const) {
      const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf(), settleEvery: 10 })
      pm.next({ type: 'start', at: T })
      pm.next({ type: 'voucherReceived', voucher: signVoucher(payer.seed, { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round: 1, cumulative: 5, units: 1, time: T }), at: T })
      pm.next({ type: 'unitsUsed', n: 400, at: T })
      const { state, actions } = pm.next({ type: 'stop', by, at: T })
      expect(state.stopReason).toBe(by === 'payer' ? 'stopped-by-payer' : 'stopped-by-provider')
      expect(actions.map((a) => a.type)).toEqual(['halt', 'settle', 'ended'])
      expect(of(actions, 'settle')[0].close).toBe(true)
      expect(of(actions, 'ended')[0]).toMatchObject({ delivered: 400, paidRounds: 1, unpaidUnits: 0 })
    }
  })

  it('[F7] bad events are refused with ERR_SESSION_BAD_EVENT', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    const bad = [{ type: 'unitsUsed', n: -1, at: T }, { type: 'unitsUsed', n: 1.5, at: T }, { type: 'nope', at: T }, { type: 'stop', by: 'mallory', at: T }, { type: 'start', at: Number.NaN }]
    for (const e of bad) {
      expect(() => pm.next(e as never)).toThrowError(expect.objectContaining({ code: SessionRejection.BAD_EVENT }))
    }
    expect(() => pm.next({ type: 'unitsUsed', n: 1, at: T })).toThrowError(expect.objectContaining({ code: SessionRejection.BAD_EVENT }))
    expect(() => createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf({ trial: 2000 }) })).toThrow(RangeError)
  })
})

describe('payer machine', () => {
  it('[F5] signs for round r once the first units of round r arrive, for exactly r × price', () => {
    const um = createPayerMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    um.next({ type: 'start', at: T })
    const first = um.next({ type: 'unitsUsed', n: 1, at: T + 1 }).actions
    expect(first).toEqual([{ type: 'signVoucher', voucher: { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round: 1, cumulative: 5, units: 1, time: T + 1 } }])
    expect(um.next({ type: 'unitsUsed', n: 999, at: T + 2 }).actions).toEqual([])
    const second = of(um.next({ type: 'unitsUsed', n: 1, at: T + 3 }).actions, 'signVoucher')
    expect(second.map((a) => [a.voucher.round, a.voucher.cumulative, a.voucher.units])).toEqual([[2, 10, 1001]])
  })

  it('[F5] stops without signing when the budget (maxCredits) would be exceeded', () => {
    const um = createPayerMachine({ session: SESSION, payer: payer.did, terms: termsOf(), maxCredits: 12 })
    um.next({ type: 'start', at: T })
    um.next({ type: 'unitsUsed', n: 1001, at: T })
    const { state, actions } = um.next({ type: 'unitsUsed', n: 1000, at: T })
    expect(state).toMatchObject({ phase: 'stopped', stopReason: 'budget', signedRound: 2, committed: 10 })
    expect(of(actions, 'signVoucher')).toHaveLength(0)
  })
})

describe('both sides over a link', () => {
  it('[F2][F6] an honest session of three rounds completes; every round is paid and settled, the last one closing', () => {
    const r = simulate({ terms: termsOf(), maxRounds: 3, latency: () => 30, chunk: () => 64 })
    expect(r.reason).toBe('completed')
    expect(r.provider.delivered).toBe(3000)
    expect(r.payer).toMatchObject({ phase: 'stopped', stopReason: 'completed', signedRound: 3, committed: 15 })
    expect(r.signed).toBe(3)
    expect(r.settles.map((s) => [s.voucher.round, s.close])).toEqual([[1, false], [2, false], [3, false], [3, true]])
  })

  it('[V13][C9] every voucher the provider admits is backed by the deposit: with maxRounds = deposit / price, no settled voucher asks more than the deposit', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 400 }), (rounds, price, lat) => {
      const terms = termsOf({ price })
      const deposit = rounds * price // V11: what the buyer locks
      const r = simulate({ terms, maxRounds: Math.floor(deposit / price), latency: () => lat, chunk: () => 100 })
      for (const st of r.settles) expect(st.voucher.cumulative).toBeLessThanOrEqual(deposit)
    }), { numRuns: 40 })
  })

  it('[F6] settles at least every N paid rounds and at the end', () => {
    const r = simulate({ terms: termsOf(), maxRounds: 7, latency: () => 10, chunk: () => 100, settleEvery: 3 })
    expect(r.settles.map((s) => [s.voucher.round, s.close])).toEqual([[3, false], [6, false], [7, true]])
  })

  it('[F4] the user stops signing after round k: the provider stops within one trial slice of round k+1', () => {
    for (const k of [0, 1, 2, 4]) {
      const r = simulate({ terms: termsOf(), signsRounds: k, latency: () => 20, chunk: () => 37 })
      expect(r.reason).toBe('no-voucher')
      expect(r.provider.delivered).toBe(k * 1000 + 100)
      expect(r.provider.delivered - k * 1000).toBeLessThanOrEqual(100)
      expect(r.settles.at(-1)?.voucher.round ?? 0).toBe(k)
    }
  })

  it('[F5] a provider that stops serving gets no voucher for the round it did not start', () => {
    const pm = createProviderMachine({ session: SESSION, payer: payer.did, terms: termsOf(), maxRounds: 2 })
    const um = createPayerMachine({ session: SESSION, payer: payer.did, terms: termsOf() })
    um.next({ type: 'start', at: T })
    pm.next({ type: 'start', at: T })
    let signedRounds: number[] = []
    for (let i = 0; i < 200 && pm.state.phase !== 'stopped'; i++) {
      const n = Math.min(50, pm.state.allowance - pm.state.delivered)
      pm.next({ type: 'unitsUsed', n, at: T })
      for (const a of of(um.next({ type: 'unitsUsed', n, at: T }).actions, 'signVoucher')) {
        signedRounds = [...signedRounds, a.voucher.round]
        pm.next({ type: 'voucherReceived', voucher: sign(a), at: T })
      }
    }
    expect(pm.state.stopReason).toBe('completed')
    expect(signedRounds).toEqual([1, 2])
  })

  it('[F4] whatever the latency, chunking and point where the payer goes silent, owed ≤ one trial slice (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 50, max: 2000 }), fc.integer({ min: 1, max: 100 }), fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), fc.integer({ min: 1, max: 8 }),
      (seed, roundSize, trialPct, signsRounds, maxRounds) => {
        let x = seed
        const rnd = (): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32 }
        const trial = Math.max(1, Math.floor(roundSize * trialPct / 100))
        const terms = termsOf({ roundSize, trial, price: 1 + Math.floor(rnd() * 9) })
        const r = simulate({ terms, maxRounds, signsRounds, latency: () => Math.floor(rnd() * trial * 1.5), chunk: () => 1 + Math.floor(rnd() * roundSize / 3) })
        expect(r.maxOwedUnits).toBeLessThanOrEqual(trial)
        if (r.reason === 'completed') expect(r.provider.delivered).toBe(maxRounds * roundSize)
        if (r.reason === 'no-voucher') expect(r.provider.delivered % roundSize === 0 ? roundSize : r.provider.delivered % roundSize).toBeLessThanOrEqual(trial)
      }), { numRuns: 150 })
  })
})
