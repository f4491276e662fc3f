/**
 * Proof-of-work miners behind one small interface: a Web Worker in the browser (cancellable,
 * with progress) and chunked in-thread mining elsewhere (Node tests), which yields to the
 * event loop between chunks so networking keeps running.
 */
import { mine } from '../core/ledger/pow.ts'
import { AllianceError } from '../core/errors.ts'

export interface MineOptions { signal?: AbortSignal, onProgress?: (fraction: number) => void }
export type Miner = (header: Uint8Array, difficulty: number, opts?: MineOptions) => Promise<number>

export type MinerRequest =
  | { type: 'mine', id: number, header: Uint8Array, difficulty: number }
  | { type: 'cancel', id: number }
export type MinerReply =
  | { type: 'progress', id: number, attempts: number }
  | { type: 'found', id: number, nonce: number, attempts: number }
  | { type: 'cancelled', id: number }

export class MiningCancelledError extends AllianceError {
  constructor () { super('ERR_CANCELLED', 'proof-of-work was cancelled') }
}

/** Expected share of the work done after `attempts` tries at `difficulty` (never shows 100 %). */
export function progressOf (attempts: number, difficulty: number): number {
  return Math.min(0.99, attempts / 2 ** difficulty)
}

const CHUNK = 4096

export const inThreadMiner: Miner = async (header, difficulty, opts = {}) => {
  let next = 0
  for (;;) {
    if (opts.signal?.aborted === true) throw new MiningCancelledError()
    const r = mine(header, difficulty, next, CHUNK)
    if (r.found) { opts.onProgress?.(1); return r.nonce }
    next = r.next
    opts.onProgress?.(progressOf(next, difficulty))
    await new Promise<void>((resolve) => setTimeout(resolve, 0))
  }
}

/** A miner backed by one Web Worker; jobs are queued by id. */
export function workerMiner (makeWorker: () => Worker): Miner {
  let worker: Worker | null = null
  let ids = 0
  const jobs = new Map<number, { resolve: (n: number) => void, reject: (e: Error) => void, difficulty: number, onProgress?: (f: number) => void }>()
  const ensure = (): Worker => {
    if (worker != null) return worker
    const w = makeWorker()
    w.onmessage = (event: MessageEvent<MinerReply>) => {
      const msg = event.data
      const job = jobs.get(msg.id)
      if (job == null) return
      if (msg.type === 'progress') { job.onProgress?.(progressOf(msg.attempts, job.difficulty)); return }
      jobs.delete(msg.id)
      if (msg.type === 'found') { job.onProgress?.(1); job.resolve(msg.nonce) } else job.reject(new MiningCancelledError())
    }
    w.onerror = (event) => {
      for (const job of jobs.values()) job.reject(new AllianceError('ERR_WORKER', `proof-of-work worker failed: ${event.message}`))
      jobs.clear()
      worker = null
    }
    worker = w
    return w
  }
  return async (header, difficulty, opts = {}) => {
    if (opts.signal?.aborted === true) throw new MiningCancelledError()
    const id = ++ids
    const w = ensure()
    return await new Promise<number>((resolve, reject) => {
      jobs.set(id, { resolve, reject, difficulty, onProgress: opts.onProgress })
      opts.signal?.addEventListener('abort', () => { w.postMessage({ type: 'cancel', id } satisfies MinerRequest) }, { once: true })
      w.postMessage({ type: 'mine', id, header, difficulty } satisfies MinerRequest)
    })
  }
}

export function browserMiner (): Miner {
  return workerMiner(() => new Worker(new URL('./pow-worker.ts', import.meta.url), { type: 'module' }))
}
