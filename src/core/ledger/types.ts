/**
 * Ledger value types: the block, the transaction envelope and the genesis. Shapes only; the
 * rules that make a value valid live in `block.ts`, `genesis.ts` and `tx.ts`.
 */
import type { Did } from '../identity.ts'

/** The CID string (CIDv1, dag-cbor, sha2-256, base32) of an encoded block. */
export type BlockId = string & { readonly __brand: 'BlockId' }
/** An alliance is identified by the CID string of its genesis block. */
export type AllianceId = BlockId
/** `${blockId}/${index}`: a transaction is named by its block and its position in it. */
export type TxId = string & { readonly __brand: 'TxId' }

/** Any value dag-cbor can encode and that state and transactions are made of. */
export type LedgerValue =
  | null | boolean | number | string | Uint8Array
  | readonly LedgerValue[]
  | { readonly [key: string]: LedgerValue }

/** A transaction: a `type` registered in the TxRegistry plus that type's fields. */
export interface Tx {
  readonly type: string
  readonly [field: string]: LedgerValue
}

/** Everything of a block but its signature and nonce: what the proof-of-work commits to. */
export interface BlockCore {
  readonly v: 1
  readonly alliance: AllianceId
  readonly chain: string
  readonly issuer: Did
  /** Position in the issuer's own account chain, from 1. */
  readonly seq: number
  /** The issuer's block at `seq - 1`; null at seq 1. */
  readonly prev: BlockId | null
  /** Two earlier blocks of any issuer (tips when issued); the genesis counts. */
  readonly parents: readonly [BlockId, BlockId]
  /** Issuer's clock, ms since the epoch. */
  readonly time: number
  readonly txs: readonly Tx[]
  /** Leading zero bits the proof-of-work reaches; must equal the alliance's difficulty. */
  readonly difficulty: number
}

/** The part the signature covers: the core plus the nonce. */
export interface UnsignedBlock extends BlockCore {
  readonly nonce: number
}

export interface Block extends UnsignedBlock {
  /** Ed25519 signature by `issuer` over the domain tag and the encoding of the unsigned block. */
  readonly sig: Uint8Array
}

/**
 * How a DID becomes a member (white paper 5.3, "subject control"): `'invite'` — one validator's
 * `member.admit` suffices; `'vote'` — `admitVotes` distinct validators must each issue one.
 */
export type AdmissionRule = 'invite' | 'vote' | 'credential'

/** A founder is one of the alliance's validators: it alone carries confirmation weight. */
export interface Founder {
  readonly did: Did
  readonly chain: string
}

/**
 * The state-rules version a genesis names (L52): 2 keeps every closed claim and escrow in the
 * state (alliances founded before issue 10), 3 forgets them once closed. It is the genesis `v`,
 * so it is part of the alliance id.
 */
export type StateRules = 2 | 3

export interface Genesis {
  readonly v: StateRules
  readonly kind: 'alliance-genesis'
  readonly name: string
  /** The fixed set of local chains (white paper 5.6.2: fixed in advance). */
  readonly chains: readonly string[]
  /** Proof-of-work difficulty, in leading zero bits. */
  readonly difficulty: number
  /** Distinct validators of another chain that must approve a cross-chain transaction. */
  readonly crossChainApprovals: number
  /** Credits each founder holds at genesis: the whole supply. Admission gives nothing (L27). */
  readonly allocation: number
  readonly admission: AdmissionRule
  /** Distinct validators' admissions a member's join needs (1 with 'invite'). */
  readonly admitVotes: number
  /**
   * With admission 'credential': the issuers whose membership credential (a JWT VC naming the
   * member as subject, L51) admits on its own — the paper's qualification by a trusted party.
   */
  readonly credentialIssuers?: readonly Did[]
  /** The validators, weight 1 each; a block confirms above two thirds of them (L23). */
  readonly founders: readonly Founder[]
  /** Quota (L40): an issuer's block is at least this much later than its previous one. */
  readonly minBlockIntervalMs: number
  /** Quota (L40): and later again by its size at this many bytes per second. */
  readonly bytesPerSecond: number
  /** Below max depth (L41): a block's parents (but the genesis) are at most this much older. */
  readonly maxParentAgeMs: number
  /** How far ahead of the receiver's clock a block's time may be. */
  readonly maxClockSkewMs: number
  /** Founding time; makes two alliances with equal parameters distinct. */
  readonly time: number
}

export type BlockStatus = 'pending' | 'confirmed' | 'rejected'
export type TxStatus = BlockStatus
