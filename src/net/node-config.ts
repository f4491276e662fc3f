/**
 * The libp2p configuration of an alliance node (split from alliance-net.ts, which wires the
 * running node: views, gossip, protocols, DMs): transports (WebSockets to relays, circuit
 * relay for signaling, WebRTC behind the handshake guard), Noise, Yamux, the gater, the
 * connection manager's timeouts, pubsub peer discovery, identify, ping, gossipsub with its
 * scoring, and the relay keeper. `buildNode` returns the node (not started) and what the
 * AllianceNet around it needs.
 */
import './polyfills.ts'
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import type { Libp2p, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import { gossipScoring } from './gossip-guard.ts'
import {
  DEFAULT_DISCOVERY_INTERVAL_MS, DEFAULT_DISCOVERY_TOPIC, DEFAULT_MAX_CONNECTIONS, DEFAULT_TARGET_DIRECT,
  MAX_GOSSIP_BYTES, UPGRADE_TIMEOUT_MS
} from './constants.ts'
import { allianceGater } from './gater.ts'
import { MisbehaviourTracker } from './misbehaviour.ts'
import type { MisbehaviourOptions } from './misbehaviour.ts'
import { relayKeeper } from './relay-keeper.ts'
import type { RelayKeeper } from './relay-keeper.ts'
import { RtcBudget } from './rtc-budget.ts'
import { guardedWebRTC } from './webrtc-guard.ts'
import type { HandshakeView } from './webrtc-guard.ts'

export interface AllianceNetOptions {
  /** The peer's Ed25519 libp2p key (`libp2pPrivateKey(seed)`), so PeerId == DID. */
  privateKey: PrivateKey
  /** Relay multiaddrs, each ending in `/p2p/<relay PeerId>`. */
  relays: string[]
  /** Direct connections to keep. Default 8. */
  targetDirect?: number
  /** Connection cap of libp2p (direct + relayed + relays). Default 64. */
  maxConnections?: number
  /**
   * ICE servers (STUN and TURN), or a function asked before each handshake (so short-lived
   * TURN credentials can be renewed). Default none: host candidates only. Setting them
   * replaces libp2p's default STUN list, so list STUN servers too.
   */
  iceServers?: RTCIceServer[] | (() => RTCIceServer[] | Promise<RTCIceServer[]>)
  /** Gossip topic of peer discovery; must match the relays'. */
  discoveryTopic?: string
  /** Re-announcement period of discovery. Default 10 s. */
  discoveryIntervalMs?: number
  /** Thresholds of the garbage detector (5 bad frames a minute, denied 2 minutes). */
  misbehaviour?: MisbehaviourOptions
  /** RTCPeerConnections this node may create (Chromium: ~500 per tab lifetime). Default 400. */
  webrtcDialBudget?: number
  /** A budget shared across nodes of one tab (the runtime keeps one over lock/unlock and
   * reloads); overrides `webrtcDialBudget`. */
  rtcBudget?: RtcBudget
  /** Direct connections past which inbound WebRTC handshakes are refused. Default 2 × targetDirect, at least 4. */
  maxDirect?: number
  /** Inbound WebRTC handshakes running at once; more wait for a slot (webrtc-guard.ts). Default 4. */
  maxInboundHandshakes?: number
  log?: (line: string) => void
}

export interface AllianceServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  pubsub: GossipSub
  relayKeeper: RelayKeeper
}

export interface Hooks {
  onChange: () => void
  discovery?: PeerDiscovery & { _broadcast?: () => void }
}

/** Builds the libp2p node (not started) and the parts the AllianceNet around it shares. */
export async function buildNode (opts: AllianceNetOptions): Promise<{ node: Libp2p<AllianceServices>, internals: Internals }> {
  if (opts.privateKey?.type !== 'Ed25519') throw new TypeError('privateKey must be an Ed25519 libp2p key')
  if (!Array.isArray(opts.relays)) throw new TypeError('relays must be an array of multiaddrs')
  const targetDirect = opts.targetDirect ?? DEFAULT_TARGET_DIRECT
  if (!Number.isInteger(targetDirect) || targetDirect < 0) throw new RangeError('targetDirect must be a non-negative integer')
  const log = opts.log ?? (() => {})
  const budget = opts.rtcBudget ?? new RtcBudget({ limit: opts.webrtcDialBudget })
  const iceServers = opts.iceServers ?? []
  const webrtc = guardedWebRTC({
    rtcConfiguration: async () => ({ iceServers: typeof iceServers === 'function' ? await iceServers() : iceServers })
  }, { budget, maxDirect: opts.maxDirect ?? Math.max(4, 2 * targetDirect), maxInboundHandshakes: opts.maxInboundHandshakes, log })
  const misbehaviour = new MisbehaviourTracker(opts.misbehaviour)
  const hooks: Hooks = { onChange: () => {} }
  const topic = opts.discoveryTopic ?? DEFAULT_DISCOVERY_TOPIC
  let keeper: RelayKeeper | undefined

  const node = await createLibp2p<AllianceServices>({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen: ['/webrtc'] },
    transports: [
      webSockets(),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      webrtc.transport
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: allianceGater({
      relays: () => keeper?.configuredRelayAddrs() ?? [],
      isDenied: peer => misbehaviour.isDenied(peer)
    }),
    connectionManager: {
      maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      // a WebRTC upgrade under load takes seconds; libp2p's 6 s per address cut it off after
      // it had spent its RTCPeerConnection (the mesh bounds each upgrade itself)
      dialTimeout: UPGRADE_TIMEOUT_MS,
      addressDialTimeout: UPGRADE_TIMEOUT_MS,
      // and the recipient's side of the same handshake (default 10 s)
      inboundUpgradeTimeout: UPGRADE_TIMEOUT_MS,
      // every inbound WebRTC and relayed connection appears to come from the relay's host
      inboundConnectionThreshold: 50
    },
    peerDiscovery: [
      (components) => {
        const discovery = pubsubPeerDiscovery({ topics: [topic], interval: opts.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS })(components)
        hooks.discovery = discovery
        return discovery
      }
    ],
    services: {
      // not on relayed (limited) connections: between peers those only carry the WebRTC
      // signaling, and an identify exchange there (a signed peer record each way, through
      // the relay) competed with it for the first round trips of every upgrade
      identify: identify({ runOnLimitedConnection: false }),
      identifyPush: identifyPush({ runOnLimitedConnection: false }),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        floodPublish: true,
        emitSelf: false,
        maxInboundDataLength: MAX_GOSSIP_BYTES,
        // P4 (invalid messages) on the discovery topic now, on each application topic as it
        // is subscribed (gossip-guard.ts, SPEC N11)
        ...gossipScoring([topic])
      }),
      relayKeeper: (components) => {
        keeper = relayKeeper({ relays: opts.relays, onChange: () => { hooks.onChange() }, log })(components)
        return keeper
      }
    }
  })
  return { node, internals: { privateKey: opts.privateKey, targetDirect, log, misbehaviour, hooks, topic, budget, handshakes: webrtc.view } }
}

export interface Internals {
  privateKey: PrivateKey
  targetDirect: number
  log: (line: string) => void
  misbehaviour: MisbehaviourTracker
  hooks: Hooks
  topic: string
  budget: RtcBudget
  handshakes: HandshakeView
}
