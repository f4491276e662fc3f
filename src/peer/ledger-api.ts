/**
 * What the UI and the facade may ask of this peer's ledger. The ledger service implements it;
 * keeping it here, small, lets the UI be written and tested against it alone.
 */
import type { BlockInfo, ClaimRecord, LedgerStats, Tx, TxStatus, Equivocation, ValidatorProposal } from '../core/ledger/index.ts'
import type { Did } from '../core/identity.ts'
import type { AdmissionState, JoinRequestView } from './admission.ts'

/**
 * A transaction that concerns this peer, raw, with its block's facts and fresh status (what
 * the history mapper, src/peer/history.ts, turns into rows in words).
 */
export interface LedgerTxEntry {
  readonly txId: string
  readonly blockId: string
  readonly issuer: Did
  readonly time: number
  readonly depth: number
  readonly tx: Tx
  readonly status: TxStatus
  readonly reason?: string
  /** Eligible distinct issuers approving the block (itself included). */
  readonly weight: number
}

export interface LedgerProgress {
  /** Proof-of-work of the block being made: 0..1, or null when idle. */
  pow: number | null
  /** Sync with a peer: blocks fetched of blocks known to be missing, or null when idle. */
  sync: { done: number, total: number } | null
}

export interface LedgerApi {
  readonly allianceId: string
  balance (did?: string): number
  isMember (did?: string): boolean
  /** Submits a transfer; resolves to the transaction id once the block is made and sent. */
  transfer (to: string, amount: number): Promise<string>
  status (txId: string): TxStatus | 'unknown'
  /** The transactions that concern this peer (history.ts `concernsMe`), raw, in no order. */
  historyEntries (): LedgerTxEntry[]
  /** A claim (credits a confirmed transaction left for someone) by key, while the state holds it. */
  claim (key: string): ClaimRecord | undefined
  /** Approvals a block needs. */
  quorum (): number
  /** The newest blocks (by depth), for the DAG picture. */
  recentBlocks (limit: number): BlockInfo[]
  stats (): LedgerStats & { stateHash: string, rejectedInputs: Record<string, number> }
  equivocations (): Equivocation[]
  progress (): LedgerProgress
  /** Runs a catch-up sync with every directly connected peer now. */
  syncNow (): Promise<void>
  isValidator (did?: string): boolean
  validators (): Did[]
  members (): Did[]
  /** Where this peer stands: validator, member, waiting for admissions, joining (A4, A5). */
  admission (): AdmissionState
  /** Join requests waiting for this validator's owner. */
  joinRequests (): JoinRequestView[]
  admit (did: string, chain?: string): Promise<string>
  decline (did: string): void
  /** A signed invitation of this validator, as text for a link or a QR code (A3). */
  invite (opts: { validForMs: number, relays: readonly string[], from?: string }): string
  /** Credits paid to this peer not received yet (they are, on their own, once confirmed). */
  incoming (): number
  /** The latest validator epoch (L47). */
  epoch (): { readonly n: number, readonly validators: readonly Did[], readonly quorum: number }
  /** Open proposals to add or remove a validator, with who voted (L46). */
  validatorProposals (): ValidatorProposal[]
  /** The changes since the genesis, oldest first. */
  validatorChanges (): ValidatorChangeView[]
  /** This validator's vote to add (a member) or remove (a validator). */
  voteValidator (action: 'add' | 'remove', did: string): Promise<string>
}

export type { ValidatorProposal }

export interface ValidatorChangeView {
  readonly action: 'add' | 'remove'
  readonly did: Did
  readonly chain: string
  readonly epoch: number
  readonly decidedIn: string
}
