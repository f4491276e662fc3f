// The WebRTC handshake guard (src/net/rtc-budget.ts) with real peers over a real relay: no
// second handshake with a peer, and a spent RTCPeerConnection budget stops handshakes both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { RtcBudget } from '../../src/net/node.ts'
import { logger, startPeers, stopAll, waitFor } from './helpers.ts'

function direct (a: AllianceNet, b: AllianceNet): number {
  return a.libp2p.getConnections(peerIdFromString(b.peerId)).filter(c => c.status === 'open' && c.limits == null).length
}

describe('WebRTC handshake guard', () => {
  let relay: RelayHandle | undefined
  let nets: AllianceNet[] = []
  const budgets = [new RtcBudget({ limit: 400 }), new RtcBudget({ limit: 400 })]

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    const [a] = await startPeers(1, relay.multiaddrs, { targetDirect: 0, rtcBudget: budgets[0] })
    const [b] = await startPeers(1, relay.multiaddrs, { targetDirect: 0, rtcBudget: budgets[1] })
    nets = [a, b]
    await waitFor('both reserved', () => nets.every(n => n.relays()[0]?.state === 'reserved'))
    await waitFor('both discovered', () => a.discovered().includes(b.did) && b.discovered().includes(a.did))
  })

  afterAll(async () => {
    await stopAll([...nets, relay])
  })

  it('[N3] two peers dialing each other at once end with one direct connection each way', async () => {
    const [a, b] = nets
    const [ca, cb] = await Promise.all([
      a.connectDirect(b.did, { signal: AbortSignal.timeout(30_000) }),
      b.connectDirect(a.did, { signal: AbortSignal.timeout(30_000) })
    ])
    expect(ca.limits).toBeUndefined()
    expect(cb.limits).toBeUndefined()
    expect(direct(a, b)).toBe(1)
    expect(direct(b, a)).toBe(1)
    // at most one RTCPeerConnection each for the dial and one for the refused/accepted inbound
    expect(budgets[0].state().used + budgets[1].state().used).toBeLessThanOrEqual(4)
    // connected: asking again spends nothing
    const before = budgets[0].state().used
    await a.connectDirect(b.did)
    expect(budgets[0].state().used).toBe(before)
  })

  it('[N2] a spent budget refuses new handshakes in both directions and says so', async () => {
    const [a, b] = nets
    await a.libp2p.hangUp(peerIdFromString(b.peerId))
    await waitFor('no connection left', () => direct(a, b) === 0 && direct(b, a) === 0, 15_000)
    budgets[1].markRefused()
    expect(b.rtcBudget().spent).toBe(true)
    await expect(b.connectDirect(a.did)).rejects.toMatchObject({ code: 'ERR_RTC_BUDGET_SPENT' })
    // inbound: b refuses a's handshake instead of creating an RTCPeerConnection
    await expect(a.connectDirect(b.did, { signal: AbortSignal.timeout(20_000) })).rejects.toMatchObject({ code: 'ERR_NOT_DIRECTLY_CONNECTED' })
    expect(budgets[1].state().used).toBeLessThanOrEqual(2)
  })
})
