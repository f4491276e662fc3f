/**
 * Direct-message envelopes: a payload encrypted end to end to one DID's key and signed by the
 * sender's DID key. Pure (no I/O, no clock, no ambient randomness): time and random bytes come
 * in as parameters, so the same code runs in Node, the browser and a Worker.
 *
 * Construction (version 1):
 * - the recipient's X25519 key is derived from its Ed25519 `did:key` (RFC 7748 birational map);
 * - the sender draws an ephemeral X25519 key per message, so the content key depends on fresh
 *   randomness and the sender's long-term key is never used for encryption;
 * - key = HKDF-SHA-256(ikm = X25519(ephemeral, recipient), salt = epk || recipientX, info);
 * - XChaCha20-Poly1305 with a random 24-byte nonce; the associated data binds `v, from, to, at`
 *   so a third party cannot re-sign someone else's ciphertext under its own DID;
 * - Ed25519 signature by `from` over a domain-separated dag-cbor encoding of every other field.
 *
 * Guarantees of `openEnvelope`: it never returns a payload unless the size is within the limit,
 * the shape is exact, the envelope is addressed to the caller, the signature verifies against
 * `from`, the timestamp is within the allowed skew (when `now` is given) and the AEAD tag
 * verifies. Each failure is a typed error with a stable code (see `DM_ERROR_CODES`).
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { decode, encode } from './codec.ts'
import { AllianceError, BadSignatureError, InvalidInputError, TooLargeError } from './errors.ts'
import { concatBytes } from './bytes.ts'
import { didFromPublicKey, isDid, keyPairFromSeed, publicKeyFromDid, SEED_BYTES, SIGNATURE_BYTES, sign, verify } from './identity.ts'
import type { Did } from './identity.ts'

export const DM_VERSION = 1
/** Largest encoded envelope accepted; matches the frame limit of `/alliance/dm/1`. */
export const MAX_ENVELOPE_BYTES = 64 * 1024
/** Largest text a DM may carry (in UTF-16 code units), well below the envelope limit. */
export const MAX_DM_TEXT_LENGTH = 16 * 1024
/** Default clock skew tolerated between sender and receiver; outside it the message is stale. */
export const DEFAULT_MAX_SKEW_MS = 10 * 60 * 1000

const NONCE_BYTES = 24
const X25519_BYTES = 32
const AEAD_TAG_BYTES = 16
const SIG_DOMAIN = utf8ToBytes('alliance/dm/1 signature\0')
const KDF_INFO = utf8ToBytes('alliance/dm/1 key')
const ENVELOPE_KEYS = ['at', 'ct', 'epk', 'from', 'nonce', 'sig', 'to', 'v']

/** Wire-level reasons a DM is rejected; each is the `code` of a typed error. */
export const DM_ERROR_CODES = {
  decode: 'ERR_DECODE',
  tooLarge: 'ERR_FRAME_TOO_LARGE',
  badSignature: 'ERR_BAD_SIGNATURE',
  decrypt: 'ERR_DECRYPT',
  wrongRecipient: 'ERR_WRONG_RECIPIENT',
  stale: 'ERR_STALE'
} as const
export type DmErrorCode = typeof DM_ERROR_CODES[keyof typeof DM_ERROR_CODES]

/** The ciphertext does not authenticate under the key the recipient derives. */
export class DecryptError extends AllianceError {
  constructor (message = 'ciphertext does not decrypt', options?: { cause?: unknown }) {
    super(DM_ERROR_CODES.decrypt, message, options)
  }
}

/** The envelope is addressed to another DID. */
export class WrongRecipientError extends AllianceError {
  constructor (message: string) {
    super(DM_ERROR_CODES.wrongRecipient, message)
  }
}

/** The envelope's timestamp is outside the tolerated clock skew. */
export class StaleMessageError extends AllianceError {
  constructor (message: string) {
    super(DM_ERROR_CODES.stale, message)
  }
}

/** An envelope as it travels (dag-cbor map). */
export interface DmEnvelope {
  readonly v: number
  readonly from: Did
  readonly to: Did
  /** Sender's clock, milliseconds since the epoch. */
  readonly at: number
  readonly nonce: Uint8Array
  /** Ephemeral X25519 public key of this message. */
  readonly epk: Uint8Array
  readonly ct: Uint8Array
  readonly sig: Uint8Array
}

export interface SealOptions {
  /** 32-byte Ed25519 seed of the sender. */
  readonly senderSeed: Uint8Array
  readonly to: Did
  readonly plaintext: Uint8Array
  /** Sender's clock (ms since epoch). */
  readonly at: number
  /** Source of cryptographically secure random bytes. */
  readonly random: (length: number) => Uint8Array
}

export interface OpenOptions {
  /** 32-byte Ed25519 seed of the recipient. */
  readonly recipientSeed: Uint8Array
  /** Receiver's clock; when given, envelopes outside `maxSkewMs` are rejected as stale. */
  readonly now?: number
  readonly maxSkewMs?: number
  readonly maxBytes?: number
}

export interface OpenedEnvelope {
  readonly from: Did
  readonly to: Did
  readonly at: number
  readonly nonce: Uint8Array
  readonly plaintext: Uint8Array
}

function assertSeed (seed: unknown, what: string): asserts seed is Uint8Array {
  if (!(seed instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
  if (seed.length !== SEED_BYTES) throw new RangeError(`${what} must be ${SEED_BYTES} bytes, got ${seed.length}`)
}

function randomBytesOf (random: (length: number) => Uint8Array, length: number): Uint8Array {
  const bytes = random(length)
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`random(${length}) must return ${length} bytes`)
  return bytes
}

function signedBytes (env: Omit<DmEnvelope, 'sig'>): Uint8Array {
  return concatBytes(SIG_DOMAIN, encode({ v: env.v, from: env.from, to: env.to, at: env.at, nonce: env.nonce, epk: env.epk, ct: env.ct }))
}

function associatedData (v: number, from: string, to: string, at: number): Uint8Array {
  return encode({ v, from, to, at })
}

function contentKey (shared: Uint8Array, epk: Uint8Array, recipientX: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(epk, recipientX), KDF_INFO, 32)
}

/** Encrypts `plaintext` to `to` and signs the envelope; returns the canonical dag-cbor bytes. */
export function sealEnvelope (opts: SealOptions): Uint8Array {
  assertSeed(opts.senderSeed, 'senderSeed')
  if (!(opts.plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array')
  if (!Number.isSafeInteger(opts.at) || opts.at < 0) throw new RangeError('at must be a non-negative integer (ms)')
  if (typeof opts.random !== 'function') throw new TypeError('random must be a function')
  const recipientEd = publicKeyFromDid(opts.to)
  const from = didFromPublicKey(keyPairFromSeed(opts.senderSeed).publicKey)
  const recipientX = ed25519.utils.toMontgomery(recipientEd)
  const ephSecret = randomBytesOf(opts.random, X25519_BYTES)
  const epk = x25519.getPublicKey(ephSecret)
  const nonce = randomBytesOf(opts.random, NONCE_BYTES)
  let shared: Uint8Array
  try {
    shared = x25519.getSharedSecret(ephSecret, recipientX)
  } catch (err) {
    throw new InvalidInputError('recipient key is not usable for X25519', 'ERR_BAD_DID', { cause: err })
  }
  const key = contentKey(shared, epk, recipientX)
  const ct = xchacha20poly1305(key, nonce, associatedData(DM_VERSION, from, opts.to, opts.at)).encrypt(opts.plaintext)
  const unsigned = { v: DM_VERSION, from, to: opts.to as Did, at: opts.at, nonce, epk, ct }
  const sig = sign(opts.senderSeed, signedBytes(unsigned))
  const bytes = encode({ ...unsigned, sig })
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new TooLargeError(`envelope of ${bytes.length} bytes is over ${MAX_ENVELOPE_BYTES}`, DM_ERROR_CODES.tooLarge)
  return bytes
}

function isBytes (value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length)
}

/** Decodes and checks the shape of an envelope; no signature or decryption yet. */
export function decodeEnvelope (bytes: Uint8Array, maxBytes = MAX_ENVELOPE_BYTES): DmEnvelope {
  if (bytes instanceof Uint8Array && bytes.byteLength > maxBytes) {
    throw new TooLargeError(`envelope of ${bytes.byteLength} bytes is over ${maxBytes}`, DM_ERROR_CODES.tooLarge)
  }
  const value = decode<unknown>(bytes, maxBytes)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError('envelope is not a map', DM_ERROR_CODES.decode)
  const keys = Object.keys(value).sort()
  if (keys.length !== ENVELOPE_KEYS.length || keys.some((k, i) => k !== ENVELOPE_KEYS[i])) {
    throw new InvalidInputError('envelope does not have exactly the expected fields', DM_ERROR_CODES.decode)
  }
  const env = value as Record<string, unknown>
  if (env.v !== DM_VERSION) throw new InvalidInputError(`unsupported envelope version ${String(env.v)}`, DM_ERROR_CODES.decode)
  if (!isDid(env.from) || !isDid(env.to)) throw new InvalidInputError('from/to are not Ed25519 did:keys', DM_ERROR_CODES.decode)
  if (typeof env.at !== 'number' || !Number.isSafeInteger(env.at) || env.at < 0) throw new InvalidInputError('at is not a timestamp', DM_ERROR_CODES.decode)
  if (!isBytes(env.nonce, NONCE_BYTES) || !isBytes(env.epk, X25519_BYTES) || !isBytes(env.sig, SIGNATURE_BYTES)) {
    throw new InvalidInputError('nonce, epk or sig has the wrong type or length', DM_ERROR_CODES.decode)
  }
  if (!isBytes(env.ct) || env.ct.length < AEAD_TAG_BYTES) throw new InvalidInputError('ciphertext is too short', DM_ERROR_CODES.decode)
  return { v: env.v, from: env.from, to: env.to, at: env.at, nonce: env.nonce, epk: env.epk, ct: env.ct, sig: env.sig }
}

/** Verifies the sender's signature over a decoded envelope. */
export function verifyEnvelope (env: DmEnvelope): void {
  if (!verify(publicKeyFromDid(env.from), signedBytes(env), env.sig)) {
    throw new BadSignatureError(`envelope signature is not by ${env.from.slice(0, 24)}…`)
  }
}

/** Decrypts a decoded envelope with `recipientSeed`, without checking the address or signature. */
export function decryptEnvelope (env: DmEnvelope, recipientSeed: Uint8Array): Uint8Array {
  assertSeed(recipientSeed, 'recipientSeed')
  const recipientSecretX = ed25519.utils.toMontgomerySecret(recipientSeed)
  const recipientX = x25519.getPublicKey(recipientSecretX)
  try {
    const shared = x25519.getSharedSecret(recipientSecretX, env.epk)
    const key = contentKey(shared, env.epk, recipientX)
    return xchacha20poly1305(key, env.nonce, associatedData(env.v, env.from, env.to, env.at)).decrypt(env.ct)
  } catch (err) {
    throw new DecryptError('envelope does not decrypt with this key', { cause: err })
  }
}

/** Full receive path: size, shape, address, signature, time window, then decryption. */
export function openEnvelope (bytes: Uint8Array, opts: OpenOptions): OpenedEnvelope {
  assertSeed(opts.recipientSeed, 'recipientSeed')
  const env = decodeEnvelope(bytes, opts.maxBytes ?? MAX_ENVELOPE_BYTES)
  const me = didFromPublicKey(keyPairFromSeed(opts.recipientSeed).publicKey)
  if (env.to !== me) throw new WrongRecipientError(`envelope is addressed to ${env.to.slice(0, 24)}…, not to this key`)
  verifyEnvelope(env)
  if (opts.now !== undefined) {
    const skew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
    if (Math.abs(opts.now - env.at) > skew) throw new StaleMessageError(`envelope time is ${opts.now - env.at} ms away from now`)
  }
  const plaintext = decryptEnvelope(env, opts.recipientSeed)
  return { from: env.from, to: env.to, at: env.at, nonce: env.nonce, plaintext }
}

/** The payload of a text DM. */
export interface DmText {
  readonly text: string
}

export function encodeDmText (text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  if (text.length > MAX_DM_TEXT_LENGTH) throw new TooLargeError(`text of ${text.length} characters is over ${MAX_DM_TEXT_LENGTH}`)
  return encode({ text })
}

export function decodeDmText (plaintext: Uint8Array): DmText {
  const value = decode<unknown>(plaintext, MAX_ENVELOPE_BYTES)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError('DM payload is not a map', DM_ERROR_CODES.decode)
  const keys = Object.keys(value)
  const text = (value as Record<string, unknown>).text
  if (keys.length !== 1 || typeof text !== 'string' || text.length > MAX_DM_TEXT_LENGTH) {
    throw new InvalidInputError('DM payload is not { text }', DM_ERROR_CODES.decode)
  }
  return { text }
}
