/**
 * Ledger error codes. Every rejection of a block or transaction carries one of these stable
 * codes (SPEC.md, Ledger, L-rules cite them); the message is for people and may change.
 */
import { AllianceError } from '../errors.ts'

export const LedgerErrorCode = {
  /** Bytes that do not decode, or a value of the wrong shape or type. */
  MALFORMED: 'ERR_MALFORMED',
  /** A block or transaction list over its size limit. */
  TOO_LARGE: 'ERR_TOO_LARGE',
  /** The block's signature does not verify against its issuer's key. */
  BAD_SIGNATURE: 'ERR_BAD_SIGNATURE',
  /** Proof-of-work missing, or the block claims another difficulty than the alliance's. */
  BAD_POW: 'ERR_BAD_POW',
  /** The block names another alliance (genesis id). */
  WRONG_ALLIANCE: 'ERR_WRONG_ALLIANCE',
  /** The block's chain is not one of the genesis chains, or not its founder's chain. */
  UNKNOWN_CHAIN: 'ERR_UNKNOWN_CHAIN',
  /** `seq` is not `prev.seq + 1`. */
  SEQ_GAP: 'ERR_SEQ_GAP',
  /** `prev` is not the issuer's own earlier block on the same chain (or null at seq 1). */
  BAD_PREV: 'ERR_BAD_PREV',
  /** A parent or `prev` is not known yet: the block is parked as an orphan, not rejected. */
  MISSING_PARENTS: 'ERR_MISSING_PARENTS',
  /** Parents that are duplicated, not two, or newer than the block. */
  BAD_PARENTS: 'ERR_BAD_PARENTS',
  /** Block time beyond `now + maxClockSkewMs`. Not permanent: the block may be offered again. */
  FUTURE_TIME: 'ERR_FUTURE_TIME',
  /** A transaction type that is not registered. */
  UNKNOWN_TX: 'ERR_UNKNOWN_TX',
  /** A transaction of the wrong shape, or (at replay) not valid against the state. */
  BAD_TX: 'ERR_BAD_TX',
  /** A transfer over the payer's balance at replay time (the transaction is rejected). */
  OVERSPEND: 'ERR_OVERSPEND',
  /** The block is already known (stored or parked). */
  DUPLICATE: 'ERR_DUPLICATE',
  /** The issuer is neither a validator nor admitted by the validators (L39): not stored. */
  NOT_MEMBER: 'ERR_NOT_MEMBER',
  /** The issuer's block comes too soon after its previous one for its size (L40). */
  QUOTA: 'ERR_QUOTA',
  /** A parent is older than `maxParentAgeMs` before the block: below max depth (L41). */
  STALE_PARENTS: 'ERR_STALE_PARENTS'
} as const

export type LedgerErrorCode = typeof LedgerErrorCode[keyof typeof LedgerErrorCode]

const CODES: ReadonlySet<string> = new Set(Object.values(LedgerErrorCode))

export function isLedgerErrorCode (value: unknown): value is LedgerErrorCode {
  return typeof value === 'string' && CODES.has(value)
}

export class LedgerError extends AllianceError {
  declare readonly code: LedgerErrorCode
  constructor (code: LedgerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

export function isLedgerError (err: unknown): err is LedgerError {
  return err instanceof LedgerError
}

/** Shorthand used by validators: `fail('ERR_BAD_TX', 'amount must be positive')`. */
export function fail (code: LedgerErrorCode, message: string): never {
  throw new LedgerError(code, message)
}
