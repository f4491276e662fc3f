/**
 * The state digest of a downloaded checkpoint package, off the main thread (SPEC.md S31,
 * issue 10 "join from a checkpoint"): the LtHash of every state entry is most of a join's
 * CPU (one ChaCha20 expansion per entry, ~200,000 entries for a 100,000-block ledger), so a
 * tab hands it to Web Workers, one part each (`state-hash-job.ts`), and adds their lanes up
 * while its main thread decodes the package and checks the signatures. Where there is no
 * `Worker` (Node) or a worker fails, the part runs in the calling thread: slower, never
 * different. The sum is handed to `joinFromCheckpoint` as `stateCommitment` (S15's last check;
 * the joined state keeps it, so its first digest does not hash every entry again).
 */
import { StateCommitment } from '../core/ledger/state-commitment.ts'
import { runStateHashJob } from './state-hash-job.ts'
import type { StateHashJob, StateHashReply } from './state-hash-job.ts'
import { browserPoolSize } from './verify-pool.ts'

/** The part of a `Worker` the hasher uses (tests hand in fakes). */
export interface HashWorkerLike {
  postMessage: (msg: StateHashJob) => void
  onmessage: ((event: MessageEvent<StateHashReply>) => void) | null
  onerror: ((event: ErrorEvent) => void) | null
  terminate: () => void
}

export interface StateHasher {
  /** The commitment of the package's state entries (P7), which S15 compares by its digest. */
  commitment: (packageBytes: Uint8Array) => Promise<StateCommitment>
  /** Parts a worker failed and the calling thread hashed instead. */
  readonly fallbacks: number
  /** False when every part runs in the calling thread (then the caller may as well hash what it decoded). */
  readonly offThread: boolean
}

export interface StateHasherOptions {
  /** Workers (parts); 0 hashes in the calling thread. */
  readonly size: number
  readonly makeWorker?: () => HashWorkerLike
}

export function createStateHasher (opts: StateHasherOptions): StateHasher {
  const size = opts.makeWorker == null ? 0 : Math.max(0, Math.floor(opts.size))
  let fallbacks = 0
  let ids = 0

  /** One part on a fresh worker (a join happens once per tab: no pool to keep warm). */
  const onWorker = async (job: StateHashJob): Promise<Uint8Array> => {
    const reply = await new Promise<StateHashReply>((resolve) => {
      let w: HashWorkerLike
      try {
        w = (opts.makeWorker as () => HashWorkerLike)()
      } catch (err) {
        resolve({ id: job.id, error: `no state hash worker: ${(err as Error).message}` })
        return
      }
      w.onmessage = (event) => { w.terminate(); resolve(event.data) }
      w.onerror = (event) => { w.terminate(); resolve({ id: job.id, error: `state hash worker failed: ${event.message}` }) }
      // the worker gets its own copy: the caller keeps decoding the original meanwhile
      w.postMessage(job)
    })
    if ('lanes' in reply) return reply.lanes
    fallbacks++
    return inThread(job)
  }

  const inThread = (job: StateHashJob): Uint8Array => {
    const reply = runStateHashJob(job)
    if ('error' in reply) throw new Error(reply.error)
    return reply.lanes
  }

  return {
    commitment: async (bytes) => {
      const parts = Math.max(1, size)
      const jobs = Array.from({ length: parts }, (_, part) => ({ id: ++ids, bytes, part, parts }))
      const lanes = size === 0 ? jobs.map(inThread) : await Promise.all(jobs.map(onWorker))
      const sum = StateCommitment.empty()
      for (const l of lanes) sum.combine(StateCommitment.fromBytes(l))
      return sum
    },
    get fallbacks () { return fallbacks },
    offThread: size > 0
  }
}

/** Web Workers where there are any (one per core but one, 1 to 4), else the calling thread. */
export function defaultStateHasher (): StateHasher {
  const hasWorkers = typeof Worker !== 'undefined' && typeof window !== 'undefined'
  return createStateHasher(hasWorkers
    ? { size: browserPoolSize(), makeWorker: () => new Worker(new URL('./state-hash-worker.ts', import.meta.url), { type: 'module' }) as unknown as HashWorkerLike }
    : { size: 0 })
}
