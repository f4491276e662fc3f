/**
 * IndexedDB `ContactsStore` through idb: database `alliance/${profile}/contacts`, versioned
 * schema with an upgrade function, one transaction per call, errors caught on the request, the
 * transaction and its abort (through the shared opener and IdbTransactions), records checked in and out.
 */
import type { DBSchema, IDBPDatabase } from 'idb'
import { IdbTransactions, openIdb } from './idb-open.ts'
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
  readonly #tx: IdbTransactions<ContactsSchema>

  constructor (db: Db) {
    this.#tx = new IdbTransactions(db, makeError, () => new ContactsStoreError(ContactsStoreErrorCode.CLOSED, 'the contacts store is closed'))
  }

  async list (): Promise<Contact[]> {
    const all = await this.#tx.run(['contacts'], 'readonly', async (tx) => await tx.objectStore('contacts').getAll())
    return sortContacts(all.map(checkContact))
  }

  async get (did: Did): Promise<Contact | undefined> {
    const r = await this.#tx.run(['contacts'], 'readonly', async (tx) => await tx.objectStore('contacts').get(did))
    return r === undefined ? undefined : checkContact(r)
  }

  async put (contact: Contact): Promise<void> {
    const clean = checkContact(contact)
    await this.#tx.run(['contacts'], 'readwrite', async (tx) => { await tx.objectStore('contacts').put(clean) })
  }

  async delete (did: Did): Promise<void> {
    await this.#tx.run(['contacts'], 'readwrite', async (tx) => { await tx.objectStore('contacts').delete(did) })
  }

  async getSetting (key: string): Promise<string | undefined> {
    const k = checkSettingKey(key)
    const v = await this.#tx.run(['settings'], 'readonly', async (tx) => await tx.objectStore('settings').get(k))
    return typeof v === 'string' ? v : undefined
  }

  async putSetting (key: string, value: string): Promise<void> {
    const k = checkSettingKey(key)
    if (typeof value !== 'string' || value.length > 1024) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a setting is text of at most 1,024 characters')
    await this.#tx.run(['settings'], 'readwrite', async (tx) => { await tx.objectStore('settings').put(value, k) })
  }

  async close (): Promise<void> {
    this.#tx.close()
  }
}
