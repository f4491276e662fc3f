/**
 * The state the built-in transaction types keep (SPEC L26, L30): the namespaces and which
 * chain writes each key, the records stored under them, typed readers, and the few writes
 * every type does the same way (debit, credit, leave a claim, admit a founder). A balance is
 * written only by its own chain: credits to another account are claims it receives.
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { isRecord } from './check.ts'
import type { StateReader, StateView } from './state.ts'
import type { BlockId, Genesis, LedgerValue } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

/** State namespaces owned by the built-in rules. Comments say which chain writes each key. */
export const NS = {
  /** did → MemberRecord (the member's own `member.join`; founders at genesis) */
  member: 'member',
  /** did → credits (integer; only that did's own chain writes it) */
  balance: 'balance',
  /** txId of the paying transaction → ClaimRecord (written by the payer's chain, once) */
  claim: 'claim',
  /** claim txId → txId of the `receive` that took it (the recipient's chain) */
  received: 'received',
  /** txId of the `deposit.lock` → EscrowRecord (the lock; closed by one settle or refund, L45) */
  escrow: 'escrow',
  /** `${hash}/${issuer}` → AnchorRecord (the issuer's chain) */
  anchor: 'anchor',
  /** txId → error code of a transaction rejected at replay */
  rejected: 'rejected'
} as const

export interface MemberRecord {
  readonly chain: string
  /** Block whose `member.join` made it a member, or 'genesis' for founders. */
  readonly since: string
}

/** Credits a confirmed transaction left for `to`, until `to`'s chain receives them. */
export interface ClaimRecord {
  readonly from: Did
  readonly to: Did
  /** The chain `to` must be on to receive (the payer's statement, checked at receive); '' any. */
  readonly toChain: string
  readonly amount: number
  /** What made it: 'transfer', 'settle', 'refund'… (for histories). */
  readonly kind: string
}

export interface EscrowRecord {
  readonly payer: Did
  readonly provider: Did
  readonly amount: number
  /** Block time after which the payer may refund; a settle's block time must not exceed it. */
  readonly deadline: number
  /** Free label binding the deposit to a session (its id), or ''. */
  readonly ref: string
  /** txId that closed it (a settle or a refund), or null while open. */
  readonly closedBy: string | null
}

export interface AnchorRecord {
  readonly issuer: Did
  readonly anchoredIn: BlockId
  readonly revokedIn: BlockId | null
}

export function memberOf (state: StateReader, did: string): MemberRecord | undefined {
  const v = state.get(NS.member, did)
  return isRecord(v) ? v as unknown as MemberRecord : undefined
}

export function balanceOf (state: StateReader, did: string): number {
  const v = state.get(NS.balance, did)
  return typeof v === 'number' ? v : 0
}

export function claimOf (state: StateReader, txId: string): ClaimRecord | undefined {
  const v = state.get(NS.claim, txId)
  return isRecord(v) ? v as unknown as ClaimRecord : undefined
}

export function escrowOf (state: StateReader, txId: string): EscrowRecord | undefined {
  const v = state.get(NS.escrow, txId)
  return isRecord(v) ? v as unknown as EscrowRecord : undefined
}

export function anchorOf (state: StateReader, hash: string, issuer: string): AnchorRecord | undefined {
  const v = state.get(NS.anchor, `${hash}/${issuer}`)
  return isRecord(v) ? v as unknown as AnchorRecord : undefined
}

export function requireMember (state: StateReader, did: string, who: string): MemberRecord {
  const m = memberOf(state, did)
  if (m == null) fail(BAD_TX, `${who} is not a member`)
  return m
}

/** Debits the issuer's own balance; throws ERR_OVERSPEND when it holds fewer than `amount`. */
export function debit (state: StateView, from: string, amount: number): void {
  const have = balanceOf(state, from)
  if (amount > have) fail(LedgerErrorCode.OVERSPEND, `debit of ${amount} over a balance of ${have}`)
  state.set(NS.balance, from, have - amount)
}

/** Credits the issuer's own balance (only its own chain may call this for it). */
export function credit (state: StateView, to: string, amount: number): void {
  state.set(NS.balance, to, balanceOf(state, to) + amount)
}

/** Leaves a claim named after the paying transaction (`key` distinguishes several of one tx). */
export function leaveClaim (state: StateView, key: string, claim: ClaimRecord): void {
  if (state.has(NS.claim, key)) fail(BAD_TX, `claim ${key} exists`)
  state.set(NS.claim, key, claim as unknown as LedgerValue)
}

/** Founders are members from genesis and hold the supply. */
export function admitFounder (state: StateView, did: string, chain: string, allocation: number): void {
  const record: MemberRecord = { chain, since: 'genesis' }
  state.set(NS.member, did, record as unknown as LedgerValue)
  state.set(NS.balance, did, allocation)
}

export function isFounder (genesis: Genesis, did: string): boolean {
  return genesis.founders.some(f => f.did === did)
}
