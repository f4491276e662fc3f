/**
 * The few parts of the `ws` package (a dependency of @libp2p/websockets, without bundled
 * types) that `node-polyfills.ts` (and the LAN test) use to give Node 20 a WHATWG-style global WebSocket.
 */
declare module 'ws' {
  export class WebSocket {
    /** `options.ca`: the CAs a `wss://` dial trusts (tests of LAN mode's local CA). */
    constructor (address: string | URL, protocols?: string | string[], options?: { ca?: string | string[] })
    on (event: string, listener: (...args: unknown[]) => void): this
  }
}
