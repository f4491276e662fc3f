/**
 * IndexedDB `LedgerStore` through idb: database `alliance/${profile}/ledger`, versioned
 * schema with an upgrade function. Each write is ONE readwrite transaction over every store
 * it touches, so a crash or a failed request never leaves half a batch (or a block without
 * its index and tip updates). Errors are caught on the request, the transaction and its
 * abort (quota errors only show on the transaction) and come out as LedgerStoreError.
 * Blocks are append-only: `n` numbers them in insertion order (parents first).
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import { idbError, openIdb } from './idb-open.ts'
import type { StoreErrorMaker } from './idb-open.ts'
import { parseProfileName } from '../core/profile.ts'
import type { BlockId } from '../core/ledger/types.ts'
import {
  abortedError, checkCheckpoint, checkPosition, checkRange, checkOrphan, describeBlock, LedgerStoreError, LedgerStoreErrorCode
} from './ledger.ts'
import type {
  BlockBytes, LedgerCheckpoint, LedgerStore, LedgerWrite, StoreCallOptions, StoredBlock, StoredOrphan
} from './ledger.ts'

/**
 * 2: blocks in segments (one record per written batch, keyed by the position of its first
 * block) instead of one record per block with three indexes; v1 databases are moved over in
 * the upgrade. A batch of 256 blocks went from ~1,300 index entries and 256 requests to two.
 */
export const LEDGER_DB_VERSION = 2

/** v1 (read only by the upgrade to 2). */
interface BlockRecordV1 {
  id: string
  n: number
  issuer: string
  seq: number
  refs: string[]
  bytes: Uint8Array
}

/**
 * The index fields of the blocks at positions `n`, `n + 1`, …; the `id` index (multiEntry,
 * unique) finds the segment of a block, and refuses a block stored twice.
 */
interface SegmentIdsRecord {
  n: number
  ids: string[]
  issuers: string[]
  seqs: number[]
  refs: string[][]
}

/** The raw bytes of the same blocks, apart, so an inventory read does not read them. */
interface SegmentBytesRecord {
  n: number
  bytes: Uint8Array[]
}

interface OrphanRecord {
  id: string
  missing: string[]
  bytes: Uint8Array
}

interface CheckpointRecord {
  blockCount: number
  data: Uint8Array
  stateHash: string
}

export interface LedgerSchema extends DBSchema {
  segmentIds: { key: number, value: SegmentIdsRecord, indexes: { id: string } }
  segmentBytes: { key: number, value: SegmentBytesRecord }
  tips: { key: string, value: { id: string } }
  orphans: { key: string, value: OrphanRecord, indexes: { missing: string } }
  checkpoints: { key: number, value: CheckpointRecord }
  /** 'count': blocks stored so far (the next `n`); 'base': the first position still held (S40, absent: 0). */
  meta: { key: 'count' | 'base', value: number }
}

type Db = IDBPDatabase<LedgerSchema>
type Store = StoreNames<LedgerSchema>

/** Blocks per segment when the upgrade moves a v1 database over. */
const UPGRADE_SEGMENT = 512
/**
 * Bytes a segment record stays under (block bytes, or the index fields' characters): below
 * Chromium's 64 KiB, past which IndexedDB wraps a value into a Blob written as a file.
 */
export const SEGMENT_MAX_BYTES = 56 * 1024

/** Runs of `blocks` (in order) whose records each stay under SEGMENT_MAX_BYTES; a bigger block alone. */
function segmentsOf (blocks: readonly StoredBlock[]): StoredBlock[][] {
  const out: StoredBlock[][] = []
  let cur: StoredBlock[] = []
  let bytes = 0
  let chars = 0
  for (const b of blocks) {
    const c = b.id.length + b.issuer.length + 16 + b.refs.reduce((sum, r) => sum + r.length + 4, 0)
    if (cur.length > 0 && (bytes + b.bytes.byteLength > SEGMENT_MAX_BYTES || chars + c > SEGMENT_MAX_BYTES)) { out.push(cur); cur = []; bytes = 0; chars = 0 }
    cur.push(b)
    bytes += b.bytes.byteLength
    chars += c
  }
  if (cur.length > 0) out.push(cur)
  return out
}

/** One database per profile and alliance: a profile that changes alliance starts afresh. */
export function ledgerDbName (profile: string, alliance?: string): string {
  return `alliance/${parseProfileName(profile)}/ledger${alliance == null ? '' : `/${alliance}`}`
}

/** Each step moves the schema one version forward, so any older database catches up. */
function upgrade (db: Db, oldVersion: number, tx: IDBTransaction): void {
  if (oldVersion < 1) {
    db.createObjectStore('tips', { keyPath: 'id' })
    db.createObjectStore('orphans', { keyPath: 'id' }).createIndex('missing', 'missing', { multiEntry: true })
    db.createObjectStore('checkpoints', { keyPath: 'blockCount' })
    db.createObjectStore('meta')
  }
  if (oldVersion < 2) {
    db.createObjectStore('segmentIds', { keyPath: 'n' }).createIndex('id', 'ids', { multiEntry: true, unique: true })
    db.createObjectStore('segmentBytes', { keyPath: 'n' })
    if (oldVersion >= 1) moveV1Blocks(tx)
  }
}

/**
 * v1 → v2 inside the upgrade's transaction (raw requests: an await would let it commit): the
 * v1 blocks in `n` order, cut into segments, then the v1 store is deleted. A failure aborts
 * the upgrade, leaving the v1 database as it was.
 */
function moveV1Blocks (tx: IDBTransaction): void {
  const ids = tx.objectStore('segmentIds')
  const bytes = tx.objectStore('segmentBytes')
  let seg: SegmentIdsRecord | null = null
  let segBytes: Uint8Array[] = []
  let size = 0
  const flush = (): void => {
    if (seg == null) return
    ids.put(seg)
    bytes.put({ n: seg.n, bytes: segBytes })
    seg = null
    segBytes = []
    size = 0
  }
  const cursor = tx.objectStore('blocks').index('n').openCursor()
  cursor.onsuccess = () => {
    const c = cursor.result
    if (c == null) {
      flush()
      tx.db.deleteObjectStore('blocks')
      return
    }
    const r = c.value as BlockRecordV1
    seg ??= { n: r.n, ids: [], issuers: [], seqs: [], refs: [] }
    seg.ids.push(r.id); seg.issuers.push(r.issuer); seg.seqs.push(r.seq); seg.refs.push(r.refs)
    segBytes.push(r.bytes)
    size += r.bytes.byteLength
    if (seg.ids.length >= UPGRADE_SEGMENT || size >= SEGMENT_MAX_BYTES) flush()
    c.continue()
  }
}

const makeError: StoreErrorMaker = (kind, message, cause) =>
  new LedgerStoreError(kind === 'quota' ? LedgerStoreErrorCode.QUOTA : LedgerStoreErrorCode.STORE, message, { cause })

function storeError (err: unknown): Error {
  return idbError(err, makeError)
}

export interface OpenLedgerStoreOptions {
  /** Another IDBFactory (tests); default: the global `indexedDB`. */
  readonly indexedDB?: IDBFactory
  /** The alliance id (its database is kept apart from other alliances'). */
  readonly alliance?: string
}

export async function openIdbLedgerStore (profile: string, opts: OpenLedgerStoreOptions = {}): Promise<IdbLedgerStore> {
  const db = await openIdb<Db>({ factory: opts.indexedDB, name: ledgerDbName(profile, opts.alliance), version: LEDGER_DB_VERSION, upgrade, makeError })
  return new IdbLedgerStore(db)
}

export class IdbLedgerStore implements LedgerStore {
  private closed = false

  constructor (private readonly db: Db) {
    // another tab upgrading or deleting this database must not wait on us
    db.addEventListener('versionchange', () => { this.closed = true; db.close() })
  }

  /**
   * Runs `fn` in one transaction and waits for the commit. Any failure — of a request, of
   * `fn`, of the commit (quota), or the caller's abort — aborts the whole transaction.
   */
  private async run<S extends Store[], M extends IDBTransactionMode, T> (
    stores: S, mode: M, fn: (tx: IDBPTransaction<LedgerSchema, S, M>) => Promise<T>, signal?: AbortSignal
  ): Promise<T> {
    if (this.closed) throw new LedgerStoreError(LedgerStoreErrorCode.CLOSED, 'the ledger store is closed')
    if (signal?.aborted === true) throw abortedError()
    let tx: IDBPTransaction<LedgerSchema, S, M>
    try {
      // relaxed: the commit does not wait for the disk to flush (Chromium's default since
      // 121, asked for explicitly elsewhere). A block lost to a power cut is fetched again
      // by sync; blocks are never the only copy of anything a user signed that is not also
      // gossiped.
      tx = this.db.transaction(stores, mode, { durability: 'relaxed' })
    } catch (err) {
      throw storeError(err)
    }
    // `done` rejects on abort; make sure that never goes unhandled
    const done = tx.done
    done.catch(() => {})
    let aborted = false
    const onAbort = (): void => {
      aborted = true
      try { tx.abort() } catch { /* already committed or aborted */ }
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await fn(tx)
      await done
      if (aborted) throw abortedError()
      return result
    } catch (err) {
      try { tx.abort() } catch { /* already finished or aborted */ }
      throw aborted ? abortedError() : storeError(err)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async write (w: LedgerWrite, opts: StoreCallOptions = {}): Promise<void> {
    const input = [...(w.blocks ?? [])]
    // describe before the transaction: a bad input throws here, having written nothing
    const described = input.map(b => describeBlock(b, -1))
    const orphans = (w.orphans ?? []).map(checkOrphan)
    const remove = [...(w.removeOrphans ?? [])]
    // Optimistic first: the engine hands over only blocks new to it, so asking which are
    // stored (a request per block) is nearly always wasted. A block that is stored after all
    // fails its `add` (ConstraintError on the id), which aborts the whole transaction; the
    // write then runs again with the presence check. Either way all or nothing.
    if (described.length > 0 && opts.signal?.aborted !== true) {
      try {
        await this.writeBatch(described, orphans, remove, false, opts.signal)
        return
      } catch (err) {
        if (!isConstraintError(err)) throw err
      }
    }
    await this.writeBatch(described, orphans, remove, true, opts.signal)
  }

  private async writeBatch (described: StoredBlock[], orphans: StoredOrphan[], remove: string[], checkPresence: boolean, signal?: AbortSignal): Promise<void> {
    await this.run(['segmentIds', 'segmentBytes', 'tips', 'orphans', 'meta'], 'readwrite', async (tx) => {
      const segIds = tx.objectStore('segmentIds')
      const orphanStore = tx.objectStore('orphans')
      const tips = tx.objectStore('tips')
      const meta = tx.objectStore('meta')
      // every request gets a handler at once: if a later one throws, the transaction aborts
      // and the earlier ones reject, which must not surface as unhandled rejections
      const ops: Array<Promise<unknown>> = []
      const track = <T>(p: Promise<T>): Promise<T> => { p.catch(() => {}); ops.push(p); return p }
      // one round of reads for the whole batch (never an await per block): the count, which
      // of the blocks are stored already, and the parked orphans (few: the engine caps them)
      const index = segIds.index('id')
      const [count, present, parked] = await Promise.all([
        track(meta.get('count')),
        checkPresence ? Promise.all(described.map(b => track(index.getKey(b.id)))) : [],
        track(orphanStore.getAllKeys())
      ])
      const n0 = count ?? 0
      const parkedSet = new Set<string>(parked)
      const added = new Set<string>()
      const fresh: typeof described = []
      described.forEach((b, i) => {
        if (present[i] !== undefined || added.has(b.id)) return
        added.add(b.id)
        fresh.push(b)
        if (parkedSet.delete(b.id)) track(orphanStore.delete(b.id))
      })
      // the whole batch is a few records: its index fields, and its bytes (S11, P4), cut
      // into segments under Chromium's 64 KiB value size past which a value is wrapped into
      // a Blob (a file of its own)
      if (fresh.length > 0) {
        const bytesStore = tx.objectStore('segmentBytes')
        let at = n0
        for (const seg of segmentsOf(fresh)) {
          track(segIds.add({ n: at, ids: seg.map(b => b.id), issuers: seg.map(b => b.issuer), seqs: seg.map(b => b.seq), refs: seg.map(b => [...b.refs]) }))
          track(bytesStore.add({ n: at, bytes: seg.map(b => b.bytes) }))
          at += seg.length
        }
        track(meta.put(at, 'count'))
      }
      // tips change once per batch, not once per block: references to blocks of the same
      // batch never become tips in the first place
      const referenced = new Set<string>()
      for (const b of fresh) for (const r of b.refs) referenced.add(r)
      for (const r of referenced) if (!added.has(r)) track(tips.delete(r))
      for (const b of fresh) if (!referenced.has(b.id)) track(tips.put({ id: b.id }))
      for (const o of orphans) {
        if (added.has(o.id)) continue
        track((async () => {
          if (await index.getKey(o.id) === undefined) await orphanStore.put({ id: o.id, missing: [...o.missing], bytes: o.bytes })
        })())
      }
      for (const id of remove) if (!added.has(id)) track(orphanStore.delete(id))
      await Promise.all(ops)
    }, signal)
  }

  async putBlocks (blocks: readonly BlockBytes[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ blocks }, opts)
  }

  /** The stored block `id`: its segment through the `id` index, then the block in it. */
  async getBlock (id: string): Promise<StoredBlock | undefined> {
    return await this.run(['segmentIds', 'segmentBytes'], 'readonly', async (tx) => {
      const at = await tx.objectStore('segmentIds').index('id').getKey(id)
      if (at === undefined) return undefined
      const [ids, bytes] = await Promise.all([tx.objectStore('segmentIds').get(at), tx.objectStore('segmentBytes').get(at)])
      const k = ids?.ids.indexOf(id) ?? -1
      if (ids == null || bytes == null || k < 0) throw corrupt()
      return toBlock(ids, bytes, k)
    })
  }

  async hasBlock (id: string): Promise<boolean> {
    return await this.run(['segmentIds'], 'readonly', async tx => (await tx.objectStore('segmentIds').index('id').getKey(id)) !== undefined)
  }

  async blockCount (): Promise<number> {
    return await this.run(['meta'], 'readonly', async tx => (await tx.objectStore('meta').get('count')) ?? 0)
  }

  async firstPosition (): Promise<number> {
    return await this.run(['meta'], 'readonly', async tx => (await tx.objectStore('meta').get('base')) ?? 0)
  }

  /**
   * S40: whole segments below the one holding `position` (or the newest block) go, with
   * their tips, in one transaction; the first position held is kept in the meta.
   */
  async pruneBelow (position: number, opts: StoreCallOptions = {}): Promise<number> {
    checkPosition(position)
    return await this.run(['segmentIds', 'segmentBytes', 'tips', 'meta'], 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta')
      const segIds = tx.objectStore('segmentIds')
      const [count, base] = await Promise.all([meta.get('count'), meta.get('base')])
      const held = base ?? 0
      const cut = Math.min(position, (count ?? 0) - 1)
      if (cut <= held) return held
      const at = await segIds.openCursor(IDBKeyRange.upperBound(cut), 'prev')
      const first = at?.value.n ?? held
      if (first <= held) return held
      const below = IDBKeyRange.upperBound(first, true)
      const gone = await segIds.getAll(below)
      const tips = tx.objectStore('tips')
      await Promise.all([
        segIds.delete(below),
        tx.objectStore('segmentBytes').delete(below),
        ...gone.flatMap(s => s.ids.map(async id => { await tips.delete(id) })),
        meta.put(first, 'base')
      ])
      return first
    }, opts.signal)
  }

  /**
   * The segments that hold positions `from` … `from + limit - 1`, in order: the one that
   * starts at or before `from` (one cursor step back), then a key range of the rest.
   */
  private async segmentsFor (
    tx: IDBPTransaction<LedgerSchema, ['segmentIds', 'segmentBytes'], 'readonly'>, from: number, limit: number, withBytes: boolean
  ): Promise<Array<{ ids: SegmentIdsRecord, bytes: SegmentBytesRecord | null }>> {
    const idStore = tx.objectStore('segmentIds')
    const first = await idStore.openCursor(IDBKeyRange.upperBound(from), 'prev')
    const range = IDBKeyRange.bound(first?.value.n ?? from, from + limit - 1)
    const [ids, bytes] = await Promise.all([idStore.getAll(range), withBytes ? tx.objectStore('segmentBytes').getAll(range) : null])
    return ids.map((r, i) => {
      const b = bytes?.[i] ?? null
      if (bytes != null && (b == null || b.n !== r.n || b.bytes.length !== r.ids.length)) throw corrupt()
      return { ids: r, bytes: b }
    })
  }

  async * iterateBlocks (opts: { readonly from?: number, readonly pageSize?: number } = {}): AsyncIterable<StoredBlock> {
    const pageSize = Math.max(1, opts.pageSize ?? 500)
    // from the first held position on (S40): a page range below it would read as the end
    let at = Math.max(0, opts.from ?? 0, await this.firstPosition())
    for (;;) {
      // one short transaction per page: a consumer awaiting other work between pages would
      // otherwise let the transaction auto-commit under it
      const segs = await this.run(['segmentIds', 'segmentBytes'], 'readonly', async tx => await this.segmentsFor(tx, at, pageSize, true))
      const page: StoredBlock[] = []
      for (const s of segs) {
        for (let k = Math.max(0, at - s.ids.n); k < s.ids.ids.length && page.length < pageSize; k++) page.push(toBlock(s.ids, s.bytes as SegmentBytesRecord, k))
      }
      if (page.length === 0) return
      for (const b of page) yield b
      at = page[page.length - 1].n + 1
    }
  }

  async blockIdsFrom (from: number, limit: number): Promise<BlockId[]> {
    checkRange(from, limit)
    // a key range over the segments' ids (S11): a request or two, no block bytes read
    const segs = await this.run(['segmentIds', 'segmentBytes'], 'readonly', async tx => await this.segmentsFor(tx, from, limit, false))
    const out: BlockId[] = []
    for (const s of segs) {
      // by position, not by count: below a pruned part (S40) `from` may lie before the first segment
      for (let k = Math.max(0, from - s.ids.n); k < s.ids.ids.length && s.ids.n + k < from + limit; k++) out.push(s.ids.ids[k] as BlockId)
    }
    return out
  }

  async getBlocksBytes (ids: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (ids.length === 0) return []
    return await this.run(['segmentIds', 'segmentBytes'], 'readonly', async (tx) => {
      const index = tx.objectStore('segmentIds').index('id')
      // which segment each id is in (key-only lookups), then each segment read once: a
      // batch asked in storage order is one or two segments
      const at = await Promise.all(ids.map(async id => await index.getKey(id)))
      const segs = [...new Set(at.filter((n): n is number => n !== undefined))]
      const read = await Promise.all(segs.map(async n => await Promise.all([tx.objectStore('segmentIds').get(n), tx.objectStore('segmentBytes').get(n)])))
      const bySeg = new Map<number, Map<string, Uint8Array>>()
      read.forEach(([i, b], k) => {
        if (i == null || b == null || b.bytes.length !== i.ids.length) throw corrupt()
        bySeg.set(segs[k], new Map(i.ids.map((id, j) => [id, b.bytes[j]])))
      })
      return ids.map((id, k) => {
        const n = at[k]
        return n === undefined ? undefined : bySeg.get(n)?.get(id)
      })
    })
  }

  /** Not on any hot path (no index of its own): a scan of the segments' index fields. */
  async getByIssuerSeq (issuer: string, seq: number): Promise<StoredBlock[]> {
    return await this.scan((s, k) => s.issuers[k] === issuer && s.seqs[k] === seq)
  }

  /** As getByIssuerSeq: a scan. */
  async children (parent: string): Promise<BlockId[]> {
    const found = await this.scan((s, k) => s.refs[k].includes(parent))
    return [...new Set(found.map(b => b.id))].sort()
  }

  private async scan (match: (s: SegmentIdsRecord, k: number) => boolean): Promise<StoredBlock[]> {
    return await this.run(['segmentIds', 'segmentBytes'], 'readonly', async (tx) => {
      const out: StoredBlock[] = []
      for (const s of await tx.objectStore('segmentIds').getAll()) {
        const hits: number[] = []
        for (let k = 0; k < s.ids.length; k++) if (match(s, k)) hits.push(k)
        if (hits.length === 0) continue
        const bytes = await tx.objectStore('segmentBytes').get(s.n)
        if (bytes == null) throw corrupt()
        for (const k of hits) out.push(toBlock(s, bytes, k))
      }
      return out.sort((a, b) => a.n - b.n)
    })
  }

  async tips (): Promise<BlockId[]> {
    const keys = await this.run(['tips'], 'readonly', async tx => await tx.objectStore('tips').getAllKeys())
    return keys.sort() as BlockId[]
  }

  async putOrphans (orphans: readonly StoredOrphan[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ orphans }, opts)
  }

  async takeOrphans (id: string): Promise<StoredOrphan[]> {
    return await this.run(['orphans'], 'readwrite', async (tx) => {
      const store = tx.objectStore('orphans')
      const rows = await store.index('missing').getAll(id)
      await Promise.all(rows.map(r => store.delete(r.id)))
      return rows.map(toOrphan).sort(byId)
    })
  }

  async listOrphans (): Promise<StoredOrphan[]> {
    const rows = await this.run(['orphans'], 'readonly', async tx => await tx.objectStore('orphans').getAll())
    return rows.map(toOrphan).sort(byId)
  }

  async putCheckpoint (cp: LedgerCheckpoint, opts: StoreCallOptions = {}): Promise<void> {
    const checked = checkCheckpoint(cp)
    await this.run(['checkpoints'], 'readwrite', async (tx) => {
      const store = tx.objectStore('checkpoints')
      await store.put({ blockCount: checked.blockCount, data: checked.data, stateHash: checked.stateHash })
      // keep the newest two: the previous one is the fallback if the newest does not restore
      const keys = await store.getAllKeys()
      keys.sort((a, b) => a - b)
      await Promise.all(keys.slice(0, Math.max(0, keys.length - 2)).map(k => store.delete(k)))
    }, opts.signal)
  }

  private async checkpointAt (fromEnd: number): Promise<LedgerCheckpoint | undefined> {
    const rows = await this.run(['checkpoints'], 'readonly', async tx => await tx.objectStore('checkpoints').getAll())
    rows.sort((a, b) => a.blockCount - b.blockCount)
    const r = rows[rows.length - 1 - fromEnd]
    if (r == null) return undefined
    try {
      return checkCheckpoint(r)
    } catch (err) {
      throw new LedgerStoreError(LedgerStoreErrorCode.CORRUPT, 'a stored checkpoint is damaged', { cause: err })
    }
  }

  async getCheckpoint (): Promise<LedgerCheckpoint | undefined> {
    return await this.checkpointAt(0)
  }

  async getPreviousCheckpoint (): Promise<LedgerCheckpoint | undefined> {
    return await this.checkpointAt(1)
  }

  async close (): Promise<void> {
    this.closed = true
    this.db.close()
  }
}

/** A write that failed because a key was taken (a block stored already: see `write`). */
function isConstraintError (err: unknown): boolean {
  const cause = (err as { cause?: { name?: string } } | null)?.cause
  return cause?.name === 'ConstraintError'
}

function corrupt (): LedgerStoreError {
  return new LedgerStoreError(LedgerStoreErrorCode.CORRUPT, 'a stored block is damaged')
}

function toBlock (s: SegmentIdsRecord, b: SegmentBytesRecord, k: number): StoredBlock {
  const id = s?.ids?.[k]
  const bytes = b?.bytes?.[k]
  const refs = s?.refs?.[k]
  if (typeof id !== 'string' || !(bytes instanceof Uint8Array) || !Array.isArray(refs) || typeof s.n !== 'number') throw corrupt()
  return { id: id as BlockId, n: s.n + k, issuer: s.issuers[k] as StoredBlock['issuer'], seq: s.seqs[k], refs: refs as BlockId[], bytes }
}

function toOrphan (r: OrphanRecord): StoredOrphan {
  if (r == null || typeof r.id !== 'string' || !(r.bytes instanceof Uint8Array) || !Array.isArray(r.missing)) {
    throw new LedgerStoreError(LedgerStoreErrorCode.CORRUPT, 'a stored orphan is damaged')
  }
  return { id: r.id as BlockId, missing: r.missing as BlockId[], bytes: r.bytes }
}

function byId (a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
