/**
 * ICE servers as node-datachannel needs them (Node only: the relay's peers, the operator,
 * tests). Its RTCPeerConnection polyfill folds `username` and `credential` into the URL
 * (`turn:<username>:<credential>@host:port`), which libdatachannel splits at the first `:`
 * and `@` and then percent-decodes. A TURN REST username is `<expiry>:<name>` and the
 * credential is base64 (`+`, `/`, `=`), so unencoded they reach coturn cut in the wrong place
 * and every allocation fails with 401 ("TURN authentication failed"): a Node peer behind a
 * symmetric NAT would then never connect (SPEC N7). Browsers take the fields as they are, so
 * this is applied in the Node entry only.
 */
import type { AllianceNetOptions } from './alliance-net.ts'

type IceServers = NonNullable<AllianceNetOptions['iceServers']>

export function encodeIceServer (server: RTCIceServer): RTCIceServer {
  if (server.username == null && server.credential == null) return server
  const out: RTCIceServer = { ...server }
  if (typeof server.username === 'string') out.username = encodeURIComponent(server.username)
  if (typeof server.credential === 'string') out.credential = encodeURIComponent(server.credential)
  return out
}

/** `iceServers` (a list or a function asked per handshake) with every credential percent-encoded. */
export function nodeIceServers (servers: IceServers | undefined): IceServers | undefined {
  if (servers == null) return undefined
  if (typeof servers !== 'function') return servers.map(encodeIceServer)
  return async () => (await servers()).map(encodeIceServer)
}
