/// <reference lib="webworker" />
/**
 * Web Worker that mines proof-of-work in chunks, so the page never freezes (the Nano lesson):
 * it reports progress after each chunk and checks for cancellation between chunks.
 */
import { mine } from '../core/ledger/pow.ts'
import type { MinerRequest, MinerReply } from './miner.ts'

declare const self: DedicatedWorkerGlobalScope
const CHUNK = 4096
const cancelled = new Set<number>()

self.onmessage = (event: MessageEvent<MinerRequest>) => {
  const msg = event.data
  if (msg.type === 'cancel') { cancelled.add(msg.id); return }
  const { id, header, difficulty } = msg
  let next = 0
  const step = (): void => {
    if (cancelled.delete(id)) { self.postMessage({ type: 'cancelled', id } satisfies MinerReply); return }
    const r = mine(header, difficulty, next, CHUNK)
    if (r.found) { self.postMessage({ type: 'found', id, nonce: r.nonce, attempts: r.nonce + 1 } satisfies MinerReply); return }
    next = r.next
    self.postMessage({ type: 'progress', id, attempts: next } satisfies MinerReply)
    // Yield to the message loop so a cancel can arrive between chunks.
    setTimeout(step, 0)
  }
  step()
}
