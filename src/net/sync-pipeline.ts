/**
 * Catch-up from one remote that hides round trips (SPEC.md S10–S13): inventory pages and
 * block batches are requested several at a time, block fetches start with the first
 * inventory page (so progress moves from the first batch), and replies are handed to the
 * ledger strictly in the order they were asked for (the remote's storage order, parents
 * first). The remote is untrusted: a reply may come in any size, out of order, with
 * duplicates, with blocks left out, or lie about its totals; what was asked and did not come
 * is asked again (a few times), what came unasked goes to the engine like anything else
 * (it validates everything), and the inventory cursor only moves once everything listed
 * is known. No clock or libp2p here: requests go through `SyncPeer`.
 */
import { blockIdOf } from '../core/ledger/block.ts'
import { SYNC_GET_LIMIT, SYNC_INV_LIMIT } from './sync.ts'
import type { InvReply } from './sync.ts'

/** The remote, as `SyncClient` reaches it. */
export interface SyncPeer {
  inventory: (from: number, limit?: number, signal?: AbortSignal) => Promise<InvReply>
  getBlocks: (ids: string[], signal?: AbortSignal) => Promise<Uint8Array[]>
}

export interface SyncSink<P> {
  /** Already in the DAG or parked (not asked for). */
  readonly known: (id: string) => boolean
  /** Stateless work on a reply (signatures…); may run for several replies at once. */
  readonly prepare: (blocks: Uint8Array[]) => Promise<P>
  /**
   * Adds a prepared reply. Called one at a time, in request order; what it does
   * synchronously (the engine insert) happens in that order; the promise (the store write)
   * may settle later: up to `writesInFlight` are left pending at once.
   */
  readonly apply: (blocks: Uint8Array[], prepared: P) => Promise<void>
  readonly onProgress?: (done: number, total: number) => void
  /** True once the ledger closed: stop asking. */
  readonly stopped?: () => boolean
}

export interface PipelineOptions {
  /** The remote's position to start from (S4: remembered per remote). */
  readonly from: number
  readonly invInFlight?: number
  readonly getInFlight?: number
  readonly writesInFlight?: number
  /** Ids per `get` (at most SYNC_GET_LIMIT). */
  readonly getBatch?: number
  /** Times an id asked for and not sent is asked again before the sync gives up on it. */
  readonly retries?: number
  readonly signal?: AbortSignal
}

export interface PipelineResult {
  /** Where the next sync with this remote starts: moved only when everything listed is known. */
  readonly cursor: number
  readonly complete: boolean
  /** Unknown ids the remote listed. */
  readonly listed: number
  /** Blocks received (duplicates and unasked ones included). */
  readonly received: number
  /** Ids the remote listed but never sent (after the retries). */
  readonly givenUp: number
}

/** Runs `tasks` in order with at most `n` started and not yet taken. */
class Window<T> {
  private readonly q: Array<Promise<T>> = []
  constructor (private readonly n: number) {}
  get size (): number { return this.q.length }
  get full (): boolean { return this.q.length >= this.n }
  push (p: Promise<T>): void { p.catch(() => {}); this.q.push(p) }
  async take (): Promise<T> { return await (this.q.shift() as Promise<T>) }
  clear (): void { this.q.length = 0 }
}

export async function pipelinedSync<P> (peer: SyncPeer, sink: SyncSink<P>, opts: PipelineOptions): Promise<PipelineResult> {
  const invInFlight = Math.max(1, opts.invInFlight ?? 3)
  const getInFlight = Math.max(1, opts.getInFlight ?? 4)
  const writesInFlight = Math.max(1, opts.writesInFlight ?? 4)
  const getBatch = Math.max(1, Math.min(SYNC_GET_LIMIT, opts.getBatch ?? SYNC_GET_LIMIT))
  const retries = Math.max(0, opts.retries ?? 3)
  const signal = opts.signal
  const stopped = (): boolean => signal?.aborted === true || sink.stopped?.() === true

  // ---- inventory: pages in order, several asked at once at the positions the total implies
  let listed = 0
  /** Listed ids now known (fetched, or known by other means meanwhile). */
  let done = 0
  let invDone = false
  let cursor = opts.from
  const queue: string[] = []
  const queued = new Set<string>()
  const asked = new Map<string, number>()
  let givenUp = 0
  let wake: (() => void) | null = null
  const notify = (): void => { const w = wake; wake = null; w?.() }

  const inventory = (async () => {
    let at = opts.from
    let total: number | null = null
    const pages = new Window<{ at: number, reply: InvReply }>(invInFlight)
    let nextAsk = at
    const ask = (pos: number): void => { pages.push(peer.inventory(pos, SYNC_INV_LIMIT, signal).then(reply => ({ at: pos, reply }))) }
    ask(nextAsk)
    nextAsk += SYNC_INV_LIMIT
    for (;;) {
      const { at: pageAt, reply } = await pages.take()
      if (stopped()) break
      if (pageAt !== at) { pages.clear(); ask(at); nextAsk = at + SYNC_INV_LIMIT; continue } // a stale guess
      for (const id of reply.ids) {
        if (queued.has(id) || sink.known(id)) continue
        queued.add(id)
        queue.push(id)
        listed++
      }
      if (listed > 0) sink.onProgress?.(done, listed)
      notify()
      at = pageAt + reply.ids.length
      if (reply.next == null || reply.ids.length === 0) break
      if (reply.next <= pageAt) break // a cursor that does not move forward: stop, never loop
      if (reply.next !== at) {
        // the remote pages differently than guessed: follow it, one page at a time
        pages.clear()
        at = reply.next
        ask(at)
        nextAsk = at + SYNC_INV_LIMIT
        continue
      }
      total ??= reply.total
      // speculate further pages only as far as the remote says it has blocks
      while (!pages.full && nextAsk < total) { ask(nextAsk); nextAsk += SYNC_INV_LIMIT }
      if (pages.size === 0) { ask(at); nextAsk = at + SYNC_INV_LIMIT }
    }
    cursor = at
  })().finally(() => { invDone = true; notify() })
  inventory.catch(() => {})

  // ---- blocks: batches of the queue asked several at once, applied in request order
  let received = 0
  const gets = new Window<{ ids: string[], blocks: Uint8Array[], prepared: P }>(getInFlight)
  const writes = new Window<void>(writesInFlight)
  const askBlocks = (): boolean => {
    const ids: string[] = []
    while (ids.length < getBatch && queue.length > 0) {
      const id = queue.shift() as string
      if (sink.known(id)) { done++; continue }
      ids.push(id)
      asked.set(id, (asked.get(id) ?? 0) + 1)
    }
    if (ids.length === 0) return false
    gets.push(peer.getBlocks(ids, signal).then(async blocks => ({ ids, blocks, prepared: await sink.prepare(blocks) })))
    return true
  }

  let failure: unknown = null
  try {
    for (;;) {
      if (stopped()) break
      while (!gets.full && askBlocks()) { /* keep the window full */ }
      if (gets.size === 0) {
        if (invDone && queue.length === 0) break
        await new Promise<void>((resolve) => { wake = resolve })
        continue
      }
      const r = await gets.take()
      if (stopped()) break
      received += r.blocks.length
      if (r.blocks.length > 0) {
        writes.push(sink.apply(r.blocks, r.prepared))
        if (writes.full) await writes.take()
      }
      // What was asked and did not come goes again at the front. A reply cut short (the
      // remote's byte limit: nothing after a given id came) costs those ids no retry; an id
      // skipped while later ones came, or a reply with none of the asked, does: after a few
      // such asks it is given up (the remote lacks it or withholds it).
      const got = new Set(r.blocks.map(b => blockIdOfSafe(b)))
      let lastGot = -1
      r.ids.forEach((id, k) => { if (got.has(id)) lastGot = k })
      const again: string[] = []
      r.ids.forEach((id, k) => {
        if (got.has(id) || sink.known(id)) { done++; return }
        if (lastGot >= 0 && k > lastGot) asked.set(id, (asked.get(id) ?? 1) - 1)
        else if ((asked.get(id) ?? 0) > retries) { givenUp++; return }
        again.push(id)
      })
      queue.unshift(...again)
      sink.onProgress?.(done, Math.max(listed, done))
    }
    while (writes.size > 0) await writes.take()
  } catch (err) {
    failure = err
  }
  // settle the inventory (it rejects on the same dead stream) before reporting
  try { await inventory } catch (err) { failure ??= err }
  if (failure != null) throw failure
  const complete = !stopped() && givenUp === 0 && queue.length === 0
  return { cursor: complete ? cursor : opts.from, complete, listed, received, givenUp }
}

function blockIdOfSafe (bytes: Uint8Array): string {
  try { return blockIdOf(bytes) } catch { return '' }
}
