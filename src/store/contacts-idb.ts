/**
 * IndexedDB `ContactsStore` through idb: database `alliance/${profile}/contacts`, versioned
 * schema with an upgrade function, one transaction per call, errors caught on the request, the
 * transaction and its abort (through the shared opener), records checked in and out.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import { idbError, openIdb } from './idb-open.ts'
import type { StoreErrorMaker } from './idb-open.ts'
import { parseProfileName } from '../core/profile.ts'
import type { Did } from '../core/identity.ts'
import { checkContact, checkSettingKey, ContactsStoreError, ContactsStoreErrorCode, sortContacts } from './contacts.ts'
import type { Contact, ContactsStore } from './contacts.ts'

export const CONTACTS_DB_VERSION = 1

export interface ContactsSchema extends DBSchema {
  contacts: { key: string, value: Contact }
  settings: { key: string, value: string }
}

type Db = IDBPDatabase<ContactsSchema>
type Store = StoreNames<ContactsSchema>

export function contactsDbName (profile: string): string {
  return `alliance/${parseProfileName(profile)}/contacts`
}

function upgrade (db: Db, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('contacts', { keyPath: 'did' })
    db.createObjectStore('settings')
  }
}

const makeError: StoreErrorMaker = (kind, message, cause) =>
  new ContactsStoreError(kind === 'quota' ? ContactsStoreErrorCode.QUOTA : ContactsStoreErrorCode.STORE, message, { cause })

export async function openIdbContactsStore (profile: string, opts: { indexedDB?: IDBFactory } = {}): Promise<IdbContactsStore> {
  const db = await openIdb<Db>({ factory: opts.indexedDB, name: contactsDbName(profile), version: CONTACTS_DB_VERSION, upgrade, makeError })
  return new IdbContactsStore(db)
}

export class IdbContactsStore implements ContactsStore {
  #closed = false
  readonly #db: Db

  constructor (db: Db) {
    this.#db = db
    db.addEventListener('versionchange', () => { this.#closed = true; db.close() })
  }

  async #run<S extends Store[], M extends IDBTransactionMode, T> (stores: S, mode: M, fn: (tx: IDBPTransaction<ContactsSchema, S, M>) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ContactsStoreError(ContactsStoreErrorCode.CLOSED, 'the contacts store is closed')
    let tx: IDBPTransaction<ContactsSchema, S, M>
    try {
      tx = this.#db.transaction(stores, mode)
    } catch (err) {
      throw idbError(err, makeError)
    }
    const done = tx.done
    done.catch(() => {})
    try {
      const result = await fn(tx)
      await done
      return result
    } catch (err) {
      try { tx.abort() } catch { /* already finished or aborted */ }
      throw idbError(err, makeError)
    }
  }

  async list (): Promise<Contact[]> {
    const all = await this.#run(['contacts'], 'readonly', async (tx) => await tx.objectStore('contacts').getAll())
    return sortContacts(all.map(checkContact))
  }

  async get (did: Did): Promise<Contact | undefined> {
    const r = await this.#run(['contacts'], 'readonly', async (tx) => await tx.objectStore('contacts').get(did))
    return r === undefined ? undefined : checkContact(r)
  }

  async put (contact: Contact): Promise<void> {
    const clean = checkContact(contact)
    await this.#run(['contacts'], 'readwrite', async (tx) => { await tx.objectStore('contacts').put(clean) })
  }

  async delete (did: Did): Promise<void> {
    await this.#run(['contacts'], 'readwrite', async (tx) => { await tx.objectStore('contacts').delete(did) })
  }

  async getSetting (key: string): Promise<string | undefined> {
    const k = checkSettingKey(key)
    const v = await this.#run(['settings'], 'readonly', async (tx) => await tx.objectStore('settings').get(k))
    return typeof v === 'string' ? v : undefined
  }

  async putSetting (key: string, value: string): Promise<void> {
    const k = checkSettingKey(key)
    if (typeof value !== 'string' || value.length > 1024) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a setting is text of at most 1,024 characters')
    await this.#run(['settings'], 'readwrite', async (tx) => { await tx.objectStore('settings').put(value, k) })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }
}
