/**
 * The payer's side of `/alliance/session/1` (white paper 5.6.1; SPEC F1–F7): opens the
 * session on a fresh stream, signs each round's voucher before its trial slice ends, and ends
 * on the provider's word, its own stop, or silence (SPEC in session-protocol.ts's header).
 */
import type { Stream } from '@libp2p/interface'
import { isAllianceError } from '../core/errors.ts'
import { createPayerMachine } from '../core/session/machine.ts'
import type { PayerAction, PayerState, SessionEvent, SessionMachine } from '../core/session/machine.ts'
import { sessionIdOf } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import type { SessionId, SessionTerms } from '../core/session/terms.ts'
import { signVoucher } from '../core/session/voucher.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { decodeProviderFrame, encodePayerFrame, SESSION_FRAME_MAX_BYTES, SessionProtocolError, SessionWireRejection } from './session-wire.ts'
import type { OpenFrame, PayerFrame, ProviderFrame } from './session-wire.ts'
import { FrameChannel, guard, keepalive } from './session-channel.ts'
import type { EndReason, PayerMeter, SessionRuntime } from './session-channel.ts'
import { StopListeners } from './stop-listeners.ts'

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
  readonly #stopListeners = new StopListeners(() => this.stopped)
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
    return this.#stopListeners.add(listener)
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
        this.#stopListeners.fire()
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


const END_REASONS: readonly string[] = ['no-voucher', 'completed', 'budget', 'stopped-by-payer', 'stopped-by-provider', 'peer-gone', 'error']

function isEndReason (value: unknown): value is EndReason {
  return typeof value === 'string' && END_REASONS.includes(value)
}
