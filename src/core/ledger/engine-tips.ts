/**
 * What the ledger engine tells an issuer about its next block (SPEC L34, L35, L40, L41): which
 * two tips to approve (pending first, fair per issuer, never a rejected, stale or tainted
 * one), the template of the block (chain, seq, prev, time), and the witnessing duties: blocks
 * a validator should approve, an issuer's blocks due for promotion or approving a losing side.
 * Reads the engine's DAG; changes nothing.
 */
import type { Did } from '../identity.ts'
import type { LedgerContext } from './block.ts'
import { bitHas } from './bitset.ts'
import type { StateReader } from './state.ts'
import { memberOf } from './tx.ts'
import type { BlockId, Genesis } from './types.ts'
import type { BlockTemplate } from './engine-types.ts'
import { CONFIRMED, PENDING, REJECTED } from './engine-node.ts'
import type { Node } from './engine-node.ts'
import type { ConflictGroups } from './engine-conflicts.ts'
import type { IssuerChains } from './engine-issuers.ts'
import type { ValidatorEpochs } from './engine-validators.ts'
import { quotaGapMs } from './engine-rules.ts'
import { compareNodes } from './node-heap.ts'

/** The engine's DAG indexes this module reads (the same objects for the engine's life). */
export interface DagIndex {
  readonly nodes: ReadonlyMap<BlockId, Node>
  /** Insertion order: topological, genesis first. */
  readonly order: readonly Node[]
  readonly tips: ReadonlySet<Node>
  readonly pending: ReadonlySet<Node>
}

export class TipSelector {
  private readonly genesis: Genesis

  constructor (
    private readonly ctx: LedgerContext,
    private readonly dag: DagIndex,
    private readonly issuers: IssuerChains,
    private readonly validators: ValidatorEpochs,
    private readonly conflicts: ConflictGroups
  ) {
    this.genesis = ctx.genesis
  }

  /**
   * Two parents for a new block: tips, preferring pending ones (they need the weight), chosen
   * per issuer so that one issuer's many tips do not crowd out others' (witnessing is fair per
   * issuer, L35); never a rejected tip, a tip older than maxParentAgeMs (below max depth,
   * L41) or one that would approve the other side of a conflict (L34). The issuer's own
   * blocks are not picked: `prev` already approves them. `rand` returns numbers in [0, 1).
   */
  selectTips (rand: () => number, opts: { readonly issuer?: Did, readonly now?: number } = {}): [BlockId, BlockId] {
    const self = opts.issuer == null ? -2 : (this.issuers.indexOf(opts.issuer) ?? -2)
    const floor = (opts.now ?? this.newestTime()) - this.genesis.maxParentAgeMs + 1000
    const tainted = this.conflicts.any ? this.tainted(self) : null
    const usable = (n: Node): boolean => n.issuer >= 0 && n.issuer !== self && n.status !== REJECTED && n.time >= floor && (tainted == null || !tainted.has(n))
    const tips = [...this.dag.tips].filter(usable).sort(compareNodes)
    let candidates = [...tips.filter(n => n.status === PENDING), ...tips.filter(n => n.status === CONFIRMED)]
    if (candidates.length < 2) {
      const order = this.dag.order
      for (let j = order.length - 1; j > 0 && candidates.length < 8 && j > order.length - 512; j--) {
        const n = order[j]
        if (usable(n) && !candidates.includes(n)) candidates.push(n)
      }
    }
    if (candidates.length === 0) return [this.ctx.allianceId, this.ctx.allianceId]
    const pending = candidates.filter(n => n.status === PENDING)
    if (pending.length > 0) candidates = [...pending, ...candidates.filter(n => n.status !== PENDING)]
    const pickFair = (from: readonly Node[]): Node => {
      const byIssuer = [...new Set(from.map(n => n.issuer))]
      const issuer = byIssuer[Math.min(byIssuer.length - 1, Math.floor(rand() * byIssuer.length))]
      const own = from.filter(n => n.issuer === issuer)
      return own[Math.min(own.length - 1, Math.floor(rand() * own.length))]
    }
    const best = (from: readonly Node[]): readonly Node[] => {
      const p = from.filter(n => n.status === PENDING)
      return p.length > 0 ? p : from
    }
    const first = pickFair(best(candidates))
    const rest = candidates.filter(n => n !== first)
    const others = rest.filter(n => n.issuer !== first.issuer)
    const second = others.length > 0 ? pickFair(best(others)) : rest.length > 0 ? pickFair(best(rest)) : this.dag.order[0] /* the genesis */
    return [first.id, second.id]
  }

  /**
   * Everything an issuer needs for its next block but the transactions: chain (if fixed),
   * seq and prev (its head), parents (`selectTips`) and a time not older than them and late
   * enough after its prev for a block of `bytes` (L40).
   */
  template (issuer: Did, rand: () => number, now: number, bytes: number, state: StateReader): BlockTemplate {
    const g = this.genesis
    const head = this.issuers.headOf(issuer)
    const parents = this.selectTips(rand, { issuer, now })
    const asValidator = this.validators.chainIndexOf(issuer)
    const founder = this.ctx.founderChains.get(issuer) ?? (asValidator == null ? undefined : g.chains[asValidator])
    let time = now
    for (const id of parents) time = Math.max(time, (this.dag.nodes.get(id) as Node).time)
    if (head != null) time = Math.max(time, head.time + quotaGapMs(g, bytes))
    return {
      chain: founder ?? (head != null ? g.chains[head.chain] : (memberOf(state, issuer)?.chain ?? null)),
      seq: head == null ? 1 : head.seq + 1,
      prev: head?.id ?? null,
      parents,
      time
    }
  }

  /** The issuer's blocks still pending, oldest first. */
  pendingOf (issuer: Did): BlockId[] {
    const i = this.issuers.indexOf(issuer)
    if (i == null) return []
    return [...this.dag.pending].filter(n => n.issuer === i).sort((a, b) => a.seq - b.seq).map(n => n.id)
  }

  /**
   * True when the issuer has a block pending for longer than `ageMs` (by block time): the
   * runtime should then issue a block (empty if need be), which re-approves it through `prev`
   * and gives validators a fresh tip to approve — no user action (DESIGN, IOTA lesson).
   */
  promotionDue (issuer: Did, now: number, ageMs: number): boolean {
    const i = this.issuers.indexOf(issuer)
    if (i == null) return false
    for (const n of this.dag.pending) if (n.issuer === i && n.time <= now - ageMs) return true
    return false
  }

  /**
   * Pending blocks that a validator should approve (L35): blocks with transactions within
   * maxParentAgeMs that do not have its approval yet, one per issuer (fairness). Empty blocks
   * never ask for approval, so witnessing does not feed itself.
   */
  awaitingApproval (validator: Did, now: number): BlockId[] {
    const v = this.validators.bitOf(validator)
    if (v == null) return []
    const seen = new Set<number>()
    const out: BlockId[] = []
    const tainted = this.conflicts.any ? this.tainted(this.issuers.indexOf(validator) ?? -1) : null
    for (const n of this.dag.pending) {
      if (tainted?.has(n) === true) continue
      if (!n.span.some(e => bitHas(e.set, v))) continue
      if (n.issuer < 0 || n.txs.length === 0 || bitHas(n.weight, v) || n.time < now - this.genesis.maxParentAgeMs || seen.has(n.issuer)) continue
      seen.add(n.issuer)
      out.push(n.id)
    }
    return out.sort()
  }

  /** Non-empty when one of the issuer's pending blocks approves the losing side of a conflict. */
  taintedPendingOf (issuer: Did): BlockId[] {
    const i = this.issuers.indexOf(issuer)
    if (i == null || !this.conflicts.any) return []
    const t = this.tainted(-1)
    return [...this.dag.pending].filter(n => n.issuer === i && t.has(n) && !this.conflicts.inConflict(n)).map(n => n.id)
  }

  /** Blocks issuer index `self` must not approve (L34): by its validator bit, if it has one. */
  private tainted (self: number): Set<Node> {
    const v = self < 0 ? -1 : (this.validators.bitOf(this.issuers.dids[self]) ?? -1)
    return this.conflicts.tainted(v)
  }

  private newestTime (): number {
    let t = this.genesis.time
    for (const n of this.dag.tips) t = Math.max(t, n.time)
    return t
  }
}
