/**
 * A guard around `@libp2p/webrtc`'s transport: every handshake, outbound (`dial`) and inbound
 * (a signaling stream), spends from the tab's RtcBudget (rtc-budget.ts), and no handshake
 * starts towards a peer that is already being dialed or is dialing us, or (inbound) when the
 * tab already holds `maxDirect` direct connections; concurrent handshakes are capped per
 * direction. When both peers dial each other at the same instant, the dial of the lower
 * PeerId wins (the mesh's tie-break): the lower side refuses the higher one's inbound
 * handshake while its own dial is in flight (SPEC N2, N3).
 *
 * It wraps the transport instance's `dial` and `_onProtocol` (the per-signaling-stream
 * handler that creates the inbound RTCPeerConnection); a version of the library without
 * `_onProtocol` makes node creation fail loudly rather than run unguarded.
 */
import { webRTC } from '@libp2p/webrtc'
import type { WebRTCTransportInit } from '@libp2p/webrtc'
import type { Connection, Stream, Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidInputError } from '../core/errors.ts'
import { DuplicateDialError, HandshakeLimitError, isTooManyPeerConnections } from './rtc-budget.ts'
import type { RtcBudget } from './rtc-budget.ts'

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
      log(`webrtc: inbound handshake from ${peer}`)
      const run = onProtocol(stream, connection, signal).then(() => {
        log(`webrtc: inbound handshake from ${peer} done`)
      }, (err: unknown) => {
        log(`webrtc: inbound handshake from ${peer} failed: ${(err as Error)?.message?.split('\n')[0]}`)
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
