// The state digest of a checkpoint package off the main thread (SPEC S31): the parts' lanes
// add up to the whole state's commitment, workers that fail hand their part back to the
// calling thread, and a join compares the digest it was handed exactly as its own.
import { describe, expect, it, vi } from 'vitest'
import {
  CheckpointErrorCode, LedgerEngine, checkpointBodyOf, checkpointPackageOf, createLedgerContext, encodeCheckpointPackage, engineState,
  joinFromCheckpoint, signCheckpoint
} from '../../src/core/ledger/index.ts'
import type { BlockId, LedgerContext } from '../../src/core/ledger/index.ts'
import { StateCommitment } from '../../src/core/ledger/state-commitment.ts'
import { createStateHasher } from '../../src/peer/state-hash.ts'
import type { HashWorkerLike } from '../../src/peer/state-hash.ts'
import { runStateHashJob, statePartLanes } from '../../src/peer/state-hash-job.ts'
import type { StateHashJob } from '../../src/peer/state-hash-job.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { NOW, dagGenesis, key } from '../fixtures/ledger-helpers.ts'

const ISSUERS = 4
const ctx: LedgerContext = createLedgerContext(dagGenesis(260, ISSUERS, 0, { maxParentAgeMs: 5000 }))
const dag = makeDag(ctx, 160, { issuers: ISSUERS, sign: true, keyBase: 260, seed: 31, receive: true })
const full = new LedgerEngine(ctx)
full.addMany(dag.map(b => b.bytes), { now: NOW })
const body = checkpointBodyOf(full)
const byId = new Map<BlockId, Uint8Array>(dag.map(b => [b.id, b.bytes]))
const pkg = checkpointPackageOf(body, Array.from({ length: ISSUERS }, (_, i) => signCheckpoint(body, key(260 + i).did, key(260 + i).seed)), engineState(full), id => byId.get(id))
const bytes = encodeCheckpointPackage(pkg)
const whole = StateCommitment.ofState(pkg.state).digest()

/** A worker that runs the job in this thread, asynchronously, as a Worker would; `fail` makes it die instead. */
function fakeWorker (log: StateHashJob[], fail = false): HashWorkerLike {
  const w: HashWorkerLike = {
    onmessage: null,
    onerror: null,
    terminate: () => {},
    postMessage: (job) => {
      log.push(job)
      setTimeout(() => {
        if (fail) w.onerror?.({ message: 'boom' } as ErrorEvent)
        else w.onmessage?.({ data: runStateHashJob(job) } as MessageEvent)
      }, 0)
    }
  }
  return w
}

describe('state hash off the main thread', () => {
  it('[S31] the parts of a package\'s state add up to its commitment, for 1 to 3 parts', () => {
    expect(whole).toBe(body.state)
    for (const parts of [1, 2, 3]) {
      const sum = StateCommitment.empty()
      for (let p = 0; p < parts; p++) sum.combine(StateCommitment.fromBytes(statePartLanes(bytes, p, parts)))
      expect(sum.digest()).toBe(whole)
    }
  })

  it('[S31] workers hash one part each; a worker that dies hands its part to the calling thread (same digest, counted)', async () => {
    const jobs: StateHashJob[] = []
    const hasher = createStateHasher({ size: 3, makeWorker: () => fakeWorker(jobs) })
    expect(hasher.offThread).toBe(true)
    expect((await hasher.commitment(bytes)).digest()).toBe(whole)
    expect(jobs.map(j => `${j.part}/${j.parts}`).sort()).toEqual(['0/3', '1/3', '2/3'])
    let n = 0
    const flaky = createStateHasher({ size: 2, makeWorker: () => fakeWorker([], n++ === 0) })
    expect((await flaky.commitment(bytes)).digest()).toBe(whole)
    expect(flaky.fallbacks).toBe(1)
    expect(createStateHasher({ size: 0 }).offThread).toBe(false)
    expect((await createStateHasher({ size: 0 }).commitment(bytes)).digest()).toBe(whole)
  })

  it('[S31] a join compares the commitment it is handed with the signed digest (another is ERR_CHECKPOINT_STATE) and keeps it', () => {
    const code = (f: () => unknown): string | undefined => { try { f() } catch (err) { return (err as { code?: string }).code } return undefined }
    const other = StateCommitment.fromBytes(statePartLanes(bytes, 0, 2))
    expect(code(() => joinFromCheckpoint(ctx, pkg, { now: NOW, stateCommitment: other }))).toBe(CheckpointErrorCode.STATE)
    const given = StateCommitment.ofState(pkg.state)
    const joined = joinFromCheckpoint(ctx, pkg, { now: NOW, stateCommitment: given })
    expect(joined.stateHash()).toBe(full.stateHash())
    expect(engineState(joined).commitment().equals(given)).toBe(true)
  })

  it('[S31] a joined state starts from the verified commitment: its first digest hashes nothing again', () => {
    const joined = joinFromCheckpoint(ctx, pkg, { now: NOW })
    const spy = vi.spyOn(StateCommitment.prototype, 'add')
    try {
      expect(engineState(joined).digest()).toBe(whole)
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })
})
