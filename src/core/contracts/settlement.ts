/**
 * The settlement contract (white paper 5.6.1 step 5, DESIGN "Sessions" 3): a confirmed
 * `session.settle` transaction carries the payer's newest voucher (and, the first time, the
 * payer's signed session request). It pays `chargeable − alreadySettled`, never more than the
 * payer holds, split by the offer revision's shares; a shortfall stays on the session as
 * `unpaid` and counts against the payer's reputation until a later settlement collects it.
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
import type { BalancePort, KvReader, KvStore } from './kv.ts'
import type { Share } from './policy.ts'
import { addFacts } from './reputation.ts'
import type { ReputationFacts } from './reputation.ts'
import { splitAmount } from './split.ts'
import type { Payment } from './split.ts'

export interface SessionSettleTx {
  readonly type: 'session.settle'
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
}

export interface SettleContext {
  /** The block's issuer: must be the session's provider. */
  readonly issuer: Did
  /** Block time, ms. */
  readonly time: number
  readonly balances: BalancePort
  /** Terms and shares of an offer at a revision, or null when unknown. */
  termsOf (offer: OfferId, rev: number): { readonly terms: SessionTerms, readonly shares: readonly Share[] } | null
}

export interface SettleEffect {
  readonly type: 'session.settle'
  readonly session: SessionRecord
  /** Credits moved by this settlement, and to whom. */
  readonly paid: number
  readonly payments: readonly Payment[]
  /** Credits owed by this settlement that the payer could not cover. */
  readonly shortfall: number
  readonly opened: boolean
}

const fail: Fail = contractFail(ContractRejection.SETTLE_SHAPE)

/** Stateless shape check of an untrusted settle transaction (the ledger's `decode`). */
export function decodeSettleTx (raw: unknown): SessionSettleTx {
  const rec = expectRecord(raw, 'session.settle', ['type', 'voucher'], ['request', 'close', 'payerChain'], fail)
  if (rec.type !== 'session.settle') fail('type must be session.settle')
  const voucher = parseSignedVoucher(rec.voucher)
  let tx: SessionSettleTx = { type: 'session.settle', voucher }
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

/**
 * Applies a decoded settle transaction (SPEC C1–C8). Validates everything before writing, so
 * a rejection (ContractError / VoucherError / SessionError) leaves `kv` and balances untouched.
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

  // C4: pay what is chargeable and not yet paid, never more than the payer holds
  const charged = chargeable(cursor, terms)
  const settledBefore = existing?.settled ?? 0
  const owed = Math.max(0, charged - settledBefore)
  const holds = Math.max(0, Math.floor(ctx.balances.balanceOf(payer)))
  const paid = Math.min(owed, holds)
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
    updatedAt: ctx.time
  }
  // writes: nothing above has written
  for (const p of payments) ctx.balances.move(payer, p.to, p.amount)
  kv.set(MARKET_NS.session, id, stored(record))
  updateFacts(kv, existing, record)
  return { type: 'session.settle', session: record, paid, payments, shortfall: owed - paid, opened: existing === undefined }
}
