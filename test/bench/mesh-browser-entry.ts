// Bundled by the mesh bench (test/bench/mesh.ts) for Chromium pages: a bare AllianceNet per
// page (no wallet, no ledger, no UI) plus the bench-only hooks the product must not have:
// raw byte sinks for stream throughput (one direct-only, one allowed on relayed, limited
// connections), timed direct dials, and gossip receipt timestamps.
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { closeAndReadAll, createAllianceNet, DEFAULT_DISCOVERY_TOPIC } from '../../src/net/index.ts'
import type { AllianceNet } from '../../src/net/index.ts'
import { generateKeyPair, libp2pPrivateKey } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'

/** Direct-only sink (AllianceNet.handle refuses streams on limited connections). */
export const SINK_DIRECT = '/alliance-bench/sink/1'
/** Sink that also runs on relayed (limited) connections, registered on libp2p itself. */
export const SINK_RELAYED = '/alliance-bench/sink-relayed/1'

export interface StartOptions { relays: string[], targetDirect?: number, discoveryIntervalMs?: number }
export interface ConnInfo { peer: string, limited: boolean, status: string, addr: string, direction: string }
export interface Transfer { bytes: number, ackedBytes: number, openMs: number, ms: number, mbPerS: number, limited: boolean, addr: string }

let net: AllianceNet | undefined
const received = new Map<string, number>()
const seen = new Map<string, number>()
const log: string[] = []

function now (): number { return performance.timeOrigin + performance.now() }

function pushLog (line: string): void {
  log.push(`${Math.round(now())} ${line}`)
  if (log.length > 2000) log.shift()
}

function theNet (): AllianceNet {
  if (net == null) throw new Error('meshBench.start() first')
  return net
}

/** Reads the whole stream (until the remote closes its writable end), then acks the count. */
async function sink (stream: Stream): Promise<void> {
  let bytes = 0
  for await (const chunk of stream) bytes += chunk.byteLength
  stream.send(new TextEncoder().encode(String(bytes)))
  await stream.close()
}

/** Sends `total` bytes in `chunk`-sized writes (respecting backpressure), half-closes, and
 * waits for the receiver's ack, which it sends after reading everything. */
async function pump (stream: Stream, total: number, chunk: number): Promise<{ ms: number, ackedBytes: number }> {
  const buf = new Uint8Array(chunk)
  crypto.getRandomValues(buf.subarray(0, Math.min(chunk, 65_536)))
  const t0 = performance.now()
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunk, total - sent)
    if (!stream.send(n === chunk ? buf : buf.subarray(0, n))) await stream.onDrain({ signal: AbortSignal.timeout(60_000) })
    sent += n
  }
  // reads the ack while closing: read after close() it could be lost (SPEC N8)
  const ack = new TextDecoder().decode(await closeAndReadAll(stream, { signal: AbortSignal.timeout(60_000) }))
  const ms = performance.now() - t0
  return { ms, ackedBytes: Number(ack) }
}

function describe (err: unknown): string {
  const parts: string[] = []
  for (let e = err as { name?: string, message?: string, cause?: unknown } | undefined, i = 0; e != null && i < 4; e = e.cause as typeof e, i++) {
    parts.push(`${e.name ?? 'Error'}: ${e.message ?? String(e)}`)
  }
  return parts.join(' <- ')
}

function relayedAddrOf (peerId: string): ReturnType<typeof multiaddr> {
  const relay = theNet().relays().find(r => r.state === 'reserved') ?? theNet().relays()[0]
  if (relay == null) throw new Error('no relay configured')
  return multiaddr(`${relay.addr}/p2p-circuit/p2p/${peerId}`)
}

const api = {
  async start (opts: StartOptions): Promise<{ did: string, peerId: string }> {
    if (net != null) throw new Error('already started')
    const { seed } = generateKeyPair()
    net = await createAllianceNet({
      privateKey: libp2pPrivateKey(seed),
      relays: opts.relays,
      targetDirect: opts.targetDirect,
      discoveryIntervalMs: opts.discoveryIntervalMs,
      // epoch milliseconds, so that lines of several tabs can be merged into one timeline
      log: line => { pushLog(line) }
    })
    // connection events for the formation trace (test/bench/mesh-trace.ts)
    for (const type of ['connection:open', 'connection:close'] as const) {
      net.libp2p.addEventListener(type, (evt) => {
        const c = evt.detail
        pushLog(`conn: ${type === 'connection:open' ? 'open' : 'close'} ${c.remotePeer.toString()} ${c.direction} ${c.limits != null ? 'limited' : 'direct'} ${c.remoteAddr.toString()}`)
      })
    }
    net.libp2p.services.pubsub.addEventListener('message', (evt) => { seen.set(evt.detail.topic, (seen.get(evt.detail.topic) ?? 0) + 1) })
    await net.start()
    await net.handle(SINK_DIRECT, async (stream) => { await sink(stream) }, { maxInboundStreams: 4 })
    await net.libp2p.handle(SINK_RELAYED, async (stream) => { await sink(stream) }, { runOnLimitedConnection: true, maxInboundStreams: 4 })
    return { did: net.did, peerId: net.peerId }
  },

  state (): { relays: string[], direct: string[], relayed: string[], conns: ConnInfo[], discovered: number } {
    const n = theNet()
    const peers = n.peers()
    return {
      relays: n.relays().map(r => r.state),
      direct: peers.filter(p => p.kind === 'direct').map(p => p.peerId),
      relayed: peers.filter(p => p.kind === 'relayed').map(p => p.peerId),
      conns: n.libp2p.getConnections().map((c: Connection) => ({
        peer: c.remotePeer.toString(), limited: c.limits != null, status: c.status, addr: c.remoteAddr.toString(), direction: c.direction
      })),
      discovered: n.discovered().length
    }
  },

  /** Connections to `peerId` (any kind, open). */
  connCount (peerId: string): number {
    return theNet().libp2p.getConnections(peerIdFromString(peerId)).filter(c => c.status === 'open').length
  },

  async hangUp (peerId: string): Promise<void> {
    await theNet().libp2p.hangUp(peerIdFromString(peerId))
  },

  /** Milliseconds of `connectDirect(did)` (relay circuit + signaling + ICE + DTLS + SCTP). */
  async timeConnectDirect (did: string): Promise<{ ms: number, limited: boolean, addr: string }> {
    const t0 = performance.now()
    let conn: Connection
    try {
      conn = await theNet().connectDirect(did as Did, { signal: AbortSignal.timeout(30_000) })
    } catch (err) {
      throw new Error(`connectDirect failed: ${describe(err)}; log: ${log.slice(-6).join(' | ')}`)
    }
    const ms = performance.now() - t0
    return { ms, limited: conn.limits != null, addr: conn.remoteAddr.toString() }
  },

  /** `total` bytes to `did` over the direct connection (made first, not timed). */
  async transferDirect (did: string, total: number, chunk: number): Promise<Transfer> {
    const n = theNet()
    const conn = await n.connectDirect(did as Did, { signal: AbortSignal.timeout(30_000) })
    const t0 = performance.now()
    const stream = await n.dialProtocol(did as Did, SINK_DIRECT, { signal: AbortSignal.timeout(30_000) })
    const openMs = performance.now() - t0
    const r = await pump(stream, total, chunk)
    return { bytes: total, ackedBytes: r.ackedBytes, openMs, ms: r.ms, mbPerS: total / 1e6 / (r.ms / 1000), limited: conn.limits != null, addr: conn.remoteAddr.toString() }
  },

  /** `total` bytes to `peerId` over a relayed (limited) circuit connection through our relay;
   * the connection is dialed first (not timed). */
  async transferRelayed (peerId: string, total: number, chunk: number): Promise<Transfer> {
    const n = theNet()
    const addr = relayedAddrOf(peerId)
    const conn = await n.libp2p.dial(addr, { signal: AbortSignal.timeout(30_000) })
    if (conn.limits == null) throw new Error(`expected a limited (relayed) connection, got ${conn.remoteAddr.toString()}`)
    const t0 = performance.now()
    const stream = await conn.newStream(SINK_RELAYED, { runOnLimitedConnection: true, signal: AbortSignal.timeout(30_000) })
    const openMs = performance.now() - t0
    const r = await pump(stream, total, chunk)
    return { bytes: total, ackedBytes: r.ackedBytes, openMs, ms: r.ms, mbPerS: total / 1e6 / (r.ms / 1000), limited: true, addr: conn.remoteAddr.toString() }
  },

  /** Records the arrival time (performance.timeOrigin + now) of each message on `topic`. */
  subscribe (topic: string): void {
    theNet().subscribe(topic, (data) => {
      const id = new TextDecoder().decode(data).split(' ')[0]
      if (!received.has(id)) received.set(id, now())
    })
  },

  topicPeers (topic: string): number {
    return theNet().libp2p.services.pubsub.getSubscribers(topic).length
  },

  /** Publishes `id` (padded to `size` bytes); returns the send time and the recipient count. */
  async publish (topic: string, id: string, size = 256): Promise<{ at: number, recipients: number }> {
    const text = `${id} `.padEnd(size, '.')
    const at = now()
    const recipients = await theNet().publish(topic, new TextEncoder().encode(text))
    return { at, recipients }
  },

  receivedAt (ids: string[]): Array<number | null> {
    return ids.map(id => received.get(id) ?? null)
  },

  log (): string[] { return [...log] },

  stats (): ReturnType<AllianceNet['stats']> { return theNet().stats() },

  /** Gossipsub's view of a topic (default: peer discovery) and messages seen on it. */
  gossipInfo (topic = DEFAULT_DISCOVERY_TOPIC): { subscribers: number, mesh: number, seen: number, relayInMesh: boolean } {
    const ps = theNet().libp2p.services.pubsub
    const relayIds = new Set(theNet().relays().map(r => r.addr.split('/p2p/').pop()))
    // the implementation has getMeshPeers; the exported GossipSub interface does not
    const mesh = (ps as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(topic)
    return { subscribers: ps.getSubscribers(topic).length, mesh: mesh.length, seen: seen.get(topic) ?? 0, relayInMesh: mesh.some(p => relayIds.has(p)) }
  },

  async stop (): Promise<void> {
    await net?.stop()
    net = undefined
  }
}

export type MeshBench = typeof api
declare global { interface Window { meshBench?: MeshBench } }
window.meshBench = api
