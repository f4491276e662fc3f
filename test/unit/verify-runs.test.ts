// A batch streamed through the verify pool (SPEC P8): one job per run posted at once over
// the workers, verdicts per run in input order, and bulk ingest handing each run to the
// engine (and to `onRun`, where the service queues its store write) as soon as that run is
// back, while later runs are still being checked. Fake in-process workers that answer only
// when the test lets them, so the order is deterministic.
import { describe, expect, it } from 'vitest'
import { blockIdOf, LedgerEngine } from '../../src/core/ledger/index.ts'
import type { BatchResult, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { createVerifyPool } from '../../src/peer/verify-pool.ts'
import type { WorkerLike } from '../../src/peer/verify-pool.ts'
import { runVerifyJob } from '../../src/peer/verify-job.ts'
import type { VerifyJob, VerifyJobReply } from '../../src/peer/verify-job.ts'
import { addUntrustedBlocks } from '../../src/peer/bulk-ingest.ts'
import { NOW, validatorChain as chainOf, withBadSig } from '../fixtures/ledger-helpers.ts'

/** Workers whose replies wait in `held` until `release(jobId)`. */
function heldWorkers (): { make: () => WorkerLike, jobs: VerifyJob[], release: (id: number) => Promise<void> } {
  const jobs: VerifyJob[] = []
  const owner = new Map<number, WorkerLike>()
  return {
    jobs,
    make: () => {
      const w: WorkerLike = { onmessage: null, onerror: null, terminate: () => {}, postMessage: (job) => { jobs.push(job); owner.set(job.id, w) } }
      return w
    },
    release: async (id) => {
      const job = jobs.find(j => j.id === id) as VerifyJob
      const reply = await runVerifyJob(structuredClone(job))
      owner.get(id)?.onmessage?.({ data: structuredClone(reply) } as MessageEvent<VerifyJobReply>)
    }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 0)) }

describe('verify pool runs', () => {
  it('[P8] posts one job per run at once over the workers; each run answers in input order, as check would', async () => {
    const { ctx, blocks } = chainOf(10)
    const input = [...blocks.slice(0, 4), withBadSig(blocks[4]), ...blocks.slice(5)]
    const w = heldWorkers()
    const pool = createVerifyPool({ size: 2, makeWorker: w.make })
    const runs = pool.checkRuns(ctx, input, NOW, 3)
    // every run is posted before any is answered (the workers never wait for the engine)
    expect(runs.length).toBe(4)
    expect(w.jobs.map(j => j.blocks.length)).toEqual([3, 3, 3, 1])
    // answered last to first: each promise still holds its own run
    for (const j of [...w.jobs].reverse()) await w.release(j.id)
    const verdicts = (await Promise.all(runs)).flat()
    expect(verdicts.length).toBe(input.length)
    verdicts.forEach((v, i) => {
      if (i === 4) { expect(v).toBeNull(); return }
      expect((v as ValidatedBlock).id).toBe(blockIdOf(input[i]))
      expect((v as ValidatedBlock).bytes).toBe(input[i])
    })
    pool.close()
  })

  it('[P8][P6] bulk ingest adds each run as soon as it is back, before later runs answer; the engine ends as addMany leaves it', async () => {
    const { ctx, blocks } = chainOf(12)
    const input = [...blocks.slice(0, 7), withBadSig(blocks[7]), ...blocks.slice(8)]
    const w = heldWorkers()
    const pool = createVerifyPool({ size: 2, makeWorker: w.make })
    const viaRuns = new LedgerEngine(ctx)
    const seen: BatchResult[][] = []
    // runs of 4 (the service takes the pool's chunk per worker)
    const done = addUntrustedBlocks(viaRuns, ctx, pool, input, NOW, (r) => { seen.push([...r]) }, 4)
    expect(w.jobs.length).toBe(3)
    await w.release(w.jobs[0].id)
    await tick()
    // the first run is in the engine (and handed on) while the other two are still out
    expect(seen.length).toBe(1)
    expect(viaRuns.stats().blocks).toBeGreaterThanOrEqual(4)
    await w.release(w.jobs[2].id)
    await tick()
    expect(seen.length).toBe(1) // the third waits for the second: the engine takes runs in input order
    await w.release(w.jobs[1].id)
    const results = (await done).flatMap(r => r.results)
    expect(seen.length).toBe(3)
    const plain = new LedgerEngine(ctx)
    const expected = plain.addMany(input, { now: NOW }).results
    expect(results.map(r => [r.kind, r.kind === 'rejected' ? r.error.code : null])).toEqual(expected.map(r => [r.kind, r.kind === 'rejected' ? r.error.code : null]))
    expect(viaRuns.stateHash()).toBe(plain.stateHash())
    pool.close()
  })
})
