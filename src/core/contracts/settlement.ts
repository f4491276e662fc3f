/**
 * The settlement contract (white paper 5.6.1 step 5, DESIGN "Sessions" 3): a confirmed
 * `session.settle` transaction carries the payer's newest voucher (and, the first time, the
 * payer's signed session request) and names the deposit the payer locked for the session in
 * its own chain (a payment channel, as in Filecoin retrieval or Lightning). It draws only from
 * that deposit and closes it (SPEC C9–C12): `min(chargeable − alreadySettled, deposit)` is
 * split by the offer revision's shares, the rest of the deposit goes back to the payer, and the
 * payer's balance is never read or written — so a settlement can never overdraw anything, and
 * its outcome does not depend on the order in which other chains' blocks are applied. A
 * shortfall (vouchers signed beyond the deposit) stays on the session as `unpaid` and counts
 * against the payer until a settlement from a later deposit collects it.
 * Deterministic: the same state and transaction give the same writes on every peer.
 */
import type { Did } from '../identity.ts'
import { checkVoucherStep } from '../session/book.ts'
import { VoucherError, VoucherRejection } from '../session/errors.ts'
import { checkSignedSessionRequest, parseSignedSessionRequest, sessionIdOf } from '../session/request.ts'
import type { SignedSessionRequest } from '../session/request.ts'
import { chargeable } from '../session/terms.ts'
import type { OfferId, SessionId, SessionTerms, VoucherCursor } from '../session/terms.ts'
import { parseSignedVoucher, verifyVoucher } from '../session/voucher.ts'
import type { SignedVoucher } from '../session/voucher.ts'
import { ContractError, ContractRejection, contractFail } from './errors.ts'
import { expectRecord, has, isBoundedString } from './guards.ts'
import type { Fail } from './guards.ts'
import { MARKET_NS, stored } from './kv.ts'
import type { KvReader, KvStore } from './kv.ts'
import type { Share } from './policy.ts'
import { addFacts } from './reputation.ts'
import type { ReputationFacts } from './reputation.ts'
import { splitAmount } from './split.ts'
import type { Payment } from './split.ts'

export interface SessionSettleTx {
  readonly type: 'session.settle'
  /** TxId of the payer's `deposit.lock` this settlement draws from and closes (C9). */
  readonly deposit: string
  readonly voucher: SignedVoucher
  /** Required on a session's first settlement; optional (must match) afterwards. */
  readonly request?: SignedSessionRequest
  /** Ends the session: later settlements are refused except to collect what is unpaid. */
  readonly close?: boolean
  /** The payer's chain when it differs from the block's (a cross-chain payment, like transfer.toChain). */
  readonly payerChain?: string
}

export interface SessionRecord {
  readonly sessionId: SessionId
  readonly offerId: OfferId
  readonly rev: number
  readonly payer: Did
  readonly provider: Did
  /** Round of the newest settled voucher. */
  readonly rounds: number
  readonly cumulative: number
  readonly units: number
  /** Credits the newest voucher makes payable (after the refund rule). */
  readonly charged: number
  /** Credits actually moved from the payer. */
  readonly settled: number
  /** charged − settled: the payer's outstanding shortfall. */
  readonly unpaid: number
  readonly closed: boolean
  readonly settlements: number
  readonly openedAt: number
  readonly updatedAt: number
  /** TxId of the newest settlement (a `rate` names a settlement, R3). */
  readonly lastSettle: string
}

/** A confirmed `deposit.lock` as a settlement sees it (the ledger's EscrowRecord). */
export interface DepositView {
  readonly payer: Did
  readonly provider: Did
  readonly amount: number
  readonly deadline: number
  readonly ref: string
  readonly closed: boolean
  /** Chain of the lock's block: the payer's chain. */
  readonly chain: string
}

/** Where a settlement finds its deposit and pays out of it (the ledger adapter; tests fake it). */
export interface EscrowPort {
  /** The confirmed, applied `deposit.lock` with this txId, or null. */
  deposit (id: string): DepositView | null
  /**
   * Closes deposit `id`: pays `payments` (the provider's own share to its balance, the others
   * as claims) and `refund` back to the payer as a claim. Called once, after every check.
   */
  close (id: string, payments: readonly Payment[], refund: number): void
}

export interface SettleContext {
  /** The block's issuer: must be the session's provider. */
  readonly issuer: Did
  /** The block's chain (the payer's too, unless the settlement names `payerChain`). */
  readonly chain: string
  /** Block time, ms. */
  readonly time: number
  /** This transaction's id. */
  readonly txId: string
  readonly escrow: EscrowPort
  /** Terms and shares of an offer at a revision, or null when unknown. */
  termsOf (offer: OfferId, rev: number): { readonly terms: SessionTerms, readonly shares: readonly Share[] } | null
}

export interface SettleEffect {
  readonly type: 'session.settle'
  readonly session: SessionRecord
  /** Credits paid out of the deposit by this settlement, and to whom. */
  readonly paid: number
  readonly payments: readonly Payment[]
  /** What is left of the deposit, returned to the payer. */
  readonly refund: number
  /** Credits owed by this settlement that the deposit could not cover. */
  readonly shortfall: number
  readonly opened: boolean
}

const fail: Fail = contractFail(ContractRejection.SETTLE_SHAPE)

/** Stateless shape check of an untrusted settle transaction (the ledger's `decode`). */
export function decodeSettleTx (raw: unknown): SessionSettleTx {
  const rec = expectRecord(raw, 'session.settle', ['type', 'deposit', 'voucher'], ['request', 'close', 'payerChain'], fail)
  if (rec.type !== 'session.settle') fail('type must be session.settle')
  // the exact transaction-id form is checked by the ledger adapter (expectTxId)
  if (!isBoundedString(rec.deposit, 128) || !/\/[0-9]{1,2}$/.test(rec.deposit)) fail('deposit must be the transaction id of a deposit.lock')
  const voucher = parseSignedVoucher(rec.voucher)
  let tx: SessionSettleTx = { type: 'session.settle', deposit: rec.deposit, voucher }
  if (has(rec, 'request')) tx = { ...tx, request: parseSignedSessionRequest(rec.request) }
  if (has(rec, 'close')) {
    if (typeof rec.close !== 'boolean') fail('close must be a boolean')
    tx = { ...tx, close: rec.close }
  }
  if (has(rec, 'payerChain')) {
    if (!isBoundedString(rec.payerChain, 32)) fail('payerChain must be a chain name')
    tx = { ...tx, payerChain: rec.payerChain }
  }
  return tx
}

export function readSession (kv: KvReader, id: SessionId): SessionRecord | undefined {
  return kv.get(MARKET_NS.session, id) as SessionRecord | undefined
}

/** Reputation contribution of one session record to each side (SPEC R1). */
function sessionFacts (s: SessionRecord | undefined, side: 'payer' | 'provider'): Partial<ReputationFacts> {
  if (s === undefined) return {}
  const moved = s.settled > 0 ? 1 : 0
  const completed = moved === 1 && s.closed && s.unpaid === 0 ? 1 : 0
  const unpaid = side === 'payer' && s.unpaid > 0 ? 1 : 0
  return { settled: moved, completed, unpaid, unpaidCredits: side === 'payer' ? s.unpaid : 0 }
}

function updateFacts (kv: KvStore, before: SessionRecord | undefined, after: SessionRecord): void {
  for (const side of ['payer', 'provider'] as const) {
    const b = sessionFacts(before, side)
    const a = sessionFacts(after, side)
    addFacts(kv, after[side], {
      settled: (a.settled ?? 0) - (b.settled ?? 0),
      completed: (a.completed ?? 0) - (b.completed ?? 0),
      unpaid: (a.unpaid ?? 0) - (b.unpaid ?? 0),
      unpaidCredits: (a.unpaidCredits ?? 0) - (b.unpaidCredits ?? 0)
    })
  }
}

/** C9: the deposit must be the payer's open lock for this provider and session, not expired. */
function checkDeposit (tx: SessionSettleTx, ctx: SettleContext, session: SessionId, payer: Did): DepositView {
  const d = ctx.escrow.deposit(tx.deposit)
  if (d === null) throw new ContractError(ContractRejection.SETTLE_NO_DEPOSIT, 'the settlement names no confirmed deposit.lock')
  if (d.payer !== payer || d.provider !== ctx.issuer || d.ref !== session) {
    throw new ContractError(ContractRejection.SETTLE_FOREIGN_DEPOSIT, 'the deposit is not the payer\'s lock for this provider and session')
  }
  if (d.chain !== (tx.payerChain ?? ctx.chain)) {
    throw new ContractError(ContractRejection.SETTLE_PAYER_CHAIN, `the deposit is on chain ${d.chain}: the settlement must name it in payerChain`)
  }
  if (d.closed) throw new ContractError(ContractRejection.SETTLE_DEPOSIT_CLOSED, 'the deposit was already settled or refunded')
  if (ctx.time > d.deadline) throw new ContractError(ContractRejection.SETTLE_DEPOSIT_EXPIRED, 'the settlement comes after the deposit\'s deadline')
  return d
}

/**
 * Applies a decoded settle transaction (SPEC C1–C12). Validates everything before writing, so
 * a rejection (ContractError / VoucherError / SessionError) leaves `kv` and the deposit untouched.
 */
export function applySettle (kv: KvStore, tx: SessionSettleTx, ctx: SettleContext): SettleEffect {
  const v = tx.voucher
  const id = v.session
  const existing = readSession(kv, id)
  let request: SignedSessionRequest | null = null
  if (tx.request !== undefined) {
    // C1: the request must be the payer's and be this voucher's session
    try {
      request = checkSignedSessionRequest(tx.request)
    } catch (err) {
      throw new ContractError(ContractRejection.SETTLE_BAD_REQUEST, `session request: ${(err as Error).message}`)
    }
    if (sessionIdOf(request) !== id) throw new VoucherError(VoucherRejection.WRONG_SESSION, 'voucher is for another session than the request carried')
  } else if (existing === undefined) {
    throw new ContractError(ContractRejection.SETTLE_NO_REQUEST, 'the first settlement of a session must carry the payer\'s signed request')
  }
  const offerId = existing?.offerId ?? (request as SignedSessionRequest).offer
  const rev = existing?.rev ?? (request as SignedSessionRequest).rev
  const payer = existing?.payer ?? (request as SignedSessionRequest).payer
  const found = ctx.termsOf(offerId, rev)
  if (found === null) throw new ContractError(ContractRejection.SETTLE_UNKNOWN_OFFER, `offer ${offerId.slice(0, 16)}… revision ${rev} is not on the ledger`)
  const { terms, shares } = found
  if (request !== null && request.provider !== terms.provider) throw new ContractError(ContractRejection.SETTLE_BAD_REQUEST, 'the request names another provider than the offer')
  // C2: only the provider posts
  if (ctx.issuer !== terms.provider) throw new ContractError(ContractRejection.SETTLE_NOT_PROVIDER, 'only the session\'s provider may settle its vouchers')

  const prev: VoucherCursor | null = existing === undefined ? null : { round: existing.rounds, cumulative: existing.cumulative, units: existing.units }
  const repost = existing !== undefined && v.round === existing.rounds && v.cumulative === existing.cumulative && v.units === existing.units &&
    v.offer === existing.offerId && v.payer === existing.payer && v.provider === existing.provider
  let cursor: VoucherCursor
  if (existing?.closed === true && !(repost && existing.unpaid > 0)) {
    // C6: closed sessions only take a re-post of their newest voucher to collect a shortfall
    throw new ContractError(ContractRejection.SESSION_CLOSED, 'the session is closed')
  }
  if (repost && (tx.close === true || existing.unpaid > 0)) {
    // C5: re-posting the newest voucher closes the session or collects a shortfall
    if (!verifyVoucher(v)) throw new VoucherError(VoucherRejection.FORGED, 'voucher signature is not the payer\'s')
    cursor = prev as VoucherCursor
  } else {
    // C3: the voucher rules V1–V6 against the newest settled voucher
    cursor = checkVoucherStep(prev, v, { session: id, payer, terms })
  }

  const deposit = checkDeposit(tx, ctx, id, payer)

  // C4: pay what is chargeable and not yet paid, never more than the deposit holds
  const charged = chargeable(cursor, terms)
  const settledBefore = existing?.settled ?? 0
  const owed = Math.max(0, charged - settledBefore)
  const paid = Math.min(owed, deposit.amount)
  const payments = paid > 0 ? splitAmount(paid, shares) : []
  const settled = settledBefore + paid
  const record: SessionRecord = {
    sessionId: id,
    offerId,
    rev,
    payer,
    provider: terms.provider,
    rounds: cursor.round,
    cumulative: cursor.cumulative,
    units: cursor.units,
    charged,
    settled,
    unpaid: charged - settled,
    closed: existing?.closed === true || tx.close === true,
    settlements: (existing?.settlements ?? 0) + 1,
    openedAt: existing?.openedAt ?? ctx.time,
    updatedAt: ctx.time,
    lastSettle: ctx.txId
  }
  // writes: nothing above has written (C11: the deposit closes whatever was paid)
  const refund = deposit.amount - paid
  ctx.escrow.close(tx.deposit, payments, refund)
  kv.set(MARKET_NS.session, id, stored(record))
  updateFacts(kv, existing, record)
  return { type: 'session.settle', session: record, paid, payments, refund, shortfall: owed - paid, opened: existing === undefined }
}
