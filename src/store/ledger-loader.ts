/**
 * Glue between a `LedgerStore` and a `LedgerEngine` (SPEC.md L37, L38): open a ledger from
 * its newest usable checkpoint plus the blocks stored after it (re-added as trusted: they
 * were validated before they were stored), persist what a batch changed in one transaction,
 * and write checkpoints. Opening a large ledger thus neither re-verifies signatures nor
 * replays from zero.
 */
import { LedgerEngine } from '../core/ledger/engine.ts'
import type { BatchResult, LedgerEngineOptions } from '../core/ledger/engine.ts'
import { createLedgerContext } from '../core/ledger/block.ts'
import type { LedgerContext } from '../core/ledger/block.ts'
import { decodeSnapshot, encodeSnapshot } from '../core/ledger/snapshot.ts'
import { joinFromCheckpoint } from '../core/ledger/checkpoint-engine.ts'
import type { CheckpointPackage } from '../core/ledger/checkpoint.ts'
import type { StateCommitment } from '../core/ledger/state-commitment.ts'
import type { BlockId, Genesis } from '../core/ledger/types.ts'
import type { LedgerCheckpoint, LedgerStore, StoreCallOptions } from './ledger.ts'

export interface LoadLedgerOptions extends LedgerEngineOptions {
  /** The clock, in ms (stored blocks skip the clock check; it is needed for the batch API). */
  readonly now: number
  /** Blocks per `addMany` call while loading. */
  readonly pageSize?: number
  /** Called after each page: blocks loaded so far, blocks to load. */
  readonly onProgress?: (loaded: number, total: number) => void
}

export interface LoadedLedger {
  readonly engine: LedgerEngine
  /** Blocks the checkpoint covered (0 when none was usable). */
  readonly fromCheckpoint: number
  /** Blocks re-added after the checkpoint. */
  readonly replayed: number
  readonly orphans: number
}

export async function loadLedger (store: LedgerStore, genesis: Genesis | LedgerContext, opts: LoadLedgerOptions): Promise<LoadedLedger> {
  const ctx = 'allianceId' in genesis ? genesis : createLedgerContext(genesis, opts.registry)
  const count = await store.blockCount()
  let engine: LedgerEngine | null = null
  let from = 0
  for (const cp of [await store.getCheckpoint(), await store.getPreviousCheckpoint()]) {
    if (cp == null || cp.blockCount > count) continue
    try {
      const restored = LedgerEngine.restore(ctx, decodeSnapshot(cp.data), opts)
      if (restored.stats().blocks !== cp.blockCount || restored.stateHash() !== cp.stateHash) continue
      engine = restored
      from = cp.blockCount
      break
    } catch {
      // a damaged or foreign checkpoint: try the previous one, else load from the blocks
    }
  }
  engine ??= new LedgerEngine(ctx, opts)
  const pageSize = Math.max(1, opts.pageSize ?? 500)
  let page: Uint8Array[] = []
  let loaded = from
  let replayed = 0
  for await (const b of store.iterateBlocks({ from, pageSize })) {
    page.push(b.bytes)
    if (page.length >= pageSize) {
      engine.addMany(page, { now: opts.now, trusted: true })
      replayed += page.length
      loaded += page.length
      page = []
      opts.onProgress?.(loaded, count)
    }
  }
  if (page.length > 0) {
    engine.addMany(page, { now: opts.now, trusted: true })
    replayed += page.length
    loaded += page.length
    opts.onProgress?.(loaded, count)
  }
  const orphans = await store.listOrphans()
  if (orphans.length > 0) engine.addMany(orphans.map(o => o.bytes), { now: opts.now, trusted: true })
  return { engine, fromCheckpoint: from, replayed, orphans: orphans.length }
}

/** Persists what one engine batch changed, in one store transaction. */
export async function persistBatch (store: LedgerStore, result: BatchResult, opts?: StoreCallOptions): Promise<void> {
  await persistBatches(store, [result], opts)
}

/**
 * Persists what several engine batches changed (in engine order) in ONE store transaction:
 * a group commit, so batches that queued up behind a running write cost one transaction, not
 * one each. An orphan's last event wins: parked then dropped is removed, dropped then parked
 * again is kept; one parked and evicted within the batches is simply not written.
 */
export async function persistBatches (store: LedgerStore, results: readonly BatchResult[], opts?: StoreCallOptions): Promise<void> {
  const blocks: BatchResult['inserted'][number][] = []
  const orphans = new Map<BlockId, BatchResult['parked'][number] | null>()
  for (const r of results) {
    for (const b of r.inserted) blocks.push(b)
    for (const o of r.parked) orphans.set(o.id, o)
    for (const d of r.dropped) orphans.set(d.id, null)
  }
  if (blocks.length === 0 && orphans.size === 0) return
  const parked: Array<BatchResult['parked'][number]> = []
  const removeOrphans: BlockId[] = []
  for (const [id, o] of orphans) { if (o == null) removeOrphans.push(id); else parked.push(o) }
  await store.write({ blocks, orphans: parked, removeOrphans }, opts)
}

/**
 * Writes a checkpoint of `engine`. Call it only when every block the engine holds is stored
 * (after `persistBatch` succeeded), e.g. every 1,000 blocks.
 */
export async function writeCheckpoint (store: LedgerStore, engine: LedgerEngine, opts?: StoreCallOptions): Promise<LedgerCheckpoint> {
  const cp: LedgerCheckpoint = { blockCount: engine.stats().blocks, data: encodeSnapshot(engine.snapshot()), stateHash: engine.stateHash() }
  await store.putCheckpoint(cp, opts)
  return cp
}

export interface OpenFromCheckpointOptions extends LoadLedgerOptions {
  /** Store position of the first block outside the checkpoint's cut (what the tail starts at). */
  readonly tailFrom: number
  /** The package state's LtHash, computed off the main thread by the caller (S31). */
  readonly stateCommitment?: StateCommitment
}

/**
 * S16 start-up and pruning: an engine from a verified checkpoint package plus the stored
 * blocks from `tailFrom` on (re-added as trusted; those below the cut are known already and
 * skipped), then the orphans. Memory then holds the checkpoint's retained blocks and the
 * tail, not the history; the store still has the history to serve peers (S11).
 */
export async function openFromCheckpoint (store: LedgerStore, genesis: Genesis | LedgerContext, pkg: CheckpointPackage, opts: OpenFromCheckpointOptions): Promise<LoadedLedger> {
  const ctx = 'allianceId' in genesis ? genesis : createLedgerContext(genesis, opts.registry)
  const engine = joinFromCheckpoint(ctx, pkg, opts)
  const pageSize = Math.max(1, opts.pageSize ?? 500)
  const count = await store.blockCount()
  let page: Uint8Array[] = []
  let replayed = 0
  const flush = (): void => {
    engine.addMany(page, { now: opts.now, trusted: true })
    replayed += page.length
    page = []
    opts.onProgress?.(opts.tailFrom + replayed, count)
  }
  for await (const b of store.iterateBlocks({ from: opts.tailFrom, pageSize })) {
    page.push(b.bytes)
    if (page.length >= pageSize) flush()
  }
  if (page.length > 0) flush()
  const orphans = await store.listOrphans()
  if (orphans.length > 0) engine.addMany(orphans.map(o => o.bytes), { now: opts.now, trusted: true })
  return { engine, fromCheckpoint: opts.tailFrom, replayed, orphans: orphans.length }
}
