/**
 * Ledger persistence: the `LedgerStore` interface, shared by the IndexedDB store
 * (`ledger-idb.ts`) and the in-memory one (`memory-ledger.ts`), which pass the same
 * acceptance suite (`test/fixtures/ledger-store-suite.ts`). Blocks are append-only and
 * written in batches, each batch one transaction: all of it or nothing (SPEC.md L37).
 * Blocks are kept as their bytes; the few fields the indexes need are read from them here.
 */
import { decode } from '../core/codec.ts'
import { AllianceError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import { BLOCK_LIMITS } from '../core/ledger/block.ts'
import { isRecord } from '../core/ledger/check.ts'
import type { BlockId } from '../core/ledger/types.ts'

/** A block as the engine hands it over (`BatchResult.inserted`). */
export interface BlockBytes {
  readonly id: BlockId
  readonly bytes: Uint8Array
  /** The index fields, when the engine hands them over (else they are read from the bytes). */
  readonly issuer?: Did
  readonly seq?: number
  readonly refs?: readonly BlockId[]
}

export interface StoredBlock extends BlockBytes {
  /** Position in insertion order, from 0: parents always come before children. */
  readonly n: number
  readonly issuer: Did
  readonly seq: number
  /** Parents and prev, without repeats. */
  readonly refs: readonly BlockId[]
}

export interface StoredOrphan extends BlockBytes {
  /** References not in the DAG when it was parked. */
  readonly missing: readonly BlockId[]
}

export interface LedgerCheckpoint {
  /** Blocks the snapshot covers: the first `blockCount` stored blocks. */
  readonly blockCount: number
  /** `encodeSnapshot(engine.snapshot())` */
  readonly data: Uint8Array
  /** `engine.stateHash()` at the time, to check a restore. */
  readonly stateHash: string
}

/** One atomic write. */
export interface LedgerWrite {
  /** Blocks that entered the DAG, parents first. Already stored ones are skipped. */
  readonly blocks?: readonly BlockBytes[]
  /** Orphans parked. */
  readonly orphans?: readonly StoredOrphan[]
  /** Orphans that left the pool without entering the DAG. (Stored blocks leave it anyway.) */
  readonly removeOrphans?: readonly BlockId[]
}

export interface StoreCallOptions {
  /** Aborting before the transaction commits writes nothing. */
  readonly signal?: AbortSignal
}

export interface LedgerStore {
  /** Writes blocks and orphan changes in one transaction: all or nothing. */
  write (w: LedgerWrite, opts?: StoreCallOptions): Promise<void>
  /** `write({ blocks })` */
  putBlocks (blocks: readonly BlockBytes[], opts?: StoreCallOptions): Promise<void>
  getBlock (id: string): Promise<StoredBlock | undefined>
  hasBlock (id: string): Promise<boolean>
  blockCount (): Promise<number>
  /** Stored blocks in insertion order from position `from`, read in pages (one transaction each). */
  iterateBlocks (opts?: { readonly from?: number, readonly pageSize?: number }): AsyncIterable<StoredBlock>
  /**
   * Block ids in insertion order from position `from`, at most `limit`, in one read (a key
   * range, not a cursor step per block): what sync serves as its inventory (S2, S11).
   */
  blockIdsFrom (from: number, limit: number): Promise<BlockId[]>
  /**
   * The bytes of the blocks asked for, in the asked order (`undefined` where not stored), in
   * one transaction: what sync serves for `get` (S11).
   */
  getBlocksBytes (ids: readonly string[]): Promise<Array<Uint8Array | undefined>>
  /** An issuer's blocks at `seq` (more than one is an equivocation). */
  getByIssuerSeq (issuer: string, seq: number): Promise<StoredBlock[]>
  /** Blocks that reference `parent` (as a parent or as prev), sorted. */
  children (parent: string): Promise<BlockId[]>
  /** Stored blocks no stored block references, sorted. */
  tips (): Promise<BlockId[]>
  /** `write({ orphans })` */
  putOrphans (orphans: readonly StoredOrphan[], opts?: StoreCallOptions): Promise<void>
  /** Removes and returns the orphans waiting for `id`, in one transaction. */
  takeOrphans (id: string): Promise<StoredOrphan[]>
  listOrphans (): Promise<StoredOrphan[]>
  /**
   * The first position still held: 0 unless history was pruned (S40). Positions below it
   * read as absent everywhere; `blockCount` still counts them (it is the next position).
   */
  firstPosition (): Promise<number>
  /**
   * Forgets the blocks below `position` (S40: history below a signed checkpoint and a
   * horizon). May keep a few more (whole storage runs): returns the first position held
   * after. Never forgets the newest block; orphans and checkpoints are untouched.
   */
  pruneBelow (position: number, opts?: StoreCallOptions): Promise<number>
  /** Replaces the checkpoint (the previous one is kept as a fallback). */
  putCheckpoint (cp: LedgerCheckpoint, opts?: StoreCallOptions): Promise<void>
  /** The newest checkpoint, if any. */
  getCheckpoint (): Promise<LedgerCheckpoint | undefined>
  /** The checkpoint before the newest, if any (when the newest does not restore). */
  getPreviousCheckpoint (): Promise<LedgerCheckpoint | undefined>
  close (): Promise<void>
}

export const LedgerStoreErrorCode = {
  /** A request, transaction or the database failed. */
  STORE: 'ERR_STORE',
  /** The browser refused the write: storage is full. */
  QUOTA: 'ERR_STORE_QUOTA',
  /** The caller aborted the write; nothing was written. */
  ABORTED: 'ERR_ABORTED',
  /** The store is closed. */
  CLOSED: 'ERR_STORE_CLOSED',
  /** A stored record is damaged. */
  CORRUPT: 'ERR_STORE_CORRUPT',
  /** History below a checkpoint was pruned (S40) and no stored checkpoint opens: the ledger cannot be rebuilt from this store. */
  PRUNED: 'ERR_STORE_PRUNED'
} as const
export type LedgerStoreErrorCode = typeof LedgerStoreErrorCode[keyof typeof LedgerStoreErrorCode]

export class LedgerStoreError extends AllianceError {
  declare readonly code: LedgerStoreErrorCode
  constructor (code: LedgerStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** The indexed fields of a block, read from its bytes (no validation: it was validated). */
export function describeBlock (b: BlockBytes, n: number): StoredBlock {
  if (b == null || typeof b.id !== 'string' || !(b.bytes instanceof Uint8Array)) throw new TypeError('a block is { id: string, bytes: Uint8Array }')
  // the engine's decoded fields (BatchResult.inserted): decoding every block again cost the
  // write path as much as the engine insert (issue 10's split)
  if (typeof b.issuer === 'string' && typeof b.seq === 'number' && Array.isArray(b.refs) && b.refs.every(r => typeof r === 'string')) {
    return { id: b.id, bytes: b.bytes, n, issuer: b.issuer, seq: b.seq, refs: [...new Set(b.refs as readonly unknown[] as BlockId[])] }
  }
  const v = decode(b.bytes, BLOCK_LIMITS.maxBytes)
  if (!isRecord(v) || typeof v.issuer !== 'string' || typeof v.seq !== 'number' || !Array.isArray(v.parents)) {
    throw new TypeError(`block ${b.id} does not look like a block`)
  }
  const refs = [...v.parents, ...(typeof v.prev === 'string' ? [v.prev] : [])] as BlockId[]
  return { id: b.id, bytes: b.bytes, n, issuer: v.issuer as Did, seq: v.seq, refs: [...new Set(refs)] }
}

/** `blockIdsFrom` arguments: a position and a positive count. */
export function checkPosition (position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError('position must be a non-negative integer')
}

export function checkRange (from: number, limit: number): void {
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError('from must be a non-negative integer')
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
}

export function checkOrphan (o: StoredOrphan): StoredOrphan {
  if (o == null || typeof o.id !== 'string' || !(o.bytes instanceof Uint8Array) || !Array.isArray(o.missing) || o.missing.some(m => typeof m !== 'string')) {
    throw new TypeError('an orphan is { id: string, bytes: Uint8Array, missing: string[] }')
  }
  return { id: o.id, bytes: o.bytes, missing: [...o.missing] }
}

export function checkCheckpoint (cp: LedgerCheckpoint): LedgerCheckpoint {
  if (cp == null || !Number.isSafeInteger(cp.blockCount) || cp.blockCount < 0 || !(cp.data instanceof Uint8Array) || typeof cp.stateHash !== 'string') {
    throw new TypeError('a checkpoint is { blockCount: integer, data: Uint8Array, stateHash: string }')
  }
  return { blockCount: cp.blockCount, data: cp.data, stateHash: cp.stateHash }
}

export function abortedError (): LedgerStoreError {
  return new LedgerStoreError(LedgerStoreErrorCode.ABORTED, 'the write was aborted; nothing was written')
}
