/**
 * Typed rejections of the session layer: vouchers (SPEC V1–V10) and session requests and
 * events. Codes are stable and travel on the wire as rejection reasons; messages are for people.
 */
import { AllianceError } from '../errors.ts'

export const VoucherRejection = {
  /** Not a voucher: wrong shape, types or ranges, or over the size limit. */
  MALFORMED: 'ERR_VOUCHER_MALFORMED',
  /** Same round as, or an older round than, a voucher already accepted. */
  REPLAY: 'ERR_VOUCHER_REPLAY',
  /** Cumulative credits or units below those of a voucher already accepted. */
  ROLLBACK: 'ERR_VOUCHER_ROLLBACK',
  /** The signature does not verify against the payer named in the voucher. */
  FORGED: 'ERR_VOUCHER_FORGED',
  /** Bound to another session, offer, payer or provider. */
  WRONG_SESSION: 'ERR_VOUCHER_WRONG_SESSION',
  /** Commits more than `round × price`. */
  OVERCHARGE: 'ERR_VOUCHER_OVERCHARGE',
  /** Commits less than `round × price` where the provider requires the whole round paid. */
  UNDERPAID: 'ERR_VOUCHER_UNDERPAID',
  /** Acknowledges more units than `round × roundSize`. */
  UNITS: 'ERR_VOUCHER_UNITS',
  /** For a round more than one ahead of the round being served. */
  AHEAD: 'ERR_VOUCHER_AHEAD'
} as const
export type VoucherRejectionCode = typeof VoucherRejection[keyof typeof VoucherRejection]

export class VoucherError extends AllianceError {
  declare readonly code: VoucherRejectionCode
  constructor (code: VoucherRejectionCode, message: string) {
    super(code, message)
  }
}

export const SessionRejection = {
  /** A session request of the wrong shape. */
  REQUEST_MALFORMED: 'ERR_SESSION_REQUEST_MALFORMED',
  /** A session request whose signature is not the payer's. */
  REQUEST_FORGED: 'ERR_SESSION_REQUEST_FORGED',
  /** An event the session machine cannot take (bad type or numbers). */
  BAD_EVENT: 'ERR_SESSION_BAD_EVENT',
  /** The session has stopped; nothing more is accepted. */
  STOPPED: 'ERR_SESSION_STOPPED'
} as const
export type SessionRejectionCode = typeof SessionRejection[keyof typeof SessionRejection]

export class SessionError extends AllianceError {
  declare readonly code: SessionRejectionCode
  constructor (code: SessionRejectionCode, message: string) {
    super(code, message)
  }
}
