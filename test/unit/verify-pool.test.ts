// The verify pool and bulk ingest (SPEC P5, P6, S6): the stateless rules judged off the main
// thread (fake in-process workers here; the real Worker runs in the Chromium bench), with
// outcomes in input order, a failed worker falling back to the calling thread, and every
// block the pool does not pass judged by the engine with its typed reason.
import { describe, expect, it } from 'vitest'
import { createLedgerContext, createTxRegistry, LedgerEngine, blockIdOf } from '../../src/core/ledger/index.ts'
import type { ValidatedBlock } from '../../src/core/ledger/index.ts'
import { encode } from '../../src/core/codec.ts'
import { createVerifyPool } from '../../src/peer/verify-pool.ts'
import type { WorkerLike } from '../../src/peer/verify-pool.ts'
import { runVerifyJob } from '../../src/peer/verify-job.ts'
import { allianceContext } from '../../src/peer/alliance.ts'
import type { VerifyJob, VerifyJobReply } from '../../src/peer/verify-job.ts'
import { addUntrustedBlocks } from '../../src/peer/bulk-ingest.ts'
import { NOW, testGenesis, validatorChain as chainOf, withBadSig } from '../fixtures/ledger-helpers.ts'

/** A worker that runs the job in this thread, asynchronously, as a real one would answer. */
function fakeWorker (log: VerifyJob[], opts: { crash?: boolean } = {}): WorkerLike {
  const w: WorkerLike = {
    onmessage: null,
    onerror: null,
    terminate: () => {},
    postMessage: (job) => {
      log.push(job)
      setTimeout(() => {
        if (opts.crash === true) { w.onerror?.({ message: 'boom' } as ErrorEvent); return }
        void runVerifyJob(structuredClone(job)).then((reply) => { w.onmessage?.({ data: structuredClone(reply) } as MessageEvent<VerifyJobReply>) })
      }, 0)
    }
  }
  return w
}

describe('verify pool', () => {
  it('[P5] splits a batch over the workers and answers in input order: valid whole, the rest null', async () => {
    const { ctx, blocks } = chainOf(12)
    const input = [...blocks.slice(0, 5), withBadSig(blocks[5]), new Uint8Array([1, 2, 3]), ...blocks.slice(6)]
    const jobs: VerifyJob[] = []
    const pool = createVerifyPool({ size: 3, minChunk: 2, makeWorker: () => fakeWorker(jobs) })
    const out = await pool.check(ctx, input, NOW)
    expect(jobs.length).toBe(3)
    expect(out.length).toBe(input.length)
    out.forEach((v, i) => {
      if (i === 5 || i === 6) { expect(v).toBeNull(); return }
      const x = v as ValidatedBlock
      expect(x.id).toBe(blockIdOf(input[i]))
      expect(x.bytes).toBe(input[i])
      expect(encode(x.block)).toEqual(input[i])
    })
    pool.close()
  })

  it('[P5] a worker that dies hands its job to the calling thread: same outcomes', async () => {
    const { ctx, blocks } = chainOf(8)
    const pool = createVerifyPool({ size: 2, minChunk: 2, makeWorker: () => fakeWorker([], { crash: true }) })
    const out = await pool.check(ctx, blocks, NOW)
    expect(pool.fallbacks).toBe(2)
    expect(out.every((v, i) => v != null && v !== 'sig' && v.id === blockIdOf(blocks[i]))).toBe(true)
    pool.close()
  })

  it('[P5] an alliance with its own tx registry gets only the signature checked in the pool', async () => {
    const ctx = createLedgerContext(testGenesis({ difficulty: 2 }), createTxRegistry())
    const { blocks } = chainOf(4, ctx)
    const pool = createVerifyPool({ size: 1, minChunk: 1, makeWorker: () => fakeWorker([]) })
    expect(await pool.check(ctx, [...blocks, withBadSig(blocks[0])], NOW)).toEqual(['sig', 'sig', 'sig', 'sig', null])
    pool.close()
  })

  it('[P5] the app\'s registry (market types) is rebuilt in the worker: every stateless rule is checked there', async () => {
    const ctx = allianceContext(testGenesis({ difficulty: 2 }))
    const { blocks } = chainOf(4, ctx)
    const jobs: VerifyJob[] = []
    const pool = createVerifyPool({ size: 1, minChunk: 1, makeWorker: () => fakeWorker(jobs) })
    const out = await pool.check(ctx, [...blocks, withBadSig(blocks[0])], NOW)
    expect(jobs[0].registry).toBe('app')
    expect(out.slice(0, 4).map(v => (v as ValidatedBlock).id)).toEqual(blocks.map(b => blockIdOf(b)))
    expect(out[4]).toBeNull()
    pool.close()
  })

  it('[P5] a job whose genesis is not its alliance\'s passes nothing', async () => {
    const { ctx, blocks } = chainOf(2)
    const reply = await runVerifyJob({ id: 1, genesis: testGenesis({ difficulty: 3 }), allianceId: ctx.allianceId, now: NOW, blocks, registry: 'default' })
    expect('error' in reply).toBe(true)
  })
})

describe('bulk ingest', () => {
  it('[P6][S6] through the pool, the engine ends as addMany leaves it; a forged or early block gets its typed reason', async () => {
    const { ctx, blocks } = chainOf(10)
    const forged = withBadSig(blocks[9])
    const future = chainOf(1).blocks[0] // same issuer and alliance, admitted again: judged by the engine
    const input = [...blocks.slice(0, 9), forged, future]
    const pool = createVerifyPool({ size: 2, minChunk: 2, makeWorker: () => fakeWorker([]) })
    const viaPool = new LedgerEngine(ctx)
    const results = (await addUntrustedBlocks(viaPool, ctx, pool, input, NOW)).flatMap(r => r.results)
    const plain = new LedgerEngine(ctx)
    const expected = plain.addMany(input, { now: NOW }).results
    expect(results.map(r => [r.kind, r.kind === 'rejected' ? r.error.code : null])).toEqual(expected.map(r => [r.kind, r.kind === 'rejected' ? r.error.code : null]))
    expect(results[9]).toMatchObject({ kind: 'rejected', error: { code: 'ERR_BAD_SIGNATURE' } })
    expect(viaPool.stateHash()).toBe(plain.stateHash())
    expect(viaPool.stats().blocks).toBe(plain.stats().blocks)
    pool.close()
  })

  it('[P6] a block from the future is refused by the pool and by the engine alike (ERR_FUTURE_TIME)', async () => {
    const { ctx, blocks } = chainOf(5)
    const pool = createVerifyPool({ size: 1, minChunk: 1, makeWorker: () => fakeWorker([]) })
    const early = new LedgerEngine(ctx)
    // a clock far behind the blocks' times
    const r = (await addUntrustedBlocks(early, ctx, pool, blocks, 0)).flatMap(x => x.results)
    expect(r[0]).toMatchObject({ kind: 'rejected', error: { code: 'ERR_FUTURE_TIME' } })
    pool.close()
  })
})
