/**
 * Connection through TURN vs direct, in the NAT lab's network namespaces (issue 9 benchmark;
 * test/fixtures/nat-lab.ts): two cone homes connect directly (STUN), a symmetric home connects
 * to a cone home through coturn. Setup = `connectDirect` called → direct WebRTC connection open
 * (signaling over the relay, ICE, DTLS, Noise, Yamux), median of SAMPLES dials each, a hang-up
 * between; throughput = BYTES streamed to the other side's sink until its count comes back.
 * Ratios are TURN / direct of the same run. Without root/netns/coturn one JSON line says why.
 */
import { median, report } from './report.ts'
import { natLabSkipReason, startNatLab } from '../fixtures/nat-lab.ts'
import type { NatPeer } from '../fixtures/nat-lab.ts'

const BENCH = 'nat-traversal'
const SAMPLES = 5
const BYTES = 8 * 1024 * 1024

async function measure (a: NatPeer, b: NatPeer): Promise<{ setup: number[], mibps: number }> {
  const setup: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    setup.push((await a.call<{ ms: number }>('connect', { did: b.did })).ms)
    if (i < SAMPLES - 1) {
      await a.call('hangup', { did: b.did })
      // both sides see the close before the next dial
      await new Promise(resolve => setTimeout(resolve, 300))
    }
  }
  const sent = await a.call<{ ms: number, bytes: number }>('send', { did: b.did, bytes: BYTES })
  if (sent.bytes !== BYTES) throw new Error(`the sink counted ${sent.bytes} of ${BYTES} bytes`)
  return { setup, mibps: (BYTES / 1048576) / (sent.ms / 1000) }
}

export async function benchNat (): Promise<void> {
  const skip = natLabSkipReason()
  if (skip != null) {
    console.log(JSON.stringify({ bench: BENCH, skipped: skip }))
    return
  }
  const lab = await startNatLab(['cone', 'cone', 'symmetric'], { stunOnly: ['home1', 'home2'] })
  try {
    const [home1, home2, home3] = lab.peers
    await Promise.all(lab.peers.map(async p => { await p.call('serve') }))
    for (const [a, b] of [[home1, home2], [home3, home1]]) {
      const deadline = Date.now() + 30_000
      while (!(await a.call<string[]>('discovered')).includes(b.did)) {
        if (Date.now() > deadline) throw new Error(`${a.name} did not discover ${b.name}`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
    const direct = await measure(home1, home2)
    const turn = await measure(home3, home1)
    const note = `${SAMPLES} dials each; direct = cone↔cone by STUN (srflx pair), turn = symmetric↔cone through coturn (relay candidate), all in network namespaces on one machine`
    report({ bench: BENCH, metric: 'netns.direct.setup.median', value: median(direct.setup), unit: 'ms', note: `connectDirect → open; ${note}` })
    report({ bench: BENCH, metric: 'netns.turn.setup.median', value: median(turn.setup), unit: 'ms', baseline: median(direct.setup), note: 'ratio = TURN / direct' })
    report({ bench: BENCH, metric: 'netns.direct.throughput', value: direct.mibps, unit: 'MiB/s', note: `${BYTES / 1048576} MiB to the sink, one stream` })
    report({ bench: BENCH, metric: 'netns.turn.throughput', value: turn.mibps, unit: 'MiB/s', baseline: direct.mibps, note: 'ratio = TURN / direct' })
  } finally {
    await lab.stop()
  }
}
