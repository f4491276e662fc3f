/**
 * A guard around `@libp2p/webrtc`'s transport: every handshake, outbound (`dial`) and inbound
 * (a signaling stream), spends from the tab's RtcBudget (rtc-budget.ts), and no handshake
 * starts towards a peer that is already being dialed or is dialing us, or (inbound) when the
 * tab already holds `maxDirect` direct connections; concurrent handshakes are capped per
 * direction, and an inbound one past the cap waits for a slot (up to `maxQueuedInbound` of
 * them, within the inbound upgrade timeout) instead of being refused. When both peers dial
 * each other at once, the first dialer's handshake wins (`dialsFirst`, the mesh's own order,
 * N17): it refuses the other one's inbound handshake while its own dial is in flight, and the
 * other side takes the first dialer's in (its own dial, usually seconds younger, is then
 * refused or aborted by the mesh). An inbound handshake from a peer we already hold a direct
 * connection to is refused (N3, N17): a dial that started before that connection existed
 * would otherwise end in a duplicate, and both would be closed.
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
import { dialsFirst } from './dial-order.ts'

export interface WebRtcGuardOptions {
  budget: RtcBudget
  /** Inbound handshakes running at once. Default 4. */
  maxInboundHandshakes?: number
  /** Inbound handshakes waiting for one of those slots (refused past this). Default 8. */
  maxQueuedInbound?: number
  /** Outbound handshakes running at once. Default 4. */
  maxOutboundHandshakes?: number
  /** Direct connections past which inbound handshakes are refused. Default 16. */
  maxDirect?: number
  /** Inbound handshakes one peer may start per minute (N14). Default 6. */
  inboundPerPeerPerMinute?: number
  /** Inbound handshakes from everyone per minute (N14). Default 60. */
  inboundPerMinute?: number
  log?: (line: string) => void
  /** The transport guarded; default `webRTC(init)` (tests give a fake one). */
  inner?: (components: WebRtcComponents) => Transport
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
  /** Inbound handshakes running (what the cap counts). */
  const inbound = new Set<string>()
  /** Inbound handshakes waiting for a slot or running, each until it has ended. */
  const pending = new Map<string, Promise<void>>()
  /** Wake-ups of handshakes waiting for a slot, oldest first. */
  const waiting: Array<() => void> = []
  const maxIn = opts.maxInboundHandshakes ?? 4
  const maxQueued = opts.maxQueuedInbound ?? 8
  const maxOut = opts.maxOutboundHandshakes ?? 4
  const maxDirect = opts.maxDirect ?? 16
  // a signaling stream costs an RTCPeerConnection from a lifetime budget of ~500 (N2): a peer
  // re-dialing in a loop, or many keys through one relay, must not spend it (N14)
  const rate = new InboundRate(opts.inboundPerPeerPerMinute ?? 6, opts.inboundPerMinute ?? 60)
  const log = opts.log ?? (() => {})
  const view: HandshakeView = {
    handshaking: peer => outbound.has(peer) || pending.has(peer),
    inboundSettled: async peer => { await pending.get(peer) }
  }
  /** Resolves when a running inbound handshake has ended (or rejects when `signal` aborts). */
  const slot = async (signal: AbortSignal): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        const i = waiting.indexOf(wake)
        if (i >= 0) waiting.splice(i, 1)
        reject(signal.reason ?? new Error('aborted'))
      }
      if (signal.aborted) { reject(signal.reason ?? new Error('aborted')); return }
      signal.addEventListener('abort', onAbort, { once: true })
      waiting.push(wake)
    })
  }

  const transport = (components: WebRtcComponents): Transport => {
    const inner = (opts.inner ?? webRTC(init))(components) as Transport & { _onProtocol?: OnProtocol }
    const self = components.peerId.toString()
    const directCount = (): number => components.connectionManager.getConnections().filter(isDirectConn).length
    const directTo = (peer: string): boolean => components.connectionManager.getConnections().some(c => c.remotePeer.toString() === peer && isDirectConn(c))

    const dial = inner.dial.bind(inner)
    inner.dial = async (ma, options) => {
      const peer = peerOf(ma)
      // without a relay circuit there is no signaling path: refuse before spending anything
      // (libp2p may try `/webrtc/p2p/<peer>` from its peer store, e.g. a ping by PeerId)
      if (peer == null || !ma.getComponents().some(c => c.name === 'p2p-circuit')) {
        throw new InvalidInputError(`not a relayed WebRTC address: ${ma.toString()}`, 'ERR_NO_CIRCUIT')
      }
      if (outbound.has(peer)) throw new DuplicateDialError(`a WebRTC dial to ${peer} is already running`)
      if (pending.has(peer)) throw new DuplicateDialError(`${peer} is dialing us right now`)
      if (directTo(peer)) throw new DuplicateDialError(`already directly connected to ${peer}`)
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
      if (pending.has(peer)) { refuse('a handshake from it is already running'); return }
      const limited = rate.take(peer, Date.now())
      if (limited != null) { refuse(limited); return }
      let ended = (): void => {}
      pending.set(peer, new Promise<void>(resolve => { ended = resolve }))
      let running = false
      try {
        for (;;) {
          if (opts.budget.state().spent) { refuse('RTCPeerConnection budget spent'); return }
          // both dialed at once: the first dialer's handshake wins (N17)
          if (outbound.has(peer) && dialsFirst(self, peer)) { refuse('our own dial to it is running'); return }
          // its dial started before the connection we hold now (e.g. ours, or its first one)
          if (directTo(peer)) { refuse('a direct connection to it is open'); return }
          if (directCount() >= maxDirect) { refuse(`${maxDirect} direct connections are open`); return }
          if (inbound.size < maxIn) break
          // busy: the dialer's offer waits here for a slot rather than being refused (a
          // refusal cost it an RTCPeerConnection and a backoff, and a forming mesh of 8 tabs
          // lost a third of its dials that way)
          if (waiting.length >= maxQueued) { refuse(`${inbound.size} inbound handshakes are running and ${waiting.length} wait`); return }
          try {
            await slot(signal)
          } catch {
            refuse('no inbound handshake slot came free in time')
            return
          }
        }
        opts.budget.spend()
        inbound.add(peer)
        running = true
        log(`webrtc: inbound handshake from ${peer}`)
        await onProtocol(stream, connection, signal).then(() => {
          log(`webrtc: inbound handshake from ${peer} done`)
        }, (err: unknown) => {
          log(`webrtc: inbound handshake from ${peer} failed: ${(err as Error)?.message?.split('\n')[0]}`)
          if (isTooManyPeerConnections(err)) opts.budget.markRefused()
          throw err
        })
      } finally {
        pending.delete(peer)
        if (running) {
          inbound.delete(peer)
          waiting.shift()?.()
        }
        ended()
      }
    }
    return inner
  }
  return { transport, view }
}

/** Sliding one-minute windows of inbound handshake starts, per peer and in total (N14). */
export class InboundRate {
  private readonly perPeer = new Map<string, number[]>()
  private all: number[] = []

  constructor (private readonly perPeerLimit: number, private readonly totalLimit: number, private readonly maxTracked = 1024) {}

  /** Records a start at `now`, or returns why it is refused (nothing recorded then). */
  take (peer: string, now: number): string | null {
    this.all = this.all.filter(t => now - t < 60_000)
    if (this.all.length >= this.totalLimit) return `${this.totalLimit} inbound handshakes in the last minute`
    const mine = (this.perPeer.get(peer) ?? []).filter(t => now - t < 60_000)
    if (mine.length >= this.perPeerLimit) return `${this.perPeerLimit} handshakes from it in the last minute`
    mine.push(now)
    this.all.push(now)
    this.perPeer.delete(peer)
    this.perPeer.set(peer, mine)
    while (this.perPeer.size > this.maxTracked) this.perPeer.delete(this.perPeer.keys().next().value as string)
    return null
  }
}
