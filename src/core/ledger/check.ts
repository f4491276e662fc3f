/**
 * Boundary checks for untrusted decoded values. Each helper throws a LedgerError with the
 * given code (ERR_MALFORMED by default) so that callers state which rule a value broke.
 * Objects must be plain, with exactly the expected keys (prototype keys are never read).
 */
import { isDid } from '../identity.ts'
import type { Did } from '../identity.ts'
import { CID } from '../codec.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import type { BlockId } from './types.ts'

type Code = typeof LedgerErrorCode[keyof typeof LedgerErrorCode]
const MALFORMED = LedgerErrorCode.MALFORMED

/** dag-cbor multicodec and sha2-256 multihash codes that a block id must use. */
const DAG_CBOR = 0x71
const SHA2_256 = 0x12

export function isRecord (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** A plain object with exactly `required` keys plus any of `optional`. */
export function expectRecord (value: unknown, what: string, required: readonly string[], optional: readonly string[] = [], code: Code = MALFORMED): Record<string, unknown> {
  if (!isRecord(value)) fail(code, `${what} must be a map`)
  const keys = Object.keys(value)
  for (const k of required) if (!Object.hasOwn(value, k)) fail(code, `${what} lacks "${k}"`)
  for (const k of keys) {
    if (!required.includes(k) && !optional.includes(k)) fail(code, `${what} has an unexpected field "${k.slice(0, 32)}"`)
  }
  return value
}

export function expectInt (value: unknown, what: string, min: number, max: number, code: Code = MALFORMED): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(code, `${what} must be an integer`)
  if (value < min || value > max) fail(code, `${what} must be in [${min}, ${max}], got ${value}`)
  return value
}

export function expectString (value: unknown, what: string, maxLength: number, code: Code = MALFORMED, pattern?: RegExp): string {
  if (typeof value !== 'string') fail(code, `${what} must be a string`)
  if (value.length === 0 || value.length > maxLength) fail(code, `${what} must have 1..${maxLength} characters`)
  if (pattern != null && !pattern.test(value)) fail(code, `${what} has a bad format`)
  return value
}

/**
 * Strings that passed a pure check already (P10). Every block names its issuer and three
 * block ids (prev, two parents) that nearly always passed the same check a moment ago: the
 * base58 and CID parses were a fifth of a block's stateless check (issue 10's profile). A
 * string is remembered only once it passed, so a miss costs the full check and a hit gives
 * exactly its answer; bounded by clearing when full.
 */
class PassedStrings {
  private readonly set = new Set<string>()
  constructor (private readonly max: number) {}
  has (s: string): boolean { return this.set.has(s) }
  add (s: string): void {
    if (this.set.size >= this.max) this.set.clear()
    this.set.add(s)
  }
}

const passedDids = new PassedStrings(1024)
const passedBlockIds = new PassedStrings(8192)

/** Remembers ids this thread computed itself (`blockIdOf`): canonical by construction. */
export function notePassedBlockId (id: string): void {
  passedBlockIds.add(id)
}

export function expectDid (value: unknown, what: string, code: Code = MALFORMED): Did {
  if (typeof value !== 'string' || value.length > 128) fail(code, `${what} must be an Ed25519 did:key`)
  if (passedDids.has(value)) return value as Did
  if (!isDid(value)) fail(code, `${what} must be an Ed25519 did:key`)
  passedDids.add(value)
  return value
}

/** A canonical CIDv1 string (base32, dag-cbor, sha2-256), as block ids are written. */
export function expectBlockId (value: unknown, what: string, code: Code = MALFORMED): BlockId {
  if (typeof value !== 'string' || value.length > 100) fail(code, `${what} must be a CID string`)
  if (passedBlockIds.has(value)) return value as BlockId
  let cid: CID
  try {
    cid = CID.parse(value)
  } catch {
    fail(code, `${what} is not a CID`)
  }
  if (cid.version !== 1 || cid.code !== DAG_CBOR || cid.multihash.code !== SHA2_256 || cid.toString() !== value) {
    fail(code, `${what} must be a canonical CIDv1 dag-cbor sha2-256 string`)
  }
  passedBlockIds.add(value)
  return value as BlockId
}

/** Lower-case hex of a sha-256 digest: how credential hashes are written. */
export const HASH_HEX = /^[0-9a-f]{64}$/
/** Chain names: short lower-case identifiers. */
export const CHAIN_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/
