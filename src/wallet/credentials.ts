/**
 * JWT verifiable credentials as the wallet sees them: a bounded, prototype-safe decoder that
 * turns untrusted JWT text into the displayed fields (it checks shape, never the signature;
 * Veramo does that), and the mapping of Veramo's verification errors to a status and a
 * sentence. Pure functions, no Veramo import, so they are cheap to test and to load.
 */
import { InvalidInputError } from '../core/errors.ts'
import { fromBase64url, toHex } from '../core/bytes.ts'
import { sha256 } from '../core/codec.ts'
import { shortDid } from '../core/identity.ts'
import { fromUtf8, utf8 } from './cipher.ts'
import type { CredentialCheck, CredentialStatus, StoredCredential } from './types.ts'

/** A JWT VC with a few claims is ~1 KB; this leaves room while keeping a paste bomb cheap. */
export const MAX_JWT_CHARS = 64 * 1024
/** Type names end up in the UI and in `type` arrays; keep them short and plain. */
const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export function assertCredentialType (type: string): void {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type) || type === 'VerifiableCredential') {
    throw new InvalidInputError('a credential type is a name like "AllianceMembership" (letters, digits, . _ -)', 'ERR_BAD_CREDENTIAL_TYPE')
  }
}

function malformed (why: string): InvalidInputError {
  return new InvalidInputError(why, 'ERR_MALFORMED_CREDENTIAL')
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function decodePart (part: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(fromUtf8(fromBase64url(part)))
  } catch {
    throw malformed(`the ${what} is not base64url JSON`)
  }
  if (!isRecord(value)) throw malformed(`the ${what} is not a JSON object`)
  return value
}

/** Copies own data keys except those that could reach a prototype when assigned elsewhere. */
function safeClaims (subject: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(subject)) {
    if (k === 'id' || FORBIDDEN_KEYS.has(k)) continue
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return out
}

function secondsToIso (value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(`${what} is not a number of seconds`)
  const date = new Date(value * 1000)
  if (Number.isNaN(date.getTime())) throw malformed(`${what} is out of range`)
  return date.toISOString()
}

export function credentialId (jwt: string): string {
  return toHex(sha256(utf8(jwt)))
}

/**
 * Decodes a JWT VC (did-jwt-vc layout: iss, sub, nbf, exp, vc{type, credentialSubject}) into
 * the stored form. Throws InvalidInputError ERR_MALFORMED_CREDENTIAL; does not verify.
 */
export function decodeCredentialJwt (jwt: unknown): StoredCredential {
  if (typeof jwt !== 'string') throw malformed('a credential is JWT text')
  if (jwt.length > MAX_JWT_CHARS) throw malformed(`the credential is over ${MAX_JWT_CHARS} characters`)
  if (!JWT_PATTERN.test(jwt)) throw malformed('this is not a JWT (three base64url parts separated by dots)')
  const [h, p] = jwt.split('.')
  const header = decodePart(h, 'header')
  if (typeof header.alg !== 'string') throw malformed('the header names no algorithm')
  const payload = decodePart(p, 'payload')
  const vc = payload.vc
  if (!isRecord(vc)) throw malformed('the payload holds no verifiable credential ("vc")')
  if (typeof payload.iss !== 'string' || !payload.iss.startsWith('did:')) throw malformed('the issuer ("iss") is not a DID')
  const types = vc.type
  if (!Array.isArray(types) || !types.every((t) => typeof t === 'string') || !types.includes('VerifiableCredential')) {
    throw malformed('the credential type list lacks "VerifiableCredential"')
  }
  const subject = vc.credentialSubject
  if (!isRecord(subject)) throw malformed('the credential has no subject')
  const subjectId = typeof payload.sub === 'string' ? payload.sub : subject.id
  if (typeof subjectId !== 'string' || subjectId === '') throw malformed('the credential subject has no id')
  const issuedAt = secondsToIso(payload.nbf, 'nbf') ?? secondsToIso(payload.iat, 'iat')
  if (issuedAt === undefined) throw malformed('the credential has no issuance date (nbf or iat)')
  const expiresAt = secondsToIso(payload.exp, 'exp')
  const type = (types as string[]).find((t) => t !== 'VerifiableCredential') ?? 'VerifiableCredential'
  return {
    id: credentialId(jwt),
    jwt,
    issuer: payload.iss,
    subject: subjectId,
    type,
    issuedAt,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    claims: safeClaims(subject)
  }
}

/** What Veramo's verifyCredential reports when it fails. */
export interface VerifyFailure {
  readonly message?: string
  readonly errorCode?: string
}

function statusOf (failure: VerifyFailure): CredentialStatus {
  const code = failure.errorCode ?? ''
  const message = failure.message ?? ''
  // did-jwt checks the signature before any date, so a forged and expired JWT reads 'tampered'
  if (code === 'invalid_signature' || code === 'no_suitable_keys') return 'tampered'
  if (message.includes('JWT has expired')) return 'expired'
  if (message.includes('not valid before nbf') || message.includes('issued in the future')) return 'not-yet-valid'
  return 'malformed'
}

export function describeCheck (status: CredentialStatus, decoded: StoredCredential | undefined, detail?: string): CredentialCheck {
  const facts = decoded === undefined
    ? {}
    : { issuer: decoded.issuer, subject: decoded.subject, type: decoded.type, ...(decoded.expiresAt !== undefined ? { expiresAt: decoded.expiresAt } : {}) }
  const who = decoded === undefined ? 'its issuer' : shortDid(decoded.issuer)
  let reason: string
  switch (status) {
    case 'valid':
      reason = `Signed by ${who}, and in force${decoded?.expiresAt !== undefined ? ` until ${decoded.expiresAt.slice(0, 10)}` : ''}.`
      break
    case 'tampered':
      reason = `The signature does not match: the credential was changed after ${who} signed it, or ${who} never signed it.`
      break
    case 'expired':
      reason = `The signature is fine but the credential expired${decoded?.expiresAt !== undefined ? ` on ${decoded.expiresAt.slice(0, 10)}` : ''}.`
      break
    case 'not-yet-valid':
      reason = `The signature is fine but the credential is not valid yet${decoded !== undefined ? ` (from ${decoded.issuedAt.slice(0, 10)})` : ''}; check this device's clock.`
      break
    case 'malformed':
      reason = `This is not a credential that can be checked${detail !== undefined ? `: ${detail}` : ''}.`
      break
  }
  return { status, ...facts, reason }
}

export function checkFromFailure (failure: VerifyFailure, decoded: StoredCredential): CredentialCheck {
  const status = statusOf(failure)
  return describeCheck(status, decoded, status === 'malformed' ? (failure.message ?? 'the verifier rejected it') : undefined)
}
