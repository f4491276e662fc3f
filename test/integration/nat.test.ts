// NAT traversal for real (issue 9 item 3, SPEC N7): network namespaces with a "public" host
// (the relay, the served /alliance-config.json and Debian's coturn with a TURN REST secret) and
// three homes behind NAT, each with a Node peer of src/net in its own process
// (test/fixtures/nat-lab.ts). Homes 1 and 2 sit behind endpoint-independent NATs, home 3 behind
// a symmetric one (MASQUERADE --random-fully). Only the namespaces' own addresses are used.
// Needs root, `ip netns`, iptables and coturn (.ci/run installs them); skipped otherwise with the
// reason printed. NET_TEST_LOG=1 prints every process's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { natLabSkipReason, startNatLab } from '../fixtures/nat-lab.ts'
import type { PeerCandidatePair, RunningLab } from '../fixtures/nat-lab.ts'
import { logger } from './helpers.ts'

const skip = natLabSkipReason()
if (skip != null) console.warn(`[N7] NAT traversal test skipped: ${skip}`)

interface SessionResult { signed: number, acked: number, endReason: string, rejected: Record<string, number> }
const TWO_MIB = 2 * 1024 * 1024
const ROUNDS = 3
const isRelay = (p: PeerCandidatePair): boolean => p.local.type === 'relay' || p.remote.type === 'relay'

describe.skipIf(skip != null)('NAT traversal in network namespaces (coturn, relay, three homes)', () => {
  let lab: RunningLab | undefined

  beforeAll(async () => {
    // libjuice (node-datachannel's ICE) nominates the first pair that succeeds; with TURN in the
    // list that is often the relay pair, because each NAT drops the other's first
    // hole-punching packet (it is unsolicited until our own packet went out). Browsers'
    // libwebrtc keeps checking and moves to the better pair. So the cone homes take STUN
    // only from the served config, and the case asserts that hole punching works.
    lab = await startNatLab(['cone', 'cone', 'symmetric'], { stunOnly: ['home1', 'home2'], log: logger('nat') })
    await Promise.all(lab.peers.map(async p => { await p.call('serve') }))
    const [home1, home2, home3] = lab.peers
    // discovery through the relay in pub: each dialer knows the other's circuit address
    for (const [a, b] of [[home1, home2], [home3, home1]]) {
      const deadline = Date.now() + 30_000
      while (!(await a.call<string[]>('discovered')).includes(b.did)) {
        if (Date.now() > deadline) throw new Error(`${a.name} did not discover ${b.name} through the relay`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
  }, 90_000)

  afterAll(async () => {
    await lab?.stop()
  }, 30_000)

  it('[N7] behind endpoint-independent NATs two peers connect directly with STUN (server-reflexive pair through both NATs) and run a session', async () => {
    const [home1, home2] = lab!.peers
    await home1.call('connect', { did: home2.did })
    const [mine] = await home1.call<PeerCandidatePair[]>('pairs')
    const [theirs] = await home2.call<PeerCandidatePair[]>('pairs')
    expect(mine).toBeDefined()
    expect(isRelay(mine) || isRelay(theirs)).toBe(false)
    // the addresses are the NATs' public ones: the hole was punched through both
    expect([mine.local.address, mine.remote.address].sort()).toEqual(['198.51.100.11', '198.51.100.12'])
    const session = await home1.call<SessionResult>('session', { did: home2.did, rounds: ROUNDS })
    expect(session).toMatchObject({ signed: ROUNDS, acked: ROUNDS, endReason: 'completed', rejected: {} })
    const sent = await home1.call<{ bytes: number }>('send', { did: home2.did, bytes: TWO_MIB })
    expect(sent.bytes).toBe(TWO_MIB)
  })

  it('[N7] behind a symmetric NAT the connection goes through TURN (relay candidate selected, coturn allocations) and runs a session', async () => {
    const [home1, , home3] = lab!.peers
    await home3.call('connect', { did: home1.did })
    const mine = await home3.call<PeerCandidatePair[]>('pairs')
    expect(mine).toHaveLength(1)
    expect(isRelay(mine[0])).toBe(true)
    expect((await home1.call<PeerCandidatePair[]>('pairs')).some(isRelay)).toBe(true)
    // the credentials came from the served config (TURN REST, expiry:name) and coturn took them
    expect(lab!.turnLog()).toMatch(/ALLOCATE processed, success/)
    expect(lab!.turnLog()).toMatch(/username=<\d+:a[0-9a-f]{12}>/)
    const session = await home3.call<SessionResult>('session', { did: home1.did, rounds: ROUNDS })
    expect(session).toMatchObject({ signed: ROUNDS, acked: ROUNDS, endReason: 'completed', rejected: {} })
    const sent = await home3.call<{ bytes: number }>('send', { did: home1.did, bytes: TWO_MIB })
    expect(sent.bytes).toBe(TWO_MIB)
  })
})
