// The WebRTC handshake guard (src/net/webrtc-guard.ts) around a fake transport: which of two
// crossing handshakes is refused (N17), and no inbound handshake from a peer we already hold
// a direct connection to (N3, N17).
import { describe, expect, it } from 'vitest'
import type { Connection, Stream, Transport } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { guardedWebRTC } from '../../src/net/webrtc-guard.ts'
import { dialsFirst } from '../../src/net/dial-order.ts'
import { RtcBudget } from '../../src/net/rtc-budget.ts'

const SELF = '12D3KooWSelf'
const RELAY = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWRelay'

/** A peer id for which "first dialer" and "lower PeerId" disagree, as the test asks. */
function peerWhere (selfDialsFirst: boolean): string {
  for (let i = 0; i < 1000; i++) {
    // '0…' sorts below SELF, 'a…' above it
    const id = `12D3KooW${i % 2 === 0 ? '0' : 'a'}${i.toString(36).padStart(6, '0')}`
    if (dialsFirst(SELF, id) === selfDialsFirst && (SELF < id) !== selfDialsFirst) return id
  }
  throw new Error('no such peer id')
}

interface Harness {
  transport: Transport & { _onProtocol: (s: Stream, c: Connection, sig: AbortSignal) => Promise<void> }
  inboundRan: string[]
  /** Ends the fake outbound dial to a peer. */
  finishDial: (peer: string) => void
  conns: Connection[]
}

function harness (): Harness {
  const inboundRan: string[] = []
  const dials = new Map<string, () => void>()
  const conns: Connection[] = []
  const fake = {
    dial: async (ma: ReturnType<typeof multiaddr>) => {
      const peer = ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''
      await new Promise<void>(resolve => { dials.set(peer, resolve) })
      return {} as unknown as Connection
    },
    _onProtocol: async (_s: Stream, c: Connection) => { inboundRan.push(c.remotePeer.toString()) }
  }
  const { transport } = guardedWebRTC({}, { budget: new RtcBudget({ limit: 100 }), inner: () => fake as unknown as Transport })
  const components = { peerId: { toString: () => SELF }, connectionManager: { getConnections: () => conns } }
  return {
    transport: transport(components as unknown as Parameters<typeof transport>[0]) as Harness['transport'],
    inboundRan,
    finishDial: peer => { dials.get(peer)?.() },
    conns
  }
}

function signaling (peer: string): { stream: Stream, conn: Connection, aborted: () => Error | undefined } {
  let reason: Error | undefined
  const stream = { abort: (err: Error) => { reason = err } } as unknown as Stream
  const conn = { remotePeer: { toString: () => peer }, limits: { bytes: 1n } } as unknown as Connection
  return { stream, conn, aborted: () => reason }
}

function directConn (peer: string): Connection {
  return { remotePeer: { toString: () => peer }, status: 'open', limits: undefined, remoteAddr: multiaddr(`/webrtc/p2p/${peer}`) } as unknown as Connection
}

describe('WebRTC handshake guard', () => {
  it('[N17] of two crossing handshakes the first dialer refuses the other one\'s, whatever the PeerId order', async () => {
    const h = harness()
    const second = peerWhere(true) // we dial it first; it is the lower PeerId
    const dial = h.transport.dial(multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${second}`), { upgrader: {} } as never)
    const s = signaling(second)
    await h.transport._onProtocol(s.stream, s.conn, new AbortController().signal)
    expect(s.aborted()?.message).toMatch(/our own dial/)
    expect(h.inboundRan).toEqual([])
    h.finishDial(second)
    await dial
  })

  it('[N17] the second dialer takes the first dialer\'s handshake in while its own dial runs', async () => {
    const h = harness()
    const first = peerWhere(false) // it dials us first; it is the higher PeerId
    const dial = h.transport.dial(multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${first}`), { upgrader: {} } as never)
    const s = signaling(first)
    await h.transport._onProtocol(s.stream, s.conn, new AbortController().signal)
    expect(s.aborted()).toBeUndefined()
    expect(h.inboundRan).toEqual([first])
    h.finishDial(first)
    await dial
  })

  it('[N17] refuses an inbound handshake from a peer it already holds a direct connection to', async () => {
    const h = harness()
    const peer = peerWhere(false)
    h.conns.push(directConn(peer))
    const s = signaling(peer)
    await h.transport._onProtocol(s.stream, s.conn, new AbortController().signal)
    expect(s.aborted()?.message).toMatch(/direct connection to it is open/)
    expect(h.inboundRan).toEqual([])
  })
})
