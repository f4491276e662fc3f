/**
 * The RTCPeerConnection budget (no libp2p import: the runtime keeps one per tab before the
 * mesh code is loaded).
 *
 * Chromium allows about 500 RTCPeerConnections per renderer process over its lifetime (a
 * reload keeps the process, crbug 41378764, js-libp2p#2591), and every WebRTC handshake, in
 * either direction and successful or not, spends one. Past that, `new RTCPeerConnection()`
 * throws "Cannot create so many PeerConnections" and the tab can reach nobody until it is
 * closed and opened again. So:
 *
 * - `RtcBudget` counts the connections this tab created (carried over reloads by the caller,
 *   see `used`), refuses to start a handshake past `limit`, and says when it is spent (also
 *   when the browser refused first);
 * - `guardedWebRTC` (webrtc-guard.ts) wraps `@libp2p/webrtc`'s transport so that every handshake, outbound
 *   (`dial`) and inbound (a signaling stream), passes the budget, and so that no handshake
 *   starts towards a peer that is already being dialed, is dialing us, or (inbound) when the
 *   tab already holds `maxDirect` direct connections; concurrent handshakes are capped per
 *   direction. When both peers dial each other at the same instant, the first dialer's
 *   handshake wins (`dialsFirst`, N17): it refuses the other one's inbound handshake while its
 *   own dial is in flight.
 */
import { AllianceError } from '../core/errors.ts'
import { DEFAULT_WEBRTC_DIAL_BUDGET } from './constants.ts'

/** No RTCPeerConnection may be created any more in this tab: close and reopen the app. */
export class RtcBudgetSpentError extends AllianceError {
  constructor (message = 'this tab has used up the WebRTC connections the browser allows; close the app and open it again') {
    super('ERR_RTC_BUDGET_SPENT', message)
  }
}

/** A handshake was not started because one to the same peer runs, or the peer is connected. */
export class DuplicateDialError extends AllianceError {
  constructor (message: string) {
    super('ERR_DIAL_DUPLICATE', message)
  }
}

/** Too many handshakes at once in one direction, or too many direct connections (inbound). */
export class HandshakeLimitError extends AllianceError {
  constructor (message: string) {
    super('ERR_HANDSHAKE_LIMIT', message)
  }
}

export interface RtcBudgetState {
  /** RTCPeerConnections created by this tab (including earlier sessions of it). */
  used: number
  limit: number
  /** True once `used >= limit` or the browser refused to create one. */
  spent: boolean
}

export interface RtcBudgetOptions {
  /** Default DEFAULT_WEBRTC_DIAL_BUDGET (400: below Chromium's ~500, leaving room for inbound). */
  limit?: number
  /** Already spent by this tab before (e.g. read from sessionStorage after a reload). */
  used?: number
  /** Called after every change (e.g. to persist `used`, or to tell the user). */
  onChange?: (state: RtcBudgetState) => void
}

/** The message Chromium throws from `new RTCPeerConnection()` once its per-process cap is hit. */
export function isTooManyPeerConnections (err: unknown): boolean {
  return /so many PeerConnections/i.test((err as Error | undefined)?.message ?? '')
}

export class RtcBudget {
  private readonly limit: number
  private used: number
  private refused = false
  private readonly listeners = new Set<(state: RtcBudgetState) => void>()

  constructor (opts: RtcBudgetOptions = {}) {
    this.limit = opts.limit ?? DEFAULT_WEBRTC_DIAL_BUDGET
    this.used = opts.used ?? 0
    if (!Number.isInteger(this.limit) || this.limit < 0) throw new RangeError('limit must be a non-negative integer')
    if (!Number.isInteger(this.used) || this.used < 0) throw new RangeError('used must be a non-negative integer')
    if (opts.onChange != null) this.listeners.add(opts.onChange)
  }

  state (): RtcBudgetState {
    return { used: this.used, limit: this.limit, spent: this.refused || this.used >= this.limit }
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe (listener: (state: RtcBudgetState) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Takes one connection from the budget, or throws RtcBudgetSpentError. */
  spend (): void {
    if (this.state().spent) throw new RtcBudgetSpentError()
    this.used++
    this.emit()
  }

  /** The browser refused to create a connection: nothing more can be done in this tab. */
  markRefused (): void {
    if (this.refused) return
    this.refused = true
    this.emit()
  }

  private emit (): void {
    const s = this.state()
    for (const l of this.listeners) l(s)
  }
}

