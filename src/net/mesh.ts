/**
 * The direct mesh: turns discovered alliance peers into direct WebRTC connections and keeps
 * `targetDirect` of them.
 *
 * - Discovery records (pubsub peer discovery) give each peer's relayed addresses; a dial to
 *   `<relay>/p2p-circuit/webrtc/p2p/<peer>` signals over the relay and ends in a direct
 *   WebRTC connection (the relayed one is only used for SDP/ICE and closed afterwards).
 * - Who dials: of two peers, the first dialer (`dialsFirst`: a bit of a hash of the pair, so
 *   every peer dials about half of its pairs) dials as soon as it discovers the other; the
 *   other dials only if nothing happened after SECOND_DIALER_GRACE_MS (the first one may be
 *   busy or full) and no relayed connection from the peer (its dial on the way) is open.
 *   Should both dial at once anyway, the handshake guard lets the first dialer's handshake
 *   win (N17), and a dial of ours still running when the peer's handshake has given a direct
 *   connection is aborted; should two direct connections still result, both sides close both and only
 *   the first dialer redials: gossipsub keeps one outbound stream per peer and would lose it
 *   if just one of the two connections closed.
 * - Dials start from events (a peer discovered, an upgrade ended, a connection closed), at
 *   each peer's own time (a random spread up to FIRST_DIAL_SPREAD_MS), not on the next
 *   maintenance tick; the tick only catches what events missed.
 * - Failed upgrades back off per peer (UPGRADE_BACKOFF_MIN_MS doubling to UPGRADE_BACKOFF_MAX_MS),
 *   at most `maxParallelUpgrades` run at once, and every handshake spends from the tab's
 *   RTCPeerConnection budget (`rtc-budget.ts`; Chromium refuses more than ~500 per tab).
 * - Never a second handshake with a peer: not while we dial it, not while it dials us (the
 *   transport guard knows), not when a direct connection is open; `connect()` to a peer that
 *   is dialing us waits for that handshake instead of starting its own.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import { didFromPeerId } from '../core/identity.ts'
import { dialsFirst } from './dial-order.ts'
import {
  DEFAULT_MAX_PARALLEL_UPGRADES, FIRST_DIAL_SPREAD_MS, MAX_KNOWN_PEERS, PEER_STALE_MS, SECOND_DIALER_GRACE_MS, UPGRADE_BACKOFF_MAX_MS,
  UPGRADE_BACKOFF_MIN_MS, UPGRADE_TIMEOUT_MS
} from './constants.ts'
import { NotDirectlyConnectedError, PeerDeniedError } from './errors.ts'
import { RtcBudgetSpentError } from './rtc-budget.ts'
import type { RtcBudget } from './rtc-budget.ts'
import type { HandshakeView } from './webrtc-guard.ts'

export { dialsFirst } from './dial-order.ts'

interface Known {
  peerId: PeerId
  addrs: Multiaddr[]
  firstSeen: number
  lastSeen: number
  /** Not dialed before this time: a random spread so that peers discovering each other at
   * the same moment do not all start WebRTC handshakes at once. */
  notBefore: number
}

interface Backoff {
  failures: number
  until: number
}

export interface MeshDeps {
  libp2p: Libp2p<{ ping: Ping }>
  targetDirect: number
  /** The tab's RTCPeerConnection budget (shared with inbound handshakes). */
  budget: RtcBudget
  /** Handshakes running in the transport (either direction). */
  handshakes?: HandshakeView
  maxParallelUpgrades?: number
  /** Default SECOND_DIALER_GRACE_MS. */
  secondDialerGraceMs?: number
  /** Default FIRST_DIAL_SPREAD_MS. */
  firstDialSpreadMs?: number
  /** Relay PeerIds (configured ones and any peer seen speaking the hop protocol). */
  isRelay: (peerId: string) => boolean
  /** Relays we are connected to now, for building circuit addresses of unannounced peers. */
  connectedRelays: () => Multiaddr[]
  isDenied: (peerId: string) => boolean
  onChange: () => void
  log: (line: string) => void
}

export interface MeshStats {
  webrtcDialAttempts: number
  webrtcDialFailures: number
  duplicateConnectionsClosed: number
}

/** A usable connection for application protocols: open and without relay limits. */
export function isDirect (conn: Connection): boolean {
  return conn.status === 'open' && conn.limits == null
}

function isWebRtcCircuitAddr (ma: Multiaddr, peer: string): boolean {
  const c = ma.getComponents()
  const circuit = c.findIndex(x => x.name === 'p2p-circuit')
  return circuit > 0 && c[circuit + 1]?.name === 'webrtc' && c[c.length - 1]?.name === 'p2p' && c[c.length - 1].value === peer
}

/** The address with `/p2p/<peer>` at its end (discovery records may omit it). */
function withPeer (ma: Multiaddr, peer: string): Multiaddr {
  const last = ma.getComponents().at(-1)
  return last?.name === 'p2p' ? ma : ma.encapsulate(`/p2p/${peer}`)
}

function relayIdOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents()
  const circuit = c.findIndex(x => x.name === 'p2p-circuit')
  return c.slice(0, circuit).findLast(x => x.name === 'p2p')?.value
}

export class Mesh {
  private readonly deps: MeshDeps
  private readonly self: string
  private readonly known = new Map<string, Known>()
  private readonly backoff = new Map<string, Backoff>()
  /** Peers the second dialer must not dial before a time (after a duplicate was closed). */
  private readonly holdUntil = new Map<string, number>()
  private readonly dialing = new Map<string, Promise<Connection>>()
  /** Aborts our running dial to a peer once its own handshake gave a direct connection (N17). */
  private readonly dialAborts = new Map<string, AbortController>()
  private readonly rtts = new Map<string, number>()
  private readonly counters: MeshStats = { webrtcDialAttempts: 0, webrtcDialFailures: 0, duplicateConnectionsClosed: 0 }
  private readonly maxParallel: number
  private readonly graceMs: number
  private readonly spreadMs: number
  private stopped = false
  private budgetLogged = false
  /** A dialMore() queued for the next macrotask (several events coalesce into one). */
  private kickQueued = false
  /** A timer for the earliest `notBefore`, backoff or grace end still ahead. */
  private wakeTimer?: ReturnType<typeof setTimeout>
  private wakeAt = Infinity

  constructor (deps: MeshDeps) {
    this.deps = deps
    this.self = deps.libp2p.peerId.toString()
    this.maxParallel = deps.maxParallelUpgrades ?? DEFAULT_MAX_PARALLEL_UPGRADES
    this.graceMs = deps.secondDialerGraceMs ?? SECOND_DIALER_GRACE_MS
    this.spreadMs = deps.firstDialSpreadMs ?? FIRST_DIAL_SPREAD_MS
  }

  start (): void {
    this.stopped = false
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.wakeTimer)
    this.wakeTimer = undefined
    this.wakeAt = Infinity
  }

  /** Runs dialMore() soon: after the current event, coalesced with other kicks. */
  private kick (): void {
    if (this.kickQueued || this.stopped) return
    this.kickQueued = true
    setTimeout(() => {
      this.kickQueued = false
      if (!this.stopped) this.dialMore(Date.now())
    }, 0)
  }

  /** Runs dialMore() at `at` (the earliest of the times asked for wins). */
  private wakeAtTime (at: number): void {
    if (this.stopped || !Number.isFinite(at) || at >= this.wakeAt) return
    clearTimeout(this.wakeTimer)
    this.wakeAt = at
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.wakeAt = Infinity
      if (!this.stopped) this.dialMore(Date.now())
    }, Math.max(0, at - Date.now()))
  }

  stats (): MeshStats {
    return { ...this.counters }
  }

  /** PeerIds announced by discovery (not necessarily connected), relays excluded. */
  discovered (): string[] {
    return [...this.known.keys()]
  }

  rttOf (peer: string): number | undefined {
    return this.rtts.get(peer)
  }

  /** A discovery record arrived (or a re-announcement). Returns true for a peer new to us. */
  onDiscovered (info: PeerInfo): boolean {
    const id = info.id.toString()
    if (id === this.self || this.deps.isRelay(id)) return false
    try {
      didFromPeerId(info.id)
    } catch {
      return false // not an Ed25519 peer, so not an alliance member
    }
    const addrs = info.multiaddrs
      .map(ma => withPeer(ma, id))
      .filter(ma => isWebRtcCircuitAddr(ma, id))
      .slice(0, 16)
    const now = Date.now()
    const existing = this.known.get(id)
    if (existing != null) {
      existing.lastSeen = now
      if (addrs.length > 0) existing.addrs = addrs
      return false
    }
    if (this.known.size >= MAX_KNOWN_PEERS && !this.forgetStalest()) return false
    this.known.set(id, { peerId: info.id, addrs, firstSeen: now, lastSeen: now, notBefore: now + Math.random() * this.spreadMs })
    this.deps.log(`mesh: discovered ${id} (${addrs.length} circuit addresses)`)
    this.deps.onChange()
    this.kick()
    return true
  }

  /** Forgets the least recently seen known peer we hold no direct connection to (N12). */
  private forgetStalest (): boolean {
    const direct = this.directPeers()
    let stalest: [string, number] | null = null
    for (const [id, k] of this.known) {
      if ((stalest == null || k.lastSeen < stalest[1]) && !direct.has(id)) stalest = [id, k.lastSeen]
    }
    if (stalest == null) return false
    this.known.delete(stalest[0])
    return true
  }

  /** The open direct connection to a peer, if any (the oldest one). */
  directConnection (peer: string): Connection | undefined {
    return this.deps.libp2p.getConnections(peerIdFromString(peer))
      .filter(isDirect)
      .sort((a, b) => a.timeline.open - b.timeline.open)[0]
  }

  directPeers (): Set<string> {
    const out = new Set<string>()
    for (const conn of this.deps.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      if (isDirect(conn) && !this.deps.isRelay(id)) out.add(id)
    }
    return out
  }

  /** Called when any connection opens. */
  onConnectionOpen (conn: Connection): void {
    const id = conn.remotePeer.toString()
    if (!isDirect(conn) || this.deps.isRelay(id)) return
    this.backoff.delete(id)
    // the peer's handshake beat our dial to it: ours would only end in a refusal or a
    // duplicate (both then closed), after spending CPU of both tabs on the way (N17)
    const running = this.dialAborts.get(id)
    if (conn.direction === 'inbound' && running != null) {
      this.deps.log(`mesh: ${id} connected to us first; stopping our dial to it`)
      running.abort(new NotDirectlyConnectedError(`${id} connected to us first`))
    }
    this.measureRtt(id)
  }

  /**
   * Called when any connection closes. When the last direct connection to a peer goes, the
   * first dialer redials at once and the other one waits for the grace period again, so the
   * two do not dial each other simultaneously.
   */
  onConnectionClose (conn: Connection): void {
    const id = conn.remotePeer.toString()
    if (conn.limits != null || this.deps.isRelay(id) || this.directConnection(id) != null) return
    if (!dialsFirst(this.self, id)) this.holdUntil.set(id, Date.now() + this.graceMs)
    this.kick()
  }

  /** Housekeeping and new upgrades; called from the node's maintenance tick. */
  tick (): void {
    if (this.stopped) return
    const now = Date.now()
    for (const [id, k] of this.known) {
      if (now - k.lastSeen > PEER_STALE_MS && this.directConnection(id) == null) this.known.delete(id)
    }
    for (const [id, until] of this.holdUntil) if (until <= now) this.holdUntil.delete(id)
    this.closeDuplicatesAndLeftovers(now)
    this.dialMore(now)
  }

  /**
   * A direct connection to `peer` now: the existing one, an upgrade in flight, or a new WebRTC
   * dial through a relay (ignoring the tie-break: the caller asked for this peer).
   */
  async connect (peer: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    if (this.deps.isDenied(peer)) throw new PeerDeniedError(`${peer} is on the deny-list`)
    const existing = this.directConnection(peer)
    if (existing != null) return existing
    const inflight = this.dialing.get(peer)
    if (inflight != null) return inflight
    if (this.deps.handshakes?.handshaking(peer) === true) {
      // the peer is dialing us: its handshake ends in the connection we want, or fails
      await this.deps.handshakes.inboundSettled(peer)
      options.signal?.throwIfAborted()
      const made = this.directConnection(peer)
      if (made != null) return made
    }
    return this.upgrade(peer, options.signal)
  }

  private closeDuplicatesAndLeftovers (now: number): void {
    const byPeer = new Map<string, Connection[]>()
    for (const conn of this.deps.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      if (this.deps.isRelay(id) || conn.status !== 'open') continue
      const list = byPeer.get(id) ?? []
      list.push(conn)
      byPeer.set(id, list)
    }
    for (const [id, conns] of byPeer) {
      const direct = conns.filter(isDirect)
      if (direct.length > 1) {
        this.counters.duplicateConnectionsClosed++
        const first = dialsFirst(this.self, id)
        this.deps.log(`mesh: ${direct.length} direct connections to ${id}; closing all, ${first ? 'we' : 'they'} redial`)
        if (!first) this.holdUntil.set(id, now + this.graceMs)
        for (const c of direct) c.close().catch(() => {})
        continue
      }
      if (direct.length === 1) {
        // the relayed connection that carried the WebRTC signaling is no longer needed;
        // relays are for signaling only (and limit it to 2 minutes / 128 KiB anyway)
        for (const c of conns) {
          if (c.limits != null && c.streams.length === 0 && now - c.timeline.open > 5_000) c.close().catch(() => {})
        }
      }
    }
  }

  /**
   * A relayed connection from `peer` opened in the last DIALED_BY_WINDOW_MS: its WebRTC dial
   * to us is on the way (its signaling stream follows within a second or so; once that has
   * arrived the guard counts it as a running handshake). Short, because the relayed
   * connection of a dial that failed stays open and must not keep us from dialing.
   */
  private beingDialedBy (peer: string, now: number): boolean {
    return this.deps.libp2p.getConnections(peerIdFromString(peer))
      .some(c => c.limits != null && c.direction === 'inbound' && c.status === 'open' && now - c.timeline.open < DIALED_BY_WINDOW_MS)
  }

  private dialMore (now: number): void {
    const direct = this.directPeers()
    let wanted = this.deps.targetDirect - direct.size - this.dialing.size
    if (wanted <= 0 || this.dialing.size >= this.maxParallel) return
    const candidates: string[] = []
    const later: string[] = []
    let next = Infinity
    for (const [id, k] of this.known) {
      if (direct.has(id) || this.dialing.has(id) || this.deps.isDenied(id) || this.deps.handshakes?.handshaking(id) === true) continue
      const notBefore = Math.max(this.backoff.get(id)?.until ?? 0, k.notBefore)
      if (notBefore > now) { next = Math.min(next, notBefore); continue }
      if (dialsFirst(this.self, id)) { candidates.push(id); continue }
      const graceEnd = Math.max(k.firstSeen + this.graceMs, this.holdUntil.get(id) ?? 0)
      if (graceEnd > now) next = Math.min(next, graceEnd)
      else if (!this.beingDialedBy(id, now)) later.push(id)
    }
    this.wakeAtTime(next)
    const order = [...shuffle(candidates), ...shuffle(later)]
    for (const id of order) {
      if (wanted <= 0 || this.dialing.size >= this.maxParallel) break
      if (this.deps.budget.state().spent) {
        if (!this.budgetLogged) this.deps.log('mesh: RTCPeerConnection budget spent; no more upgrades in this tab')
        this.budgetLogged = true
        return
      }
      wanted--
      // upgrade() logs and counts its own failures and backs off; nothing more to do here
      this.upgrade(id).catch(() => {})
    }
  }

  private addressesFor (peer: string): Multiaddr[] {
    const connectedRelays = this.deps.connectedRelays()
    const connectedIds = new Set(connectedRelays.map(r => r.getComponents().findLast(c => c.name === 'p2p')?.value))
    const announced = this.known.get(peer)?.addrs ?? []
    const viaConnected = announced.filter(a => connectedIds.has(relayIdOf(a)))
    const others = announced.filter(a => !connectedIds.has(relayIdOf(a)))
    const built = connectedRelays.map(r => multiaddr(`${r.toString()}/p2p-circuit/webrtc/p2p/${peer}`))
    const seen = new Set<string>()
    return [...viaConnected, ...built, ...others].filter(a => {
      const key = a.toString()
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  }

  private upgrade (peer: string, signal?: AbortSignal): Promise<Connection> {
    const existing = this.dialing.get(peer)
    if (existing != null) return existing
    const attempt = this.runUpgrade(peer, signal).finally(() => {
      this.dialing.delete(peer)
      // a slot is free: the next peer need not wait for the maintenance tick
      this.kick()
    })
    this.dialing.set(peer, attempt)
    return attempt
  }

  private async runUpgrade (peer: string, signal?: AbortSignal): Promise<Connection> {
    const addrs = this.addressesFor(peer)
    if (addrs.length === 0) throw new NotDirectlyConnectedError(`no relay address known for ${peer}`)
    if (this.deps.budget.state().spent) throw new RtcBudgetSpentError()
    let lastError: unknown
    const own = new AbortController()
    this.dialAborts.set(peer, own)
    try {
      // one address at a time: each attempt creates an RTCPeerConnection, a scarce resource
      for (const addr of addrs.slice(0, 2)) {
        if (this.deps.handshakes?.handshaking(peer) === true) {
          await this.deps.handshakes.inboundSettled(peer)
          const made = this.directConnection(peer)
          if (made != null) return made
        }
        this.counters.webrtcDialAttempts++
        const started = Date.now()
        this.deps.log(`mesh: dialing ${peer} via ${addr.toString()}`)
        const timeout = AbortSignal.timeout(UPGRADE_TIMEOUT_MS)
        try {
          const conn = await this.deps.libp2p.dial(addr, { signal: AbortSignal.any([own.signal, timeout, ...(signal != null ? [signal] : [])]) })
          if (!isDirect(conn)) throw new NotDirectlyConnectedError(`dial to ${addr.toString()} gave a limited connection`)
          this.backoff.delete(peer)
          this.deps.log(`mesh: direct connection to ${peer} in ${Date.now() - started} ms`)
          return conn
        } catch (err) {
          lastError = err
          // the peer's own handshake with us won the race (it refused ours as the first
          // dialer, N17, or we stopped ours once its connection opened): use that connection
          if (this.deps.handshakes?.handshaking(peer) === true) await this.deps.handshakes.inboundSettled(peer)
          const made = this.directConnection(peer)
          if (made != null) return made
          this.counters.webrtcDialFailures++
          if (signal?.aborted === true || own.signal.aborted || this.stopped || this.deps.budget.state().spent) break
        }
      }
    } finally {
      this.dialAborts.delete(peer)
    }
    const failures = (this.backoff.get(peer)?.failures ?? 0) + 1
    const delay = Math.min(UPGRADE_BACKOFF_MAX_MS, UPGRADE_BACKOFF_MIN_MS * 2 ** Math.min(failures - 1, 16) * (0.75 + Math.random() * 0.5))
    this.backoff.set(peer, { failures, until: Date.now() + delay })
    this.deps.log(`mesh: upgrade to ${peer} failed (${(lastError as Error)?.message?.split('\n')[0]}); next try in ${Math.round(delay)} ms`)
    throw new NotDirectlyConnectedError(`could not open a direct connection to ${peer}`, { cause: lastError })
  }

  private measureRtt (peer: string): void {
    // over the open direct connection only: a ping by PeerId whose connection just vanished
    // would dial the peer again and spend an RTCPeerConnection outside the mesh's control
    const conn = this.directConnection(peer)
    if (conn == null) return
    this.deps.libp2p.services.ping.ping(conn.remoteAddr, { signal: AbortSignal.timeout(10_000) })
      .then(rtt => {
        this.rtts.set(peer, rtt)
        this.deps.onChange()
      })
      .catch(() => {})
  }

  /** Failed upgrades may be retried at once (the network came back). */
  forgetBackoff (): void {
    this.backoff.clear()
  }

  forget (peer: string): void {
    this.known.delete(peer)
    this.rtts.delete(peer)
  }
}

/** See `Mesh.beingDialedBy`. */
const DIALED_BY_WINDOW_MS = 5_000

function shuffle<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}
