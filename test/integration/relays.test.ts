// Several relays: a peer keeps a reservation on each, and losing one relay loses neither the
// existing direct connections nor the ability of a newcomer to join through the other relay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { fullyDirect, logger, startPeers, stopAll, waitFor } from './helpers.ts'

describe('two relays', () => {
  let relayA: RelayHandle | undefined
  let relayB: RelayHandle | undefined
  let relayAddrs: string[] = []
  let nets: AllianceNet[] = []
  let late: AllianceNet[] = []

  beforeAll(async () => {
    relayA = await startRelay({ port: 0, log: logger('relayA') })
    relayB = await startRelay({ port: 0, log: logger('relayB') })
    relayAddrs = [relayA.multiaddrs[0], relayB.multiaddrs[0]]
    nets = await startPeers(2, relayAddrs)
  })

  afterAll(async () => {
    await stopAll([...nets, ...late, relayA, relayB])
  })

  it('reserves on every configured relay and advertises a WebRTC address through each', async () => {
    await waitFor('both peers reserved on both relays', () => nets.every(n => n.relays().every(r => r.state === 'reserved')))
    for (const n of nets) {
      expect(n.relays().map(r => r.addr).sort()).toEqual([...relayAddrs].sort())
      const addrs = n.libp2p.getMultiaddrs().map(String)
      for (const r of relayAddrs) expect(addrs).toContain(`${r}/p2p-circuit/webrtc/p2p/${n.peerId}`)
      // relays are not listed as peers
      expect(n.peers().map(p => p.peerId)).not.toContain(relayA?.peerId)
      expect(n.peers().map(p => p.peerId)).not.toContain(relayB?.peerId)
    }
    await waitFor('a direct connection between the two peers', () => fullyDirect(nets), 90_000)
  })

  it('losing one relay keeps the mesh, and a newcomer joins through the other', async () => {
    await relayA?.stop()
    const aAddr = relayAddrs[0]
    await waitFor('relay A marked as lost, B still reserved', () => nets.every(n =>
      n.relays().find(r => r.addr === aAddr)?.state !== 'reserved' &&
      n.relays().find(r => r.addr !== aAddr)?.state === 'reserved'))
    expect(fullyDirect(nets)).toBe(true)
    late = await startPeers(1, relayAddrs)
    const everyone = [...nets, ...late]
    await waitFor('the newcomer reserved on relay B', () => late[0].relays().find(r => r.addr === relayAddrs[1])?.state === 'reserved')
    expect(late[0].relays().find(r => r.addr === aAddr)?.state).not.toBe('reserved')
    await waitFor('the newcomer discovered both peers', () => nets.every(n => late[0].discovered().includes(n.did)))
    await waitFor('a direct connection between all three', () => fullyDirect(everyone), 90_000)
    await late[0].sendDm(nets[0].did, 'joined through relay B')
    expect(nets[0].inbox().at(-1)).toMatchObject({ from: late[0].did, text: 'joined through relay B' })
  })
})
