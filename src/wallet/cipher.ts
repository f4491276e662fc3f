/**
 * The wallet's cryptography at rest, on WebCrypto only (same code in Chromium, Workers and
 * Node 20): AES-256-GCM sealing with a fresh 12-byte IV per message and associated data that
 * names what the ciphertext is for (so a sealed value cannot be moved to another slot), the
 * non-extractable device key, and PBKDF2-SHA-256 passphrase keys. Every AES key made here is
 * non-extractable: script can use it but never read it. A failed open is always a typed error.
 */
import { AllianceError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/bytes.ts'
import { DecryptError, WeakKdfError, WeakPassphraseError } from './errors.ts'

export const IV_BYTES = 12
export const SALT_BYTES = 16
/** Floor for the product: under it an offline guess of an 8-character passphrase gets cheap. */
export const MIN_PBKDF2_ITERATIONS = 300_000
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256; about 0.1 s in Chromium. */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000
/** Ceiling: a crafted backup file must not be able to freeze the tab for minutes. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000
/** Only with the explicit test option; still above 0 so PBKDF2 is well defined. */
export const MIN_TEST_PBKDF2_ITERATIONS = 1
export const MIN_PASSPHRASE_LENGTH = 8
/** Bounds the work PBKDF2 does on input from a text box. */
export const MAX_PASSPHRASE_LENGTH = 1024

/** Holds the current wrapping key; `null` means locked. Shared by the wallet and its secret box. */
export interface KeyHolder {
  key: CryptoKey | null
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function utf8 (text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text)
}

export function fromUtf8 (bytes: Uint8Array): string {
  return decoder.decode(bytes)
}

function subtle (): SubtleCrypto {
  const s = globalThis.crypto?.subtle
  // crypto.subtle exists only in secure contexts (https or localhost)
  if (s == null) throw new AllianceError('ERR_NO_WEBCRYPTO', 'WebCrypto is not available here (the page must be served over https or from localhost)')
  return s
}

/** WebCrypto's typings want ArrayBuffer-backed views; copying also detaches us from the caller's buffer. */
function own (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}

export function randomBytes (length: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(length))
}

/** A new device key: AES-256-GCM, non-extractable, kept as a CryptoKey object (IndexedDB can store it). */
export async function generateDeviceKey (): Promise<CryptoKey> {
  return await subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

/**
 * Unicode normalisation so that the same passphrase typed on another keyboard or OS (composed
 * vs decomposed accents) derives the same key when a backup is restored elsewhere.
 */
export function normalizePassphrase (passphrase: string): string {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string')
  return passphrase.normalize('NFC')
}

/** Rules for a new passphrase; existing ones are only ever checked by trying them. */
export function assertStrongPassphrase (passphrase: string): void {
  const length = [...normalizePassphrase(passphrase)].length
  if (length < MIN_PASSPHRASE_LENGTH) throw new WeakPassphraseError(`the passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters`)
  if (length > MAX_PASSPHRASE_LENGTH) throw new WeakPassphraseError(`the passphrase may have at most ${MAX_PASSPHRASE_LENGTH} characters`)
}

/** Refuses counts under the product floor unless the caller explicitly asked for test-only speed. */
export function assertIterations (iterations: number, allowInsecureForTests: boolean): void {
  if (!Number.isSafeInteger(iterations)) throw new WeakKdfError(`PBKDF2 iterations must be an integer, got ${String(iterations)}`)
  const floor = allowInsecureForTests ? MIN_TEST_PBKDF2_ITERATIONS : MIN_PBKDF2_ITERATIONS
  if (iterations < floor) throw new WeakKdfError(`PBKDF2 needs at least ${floor} iterations, got ${iterations}`)
  if (iterations > MAX_PBKDF2_ITERATIONS) throw new WeakKdfError(`PBKDF2 iterations over ${MAX_PBKDF2_ITERATIONS} are refused, got ${iterations}`)
}

/** PBKDF2-SHA-256 straight into a non-extractable AES-256-GCM key; the raw bits never reach script. */
export async function derivePassphraseKey (passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) throw new RangeError(`salt must be ${SALT_BYTES} bytes`)
  const s = subtle()
  const material = await s.importKey('raw', utf8(normalizePassphrase(passphrase)), 'PBKDF2', false, ['deriveKey'])
  return await s.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: own(salt), iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt']
  )
}

/** AES-GCM: returns iv || ciphertext || tag. `aad` binds the ciphertext to its purpose. */
export async function seal (key: CryptoKey, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const iv = randomBytes(IV_BYTES)
  const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: own(aad) }, key, own(plaintext)))
  const out = new Uint8Array(IV_BYTES + ct.length)
  out.set(iv, 0)
  out.set(ct, IV_BYTES)
  return out
}

/** Opens what `seal` made; anything altered (iv, ciphertext, tag, aad) or a wrong key gives DecryptError. */
export async function open (key: CryptoKey, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  if (!(sealed instanceof Uint8Array) || sealed.length < IV_BYTES + 16) throw new DecryptError('sealed value is too short')
  try {
    const pt = await subtle().decrypt(
      { name: 'AES-GCM', iv: own(sealed.subarray(0, IV_BYTES)), additionalData: own(aad) },
      key,
      own(sealed.subarray(IV_BYTES))
    )
    return new Uint8Array(pt)
  } catch (err) {
    throw new DecryptError(undefined, { cause: err })
  }
}

const CHECK_PLAINTEXT = 'alliance-net wallet key check v1'
const CHECK_AAD = utf8('alliance-net/wallet/v1/check')

/** An encrypted known value: lets a wrong key be told apart at once, before any secret is touched. */
export async function makeCheck (key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return await seal(key, utf8(CHECK_PLAINTEXT), CHECK_AAD)
}

export async function keyPassesCheck (key: CryptoKey, check: Uint8Array): Promise<boolean> {
  try {
    return fromUtf8(await open(key, check, CHECK_AAD)) === CHECK_PLAINTEXT
  } catch {
    return false
  }
}

/** AAD purpose of Veramo private keys (the secret box and wallet.ts re-sealing must agree). */
export const PRIVATE_KEY_PURPOSE = 'private-key'

/** Associated data of a sealed text: what it is (`purpose`) and which record it belongs to (`slot`). */
export function secretAad (purpose: string, slot: string): Uint8Array<ArrayBuffer> {
  return utf8(`alliance-net/wallet/v1/${purpose}/${slot}`)
}

const HEX_PATTERN = /^(?:[0-9a-f]{2})+$/

/** Seals a text to hex (iv || ciphertext || tag), the string form Veramo's secret boxes use. */
export async function sealText (key: CryptoKey, text: string, aad: Uint8Array): Promise<string> {
  return toHex(await seal(key, utf8(text), aad))
}

export async function openText (key: CryptoKey, sealedHex: string, aad: Uint8Array): Promise<string> {
  if (typeof sealedHex !== 'string' || !HEX_PATTERN.test(sealedHex)) throw new DecryptError('sealed value is not hex')
  const plain = await open(key, fromHex(sealedHex), aad)
  try {
    return fromUtf8(plain)
  } finally {
    plain.fill(0)
  }
}
