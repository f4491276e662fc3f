/**
 * The ledger (DESIGN.md "Ledger", SPEC.md "Ledger"): blocks with proof-of-work and two
 * approvals, cumulative-weight confirmation with cross-chain approvals, equivocation
 * evidence, and a deterministic state machine. Pure: no I/O, no clock, no timers.
 */
export * from './types.ts'
export * from './errors.ts'
export { GENESIS_LIMITS, ALLIANCE_DEFAULTS, parseGenesis, encodeGenesis, decodeGenesis, genesisId, quorumOf, foundGenesis, forgetsClosed, STATE_RULES_NEW } from './genesis.ts'
export type { FoundingInput } from './genesis.ts'
export { quorumOfSize, proposalKey } from './epochs.ts'
export type { Epoch, ValidatorAction, ValidatorChange, ValidatorVoteTx } from './epochs.ts'
export { leadingZeroBits, powDigest, checkPow, mine, mineSync, POW_HEADER_BYTES, MAX_NONCE } from './pow.ts'
export type { MineResult } from './pow.ts'
export {
  BLOCK_LIMITS, BLOCK_SIG_DOMAIN, createLedgerContext, ledgerContextOf, blockIdOf, encodeBlock, powHeaderOf,
  signingBytes, signingBytesOfChecked, validateBlockBytes, prepareBlock, sealBlock, createBlock, createBlockAsync
} from './block.ts'
export type { LedgerContext, ValidatedBlock, ValidateOptions, BlockInput, PowFn, AsyncPowFn, PreparedBlock } from './block.ts'
export {
  TxRegistry, createTxRegistry, defaultTxRegistry, registerTxType, BUILTIN_TX_TYPES, NS, MAX_AMOUNT, MAX_RECEIVE_CLAIMS, MAX_DEPOSIT_MS,
  memberOf, balanceOf, claimOf, escrowOf, anchorOf, requireMember, debit, credit, leaveClaim, admitFounder, isFounder,
  expectTxId, blockOfTx, claimTxId, confirmedDep, escrowConflict,
  memberAdmit, memberJoin, transfer, receive, depositLock, depositRefund, credentialAnchor, credentialRevoke
} from './tx.ts'
export type {
  TxTypeDef, TxCheckContext, TxApplyContext, TxOutcome, TxDepsContext, DepTx, MemberRecord, ClaimRecord, EscrowRecord, AnchorRecord,
  MemberAdmitTx, MemberJoinTx, TransferTx, ReceiveTx, DepositLockTx, DepositRefundTx, CredentialAnchorTx
} from './tx.ts'
export { LedgerState } from './state.ts'
export type { StateReader, StateView, StateEntries, UndoEntry } from './state.ts'
export { LedgerEngine, parseTxId, txIdOf, quotaGapMs, DEFAULT_MAX_ORPHANS, DEFAULT_MAX_ORPHAN_BYTES, MAX_STRANGER_ORPHANS, MAX_STRANGER_ORPHAN_BYTES } from './engine.ts'
export type {
  LedgerEngineOptions, AddOptions, AddResult, BatchResult, StoredBlockRef, ParkedOrphan, BlockInfo, TxResult,
  Equivocation, DoubleVote, LedgerStats, BlockTemplate, BlockRejectReason, LedgerSnapshot, SnapshotBlock, ValidatorProposal
} from './engine-types.ts'
export { encodeSnapshot, decodeSnapshot, SNAPSHOT_MAX_BYTES } from './snapshot.ts'
export {
  CHECKPOINT_SIG_DOMAIN, CHECKPOINT_MAX_BYTES, CheckpointError, CheckpointErrorCode, checkpointSigningBytes, signCheckpoint, quorumOfSet,
  parseCheckpointBody, verifyEpochChain, checkpointWeight, verifyCheckpointPackage, verifyCheckpointState, encodeCheckpointPackage, decodeCheckpointPackage
} from './checkpoint.ts'
export type { CheckpointBody, CheckpointSig, CutHead, SignedCheckpoint, CheckpointPackage } from './checkpoint.ts'
export { checkpointBodyOf, checkpointPackageOf, engineState, joinFromCheckpoint, joinedFrom, isRetained } from './checkpoint-engine.ts'
export { checkpointCutAt, latestCutTime, isCutTime, packageOfCut } from './checkpoint-cut.ts'
export type { CheckpointCut } from './checkpoint-cut.ts'
export type { JoinOptions } from './checkpoint-engine.ts'
