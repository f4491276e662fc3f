/**
 * How the ledger engine writes confirmed blocks into the state (SPEC L26): each
 * transaction through its type's `apply`, all or nothing per transaction (a failing one is
 * undone and recorded under `NS.rejected` with its code under both state rules, L52: it is
 * consensus for dependents; the block stays confirmed), and the
 * replay order from genesis that a full rebuild uses (a block after its prev and the blocks it
 * reads). The engine owns the state; these functions only act on what they are given.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode, isLedgerError } from './errors.ts'
import type { LedgerContext } from './block.ts'
import { LedgerState } from './state.ts'
import type { UndoEntry } from './state.ts'
import { admitFounder, memberOf, NS } from './tx.ts'
import type { TxApplyContext, TxOutcome } from './tx.ts'
import type { BlockId, Genesis, TxId } from './types.ts'
import { CONFIRMED, PENDING, REJECTED, parseTxId, txIdOf } from './engine-node.ts'
import type { Node } from './engine-node.ts'

const E = LedgerErrorCode

/** What applying needs besides the state and the block: made once per engine. */
export interface ApplyEnv {
  readonly ctx: LedgerContext
  /** DIDs by issuer index. */
  readonly issuers: readonly Did[]
  /** A decided transaction and whether it took effect (`TxApplyContext.lookup`). */
  readonly lookup: (txId: TxId) => TxOutcome | undefined
}

/** The state before any block: the founders admitted with their allocation. */
export function genesisState (genesis: Genesis): LedgerState {
  const s = new LedgerState()
  for (const f of genesis.founders) admitFounder(s, f.did, f.chain, genesis.allocation)
  return s
}

/** Applies the transactions of a confirmed block, each on its own (L26). */
export function applyBlock (state: LedgerState, n: Node, env: ApplyEnv): void {
  const genesis = env.ctx.genesis
  const issuer = env.issuers[n.issuer]
  const chain = genesis.chains[n.chain]
  state.beginBlock(n.id)
  for (let i = 0; i < n.txs.length; i++) {
    const tx = n.txs[i]
    const txId = txIdOf(n.id, i)
    const member = memberOf(state, issuer)
    if (member != null && member.chain !== chain) {
      state.set(NS.rejected, txId, E.UNKNOWN_CHAIN)
      continue
    }
    const def = env.ctx.registry.get(tx.type)
    const log: UndoEntry[] = []
    state.record(log)
    try {
      if (def == null) throw new LedgerError(E.UNKNOWN_TX, `unknown type ${tx.type}`)
      const actx: TxApplyContext = { genesis, issuer, chain, blockId: n.id, txId, index: i, time: n.time, lookup: env.lookup }
      def.apply(state, tx, actx)
      state.stopRecording()
    } catch (err) {
      state.stopRecording()
      state.undo(log)
      state.set(NS.rejected, txId, isLedgerError(err) ? err.code : E.BAD_TX)
    }
  }
}

/** A decided transaction as `lookup` reports it: undefined while pending or unknown. */
export function txOutcomeOf (nodes: ReadonlyMap<BlockId, Node>, state: LedgerState, env: ApplyEnv, txId: TxId): TxOutcome | undefined {
  const parsed = parseTxId(txId)
  const n = parsed == null ? undefined : nodes.get(parsed.blockId)
  if (parsed == null || n == null || n.issuer < 0 || n.status === PENDING) return undefined
  const tx = n.txs[parsed.index]
  if (tx == null) return undefined
  const rejected = n.status === REJECTED || !n.applied || state.has(NS.rejected, txId)
  return { tx, issuer: env.issuers[n.issuer], chain: env.ctx.genesis.chains[n.chain], time: n.time, status: rejected ? 'rejected' : 'confirmed' }
}

/**
 * Calls `apply` on every confirmed block not applied yet, in insertion order but each after
 * its confirmed prev and deps (L26). `apply` must set `applied`.
 */
export function applyConfirmed (order: readonly Node[], apply: (n: Node) => void): void {
  for (const root of order) {
    if (root.issuer < 0 || root.status !== CONFIRMED || root.applied) continue
    const stack: Node[] = [root]
    while (stack.length > 0) {
      const n = stack[stack.length - 1]
      const before = [...(n.prev != null ? [n.prev] : []), ...n.deps].filter(d => d.status === CONFIRMED && !d.applied && d.issuer >= 0)
      if (before.length > 0) { stack.push(...before); continue }
      stack.pop()
      if (!n.applied) apply(n)
    }
  }
}
