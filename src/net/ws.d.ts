/**
 * The few parts of the `ws` package (a dependency of @libp2p/websockets, without bundled
 * types) that `node-polyfills.ts` uses to give Node 20 a WHATWG-style global WebSocket.
 */
declare module 'ws' {
  export class WebSocket {
    constructor (address: string | URL, protocols?: string | string[])
    on (event: string, listener: (...args: unknown[]) => void): this
  }
}
