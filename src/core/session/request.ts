/**
 * The payer's signed session request `{ v, offer, rev, provider, payer, nonce, time }`: the
 * first message of a session (white paper 5.6.1 step 1). Its CID is the session id, so a
 * session is bound to one payer, one provider and one offer revision, and nobody but the payer
 * can open one in the payer's name. Signed bytes carry a domain tag so that a request signature
 * can never pass as a voucher or block signature.
 */
import { cidOf, decode, encode } from '../codec.ts'
import { concatBytes } from '../bytes.ts'
import { publicKeyFromDid, verify, sign } from '../identity.ts'
import type { Did } from '../identity.ts'
import { expectRecord, isBoundedString, isDidString, isSafeInt } from '../contracts/guards.ts'
import { SessionError, SessionRejection } from './errors.ts'
import type { OfferId, SessionId } from './terms.ts'
import { didOfSeed } from './voucher.ts'

export const REQUEST_DOMAIN = new TextEncoder().encode('alliance/session-request/1\n')
/** A signed request is ~300 bytes; anything much larger is not one. */
export const MAX_REQUEST_BYTES = 1024

export interface SessionRequest {
  readonly v: 1
  readonly offer: OfferId
  readonly rev: number
  readonly provider: Did
  readonly payer: Did
  /** Payer-chosen, makes two sessions of one payer on one offer distinct. */
  readonly nonce: number
  /** Milliseconds since the Unix epoch, payer's clock. */
  readonly time: number
}

export interface SignedSessionRequest extends SessionRequest {
  readonly sig: Uint8Array
}

const REQUEST_FIELDS = ['v', 'offer', 'rev', 'provider', 'payer', 'nonce', 'time'] as const

function fail (message: string): never {
  throw new SessionError(SessionRejection.REQUEST_MALFORMED, message)
}

function unsigned (r: SessionRequest): SessionRequest {
  return { v: 1, offer: r.offer, rev: r.rev, provider: r.provider, payer: r.payer, nonce: r.nonce, time: r.time }
}

/** Validates an untrusted request (signed or not) and returns a clean copy. */
export function parseSessionRequest (value: unknown): SessionRequest {
  const rec = expectRecord(value, 'session request', REQUEST_FIELDS, [], fail)
  if (rec.v !== 1) fail('session request version must be 1')
  if (!isBoundedString(rec.offer, 128)) fail('session request offer must be an offer id')
  if (!isSafeInt(rec.rev, 0, Number.MAX_SAFE_INTEGER)) fail('session request rev must be a non-negative integer')
  if (!isDidString(rec.provider)) fail('session request provider must be an Ed25519 did:key')
  if (!isDidString(rec.payer)) fail('session request payer must be an Ed25519 did:key')
  if (rec.payer === rec.provider) fail('payer and provider must differ')
  if (!isSafeInt(rec.nonce, 0, Number.MAX_SAFE_INTEGER)) fail('session request nonce must be a non-negative integer')
  if (!isSafeInt(rec.time, 0, Number.MAX_SAFE_INTEGER)) fail('session request time must be a non-negative integer (ms)')
  return rec as unknown as SessionRequest
}

export function parseSignedSessionRequest (value: unknown): SignedSessionRequest {
  const rec = expectRecord(value, 'signed session request', [...REQUEST_FIELDS, 'sig'], [], fail)
  const { sig, ...rest } = rec
  if (!(sig instanceof Uint8Array) || sig.length !== 64) fail('session request sig must be 64 bytes')
  return { ...parseSessionRequest(rest), sig }
}

export function requestBytes (request: SessionRequest): Uint8Array {
  return concatBytes(REQUEST_DOMAIN, encode(unsigned(request)))
}

/** Signs as the payer; `seed` must be the payer's key. */
export function signSessionRequest (seed: Uint8Array, request: SessionRequest): SignedSessionRequest {
  const clean = parseSessionRequest(request)
  if (didOfSeed(seed) !== clean.payer) throw new TypeError('the signing key is not the payer\'s')
  return { ...clean, sig: sign(seed, requestBytes(clean)) }
}

export function verifySessionRequest (signed: SignedSessionRequest): boolean {
  return verify(publicKeyFromDid(signed.payer), requestBytes(signed), signed.sig)
}

/** Parses and verifies; throws SessionError (MALFORMED or FORGED). */
export function checkSignedSessionRequest (value: unknown): SignedSessionRequest {
  const signed = parseSignedSessionRequest(value)
  if (!verifySessionRequest(signed)) throw new SessionError(SessionRejection.REQUEST_FORGED, 'session request is not signed by its payer')
  return signed
}

/** The session id: CID of the signed request (fields + sig), base32. */
export function sessionIdOf (signed: SignedSessionRequest): SessionId {
  return cidOf({ ...unsigned(signed), sig: signed.sig }).toString() as SessionId
}

export function encodeSignedSessionRequest (signed: SignedSessionRequest): Uint8Array {
  return encode({ ...unsigned(signed), sig: signed.sig })
}

export function decodeSignedSessionRequest (bytes: Uint8Array): SignedSessionRequest {
  return parseSignedSessionRequest(decode(bytes, MAX_REQUEST_BYTES))
}
