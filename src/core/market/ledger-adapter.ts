/**
 * Plugs the market's seven transaction types into the ledger's transaction registry
 * (src/core/ledger/tx.ts). Market and contract state live in the ledger state under the
 * `market.*` namespaces, balances, claims and deposits in the ledger's own namespaces, so the
 * ledger's undo log, state hash, snapshots and credit conservation cover them with no extra code.
 *
 * - `decode` (stateless, at block validation) = `decodeMarketTx`, plus the rules that need no
 *   state: a `session.settle` is issued by the voucher's provider and names its deposit as a
 *   transaction id; a `rate` names a settlement the same way.
 * - `deps`: a settlement reads its deposit (C10), a rating its settlement (R3): their blocks are
 *   decided before, so the outcome does not depend on the order chains are replayed in.
 * - `conflicts`: a settlement closes its deposit (`escrowConflict`), so a settlement and a
 *   refund of one deposit conflict and only one confirms (C10, L45).
 * - `crossChain`: a settlement whose payer is on another chain (`payerChain`) needs that
 *   chain's approvals, like a transfer with another `toChain`.
 * - `apply` = `applyMarketTx` at the block's time by its issuer, who must be a member, with an
 *   escrow port that pays only out of the deposit (C11): the provider's own share to its own
 *   balance, everything else as claims the recipients' chains receive (L26). The deposit is
 *   closed by `closeEscrow`: kept with `closedBy` under v2 state rules, deleted under L52.
 * Market errors are rethrown as LedgerError(ERR_BAD_TX) whose message starts with the market
 * code and whose `cause` is the typed error (`marketCodeOf` gets it back).
 */
import { AllianceError } from '../errors.ts'
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode } from '../ledger/errors.ts'
import {
  closeEscrow, credit, defaultTxRegistry, escrowConflict, escrowOf, expectTxId, forgetsClosed, leaveClaim, requireMember
} from '../ledger/tx.ts'
import type { DepositLockTx, EscrowRecord, TxApplyContext, TxRegistry, TxTypeDef } from '../ledger/tx.ts'
import type { Tx, TxId } from '../ledger/types.ts'
import type { StateView } from '../ledger/state.ts'
import type { Payment } from '../contracts/split.ts'
import type { DepositView, EscrowPort } from '../contracts/settlement.ts'
import type { SettledParties } from '../contracts/rating.ts'
import type { SessionId } from '../session/terms.ts'
import { applyMarketTx, decodeMarketTx, MARKET_TX_TYPES } from './apply.ts'
import type { MarketTx, MarketTxType } from './apply.ts'
import type { KindRegistry } from './kinds.ts'

function toLedgerError (err: unknown): LedgerError {
  if (err instanceof LedgerError) return err
  if (err instanceof AllianceError) return new LedgerError(LedgerErrorCode.BAD_TX, `${err.code}: ${err.message}`, { cause: err })
  return new LedgerError(LedgerErrorCode.BAD_TX, (err as Error)?.message ?? String(err), { cause: err })
}

/** The market/contract/session code behind a LedgerError thrown by these types, if any. */
export function marketCodeOf (err: unknown): string | null {
  if (!(err instanceof LedgerError)) return null
  const cause = (err as { cause?: unknown }).cause
  return cause instanceof AllianceError ? cause.code : null
}

function asMarketTx (tx: Tx): MarketTx {
  return tx as unknown as MarketTx
}

/**
 * The escrow port of one settlement (C9, C11). A deposit is visible only as the confirmed,
 * applied `deposit.lock` the settlement depends on; claims are `${txId}:${n}`, n counting the
 * claims this transaction leaves (other holders in share order, then the payer's refund).
 */
export function ledgerEscrow (state: StateView, ctx: TxApplyContext): EscrowPort {
  return {
    deposit (id: string): DepositView | null {
      const o = ctx.lookup(id as TxId)
      if (o == null || o.status !== 'confirmed' || o.tx.type !== 'deposit.lock') return null
      const e = escrowOf(state, id)
      if (e == null) {
        // L52: the lock is confirmed and applied, so a missing escrow was closed and forgotten;
        // the lock itself still says what it was (C9 checks it, then refuses it as closed)
        if (!forgetsClosed(ctx.genesis)) return null
        const lock = o.tx as DepositLockTx
        return { payer: o.issuer, provider: lock.provider, amount: lock.amount, deadline: lock.deadline, ref: lock.ref, closed: true, chain: o.chain }
      }
      return { payer: e.payer, provider: e.provider, amount: e.amount, deadline: e.deadline, ref: e.ref, closed: e.closedBy != null, chain: o.chain }
    },
    close (id: string, payments: readonly Payment[], refund: number): void {
      const e = escrowOf(state, id) as EscrowRecord
      let n = 0
      let paid = 0
      for (const p of payments) {
        if (p.amount <= 0) continue
        paid += p.amount
        // the provider's own share goes to its own balance: its own chain writes it (L26)
        if (p.to === ctx.issuer) credit(state, ctx.issuer, p.amount)
        else leaveClaim(state, `${ctx.txId}:${n++}`, { from: e.payer, to: p.to, toChain: '', amount: p.amount, kind: 'settle' })
      }
      if (paid + refund !== e.amount) throw new LedgerError(LedgerErrorCode.BAD_TX, `a settlement pays ${paid} + ${refund} out of a deposit of ${e.amount}`)
      if (refund > 0) leaveClaim(state, `${ctx.txId}:${n++}`, { from: e.payer, to: e.payer, toChain: '', amount: refund, kind: 'refund' })
      closeEscrow(state, ctx, id, e)
    }
  }
}

/** The parties of a confirmed, applied settlement a rating depends on (R3). */
function settledParties (ctx: TxApplyContext, id: string): SettledParties | null {
  const o = ctx.lookup(id as TxId)
  if (o == null || o.status !== 'confirmed' || o.tx.type !== 'session.settle') return null
  const s = asMarketTx(o.tx)
  if (s.type !== 'session.settle') return null
  return { session: s.voucher.session as SessionId, payer: s.voucher.payer, provider: o.issuer as Did }
}

function defOf (type: MarketTxType, kinds: KindRegistry | undefined): TxTypeDef {
  return {
    type,
    decode (raw, ctx) {
      let tx: MarketTx
      try {
        tx = decodeMarketTx(raw, { kinds })
      } catch (err) {
        throw toLedgerError(err)
      }
      if (tx.type !== type) throw new LedgerError(LedgerErrorCode.BAD_TX, `expected a ${type} transaction`)
      if (tx.type === 'session.settle') {
        if (tx.voucher.provider !== ctx.issuer) throw new LedgerError(LedgerErrorCode.BAD_TX, 'ERR_SETTLE_NOT_PROVIDER: only the voucher\'s provider may settle it')
        expectTxId(tx.deposit, 'session.settle.deposit')
      }
      if (tx.type === 'rate') expectTxId(tx.settle, 'rate.settle')
      return tx as unknown as Tx
    },
    deps (tx) {
      const m = asMarketTx(tx)
      if (m.type === 'session.settle') return [m.deposit as TxId]
      if (m.type === 'rate') return [m.settle as TxId]
      return []
    },
    conflicts (tx) {
      const m = asMarketTx(tx)
      return m.type === 'session.settle' ? [escrowConflict(m.deposit as TxId)] : []
    },
    crossChain (tx, ctx) {
      const m = asMarketTx(tx)
      return m.type === 'session.settle' && m.payerChain !== undefined && m.payerChain !== ctx.chain
    },
    apply (state, tx, ctx) {
      requireMember(state, ctx.issuer, 'the issuer')
      const m = asMarketTx(tx)
      try {
        applyMarketTx(state, m, {
          issuer: ctx.issuer,
          time: ctx.time,
          chain: ctx.chain,
          txId: ctx.txId,
          escrow: ledgerEscrow(state, ctx),
          settled: (id) => settledParties(ctx, id),
          kinds
        })
      } catch (err) {
        throw toLedgerError(err)
      }
    }
  }
}

/** Definitions of the seven market types, e.g. for `createTxRegistry(marketTxTypeDefs())`. */
export function marketTxTypeDefs (kinds?: KindRegistry): TxTypeDef[] {
  return MARKET_TX_TYPES.map((t) => defOf(t, kinds))
}

/** Registers the market types in `registry` (default: the ledger's default registry); idempotent. */
export function registerMarketTxTypes (registry: TxRegistry = defaultTxRegistry, kinds?: KindRegistry): void {
  for (const def of marketTxTypeDefs(kinds)) {
    if (!registry.has(def.type)) registry.register(def)
  }
}
