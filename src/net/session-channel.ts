/**
 * What both sides of `/alliance/session/1` share (session-protocol.ts is the provider,
 * session-payer.ts the payer): timing, the timers port, the views' types, the frame channel
 * over a stream (size-capped frames, a timeout per read), keepalive pings and a guard for
 * timer callbacks.
 */
import type { Stream } from '@libp2p/interface'
import { AllianceError, isAllianceError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import type { StopReason } from '../core/session/machine.ts'
import { readFrames, writeFrame } from './frames.ts'
import { SessionProtocolError, SessionWireRejection } from './session-wire.ts'

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


export interface SessionRuntime {
  readonly timing: SessionTiming
  readonly timers: Timers
  readonly now: () => number
}

// ---------------------------------------------------------------------------------------------
// Frame channel

export class FrameChannel<In> {
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

export function codeOf (err: unknown): string {
  return isAllianceError(err) ? err.code : SessionWireRejection.FRAME
}

export function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}


export function keepalive (rt: SessionRuntime, send: () => void): () => void {
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

/** Runs a timer callback; a failure is logged rather than left to crash the process. */
export function guard (fn: () => void): void {
  try {
    fn()
  } catch (err) {
    console.error('session timer failed', err)
  }
}
