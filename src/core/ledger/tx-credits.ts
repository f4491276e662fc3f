/**
 * Built-in credit transactions (SPEC L28, L45): `transfer` debits the payer and leaves a claim
 * the recipient's chain takes with `receive`, so credits between accounts commute; a
 * `deposit.lock` moves credits into an escrow that one settle (market) or the payer's
 * `deposit.refund` after its deadline closes. Under the v3 state rules (L52) a received claim
 * and a closed escrow leave the state.
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { expectDid, expectInt, expectRecord, expectString } from './check.ts'
import { forgetsClosed } from './genesis.ts'
import type { StateView } from './state.ts'
import type { TxApplyContext, TxTypeDef } from './tx-registry.ts'
import { claimOf, credit, debit, escrowOf, leaveClaim, NS, requireMember } from './tx-records.ts'
import type { EscrowRecord } from './tx-records.ts'
import { claimTxId, confirmedDep, expectChain, expectClaimKeys, expectTxId } from './tx-fields.ts'
import type { LedgerValue, Tx, TxId } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

/** Largest amount a transaction may name: 2^53 - 1 keeps arithmetic exact. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER

export interface TransferTx extends Tx {
  readonly type: 'transfer'
  readonly to: Did
  readonly amount: number
  /** The recipient's chain (checked when it receives); a transfer to another chain is cross-chain. */
  readonly toChain: string
}

export interface ReceiveTx extends Tx {
  readonly type: 'receive'
  /** Claim keys (the paying txId, or `${txId}:${n}` for the n-th claim of one transaction). */
  readonly claims: readonly string[]
}

export interface DepositLockTx extends Tx {
  readonly type: 'deposit.lock'
  readonly provider: Did
  readonly amount: number
  readonly deadline: number
  readonly ref: string
}

export interface DepositRefundTx extends Tx {
  readonly type: 'deposit.refund'
  readonly deposit: TxId
}

export const transfer: TxTypeDef<TransferTx> = {
  type: 'transfer',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'transfer', ['type', 'to', 'amount', 'toChain'], [], BAD_TX)
    const to = expectDid(r.to, 'transfer.to', BAD_TX)
    if (to === ctx.issuer) fail(BAD_TX, 'transfer to oneself')
    const amount = expectInt(r.amount, 'transfer.amount', 1, MAX_AMOUNT, BAD_TX)
    const toChain = expectChain(r.toChain, 'transfer.toChain', ctx.genesis)
    return { type: 'transfer', to, amount, toChain }
  },
  crossChain (tx, ctx) {
    return tx.toChain !== ctx.chain
  },
  apply (state, tx, ctx) {
    requireMember(state, ctx.issuer, 'the payer')
    debit(state, ctx.issuer, tx.amount)
    leaveClaim(state, ctx.txId, { from: ctx.issuer, to: tx.to, toChain: tx.toChain, amount: tx.amount, kind: 'transfer' })
  }
}

export const receive: TxTypeDef<ReceiveTx> = {
  type: 'receive',
  decode (raw) {
    const r = expectRecord(raw, 'receive', ['type', 'claims'], [], BAD_TX)
    return { type: 'receive', claims: expectClaimKeys(r.claims, 'receive.claims') }
  },
  deps (tx) { return [...new Set(tx.claims.map(claimTxId))] },
  apply (state, tx, ctx) {
    const me = requireMember(state, ctx.issuer, 'the recipient')
    const forget = forgetsClosed(ctx.genesis)
    let total = 0
    for (const key of tx.claims) {
      const c = claimOf(state, key)
      if (c == null) fail(BAD_TX, `no claim ${key.slice(0, 24)}…`)
      if (c.to !== ctx.issuer) fail(BAD_TX, 'the claim is for another member')
      if (c.toChain !== '' && c.toChain !== me.chain) fail(BAD_TX, `the claim is for chain ${c.toChain}, the recipient is on ${me.chain}`)
      if (state.has(NS.received, key)) fail(BAD_TX, 'claim already received')
      // L52: under the new rules the claim goes (its key can never be written again); v2 marks it
      if (forget) state.delete(NS.claim, key)
      else state.set(NS.received, key, ctx.txId)
      total += c.amount
    }
    credit(state, ctx.issuer, total)
  }
}

/** Longest a deposit may stay locked: 30 days. */
export const MAX_DEPOSIT_MS = 30 * 24 * 3600 * 1000

export const depositLock: TxTypeDef<DepositLockTx> = {
  type: 'deposit.lock',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'deposit.lock', ['type', 'provider', 'amount', 'deadline', 'ref'], [], BAD_TX)
    const provider = expectDid(r.provider, 'deposit.lock.provider', BAD_TX)
    if (provider === ctx.issuer) fail(BAD_TX, 'a deposit for oneself')
    const amount = expectInt(r.amount, 'deposit.lock.amount', 1, MAX_AMOUNT, BAD_TX)
    const deadline = expectInt(r.deadline, 'deposit.lock.deadline', 0, Number.MAX_SAFE_INTEGER, BAD_TX)
    const ref = expectString(r.ref, 'deposit.lock.ref', 128, BAD_TX)
    return { type: 'deposit.lock', provider, amount, deadline, ref }
  },
  apply (state, tx, ctx) {
    requireMember(state, ctx.issuer, 'the payer')
    if (tx.deadline <= ctx.time || tx.deadline > ctx.time + MAX_DEPOSIT_MS) fail(BAD_TX, 'the deadline must be after the block and within 30 days')
    debit(state, ctx.issuer, tx.amount)
    const record: EscrowRecord = { payer: ctx.issuer, provider: tx.provider, amount: tx.amount, deadline: tx.deadline, ref: tx.ref, closedBy: null }
    state.set(NS.escrow, ctx.txId, record as unknown as LedgerValue)
  }
}

/**
 * Closes an escrow (a refund here, a settlement in the market adapter): v2 keeps it with
 * `closedBy`; under L52 it is deleted (its key, the lock's txId, is never written again).
 */
export function closeEscrow (state: StateView, ctx: TxApplyContext, deposit: string, e: EscrowRecord): void {
  if (forgetsClosed(ctx.genesis)) state.delete(NS.escrow, deposit)
  else state.set(NS.escrow, deposit, { ...e, closedBy: ctx.txId } as unknown as LedgerValue)
}

/** The conflict key of a deposit: one confirmed settle or refund closes it (L45). */
export function escrowConflict (deposit: TxId): string {
  return `escrow:${deposit}`
}

export const depositRefund: TxTypeDef<DepositRefundTx> = {
  type: 'deposit.refund',
  decode (raw) {
    const r = expectRecord(raw, 'deposit.refund', ['type', 'deposit'], [], BAD_TX)
    return { type: 'deposit.refund', deposit: expectTxId(r.deposit, 'deposit.refund.deposit') }
  },
  deps (tx) { return [tx.deposit] },
  conflicts (tx) { return [escrowConflict(tx.deposit)] },
  checkDeps (tx, ctx) {
    const lock = ctx.txOf(tx.deposit)
    if (lock == null || lock.tx.type !== 'deposit.lock') fail(BAD_TX, 'deposit.refund names no deposit.lock')
    if (lock.issuer !== ctx.issuer) fail(BAD_TX, 'only the payer refunds its deposit')
    if (ctx.time <= (lock.tx as DepositLockTx).deadline) fail(BAD_TX, 'the deposit is locked until its deadline')
  },
  apply (state, tx, ctx) {
    confirmedDep(ctx, tx.deposit, 'deposit.lock')
    const e = escrowOf(state, tx.deposit)
    // the lock is confirmed and applied (above), so under L52 a missing escrow is a closed one
    if (e == null) fail(BAD_TX, forgetsClosed(ctx.genesis) ? 'the deposit is closed' : 'no such deposit')
    if (e.payer !== ctx.issuer) fail(BAD_TX, 'only the payer refunds its deposit')
    if (ctx.time <= e.deadline) fail(BAD_TX, 'the deposit is locked until its deadline')
    if (e.closedBy != null) fail(BAD_TX, 'the deposit is closed')
    closeEscrow(state, ctx, tx.deposit, e)
    credit(state, ctx.issuer, e.amount)
  }
}
