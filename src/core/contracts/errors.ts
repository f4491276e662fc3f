/**
 * Typed rejections of the contract layer: rights policies, buyer checks, settlement and
 * ratings. Codes are stable (tests, UI and wire rejections use them); messages are for people.
 */
import { AllianceError } from '../errors.ts'

export const ContractRejection = {
  /** The policy is not a map of the expected fields. */
  POLICY_SHAPE: 'ERR_POLICY_SHAPE',
  /** `mayBuy` is neither `{ anyone: true }` nor `{ credentialType, issuers? }`. */
  POLICY_MAY_BUY: 'ERR_POLICY_MAY_BUY',
  /** A share has a bad DID or its basis points are not an integer in 1..10000. */
  POLICY_SHARE: 'ERR_POLICY_SHARE',
  /** Shares do not sum to 10000 basis points (100 %). */
  POLICY_SHARES_SUM: 'ERR_POLICY_SHARES_SUM',
  /** The same DID holds two shares. */
  POLICY_SHARE_DUPLICATE: 'ERR_POLICY_SHARE_DUPLICATE',
  /** `refund` is not one of the known rules. */
  POLICY_REFUND: 'ERR_POLICY_REFUND',
  /** A `session.settle` transaction of the wrong shape. */
  SETTLE_SHAPE: 'ERR_SETTLE_SHAPE',
  /** Only the session's provider may post its vouchers. */
  SETTLE_NOT_PROVIDER: 'ERR_SETTLE_NOT_PROVIDER',
  /** The first settlement of a session must carry the payer's signed session request. */
  SETTLE_NO_REQUEST: 'ERR_SETTLE_NO_REQUEST',
  /** The carried session request does not verify or does not match the voucher / offer. */
  SETTLE_BAD_REQUEST: 'ERR_SETTLE_BAD_REQUEST',
  /** The offer (or its revision) named by the session does not exist on the ledger. */
  SETTLE_UNKNOWN_OFFER: 'ERR_SETTLE_UNKNOWN_OFFER',
  /** The settlement names no confirmed `deposit.lock` (C9). */
  SETTLE_NO_DEPOSIT: 'ERR_SETTLE_NO_DEPOSIT',
  /** The deposit is another payer's, provider's or session's (C9). */
  SETTLE_FOREIGN_DEPOSIT: 'ERR_SETTLE_FOREIGN_DEPOSIT',
  /** The deposit was already closed by a settlement or a refund (C9). */
  SETTLE_DEPOSIT_CLOSED: 'ERR_SETTLE_DEPOSIT_CLOSED',
  /** The settlement's block time is after the deposit's deadline (C9). */
  SETTLE_DEPOSIT_EXPIRED: 'ERR_SETTLE_DEPOSIT_EXPIRED',
  /** The settlement's payerChain is not the deposit's chain (C12). */
  SETTLE_PAYER_CHAIN: 'ERR_SETTLE_PAYER_CHAIN',
  /** The session was closed by an earlier settlement. */
  SESSION_CLOSED: 'ERR_SESSION_CLOSED',
  /** A `rate` transaction of the wrong shape. */
  RATE_SHAPE: 'ERR_RATE_SHAPE',
  /** The score is not an integer 1..5. */
  RATE_SCORE: 'ERR_RATE_SCORE',
  /** The rating names no confirmed settlement of that session (R3). */
  RATE_NO_SETTLEMENT: 'ERR_RATE_NO_SETTLEMENT',
  /** No settled session with that id on the ledger. */
  RATE_UNKNOWN_SESSION: 'ERR_RATE_UNKNOWN_SESSION',
  /** The issuer is neither the payer nor the provider of the session. */
  RATE_NOT_PARTY: 'ERR_RATE_NOT_PARTY',
  /** This side already rated this session. */
  RATE_DUPLICATE: 'ERR_RATE_DUPLICATE'
} as const
export type ContractRejectionCode = typeof ContractRejection[keyof typeof ContractRejection]

export class ContractError extends AllianceError {
  declare readonly code: ContractRejectionCode
  constructor (code: ContractRejectionCode, message: string) {
    super(code, message)
  }
}

export function contractFail (code: ContractRejectionCode): (message: string) => never {
  return (message: string) => { throw new ContractError(code, message) }
}
