/**
 * Names instead of DIDs (issue 11), the pure part: which name to show for a DID (the user's own
 * contact name first, else the name the peer announced about itself, marked unverified), a
 * short fingerprint to show beside it, look-alike warnings (a name that reads like another
 * contact's, a DID that starts and ends like a known one: address poisoning), the "hello" DM a
 * peer announces its name with, and contact links / QR texts.
 *
 * Nothing here does I/O; `contacts-api.ts` keeps the book and `src/ui` shows it.
 */
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { cleanName } from '../store/contacts.ts'

/** The part of a did:key a person can compare by eye: its last 6 characters. */
export function fingerprint (did: string): string {
  return did.slice(-6)
}

export type NameSource = 'me' | 'contact' | 'announced' | 'none'

export interface ShownName {
  /** What to show: the contact's name, the announced name, or a short DID. */
  readonly label: string
  readonly source: NameSource
  /** Only names the user gave (or "me") are verified; announced ones are a peer's claim. */
  readonly verified: boolean
  readonly fingerprint: string
}

export interface NameBook {
  readonly me: Did
  readonly selfName?: string | null
  readonly contactName: (did: Did) => string | undefined
  readonly announcedName: (did: Did) => string | undefined
}

export function shownName (did: string, book: NameBook): ShownName {
  const fp = fingerprint(did)
  if (did === book.me) return { label: book.selfName != null && book.selfName !== '' ? `${book.selfName} (me)` : 'me', source: 'me', verified: true, fingerprint: fp }
  const contact = book.contactName(did as Did)
  if (contact != null) return { label: contact, source: 'contact', verified: true, fingerprint: fp }
  const announced = book.announcedName(did as Did)
  if (announced != null) return { label: announced, source: 'announced', verified: false, fingerprint: fp }
  return { label: `${did.slice(8, 14)}…${fp}`, source: 'none', verified: false, fingerprint: fp }
}

// Characters that read alike, folded to one: digits and symbols that pass for letters, and
// the Cyrillic and Greek letters that look Latin (the usual homograph set).
const FOLD: Record<string, string> = {
  0: 'o', 1: 'l', 3: 'e', 5: 's', 7: 't', 8: 'b', '@': 'a', $: 's', '|': 'l', '!': 'l', i: 'l', j: 'l',
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', х: 'x', у: 'y', і: 'l', ј: 'l', ԁ: 'd', ѕ: 's', һ: 'h', к: 'k', м: 'm', т: 't', в: 'b', н: 'h',
  α: 'a', ο: 'o', ρ: 'p', ν: 'v', ι: 'l', κ: 'k', τ: 't', χ: 'x', υ: 'u', ε: 'e'
}

/** A name folded so that look-alikes collide: case, accents, spacing, homoglyphs, rn/m, vv/w. */
export function skeleton (name: string): string {
  const base = name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
  let out = ''
  for (const ch of base) {
    if (/[\s._\-'’"]/u.test(ch)) continue
    out += FOLD[ch] ?? ch
  }
  return out.replace(/rn/g, 'm').replace(/vv/g, 'w').replace(/cl/g, 'd')
}

function editDistanceAtMostOne (a: string, b: string): boolean {
  if (a === b) return true
  if (Math.abs(a.length - b.length) > 1) return false
  let i = 0; let j = 0; let edits = 0
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { i++; j++; continue }
    if (++edits > 1) return false
    if (a.length > b.length) i++
    else if (b.length > a.length) j++
    else { i++; j++ }
  }
  return edits + (a.length - i) + (b.length - j) <= 1
}

export interface LookAlike {
  readonly kind: 'name' | 'did'
  /** The known DID it can be mistaken for, and that DID's name. */
  readonly did: Did
  readonly name: string
}

/**
 * Known entries a new (DID, name) pair could be mistaken for: another DID whose name folds to
 * the same skeleton or is one edit away (names of 4+ characters), or another DID that shares
 * its first 4 and last 4 characters after the did:key prefix (what a poisoner grinds keys for).
 */
export function lookAlikes (candidate: { did: string, name?: string }, known: ReadonlyArray<{ did: Did, name: string }>): LookAlike[] {
  const out: LookAlike[] = []
  const sk = candidate.name != null ? skeleton(candidate.name) : null
  const head = (d: string): string => d.slice(12, 16)
  const tail = (d: string): string => d.slice(-4)
  for (const k of known) {
    if (k.did === candidate.did) continue
    if (sk != null && sk.length > 0) {
      const other = skeleton(k.name)
      if (other === sk || (sk.length >= 4 && other.length >= 4 && editDistanceAtMostOne(sk, other))) { out.push({ kind: 'name', did: k.did, name: k.name }); continue }
    }
    if (head(k.did) === head(candidate.did) && tail(k.did) === tail(candidate.did)) out.push({ kind: 'did', did: k.did, name: k.name })
  }
  return out
}

/** The DM a peer sends to say what it calls itself (its own claim, shown unverified). */
export const HELLO_PREFIX = 'alliance/hello/1 '

export function helloText (name: string): string {
  return `${HELLO_PREFIX}${JSON.stringify({ name: cleanName(name) })}`
}

/** The announced name in a hello DM, or null for any other text (and for bad names). */
export function parseHello (text: string): string | null {
  if (!text.startsWith(HELLO_PREFIX) || text.length > 512) return null
  try {
    const v = JSON.parse(text.slice(HELLO_PREFIX.length)) as unknown
    const name = (v as { name?: unknown } | null)?.name
    return typeof name === 'string' ? cleanName(name) : null
  } catch {
    return null
  }
}

export function isHello (text: string): boolean { return text.startsWith(HELLO_PREFIX) }

/** The newest announced name per sender, from received DMs oldest first. */
export function announcedNames (messages: ReadonlyArray<{ from: string, text: string }>, me: string): Map<Did, string> {
  const out = new Map<Did, string>()
  for (const m of messages) {
    if (m.from === me) continue
    const name = parseHello(m.text)
    if (name != null && isDid(m.from)) out.set(m.from, name)
  }
  return out
}

/** A link (and QR text) that adds this DID as a contact: `<app>?contact=<did>&name=<name>`. */
export function contactLink (appUrl: string, did: string, name?: string | null): string {
  const url = new URL(appUrl)
  url.search = ''
  url.hash = ''
  url.searchParams.set('contact', did)
  if (name != null && name !== '') url.searchParams.set('name', name)
  return url.toString()
}

/** A DID (and suggested name) from a scanned or pasted text: a bare DID or a contact link. */
export function parseContactText (text: string): { did: Did, name?: string } | null {
  const t = text.trim()
  if (isDid(t)) return { did: t }
  try {
    const url = new URL(t)
    const did = url.searchParams.get('contact')
    if (did == null || !isDid(did)) return null
    const raw = url.searchParams.get('name')
    let name: string | undefined
    try { name = raw != null ? cleanName(raw) : undefined } catch { name = undefined }
    return name != null ? { did, name } : { did }
  } catch {
    return null
  }
}
