// Discovery through the relay (SPEC N16): the relay forwards every peer's discovery record to
// every subscribed peer, however many tabs there are. With gossipsub's default mesh degree
// (D 6, Dhi 12) a relay forwarded records to 12 peers at most and pruned the others out of
// its mesh for a minute, and 16 tabs did not form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { logger, startPeers, stopAll, waitFor } from './helpers.ts'

/** More than gossipsub's default Dhi (12). */
const PEERS = 15

describe('discovery through one relay', () => {
  let relay: RelayHandle | undefined
  let nets: AllianceNet[] = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    // targetDirect 0: no WebRTC, discovery only
    nets = await startPeers(PEERS, relay.multiaddrs, { targetDirect: 0, discoveryIntervalMs: 60_000 })
    await waitFor('all reserved', () => nets.every(n => n.relays()[0]?.state === 'reserved'))
    await waitFor(`${PEERS} subscribers at the relay`, () => relay?.discoveryPeers().subscribers === PEERS)
  }, 60_000)

  afterAll(async () => {
    await stopAll([...nets, relay])
  })

  it('[N16] the relay forwards discovery records to every subscribed peer, past gossipsub\'s default mesh degree', async () => {
    // each peer grafts the relay at its own heartbeat; the relay must keep all of them
    await waitFor('every subscriber in the relay\'s discovery mesh', () => relay?.discoveryPeers().mesh === PEERS, 15_000)
    await waitFor('every peer discovered every other', () => nets.every(n => n.discovered().length === PEERS - 1), 30_000)
    expect(relay?.discoveryPeers()).toEqual({ subscribers: PEERS, mesh: PEERS })
  }, 60_000)
})
