/**
 * The address book's storage interface (issue 11: names, not DIDs), its record checks and the
 * in-memory implementation; `contacts-idb.ts` is the IndexedDB one. Both pass one acceptance
 * suite (test/fixtures/contacts-store-suite.ts).
 *
 * A contact is a name this user gave a DID, kept only on this device: it is trusted because
 * the user typed it. Names peers announce about themselves are kept apart (`announced`) and are
 * never shown as if the user had chosen them.
 */
import { AllianceError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'

export const ContactsStoreErrorCode = {
  INVALID: 'ERR_CONTACT_INVALID',
  STORE: 'ERR_STORAGE',
  QUOTA: 'ERR_CONTACTS_QUOTA',
  CLOSED: 'ERR_CLOSED'
} as const
export type ContactsStoreErrorCode = typeof ContactsStoreErrorCode[keyof typeof ContactsStoreErrorCode]

export class ContactsStoreError extends AllianceError {
  declare readonly code: ContactsStoreErrorCode
  constructor (code: ContactsStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Where a contact came from, so the book can say "added from a QR code" and so on. */
export const CONTACT_SOURCES = ['manual', 'qr', 'link', 'message', 'session', 'peer'] as const
export type ContactSource = typeof CONTACT_SOURCES[number]

export const MAX_NAME_LENGTH = 40
export const MAX_NOTE_LENGTH = 200

export interface Contact {
  readonly did: Did
  /** The user's name for this DID: 1…40 characters after trimming. */
  readonly name: string
  readonly note: string
  readonly source: ContactSource
  readonly addedAt: number
  readonly updatedAt: number
}

export interface ContactsStore {
  list: () => Promise<Contact[]>
  get: (did: Did) => Promise<Contact | undefined>
  /** Adds or replaces the contact of `contact.did`. */
  put: (contact: Contact) => Promise<void>
  delete: (did: Did) => Promise<void>
  /** Small settings (this user's own announced name), by key. */
  getSetting: (key: string) => Promise<string | undefined>
  putSetting: (key: string, value: string) => Promise<void>
  close: () => Promise<void>
}

/** Trims a name and checks its length and characters (no control characters). */
export function cleanName (name: unknown): string {
  if (typeof name !== 'string') throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a name is text')
  const n = name.normalize('NFC').replace(/\s+/g, ' ').trim()
  // eslint-disable-next-line no-control-regex
  if (n.length === 0 || n.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/.test(n)) {
    throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, `a name is 1–${MAX_NAME_LENGTH} characters, without control or direction characters`)
  }
  return n
}

/** Checks a record going in or coming out of storage; returns a clean copy. */
export function checkContact (value: unknown): Contact {
  const v = value as Partial<Record<keyof Contact, unknown>> | null
  if (v == null || typeof v !== 'object') throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a contact is an object')
  if (!isDid(v.did)) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a contact needs a valid did:key')
  const note = typeof v.note === 'string' ? v.note.slice(0, MAX_NOTE_LENGTH) : ''
  const source = CONTACT_SOURCES.includes(v.source as ContactSource) ? v.source as ContactSource : 'manual'
  if (!Number.isSafeInteger(v.addedAt) || !Number.isSafeInteger(v.updatedAt)) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a contact has its times')
  return { did: v.did, name: cleanName(v.name), note, source, addedAt: v.addedAt as number, updatedAt: v.updatedAt as number }
}

export function checkSettingKey (key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 64) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a setting key is 1–64 characters')
  return key
}

function sortContacts (list: Contact[]): Contact[] {
  return list.sort((a, b) => a.name.localeCompare(b.name) || (a.did < b.did ? -1 : 1))
}
export { sortContacts }

export class MemoryContactsStore implements ContactsStore {
  readonly #contacts = new Map<string, Contact>()
  readonly #settings = new Map<string, string>()
  #closed = false

  #open (): void {
    if (this.#closed) throw new ContactsStoreError(ContactsStoreErrorCode.CLOSED, 'the contacts store is closed')
  }

  async list (): Promise<Contact[]> { this.#open(); return sortContacts([...this.#contacts.values()]) }
  async get (did: Did): Promise<Contact | undefined> { this.#open(); return this.#contacts.get(did) }
  async put (contact: Contact): Promise<void> { this.#open(); const c = checkContact(contact); this.#contacts.set(c.did, c) }
  async delete (did: Did): Promise<void> { this.#open(); this.#contacts.delete(did) }
  async getSetting (key: string): Promise<string | undefined> { this.#open(); return this.#settings.get(checkSettingKey(key)) }
  async putSetting (key: string, value: string): Promise<void> {
    this.#open()
    if (typeof value !== 'string' || value.length > 1024) throw new ContactsStoreError(ContactsStoreErrorCode.INVALID, 'a setting is text of at most 1,024 characters')
    this.#settings.set(checkSettingKey(key), value)
  }

  async close (): Promise<void> { this.#closed = true }
}
