/**
 * A pool of Web Workers that run the stateless half of block validation (`verify-job.ts`:
 * WebCrypto Ed25519 signatures, then decode, shape, canonical form, PoW and id) off the main
 * thread, so a syncing tab's main thread only does what needs the DAG (the engine's
 * contextual checks and insert) and the store write. A batch is cut into one chunk per
 * worker; outcomes come back in input order. Where there is no `Worker` (Node, tests) or a
 * worker fails, the same job runs in the calling thread instead: slower, never different.
 */
import { defaultTxRegistry } from '../core/ledger/index.ts'
import type { LedgerContext, ValidatedBlock } from '../core/ledger/index.ts'
import { runVerifyJob } from './verify-job.ts'
import type { JobRegistry, VerifyJob, VerifyJobReply, VerifyOutcome } from './verify-job.ts'
import { appTxRegistry } from './alliance.ts'

/** The part of a `Worker` the pool uses (tests hand in fakes). */
export interface WorkerLike {
  postMessage: (msg: VerifyJob) => void
  onmessage: ((event: MessageEvent<VerifyJobReply>) => void) | null
  onerror: ((event: ErrorEvent) => void) | null
  terminate: () => void
}

/**
 * Per block: `ValidatedBlock` (every stateless rule passed, for `engine.addValidated`), `'sig'`
 * (only the signature was checked, for `addMany({signatureChecked})`) or `null` (the engine
 * checks everything itself and gives the typed rejection).
 */
export type PoolVerdict = ValidatedBlock | 'sig' | null

export interface VerifyPool {
  check: (ctx: LedgerContext, blocks: readonly Uint8Array[], now: number) => Promise<PoolVerdict[]>
  /**
   * The same verdicts as `check`, as one promise per run of `chunk` blocks in input order, all
   * posted at once over the workers: the caller applies the first run while the workers
   * still check the later ones (bulk-ingest.ts streams a batch into the engine so).
   * `chunk` 0: `check`'s cut (one run per worker).
   */
  checkRuns: (ctx: LedgerContext, blocks: readonly Uint8Array[], now: number, chunk: number) => Array<Promise<PoolVerdict[]>>
  /** Jobs that a worker failed and the calling thread ran instead. */
  readonly fallbacks: number
  close: () => void
}

export interface VerifyPoolOptions {
  /** Workers; 0 runs every job in the calling thread. */
  readonly size: number
  readonly makeWorker?: () => WorkerLike
  /** Below this many blocks a chunk is not worth a worker's round trip. */
  readonly minChunk?: number
}

interface Slot { worker: WorkerLike | null, busy: number }

export function createVerifyPool (opts: VerifyPoolOptions): VerifyPool {
  const size = opts.makeWorker == null ? 0 : Math.max(0, Math.floor(opts.size))
  const minChunk = Math.max(1, opts.minChunk ?? 32)
  const slots: Slot[] = Array.from({ length: size }, () => ({ worker: null, busy: 0 }))
  const pending = new Map<number, { resolve: (r: VerifyJobReply) => void, slot: Slot }>()
  let ids = 0
  let fallbacks = 0
  let closed = false

  const start = (slot: Slot): WorkerLike => {
    if (slot.worker != null) return slot.worker
    const w = (opts.makeWorker as () => WorkerLike)()
    w.onmessage = (event) => {
      const p = pending.get(event.data.id)
      if (p == null) return
      pending.delete(event.data.id)
      p.resolve(event.data)
    }
    w.onerror = (event) => {
      // a dead worker fails its jobs over to the calling thread, and is made again on next use
      slot.worker = null
      try { w.terminate() } catch { /* already gone */ }
      for (const [id, p] of pending) {
        if (p.slot !== slot) continue
        pending.delete(id)
        p.resolve({ id, error: `verify worker failed: ${event.message}` })
      }
    }
    slot.worker = w
    return w
  }

  const runOn = async (slot: Slot | null, job: VerifyJob): Promise<VerifyOutcome[]> => {
    let reply: VerifyJobReply
    if (slot == null || closed) {
      reply = await runVerifyJob(job)
    } else {
      slot.busy++
      try {
        reply = await new Promise<VerifyJobReply>((resolve) => {
          pending.set(job.id, { resolve, slot })
          try {
            start(slot).postMessage(job)
          } catch (err) {
            pending.delete(job.id)
            resolve({ id: job.id, error: (err as Error).message })
          }
        })
      } finally {
        slot.busy--
      }
      if ('error' in reply) {
        fallbacks++
        reply = await runVerifyJob(job)
      }
    }
    // a job that failed even here leaves every block to the engine's own check
    return 'error' in reply ? job.blocks.map(() => null) : reply.outcomes
  }

  /** `check`'s cut: one chunk per worker, of at least `minChunk` blocks. */
  const perWorker = (n: number): number => {
    const chunks = size === 0 || closed ? 1 : Math.max(1, Math.min(size, Math.floor(n / minChunk)))
    return Math.max(1, Math.ceil(n / chunks))
  }

  /** One job per `per` blocks, spread over the least busy workers; verdicts per job, in input order. */
  const runs = (ctx: LedgerContext, blocks: readonly Uint8Array[], now: number, per: number): Array<Promise<PoolVerdict[]>> => {
    if (blocks.length === 0) return []
    // the job rebuilds the context from the genesis with a registry it knows by name (the
    // default or the app's); any other registry gets the signature checked there and the
    // rest in the engine. The app's used to be such an other: every app block's stateless
    // rules ran on the main thread again (issue 10's split)
    const registry: JobRegistry | null = ctx.registry === defaultTxRegistry ? 'default' : ctx.registry === appTxRegistry() ? 'app' : null
    const free = [...slots].sort((a, b) => a.busy - b.busy)
    const parts: Array<Promise<PoolVerdict[]>> = []
    for (let at = 0, c = 0; at < blocks.length; at += per, c++) {
      const part = blocks.slice(at, at + per)
      const job: VerifyJob = { id: ++ids, genesis: ctx.genesis, allianceId: ctx.allianceId, now, blocks: part, registry }
      parts.push(runOn(size === 0 ? null : free[c % free.length], job).then(outcomes => outcomes.map((o, i): PoolVerdict => {
        if (o == null) return null
        if ('sig' in o) return 'sig'
        return { id: o.id as ValidatedBlock['id'], bytes: part[i], block: o.block, crossChain: o.crossChain }
      })))
    }
    return parts
  }

  return {
    get fallbacks () { return fallbacks },
    check: async (ctx, blocks, now) => {
      return (await Promise.all(runs(ctx, blocks, now, perWorker(blocks.length)))).flat()
    },
    checkRuns: (ctx, blocks, now, chunk) => runs(ctx, blocks, now, size === 0 || closed ? blocks.length : chunk > 0 ? Math.floor(chunk) : perWorker(blocks.length)),
    close: () => {
      closed = true
      for (const s of slots) { s.worker?.terminate(); s.worker = null }
      for (const [id, p] of pending) p.resolve({ id, error: 'the verify pool is closed' })
      pending.clear()
    }
  }
}

let shared: VerifyPool | null = null

/**
 * Workers for a page: one per core but one (the main thread has its own work), 1 to 4. Two
 * workers on the shared 2-core bench machine were slower than one (issue 10's A/B: 1,143 and
 * 1,042 blocks/s against 1,238 and 1,520, same run): the cores are not free there.
 */
export function browserPoolSize (): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency ?? 2 : 2
  return Math.min(4, Math.max(1, cores - 1))
}

/** The process-wide pool: Web Workers where there are any, else the calling thread. */
export function defaultVerifyPool (): VerifyPool {
  if (shared == null) {
    const hasWorkers = typeof Worker !== 'undefined' && typeof window !== 'undefined'
    shared = createVerifyPool(hasWorkers
      ? { size: browserPoolSize(), makeWorker: () => new Worker(new URL('./verify-worker.ts', import.meta.url), { type: 'module' }) as unknown as WorkerLike }
      : { size: 0 })
  }
  return shared
}

/** Replaces the process-wide pool (the bench's page hands in the built worker). */
export function setDefaultVerifyPool (pool: VerifyPool | null): void {
  shared?.close()
  shared = pool
}
