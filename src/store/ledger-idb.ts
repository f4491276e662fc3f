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
  abortedError, checkCheckpoint, checkRange, checkOrphan, describeBlock, LedgerStoreError, LedgerStoreErrorCode
} from './ledger.ts'
import type {
  BlockBytes, LedgerCheckpoint, LedgerStore, LedgerWrite, StoreCallOptions, StoredBlock, StoredOrphan
} from './ledger.ts'

export const LEDGER_DB_VERSION = 1

interface BlockRecord {
  id: string
  n: number
  issuer: string
  seq: number
  refs: string[]
  bytes: Uint8Array
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
  blocks: { key: string, value: BlockRecord, indexes: { n: number, slot: [string, number], refs: string } }
  tips: { key: string, value: { id: string } }
  orphans: { key: string, value: OrphanRecord, indexes: { missing: string } }
  checkpoints: { key: number, value: CheckpointRecord }
  /** 'count': blocks stored so far (the next `n`). */
  meta: { key: 'count', value: number }
}

type Db = IDBPDatabase<LedgerSchema>
type Store = StoreNames<LedgerSchema>

/** One database per profile and alliance: a profile that changes alliance starts afresh. */
export function ledgerDbName (profile: string, alliance?: string): string {
  return `alliance/${parseProfileName(profile)}/ledger${alliance == null ? '' : `/${alliance}`}`
}

/** Each step moves the schema one version forward, so any older database catches up. */
function upgrade (db: Db, oldVersion: number): void {
  if (oldVersion < 1) {
    const blocks = db.createObjectStore('blocks', { keyPath: 'id' })
    blocks.createIndex('n', 'n', { unique: true })
    blocks.createIndex('slot', ['issuer', 'seq'])
    blocks.createIndex('refs', 'refs', { multiEntry: true })
    db.createObjectStore('tips', { keyPath: 'id' })
    db.createObjectStore('orphans', { keyPath: 'id' }).createIndex('missing', 'missing', { multiEntry: true })
    db.createObjectStore('checkpoints', { keyPath: 'blockCount' })
    db.createObjectStore('meta')
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
    await this.run(['blocks', 'tips', 'orphans', 'meta'], 'readwrite', async (tx) => {
      const blocks = tx.objectStore('blocks')
      const tips = tx.objectStore('tips')
      const orphanStore = tx.objectStore('orphans')
      const meta = tx.objectStore('meta')
      // every request gets a handler at once: if a later one throws, the transaction aborts
      // and the earlier ones reject, which must not surface as unhandled rejections
      const ops: Array<Promise<unknown>> = []
      const track = <T>(p: Promise<T>): Promise<T> => { p.catch(() => {}); ops.push(p); return p }
      // one round of reads for the whole batch (never an await per block): the count, which
      // of the blocks are stored already, and the parked orphans (few: the engine caps them)
      const [count, present, parked] = await Promise.all([
        track(meta.get('count')),
        checkPresence ? Promise.all(described.map(b => track(blocks.getKey(b.id)))) : [],
        track(orphanStore.getAllKeys())
      ])
      let n = count ?? 0
      const parkedSet = new Set<string>(parked)
      const added = new Set<string>()
      const fresh: typeof described = []
      described.forEach((b, i) => {
        if (present[i] !== undefined || added.has(b.id)) return
        added.add(b.id)
        fresh.push(b)
        track(blocks.add({ id: b.id, n: n++, issuer: b.issuer, seq: b.seq, refs: [...b.refs], bytes: b.bytes }))
        if (parkedSet.delete(b.id)) track(orphanStore.delete(b.id))
      })
      // tips change once per batch, not once per block: references to blocks of the same
      // batch never become tips in the first place
      const referenced = new Set<string>()
      for (const b of fresh) for (const r of b.refs) referenced.add(r)
      for (const r of referenced) if (!added.has(r)) track(tips.delete(r))
      for (const b of fresh) if (!referenced.has(b.id)) track(tips.put({ id: b.id }))
      for (const o of orphans) {
        if (added.has(o.id)) continue
        track((async () => {
          if (await blocks.getKey(o.id) === undefined) await orphanStore.put({ id: o.id, missing: [...o.missing], bytes: o.bytes })
        })())
      }
      for (const id of remove) if (!added.has(id)) track(orphanStore.delete(id))
      if (fresh.length > 0) track(meta.put(n, 'count'))
      await Promise.all(ops)
    }, signal)
  }

  async putBlocks (blocks: readonly BlockBytes[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ blocks }, opts)
  }

  async getBlock (id: string): Promise<StoredBlock | undefined> {
    const r = await this.run(['blocks'], 'readonly', async tx => await tx.objectStore('blocks').get(id))
    return r == null ? undefined : toBlock(r)
  }

  async hasBlock (id: string): Promise<boolean> {
    return await this.run(['blocks'], 'readonly', async tx => (await tx.objectStore('blocks').getKey(id)) !== undefined)
  }

  async blockCount (): Promise<number> {
    return await this.run(['meta'], 'readonly', async tx => (await tx.objectStore('meta').get('count')) ?? 0)
  }

  async * iterateBlocks (opts: { readonly from?: number, readonly pageSize?: number } = {}): AsyncIterable<StoredBlock> {
    const pageSize = Math.max(1, opts.pageSize ?? 500)
    let at = Math.max(0, opts.from ?? 0)
    for (;;) {
      // one short transaction per page: a consumer awaiting other work between pages would
      // otherwise let the transaction auto-commit under the cursor
      const page = await this.run(['blocks'], 'readonly', async tx =>
        await tx.objectStore('blocks').index('n').getAll(IDBKeyRange.lowerBound(at), pageSize))
      if (page.length === 0) return
      for (const r of page) yield toBlock(r)
      at = page[page.length - 1].n + 1
    }
  }

  async blockIdsFrom (from: number, limit: number): Promise<BlockId[]> {
    checkRange(from, limit)
    // primary keys (the ids) of the `n` index over a key range: one request, no values read
    const keys = await this.run(['blocks'], 'readonly', async tx =>
      await tx.objectStore('blocks').index('n').getAllKeys(IDBKeyRange.bound(from, from + limit - 1), limit))
    return keys as BlockId[]
  }

  async getBlocksBytes (ids: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (ids.length === 0) return []
    const rows = await this.run(['blocks'], 'readonly', async (tx) => {
      const store = tx.objectStore('blocks')
      return await Promise.all(ids.map(async id => await store.get(id)))
    })
    return rows.map(r => (r == null ? undefined : toBlock(r).bytes))
  }

  async getByIssuerSeq (issuer: string, seq: number): Promise<StoredBlock[]> {
    const rows = await this.run(['blocks'], 'readonly', async tx => await tx.objectStore('blocks').index('slot').getAll([issuer, seq]))
    return rows.map(toBlock).sort((a, b) => a.n - b.n)
  }

  async children (parent: string): Promise<BlockId[]> {
    const keys = await this.run(['blocks'], 'readonly', async tx => await tx.objectStore('blocks').index('refs').getAllKeys(parent))
    return [...new Set(keys)].sort() as BlockId[]
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

function toBlock (r: BlockRecord): StoredBlock {
  if (r == null || typeof r.id !== 'string' || !(r.bytes instanceof Uint8Array) || !Array.isArray(r.refs) || typeof r.n !== 'number') {
    throw new LedgerStoreError(LedgerStoreErrorCode.CORRUPT, 'a stored block is damaged')
  }
  return { id: r.id as BlockId, n: r.n, issuer: r.issuer as StoredBlock['issuer'], seq: r.seq, refs: r.refs as BlockId[], bytes: r.bytes }
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
