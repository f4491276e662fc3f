// Dial timing rules of the mesh (SPEC N3, N9, N10) with real peers over a real relay: an
// upgrade that takes longer than libp2p's own dial timeouts still completes, of two peers
// exactly one dials first, and a busy recipient queues a handshake instead of refusing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { peerIdFromString } from '@libp2p/peer-id'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { dialsFirst } from '../../src/net/mesh.ts'
import { logger, startPeers, stopAll, waitFor } from './helpers.ts'

/** Longer than libp2p's per-address dial timeout (6 s), which cut such upgrades off before. */
const SLOW_ANSWER_MS = 7_000

describe('mesh dial timing', () => {
  let relay: RelayHandle | undefined
  let nets: AllianceNet[] = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    // targetDirect 0: the mesh dials nobody on its own; the test dials
    nets = await startPeers(2, relay.multiaddrs, { targetDirect: 0 })
    await waitFor('both reserved', () => nets.every(n => n.relays()[0]?.state === 'reserved'))
    await waitFor('both discovered', () => nets[0].discovered().includes(nets[1].did) && nets[1].discovered().includes(nets[0].did))
  })

  afterAll(async () => {
    await stopAll([...nets, relay])
  })

  it('[N9] of two peers exactly one is the first dialer, and each peer is it for about half its pairs', () => {
    const ids = nets.map(n => n.peerId)
    expect(dialsFirst(ids[0], ids[1])).not.toBe(dialsFirst(ids[1], ids[0]))
    // many PeerId-like strings: the lowest of them is first dialer for about half its pairs
    const fake = Array.from({ length: 200 }, (_, i) => `12D3KooW${(i * 7919).toString(36).padStart(8, '0')}`).sort()
    const lowestDials = fake.slice(1).filter(other => dialsFirst(fake[0], other)).length
    expect(lowestDials).toBeGreaterThan(60)
    expect(lowestDials).toBeLessThan(140)
  })

  it('[N10] an upgrade slower than libp2p\'s per-address dial timeout completes', async () => {
    const [a, b] = nets
    const proto = RTCPeerConnection.prototype
    const setRemote = proto.setRemoteDescription
    // only the recipient of a handshake is given an offer: it takes the offer in late
    // (libdatachannel answers and gathers as soon as it has the offer, so the delay goes here)
    proto.setRemoteDescription = async function (this: RTCPeerConnection, desc: RTCSessionDescriptionInit) {
      if (desc?.type === 'offer') await new Promise(resolve => setTimeout(resolve, SLOW_ANSWER_MS))
      await setRemote.call(this, desc)
    } as typeof proto.setRemoteDescription
    const t0 = Date.now()
    try {
      const conn = await a.connectDirect(b.did, { signal: AbortSignal.timeout(30_000) })
      expect(conn.limits).toBeUndefined()
      // the answer really was late: the dial lasted past the old cut-off
      expect(Date.now() - t0).toBeGreaterThanOrEqual(SLOW_ANSWER_MS)
      expect(a.stats().webrtcDialFailures).toBe(0)
      expect(b.libp2p.getConnections(peerIdFromString(a.peerId)).some(c => c.status === 'open' && c.limits == null)).toBe(true)
    } finally {
      proto.setRemoteDescription = setRemote
    }
  }, 40_000)
})

describe('a recipient at its inbound handshake cap', () => {
  let relay: RelayHandle | undefined
  let nets: AllianceNet[] = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    nets = await startPeers(3, relay.multiaddrs, { targetDirect: 0, maxInboundHandshakes: 1 })
    await waitFor('all reserved', () => nets.every(n => n.relays()[0]?.state === 'reserved'))
    await waitFor('c discovered', () => nets[0].discovered().includes(nets[2].did) && nets[1].discovered().includes(nets[2].did))
  })

  afterAll(async () => {
    await stopAll([...nets, relay])
  })

  it('[N3] makes the second dialer wait for the slot: both dials succeed, none is refused', async () => {
    const [a, b, c] = nets
    const [ca, cb] = await Promise.all([
      a.connectDirect(c.did, { signal: AbortSignal.timeout(30_000) }),
      b.connectDirect(c.did, { signal: AbortSignal.timeout(30_000) })
    ])
    expect(ca.limits).toBeUndefined()
    expect(cb.limits).toBeUndefined()
    expect(a.stats().webrtcDialFailures + b.stats().webrtcDialFailures).toBe(0)
    expect(c.peers().filter(p => p.kind === 'direct').map(p => p.peerId).sort()).toEqual([a.peerId, b.peerId].sort())
  }, 45_000) // the two upgrades run one after the other at the capped recipient: past vitest's 20 s under load, within the dials' own 30 s
})
