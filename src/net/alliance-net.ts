/**
 * The alliance node: one libp2p node per peer (a browser tab, or Node in tests), wired for the
 * alliance mesh. Transports: WebSockets (to relays), circuit relay (signaling), WebRTC (peer to
 * peer); Noise; Yamux; identify, ping, gossipsub, pubsub peer discovery.
 *
 * What it guarantees:
 * - a reservation on every configured relay, re-made after a relay comes back (RelayKeeper);
 * - discovered peers are upgraded to direct WebRTC connections, `targetDirect` of them kept
 *   (Mesh), with a deterministic tie-break and backoff on failed upgrades;
 * - application protocols (`handle`, `dialProtocol`, DMs) run on direct connections only,
 *   never through a relay;
 * - frames from peers are size-capped and decoded at the boundary; rejections are counted by
 *   code and a peer that keeps sending garbage is hung up on and denied for a while.
 *
 * The libp2p configuration is in node-config.ts. Browser: import from `src/net/index.ts`.
 * Node: import `src/net/node.ts` (it installs the Node 20 shims first).
 */
import './polyfills.ts'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, IdentifyResult, Libp2p, PeerInfo, PrivateKey, Startable, Stream } from '@libp2p/interface'
import { prunePeerStore } from './peer-store-cap.ts'
import { applicationValidator, discoveryValidator, scoreTopics, topicScore, type GossipHandler } from './gossip-guard.ts'
import { didFromPeerId, peerIdStringFromDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { isAllianceError, InvalidInputError, TooLargeError } from '../core/errors.ts'
import { ANNOUNCE_COALESCE_MS, DM_PROTOCOL, MAINTENANCE_INTERVAL_MS, MAX_GOSSIP_BYTES, MAX_PEER_STORE_ENTRIES } from './constants.ts'
import { NotDirectlyConnectedError, NotStartedError, PeerDeniedError } from './errors.ts'
import { Mesh, isDirect } from './mesh.ts'
import type { MeshStats } from './mesh.ts'
import type { MisbehaviourTracker, MisbehaviourStats } from './misbehaviour.ts'
import type { RelayKeeper, RelayState } from './relay-keeper.ts'
import { DmService } from './dm.ts'
import type { DmMessage } from './dm.ts'
import type { RtcBudget, RtcBudgetState } from './rtc-budget.ts'
import { buildNode } from './node-config.ts'
import type { AllianceNetOptions, AllianceServices, Hooks, Internals } from './node-config.ts'

export type { AllianceNetOptions, AllianceServices } from './node-config.ts'

export interface PeerView {
  did: Did
  peerId: string
  /** direct = an open connection without relay limits (WebRTC); relayed = only via a relay. */
  kind: 'direct' | 'relayed'
  rttMs?: number
  /** Remote address of the connection shown. */
  addr: string
}

export interface RelayView {
  addr: string
  state: RelayState
  since: number
}

export interface NetStats extends MisbehaviourStats, MeshStats {
  dmSent: number
  dmReceived: number
}

export interface ProtocolContext {
  did: Did
  peerId: string
  connection: Connection
}

export type ProtocolHandler = (stream: Stream, ctx: ProtocolContext) => void | Promise<void>
export type { GossipHandler, GossipVerdict } from './gossip-guard.ts'

/** Builds the node (not started). */
export async function createAllianceNet (opts: AllianceNetOptions): Promise<AllianceNet> {
  const { node, internals } = await buildNode(opts)
  return new AllianceNet(node, internals)
}

export class AllianceNet extends EventTarget implements Startable {
  readonly libp2p: Libp2p<AllianceServices>
  readonly did: Did
  readonly peerId: string
  private readonly log: (line: string) => void
  private readonly misbehaviour: MisbehaviourTracker
  private readonly hooks: Hooks
  private readonly discoveryTopic: string
  private readonly mesh: Mesh
  private readonly dm: DmService
  private readonly budget: RtcBudget
  private readonly hopPeers = new Set<string>()
  private readonly topicHandlers = new Map<string, Set<GossipHandler>>()
  private tickTimer?: ReturnType<typeof setInterval>
  private lastSignature = ''
  private changeQueued = false
  private broadcastTimer?: ReturnType<typeof setTimeout>
  private started = false
  private ticks = 0

  constructor (libp2p: Libp2p<AllianceServices>, internals: Internals) {
    super()
    this.libp2p = libp2p
    this.peerId = libp2p.peerId.toString()
    this.did = didFromPeerId(libp2p.peerId)
    this.log = internals.log
    this.misbehaviour = internals.misbehaviour
    this.hooks = internals.hooks
    this.discoveryTopic = internals.topic
    this.hooks.onChange = () => { this.queueChange() }
    this.budget = internals.budget
    this.budget.subscribe(() => { this.queueChange() })
    this.mesh = new Mesh({
      libp2p,
      targetDirect: internals.targetDirect,
      budget: this.budget,
      handshakes: internals.handshakes,
      isRelay: peer => this.isRelay(peer),
      connectedRelays: () => this.keeper.connectedRelayAddrs(),
      isDenied: peer => this.misbehaviour.isDenied(peer),
      onChange: () => { this.queueChange() },
      log: this.log
    })
    this.dm = new DmService({
      seed: seedOf(internals.privateKey),
      did: this.did,
      openStream: async (did, protocol, options) => this.dialProtocol(did, protocol, options),
      reject: (peer, code) => { this.rejectFrame(peer, code) },
      count: code => { this.misbehaviour.count(code) },
      onMessage: msg => { this.dispatchEvent(new CustomEvent<DmMessage>('dm', { detail: msg })) }
    })
  }

  private get keeper (): RelayKeeper {
    return this.libp2p.services.relayKeeper
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) return
    const events = this.libp2p
    events.addEventListener('connection:open', this.onConnectionOpen)
    events.addEventListener('connection:close', this.onConnectionClose)
    events.addEventListener('peer:identify', this.onIdentify)
    events.addEventListener('self:peer:update', this.onSelfUpdate)
    // records that do not belong to their signer are dropped before discovery sees them (N12)
    this.libp2p.services.pubsub.topicValidators.set(this.discoveryTopic, discoveryValidator({ strike: (peer, code) => { this.rejectFrame(peer, code) } }))
    this.libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    this.hooks.discovery?.addEventListener('peer', this.onDiscoveryPeer)
    try {
      await this.libp2p.start()
      await this.handle(DM_PROTOCOL, async (stream, ctx) => { await this.dm.handleStream(stream, ctx.peerId) }, { maxInboundStreams: 8 })
    } catch (err) {
      this.detach()
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      throw err
    }
    this.mesh.start()
    this.started = true
    this.tickTimer = setInterval(() => { this.tick() }, MAINTENANCE_INTERVAL_MS)
    this.log(`net: started as ${this.peerId}`)
    this.queueChange()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.tickTimer)
    clearTimeout(this.broadcastTimer)
    this.broadcastTimer = undefined
    this.mesh.stop()
    this.detach()
    await this.libp2p.stop()
    this.log('net: stopped')
  }

  private detach (): void {
    this.hooks.discovery?.removeEventListener('peer', this.onDiscoveryPeer)
    this.libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    const events = this.libp2p
    events.removeEventListener('connection:open', this.onConnectionOpen)
    events.removeEventListener('connection:close', this.onConnectionClose)
    events.removeEventListener('peer:identify', this.onIdentify)
    events.removeEventListener('self:peer:update', this.onSelfUpdate)
  }

  /** Subscribes to `change` (peers or relay states changed); returns the unsubscribe function. */
  on (type: 'change', listener: () => void): () => void
  on (type: 'dm', listener: (msg: DmMessage) => void): () => void
  on (type: 'change' | 'dm', listener: ((msg: DmMessage) => void) | (() => void)): () => void {
    const wrapped = (evt: Event): void => {
      if (type === 'dm') (listener as (msg: DmMessage) => void)((evt as CustomEvent<DmMessage>).detail)
      else (listener as () => void)()
    }
    this.addEventListener(type, wrapped)
    return () => { this.removeEventListener(type, wrapped) }
  }

  /** Connected alliance peers (relays excluded), direct ones first. */
  peers (): PeerView[] {
    const byPeer = new Map<string, Connection[]>()
    for (const conn of this.libp2p.getConnections()) {
      if (conn.status !== 'open') continue
      const id = conn.remotePeer.toString()
      if (this.isRelay(id)) continue
      byPeer.set(id, [...(byPeer.get(id) ?? []), conn])
    }
    const out: PeerView[] = []
    for (const [peerId, conns] of byPeer) {
      let did: Did
      try {
        did = didFromPeerId(peerId)
      } catch {
        continue
      }
      const direct = conns.filter(isDirect).sort((a, b) => a.timeline.open - b.timeline.open)[0]
      const shown = direct ?? conns[0]
      const rttMs = direct != null ? (direct.rtt ?? this.mesh.rttOf(peerId)) : undefined
      out.push({ did, peerId, kind: direct != null ? 'direct' : 'relayed', ...(rttMs != null ? { rttMs: Math.round(rttMs) } : {}), addr: shown.remoteAddr.toString() })
    }
    return out.sort((a, b) => (a.kind === b.kind ? a.peerId.localeCompare(b.peerId) : a.kind === 'direct' ? -1 : 1))
  }

  /** DIDs of alliance peers announced through discovery (connected or not). */
  discovered (): Did[] {
    return this.mesh.discovered().flatMap(id => {
      try {
        return [didFromPeerId(id)]
      } catch {
        return []
      }
    })
  }

  relays (): RelayView[] {
    return this.keeper.status().map(({ addr, state, since }) => ({ addr, state, since }))
  }

  /** Replaces the configured relays at runtime. */
  setRelays (relays: string[]): void {
    this.keeper.setRelays(relays)
  }

  /** The tab's RTCPeerConnection budget; `spent` means: close the app and open it again. */
  rtcBudget (): RtcBudgetState {
    return this.budget.state()
  }

  /**
   * Reconnects now (call on the browser's `online` event): relays are redialed without
   * waiting out their backoff, and peers whose upgrades failed while offline are retried.
   */
  reconnectNow (): void {
    if (!this.started) return
    this.keeper.reconnectNow()
    this.mesh.forgetBackoff()
    this.queueChange()
  }

  stats (): NetStats {
    const dm = this.dm.stats()
    return { ...this.misbehaviour.stats(), ...this.mesh.stats(), dmSent: dm.sent, dmReceived: dm.received }
  }

  /** Publishes on a gossip topic; resolves to the number of peers it was sent to. */
  async publish (topic: string, data: Uint8Array): Promise<number> {
    this.assertStarted()
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
    if (data.byteLength > MAX_GOSSIP_BYTES) throw new TooLargeError(`gossip message of ${data.byteLength} bytes is over ${MAX_GOSSIP_BYTES}`)
    const result = await this.libp2p.services.pubsub.publish(topic, data)
    return result.recipients.length
  }

  /**
   * Delivers each signed gossip message of `topic` with its author's DID, before gossipsub
   * forwards it (gossip-guard.ts, N11): a handler that throws an AllianceError rejects the
   * message (not forwarded; a strike against its author and the peer that forwarded it);
   * one that returns `'ignore'` keeps it from being forwarded without blame. Returns the
   * unsubscribe function.
   */
  subscribe (topic: string, handler: GossipHandler): () => void {
    let set = this.topicHandlers.get(topic)
    if (set == null) {
      set = new Set()
      this.topicHandlers.set(topic, set)
      const pubsub = this.libp2p.services.pubsub
      scoreTopics(pubsub)[topic] ??= topicScore()
      pubsub.topicValidators.set(topic, applicationValidator(topic, {
        handlers: t => this.topicHandlers.get(t),
        strike: (peer, code) => { this.rejectFrame(peer, code) },
        log: this.log
      }))
      pubsub.subscribe(topic)
    }
    set.add(handler)
    return () => {
      const current = this.topicHandlers.get(topic)
      if (current == null) return
      current.delete(handler)
      if (current.size === 0) {
        this.topicHandlers.delete(topic)
        if (topic !== this.discoveryTopic) {
          this.libp2p.services.pubsub.unsubscribe(topic)
          this.libp2p.services.pubsub.topicValidators.delete(topic)
        }
      }
    }
  }

  /**
   * Registers an application protocol. Streams arrive only over direct connections (libp2p
   * refuses the protocol on relayed, limited ones) and never from denied peers. A handler
   * that throws an AllianceError counts as a rejected frame from that peer.
   */
  async handle (protocol: string, handler: ProtocolHandler, options: { maxInboundStreams?: number, maxOutboundStreams?: number } = {}): Promise<void> {
    await this.libp2p.handle(protocol, async (stream, connection) => {
      const peerId = connection.remotePeer.toString()
      if (connection.limits != null || this.misbehaviour.isDenied(peerId)) {
        stream.abort(new PeerDeniedError('not accepted on this connection'))
        return
      }
      let did: Did
      try {
        did = didFromPeerId(connection.remotePeer)
      } catch (err) {
        stream.abort(err as Error)
        return
      }
      try {
        await handler(stream, { did, peerId, connection })
      } catch (err) {
        if (isAllianceError(err)) this.rejectFrame(peerId, err.code)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    }, { maxInboundStreams: options.maxInboundStreams ?? 8, maxOutboundStreams: options.maxOutboundStreams ?? 8 })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /** Opens a stream of `protocol` to `did` over a direct connection (upgrading if needed). */
  async dialProtocol (did: Did, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Stream> {
    this.assertStarted()
    const conn = await this.connectDirect(did, options)
    try {
      return await conn.newStream(protocol, { signal: options.signal })
    } catch (err) {
      // A connection can look open while it is going away (the remote tab reloaded, or the
      // mesh is closing a duplicate): drop it and try once more on a fresh one.
      const name = (err as Error).name
      if (options.signal?.aborted === true || name === 'UnsupportedProtocolError' || name === 'ProtocolError') throw err
      await conn.close().catch(() => {})
      const fresh = await this.connectDirect(did, options)
      return await fresh.newStream(protocol, { signal: options.signal })
    }
  }

  /** A direct connection to `did`: the existing one or a new WebRTC upgrade through a relay. */
  async connectDirect (did: Did, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    this.assertStarted()
    const peer = peerIdStringFromDid(did)
    if (peer === this.peerId) throw new InvalidInputError('cannot connect to oneself', 'ERR_SELF')
    const conn = await this.mesh.connect(peer, options)
    if (!isDirect(conn)) throw new NotDirectlyConnectedError(`connection to ${did} is limited`)
    return conn
  }

  /** Sends an end-to-end encrypted text message; resolves once the recipient accepted it. */
  async sendDm (did: Did, text: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.assertStarted()
    await this.dm.send(did, text, options)
  }

  /** Subscribes to received DMs; returns the unsubscribe function. */
  onDm (handler: (msg: DmMessage) => void): () => void {
    return this.on('dm', handler)
  }

  /** The last received DMs (at most DM_INBOX_SIZE), oldest first. */
  inbox (): DmMessage[] {
    return this.dm.inbox()
  }

  /** Whether `peerId` is on the deny-list now (hung up on for misbehaviour, for a while). */
  denies (peerId: string): boolean {
    return this.misbehaviour.isDenied(peerId)
  }

  /** Counts a rejected frame from a peer (for protocols built on top); may hang up on it. */
  reportMisbehaviour (peerId: string, code: string): void {
    this.rejectFrame(peerId, code)
  }

  private assertStarted (): void {
    if (!this.started) throw new NotStartedError()
  }

  private isRelay (peer: string): boolean {
    return this.hopPeers.has(peer) || this.keeper.relayPeerIds().has(peer)
  }

  private rejectFrame (peer: string, code: string): void {
    const verdict = this.misbehaviour.report(peer, code)
    this.queueChange()
    if (!verdict.disconnect) return
    this.log(`net: ${peer} sent ${verdict.strikes} bad frames; hanging up and denying it for a while`)
    this.mesh.forget(peer)
    // aborted, not closed gracefully: a graceful close waits for the peer's streams to end,
    // and one of them (its gossip) is the stream the strikes came from (N11)
    const id = peerIdFromString(peer)
    for (const conn of this.libp2p.getConnections(id)) conn.abort(new PeerDeniedError(`${peer} sent ${verdict.strikes} bad frames`))
    this.libp2p.hangUp(id).catch((err: unknown) => { this.log(`net: hanging up on ${peer} failed: ${(err as Error).message}`) })
  }

  private tick (): void {
    if (!this.started) return
    this.keeper.check()
    this.mesh.tick()
    if (++this.ticks % 10 === 0) {
      const known = new Set(this.mesh.discovered())
      prunePeerStore(this.libp2p, peer => known.has(peer) || this.isRelay(peer), MAX_PEER_STORE_ENTRIES)
        .catch((err: unknown) => { this.log(`net: peer store pruning failed: ${(err as Error).message}`) })
    }
    this.queueChange()
  }

  private queueChange (): void {
    if (this.changeQueued) return
    this.changeQueued = true
    queueMicrotask(() => {
      this.changeQueued = false
      const signature = JSON.stringify([this.peers(), this.relays(), this.budget.state().spent])
      if (signature === this.lastSignature) return
      this.lastSignature = signature
      this.dispatchEvent(new Event('change'))
    })
  }

  /** Announces our addresses soon (coalesced), e.g. after a reservation or a new peer. */
  private announceSoon (): void {
    if (this.broadcastTimer != null || !this.started) return
    this.broadcastTimer = setTimeout(() => {
      this.broadcastTimer = undefined
      try {
        this.hooks.discovery?._broadcast?.()
      } catch (err) {
        this.log(`net: discovery announcement failed: ${(err as Error).message}`)
      }
    }, ANNOUNCE_COALESCE_MS)
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    this.mesh.onConnectionOpen(evt.detail)
    this.queueChange()
  }

  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => {
    this.mesh.onConnectionClose(evt.detail)
    this.queueChange()
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (evt.detail.protocols.includes(RELAY_V2_HOP_CODEC)) {
      this.hopPeers.add(evt.detail.peerId.toString())
      this.queueChange()
    }
  }

  private readonly onSelfUpdate = (): void => {
    this.announceSoon()
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (evt.detail.subscriptions.some(s => s.topic === this.discoveryTopic && s.subscribe)) this.announceSoon()
  }

  private readonly onDiscoveryPeer = (evt: CustomEvent<PeerInfo>): void => {
    if (this.misbehaviour.isDenied(evt.detail.id.toString())) return
    // a newcomer learns about us without waiting for our next periodic announcement
    if (this.mesh.onDiscovered(evt.detail)) this.announceSoon()
  }
}

/** The 32-byte Ed25519 seed behind the node's key (libp2p keeps seed || public key). */
function seedOf (key: PrivateKey): Uint8Array {
  if (key.type !== 'Ed25519' || key.raw.length !== 64) throw new TypeError('privateKey must be an Ed25519 libp2p key')
  return key.raw.slice(0, 32)
}
