/**
 * The RTCPeerConnection budget and a guard around the WebRTC transport.
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
 * - `guardedWebRTC` wraps `@libp2p/webrtc`'s transport so that every handshake, outbound
 *   (`dial`) and inbound (a signaling stream), passes the budget, and so that no handshake
 *   starts towards a peer that is already being dialed, is dialing us, or (inbound) when the
 *   tab already holds `maxDirect` direct connections; concurrent handshakes are capped per
 *   direction. When both peers dial each other at the same instant, the dial of the lower
 *   PeerId wins (the mesh's tie-break): the lower side refuses the higher one's inbound
 *   handshake while its own dial is in flight.
 */
import { webRTC } from '@libp2p/webrtc'
import type { WebRTCTransportInit } from '@libp2p/webrtc'
import type { Connection, Stream, Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { AllianceError, InvalidInputError } from '../core/errors.ts'
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

export interface WebRtcGuardOptions {
  budget: RtcBudget
  /** Inbound handshakes running at once. Default 4. */
  maxInboundHandshakes?: number
  /** Outbound handshakes running at once. Default 4. */
  maxOutboundHandshakes?: number
  /** Direct connections past which inbound handshakes are refused. Default 16. */
  maxDirect?: number
  log?: (line: string) => void
}

/** What the mesh asks the guard. */
export interface HandshakeView {
  /** A handshake with `peer` is running (either direction). */
  handshaking: (peer: string) => boolean
  /** Resolves when the inbound handshake from `peer` (if any) has ended. */
  inboundSettled: (peer: string) => Promise<void>
}

type WebRtcComponents = Parameters<ReturnType<typeof webRTC>>[0]
type OnProtocol = (stream: Stream, connection: Connection, signal: AbortSignal) => Promise<void>

function peerOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}

function isDirectConn (c: Connection): boolean {
  return c.status === 'open' && c.limits == null && c.remoteAddr.getComponents().some(x => x.name === 'webrtc')
}

/**
 * `webRTC(init)` with the budget and the duplicate/limit checks of the module header. Returns
 * the transport factory for libp2p's `transports` and the view the mesh uses.
 */
export function guardedWebRTC (init: WebRTCTransportInit, opts: WebRtcGuardOptions): { transport: (components: WebRtcComponents) => Transport, view: HandshakeView } {
  const outbound = new Set<string>()
  const inbound = new Map<string, Promise<void>>()
  const maxIn = opts.maxInboundHandshakes ?? 4
  const maxOut = opts.maxOutboundHandshakes ?? 4
  const maxDirect = opts.maxDirect ?? 16
  const log = opts.log ?? (() => {})
  const view: HandshakeView = {
    handshaking: peer => outbound.has(peer) || inbound.has(peer),
    inboundSettled: async peer => { await inbound.get(peer) }
  }

  const transport = (components: WebRtcComponents): Transport => {
    const inner = webRTC(init)(components) as Transport & { _onProtocol?: OnProtocol }
    const self = components.peerId.toString()
    const directCount = (): number => components.connectionManager.getConnections().filter(isDirectConn).length

    const dial = inner.dial.bind(inner)
    inner.dial = async (ma, options) => {
      const peer = peerOf(ma)
      // without a relay circuit there is no signaling path: refuse before spending anything
      // (libp2p may try `/webrtc/p2p/<peer>` from its peer store, e.g. a ping by PeerId)
      if (peer == null || !ma.getComponents().some(c => c.name === 'p2p-circuit')) {
        throw new InvalidInputError(`not a relayed WebRTC address: ${ma.toString()}`, 'ERR_NO_CIRCUIT')
      }
      if (outbound.has(peer)) throw new DuplicateDialError(`a WebRTC dial to ${peer} is already running`)
      if (inbound.has(peer)) throw new DuplicateDialError(`${peer} is dialing us right now`)
      if (components.connectionManager.getConnections().some(c => c.remotePeer.toString() === peer && isDirectConn(c))) {
        throw new DuplicateDialError(`already directly connected to ${peer}`)
      }
      if (outbound.size >= maxOut) throw new HandshakeLimitError(`${outbound.size} outbound WebRTC handshakes are running`)
      opts.budget.spend()
      outbound.add(peer)
      try {
        return await dial(ma, options)
      } catch (err) {
        if (isTooManyPeerConnections(err)) opts.budget.markRefused()
        throw err
      } finally {
        outbound.delete(peer)
      }
    }

    const onProtocol = inner._onProtocol?.bind(inner)
    if (onProtocol == null) throw new TypeError('@libp2p/webrtc changed: the transport has no _onProtocol; update src/net/rtc-budget.ts')
    inner._onProtocol = async (stream, connection, signal) => {
      const peer = connection.remotePeer.toString()
      const refuse = (why: string): void => {
        log(`webrtc: refused a handshake from ${peer}: ${why}`)
        stream.abort(new HandshakeLimitError(why))
      }
      if (opts.budget.state().spent) { refuse('RTCPeerConnection budget spent'); return }
      if (inbound.has(peer)) { refuse('a handshake from it is already running'); return }
      // both dialed at once: the lower PeerId's dial wins
      if (outbound.has(peer) && self < peer) { refuse('our own dial to it is running'); return }
      if (inbound.size >= maxIn) { refuse(`${inbound.size} inbound handshakes are running`); return }
      if (directCount() >= maxDirect) { refuse(`${maxDirect} direct connections are open`); return }
      opts.budget.spend()
      const run = onProtocol(stream, connection, signal).catch((err: unknown) => {
        if (isTooManyPeerConnections(err)) opts.budget.markRefused()
        throw err
      })
      const settled = run.then(() => {}, () => {}).finally(() => { inbound.delete(peer) })
      inbound.set(peer, settled)
      await run
    }
    return inner
  }
  return { transport, view }
}
