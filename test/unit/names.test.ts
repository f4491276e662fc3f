// Names instead of DIDs: which name is shown, look-alike warnings, hello DMs, contact links,
// and the address book over the in-memory store.
import { describe, expect, it } from 'vitest'
import { fingerprint, helloText, lookAlikes, parseContactText, parseHello, announcedNames, contactLink, shownName, skeleton } from '../../src/peer/names.ts'
import { ContactsBook } from '../../src/peer/contacts-api.ts'
import { MemoryContactsStore } from '../../src/store/contacts.ts'
import { testDid } from '../fixtures/contacts-store-suite.ts'
import type { Did } from '../../src/core/identity.ts'

const ME = testDid(1); const BOB = testDid(2); const EVE = testDid(3)

describe('names', () => {
  it('[U4] shows my name, then the contact name (verified), then the announced one (unverified), else a short DID', () => {
    const book = { me: ME, selfName: 'Alice', contactName: (d: Did) => d === BOB ? 'Bob' : undefined, announcedName: (d: Did) => d === EVE ? 'Eve' : undefined }
    expect(shownName(ME, book)).toMatchObject({ label: 'Alice (me)', source: 'me', verified: true })
    expect(shownName(BOB, book)).toMatchObject({ label: 'Bob', source: 'contact', verified: true, fingerprint: fingerprint(BOB) })
    expect(shownName(EVE, book)).toMatchObject({ label: 'Eve', source: 'announced', verified: false })
    const other = shownName(testDid(4), book)
    expect(other.source).toBe('none')
    expect(other.label).toContain(fingerprint(testDid(4)))
    expect(fingerprint(BOB)).toHaveLength(6)
  })

  it('[U5] warns of look-alike names (case, accents, homoglyphs, one edit) and look-alike DIDs', () => {
    const known = [{ did: BOB, name: 'Bob Smith' }, { did: EVE, name: 'Carol' }]
    expect(skeleton('Bоb  Smith')).toBe(skeleton('bob smith')) // Cyrillic о
    expect(lookAlikes({ did: testDid(5), name: 'B0b Smith' }, known)).toEqual([{ kind: 'name', did: BOB, name: 'Bob Smith' }])
    expect(lookAlikes({ did: testDid(5), name: 'Carrol' }, known).map((w) => w.did)).toEqual([EVE])
    expect(lookAlikes({ did: testDid(5), name: 'Dora' }, known)).toEqual([])
    // The same DID renamed is no warning.
    expect(lookAlikes({ did: BOB, name: 'Bob Smith' }, known)).toEqual([])
    // A DID with the same first and last four characters (address poisoning).
    const poisoned = `${BOB.slice(0, 16)}${'x'.repeat(BOB.length - 20)}${BOB.slice(-4)}`
    expect(lookAlikes({ did: poisoned }, known)).toEqual([{ kind: 'did', did: BOB, name: 'Bob Smith' }])
  })

  it('[U6] hello DMs carry a clean announced name; anything else is not one', () => {
    expect(parseHello(helloText(' Bob '))).toBe('Bob')
    expect(parseHello('hello there')).toBeNull()
    expect(parseHello('alliance/hello/1 {"name":""}')).toBeNull()
    expect(parseHello('alliance/hello/1 {"name":"a\u202eb"}')).toBeNull()
    expect(parseHello('alliance/hello/1 not json')).toBeNull()
    const names = announcedNames([{ from: BOB, text: helloText('Bob') }, { from: BOB, text: helloText('Bobby') }, { from: ME, text: helloText('Me') }, { from: EVE, text: 'hi' }], ME)
    expect([...names]).toEqual([[BOB, 'Bobby']])
  })

  it('[U6] contact links and bare DIDs parse; others do not', () => {
    const link = contactLink('http://localhost:5173/?peer=alice&tab=wallet', BOB, 'Bob')
    expect(link).toBe(`http://localhost:5173/?contact=${encodeURIComponent(BOB)}&name=Bob`)
    expect(parseContactText(link)).toEqual({ did: BOB, name: 'Bob' })
    expect(parseContactText(`  ${BOB} `)).toEqual({ did: BOB })
    expect(parseContactText('http://x/?contact=did:key:nope')).toBeNull()
    expect(parseContactText('WIFI:T:WPA;S:x;P:y;;')).toBeNull()
  })
})

describe('ContactsBook', () => {
  it('[U3] saves, renames and removes contacts; keeps my name; reports look-alikes on save', async () => {
    const store = new MemoryContactsStore()
    const book = await ContactsBook.open(ME, store, { now: () => 42 })
    let changes = 0
    book.subscribe(() => { changes++ })
    expect(await book.save(BOB, 'Bob', 'qr')).toEqual([])
    expect(book.name(BOB)).toMatchObject({ label: 'Bob', verified: true })
    const warn = await book.save(EVE, 'B0b', 'message')
    expect(warn).toEqual([{ kind: 'name', did: BOB, name: 'Bob' }])
    await book.save(BOB, 'Robert')
    expect(book.get(BOB)).toMatchObject({ name: 'Robert', source: 'qr', addedAt: 42 })
    await book.setSelfName('Alice')
    const again = await ContactsBook.open(ME, store)
    expect(again.selfName).toBe('Alice')
    expect(again.list().map((c) => c.name)).toEqual(['B0b', 'Robert'])
    await book.remove(EVE)
    expect(book.get(EVE)).toBeUndefined()
    await expect(book.save('not a did', 'x')).rejects.toMatchObject({ code: 'ERR_BAD_DID' })
    await expect(book.save(BOB, '')).rejects.toMatchObject({ code: 'ERR_CONTACT_INVALID' })
    book.noteMessages([{ from: testDid(6), text: helloText('Frank') }])
    expect(book.name(testDid(6))).toMatchObject({ label: 'Frank', source: 'announced', verified: false })
    expect(changes).toBeGreaterThanOrEqual(5)
  })
})

describe('credential DMs', () => {
  it('[U11] carry a JWT and nothing else', async () => {
    const { credentialText, parseCredentialText } = await import('../../src/peer/credential-dm.ts')
    expect(parseCredentialText(credentialText(' aaa.bbb.ccc '))).toBe('aaa.bbb.ccc')
    expect(parseCredentialText('alliance/credential/1 not a jwt')).toBeNull()
    expect(parseCredentialText('hello')).toBeNull()
    expect(parseCredentialText(credentialText(`a.${'b'.repeat(20_000)}.c`))).toBeNull()
  })
})
