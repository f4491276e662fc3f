/**
 * Node entry of the network layer: installs the Node 20 shims (Promise.withResolvers, a global
 * WebSocket from `ws`) before anything dials, then re-exports the browser-safe surface, with
 * `createAllianceNet` adapting TURN credentials to node-datachannel (node-ice.ts).
 */
import './node-polyfills.ts'
import { createAllianceNet as createBrowserSafeNet } from './alliance-net.ts'
import type { AllianceNet, AllianceNetOptions } from './alliance-net.ts'
import { nodeIceServers } from './node-ice.ts'

export * from './index.ts'
export { encodeIceServer, nodeIceServers } from './node-ice.ts'

/** `createAllianceNet` of alliance-net.ts, for node-datachannel's WebRTC. */
export async function createAllianceNet (opts: AllianceNetOptions): Promise<AllianceNet> {
  return await createBrowserSafeNet({ ...opts, iceServers: nodeIceServers(opts.iceServers) })
}
