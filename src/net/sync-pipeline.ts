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
import { AllianceError } from '../core/errors.ts'
import { SYNC_GET_LIMIT, SYNC_INV_LIMIT } from './sync.ts'
import type { InvReply } from './sync.ts'

/**
 * Listed ids waiting to be asked for, at most: the inventory waits while the queue is this
 * long, so a remote that lists ids forever costs bounded memory (S12).
 */
export const SYNC_MAX_QUEUED = 4 * SYNC_INV_LIMIT
/** Positions past the first page's claimed total the inventory still follows (the remote grows meanwhile). */
export const SYNC_TOTAL_SLACK = 4 * SYNC_INV_LIMIT
/**
 * Positions one sync lists at most, whatever total the remote claims: a remote paging known
 * ids forever under a huge claimed total is cut off here (the next sync goes on from the cursor).
 */
export const SYNC_MAX_POSITIONS = 2_000_000
/**
 * Block `get`s in flight (S10): 6, not 4, so that the next replies are on their way while the
 * engine and the store take the current one (a tab's main thread opens each request's stream
 * only between its own work, so 4 left it waiting for replies a third of the time).
 * With the 3 inventory pages and one orphan fetch that is 10 streams, under the remote's
 * SYNC_MAX_INBOUND_STREAMS (16).
 */
export const SYNC_GETS_IN_FLIGHT = 6
/** Ids a remote may list and then withhold in one sync before the sync is cut off as withheld. */
export const SYNC_MAX_GIVEN_UP = 2 * SYNC_GET_LIMIT

/** A remote that listed ids and kept withholding them (S12): the sync stopped; the caller holds it against the remote. */
export class SyncWithheldError extends AllianceError {
  constructor (count: number) { super('ERR_SYNC_WITHHELD', `the remote withheld ${count} blocks it listed`) }
}

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
  /**
   * The id of `blocks[k]` when `prepare` already computed it (the verify pool's verdicts
   * carry it), else undefined: the pipeline then hashes the bytes itself. Only to match the
   * reply against the asked ids (the engine computes its own).
   */
  readonly idOf?: (prepared: P, k: number) => string | undefined
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
  /** Listed ids queued at most (SYNC_MAX_QUEUED). */
  readonly maxQueued?: number
  /** Given-up ids past which the sync is cut off with SyncWithheldError (SYNC_MAX_GIVEN_UP). */
  readonly maxGivenUp?: number
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
  const getInFlight = Math.max(1, opts.getInFlight ?? SYNC_GETS_IN_FLIGHT)
  const writesInFlight = Math.max(1, opts.writesInFlight ?? 4)
  const getBatch = Math.max(1, Math.min(SYNC_GET_LIMIT, opts.getBatch ?? SYNC_GET_LIMIT))
  const retries = Math.max(0, opts.retries ?? 3)
  const maxQueued = Math.max(SYNC_INV_LIMIT, opts.maxQueued ?? SYNC_MAX_QUEUED)
  const maxGivenUp = Math.max(0, opts.maxGivenUp ?? SYNC_MAX_GIVEN_UP)
  const signal = opts.signal
  let stopFlag = false
  const stopped = (): boolean => stopFlag || signal?.aborted === true || sink.stopped?.() === true

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
  // the inventory's side of the back-pressure: woken when the queue shrinks
  let room: (() => void) | null = null
  const roomMade = (): void => { const r = room; room = null; r?.() }
  /** An id leaves the sync (known now, or given up): forget it, so memory follows the queue, not the history. */
  const settled = (id: string): void => { queued.delete(id); asked.delete(id) }
  const gaveUp = new Set<string>()

  const inventory = (async () => {
    let at = opts.from
    let total: number | null = null
    let limit = opts.from + SYNC_MAX_POSITIONS
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
        // repeats (within a page, across pages, of given-up ids) are listed once
        if (queued.has(id) || gaveUp.has(id) || sink.known(id)) continue
        queued.add(id)
        queue.push(id)
        listed++
      }
      if (listed > 0) sink.onProgress?.(done, listed)
      notify()
      at = pageAt + reply.ids.length
      if (reply.next == null || reply.ids.length === 0) break
      if (reply.next <= pageAt) break // a cursor that does not move forward: stop, never loop
      if (total == null) {
        total = reply.total
        // a remote that claims little and then pages on and on is followed only a little past its claim
        limit = Math.min(limit, Math.max(total, at) + SYNC_TOTAL_SLACK)
      }
      if (reply.next >= limit) break // pages forever: cut off here, the next sync goes on from the cursor
      // back-pressure: no more pages while the queue is full (bounded memory, S12)
      while (queue.length >= maxQueued && !stopped()) await new Promise<void>((resolve) => { room = resolve })
      if (stopped()) break
      if (reply.next !== at) {
        // the remote pages differently than guessed: follow it, one page at a time
        pages.clear()
        at = reply.next
        ask(at)
        nextAsk = at + SYNC_INV_LIMIT
        continue
      }
      // speculate further pages only as far as the remote says it has blocks
      while (!pages.full && nextAsk < Math.min(total, limit)) { ask(nextAsk); nextAsk += SYNC_INV_LIMIT }
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
      if (sink.known(id)) { done++; settled(id); continue }
      ids.push(id)
      asked.set(id, (asked.get(id) ?? 0) + 1)
    }
    if (queue.length < maxQueued) roomMade()
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
      // What was asked and did not come goes again at the front. A reply cut short by the
      // remote's byte limit holds a prefix of the asked: if g of the asked came, the ids
      // missing from the first g places were skipped and cost a retry, the ones past them
      // were cut off and cost none. Counting places (not the last id that came) keeps a stray
      // extra block, sent unasked, from charging every id before it. A reply with none of the
      // asked charges them all: after a few such asks an id is given up (lacked or withheld).
      const got = new Set(r.blocks.map((b, k) => sink.idOf?.(r.prepared, k) ?? blockIdOfSafe(b)))
      let gotAsked = 0
      for (const id of r.ids) if (got.has(id)) gotAsked++
      const again: string[] = []
      r.ids.forEach((id, k) => {
        if (got.has(id) || sink.known(id)) { done++; settled(id); return }
        if (gotAsked > 0 && k >= gotAsked) asked.set(id, (asked.get(id) ?? 1) - 1)
        else if ((asked.get(id) ?? 0) > retries) { givenUp++; settled(id); gaveUp.add(id); return }
        again.push(id)
      })
      // a remote that lists what it then withholds, again and again, is cut off (S12)
      if (givenUp > maxGivenUp) throw new SyncWithheldError(givenUp)
      queue.unshift(...again)
      sink.onProgress?.(done, Math.max(listed, done))
    }
    while (writes.size > 0) await writes.take()
  } catch (err) {
    failure = err
  }
  // an inventory waiting for room (the block side stopped) must not wait for ever
  stopFlag = true
  roomMade()
  // settle the inventory (it rejects on the same dead stream) before reporting
  try { await inventory } catch (err) { failure ??= err }
  if (failure != null) throw failure
  const complete = signal?.aborted !== true && sink.stopped?.() !== true && givenUp === 0 && queue.length === 0
  return { cursor: complete ? cursor : opts.from, complete, listed, received, givenUp }
}

function blockIdOfSafe (bytes: Uint8Array): string {
  try { return blockIdOf(bytes) } catch { return '' }
}
