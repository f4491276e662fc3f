/**
 * Identity: one Ed25519 key is a peer's `did:key` and its libp2p PeerId. This module converts
 * between the two encodings of the same public key, signs and verifies with @noble/curves
 * (synchronous, identical in Node, browser and Worker), and builds the libp2p private key
 * from the same 32-byte seed. Conversions reject anything that is not an Ed25519 key.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58btc } from 'multiformats/bases/base58'
import { publicKeyFromRaw, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import type { Ed25519PeerId, Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { BadSignatureError, InvalidInputError } from './errors.ts'
import { concatBytes } from './bytes.ts'

/** A `did:key` of an Ed25519 key. */
export type Did = string & { readonly __brand: 'Did' }
/** The base58 string form of a libp2p PeerId. */
export type PeerIdString = string & { readonly __brand: 'PeerIdString' }

/** Multicodec varint prefix of an Ed25519 public key (0xed, varint-encoded). */
const ED25519_PUB_PREFIX = new Uint8Array([0xed, 0x01])
const DID_KEY_PREFIX = 'did:key:'

export const SEED_BYTES = 32
export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

export interface KeyPair {
  /** 32-byte Ed25519 seed (RFC 8032 private key). */
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
}

function assertBytes (value: unknown, length: number, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
  if (value.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${value.length}`)
}

/** A new key pair; `seed` lets callers (tests, restore) supply the randomness. */
export function generateKeyPair (seed?: Uint8Array): KeyPair {
  const s = seed ?? ed25519.utils.randomSecretKey()
  assertBytes(s, SEED_BYTES, 'seed')
  return { seed: s, publicKey: ed25519.getPublicKey(s) }
}

export function keyPairFromSeed (seed: Uint8Array): KeyPair {
  return generateKeyPair(seed)
}

export function didFromPublicKey (publicKey: Uint8Array): Did {
  assertBytes(publicKey, PUBLIC_KEY_BYTES, 'public key')
  return (DID_KEY_PREFIX + base58btc.encode(concatBytes(ED25519_PUB_PREFIX, publicKey))) as Did
}

export function publicKeyFromDid (did: string): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith(DID_KEY_PREFIX + 'z')) {
    throw new InvalidInputError(`not an Ed25519 did:key: ${String(did).slice(0, 80)}`, 'ERR_BAD_DID')
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(did.slice(DID_KEY_PREFIX.length))
  } catch (err) {
    throw new InvalidInputError('did:key is not valid base58btc', 'ERR_BAD_DID', { cause: err })
  }
  if (bytes.length !== 2 + PUBLIC_KEY_BYTES || bytes[0] !== ED25519_PUB_PREFIX[0] || bytes[1] !== ED25519_PUB_PREFIX[1]) {
    throw new InvalidInputError('did:key does not hold an Ed25519 public key', 'ERR_BAD_DID')
  }
  return bytes.slice(2)
}

export function isDid (value: unknown): value is Did {
  if (typeof value !== 'string') return false
  try {
    publicKeyFromDid(value)
    return true
  } catch {
    return false
  }
}

export function parseDid (value: unknown): Did {
  publicKeyFromDid(value as string)
  return value as Did
}

export function peerIdFromDid (did: string): Ed25519PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDid(did)) as Parameters<typeof peerIdFromPublicKey>[0]) as Ed25519PeerId
}

export function didFromPeerId (peerId: PeerId | string): Did {
  let id: PeerId
  try {
    id = typeof peerId === 'string' ? peerIdFromString(peerId) : peerId
  } catch (err) {
    throw new InvalidInputError('not a PeerId', 'ERR_BAD_PEER_ID', { cause: err })
  }
  if (id.type !== 'Ed25519' || id.publicKey == null) {
    throw new InvalidInputError(`PeerId ${id.toString()} is not an Ed25519 key`, 'ERR_BAD_PEER_ID')
  }
  return didFromPublicKey(id.publicKey.raw)
}

export function peerIdStringFromDid (did: string): PeerIdString {
  return peerIdFromDid(did).toString() as PeerIdString
}

/**
 * libp2p's private key of the same seed: libp2p and Veramo both keep Ed25519 private keys as
 * 64 bytes (seed || public key). Passing 32 bytes to privateKeyFromRaw would silently make a
 * secp256k1 key, so the length is fixed here.
 */
export function libp2pPrivateKey (seed: Uint8Array): Ed25519PrivateKey {
  const { publicKey } = keyPairFromSeed(seed)
  return privateKeyFromRaw(concatBytes(seed, publicKey)) as Ed25519PrivateKey
}

export function sign (seed: Uint8Array, message: Uint8Array): Uint8Array {
  assertBytes(seed, SEED_BYTES, 'seed')
  return ed25519.sign(message, seed)
}

export function verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false
  try {
    return ed25519.verify(signature, message, publicKey)
  } catch {
    // noble throws on encodings that are not points; for a verifier that is simply "invalid"
    return false
  }
}

/** Verifies a signature by a DID's key, throwing a typed error when it does not hold. */
export function assertSignedBy (did: string, message: Uint8Array, signature: Uint8Array): void {
  if (!verify(publicKeyFromDid(did), message, signature)) throw new BadSignatureError(`signature is not by ${did.slice(0, 24)}…`)
}

/** Short form of a DID for display: `did:key:z6Mk…abcd`. */
export function shortDid (did: string): string {
  return did.length > 24 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did
}
