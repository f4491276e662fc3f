/**
 * The ledger engine's in-memory block record (`Node`), its status codes, the batch result it
 * fills while ingesting, and the small rules every engine module reads off one node (quorum
 * over its span, cross-chain weight). Internal to the engine modules: nothing here is part of
 * the ledger's public API except `parseTxId` and `txIdOf` (re-exported by engine.ts).
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode, isLedgerError } from './errors.ts'
import { bitCountAnd, bitHas } from './bitset.ts'
import type { Bits } from './bitset.ts'
import type { Epoch, Tally } from './epochs.ts'
import type { BlockId, BlockStatus, Tx, TxId } from './types.ts'
import type { AddResult, BlockInfo, BlockRejectReason, ParkedOrphan, StoredBlockRef } from './engine-types.ts'

export const PENDING = 0
export const CONFIRMED = 1
export const REJECTED = 2
export type Status = typeof PENDING | typeof CONFIRMED | typeof REJECTED
export const STATUS_NAMES: readonly BlockStatus[] = ['pending', 'confirmed', 'rejected']

export interface Node {
  readonly id: BlockId
  /** Insertion index (0 = genesis); insertion order is topological. */
  readonly index: number
  /** Issuer index; -1 for the genesis. */
  readonly issuer: number
  /** The issuer's bit in the validator registry if it is or was a validator when inserted, or -1. */
  readonly validator: number
  /** The validator set that judges it (L47). */
  readonly epoch: Epoch
  /** Votes of its epoch in its past cone (shared between blocks; null: none). */
  readonly tally: Tally
  /** Epochs whose quorums it needs (L48): usually just its own. */
  readonly span: readonly Epoch[]
  readonly seq: number
  /** Chain index; -1 for the genesis. */
  readonly chain: number
  readonly time: number
  readonly depth: number
  readonly bytes: number
  readonly parents: readonly Node[]
  readonly prev: Node | null
  /** Parents and prev, without repeats: the approval edges. */
  readonly refs: readonly Node[]
  /** Blocks holding the transactions this block's transactions read. */
  readonly deps: readonly Node[]
  /** Replaced, not pushed to, to stay at exact size (memory per block). */
  children: readonly Node[]
  dependents: readonly Node[]
  /** Validators with a block in this block's future cone (its own included). */
  weight: Bits
  status: Status
  reason: BlockRejectReason | null
  readonly txs: readonly Tx[]
  readonly crossChain: boolean
  /** Conflict keys besides its fork: objects its transactions close. */
  readonly closes: readonly string[]
  applied: boolean
}

/** L48: validators of every epoch of its span reach that epoch's quorum. */
export function hasQuorum (n: Node): boolean {
  for (const e of n.span) if (bitCountAnd(n.weight, e.set) < e.quorum) return false
  return true
}

/** Validators of its epoch on other chains than its own that approve it (L22). */
export function crossWeight (n: Node): number {
  return n.chain < 0 ? 0 : bitCountAnd(n.weight, n.epoch.otherThan[n.chain])
}

/** Its issuer is a validator of the block's own epoch (admissions count only from those, L49). */
export function validatorOfOwnEpoch (n: Node): boolean {
  return n.validator >= 0 && bitHas(n.epoch.set, n.validator)
}

/** What `LedgerEngine.blockInfo` tells of a node: `issuers` by issuer index, `chains` the genesis chains. */
export function blockInfoOf (n: Node, issuers: readonly Did[], chains: readonly string[]): BlockInfo {
  return {
    id: n.id,
    issuer: n.issuer < 0 ? null : issuers[n.issuer],
    chain: n.chain < 0 ? null : chains[n.chain],
    seq: n.seq,
    depth: n.depth,
    time: n.time,
    status: STATUS_NAMES[n.status],
    reason: n.reason,
    weight: bitCountAnd(n.weight, n.epoch.set),
    crossChainWeight: crossWeight(n),
    quorum: n.epoch.quorum,
    epoch: n.epoch.n,
    crossChain: n.crossChain,
    parents: n.parents.map(p => p.id),
    prev: n.prev?.id ?? null,
    children: n.children.map(c => c.id),
    deps: n.deps.map(d => d.id),
    txs: n.txs
  }
}

/** Splits `${blockId}/${index}`. */
export function parseTxId (txId: string): { blockId: BlockId, index: number } | null {
  if (typeof txId !== 'string') return null
  const at = txId.lastIndexOf('/')
  if (at <= 0) return null
  const index = Number(txId.slice(at + 1))
  if (!Number.isInteger(index) || index < 0 || String(index) !== txId.slice(at + 1)) return null
  return { blockId: txId.slice(0, at) as BlockId, index }
}

export function txIdOf (blockId: BlockId, index: number): TxId {
  return `${blockId}/${index}` as TxId
}

/** Any throw from a rule as the LedgerError a result carries (non-ledger errors as ERR_MALFORMED). */
export function toLedgerError (err: unknown): LedgerError {
  if (isLedgerError(err)) return err
  return new LedgerError(LedgerErrorCode.MALFORMED, (err as Error)?.message ?? String(err), { cause: err })
}

/** A `BatchResult` while the engine fills it. */
export interface MutableBatch {
  results: AddResult[]
  inserted: StoredBlockRef[]
  parked: ParkedOrphan[]
  dropped: Array<{ id: BlockId, error?: LedgerError }>
  confirmed: BlockId[]
  rejected: BlockId[]
  reverted: BlockId[]
}

export function newBatch (): MutableBatch {
  return { results: [], inserted: [], parked: [], dropped: [], confirmed: [], rejected: [], reverted: [] }
}
