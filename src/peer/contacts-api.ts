/**
 * The address book the UI talks to: contacts (a name the user gave a DID) kept in a
 * `ContactsStore`, this user's own name (announced to peers in a hello DM), names peers
 * announced about themselves (from received DMs, never stored as contacts), and look-alike
 * warnings when a contact is saved. Holds the list in memory, so reads are synchronous for
 * rendering; writes go to the store first and change the memory copy only once stored.
 */
import { parseDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { cleanName } from '../store/contacts.ts'
import type { Contact, ContactsStore, ContactSource } from '../store/contacts.ts'
import { announcedNames, lookAlikes, shownName } from './names.ts'
import type { LookAlike, NameBook, ShownName } from './names.ts'

const SELF_NAME_KEY = 'self-name'

export class ContactsBook implements NameBook {
  readonly me: Did
  private readonly store: ContactsStore
  private readonly now: () => number
  private contacts = new Map<Did, Contact>()
  private announced = new Map<Did, string>()
  private self: string | null = null
  private readonly listeners = new Set<() => void>()
  private versionCounter = 0

  private constructor (me: Did, store: ContactsStore, now: () => number) {
    this.me = me
    this.store = store
    this.now = now
  }

  static async open (me: Did, store: ContactsStore, opts: { now?: () => number } = {}): Promise<ContactsBook> {
    const book = new ContactsBook(me, store, opts.now ?? (() => Date.now()))
    for (const c of await store.list()) book.contacts.set(c.did, c)
    book.self = (await store.getSetting(SELF_NAME_KEY)) ?? null
    return book
  }

  get version (): number { return this.versionCounter }
  subscribe (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private changed (): void {
    this.versionCounter++
    for (const l of this.listeners) {
      try { l() } catch (err) { console.error('contacts listener failed', err) }
    }
  }

  get selfName (): string | null { return this.self }

  async setSelfName (name: string): Promise<void> {
    const clean = cleanName(name)
    await this.store.putSetting(SELF_NAME_KEY, clean)
    this.self = clean
    this.changed()
  }

  list (): Contact[] { return [...this.contacts.values()].sort((a, b) => a.name.localeCompare(b.name)) }
  get (did: string): Contact | undefined { return this.contacts.get(did as Did) }
  contactName (did: Did): string | undefined { return this.contacts.get(did)?.name }
  announcedName (did: Did): string | undefined { return this.announced.get(did) }
  name (did: string): ShownName { return shownName(did, this) }

  /** What a new contact could be mistaken for, before saving it. */
  warnings (did: string, name?: string): LookAlike[] {
    const known = [...this.contacts.values()].map((c) => ({ did: c.did, name: c.name }))
    return lookAlikes({ did, name }, known)
  }

  /** Saves (or renames) a contact; returns the look-alike warnings it raised. */
  async save (did: string, name: string, source: ContactSource = 'manual', note = ''): Promise<LookAlike[]> {
    const d = parseDid(did.trim())
    const clean = cleanName(name)
    const now = this.now()
    const before = this.contacts.get(d)
    const contact: Contact = { did: d, name: clean, note, source: before?.source ?? source, addedAt: before?.addedAt ?? now, updatedAt: now }
    const warnings = this.warnings(d, clean)
    await this.store.put(contact)
    this.contacts.set(d, contact)
    this.changed()
    return warnings
  }

  async remove (did: string): Promise<void> {
    await this.store.delete(did as Did)
    this.contacts.delete(did as Did)
    this.changed()
  }

  /** Takes the announced names from the DMs seen so far (call when messages change). */
  noteMessages (messages: ReadonlyArray<{ from: string, text: string }>): void {
    const next = announcedNames(messages, this.me)
    if (next.size === this.announced.size && [...next].every(([k, v]) => this.announced.get(k) === v)) return
    this.announced = next
    this.changed()
  }

  async close (): Promise<void> { await this.store.close() }
}

export async function openContactsBook (me: Did, profile: string, opts: { indexedDB?: IDBFactory } = {}): Promise<ContactsBook> {
  const { openIdbContactsStore } = await import('../store/contacts-idb.ts')
  return await ContactsBook.open(me, await openIdbContactsStore(profile, opts))
}
