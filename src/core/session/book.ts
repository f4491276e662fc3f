/**
 * Voucher sequence rules (SPEC V1–V9), shared by the provider's per-session `VoucherBook` and
 * the on-ledger settlement contract. A voucher is accepted only when it belongs to the
 * session, is newer (round strictly greater), never rolls back credits or units, never charges
 * more than `round × price`, and is signed by the payer. Cheap checks run before the signature
 * so that a flood of stale vouchers costs no Ed25519 verification.
 */
import { VoucherError, VoucherRejection } from './errors.ts'
import { parseSignedVoucher, verifyVoucher } from './voucher.ts'
import type { SignedVoucher } from './voucher.ts'
import type { SessionId, SessionTerms, VoucherCursor } from './terms.ts'
import type { Did } from '../identity.ts'
import { safeMul } from '../contracts/guards.ts'

/** What binds a voucher: the session id, its payer and the terms (offer, provider, price). */
export interface VoucherScope {
  readonly session: SessionId
  readonly payer: Did
  readonly terms: SessionTerms
}

export interface VoucherStepOptions {
  /**
   * The provider's rule: a voucher for round r must commit exactly `r × price` (the whole of
   * round r, white paper step 4). The ledger does not require it (it pays what was signed).
   */
  readonly requireFullRound?: boolean
}

/**
 * Checks `voucher` as the successor of `prev` (null: first voucher of the session) and
 * returns the new cursor; throws VoucherError with the first rule it breaks.
 */
export function checkVoucherStep (prev: VoucherCursor | null, voucher: SignedVoucher, scope: VoucherScope, options: VoucherStepOptions = {}): VoucherCursor {
  const { terms } = scope
  // V2: bound to one session, offer, payer and provider
  if (voucher.session !== scope.session || voucher.offer !== terms.offer || voucher.payer !== scope.payer || voucher.provider !== terms.provider) {
    const what = voucher.session !== scope.session ? 'session' : voucher.offer !== terms.offer ? 'offer' : voucher.payer !== scope.payer ? 'payer' : 'provider'
    throw new VoucherError(VoucherRejection.WRONG_SESSION, `voucher is for another ${what}`)
  }
  // V3: strictly newer round
  if (prev !== null && voucher.round <= prev.round) {
    throw new VoucherError(VoucherRejection.REPLAY, `voucher for round ${voucher.round} is not newer than round ${prev.round}`)
  }
  // V4: credits and units never go back
  if (prev !== null && voucher.cumulative < prev.cumulative) {
    throw new VoucherError(VoucherRejection.ROLLBACK, `cumulative ${voucher.cumulative} is below the ${prev.cumulative} already promised`)
  }
  if (prev !== null && voucher.units < prev.units) {
    throw new VoucherError(VoucherRejection.ROLLBACK, `units ${voucher.units} are below the ${prev.units} already acknowledged`)
  }
  // V5: never more than round × price
  const cap = safeMul(voucher.round, terms.price)
  if (voucher.cumulative > cap) {
    throw new VoucherError(VoucherRejection.OVERCHARGE, `cumulative ${voucher.cumulative} exceeds ${voucher.round} rounds × ${terms.price} = ${cap}`)
  }
  // V6: cannot acknowledge more units than the rounds paid for contain
  const unitCap = safeMul(voucher.round, terms.roundSize)
  if (voucher.units > unitCap) {
    throw new VoucherError(VoucherRejection.UNITS, `units ${voucher.units} exceed ${voucher.round} rounds × ${terms.roundSize}`)
  }
  // V7 (provider only): the whole round is paid for
  if (options.requireFullRound === true && voucher.cumulative < cap) {
    throw new VoucherError(VoucherRejection.UNDERPAID, `cumulative ${voucher.cumulative} does not pay ${voucher.round} rounds × ${terms.price} = ${cap}`)
  }
  // V1: signed by the payer named in the voucher
  if (!verifyVoucher(voucher)) {
    throw new VoucherError(VoucherRejection.FORGED, 'voucher signature is not the payer\'s')
  }
  return { round: voucher.round, cumulative: voucher.cumulative, units: voucher.units }
}

export type AcceptResult =
  | { readonly ok: true, readonly voucher: SignedVoucher }
  | { readonly ok: false, readonly code: VoucherError['code'], readonly message: string }

/**
 * The provider's book of one session's vouchers: keeps the newest accepted one (the only one
 * worth settling, since it carries the cumulative amount). Not shared between sessions.
 */
export class VoucherBook {
  readonly scope: VoucherScope
  readonly options: VoucherStepOptions
  #newest: SignedVoucher | null = null
  #cursor: VoucherCursor | null = null

  constructor (scope: VoucherScope, options: VoucherStepOptions = { requireFullRound: true }) {
    this.scope = scope
    this.options = options
  }

  get newest (): SignedVoucher | null { return this.#newest }
  get cursor (): VoucherCursor | null { return this.#cursor }

  /** Validates an untrusted voucher and makes it the newest; throws VoucherError. */
  accept (value: unknown): SignedVoucher {
    const voucher = parseSignedVoucher(value)
    this.#cursor = checkVoucherStep(this.#cursor, voucher, this.scope, this.options)
    this.#newest = voucher
    return voucher
  }

  /** `accept` that reports a rejection instead of throwing. */
  tryAccept (value: unknown): AcceptResult {
    try {
      return { ok: true, voucher: this.accept(value) }
    } catch (err) {
      if (err instanceof VoucherError) return { ok: false, code: err.code, message: err.message }
      throw err
    }
  }
}
