/**
 * Plugs the market's seven transaction types into the ledger's transaction registry
 * (src/core/ledger/tx.ts). Market and contract state live in the ledger state under the
 * `market.*` namespaces, balances in the ledger's `balance` namespace, so the ledger's undo
 * log, state hash, snapshots and credit conservation cover them with no extra code.
 *
 * - `decode` (stateless, at block validation) = `decodeMarketTx`, plus the one issuer rule
 *   that needs no state: a `session.settle` is issued by the voucher's provider.
 * - `crossChain`: a settlement whose payer is on another chain (`payerChain`) needs that
 *   chain's approvals, like a transfer with another `toChain`.
 * - `apply` = `applyMarketTx` at the block's time by its issuer, who must be a member.
 * Market errors are rethrown as LedgerError(ERR_BAD_TX) whose message starts with the market
 * code and whose `cause` is the typed error (`marketCodeOf` gets it back).
 */
import { AllianceError } from '../errors.ts'
import { LedgerError, LedgerErrorCode } from '../ledger/errors.ts'
import { defaultTxRegistry, memberOf, NS, requireMember } from '../ledger/tx.ts'
import type { TxRegistry, TxTypeDef } from '../ledger/tx.ts'
import type { Tx } from '../ledger/types.ts'
import { kvBalances } from '../contracts/kv.ts'
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
      if (tx.type === 'session.settle' && tx.voucher.provider !== ctx.issuer) {
        throw new LedgerError(LedgerErrorCode.BAD_TX, 'ERR_SETTLE_NOT_PROVIDER: only the voucher\'s provider may settle it')
      }
      return tx as unknown as Tx
    },
    crossChain (tx, ctx) {
      const m = asMarketTx(tx)
      return m.type === 'session.settle' && m.payerChain !== undefined && m.payerChain !== ctx.chain
    },
    apply (state, tx, ctx) {
      requireMember(state, ctx.issuer, 'the issuer')
      const m = asMarketTx(tx)
      if (m.type === 'session.settle') {
        const payer = memberOf(state, m.voucher.payer)
        const chain = m.payerChain ?? ctx.chain
        if (payer !== undefined && payer.chain !== chain) {
          throw new LedgerError(LedgerErrorCode.BAD_TX, `the payer is on chain ${payer.chain}, not ${chain}: set payerChain`)
        }
      }
      try {
        applyMarketTx(state, m, { issuer: ctx.issuer, time: ctx.time, balances: kvBalances(state, NS.balance), kinds })
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
