/**
 * Opening an IndexedDB database through `idb`, and turning IndexedDB's failures into a store's
 * typed errors, in one place for every store (ledger, sessions). Quota errors show only on
 * the transaction, so callers route transaction and abort errors through `idbError` too.
 */
import { wrap } from 'idb'
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
  upgrade: (db: Db, oldVersion: number) => void
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
    opts.upgrade(wrap(request.result) as unknown as Db, event.oldVersion)
  })
  try {
    return await (wrap(request) as unknown as Promise<Db>)
  } catch (err) {
    throw idbError(err, opts.makeError)
  }
}
