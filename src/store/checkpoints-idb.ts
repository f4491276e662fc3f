/**
 * IndexedDB `CheckpointStore` (SPEC.md S19): database `alliance/${profile}/checkpoints`, one
 * per profile, apart from the ledger's (a package is megabytes written once per checkpoint;
 * the ledger's database takes many small batches). Two object stores keyed `[alliance, at]`:
 * `meta` (read to answer "which checkpoint do you have" without the bytes) and `packages`
 * (the bytes). A put writes both and deletes the alliance's older packages past `keep` in one
 * transaction; errors come out typed (quota only shows on the transaction).
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction } from 'idb'
import { IdbTransactions, openIdb } from './idb-open.ts'
import type { StoreErrorMaker } from './idb-open.ts'
import { parseProfileName } from '../core/profile.ts'
import type { StoreCallOptions } from './ledger.ts'
import { CHECKPOINTS_KEPT, CheckpointStoreError, CheckpointStoreErrorCode, checkCheckpointMeta, checkStoredPackage } from './checkpoints.ts'
import type { CheckpointMeta, CheckpointStore, StoredCheckpointPackage } from './checkpoints.ts'

export const CHECKPOINTS_DB_VERSION = 1

type Key = [string, number]
export interface CheckpointsSchema extends DBSchema {
  meta: { key: Key, value: CheckpointMeta }
  packages: { key: Key, value: Uint8Array }
}
type Db = IDBPDatabase<CheckpointsSchema>
type ReadTx = IDBPTransaction<CheckpointsSchema, Array<'meta' | 'packages'>, 'readonly'>

export function checkpointsDbName (profile: string): string {
  return `alliance/${parseProfileName(profile)}/checkpoints`
}

function upgrade (db: Db, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('meta')
    db.createObjectStore('packages')
  }
}

const makeError: StoreErrorMaker = (kind, message, cause) =>
  new CheckpointStoreError(kind === 'quota' ? CheckpointStoreErrorCode.QUOTA : CheckpointStoreErrorCode.STORE, message, { cause })

export async function openIdbCheckpointStore (profile: string, opts: { alliance: string, indexedDB?: IDBFactory, keep?: number }): Promise<IdbCheckpointStore> {
  const db = await openIdb<Db>({ factory: opts.indexedDB, name: checkpointsDbName(profile), version: CHECKPOINTS_DB_VERSION, upgrade, makeError })
  return new IdbCheckpointStore(db, opts.alliance, opts.keep ?? CHECKPOINTS_KEPT)
}

export class IdbCheckpointStore implements CheckpointStore {
  readonly #tx: IdbTransactions<CheckpointsSchema>

  constructor (db: Db, private readonly alliance: string, private readonly keep: number) {
    this.#tx = new IdbTransactions(db, makeError, () => new CheckpointStoreError(CheckpointStoreErrorCode.CLOSED, 'the checkpoint store is closed'))
  }

  /** This alliance's keys, all of them. */
  #range (): IDBKeyRange {
    return IDBKeyRange.bound([this.alliance, 0], [this.alliance, Number.MAX_SAFE_INTEGER])
  }

  async put (pkg: StoredCheckpointPackage, opts?: StoreCallOptions): Promise<void> {
    const clean = checkStoredPackage(pkg, this.alliance)
    if (opts?.signal?.aborted === true) throw new CheckpointStoreError(CheckpointStoreErrorCode.ABORTED, 'the write was aborted; nothing was written')
    await this.#tx.run(['meta', 'packages'], 'readwrite', async (tx) => {
      const key: Key = [this.alliance, clean.meta.at]
      const meta = tx.objectStore('meta')
      const packages = tx.objectStore('packages')
      await Promise.all([meta.put(clean.meta, key), packages.put(clean.bytes, key)])
      const keys = await meta.getAllKeys(this.#range())
      const old = keys.slice(0, Math.max(0, keys.length - this.keep))
      await Promise.all(old.flatMap(k => [meta.delete(k), packages.delete(k)]))
      if (opts?.signal?.aborted === true) throw new CheckpointStoreError(CheckpointStoreErrorCode.ABORTED, 'the write was aborted; nothing was written')
    })
  }

  async newestMeta (): Promise<CheckpointMeta | undefined> {
    const all = await this.list()
    return all.at(-1)
  }

  async newest (): Promise<StoredCheckpointPackage | undefined> {
    return await this.#tx.run(['meta', 'packages'], 'readonly', async (tx) => {
      const cursor = await tx.objectStore('meta').openCursor(this.#range(), 'prev')
      if (cursor == null) return undefined
      return await this.#read(tx, cursor.key, cursor.value)
    })
  }

  async get (at: number): Promise<StoredCheckpointPackage | undefined> {
    return await this.#tx.run(['meta', 'packages'], 'readonly', async (tx) => {
      const key: Key = [this.alliance, at]
      const value = await tx.objectStore('meta').get(key)
      return value == null ? undefined : await this.#read(tx, key, value)
    })
  }

  async #read (tx: ReadTx, key: Key, value: unknown): Promise<StoredCheckpointPackage> {
    const meta = checkCheckpointMeta(value, CheckpointStoreErrorCode.CORRUPT)
    const bytes = await tx.objectStore('packages').get(key)
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== meta.bytes) throw new CheckpointStoreError(CheckpointStoreErrorCode.CORRUPT, 'a stored checkpoint package is damaged')
    return { meta, bytes }
  }

  async list (): Promise<CheckpointMeta[]> {
    const all = await this.#tx.run(['meta'], 'readonly', async (tx) => await tx.objectStore('meta').getAll(this.#range()))
    return all.map(m => checkCheckpointMeta(m, CheckpointStoreErrorCode.CORRUPT))
  }

  async close (): Promise<void> {
    this.#tx.close()
  }
}
