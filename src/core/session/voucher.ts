/**
 * Round vouchers (white paper 5.6.1 step 4; DESIGN "Sessions"): the payer's signed promise
 * `{ v, session, offer, payer, provider, round, cumulative, units, time }`. `cumulative` is the
 * total credits owed for rounds 1..round, so only the newest voucher matters (no per-payment
 * nonces, unlike Filecoin's lanes). Canonical dag-cbor behind a domain tag, Ed25519 by the
 * payer. This module checks a single voucher; sequence rules live in book.ts.
 */
import { decode, encode } from '../codec.ts'
import { concatBytes } from '../bytes.ts'
import { didFromPublicKey, generateKeyPair, publicKeyFromDid, sign, verify } from '../identity.ts'
import type { Did } from '../identity.ts'
import { expectRecord, isBoundedString, isDidString, isSafeInt } from '../contracts/guards.ts'
import { VoucherError, VoucherRejection } from './errors.ts'
import { MAX_ROUND } from './terms.ts'
import type { OfferId, SessionId } from './terms.ts'

export const VOUCHER_DOMAIN = new TextEncoder().encode('alliance/voucher/1\n')
/** A signed voucher is ~330 bytes; the decoder refuses anything over this before parsing. */
export const MAX_VOUCHER_BYTES = 1024

export interface Voucher {
  readonly v: 1
  readonly session: SessionId
  readonly offer: OfferId
  readonly payer: Did
  readonly provider: Did
  /** Round this voucher pays for, 1-based. */
  readonly round: number
  /** Credits owed for rounds 1..round. */
  readonly cumulative: number
  /** Units (seconds or bytes) the payer acknowledges having received so far. */
  readonly units: number
  /** Milliseconds since the Unix epoch, payer's clock; informative only. */
  readonly time: number
}

export interface SignedVoucher extends Voucher {
  readonly sig: Uint8Array
}

const VOUCHER_FIELDS = ['v', 'session', 'offer', 'payer', 'provider', 'round', 'cumulative', 'units', 'time'] as const

function fail (message: string): never {
  throw new VoucherError(VoucherRejection.MALFORMED, message)
}

function unsigned (v: Voucher): Voucher {
  return { v: 1, session: v.session, offer: v.offer, payer: v.payer, provider: v.provider, round: v.round, cumulative: v.cumulative, units: v.units, time: v.time }
}

export function parseVoucher (value: unknown): Voucher {
  const rec = expectRecord(value, 'voucher', VOUCHER_FIELDS, [], fail)
  if (rec.v !== 1) fail('voucher version must be 1')
  if (!isBoundedString(rec.session, 128)) fail('voucher session must be a session id')
  if (!isBoundedString(rec.offer, 128)) fail('voucher offer must be an offer id')
  if (!isDidString(rec.payer)) fail('voucher payer must be an Ed25519 did:key')
  if (!isDidString(rec.provider)) fail('voucher provider must be an Ed25519 did:key')
  if (!isSafeInt(rec.round, 1, MAX_ROUND)) fail(`voucher round must be an integer 1..${MAX_ROUND}`)
  if (!isSafeInt(rec.cumulative, 0, Number.MAX_SAFE_INTEGER)) fail('voucher cumulative must be a non-negative integer')
  if (!isSafeInt(rec.units, 0, Number.MAX_SAFE_INTEGER)) fail('voucher units must be a non-negative integer')
  if (!isSafeInt(rec.time, 0, Number.MAX_SAFE_INTEGER)) fail('voucher time must be a non-negative integer (ms)')
  return unsigned(rec as unknown as Voucher)
}

/** Validates the shape of an untrusted signed voucher (not its signature). */
export function parseSignedVoucher (value: unknown): SignedVoucher {
  const rec = expectRecord(value, 'signed voucher', [...VOUCHER_FIELDS, 'sig'], [], fail)
  const { sig, ...rest } = rec
  if (!(sig instanceof Uint8Array) || sig.length !== 64) fail('voucher sig must be 64 bytes')
  return { ...parseVoucher(rest), sig }
}

/** The bytes the payer signs: domain tag ‖ dag-cbor of the nine fields. */
export function voucherBytes (voucher: Voucher): Uint8Array {
  return concatBytes(VOUCHER_DOMAIN, encode(unsigned(voucher)))
}

const seedDids = new WeakMap<Uint8Array, Did>()

/**
 * The DID of a signing seed, cached per seed object: deriving the public key costs as much as
 * a signature, and a payer signs one voucher per round with the same seed.
 */
export function didOfSeed (seed: Uint8Array): Did {
  let did = seedDids.get(seed)
  if (did === undefined) {
    did = didFromPublicKey(generateKeyPair(seed).publicKey)
    seedDids.set(seed, did)
  }
  return did
}

/** Signs as the payer; throws TypeError when `seed` is not the payer's key. */
export function signVoucher (seed: Uint8Array, voucher: Voucher): SignedVoucher {
  const clean = parseVoucher(voucher)
  if (didOfSeed(seed) !== clean.payer) throw new TypeError('the signing key is not the payer\'s')
  return { ...clean, sig: sign(seed, voucherBytes(clean)) }
}

/** True when the signature is the named payer's over exactly these fields. */
export function verifyVoucher (signed: SignedVoucher): boolean {
  return verify(publicKeyFromDid(signed.payer), voucherBytes(signed), signed.sig)
}

export function encodeSignedVoucher (signed: SignedVoucher): Uint8Array {
  return encode({ ...unsigned(signed), sig: signed.sig })
}

/** Decodes wire bytes (size-capped) into a shape-checked signed voucher; signature unchecked. */
export function decodeSignedVoucher (bytes: Uint8Array): SignedVoucher {
  let value: unknown
  try {
    value = decode(bytes, MAX_VOUCHER_BYTES)
  } catch (err) {
    throw new VoucherError(VoucherRejection.MALFORMED, `voucher does not decode: ${(err as Error).message}`)
  }
  return parseSignedVoucher(value)
}
