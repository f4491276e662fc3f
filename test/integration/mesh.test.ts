// The alliance mesh end to end in one process: a real relay (WebSockets, circuit relay v2,
// gossipsub discovery) and three Node peers that discover each other, upgrade to direct
// WebRTC connections (node-datachannel), exchange encrypted DMs, survive the relay stopping,
// and re-reserve when it comes back on the same port with the same key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet, DmMessage } from '../../src/net/node.ts'
import { readOneFrame, writeFrame } from '../../src/net/node.ts'
import { fullyDirect, logger, startPeers, stopAll, waitFor } from './helpers.ts'

describe('alliance mesh over a real relay', () => {
  let dir: string
  let keyFile: string
  let relay: RelayHandle | undefined
  let relayPort: number
  let nets: AllianceNet[] = []
  const relayLog: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'alliance-relay-'))
    keyFile = join(dir, 'relay.key')
    const log = logger('relay')
    relay = await startRelay({ port: 0, keyFile, log: line => { relayLog.push(line); log(line) } })
    relayPort = Number(relay.multiaddrs[0].split('/')[4])
    nets = await startPeers(3, relay.multiaddrs)
  })

  afterAll(async () => {
    await stopAll([...nets, relay])
    await rm(dir, { recursive: true, force: true })
  })

  it('reserves a slot on the relay and logs it', async () => {
    await waitFor('every peer reserved on the relay', () => nets.every(n => n.relays()[0]?.state === 'reserved'))
    for (const n of nets) {
      expect(n.relays()).toHaveLength(1)
      expect(n.relays()[0].addr).toBe(relay?.multiaddrs[0])
      expect(n.libp2p.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit/webrtc'))).toBe(true)
    }
    expect(relayLog.filter(l => l.includes('reservation for')).length).toBeGreaterThanOrEqual(3)
    expect(relayLog.some(l => l.includes('connection open'))).toBe(true)
  })

  it('every peer discovers the others', async () => {
    await waitFor('mutual discovery', () => nets.every(a => nets.every(b => a === b || a.discovered().includes(b.did))))
    for (const n of nets) {
      expect(n.discovered()).not.toContain(n.did)
      expect(n.discovered()).toHaveLength(2)
    }
  })

  it('upgrades to direct WebRTC connections between every pair', async () => {
    await waitFor('a direct connection between every pair', () => fullyDirect(nets), 90_000)
    for (const n of nets) {
      const peers = n.peers()
      expect(peers.map(p => p.did).sort()).toEqual(nets.filter(o => o !== n).map(o => o.did).sort())
      for (const p of peers) {
        expect(p.kind).toBe('direct')
        expect(p.addr).toContain('/webrtc')
        // the relay itself is not listed among peers
        expect(p.peerId).not.toBe(relay?.peerId)
      }
    }
    // the direct connection is a real WebRTC one, without relay limits
    const conn = nets[0].libp2p.getConnections(nets[1].libp2p.peerId).find(c => c.limits == null)
    expect(conn?.remoteAddr.toString()).toMatch(/\/webrtc\/p2p\//)
    await waitFor('an RTT for every direct peer', () => nets.every(n => n.peers().every(p => typeof p.rttMs === 'number')))
  })

  it('runs custom protocols over the direct connection (handle / dialProtocol)', async () => {
    const [alice, bob] = nets
    const seen: Array<{ did: string, limited: boolean }> = []
    await bob.handle('/alliance/test-echo/1', async (stream, ctx) => {
      seen.push({ did: ctx.did, limited: ctx.connection.limits != null })
      const frame = await readOneFrame(stream, 1024)
      await writeFrame(stream, frame)
      await stream.close()
    }, { maxInboundStreams: 2 })
    const stream = await alice.dialProtocol(bob.did, '/alliance/test-echo/1')
    await writeFrame(stream, new TextEncoder().encode('ping over webrtc'))
    await stream.close()
    expect(new TextDecoder().decode(await readOneFrame(stream, 1024))).toBe('ping over webrtc')
    expect(seen).toEqual([{ did: alice.did, limited: false }])
    await bob.unhandle('/alliance/test-echo/1')
  })

  it('replaces a dropped direct connection', async () => {
    const [alice, bob] = nets
    await alice.libp2p.hangUp(bob.libp2p.peerId)
    await waitFor('alice and bob disconnected', () => !alice.peers().some(p => p.did === bob.did && p.kind === 'direct'), 10_000, 20)
    await waitFor('the direct connection is back', () => fullyDirect(nets), 90_000)
    expect(alice.peers().find(p => p.did === bob.did)?.kind).toBe('direct')
  })

  it('delivers a direct message decrypted at the receiver, naming the sender', async () => {
    const [alice, bob] = nets
    const got: DmMessage[] = []
    const off = bob.onDm(msg => { got.push(msg) })
    const before = Date.now()
    await alice.sendDm(bob.did, 'hello bob, this is alice')
    off()
    expect(got).toHaveLength(1)
    expect(got[0].from).toBe(alice.did)
    expect(got[0].text).toBe('hello bob, this is alice')
    expect(got[0].at).toBeGreaterThanOrEqual(before - 1000)
    expect(bob.inbox().at(-1)).toEqual(got[0])
    expect(bob.stats().dmReceived).toBe(1)
    expect(alice.stats().dmSent).toBe(1)
    // the third peer saw nothing
    expect(nets[2].inbox()).toHaveLength(0)
  })

  it('gossip reaches the other peers with the author DID', async () => {
    const topic = 'alliance/test/1'
    const received = new Map<string, string[]>()
    const offs = nets.map(n => n.subscribe(topic, (data, from) => {
      received.set(n.did, [...(received.get(n.did) ?? []), `${from}:${new TextDecoder().decode(data)}`])
    }))
    // wait until the subscription has propagated to the publisher's mesh
    await waitFor('subscribers known to the publisher', () => nets[0].libp2p.services.pubsub.getSubscribers(topic).length >= 2)
    await nets[0].publish(topic, new TextEncoder().encode('block-1'))
    await waitFor('gossip delivered to both other peers', () => (received.get(nets[1].did)?.length ?? 0) > 0 && (received.get(nets[2].did)?.length ?? 0) > 0)
    expect(received.get(nets[1].did)).toEqual([`${nets[0].did}:block-1`])
    expect(received.has(nets[0].did)).toBe(false)
    offs.forEach(off => { off() })
  })

  it('keeps direct connections when the relay stops', async () => {
    let changes = 0
    const off = nets[0].on('change', () => { changes++ })
    await relay?.stop()
    await waitFor('relay marked as lost', () => nets.every(n => n.relays()[0].state !== 'reserved'))
    await waitFor('a change event for the relay state', () => changes > 0, 5_000, 20)
    off()
    for (const n of nets) {
      expect(['reconnecting', 'connecting']).toContain(n.relays()[0].state)
      expect(n.peers().filter(p => p.kind === 'direct')).toHaveLength(2)
    }
    // application traffic still flows peer to peer
    await nets[2].sendDm(nets[0].did, 'still here without the relay')
    expect(nets[0].inbox().at(-1)?.text).toBe('still here without the relay')
    expect(nets[0].inbox().at(-1)?.from).toBe(nets[2].did)
  })

  it('re-reserves when the relay restarts on the same port with the same key, without restarting peers', async () => {
    const oldPeerId = relay?.peerId
    const log = logger('relay2')
    relay = await startRelay({ port: relayPort, keyFile, log: line => { relayLog.push(line); log(line) } })
    expect(relay.peerId).toBe(oldPeerId)
    expect(relay.multiaddrs[0]).toBe(nets[0].relays()[0].addr)
    await waitFor('every peer reserved again', () => nets.every(n => n.relays()[0].state === 'reserved'), 60_000)
    expect(nets.every(n => n.libp2p.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit/webrtc')))).toBe(true)
    expect(fullyDirect(nets)).toBe(true)
  })
})
