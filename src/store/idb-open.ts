/**
 * Opening an IndexedDB database through `idb`, and turning IndexedDB's failures into a store's
 * typed errors, in one place for every store (ledger, sessions, contacts). Quota errors show
 * only on the transaction, so callers route transaction and abort errors through `idbError`
 * too; `IdbTransactions` does that for the small stores (one transaction per call).
 */
import { wrap } from 'idb'
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import { AllianceError } from '../core/errors.ts'

/** Makes a store's own error class for a failure of kind `quota` (storage full) or `store`. */
export type StoreErrorMaker = (kind: 'quota' | 'store', message: string, cause?: unknown) => Error

export function idbError (err: unknown, make: StoreErrorMaker): Error {
  if (err instanceof AllianceError) return err
  const e = err as { name?: string, message?: string } | null
  if (e?.name === 'QuotaExceededError') return make('quota', 'IndexedDB: storage is full', err)
  if (e?.name === 'AbortError') return make('store', `IndexedDB: transaction aborted${e.message != null ? `: ${e.message}` : ''}`, err)
  return make('store', `IndexedDB: ${e?.message ?? String(err)}`, err)
}

/** Opens (creating or upgrading) a database; `upgrade` moves the schema from `oldVersion`. */
export async function openIdb<Db> (opts: {
  factory?: IDBFactory
  name: string
  version: number
  /** `tx`: the upgrade's own (versionchange) transaction, for moving records between stores. */
  upgrade: (db: Db, oldVersion: number, tx: IDBTransaction) => void
  makeError: StoreErrorMaker
}): Promise<Db> {
  const factory = opts.factory ?? globalThis.indexedDB
  if (factory == null) throw opts.makeError('store', 'IndexedDB is not available here')
  let request: IDBOpenDBRequest
  try {
    request = factory.open(opts.name, opts.version)
  } catch (err) {
    throw idbError(err, opts.makeError)
  }
  request.addEventListener('upgradeneeded', (event) => {
    opts.upgrade(wrap(request.result) as unknown as Db, event.oldVersion, request.transaction as IDBTransaction)
  })
  try {
    return await (wrap(request) as unknown as Promise<Db>)
  } catch (err) {
    throw idbError(err, opts.makeError)
  }
}

/**
 * One transaction per call on an open database, for a store's methods: refused once closed
 * (by the store, or by another tab upgrading or deleting the database, which must not wait
 * on this one); any failure of `fn`, the request or the commit aborts it all and comes out as
 * the store's typed error.
 */
export class IdbTransactions<S extends DBSchema> {
  #closed = false
  readonly #db: IDBPDatabase<S>

  constructor (db: IDBPDatabase<S>, private readonly makeError: StoreErrorMaker, private readonly closedError: () => Error) {
    this.#db = db
    db.addEventListener('versionchange', () => { this.#closed = true; db.close() })
  }

  async run<N extends Array<StoreNames<S>>, M extends IDBTransactionMode, T> (stores: N, mode: M, fn: (tx: IDBPTransaction<S, N, M>) => Promise<T>): Promise<T> {
    if (this.#closed) throw this.closedError()
    let tx: IDBPTransaction<S, N, M>
    try {
      tx = this.#db.transaction(stores, mode)
    } catch (err) {
      throw idbError(err, this.makeError)
    }
    // `done` rejects on abort; make sure that never goes unhandled
    const done = tx.done
    done.catch(() => {})
    try {
      const result = await fn(tx)
      await done
      return result
    } catch (err) {
      try { tx.abort() } catch { /* already finished or aborted */ }
      throw idbError(err, this.makeError)
    }
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }
}
