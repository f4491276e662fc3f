/**
 * The ledger engine's confirmation (SPEC L21–L26): validator weight walks up from each
 * validator's block (`propagate`), and `settle` re-evaluates, parents first, every block whose
 * inputs changed since the last batch — confirming a block once its span's quorums, its
 * cross-chain approvals, its prev and the blocks it reads allow, rejecting the losers of
 * conflicts and the chains after them — and hands each newly confirmed block to the state at
 * once. It owns the per-status counts and the set of pending blocks.
 *
 * Costs: a validator's bit stops at the first ancestor that already has it, so all weight work
 * over a ledger is O(blocks × validators) (counted in `weightWork`), and a member's block costs
 * O(1) of it.
 */
import type { BlockId, Genesis } from './types.ts'
import { bitHas, bitWith } from './bitset.ts'
import type { BlockRejectReason } from './engine-types.ts'
import { CONFIRMED, PENDING, REJECTED, crossWeight, hasQuorum } from './engine-node.ts'
import type { Node, Status } from './engine-node.ts'
import type { ConflictGroups } from './engine-conflicts.ts'
import { NodeHeap } from './node-heap.ts'

/** Where newly confirmed blocks go: applied one by one, or the whole state rebuilt (L25). */
export interface ConfirmedSink {
  apply: (n: Node) => void
  replayAll: () => void
}

export class Confirmation {
  /** Blocks per status (pending, confirmed, rejected), genesis excluded. */
  private readonly counts = [0, 0, 0]
  private readonly pendingSet = new Set<Node>()
  /** Blocks whose status may have changed since the last `settle`. */
  private dirty = new Set<Node>()
  private work = 0

  constructor (private readonly genesis: Genesis, private readonly conflicts: ConflictGroups, private readonly sink: ConfirmedSink) {}

  /** Pending blocks, in the order they became pending. */
  get pending (): ReadonlySet<Node> {
    return this.pendingSet
  }

  /** Ancestors visited by weight propagation, in all: O(blocks × validators) (L21). */
  get weightWork (): number {
    return this.work
  }

  count (status: Status): number {
    return this.counts[status]
  }

  /** Counts a node just linked into the DAG, and has the next `settle` look at it. */
  track (node: Node): void {
    if (node.status === PENDING) this.pendingSet.add(node)
    this.counts[node.status]++
    this.dirty.add(node)
  }

  /** Forgets what changed (a restore links nodes with their statuses already decided). */
  clearChanges (): void {
    this.dirty.clear()
  }

  /** A validator's new block: its bit goes into its own weight and up through its references. */
  addValidatorBlock (node: Node): void {
    node.weight = bitWith(node.weight, node.validator)
    this.propagate(node.validator, node.refs)
  }

  /**
   * Adds validator `v` to the weight of every ancestor reachable from `start`, stopping at
   * ancestors that already count it: their own ancestors count it too, because weights only
   * grow and an ancestor's future cone contains its descendants' future cones.
   */
  private propagate (v: number, start: readonly Node[]): void {
    const stack = [...start]
    while (stack.length > 0) {
      const a = stack.pop() as Node
      this.work++
      if (a.issuer < 0 || bitHas(a.weight, v)) continue
      a.weight = bitWith(a.weight, v)
      this.dirty.add(a)
      this.conflicts.weightChanged(a)
      for (const r of a.refs) stack.push(r)
    }
  }

  /**
   * Re-evaluates every block whose inputs changed and applies each newly confirmed block at
   * once: its prev and the blocks it reads were decided (and applied) before it.
   */
  settle (): { changed: Node[], reverted: BlockId[] } {
    this.conflicts.resolve(this.dirty)
    const heap = new NodeHeap<Node>()
    const queued = new Set<Node>()
    for (const n of this.dirty) { heap.push(n); queued.add(n) }
    this.dirty = new Set()
    const changed: Node[] = []
    const reverted: BlockId[] = []
    for (let n = heap.pop(); n != null; n = heap.pop()) {
      queued.delete(n)
      const [status, reason] = this.statusOf(n)
      if (status === n.status && reason === n.reason) continue
      const was = n.status
      this.counts[was]--
      this.counts[status]++
      n.status = status
      n.reason = reason
      if (status === PENDING) this.pendingSet.add(n)
      else this.pendingSet.delete(n)
      if (status !== was) changed.push(n)
      if (was === CONFIRMED) reverted.push(n.id)
      else if (status === CONFIRMED && reverted.length === 0) this.sink.apply(n)
      for (const c of n.children) if (!queued.has(c)) { queued.add(c); heap.push(c) }
      for (const c of n.dependents) if (!queued.has(c)) { queued.add(c); heap.push(c) }
    }
    // only when more than a third of the validators double-voted (L25): rebuild the state
    if (reverted.length > 0) this.sink.replayAll()
    return { changed, reverted }
  }

  private statusOf (n: Node): [Status, BlockRejectReason | null] {
    if (n.issuer < 0) return [CONFIRMED, null]
    const lost = this.conflicts.lostBy(n)
    if (lost != null) return [REJECTED, lost]
    if (n.prev != null && n.prev.status === REJECTED) return [REJECTED, 'prev-rejected']
    if (!hasQuorum(n)) return [PENDING, null]
    if (n.crossChain && crossWeight(n) < this.genesis.crossChainApprovals) return [PENDING, null]
    if (n.prev != null && n.prev.status !== CONFIRMED) return [PENDING, null]
    for (const d of n.deps) if (d.status === PENDING) return [PENDING, null]
    return [CONFIRMED, null]
  }
}
