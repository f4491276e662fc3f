/**
 * Keeps a connection and a circuit relay v2 reservation on every configured relay, for as long
 * as the node runs. A libp2p service (factory with the narrow components it needs).
 *
 * Why not the stock `listen: ['<relay>/p2p-circuit']`: libp2p reserves once at start (a relay
 * that is down then makes `start()` fail) and never re-reserves after the relay goes away;
 * its reconnect queue gives up after five tries. Here each relay has its own loop:
 * connect → reserve → wait; on loss it redials with exponential backoff (RELAY_BACKOFF_MIN_MS
 * doubling up to RELAY_BACKOFF_MAX_MS, with jitter) and reserves again, indefinitely.
 *
 * How it reserves: the first reservation on a relay goes through the transport manager
 * (`listen(<relay>/p2p-circuit)`), which creates the circuit listener that advertises the
 * relayed addresses (and from which the WebRTC listener derives `/webrtc` addresses). Later
 * reservations on the same relay go through the circuit transport's reservation store, whose
 * event that listener picks up, so no listener is created twice. A failed first `listen`
 * leaves an empty listener behind in libp2p (libp2p does not remove failed listeners); that
 * is bounded by the backoff and only happens when a relay accepts connections but refuses
 * reservations.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, Connection, Libp2pEvents, PeerId, Startable, Transport, TypedEventTarget } from '@libp2p/interface'
import { RELAY_BACKOFF_MAX_MS, RELAY_BACKOFF_MIN_MS } from './constants.ts'

export type RelayState = 'connecting' | 'connected' | 'reserved' | 'reconnecting'

export interface RelayStatus {
  /** The configured multiaddr of the relay (with `/p2p/<id>`). */
  addr: string
  peerId: string
  state: RelayState
  /** When the relay entered `state` (ms since epoch). */
  since: number
  /** Consecutive failed attempts since the last success. */
  failures: number
}

interface ReservationStoreLike {
  hasReservation(peerId: PeerId): boolean
  addRelay(peerId: PeerId, type: 'configured'): Promise<unknown>
  addEventListener(type: 'relay:removed', listener: (evt: CustomEvent<{ relay: PeerId }>) => void): void
  removeEventListener(type: 'relay:removed', listener: (evt: CustomEvent<{ relay: PeerId }>) => void): void
}

export interface RelayKeeperComponents {
  connectionManager: {
    openConnection(target: Multiaddr, options?: AbortOptions): Promise<Connection>
    getConnections(peerId?: PeerId): Connection[]
  }
  transportManager: {
    listen(addrs: Multiaddr[]): Promise<void>
    getTransports(): Transport[]
  }
  events: TypedEventTarget<Libp2pEvents>
}

export interface RelayKeeperInit {
  relays: string[]
  /** Called whenever a relay changes state. */
  onChange?: () => void
  log?: (line: string) => void
  /** Per-attempt timeout of dialing and reserving. Default 10 s. */
  attemptTimeoutMs?: number
  backoffMinMs?: number
  backoffMaxMs?: number
}

interface Entry {
  addr: Multiaddr
  peerId: PeerId
  state: RelayState
  since: number
  failures: number
  everConnected: boolean
  listenerReady: boolean
  attempt?: Promise<void>
  timer?: ReturnType<typeof setTimeout>
}

const CIRCUIT_TRANSPORT_TAG = '@libp2p/circuit-relay-v2-transport'

/** Parses a relay multiaddr; it must name the relay's PeerId (`.../p2p/<id>`). */
export function parseRelayAddr (addr: string): { addr: Multiaddr, peerId: PeerId } {
  const ma = multiaddr(addr)
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) throw new RangeError(`relay address must end in /p2p/<PeerId>: ${addr}`)
  if (ma.getComponents().some(c => c.name === 'p2p-circuit')) throw new RangeError(`relay address must not be a circuit address: ${addr}`)
  return { addr: ma, peerId: peerIdFromString(id) }
}

export class RelayKeeper implements Startable {
  readonly [Symbol.toStringTag] = 'alliance:relay-keeper'
  private readonly components: RelayKeeperComponents
  private readonly entries = new Map<string, Entry>()
  private readonly onChange: () => void
  private readonly log: (line: string) => void
  private readonly attemptTimeoutMs: number
  private readonly backoffMinMs: number
  private readonly backoffMaxMs: number
  private started = false
  private store?: ReservationStoreLike
  /** Tail of the chain of reservation requests (see `reserveExclusively`). */
  private reserving: Promise<void> = Promise.resolve()

  constructor (components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.components = components
    this.onChange = init.onChange ?? (() => {})
    this.log = init.log ?? (() => {})
    this.attemptTimeoutMs = init.attemptTimeoutMs ?? 10_000
    this.backoffMinMs = init.backoffMinMs ?? RELAY_BACKOFF_MIN_MS
    this.backoffMaxMs = init.backoffMaxMs ?? RELAY_BACKOFF_MAX_MS
    for (const r of init.relays) this.addEntry(r)
  }

  isStarted (): boolean {
    return this.started
  }

  start (): void {
    this.started = true
  }

  afterStart (): void {
    this.store = this.findReservationStore()
    this.store?.addEventListener('relay:removed', this.onRelayRemoved)
    this.components.events.addEventListener('connection:close', this.onConnectionClose)
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    for (const entry of this.entries.values()) this.kick(entry)
  }

  stop (): void {
    this.started = false
    this.store?.removeEventListener('relay:removed', this.onRelayRemoved)
    this.components.events.removeEventListener('connection:close', this.onConnectionClose)
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    for (const entry of this.entries.values()) clearTimeout(entry.timer)
  }

  /** Relay peer ids, to tell relays apart from alliance peers. */
  relayPeerIds (): Set<string> {
    return new Set([...this.entries.values()].map(e => e.peerId.toString()))
  }

  /** Multiaddrs of relays currently connected (for building `/p2p-circuit/webrtc` dials). */
  connectedRelayAddrs (): Multiaddr[] {
    return [...this.entries.values()].filter(e => e.state === 'connected' || e.state === 'reserved').map(e => e.addr)
  }

  configuredRelayAddrs (): Multiaddr[] {
    return [...this.entries.values()].map(e => e.addr)
  }

  status (): RelayStatus[] {
    return [...this.entries.entries()].map(([addr, e]) => ({
      addr, peerId: e.peerId.toString(), state: e.state, since: e.since, failures: e.failures
    }))
  }

  /** Replaces the configured relays: new ones are dialed, removed ones are no longer kept. */
  setRelays (relays: string[]): void {
    const wanted = new Set(relays.map(r => parseRelayAddr(r).addr.toString()))
    for (const [key, entry] of this.entries) {
      if (!wanted.has(key)) {
        clearTimeout(entry.timer)
        this.entries.delete(key)
        for (const conn of this.components.connectionManager.getConnections(entry.peerId)) {
          conn.close().catch(() => {})
        }
      }
    }
    for (const r of relays) {
      const entry = this.addEntry(r)
      if (entry != null && this.started) this.kick(entry)
    }
    this.onChange()
  }

  /** Checks every relay now; cheap, called from the node's maintenance tick. */
  check (): void {
    if (!this.started) return
    for (const entry of this.entries.values()) {
      const connected = this.isConnected(entry)
      if (entry.state === 'reserved' && (!connected || !this.hasReservation(entry))) {
        this.setState(entry, connected ? 'connected' : 'reconnecting')
        this.schedule(entry, 0)
      } else if (entry.state === 'connected' && entry.attempt == null && entry.timer == null) {
        this.schedule(entry, 0)
      }
    }
  }

  private addEntry (addr: string): Entry | undefined {
    const parsed = parseRelayAddr(addr)
    const key = parsed.addr.toString()
    if (this.entries.has(key)) return undefined
    const entry: Entry = { ...parsed, state: 'connecting', since: Date.now(), failures: 0, everConnected: false, listenerReady: false }
    this.entries.set(key, entry)
    return entry
  }

  /**
   * Redials every relay that is not reserved now, forgetting its backoff: the browser said it
   * is back online, so waiting out a backoff grown while offline would only delay the user.
   */
  reconnectNow (): void {
    if (!this.started) return
    for (const entry of this.entries.values()) {
      if (entry.state === 'reserved') continue
      entry.failures = 0
      this.schedule(entry, 0)
    }
  }

  private findReservationStore (): ReservationStoreLike | undefined {
    const transport = this.components.transportManager.getTransports().find(t => t[Symbol.toStringTag] === CIRCUIT_TRANSPORT_TAG)
    const store = (transport as (Transport & { reservationStore?: ReservationStoreLike }) | undefined)?.reservationStore
    if (store == null || typeof store.addRelay !== 'function' || typeof store.hasReservation !== 'function') {
      this.log('relay-keeper: circuit relay transport has no reservation store; relay re-reservation disabled')
      return undefined
    }
    return store
  }

  private entryFor (peerId: PeerId): Entry | undefined {
    for (const e of this.entries.values()) if (e.peerId.equals(peerId)) return e
    return undefined
  }

  private isConnected (entry: Entry): boolean {
    return this.components.connectionManager.getConnections(entry.peerId).some(c => c.status === 'open' && c.limits == null)
  }

  private hasReservation (entry: Entry): boolean {
    // without access to the reservation store, a successful listen on a live connection is
    // the best evidence there is
    return this.store != null ? this.store.hasReservation(entry.peerId) : entry.listenerReady && this.isConnected(entry)
  }

  private setState (entry: Entry, state: RelayState): void {
    if (entry.state === state) return
    entry.state = state
    entry.since = Date.now()
    this.log(`relay-keeper: ${entry.addr.toString()} ${state}`)
    this.onChange()
  }

  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const entry = this.entryFor(evt.detail.remotePeer)
    if (entry == null || !this.started) return
    if (this.isConnected(entry)) return
    if (this.store == null) entry.listenerReady = false // fallback mode: listen again after reconnecting
    this.setState(entry, entry.everConnected ? 'reconnecting' : 'connecting')
    this.schedule(entry, this.backoffMinMs)
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const entry = this.entryFor(evt.detail.remotePeer)
    if (entry == null || !this.started || evt.detail.limits != null) return
    // e.g. libp2p's own reconnect queue got there first: reserve without waiting for backoff
    if (entry.state !== 'reserved') this.schedule(entry, 0)
  }

  private readonly onRelayRemoved = (evt: CustomEvent<{ relay: PeerId }>): void => {
    const entry = this.entryFor(evt.detail.relay)
    if (entry == null || !this.started) return
    const connected = this.isConnected(entry)
    this.setState(entry, connected ? 'connected' : (entry.everConnected ? 'reconnecting' : 'connecting'))
    this.schedule(entry, connected ? 0 : this.backoffMinMs)
  }

  private schedule (entry: Entry, delayMs: number): void {
    if (!this.started || !this.entries.has(entry.addr.toString())) return
    if (entry.timer != null) {
      if (delayMs > 0) return // an attempt is already due
      clearTimeout(entry.timer)
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      this.kick(entry)
    }, delayMs)
  }

  private backoff (entry: Entry): number {
    const base = this.backoffMinMs * 2 ** Math.min(entry.failures, 16)
    // ±25% jitter so that the tabs of a restarted relay do not all come back at once
    return Math.round(Math.min(this.backoffMaxMs, base * (0.75 + Math.random() * 0.5)))
  }

  private kick (entry: Entry): void {
    if (!this.started || entry.attempt != null) return
    entry.attempt = this.attempt(entry).finally(() => { entry.attempt = undefined })
  }

  /**
   * Reserves on one relay at a time. libp2p's reservation store runs reservations through a
   * queue and, as soon as one completes with no "discovery" reservations pending, clears the
   * queue: a second configured relay queued behind the first is dropped and its promise never
   * settles. So requests are serialized here, and each is bounded by a timeout.
   */
  private async reserveExclusively (entry: Entry): Promise<void> {
    const previous = this.reserving
    let release!: () => void
    this.reserving = new Promise<void>(resolve => { release = resolve })
    try {
      await previous
      if (!this.started || this.hasReservation(entry)) return
      const work = (!entry.listenerReady || this.store == null)
        ? this.components.transportManager.listen([entry.addr.encapsulate('/p2p-circuit')]).then(() => { entry.listenerReady = true })
        : this.store.addRelay(entry.peerId, 'configured').then(() => {})
      await withTimeout(work, this.attemptTimeoutMs, `reservation on ${entry.addr.toString()} timed out`)
    } finally {
      release()
    }
  }

  private async attempt (entry: Entry): Promise<void> {
    const signal = AbortSignal.timeout(this.attemptTimeoutMs)
    try {
      if (!this.isConnected(entry)) {
        await this.components.connectionManager.openConnection(entry.addr, { signal })
      }
      entry.everConnected = true
      if (!this.hasReservation(entry)) {
        this.setState(entry, 'connected')
        await this.reserveExclusively(entry)
      }
      if (!this.started) return
      if (this.isConnected(entry) && this.hasReservation(entry)) {
        entry.failures = 0
        this.setState(entry, 'reserved')
      } else {
        throw new Error('relay connection or reservation lost while reserving')
      }
    } catch (err) {
      if (!this.started) return
      entry.failures++
      const delay = this.backoff(entry)
      this.log(`relay-keeper: ${entry.addr.toString()} attempt ${entry.failures} failed (${(err as Error).message?.split('\n')[0]}); retry in ${delay} ms`)
      this.setState(entry, this.isConnected(entry) ? 'connected' : (entry.everConnected ? 'reconnecting' : 'connecting'))
      this.schedule(entry, delay)
    }
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(message)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function relayKeeper (init: RelayKeeperInit): (components: RelayKeeperComponents) => RelayKeeper {
  return (components) => new RelayKeeper(components, init)
}
