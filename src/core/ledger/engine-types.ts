/**
 * Public value types of the ledger engine: what `add` returns, what queries report, and the
 * snapshot shape. Kept apart from engine.ts so that the engine file holds only the rules.
 */
import type { Did } from '../identity.ts'
import type { LedgerError, LedgerErrorCode } from './errors.ts'
import type { ValidateOptions } from './block.ts'
import type { StateEntries } from './state.ts'
import type { TxRegistry } from './tx.ts'
import type { AllianceId, BlockId, BlockStatus, LedgerValue, Tx, TxStatus } from './types.ts'

/** Why a block (and so every transaction in it) is rejected. */
export type BlockRejectReason =
  /** It lost a fork: another block of its issuer with the same prev has a quorum of validators. */
  | 'equivocation'
  /** It closes an object (a deposit) that a block with a quorum closes otherwise. */
  | 'conflict'
  /** Its `prev` is rejected: it builds on a losing branch of its issuer's account chain. */
  | 'prev-rejected'

/** Engine tuning. Defaults suit a browser tab. */
export interface LedgerEngineOptions {
  /** Transaction types; default: the module's default registry. All peers must agree. */
  readonly registry?: TxRegistry
  /** Parked orphans kept at most (oldest evicted first). Bounds memory a peer can make us use. */
  readonly maxOrphans?: number
  /** Total bytes of parked orphans kept at most. */
  readonly maxOrphanBytes?: number
}

/** How `add`/`addMany` treat their input; see ValidateOptions. */
export type AddOptions = Pick<ValidateOptions, 'now' | 'trusted' | 'signatureChecked'>

export type AddResult =
  | { readonly kind: 'inserted', readonly id: BlockId }
  /** Parked until `missing` blocks arrive (ERR_MISSING_PARENTS is not a rejection). */
  | { readonly kind: 'orphan', readonly id: BlockId, readonly code: typeof LedgerErrorCode.MISSING_PARENTS, readonly missing: readonly BlockId[] }
  | { readonly kind: 'rejected', readonly id: BlockId | null, readonly error: LedgerError }

export interface StoredBlockRef {
  readonly id: BlockId
  readonly bytes: Uint8Array
  /** The fields a store indexes, from the decoded block, so a store need not decode it again. */
  readonly issuer?: Did
  readonly seq?: number
  /** Parents and prev, without repeats. */
  readonly refs?: readonly BlockId[]
}

export interface ParkedOrphan extends StoredBlockRef {
  readonly missing: readonly BlockId[]
}

export interface BatchResult {
  /** One per input, in input order. */
  readonly results: readonly AddResult[]
  /** Blocks that entered the DAG (inputs and cascaded orphans), parents first: persist these. */
  readonly inserted: readonly StoredBlockRef[]
  /** Blocks parked as orphans by this batch: persist to survive a reload. */
  readonly parked: readonly ParkedOrphan[]
  /** Orphans that left the pool without entering the DAG (evicted, or invalid once complete). */
  readonly dropped: ReadonlyArray<{ readonly id: BlockId, readonly error?: LedgerError }>
  /** Blocks newly confirmed. */
  readonly confirmed: readonly BlockId[]
  /** Blocks newly rejected. */
  readonly rejected: readonly BlockId[]
  /**
   * Blocks that were confirmed and are not any more. Only possible when more than a third of
   * the validators approved both sides of a conflict (`doubleVotes()` names them), L25.
   */
  readonly reverted: readonly BlockId[]
}

export interface BlockInfo {
  readonly id: BlockId
  readonly issuer: Did | null
  readonly chain: string | null
  readonly seq: number
  readonly depth: number
  readonly time: number
  readonly status: BlockStatus
  readonly reason: BlockRejectReason | null
  /** Validators approving it (itself included if it is one). */
  readonly weight: number
  /** Of those, validators of another chain. */
  readonly crossChainWeight: number
  /** Validators needed (of its epoch). */
  readonly quorum: number
  /** Its validator epoch (L47). */
  readonly epoch: number
  readonly crossChain: boolean
  readonly parents: readonly BlockId[]
  readonly prev: BlockId | null
  readonly children: readonly BlockId[]
  /** Blocks whose transactions this one reads (they are decided before it). */
  readonly deps: readonly BlockId[]
  readonly txs: readonly Tx[]
}

export interface TxResult {
  readonly status: TxStatus
  /** Why it is rejected: a LedgerErrorCode at replay, or its block's reason. */
  readonly reason?: string
}

/** Two or more blocks of one issuer at one seq: evidence every peer can check. */
export interface Equivocation {
  readonly issuer: Did
  readonly seq: number
  /** All blocks of the issuer at this seq (evidence), sorted by id. */
  readonly blocks: readonly BlockId[]
  /** The one confirmed, if any. */
  readonly canonical: BlockId | null
}

/**
 * A validator whose blocks approve two members of one conflict (L24): both blocks carry its
 * signature in their future cone, which any peer holding them can check.
 */
export interface DoubleVote {
  readonly validator: Did
  readonly conflict: string
  readonly blocks: readonly [BlockId, BlockId]
}

export interface LedgerStats {
  readonly blocks: number
  readonly confirmed: number
  readonly pending: number
  readonly rejected: number
  readonly orphans: number
  readonly missing: number
  readonly tips: number
  readonly issuers: number
  readonly members: number
  readonly validators: number
  readonly quorum: number
  /** The latest validator epoch (0 until a change by vote). */
  readonly epoch: number
  readonly equivocations: number
  readonly doubleVotes: number
  readonly maxDepth: number
  readonly applied: number
  readonly fullReplays: number
  /** Steps of weight propagation so far (a member's block adds none, L21). */
  readonly weightWork: number
}

export interface BlockTemplate {
  /** The issuer's chain, if fixed already (founder, its earlier blocks, or its admission). */
  readonly chain: string | null
  readonly seq: number
  readonly prev: BlockId | null
  readonly parents: readonly [BlockId, BlockId]
  /** Not older than the parents and prev, and late enough for the quota (L40). */
  readonly time: number
}

/**
 * [id, issuer index, seq, chain index, time, parent 0 index, parent 1 index, prev index (-1:
 * none), cross-chain, status (0 pending, 1 confirmed, 2 rejected), reject reason ('' none),
 * weight words, txs, bytes]. Indices are positions in insertion order, 0 being the genesis.
 */
export type SnapshotBlock = [
  BlockId, number, number, number, number, number, number, number, boolean, number, string, number[], LedgerValue, number
]

export interface LedgerSnapshot {
  readonly v: 2
  readonly alliance: AllianceId
  readonly issuers: Did[]
  readonly blocks: SnapshotBlock[]
  readonly state: StateEntries
  /** Insertion indices of applied blocks, in the order they were applied. */
  readonly applied: number[]
  readonly counters: [number]
}

export type { TxStatus }

/** A validator change being voted on (L46): who proposes what, and the votes so far. */
export interface ValidatorProposal {
  readonly action: 'add' | 'remove'
  readonly did: Did
  readonly chain: string
  readonly voters: readonly Did[]
  readonly quorum: number
  readonly epoch: number
}
