// Bundled by the market bench (test/bench/market.ts) for Chromium pages: a bare AllianceNet
// per page (no wallet, no ledger, no UI; its own discovery topic, so the app's tabs never see
// it) and one raw byte protocol over a direct WebRTC connection, the baseline of the relay
// service's throughput. The receiver records when the first and the last byte arrived.
import type { Stream } from '@libp2p/interface'
import { createAllianceNet } from '../../src/net/index.ts'
import type { AllianceNet } from '../../src/net/index.ts'
import { generateKeyPair, libp2pPrivateKey } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'

export const RAW_PROTOCOL = '/alliance-bench/market-raw/1'

export interface Arrival { bytes: number, firstAt: number | null, lastAt: number | null, done: boolean }

let net: AllianceNet | undefined
let arrivals: Arrival[] = []

/** Epoch milliseconds with sub-millisecond resolution, comparable between tabs. */
function now (): number { return performance.timeOrigin + performance.now() }

function theNet (): AllianceNet {
  if (net == null) throw new Error('marketBench.start() first')
  return net
}

async function sink (stream: Stream): Promise<void> {
  const a: Arrival = { bytes: 0, firstAt: null, lastAt: null, done: false }
  arrivals.push(a)
  for await (const chunk of stream) {
    const t = now()
    a.firstAt ??= t
    a.lastAt = t
    a.bytes += chunk.byteLength
  }
  a.done = true
  stream.send(new TextEncoder().encode(String(a.bytes)))
  await stream.close()
}

const api = {
  async start (relays: string[], topic: string): Promise<{ did: string }> {
    if (net != null) throw new Error('already started')
    const { seed } = generateKeyPair()
    net = await createAllianceNet({ privateKey: libp2pPrivateKey(seed), relays, discoveryTopic: topic, targetDirect: 0 })
    await net.start()
    await net.handle(RAW_PROTOCOL, async (stream) => { await sink(stream) }, { maxInboundStreams: 4 })
    return { did: net.did }
  },

  reserved (): boolean {
    const r = theNet().relays()
    return r.length > 0 && r.every(s => s.state === 'reserved')
  },

  async connect (did: string): Promise<{ ms: number, limited: boolean }> {
    const t0 = performance.now()
    const conn = await theNet().connectDirect(did as Did, { signal: AbortSignal.timeout(30_000) })
    return { ms: performance.now() - t0, limited: conn.limits != null }
  },

  /** Sends `total` bytes in `chunk`-sized writes (backpressure respected), half-closes, waits
   * for the receiver's count. `t0`: epoch ms of the first write (the stream is opened before). */
  async send (did: string, total: number, chunk: number): Promise<{ t0: number, ms: number, acked: number }> {
    const stream = await theNet().dialProtocol(did as Did, RAW_PROTOCOL, { signal: AbortSignal.timeout(30_000) })
    const buf = new Uint8Array(chunk)
    for (let i = 0; i < chunk; i++) buf[i] = (i * 31 + (i >> 11)) & 0xff
    const t0 = now()
    for (let sent = 0; sent < total;) {
      const n = Math.min(chunk, total - sent)
      if (!stream.send(n === chunk ? buf : buf.subarray(0, n))) await stream.onDrain({ signal: AbortSignal.timeout(60_000) })
      sent += n
    }
    await stream.close({ signal: AbortSignal.timeout(60_000) })
    let ack = ''
    for await (const part of stream) ack += new TextDecoder().decode(part.subarray())
    return { t0, ms: now() - t0, acked: Number(ack) }
  },

  /** What arrived on the raw protocol, oldest first; `clear` forgets it. */
  arrivals (clear = false): Arrival[] {
    const out = arrivals.map(a => ({ ...a }))
    if (clear) arrivals = arrivals.filter(a => !a.done)
    return out
  },

  async stop (): Promise<void> {
    await net?.stop()
    net = undefined
  }
}

export type MarketBench = typeof api
declare global { interface Window { marketBench?: MarketBench } }
window.marketBench = api
