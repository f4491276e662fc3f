// The address book's store: the shared acceptance suite against memory and IndexedDB
// (fake-indexeddb), plus persistence across a reopen and a damaged record surfacing typed.
import { describe, expect, it } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import { openDB } from 'idb'
import { MemoryContactsStore } from '../../src/store/contacts.ts'
import { openIdbContactsStore, contactsDbName, CONTACTS_DB_VERSION } from '../../src/store/contacts-idb.ts'
import { runContactsStoreTests, contact, testDid } from '../fixtures/contacts-store-suite.ts'

runContactsStoreTests('memory', async () => ({ store: new MemoryContactsStore() }))
runContactsStoreTests('IndexedDB', async () => ({ store: await openIdbContactsStore('suite', { indexedDB: new IDBFactory() }) }))

describe('IdbContactsStore', () => {
  it('[U3] keeps contacts across a reopen, in alliance/<profile>/contacts', async () => {
    const factory = new IDBFactory()
    const a = await openIdbContactsStore('alice', { indexedDB: factory })
    await a.put(contact(7, 'Dora'))
    await a.close()
    const b = await openIdbContactsStore('alice', { indexedDB: factory })
    expect((await b.list()).map((c) => c.name)).toEqual(['Dora'])
    await b.close()
    expect(contactsDbName('alice')).toBe('alliance/alice/contacts')
  })

  it('[U3] a damaged stored record comes out as a typed error, not as a contact', async () => {
    // The global fake-indexeddb (setup file), so idb's openDB reaches the same database.
    const s = await openIdbContactsStore('bob-damaged')
    await s.close()
    const raw = await openDB(contactsDbName('bob-damaged'), CONTACTS_DB_VERSION)
    await raw.put('contacts', { did: testDid(9), name: '', addedAt: 1, updatedAt: 1 })
    raw.close()
    const again = await openIdbContactsStore('bob-damaged')
    await expect(again.list()).rejects.toMatchObject({ code: 'ERR_CONTACT_INVALID' })
    await again.close()
  })
})
