/**
 * The signaling relay: a Node libp2p node that browsers reach over WebSockets, offering a
 * circuit relay v2 server (reservations so that peers can be dialed through it, with the
 * default data/time limits that make it fit for WebRTC signaling only), identify, ping, and
 * gossipsub with pubsub peer discovery so that peers learn each other's relay addresses.
 *
 * Guarantees: the relay's identity comes from a key file (created on first run, protobuf
 * private key, mode 0600), so its multiaddr is the same across restarts on the same port;
 * it logs one line per reservation and per connection open/close; `stop()` closes everything.
 */
import '../net/node-polyfills.ts'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Connection, PeerUpdate, PrivateKey } from '@libp2p/interface'
import { DEFAULT_DISCOVERY_TOPIC } from '../net/constants.ts'
import { discoveryValidator, gossipScoring } from '../net/gossip-guard.ts'
import { ipOf, ReservationLimiter, type Holder, type ReservationLimitOptions } from './reservation-limits.ts'

export const DEFAULT_RELAY_PORT = 9090
export const DEFAULT_RELAY_KEY_FILE = '.data/relay.key'
/**
 * Reservations held at once. The library default (15) would turn away the 16th tab of a demo;
 * each reservation costs little because relayed connections are capped by the default limits.
 */
export const MAX_RESERVATIONS = 256
/**
 * The relay's gossipsub mesh on the discovery topic holds every subscriber up to this many
 * (gossipsub's D, Dlo and Dhi). With the library's defaults (D 6, Dhi 12) the relay forwarded
 * a peer's record to 6-12 of the others only: past 12 tabs it pruned the rest out of its mesh
 * with a one-minute backoff, and those learned of newcomers only from the lazy IHAVE gossip
 * of a later heartbeat or a re-announcement 10 s later, so 16 tabs did not form in 60 s
 * (N16). Discovery is what the relay is for; a record is ~300 bytes every 10 s per peer.
 */
export const RELAY_DISCOVERY_MESH = MAX_RESERVATIONS
/** Tag the circuit relay server puts on a peer when it grants it a reservation. */
const RELAY_SOURCE_TAG = 'circuit-relay-source'

export interface RelayOptions {
  /** Interface to listen on; `0.0.0.0` exposes the relay to the LAN. Default 127.0.0.1. */
  host?: string
  /** TCP port of the WebSocket listener; 0 picks a free one. Default 0. */
  port?: number
  /** Protobuf private key; created when missing. Without it the identity is ephemeral. */
  keyFile?: string
  /** Gossip topic of peer discovery; must match the peers' `discoveryTopic`. */
  discoveryTopic?: string
  /**
   * Serve secure WebSockets (`/tls/ws`, i.e. `wss://`) with this certificate and key (PEM):
   * an https page cannot open plain `ws://` (LAN mode). Behind a TLS reverse proxy (the
   * internet recipe) leave it out and set `announce` instead.
   */
  tls?: { cert: string, key: string }
  /** Addresses to announce instead of the listening ones, e.g.
   * `/dns4/relay.example.org/tcp/443/tls/ws` behind a reverse proxy. */
  announce?: string[]
  /** Reservations per IP address and requests per peer (reservation-limits.ts, N13). */
  reservationLimits?: ReservationLimitOptions
  log?: (line: string) => void
}

export interface RelayHandle {
  /** Dialable multiaddrs, each ending in `/p2p/<relay PeerId>`. */
  multiaddrs: string[]
  peerId: string
  /** Reservations refused by the per-IP and per-peer limits, by reason. */
  refused: () => Readonly<Record<string, number>>
  /** Peers subscribed to the discovery topic, and how many of them the relay forwards
   * records to (its gossipsub mesh; all of them, N16). */
  discoveryPeers: () => { subscribers: number, mesh: number }
  stop(): Promise<void>
}

/** Reads the relay key from `path`, or creates one there (0600, written atomically). */
export async function loadOrCreateRelayKey (path: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  return key
}

interface ReserveArgs { connection: Connection }
type ReserveHandler = (args: ReserveArgs, options: unknown) => Promise<void>

/**
 * The circuit relay server emits no event per reservation; its `handleReserve` method (public
 * on the server class) runs once per RESERVE request, so it is wrapped to log the outcome.
 * Returns false when the method is missing (a future version), so the caller can fall back.
 */
function logEachReservation (service: CircuitRelayService, log: (line: string) => void): boolean {
  const target = service as CircuitRelayService & { handleReserve?: ReserveHandler }
  const original = target.handleReserve
  if (typeof original !== 'function') return false
  target.handleReserve = async function (this: unknown, args: ReserveArgs, options: unknown): Promise<void> {
    await original.call(this, args, options)
    const peer = args.connection.remotePeer
    const granted = service.reservations.get(peer)
    log(granted != null
      ? `relay: reservation for ${peer.toString()} until ${granted.expiry.toISOString()}`
      : `relay: reservation refused for ${peer.toString()}`)
  }
  return true
}

function describe (conn: Connection): string {
  return `${conn.remotePeer.toString()} ${conn.direction} ${conn.remoteAddr.toString()}`
}

export async function startRelay (opts: RelayOptions = {}): Promise<RelayHandle> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`)
  const log = opts.log ?? ((line: string) => { console.log(line) })
  const privateKey = opts.keyFile != null ? await loadOrCreateRelayKey(opts.keyFile) : undefined
  const topic = opts.discoveryTopic ?? DEFAULT_DISCOVERY_TOPIC
  const limiter = new ReservationLimiter(opts.reservationLimits)
  let holders: () => Iterable<Holder> = () => []
  let ipOfPeer: (peer: string) => string | null = () => null

  const node = await createLibp2p({
    ...(privateKey != null ? { privateKey } : {}),
    addresses: {
      listen: [`/ip4/${host}/tcp/${port}/${opts.tls != null ? 'tls/ws' : 'ws'}`],
      ...(opts.announce != null && opts.announce.length > 0 ? { announce: opts.announce } : {})
    },
    transports: [webSockets(opts.tls != null ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {})],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      denyInboundRelayReservation: (peer) => {
        const refusal = limiter.check(peer.toString(), ipOfPeer(peer.toString()), holders(), Date.now())
        if (refusal != null) log(`relay: reservation refused for ${peer.toString()} (${refusal})`)
        return refusal != null
      }
    },
    connectionManager: {
      maxConnections: 1024,
      // many tabs of one machine reconnect at once after a relay restart: the default of 5
      // inbound connections per second per host would turn most of them away
      inboundConnectionThreshold: 200,
      maxIncomingPendingConnections: 128
    },
    peerDiscovery: [pubsubPeerDiscovery({ topics: [topic], listenOnly: true })],
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({ reservations: { maxReservations: MAX_RESERVATIONS } }),
      // the relay carries the discovery topic only: application gossip (ledger blocks) must
      // flow peer to peer over direct connections, never through the signaling relay
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        canRelayMessage: false,
        allowedTopics: [topic],
        // every subscriber in the mesh, so every record reaches every peer at once (N16)
        D: RELAY_DISCOVERY_MESH,
        Dlo: RELAY_DISCOVERY_MESH,
        Dhi: RELAY_DISCOVERY_MESH,
        // Gossipsub's default penalises more than 10 peers sharing one IP address, and keeps
        // a gone peer's record for an hour: every tab of a local demo (and every phone behind
        // one NAT) shares an address, so past ~11 tabs the relay stopped forwarding discovery
        // to anyone (measured: test/bench/mesh.ts, tab capacity 12 -> 20+ without it). Abuse
        // is handled per peer by reservation limits, the discovery check below (a bad record
        // costs its sender score, N11/N12) and the peers' misbehaviour tracking.
        ...gossipScoring([topic])
      })
    }
  })

  holders = function * () {
    for (const [peer, r] of node.services.relay.reservations.entries()) yield { peer: peer.toString(), ip: ipOf(r.addr) }
  }
  ipOfPeer = (peer) => {
    const conn = node.getConnections().find(c => c.remotePeer.toString() === peer)
    return conn == null ? null : ipOf(conn.remoteAddr)
  }
  // a fake discovery record is dropped here, never forwarded to the peers (N12)
  node.services.pubsub.topicValidators.set(topic, discoveryValidator({ strike: () => {} }))
  node.addEventListener('connection:open', evt => { log(`relay: connection open ${describe(evt.detail)}`) })
  node.addEventListener('connection:close', evt => { log(`relay: connection close ${describe(evt.detail)}`) })
  if (!logEachReservation(node.services.relay, log)) {
    // fallback: the server tags a peer when it first grants it a reservation
    node.addEventListener('peer:update', (evt: CustomEvent<PeerUpdate>) => {
      if (evt.detail.peer.tags.has(RELAY_SOURCE_TAG) && evt.detail.previous?.tags.has(RELAY_SOURCE_TAG) !== true) {
        log(`relay: reservation for ${evt.detail.peer.id.toString()}`)
      }
    })
  }

  await node.start()
  const multiaddrs = node.getMultiaddrs().map(ma => ma.toString())
  log(`relay: listening as ${node.peerId.toString()} on ${multiaddrs.join(' ')}`)
  let stopped = false
  return {
    multiaddrs,
    peerId: node.peerId.toString(),
    refused: () => ({ ...limiter.refused }),
    discoveryPeers: () => ({
      subscribers: node.services.pubsub.getSubscribers(topic).length,
      // the implementation has getMeshPeers; the exported GossipSub interface does not
      mesh: (node.services.pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(topic).length
    }),
    async stop () {
      if (stopped) return
      stopped = true
      await node.stop()
      log('relay: stopped')
    }
  }
}
