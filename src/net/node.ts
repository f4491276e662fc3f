/**
 * Node entry of the network layer: installs the Node 20 shims (Promise.withResolvers, a global
 * WebSocket from `ws`) before anything dials, then re-exports the browser-safe surface.
 */
import './node-polyfills.ts'

export * from './index.ts'
