/**
 * IndexedDB `SessionsStore` through idb: database `alliance/${profile}/sessions`, versioned
 * schema with an upgrade function (each step moves one version forward, so an older database
 * catches up). One readwrite transaction per write. Errors are caught on the request, the
 * transaction and its abort (quota errors only show on the transaction) and come out as
 * SessionsStoreError; records are checked on the way in and out.
 */
import type { DBSchema, IDBPDatabase } from 'idb'
import { IdbTransactions, openIdb } from './idb-open.ts'
import type { StoreErrorMaker } from './idb-open.ts'
import { parseProfileName } from '../core/profile.ts'
import {
  checkSettingKey, checkSettingValue, checkStoredSession, SessionsStoreError, SessionsStoreErrorCode, sortSessions
} from './sessions.ts'
import type { SessionsStore, StoredSession } from './sessions.ts'

export const SESSIONS_DB_VERSION = 1

export interface SessionsSchema extends DBSchema {
  sessions: { key: string, value: StoredSession, indexes: { openedAt: number } }
  /** Small blobs by name (the encrypted hotspot secret). */
  settings: { key: string, value: Uint8Array }
}

type Db = IDBPDatabase<SessionsSchema>

export function sessionsDbName (profile: string): string {
  return `alliance/${parseProfileName(profile)}/sessions`
}

function upgrade (db: Db, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('sessions', { keyPath: 'id' }).createIndex('openedAt', 'openedAt')
    db.createObjectStore('settings')
  }
}

const makeError: StoreErrorMaker = (kind, message, cause) =>
  new SessionsStoreError(kind === 'quota' ? SessionsStoreErrorCode.QUOTA : SessionsStoreErrorCode.STORE, message, { cause })

export interface OpenSessionsStoreOptions {
  /** Another IDBFactory (tests); default: the global `indexedDB`. */
  readonly indexedDB?: IDBFactory
}

export async function openIdbSessionsStore (profile: string, opts: OpenSessionsStoreOptions = {}): Promise<IdbSessionsStore> {
  const db = await openIdb<Db>({ factory: opts.indexedDB, name: sessionsDbName(profile), version: SESSIONS_DB_VERSION, upgrade, makeError })
  return new IdbSessionsStore(db)
}

export class IdbSessionsStore implements SessionsStore {
  readonly #tx: IdbTransactions<SessionsSchema>

  constructor (db: Db) {
    this.#tx = new IdbTransactions(db, makeError, () => new SessionsStoreError(SessionsStoreErrorCode.CLOSED, 'the sessions store is closed'))
  }

  async put (session: StoredSession): Promise<void> {
    const clean = checkStoredSession(session)
    await this.#tx.run(['sessions'], 'readwrite', async (tx) => { await tx.objectStore('sessions').put(clean) })
  }

  async get (id: string): Promise<StoredSession | undefined> {
    const r = await this.#tx.run(['sessions'], 'readonly', async (tx) => await tx.objectStore('sessions').get(id))
    return r === undefined ? undefined : checkStoredSession(r)
  }

  async list (): Promise<StoredSession[]> {
    const all = await this.#tx.run(['sessions'], 'readonly', async (tx) => await tx.objectStore('sessions').getAll())
    return sortSessions(all.map(checkStoredSession))
  }

  async delete (id: string): Promise<void> {
    await this.#tx.run(['sessions'], 'readwrite', async (tx) => { await tx.objectStore('sessions').delete(id) })
  }

  async getSetting (key: string): Promise<Uint8Array | undefined> {
    const k = checkSettingKey(key)
    const v = await this.#tx.run(['settings'], 'readonly', async (tx) => await tx.objectStore('settings').get(k))
    return v === undefined ? undefined : checkSettingValue(v)
  }

  async putSetting (key: string, value: Uint8Array): Promise<void> {
    const k = checkSettingKey(key)
    const v = checkSettingValue(value)
    await this.#tx.run(['settings'], 'readwrite', async (tx) => { await tx.objectStore('settings').put(v, k) })
  }

  async close (): Promise<void> {
    this.#tx.close()
  }
}
