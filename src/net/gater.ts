/**
 * The connection gater of an alliance peer, the same in the browser and in Node.
 *
 * Dialing: libp2p's browser default refuses every insecure `ws://` and every private address,
 * which would also refuse a relay on `ws://127.0.0.1` (the local demo) or on a LAN. Here:
 * an address whose transport part (before any `/p2p-circuit`) is a configured relay's host and
 * port is allowed, secure websockets (`wss`, `tls/ws`) are allowed anywhere, and anything else
 * is refused. So a peer can only make us dial plain `ws://` hosts we configured ourselves,
 * whatever addresses it advertises through discovery.
 *
 * Misbehaving peers: while a peer is on the deny-list, every dial to it and every inbound
 * connection from it (direct, relayed or upgraded) is refused.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const HOST_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'])

interface Endpoint { host?: string, port?: string, secure: boolean, websocket: boolean }

/** The transport part of an address: the relay in a circuit address, else the whole. */
export function endpointOf (ma: Multiaddr): Endpoint {
  const components = ma.getComponents()
  const circuit = components.findIndex(c => c.name === 'p2p-circuit')
  const base = circuit >= 0 ? components.slice(0, circuit) : components
  const names = base.map(c => c.name)
  return {
    host: base.find(c => HOST_PROTOCOLS.has(c.name))?.value?.toLowerCase(),
    port: base.find(c => c.name === 'tcp')?.value,
    secure: names.includes('wss') || (names.includes('tls') && names.includes('ws')),
    websocket: names.includes('ws') || names.includes('wss')
  }
}

export interface GaterOptions {
  /** The configured relays (read at each call, so relays may change at runtime). */
  relays: () => Multiaddr[]
  isDenied: (peerId: string) => boolean
}

export function allianceGater (opts: GaterOptions): ConnectionGater {
  const denied = (peerId: PeerId): boolean => opts.isDenied(peerId.toString())
  return {
    denyDialMultiaddr (ma: Multiaddr): boolean {
      const target = endpointOf(ma)
      if (target.host == null) return true
      const isRelay = opts.relays().some(r => {
        const relay = endpointOf(r)
        return relay.host === target.host && relay.port === target.port
      })
      if (isRelay) return false
      return !(target.websocket && target.secure)
    },
    denyDialPeer: denied,
    denyInboundEncryptedConnection: denied,
    denyOutboundEncryptedConnection: denied,
    denyInboundUpgradedConnection: denied,
    denyOutboundUpgradedConnection: denied,
    denyInboundRelayedConnection: (_relay: PeerId, remotePeer: PeerId) => denied(remotePeer)
  }
}
