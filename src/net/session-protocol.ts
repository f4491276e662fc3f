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
import { AllianceError, isAllianceError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import { createPayerMachine, createProviderMachine } from '../core/session/machine.ts'
import type { PayerAction, PayerState, ProviderAction, ProviderState, SessionEvent, SessionMachine, StopReason } from '../core/session/machine.ts'
import { checkSignedSessionRequest, sessionIdOf } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import type { SessionId, SessionTerms } from '../core/session/terms.ts'
import { signVoucher } from '../core/session/voucher.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { readFrames, writeFrame } from './frames.ts'
import {
  decodePayerFrame, decodeProviderFrame, encodePayerFrame, encodeProviderFrame, SESSION_FRAME_MAX_BYTES, SESSION_OPEN_MAX_BYTES,
  SessionProtocolError, SessionWireRejection
} from './session-wire.ts'
import type { IncomingPayerFrame, OpenFrame, PayerFrame, ProviderFrame } from './session-wire.ts'

export { SESSION_PROTOCOL } from './session-wire.ts'

/** Timers as a port, so tests can run sessions on a fake clock. */
export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => { clearTimeout(handle as ReturnType<typeof setTimeout>) }
}

export interface SessionTiming {
  /** Milliseconds per unit of a time offer (1000: a unit is a second; tests shrink it). */
  readonly unitMs: number
  /**
   * Byte offers: how long the provider waits at the end of a trial slice for the voucher
   * before it halts. Without it a voucher racing the data would stop a paying session.
   */
  readonly voucherWaitMs: number
  /** Both sides send a ping this often, so silence means the peer is gone. */
  readonly keepaliveMs: number
  /** No frame for this long: the other side is gone. */
  readonly idleMs: number
  /** The provider's answer to `open` (and the `open` itself) must come within this. */
  readonly openTimeoutMs: number
}

export const DEFAULT_SESSION_TIMING: SessionTiming = {
  unitMs: 1000,
  voucherWaitMs: 10_000,
  keepaliveMs: 10_000,
  idleMs: 35_000,
  openTimeoutMs: 20_000
}

/** The session stopped; no more units may be delivered or used. */
export class SessionEndedError extends AllianceError {
  constructor (message = 'the session has ended') {
    super(SessionWireRejection.ENDED, message)
  }
}

export interface RemotePeer {
  readonly did: Did
  readonly peerId: string
}

/** Why a session ended, as the views show it: the machines' reasons plus transport ones. */
export type EndReason = StopReason | 'peer-gone' | 'error'

/** The provider side of a byte service asks before delivering each chunk. */
export interface ServiceGate {
  /**
   * Waits until at least one unit may be delivered and returns how many (1..max), counting
   * them as delivered; throws SessionEndedError once the session has stopped.
   */
  take: (max: number) => Promise<number>
  readonly stopped: boolean
  /** Called once when the session stops (at once if it has). Returns the unsubscribe. */
  onStop: (listener: () => void) => () => void
}

/** The payer side of a byte service reports units through this. */
export interface PayerMeter {
  /** Counts up to `max` units about to be sent; returns how many may be (0: the session is over). */
  reserve: (max: number) => number
  /** Counts units that arrived. */
  received: (n: number) => void
  readonly stopped: boolean
  onStop: (listener: () => void) => () => void
}

// ---------------------------------------------------------------------------------------------
// Frame channel

class FrameChannel<In> {
  readonly stream: Stream
  readonly #frames: AsyncIterator<Uint8Array>
  readonly #decode: (bytes: Uint8Array) => In
  readonly #timers: Timers
  #closing = false

  constructor (stream: Stream, maxBytes: number, decode: (bytes: Uint8Array) => In, timers: Timers) {
    this.stream = stream
    this.#frames = readFrames(stream, maxBytes)[Symbol.asyncIterator]()
    this.#decode = decode
    this.#timers = timers
  }

  /** The next frame, or null when the remote closed; throws on timeout or a bad frame. */
  async next (timeoutMs: number): Promise<In | null> {
    let handle: unknown
    const pending = this.#frames.next()
    pending.catch(() => {})
    const timeout = new Promise<never>((_resolve, reject) => {
      handle = this.#timers.setTimeout(() => { reject(new SessionProtocolError(SessionWireRejection.TIMEOUT, `nothing from the other side for ${timeoutMs} ms`)) }, timeoutMs)
    })
    timeout.catch(() => {})
    try {
      const r = await Promise.race([pending, timeout])
      if (r.done === true) return null
      return this.#decode(r.value)
    } finally {
      this.#timers.clearTimeout(handle)
    }
  }

  send (bytes: Uint8Array): void {
    if (this.#closing) return
    // A failed write means the stream broke: its reader ends and the session ends as
    // peer-gone there, with what is owed settled; the write itself has nothing to add.
    writeFrame(this.stream, bytes).catch(() => {})
  }

  /** Closes our writing end after what was sent; the remote's reads end. */
  async close (): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await this.stream.close({ signal: AbortSignal.timeout(5_000) }).catch(() => { this.abort(new SessionEndedError()) })
  }

  abort (err: Error): void {
    this.#closing = true
    this.stream.abort(err)
  }
}

function codeOf (err: unknown): string {
  return isAllianceError(err) ? err.code : SessionWireRejection.FRAME
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

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

export interface SessionRuntime {
  readonly timing: SessionTiming
  readonly timers: Timers
  readonly now: () => number
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
  readonly #stopListeners = new Set<() => void>()
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
    if (this.stopped) {
      listener()
      return () => {}
    }
    this.#stopListeners.add(listener)
    return () => { this.#stopListeners.delete(listener) }
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
        for (const l of [...this.#stopListeners]) {
          this.#stopListeners.delete(l)
          try { l() } catch { /* a listener must not break the session */ }
        }
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

function keepalive (rt: SessionRuntime, send: () => void): () => void {
  let handle: unknown = null
  let stopped = false
  const arm = (): void => {
    handle = rt.timers.setTimeout(() => {
      if (stopped) return
      send()
      arm()
    }, rt.timing.keepaliveMs)
  }
  arm()
  return () => {
    stopped = true
    if (handle !== null) rt.timers.clearTimeout(handle)
  }
}

// ---------------------------------------------------------------------------------------------
// Payer

export interface PayerHooks {
  changed: (session: PayerSession) => void
  ended: (session: PayerSession) => void
}

export interface PayerSessionInit extends SessionRuntime {
  readonly id: SessionId
  readonly request: SignedSessionRequest
  readonly terms: SessionTerms
  readonly maxRounds?: number
  readonly maxCredits?: number
  /** The payer's signing seed (read per voucher; throws while the wallet is locked). */
  readonly seed: () => Uint8Array
  readonly hooks: PayerHooks
}

export interface Accepted {
  readonly session: SessionId
  readonly hotspot?: Uint8Array
}

/**
 * Step 1 on the payer's side: writes `open` on a fresh stream and waits for the provider's
 * answer. Resolves to the accepted session and the channel to run it on; throws the
 * provider's rejection as a SessionProtocolError with its code.
 */
export async function openSessionStream (stream: Stream, open: OpenFrame, rt: SessionRuntime): Promise<{ accepted: Accepted, channel: PayerChannel }> {
  const channel = new FrameChannel<ProviderFrame>(stream, SESSION_FRAME_MAX_BYTES, decodeProviderFrame, rt.timers)
  const expected = sessionIdOf(open.request)
  try {
    channel.send(encodePayerFrame(open))
    const answer = await channel.next(rt.timing.openTimeoutMs)
    if (answer === null) throw new SessionProtocolError(SessionWireRejection.BAD_ANSWER, 'the provider closed the stream without an answer')
    if (answer.t === 'reject') throw new SessionProtocolError(answer.code, answer.message)
    if (answer.t !== 'accept') throw new SessionProtocolError(SessionWireRejection.BAD_ANSWER, `expected accept or reject, got ${answer.t}`)
    if (answer.session !== expected) throw new SessionProtocolError(SessionWireRejection.BAD_ANSWER, 'the provider accepted another session id')
    const accepted: Accepted = answer.hotspot === undefined ? { session: expected } : { session: expected, hotspot: answer.hotspot }
    return { accepted, channel }
  } catch (err) {
    await channel.close()
    channel.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

/** The payer's end of an accepted session stream (opaque outside this module). */
export type PayerChannel = FrameChannel<ProviderFrame>

/** Sends a raw payer frame (tests and tools that act as a payer by hand). */
export function sendPayerFrame (channel: PayerChannel, frame: PayerFrame): void {
  channel.send(encodePayerFrame(frame))
}

/** Reads the next provider frame (tests and tools); null when the provider closed. */
export async function nextProviderFrame (channel: PayerChannel, timeoutMs: number): Promise<ProviderFrame | null> {
  return await channel.next(timeoutMs)
}

export async function closePayerChannel (channel: PayerChannel): Promise<void> {
  await channel.close()
}

/** The payer's side of one running session. */
export class PayerSession implements PayerMeter {
  readonly id: SessionId
  readonly request: SignedSessionRequest
  readonly terms: SessionTerms
  readonly maxRounds: number | null
  readonly #machine: SessionMachine<PayerState, PayerAction>
  readonly #init: PayerSessionInit
  readonly #channel: PayerChannel
  readonly #stopListeners = new Set<() => void>()
  #newest: SignedVoucher | null = null
  #signed = 0
  #lateUnits = 0
  #acked = 0
  #rejected: Record<string, number> = {}
  #settleTxs: string[] = []
  #providerReason: string | null = null
  #override: EndReason | null = null
  #endReason: EndReason | null = null
  #done = false
  #startedAt = 0
  #ticks = 0
  #tickTimer: unknown = null
  #pingStop: (() => void) | null = null
  readonly #finished: Promise<void>
  #finish: () => void = () => {}

  constructor (channel: PayerChannel, init: PayerSessionInit) {
    this.#channel = channel
    this.#init = init
    this.id = init.id
    this.request = init.request
    this.terms = init.terms
    this.maxRounds = init.maxRounds ?? null
    this.#machine = createPayerMachine({ session: init.id, payer: init.request.payer, terms: init.terms, maxRounds: init.maxRounds, maxCredits: init.maxCredits })
    this.#finished = new Promise((resolve) => { this.#finish = resolve })
  }

  get state (): PayerState { return this.#machine.state }
  get stopped (): boolean { return this.#machine.state.phase === 'stopped' }
  get newestVoucher (): SignedVoucher | null { return this.#newest }
  get vouchersSigned (): number { return this.#signed }
  /** Units used: what the machine counted, plus what arrived after the session stopped. */
  get unitsUsed (): number { return this.#machine.state.received + this.#lateUnits }
  get vouchersAcked (): number { return this.#acked }
  get rejected (): Readonly<Record<string, number>> { return this.#rejected }
  get settleTxs (): readonly string[] { return this.#settleTxs }
  get endReason (): EndReason | null { return this.#endReason }
  /** The session is over and its stream closed. */
  get finished (): Promise<void> { return this.#finished }

  /** Starts the session (after `accept`): the read loop, pings and, for time offers, the clock. */
  start (): void {
    this.#startedAt = this.#init.now()
    this.#feed({ type: 'start', at: this.#startedAt })
    this.#pingStop = keepalive(this.#init, () => { this.#channel.send(encodePayerFrame({ t: 'ping' })) })
    if (this.terms.unit === 'seconds') this.#tick()
    void this.#readLoop()
  }

  reserve (max: number): number {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError('reserve(max) needs a non-negative integer')
    const s = this.#machine.state
    if (s.phase === 'stopped' || max === 0) return 0
    const cap = this.maxRounds === null ? Number.MAX_SAFE_INTEGER : this.maxRounds * this.terms.roundSize
    const n = Math.min(max, cap - s.received)
    if (n <= 0) return 0
    this.#feed({ type: 'unitsUsed', n, at: this.#init.now() })
    return n
  }

  received (n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('received(n) needs a non-negative integer')
    // units still in flight when the provider ended count as used, though nothing more is signed
    if (this.stopped) {
      this.#lateUnits += n
      this.#init.hooks.changed(this)
      return
    }
    if (n === 0) return
    this.#feed({ type: 'unitsUsed', n, at: this.#init.now() })
  }

  onStop (listener: () => void): () => void {
    if (this.stopped) {
      listener()
      return () => {}
    }
    this.#stopListeners.add(listener)
    return () => { this.#stopListeners.delete(listener) }
  }

  /** Step 8: the payer stops now. */
  stop (): void {
    if (this.stopped) {
      // waiting for the provider's totals after completing: no need to wait any longer
      void this.#close()
      return
    }
    this.#feed({ type: 'stop', by: 'payer', at: this.#init.now() })
  }

  /**
   * Time offers count units begun, not finished: the payer has the service from the moment
   * a second starts, so it signs a round's voucher as the round starts (F5), well inside the
   * provider's trial slice, which runs in whole units.
   */
  #scheduleTick (): void {
    if (this.stopped) return
    const due = this.#startedAt + this.#ticks * this.#init.timing.unitMs
    this.#tickTimer = this.#init.timers.setTimeout(() => { guard(() => { this.#tick() }) }, Math.max(0, due - this.#init.now()))
  }

  #tick (): void {
    this.#tickTimer = null
    const begun = Math.floor((this.#init.now() - this.#startedAt) / this.#init.timing.unitMs) + 1
    while (this.#ticks < begun && !this.stopped) {
      this.#ticks++
      this.#feed({ type: 'unitsUsed', n: 1, at: this.#init.now() })
    }
    this.#scheduleTick()
  }

  async #readLoop (): Promise<void> {
    for (;;) {
      let frame: ProviderFrame | null
      try {
        frame = await this.#channel.next(this.#init.timing.idleMs)
      } catch (err) {
        this.#providerGone(isAllianceError(err) && err.code === SessionWireRejection.TIMEOUT ? 'peer-gone' : 'error')
        this.#channel.abort(err instanceof Error ? err : new Error(String(err)))
        break
      }
      if (frame === null) {
        this.#providerGone('peer-gone')
        break
      }
      switch (frame.t) {
        case 'ack': this.#acked = Math.max(this.#acked, frame.round); break
        case 'nack': this.#rejected = { ...this.#rejected, [frame.code]: (this.#rejected[frame.code] ?? 0) + 1 }; break
        case 'settle': if (this.#settleTxs.length < 10_000) this.#settleTxs = [...this.#settleTxs, frame.tx]; break
        case 'ended':
          this.#providerReason = frame.reason
          if (!this.stopped) this.#feed({ type: 'stop', by: 'provider', at: this.#init.now() })
          else void this.#close()
          break
        case 'ping': break
        case 'accept': case 'reject': break
      }
      this.#init.hooks.changed(this)
    }
    await this.#close()
  }

  #providerGone (reason: EndReason): void {
    if (!this.stopped) {
      this.#override = reason
      this.#feed({ type: 'stop', by: 'provider', at: this.#init.now() })
    }
  }

  async #close (): Promise<void> {
    if (this.#done) return
    this.#done = true
    if (this.#tickTimer !== null) { this.#init.timers.clearTimeout(this.#tickTimer); this.#tickTimer = null }
    this.#pingStop?.()
    await this.#channel.close()
    this.#finish()
  }

  #feed (event: SessionEvent): void {
    const { actions } = this.#machine.next(event)
    for (const a of actions) this.#act(a)
    this.#init.hooks.changed(this)
  }

  #act (a: PayerAction): void {
    switch (a.type) {
      case 'signVoucher': {
        // F5: sign the round's voucher as its first units arrive; it goes out before them
        let signed: SignedVoucher
        try {
          signed = signVoucher(this.#init.seed(), a.voucher)
        } catch {
          // no key (the wallet locked): nothing more can be paid for, so the session stops
          queueMicrotask(() => { this.stop() })
          return
        }
        this.#newest = signed
        this.#signed++
        this.#channel.send(encodePayerFrame({ t: 'voucher', voucher: signed }))
        return
      }
      case 'halt':
        if (this.#tickTimer !== null) { this.#init.timers.clearTimeout(this.#tickTimer); this.#tickTimer = null }
        return
      case 'ended': {
        const reason: EndReason = this.#override ?? (a.reason === 'stopped-by-provider' && isEndReason(this.#providerReason) ? this.#providerReason : a.reason)
        this.#endReason = reason
        for (const l of [...this.#stopListeners]) {
          this.#stopListeners.delete(l)
          try { l() } catch { /* a listener must not break the session */ }
        }
        if (a.reason === 'budget' || a.reason === 'stopped-by-payer') {
          this.#channel.send(encodePayerFrame({ t: 'stop' }))
          void this.#close()
        } else if (a.reason === 'completed') {
          // everything bought has been counted; the last units may still be on their way to
          // the provider, which then ends the session itself. If it does not within the
          // voucher wait, say stop.
          if (this.#providerReason !== null) void this.#close()
          else {
            this.#tickTimer = this.#init.timers.setTimeout(() => {
              this.#tickTimer = null
              this.#channel.send(encodePayerFrame({ t: 'stop' }))
              void this.#close()
            }, this.#init.timing.voucherWaitMs)
          }
        } else {
          void this.#close()
        }
        this.#init.hooks.ended(this)
      }
    }
  }
}

/** Runs a timer callback; a failure is logged rather than left to crash the process. */
function guard (fn: () => void): void {
  try {
    fn()
  } catch (err) {
    console.error('session timer failed', err)
  }
}

const END_REASONS: readonly string[] = ['no-voucher', 'completed', 'budget', 'stopped-by-payer', 'stopped-by-provider', 'peer-gone', 'error']

function isEndReason (value: unknown): value is EndReason {
  return typeof value === 'string' && END_REASONS.includes(value)
}
