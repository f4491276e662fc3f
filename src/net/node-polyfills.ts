/**
 * Node-only runtime shims, imported (for their side effects) by every Node entry point:
 * the relay, tests and `src/net/node.ts`. Never import this from browser code: it pulls in `ws`.
 *
 * - `Promise.withResolvers` (see `polyfills.ts`).
 * - A global `WebSocket`: @libp2p/websockets dials with `globalThis.WebSocket`, which Node 22
 *   has and Node 20 does not. The `ws` client implements the same event-target API; a no-op
 *   `error` listener keeps a failed dial from becoming an uncaught EventEmitter error (the
 *   transport still sees the failure through its own `error`/`close` listeners).
 * - The init-channel watchdog for node-datachannel (node-init-channel.ts).
 */
import './polyfills.ts'
import { WebSocket as WsWebSocket } from 'ws'
import { installInitChannelWatchdog } from './node-init-channel.ts'

installInitChannelWatchdog(line => { if (process.env.NET_TEST_LOG === '1') console.log(line) })

class NodeWebSocket extends WsWebSocket {
  constructor (address: string | URL, protocols?: string | string[]) {
    super(address, protocols)
    this.on('error', () => {})
  }
}

const g = globalThis as { WebSocket?: unknown }
if (g.WebSocket == null) g.WebSocket = NodeWebSocket
