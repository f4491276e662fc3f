/**
 * The session state machines of white paper 5.6.1 (steps 2–8), one per side, pure: the
 * network layer feeds events (units delivered or received, vouchers, timer expiries, stops)
 * and carries out the returned actions (serve up to an allowance, halt, sign, settle). Time
 * arrives inside events; nothing here reads a clock or arms a timer.
 *
 * Provider guarantee (SPEC F4): it never permits delivery beyond what accepted vouchers cover
 * plus one trial slice, so a payer that stops signing is owed nothing but at most one trial
 * slice. Payer guarantee (SPEC F5): it signs for round r only after units of round r arrive,
 * so a provider that stops serving gets no voucher for the round it did not start.
 */
import type { Did } from '../identity.ts'
import { SessionError, SessionRejection, VoucherError, VoucherRejection } from './errors.ts'
import type { VoucherRejectionCode } from './errors.ts'
import { checkVoucherStep } from './book.ts'
import { parseSignedVoucher } from './voucher.ts'
import type { SignedVoucher, Voucher } from './voucher.ts'
import { chargeable } from './terms.ts'
import type { SessionId, SessionTerms, VoucherCursor } from './terms.ts'
import { isSafeInt } from '../contracts/guards.ts'

export type Side = 'payer' | 'provider'

export type SessionEvent =
  /** Provider: begin serving (step 2). Payer: the request was sent. */
  | { readonly type: 'start', readonly at: number }
  /** `n` more units delivered (provider) or received (payer). */
  | { readonly type: 'unitsUsed', readonly n: number, readonly at: number }
  /** Provider: a voucher arrived from the payer (untrusted). */
  | { readonly type: 'voucherReceived', readonly voucher: unknown, readonly at: number }
  /** Provider: the trial slice of `round` ran out on the clock (time-metered offers). */
  | { readonly type: 'trialSliceElapsed', readonly round: number, readonly at: number }
  /** Either side ends the session (step 8). */
  | { readonly type: 'stop', readonly by: Side, readonly at: number }

export type StopReason = 'no-voucher' | 'completed' | 'budget' | 'stopped-by-payer' | 'stopped-by-provider'

export interface SessionConfig {
  readonly session: SessionId
  readonly payer: Did
  readonly terms: SessionTerms
  /** Rounds bought (payer) or that the provider will serve; undefined = until someone stops. */
  readonly maxRounds?: number
}

export interface ProviderConfig extends SessionConfig {
  /** Post a settlement at least every N newly paid rounds (and always at the end). Default 1. */
  readonly settleEvery?: number
}

export interface PayerConfig extends SessionConfig {
  /** Never commit more credits than this. */
  readonly maxCredits?: number
}

export type ProviderPhase = 'requested' | 'trial' | 'paid' | 'stopped'

export interface ProviderState {
  readonly side: 'provider'
  readonly phase: ProviderPhase
  /** Round being served, 1-based; 0 before start. */
  readonly round: number
  /** Units delivered so far. */
  readonly delivered: number
  /** Units the network layer may have delivered in total right now. */
  readonly allowance: number
  /** Newest accepted voucher and its numbers. */
  readonly voucher: SignedVoucher | null
  readonly cursor: VoucherCursor | null
  /** Round of the newest voucher handed out in a settle action; 0 = none. */
  readonly settledRound: number
  readonly stopReason: StopReason | null
}

export type ProviderAction =
  /** Deliver until `allowance` units in total have been delivered, then wait. */
  | { readonly type: 'serve', readonly round: number, readonly allowance: number }
  /** Arm the trial deadline of `round`: `units` from the round's start (seconds for time offers). */
  | { readonly type: 'armTrialTimer', readonly round: number, readonly units: number }
  /** Stop delivering now. */
  | { readonly type: 'halt' }
  /** Post `voucher` in a session.settle transaction. */
  | { readonly type: 'settle', readonly voucher: SignedVoucher, readonly close: boolean }
  | { readonly type: 'rejectVoucher', readonly code: VoucherRejectionCode, readonly message: string }
  | { readonly type: 'ended', readonly reason: StopReason, readonly delivered: number, readonly paidRounds: number, readonly unpaidUnits: number }

export type PayerPhase = 'requested' | 'receiving' | 'stopped'

export interface PayerState {
  readonly side: 'payer'
  readonly phase: PayerPhase
  readonly received: number
  /** Newest round signed for; 0 = none. */
  readonly signedRound: number
  /** Credits committed by the newest voucher. */
  readonly committed: number
  readonly stopReason: StopReason | null
}

export type PayerAction =
  /** Sign this voucher with the payer's key and send it to the provider. */
  | { readonly type: 'signVoucher', readonly voucher: Voucher }
  | { readonly type: 'halt' }
  | { readonly type: 'ended', readonly reason: StopReason, readonly received: number, readonly signedRounds: number, readonly committed: number }

export interface Step<S, A> {
  readonly state: S
  readonly actions: readonly A[]
}

function badEvent (message: string): never {
  throw new SessionError(SessionRejection.BAD_EVENT, message)
}

function checkEvent (event: SessionEvent): void {
  if (event === null || typeof event !== 'object') badEvent('event must be an object')
  if (!Number.isFinite(event.at)) badEvent('event.at must be a finite time in ms')
  switch (event.type) {
    case 'start': case 'voucherReceived': return
    case 'unitsUsed': if (!isSafeInt(event.n, 0, Number.MAX_SAFE_INTEGER)) badEvent('unitsUsed.n must be a non-negative integer'); return
    case 'trialSliceElapsed': if (!isSafeInt(event.round, 1, Number.MAX_SAFE_INTEGER)) badEvent('trialSliceElapsed.round must be a positive integer'); return
    case 'stop': if (event.by !== 'payer' && event.by !== 'provider') badEvent('stop.by must be payer or provider'); return
    default: badEvent(`unknown event type ${String((event as { type: unknown }).type)}`)
  }
}

function checkConfig (config: SessionConfig): void {
  const t = config.terms
  if (!isSafeInt(t.price, 1, Number.MAX_SAFE_INTEGER)) throw new RangeError('terms.price must be a positive integer')
  if (!isSafeInt(t.roundSize, 1, Number.MAX_SAFE_INTEGER)) throw new RangeError('terms.roundSize must be a positive integer')
  if (!isSafeInt(t.trial, 1, t.roundSize)) throw new RangeError('terms.trial must be an integer in 1..roundSize')
  if (config.maxRounds !== undefined && !isSafeInt(config.maxRounds, 1, Number.MAX_SAFE_INTEGER)) throw new RangeError('maxRounds must be a positive integer')
}

// ---------------------------------------------------------------------------------------------
// Provider

/** Rounds the newest voucher pays for in full (after the refund rule), capped by maxRounds. */
function paidRounds (config: ProviderConfig, cursor: VoucherCursor | null): number {
  if (cursor === null) return 0
  const byCredits = Math.floor(chargeable(cursor, config.terms) / config.terms.price)
  const rounds = Math.min(cursor.round, byCredits)
  return config.maxRounds === undefined ? rounds : Math.min(rounds, config.maxRounds)
}

function allowanceOf (config: ProviderConfig, round: number, cursor: VoucherCursor | null): number {
  const { roundSize, trial } = config.terms
  const paid = paidRounds(config, cursor)
  if (paid >= round) return paid * roundSize
  return (round - 1) * roundSize + trial
}

export function initialProviderState (): ProviderState {
  return { side: 'provider', phase: 'requested', round: 0, delivered: 0, allowance: 0, voucher: null, cursor: null, settledRound: 0, stopReason: null }
}

function providerStop (config: ProviderConfig, s: ProviderState, reason: StopReason, actions: ProviderAction[]): ProviderState {
  actions.push({ type: 'halt' })
  if (s.voucher !== null) actions.push({ type: 'settle', voucher: s.voucher, close: true })
  const paid = paidRounds(config, s.cursor)
  const unpaidUnits = Math.max(0, s.delivered - paid * config.terms.roundSize)
  actions.push({ type: 'ended', reason, delivered: s.delivered, paidRounds: paid, unpaidUnits })
  return { ...s, phase: 'stopped', allowance: s.delivered, stopReason: reason, settledRound: s.cursor?.round ?? s.settledRound }
}

/** Moves through round boundaries and trial deadlines that `delivered` has reached. */
function providerAdvance (config: ProviderConfig, state: ProviderState, actions: ProviderAction[]): ProviderState {
  const { roundSize, trial } = config.terms
  let s = state
  for (;;) {
    if (s.phase === 'trial') {
      if (paidRounds(config, s.cursor) >= s.round) {
        s = { ...s, phase: 'paid', allowance: allowanceOf(config, s.round, s.cursor) }
        actions.push({ type: 'serve', round: s.round, allowance: s.allowance })
        continue
      }
      // F3: no voucher by the end of the trial slice → stop
      if (s.delivered >= (s.round - 1) * roundSize + trial) return providerStop(config, s, 'no-voucher', actions)
      return s
    }
    if (s.phase === 'paid') {
      if (s.delivered < s.round * roundSize) return s
      if (config.maxRounds !== undefined && s.round >= config.maxRounds) return providerStop(config, s, 'completed', actions)
      const round = s.round + 1
      const covered = paidRounds(config, s.cursor) >= round
      s = { ...s, round, phase: covered ? 'paid' : 'trial', allowance: allowanceOf(config, round, s.cursor) }
      actions.push({ type: 'serve', round, allowance: s.allowance })
      if (!covered) actions.push({ type: 'armTrialTimer', round, units: trial })
      continue
    }
    return s
  }
}

export function providerStep (config: ProviderConfig, state: ProviderState, event: SessionEvent): Step<ProviderState, ProviderAction> {
  checkEvent(event)
  const actions: ProviderAction[] = []
  if (state.phase === 'stopped') {
    if (event.type === 'voucherReceived') actions.push({ type: 'rejectVoucher', code: VoucherRejection.REPLAY, message: 'session has stopped' })
    return { state, actions }
  }
  switch (event.type) {
    case 'start': {
      if (state.phase !== 'requested') return { state, actions }
      const s: ProviderState = { ...state, phase: 'trial', round: 1, allowance: allowanceOf(config, 1, state.cursor) }
      actions.push({ type: 'serve', round: 1, allowance: s.allowance }, { type: 'armTrialTimer', round: 1, units: config.terms.trial })
      return { state: providerAdvance(config, s, actions), actions }
    }
    case 'unitsUsed': {
      if (state.phase === 'requested') badEvent('units delivered before start')
      const s = providerAdvance(config, { ...state, delivered: state.delivered + event.n }, actions)
      return { state: s, actions }
    }
    case 'trialSliceElapsed': {
      if (state.phase === 'trial' && event.round === state.round) return { state: providerStop(config, state, 'no-voucher', actions), actions }
      return { state, actions }
    }
    case 'voucherReceived': {
      let cursor: VoucherCursor
      let voucher: SignedVoucher
      try {
        voucher = parseSignedVoucher(event.voucher)
        const current = Math.max(state.round, 1)
        if (voucher.round > current + 1) throw new VoucherError(VoucherRejection.AHEAD, `voucher for round ${voucher.round} while serving round ${current}`)
        cursor = checkVoucherStep(state.cursor, voucher, config, { requireFullRound: true })
      } catch (err) {
        if (!(err instanceof VoucherError)) throw err
        actions.push({ type: 'rejectVoucher', code: err.code, message: err.message })
        return { state, actions }
      }
      let s: ProviderState = { ...state, voucher, cursor }
      if (s.phase !== 'requested') s = { ...s, allowance: allowanceOf(config, s.round, cursor) }
      const every = config.settleEvery ?? 1
      if (cursor.round - s.settledRound >= every) {
        actions.push({ type: 'settle', voucher, close: false })
        s = { ...s, settledRound: cursor.round }
      }
      if (s.phase === 'paid') actions.push({ type: 'serve', round: s.round, allowance: s.allowance })
      return { state: providerAdvance(config, s, actions), actions }
    }
    case 'stop':
      return { state: providerStop(config, state, event.by === 'payer' ? 'stopped-by-payer' : 'stopped-by-provider', actions), actions }
  }
}

// ---------------------------------------------------------------------------------------------
// Payer

export function initialPayerState (): PayerState {
  return { side: 'payer', phase: 'requested', received: 0, signedRound: 0, committed: 0, stopReason: null }
}

function payerStop (s: PayerState, reason: StopReason, actions: PayerAction[]): PayerState {
  actions.push({ type: 'halt' }, { type: 'ended', reason, received: s.received, signedRounds: s.signedRound, committed: s.committed })
  return { ...s, phase: 'stopped', stopReason: reason }
}

export function payerStep (config: PayerConfig, state: PayerState, event: SessionEvent): Step<PayerState, PayerAction> {
  checkEvent(event)
  const actions: PayerAction[] = []
  if (state.phase === 'stopped') return { state, actions }
  const { price, roundSize } = config.terms
  switch (event.type) {
    case 'start':
      return { state: { ...state, phase: 'receiving' }, actions }
    case 'unitsUsed': {
      let s: PayerState = { ...state, phase: 'receiving', received: state.received + event.n }
      if (s.received === 0) return { state: s, actions }
      if (config.maxRounds !== undefined && s.received >= config.maxRounds * roundSize) {
        // everything bought has arrived; a voucher for the last round was signed when it began
        const lastRound = config.maxRounds
        if (s.signedRound < lastRound && s.received > (lastRound - 1) * roundSize) s = payerSign(config, s, lastRound, event.at, actions)
        return { state: payerStop(s, 'completed', actions), actions }
      }
      // F5: the round whose units are arriving; sign for it once, while its trial slice runs
      const round = Math.ceil(s.received / roundSize)
      if (round <= s.signedRound) return { state: s, actions }
      if (config.maxCredits !== undefined && round * price > config.maxCredits) return { state: payerStop(s, 'budget', actions), actions }
      return { state: payerSign(config, s, round, event.at, actions), actions }
    }
    case 'stop':
      return { state: payerStop(state, event.by === 'payer' ? 'stopped-by-payer' : 'stopped-by-provider', actions), actions }
    case 'voucherReceived':
    case 'trialSliceElapsed':
      return { state, actions }
  }
}

function payerSign (config: PayerConfig, s: PayerState, round: number, at: number, actions: PayerAction[]): PayerState {
  const cumulative = round * config.terms.price
  actions.push({
    type: 'signVoucher',
    voucher: { v: 1, session: config.session, offer: config.terms.offer, payer: config.payer, provider: config.terms.provider, round, cumulative, units: s.received, time: Math.max(0, Math.floor(at)) }
  })
  return { ...s, signedRound: round, committed: cumulative }
}

// ---------------------------------------------------------------------------------------------

/** Holds one side's state and folds events into it; deterministic, no I/O. */
export class SessionMachine<S, A> {
  #state: S
  readonly #step: (state: S, event: SessionEvent) => Step<S, A>

  constructor (initial: S, step: (state: S, event: SessionEvent) => Step<S, A>) {
    this.#state = initial
    this.#step = step
  }

  get state (): S { return this.#state }

  next (event: SessionEvent): Step<S, A> {
    const out = this.#step(this.#state, event)
    this.#state = out.state
    return out
  }
}

export function createProviderMachine (config: ProviderConfig, initial: ProviderState = initialProviderState()): SessionMachine<ProviderState, ProviderAction> {
  checkConfig(config)
  if (config.settleEvery !== undefined && !isSafeInt(config.settleEvery, 1, Number.MAX_SAFE_INTEGER)) throw new RangeError('settleEvery must be a positive integer')
  return new SessionMachine(initial, (s, e) => providerStep(config, s, e))
}

export function createPayerMachine (config: PayerConfig, initial: PayerState = initialPayerState()): SessionMachine<PayerState, PayerAction> {
  checkConfig(config)
  if (config.maxCredits !== undefined && !isSafeInt(config.maxCredits, 0, Number.MAX_SAFE_INTEGER)) throw new RangeError('maxCredits must be a non-negative integer')
  return new SessionMachine(initial, (s, e) => payerStep(config, s, e))
}
