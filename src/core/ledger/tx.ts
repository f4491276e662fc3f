/**
 * Transactions: a registry of transaction types, and the built-in ones (`member.admit`,
 * `member.join`, `validator.vote`, `transfer`, `receive`, `deposit.lock`, `deposit.refund`,
 * `credential.anchor`, `credential.revoke`). A type gives pure functions: `decode` checks an untrusted
 * transaction's shape when its block is validated (state-free, so every peer accepts or
 * rejects the block alike); `crossChain` says whether it needs approvals from another chain
 * (white paper 5.6.2); `deps` names the transactions it reads (its block confirms only after
 * theirs are decided); `conflicts` names the objects it closes (only one confirmed transaction
 * may close each); `apply` changes the state.
 *
 * The accounting is a block lattice (SPEC L26): an account's balance is written only by its
 * own chain. A payment debits the payer and leaves a *claim*; the recipient's chain takes it
 * with `receive`. So credits between accounts commute, and no order chosen after confirmation
 * can change a balance. Every peer of an alliance must run the same registry.
 *
 * The parts: tx-registry.ts (types and the registry), tx-records.ts (the state the built-in
 * types keep), tx-fields.ts (shared field checks), tx-membership.ts, tx-credits.ts and
 * tx-credentials.ts (the built-in types). This module puts the default registry together.
 */
import type { Tx } from './types.ts'
import { TxRegistry } from './tx-registry.ts'
import type { TxTypeDef } from './tx-registry.ts'
import { memberAdmit, memberJoin, validatorVote } from './tx-membership.ts'
import { depositLock, depositRefund, receive, transfer } from './tx-credits.ts'
import { credentialAnchor, credentialRevoke } from './tx-credentials.ts'

export { TX_TYPE_PATTERN, TxRegistry } from './tx-registry.ts'
export type { TxCheckContext, TxOutcome, DepTx, TxDepsContext, TxApplyContext, TxTypeDef } from './tx-registry.ts'
export {
  NS, memberOf, balanceOf, claimOf, escrowOf, anchorOf, requireMember, debit, credit, leaveClaim, admitFounder, isFounder
} from './tx-records.ts'
export type { MemberRecord, ClaimRecord, EscrowRecord, AnchorRecord } from './tx-records.ts'
export { MAX_RECEIVE_CLAIMS, expectTxId, blockOfTx, confirmedDep, claimTxId } from './tx-fields.ts'
export { memberAdmit, memberJoin, validatorVote } from './tx-membership.ts'
export type { MemberAdmitTx, MemberJoinTx } from './tx-membership.ts'
export { MAX_AMOUNT, MAX_DEPOSIT_MS, transfer, receive, depositLock, depositRefund, escrowConflict, closeEscrow } from './tx-credits.ts'
export type { TransferTx, ReceiveTx, DepositLockTx, DepositRefundTx } from './tx-credits.ts'
export { forgetsClosed } from './genesis.ts'
export { credentialAnchor, credentialRevoke } from './tx-credentials.ts'
export type { CredentialAnchorTx } from './tx-credentials.ts'

export const BUILTIN_TX_TYPES: readonly TxTypeDef[] = [
  memberAdmit, memberJoin, validatorVote, transfer, receive, depositLock, depositRefund, credentialAnchor, credentialRevoke
] as unknown as readonly TxTypeDef[]

/** A registry with the built-in types and `extra` ones (e.g. the market's). */
export function createTxRegistry (extra: readonly TxTypeDef[] = []): TxRegistry {
  const r = new TxRegistry()
  for (const def of BUILTIN_TX_TYPES) r.register(def)
  for (const def of extra) r.register(def)
  return r
}

/**
 * The registry engines use unless given another. Modules that add transaction types call
 * `registerTxType` once at start-up, before any engine validates a block.
 */
export const defaultTxRegistry: TxRegistry = createTxRegistry()

export function registerTxType<T extends Tx> (def: TxTypeDef<T>): void {
  defaultTxRegistry.register(def)
}