/**
 * `/alliance/session/1`: the white paper's fast service establishment (5.6.1 steps 1–8) over a
 * direct stream, driving the core's pure session machines (SPEC F1–F7).
 *
 * 1. The payer opens a stream and sends its signed session request (`open`).
 * 2. The provider checks it (signature, the connection's DID, then the host's checks: offer,
 *    capacity, rights policy) and serves at once: `accept`, the trial slice of round 1.
 * 3. Before each trial slice ends the payer signs the round's voucher and sends it; the
 *    provider's machine checks it (SPEC V1–V10) and answers `ack` or a typed `nack`.
 * 4. Without a valid voucher by the end of the trial slice the provider halts. Time offers:
 *    the slice runs on the clock. Byte offers: delivery pauses one unit short of the slice's
 *    end and waits `voucherWaitMs` for the voucher, so a voucher racing the data is not lost
 *    (delivered − paid ≤ trial − 1 < trial, SPEC F4).
 * 5. The provider posts the newest voucher for settlement every `settleEvery` paid rounds and
 *    at the end (`settle` frames tell the payer the transaction id).
 * 6. Either side may stop after any round; a closed stream, or silence for `idleMs` (both
 *    sides ping every `keepaliveMs`), ends the session as `peer-gone` and the provider settles
 *    what is owed.
 *
 * Time, timers and the clock are injected (`Timers`, `now`), so tests drive them. Delivery of
 * the actual service is outside: a byte service asks the provider's `ServiceGate` before each
 * chunk (relay-service.ts); the payer's byte service reports through its `PayerMeter`.
 */
import type { Stream } from '@libp2p/interface'
import { isAllianceError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import { createProviderMachine } from '../core/session/machine.ts'
import type { ProviderAction, ProviderState, SessionEvent, SessionMachine } from '../core/session/machine.ts'
import { checkSignedSessionRequest, sessionIdOf } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import type { SessionId, SessionTerms } from '../core/session/terms.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { decodePayerFrame, encodeProviderFrame, SESSION_OPEN_MAX_BYTES, SessionProtocolError, SessionWireRejection } from './session-wire.ts'
import type { IncomingPayerFrame, OpenFrame, ProviderFrame } from './session-wire.ts'
import { codeOf, FrameChannel, guard, keepalive, messageOf, SessionEndedError } from './session-channel.ts'
import type { EndReason, RemotePeer, ServiceGate, SessionRuntime, Timers } from './session-channel.ts'
import { StopListeners } from './stop-listeners.ts'

export { SESSION_PROTOCOL } from './session-wire.ts'
export { DEFAULT_SESSION_TIMING, SessionEndedError, systemTimers } from './session-channel.ts'
export type { EndReason, PayerMeter, RemotePeer, ServiceGate, SessionRuntime, SessionTiming, Timers } from './session-channel.ts'
export { closePayerChannel, nextProviderFrame, openSessionStream, PayerSession, sendPayerFrame } from './session-payer.ts'
export type { Accepted, PayerChannel, PayerHooks, PayerSessionInit } from './session-payer.ts'

// ---------------------------------------------------------------------------------------------
// Provider

export interface ProviderHooks {
  /** Post `voucher` in a `session.settle`; resolves to the transaction id (null: not posted). */
  settle: (voucher: SignedVoucher, close: boolean) => Promise<string | null>
  /** State changed (units, vouchers, phase). */
  changed: (session: ProviderSession) => void
  /** A voucher was refused with `code`; `late` when it came after the session stopped. */
  rejected: (session: ProviderSession, code: string, message: string, late: boolean) => void
  ended: (session: ProviderSession) => void
}

export interface ProviderAdmission {
  readonly terms: SessionTerms
  /** Stop after this many rounds (the payer's stated intent). */
  readonly maxRounds?: number
  readonly settleEvery?: number
  /** Hotspot: the credentials, sealed to the payer's DID. */
  readonly hotspot?: Uint8Array
  readonly hooks: ProviderHooks
}

export interface SessionProviderHost {
  /**
   * Decides whether to serve `open` (already parsed, signature verified, payer = the remote
   * peer). Throws an AllianceError whose code goes back to the payer in a `reject` frame.
   */
  admit: (open: OpenFrame, session: SessionId, remote: RemotePeer) => Promise<ProviderAdmission>
  /** Called with the running session once `accept` was sent. */
  started: (session: ProviderSession, open: OpenFrame, remote: RemotePeer) => void
  /** A frame from `remote` broke the protocol (counted against it). */
  misbehaved?: (remote: RemotePeer, code: string) => void
}


export interface ProviderSessionInit extends SessionRuntime {
  readonly id: SessionId
  readonly request: SignedSessionRequest
  readonly terms: SessionTerms
  readonly maxRounds?: number
  readonly settleEvery?: number
  readonly hooks: ProviderHooks
  /** Sends a frame to the payer. */
  readonly send: (frame: ProviderFrame) => void
}

/** The provider's side of one running session: its machine, timers and delivery gate. */
export class ProviderSession implements ServiceGate {
  readonly id: SessionId
  readonly request: SignedSessionRequest
  readonly terms: SessionTerms
  readonly maxRounds: number | null
  readonly #machine: SessionMachine<ProviderState, ProviderAction>
  readonly #init: ProviderSessionInit
  readonly #waiters = new Set<() => void>()
  readonly #stopListeners = new StopListeners(() => this.stopped)
  #vouchers = 0
  #rejected: Record<string, number> = {}
  #endReason: EndReason | null = null
  #override: EndReason | null = null
  #startedAt = 0
  #ticks = 0
  #tickTimer: unknown = null
  #trialTimer: unknown = null
  #edgeTimer: unknown = null
  #edgeRound = 0
  #settling: Promise<unknown> = Promise.resolve()

  constructor (init: ProviderSessionInit) {
    this.#init = init
    this.id = init.id
    this.request = init.request
    this.terms = init.terms
    this.maxRounds = init.maxRounds ?? null
    this.#machine = createProviderMachine({ session: init.id, payer: init.request.payer, terms: init.terms, maxRounds: init.maxRounds, settleEvery: init.settleEvery })
  }

  get state (): ProviderState { return this.#machine.state }
  get stopped (): boolean { return this.#machine.state.phase === 'stopped' }
  get vouchersAccepted (): number { return this.#vouchers }
  get rejected (): Readonly<Record<string, number>> { return this.#rejected }
  get endReason (): EndReason | null { return this.#endReason }
  get payer (): Did { return this.request.payer }
  /** Settlements posted so far have all been handed to the ledger. */
  async settled (): Promise<void> { await this.#settling }

  /** Step 2: serve at once. */
  start (): void {
    this.#startedAt = this.#init.now()
    this.#feed({ type: 'start', at: this.#startedAt })
    if (this.terms.unit === 'seconds') this.#scheduleTick()
  }

  /** Step 5: a voucher arrived (untrusted). */
  voucher (raw: unknown): void {
    this.#feed({ type: 'voucherReceived', voucher: raw, at: this.#init.now() })
  }

  /** Step 8: either side stops; `reason` overrides the shown reason (e.g. peer-gone). */
  stop (by: 'payer' | 'provider', reason?: EndReason): void {
    if (this.stopped) return
    this.#override = reason ?? null
    this.#feed({ type: 'stop', by, at: this.#init.now() })
  }

  async take (max: number): Promise<number> {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('take(max) needs a positive integer')
    for (;;) {
      const s = this.#machine.state
      if (s.phase === 'stopped') throw new SessionEndedError()
      if (s.phase !== 'requested') {
        // pause one unit short of a trial slice's end and give the voucher time to arrive
        const edge = s.phase === 'trial' && this.terms.trial > 1 ? s.allowance - 1 : s.allowance
        const room = edge - s.delivered
        if (room > 0) {
          const n = Math.min(max, room)
          this.#feed({ type: 'unitsUsed', n, at: this.#init.now() })
          return n
        }
        if (s.phase === 'trial') this.#armEdge(s.round)
      }
      await new Promise<void>((resolve) => { this.#waiters.add(resolve) })
    }
  }

  onStop (listener: () => void): () => void {
    return this.#stopListeners.add(listener)
  }

  #armEdge (round: number): void {
    if (this.#edgeRound === round) return
    this.#edgeRound = round
    this.#clear('edge')
    this.#edgeTimer = this.#init.timers.setTimeout(() => {
      this.#edgeTimer = null
      guard(() => { this.#feed({ type: 'trialSliceElapsed', round, at: this.#init.now() }) })
    }, this.#init.timing.voucherWaitMs)
  }

  #scheduleTick (): void {
    if (this.stopped) return
    const { unitMs } = this.#init.timing
    const due = this.#startedAt + (this.#ticks + 1) * unitMs
    this.#tickTimer = this.#init.timers.setTimeout(() => { guard(() => { this.#tick() }) }, Math.max(0, due - this.#init.now()))
  }

  /** Time offers: one unit delivered per elapsed `unitMs` since the start. */
  #tick (): void {
    this.#tickTimer = null
    this.#catchUp()
    this.#scheduleTick()
  }

  /** Counts every unit whose time has passed (so a timer firing first sees them). */
  #catchUp (): void {
    if (this.terms.unit !== 'seconds') return
    const elapsed = Math.floor((this.#init.now() - this.#startedAt) / this.#init.timing.unitMs)
    while (this.#ticks < elapsed && !this.stopped) {
      this.#ticks++
      this.#feed({ type: 'unitsUsed', n: 1, at: this.#init.now() })
    }
  }

  #clear (which: 'tick' | 'trial' | 'edge' | 'all'): void {
    const t = this.#init.timers
    if ((which === 'tick' || which === 'all') && this.#tickTimer !== null) { t.clearTimeout(this.#tickTimer); this.#tickTimer = null }
    if ((which === 'trial' || which === 'all') && this.#trialTimer !== null) { t.clearTimeout(this.#trialTimer); this.#trialTimer = null }
    if ((which === 'edge' || which === 'all') && this.#edgeTimer !== null) { t.clearTimeout(this.#edgeTimer); this.#edgeTimer = null }
  }

  #feed (event: SessionEvent): void {
    const before = this.#machine.state
    const wasStopped = before.phase === 'stopped'
    const { state, actions } = this.#machine.next(event)
    if (event.type === 'voucherReceived' && state.cursor !== before.cursor && state.cursor !== null) {
      this.#vouchers++
      this.#init.send({ t: 'ack', round: state.cursor.round })
    }
    for (const a of actions) this.#act(a, wasStopped)
    if (state.phase !== 'trial') this.#edgeRound = 0
    for (const w of [...this.#waiters]) { this.#waiters.delete(w); w() }
    this.#init.hooks.changed(this)
  }

  #act (a: ProviderAction, wasStopped: boolean): void {
    switch (a.type) {
      case 'serve':
        return
      case 'armTrialTimer':
        // time offers: the slice runs on the clock; byte offers pause at its edge (#armEdge)
        if (this.terms.unit === 'seconds') {
          this.#clear('trial')
          const round = a.round
          this.#trialTimer = this.#init.timers.setTimeout(() => {
            this.#trialTimer = null
            guard(() => {
              this.#catchUp()
              this.#feed({ type: 'trialSliceElapsed', round, at: this.#init.now() })
            })
          }, a.units * this.#init.timing.unitMs)
        }
        return
      case 'halt':
        this.#clear('all')
        return
      case 'settle': {
        const { voucher, close } = a
        const run = this.#settling.then(async () => {
          const tx = await this.#init.hooks.settle(voucher, close)
          if (tx !== null) this.#init.send({ t: 'settle', round: voucher.round, tx, close })
        })
        this.#settling = run.catch(() => {})
        return
      }
      case 'rejectVoucher': {
        this.#rejected = { ...this.#rejected, [a.code]: (this.#rejected[a.code] ?? 0) + 1 }
        const round = this.#machine.state.round
        this.#init.send({ t: 'nack', round, code: a.code, message: a.message })
        this.#init.hooks.rejected(this, a.code, a.message, wasStopped)
        return
      }
      case 'ended': {
        this.#endReason = this.#override ?? a.reason
        this.#init.send({ t: 'ended', reason: this.#endReason, delivered: a.delivered, paidRounds: a.paidRounds })
        this.#stopListeners.fire()
        this.#init.hooks.ended(this)
      }
    }
  }
}

function reject (channel: FrameChannel<unknown>, code: string, message: string): void {
  channel.send(encodeProviderFrame({ t: 'reject', code, message }))
}

/**
 * Serves one inbound `/alliance/session/1` stream from `remote` (a direct connection). Resolves
 * when the session is over. A frame that breaks the protocol is reported through
 * `host.misbehaved` and ends the stream.
 */
export async function serveSessionStream (stream: Stream, remote: RemotePeer, host: SessionProviderHost, rt: SessionRuntime): Promise<void> {
  const channel = new FrameChannel<IncomingPayerFrame>(stream, SESSION_OPEN_MAX_BYTES, decodePayerFrame, rt.timers)
  const misbehaved = (code: string): void => { host.misbehaved?.(remote, code) }
  let open: OpenFrame
  let request: SignedSessionRequest
  try {
    const first = await channel.next(rt.timing.openTimeoutMs)
    if (first === null) { await channel.close(); return }
    if (first.t !== 'open') throw new SessionProtocolError(SessionWireRejection.FRAME, `expected an open frame, got ${first.t}`)
    open = first
    request = checkSignedSessionRequest(open.request)
    if (request.payer !== remote.did) throw new SessionProtocolError(SessionWireRejection.WRONG_PAYER, 'the request\'s payer is not the peer that sent it')
  } catch (err) {
    const code = codeOf(err)
    if (code !== SessionWireRejection.TIMEOUT) misbehaved(code)
    reject(channel, code, messageOf(err))
    await channel.close()
    return
  }
  const id = sessionIdOf(request)
  let admission: ProviderAdmission
  try {
    admission = await host.admit(open, id, remote)
  } catch (err) {
    if (!isAllianceError(err)) throw err
    reject(channel, err.code, err.message)
    await channel.close()
    return
  }
  const session = new ProviderSession({
    ...rt,
    id,
    request,
    terms: admission.terms,
    maxRounds: admission.maxRounds,
    settleEvery: admission.settleEvery,
    hooks: admission.hooks,
    send: (frame) => { channel.send(encodeProviderFrame(frame)) }
  })
  channel.send(encodeProviderFrame(admission.hotspot === undefined ? { t: 'accept', session: id } : { t: 'accept', session: id, hotspot: admission.hotspot }))
  host.started(session, open, remote)
  session.start()

  const ping = keepalive(rt, () => { channel.send(encodeProviderFrame({ t: 'ping' })) })
  let closing = false
  const closeAfterSettling = async (): Promise<void> => {
    // the `ended` frame is queued; the closing settlement's tx id follows once the ledger has
    // taken it (bounded), then our end closes and the payer closes its end in turn
    await within(session.settled(), SETTLE_NOTICE_MS, rt.timers)
    await channel.close()
  }
  const unsubscribe = session.onStop(() => {
    closing = true
    void closeAfterSettling()
  })
  try {
    for (;;) {
      let frame: IncomingPayerFrame | null
      try {
        frame = await channel.next(closing ? Math.min(5_000, rt.timing.idleMs) : rt.timing.idleMs)
      } catch (err) {
        if (isAllianceError(err) && err.code !== SessionWireRejection.TIMEOUT) {
          misbehaved(err.code)
          session.stop('payer', 'error')
        } else {
          session.stop('payer', 'peer-gone')
        }
        channel.abort(err instanceof Error ? err : new Error(String(err)))
        break
      }
      if (frame === null) {
        session.stop('payer', 'peer-gone')
        break
      }
      switch (frame.t) {
        case 'voucher': session.voucher(frame.voucher); break
        case 'stop': session.stop('payer'); break
        case 'ping': break
        case 'open':
          misbehaved(SessionWireRejection.FRAME)
          break
      }
    }
  } finally {
    ping()
    unsubscribe()
    await closeAfterSettling()
  }
}

/** How long a provider keeps the stream open after the end for the closing settlement's id. */
const SETTLE_NOTICE_MS = 10_000

/** Waits for `promise`, at most `ms`; never throws. */
async function within (promise: Promise<unknown>, ms: number, timers: Timers): Promise<void> {
  let handle: unknown = null
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => { handle = timers.setTimeout(resolve, ms) })
  ])
  if (handle !== null) timers.clearTimeout(handle)
}

