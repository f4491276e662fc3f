/**
 * Sync orchestration of one peer's ledger (SPEC.md S2–S5, S10–S13, S23–S24), apart from the
 * rest of the live ledger (ledger-service.ts): whom to sync with and when, serving
 * `/alliance/sync/1` from the store, the per-remote cursors, retries, and fetching the
 * parents parked orphans wait for. The catch-up itself is the pipeline (net/sync-pipeline.ts);
 * blocks go through the host's `ingest` (engine, store, rejections counted against the sender).
 * - With every new direct peer, and every 30 s with one of them, a sync; a peer that stops
 *   being direct has its running sync and fetch aborted at once (S23), so when it comes back
 *   (a reconnect) a new sync starts right away instead of waiting behind a request on a dead
 *   connection (the "Syncing 0 of 20" for ~30 s).
 * - Serving reads only what it sends (S24): a `get` reads its ids in slices and stops at the
 *   reply's byte budget.
 */
import type { Did } from '../core/identity.ts'
import type { BatchResult, LedgerContext, LedgerEngine } from '../core/ledger/index.ts'
import type { LedgerStore } from '../store/ledger.ts'
import { SYNC_GET_LIMIT, SYNC_PROTOCOL, SYNC_REPLY_SOFT_BYTES, SyncClient, serveSync } from '../net/sync.ts'
import type { SyncSource } from '../net/sync.ts'
import { pipelinedSync, SyncWithheldError } from '../net/sync-pipeline.ts'
import type { PipelineResult, SyncPeer } from '../net/sync-pipeline.ts'
import { BULK_MIN_BLOCKS } from './bulk-ingest.ts'
import { defaultVerifyPool } from './verify-pool.ts'
import type { PoolVerdict } from './verify-pool.ts'
import { SyncRetry } from './sync-retry.ts'
import type { CheckpointService } from './checkpoint-service.ts'
import type { LedgerNet } from './ledger-service.ts'
import { AllianceError } from '../core/errors.ts'

/**
 * Concurrent inbound sync streams per connection. A peer asks a few at a time per remote (the
 * pipeline's inventory and get windows, one orphan fetch); more streams than this are reset by libp2p.
 */
export const SYNC_MAX_INBOUND_STREAMS = 16
/** Ids a serving `get` reads per store call: it stops reading once the reply is full (S24). */
export const SYNC_SERVE_SLICE = 32

/**
 * While a sync runs, the service's full snapshot (P9) is forced only this many times
 * `checkpointEvery` blocks after the last one, not P9's 4 (S42): a snapshot re-encodes and
 * hashes the whole state on the main thread, and a fresh tab's 10,000-block catch-up wrote
 * two of them (~2.7 s of its ~15 s busy main thread in the bench's profile, more as the
 * state grows). The sync's end still queues the due one at once (S25). The price: a tab
 * killed mid-sync replays up to this many stored blocks (trusted, no signature checks) at
 * its next start instead of 4,000.
 */
export const SYNC_SNAPSHOT_MAX_LAG = 16

export class SyncAbortedError extends AllianceError {
  constructor () { super('ERR_SYNC_ABORTED', 'the peer is no longer directly connected') }
}

/** What the sync needs of the live ledger (LedgerService). */
export interface LedgerSyncHost {
  /** Read at each use: a checkpoint join or prune replaces the engine. */
  readonly engine: LedgerEngine
  readonly ctx: LedgerContext
  readonly store: LedgerStore
  readonly checkpoints: CheckpointService | null
  readonly now: () => number
  readonly random: () => number
  readonly closed: () => boolean
  readonly ingest: (blocks: Uint8Array[], from?: Did, peerId?: string, verdicts?: readonly PoolVerdict[]) => Promise<BatchResult>
  readonly changed: () => void
  /** Called when the last running sync ended (the host catches up on deferred work, S25). */
  readonly idle?: () => void
  readonly log?: (line: string) => void
}

/**
 * The store as a sync source (S11, S24): an inventory page is one range read plus the count;
 * a `get` reads its ids a slice at a time and stops once the reply's byte budget is reached
 * (the reply is cut there anyway), so a request for 256 large blocks no longer reads all of them.
 */
export function storeSyncSource (store: LedgerStore, softBytes = SYNC_REPLY_SOFT_BYTES, slice = SYNC_SERVE_SLICE): SyncSource {
  return {
    inventory: async (asked, limit) => {
      // below a pruned part (S40) the inventory starts at the first held block
      const [total, first] = await Promise.all([store.blockCount(), store.firstPosition()])
      const from = Math.max(asked, first)
      const ids = await store.blockIdsFrom(from, limit)
      return { ids, next: from + ids.length < total ? from + ids.length : null, total }
    },
    getBlocks: async (ids) => {
      const out: Uint8Array[] = []
      let size = 0
      for (let i = 0; i < ids.length; i += slice) {
        for (const b of await store.getBlocksBytes(ids.slice(i, i + slice))) {
          if (b == null) continue
          if (size + b.byteLength > softBytes && out.length > 0) return out
          out.push(b)
          size += b.byteLength
        }
      }
      return out
    }
  }
}

export class LedgerSync {
  /** The running sync's progress (`LedgerApi.progress().sync`). */
  progress: { done: number, total: number } | null = null
  private net: LedgerNet | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  private unsubscribe: (() => void) | null = null
  private readonly syncedPeers = new Set<string>()
  private readonly syncing = new Map<string, { run: Promise<void>, abort: AbortController }>()
  private readonly cursors = new Map<string, number>()
  private readonly retry = new SyncRetry()
  private readonly fetching = new Map<string, { run: Promise<void>, abort: AbortController }>()
  private readonly fetchAgain = new Set<string>()

  constructor (private readonly host: LedgerSyncHost, private readonly intervalMs: number) {}

  async start (net: LedgerNet): Promise<void> {
    this.net = net
    // A bad request makes serveSync throw a typed (AllianceError) error, which the net
    // counts against the peer (AllianceNet.handle); reporting it here too counted it twice.
    const source = storeSyncSource(this.host.store)
    await net.handle(SYNC_PROTOCOL, async (stream) => { await serveSync(stream, source) }, { maxInboundStreams: SYNC_MAX_INBOUND_STREAMS })
    this.unsubscribe = net.on('change', () => { this.onPeersChanged() })
    this.timer = setInterval(() => { this.syncWithOne() }, this.intervalMs)
    this.onPeersChanged()
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = null
    this.unsubscribe?.()
    this.unsubscribe = null
    this.retry.clear()
    for (const s of [...this.syncing.values(), ...this.fetching.values()]) s.abort.abort(new SyncAbortedError())
    await this.net?.unhandle(SYNC_PROTOCOL).catch(() => {})
  }

  /** A sync is running (with any peer). */
  busy (): boolean {
    return this.syncing.size > 0
  }

  directPeers (): Array<{ did: Did, peerId: string }> {
    return this.net?.peers().filter((p) => p.kind === 'direct') ?? []
  }

  private onPeersChanged (): void {
    if (this.host.closed()) return
    const direct = this.directPeers()
    const now = new Set(direct.map((p) => p.peerId))
    for (const id of [...this.syncedPeers]) {
      if (now.has(id)) continue
      this.syncedPeers.delete(id)
      // S23: its requests run on a connection that is gone (or going): stop waiting for them,
      // so that a reconnect syncs at once instead of queueing behind them
      this.abortRuns(id)
    }
    for (const p of direct) {
      if (this.syncedPeers.has(p.peerId)) continue
      this.syncedPeers.add(p.peerId)
      void this.syncWith(p.did, p.peerId)
    }
  }

  private abortRuns (peerId: string): void {
    for (const runs of [this.syncing, this.fetching]) {
      const r = runs.get(peerId)
      if (r == null) continue
      runs.delete(peerId)
      r.abort.abort(new SyncAbortedError())
    }
    this.fetchAgain.delete(peerId)
  }

  private syncWithOne (): void {
    const peers = this.directPeers()
    if (peers.length === 0) return
    const p = peers[Math.floor(this.host.random() * peers.length)]
    void this.syncWith(p.did, p.peerId)
  }

  async syncNow (): Promise<void> {
    await Promise.all(this.directPeers().map(async (p) => { await this.syncWith(p.did, p.peerId) }))
  }

  /** Fetches everything `did` has that this peer lacks. One sync per peer at a time. */
  async syncWith (did: Did, peerId: string): Promise<void> {
    const running = this.syncing.get(peerId)
    if (running != null) return await running.run
    const abort = new AbortController()
    const entry = { abort, run: Promise.resolve() }
    entry.run = this.doSync(did, peerId, abort.signal)
      .then(() => { this.retry.succeeded(peerId) }, (err: unknown) => {
        // aborted because the peer left (S23): its return starts a new sync, no retry needed
        if (abort.signal.aborted) return
        this.host.log?.(`sync with ${peerId} failed: ${(err as Error).message}`)
        // S13: a sync cut short (a connection replaced or dropped mid-request) is tried again
        // within seconds while the peer is still direct, not at the next periodic tick
        this.retry.failed(peerId, () => {
          if (!this.host.closed() && this.directPeers().some((p) => p.peerId === peerId)) void this.syncWith(did, peerId)
        })
      })
      .finally(() => {
        // an aborted run was replaced already: leave the new one's entry and progress alone
        if (this.syncing.get(peerId) === entry) {
          this.syncing.delete(peerId)
          this.progress = null
        }
        if (this.syncing.size === 0) this.host.idle?.()
        this.host.changed()
      })
    this.syncing.set(peerId, entry)
    await entry.run
  }

  private client (did: Did): SyncClient {
    const net = this.net
    if (net == null) throw new SyncAbortedError()
    return new SyncClient(async (signal) => await net.dialProtocol(did, SYNC_PROTOCOL, { signal }))
  }

  /** S10–S12: pipelined inventory and block fetches (sync-pipeline.ts), verified in the pool. */
  private async doSync (did: Did, peerId: string, signal: AbortSignal): Promise<void> {
    let r: PipelineResult
    try {
      const from = this.cursors.get(peerId) ?? (await this.host.checkpoints?.syncFrom(did, peerId)) ?? 0
      r = await this.pull(this.client(did), from, did, peerId, signal)
    } catch (err) {
      // S12: a remote that lists blocks and keeps withholding them is held to account
      if (err instanceof SyncWithheldError) this.net?.reportMisbehaviour(peerId, err.code)
      throw err
    }
    // the cursor moves only once everything listed is known: a sync cut short used to leave
    // the rest unfetched from this peer for good
    if (r.complete) this.cursors.set(peerId, r.cursor)
    if (signal.aborted) return
    await this.fetchMissing(did, peerId, signal)
  }

  /**
   * Everything `peer` lists from position `from` that this peer lacks, through the pipeline
   * (replies verified in the pool while earlier ones go through the engine and the store).
   * `did`/`peerId`: whom rejections are held against (none for a local source).
   */
  async pull (peer: SyncPeer, from = 0, did?: Did, peerId?: string, signal?: AbortSignal): Promise<PipelineResult> {
    const host = this.host
    return await pipelinedSync<readonly PoolVerdict[] | undefined>(peer, {
      known: (id) => host.engine.has(id) || host.engine.isOrphan(id),
      prepare: async (blocks) => blocks.length < BULK_MIN_BLOCKS ? undefined : await defaultVerifyPool().check(host.ctx, blocks, host.now()),
      apply: async (blocks, verdicts) => { await host.ingest(blocks, did, peerId, verdicts) },
      // a block the pool passed whole carries its id: no second hash of every block
      idOf: (verdicts, k) => { const v = verdicts?.[k]; return v != null && v !== 'sig' ? v.id : undefined },
      onProgress: (done, total) => { if (signal?.aborted !== true) { this.progress = { done, total }; host.changed() } },
      stopped: () => host.closed()
    }, { from, ...(signal != null ? { signal } : {}) })
  }

  /**
   * Runs `fetchMissing` for a gossiped orphan, one run per peer at a time. Every gossiped
   * block with unknown parents used to start its own run: a peer catching up (say 10,000
   * blocks) while the other peer kept gossiping opened more concurrent sync streams than the
   * remote accepts (SYNC_MAX_INBOUND_STREAMS); the extra streams were reset, the remote
   * counted the cut requests as garbage (ERR_DECODE) and hung up on an honest peer. A run
   * reads `engine.missing()` afresh each round, so orphans parked meanwhile are served by
   * the running one or by one more run right after it (never more than one queued).
   */
  fetchMissingSoon (did: Did, peerId: string): void {
    // a full sync with this peer ends with fetchMissing anyway
    if (this.syncing.has(peerId) || this.host.closed()) return
    if (this.fetching.has(peerId)) { this.fetchAgain.add(peerId); return }
    const abort = new AbortController()
    const entry = { abort, run: Promise.resolve() }
    entry.run = this.fetchMissing(did, peerId, abort.signal)
      // never unhandled: the dial can fail (no direct connection to the author yet, WebRTC
      // upgrade timeout), which in Node would end the process; periodic sync catches up
      .catch((err: unknown) => { if (!abort.signal.aborted) this.host.log?.(`fetching missing parents from ${peerId} failed: ${(err as Error).message}`) })
      .finally(() => {
        if (this.fetching.get(peerId) !== entry) return
        this.fetching.delete(peerId)
        if (this.fetchAgain.delete(peerId)) this.fetchMissingSoon(did, peerId)
      })
    this.fetching.set(peerId, entry)
  }

  /** Asks `did` for the parents that parked orphans wait for, a few rounds deep (S5). */
  private async fetchMissing (did: Did, peerId: string, signal: AbortSignal): Promise<void> {
    for (let round = 0; round < 16 && !this.host.closed() && !signal.aborted; round++) {
      const missing = this.host.engine.missing().slice(0, SYNC_GET_LIMIT)
      if (missing.length === 0) return
      const blocks = await this.client(did).getBlocks(missing, signal)
      if (blocks.length === 0 || signal.aborted) return
      await this.host.ingest(blocks, did, peerId)
    }
  }
}
