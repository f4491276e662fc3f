/**
 * `/alliance/relay/1` alone on Node (node-datachannel WebRTC), for fast iteration on the relay
 * pipe: three bare AllianceNets (payer A, provider C, target B) over a real relay, a gate that
 * always grants and a meter that always counts, so what is measured is the relay protocol's own
 * cost beside a raw stream A → B on the same kind of connection, in the same run. The figure
 * the issue asks for is the Chromium one (market.ts chromiumRelayThroughput).
 */
import { startRelay } from '../../src/relay/relay.ts'
import { RelayService } from '../../src/net/relay-service.ts'
import type { RelayedStream } from '../../src/net/relay-service.ts'
import type { PayerMeter, ServiceGate } from '../../src/net/session-protocol.ts'
import type { Did } from '../../src/core/identity.ts'
import { startPeers, stopAll, waitFor, fullyDirect } from '../integration/helpers.ts'
import { median, report } from './report.ts'

const MIB = 1024 * 1024

const gate: ServiceGate = { take: async (max) => max, stopped: false, onStop: () => () => {} }
const meter: PayerMeter = { reserve: (max) => max, received: () => {}, stopped: false, onStop: () => () => {} }

export async function nodeRelayPipe (): Promise<void> {
  const REPS = Number(process.env.MARKET_RELAY_REPS ?? 5)
  const TOTAL = Number(process.env.MARKET_RELAY_MIB ?? 8) * MIB
  const CHUNK = 64 * 1024
  const relay = await startRelay({ port: 0, log: () => {} })
  const nets = await startPeers(3, relay.multiaddrs)
  try {
    await waitFor('a direct mesh of three', () => fullyDirect(nets), 60_000)
    const [a, b, c] = nets
    const services = nets.map((net) => new RelayService({
      net,
      host: { relaySession: () => ({ gate, target: b.did, window: 512 * 1024 }) }
    }))
    await Promise.all(services.map(async (s) => { await s.start() }))
    let arrival: { bytes: number, first: number, last: number, done: Promise<void> } | null = null
    services[1].onRelayedStream((s: RelayedStream) => {
      const r = { bytes: 0, first: 0, last: 0, done: Promise.resolve() }
      r.done = (async () => {
        await timeArrival(s, r)
        await s.end()
      })()
      arrival = r
    })
    const RAW = '/alliance-bench/relay-node-raw/1'
    let rawArrival: { bytes: number, first: number, last: number } = { bytes: 0, first: 0, last: 0 }
    await b.handle(RAW, async (stream) => {
      const r = { bytes: 0, first: 0, last: 0 }
      rawArrival = r
      await timeArrival(stream, r)
      await stream.close()
    })
    const buf = new Uint8Array(CHUNK).map((_, i) => i & 0xff)
    const relayed: number[] = []
    const raw: number[] = []
    for (let rep = 0; rep < REPS; rep++) {
      const ch = await services[0].open(c.did, b.did as Did, `bench-${rep}`, meter)
      for (let off = 0; off < TOTAL; off += CHUNK) await ch.write(buf)
      await ch.end()
      await waitFor('the target read everything', () => arrival !== null && arrival.bytes >= TOTAL, 60_000, 5)
      const got = arrival as unknown as { bytes: number, first: number, last: number, done: Promise<void> }
      relayed.push(TOTAL / 1e6 / ((got.last - got.first) / 1000))
      for await (const _ of ch) { /* the target's end */ }
      arrival = null

      const stream = await a.dialProtocol(b.did, RAW)
      for (let off = 0; off < TOTAL; off += CHUNK) if (!stream.send(buf)) await stream.onDrain()
      await stream.close()
      await waitFor('the raw sink read everything', () => rawArrival.bytes >= TOTAL, 60_000, 5)
      raw.push(TOTAL / 1e6 / ((rawArrival.last - rawArrival.first) / 1000))
      rawArrival = { bytes: 0, first: 0, last: 0 }
    }
    const list = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(',')
    report({ bench: 'market', metric: 'node.raw-direct.throughput.median', value: median(raw), unit: 'MB/s', note: `${TOTAL / MIB} MiB in 64 KiB writes over one stream A → B (node-datachannel); n=${REPS} [${list(raw)}]` })
    report({ bench: 'market', metric: 'node.relay-pipe.throughput.median', value: median(relayed), unit: 'MB/s', baseline: median(raw), note: `ratio = relay / raw. /alliance/relay/1 A → C → B with an always-open gate (no session, no ledger); n=${REPS} [${list(relayed)}]` })
    await Promise.all(services.map(async (s) => { await s.stop() }))
  } finally {
    await stopAll(nets)
    await relay.stop()
  }
}

/** Reads `source` to its end, counting bytes and the times of the first and last chunk. */
async function timeArrival (source: AsyncIterable<{ byteLength: number }>, r: { bytes: number, first: number, last: number }): Promise<void> {
  for await (const chunk of source) {
    const t = performance.now()
    if (r.first === 0) r.first = t
    r.last = t
    r.bytes += chunk.byteLength
  }
}
