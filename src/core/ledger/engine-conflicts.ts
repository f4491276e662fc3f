/**
 * The ledger engine's conflict groups (SPEC L24, L34): blocks that cannot all be confirmed —
 * forks (two blocks of one issuer on one prev, key `f:issuer:prevIndex`) and two closings of
 * one object (keys from the transaction types' `conflictsOf`, e.g. a deposit's lock closed
 * twice). A group exists once it has two members; its winner is the member with a quorum,
 * re-resolved only when a member's weight changed. With no conflict anywhere (the normal case)
 * every call here is one size check.
 */
import type { Did } from '../identity.ts'
import { bitAnd, bitCount, bitCountAndNot, bitHas, bitIndices, bitsInTwoOrMore } from './bitset.ts'
import type { Bits } from './bitset.ts'
import type { BlockId } from './types.ts'
import type { BlockRejectReason, DoubleVote } from './engine-types.ts'
import { hasQuorum } from './engine-node.ts'
import type { Node } from './engine-node.ts'

/** The conflict groups of a block: its fork (issuer, prev) and the objects it closes. */
export function groupsOf (n: Node): string[] {
  if (n.issuer < 0) return []
  const fork = `f:${n.issuer}:${n.prev?.index ?? -1}`
  return n.closes.length === 0 ? [fork] : [fork, ...n.closes]
}

export class ConflictGroups {
  /** Members by key: almost always one, so a list is made only for a second. */
  private readonly first = new Map<string, Node>()
  private readonly multi = new Map<string, Node[]>()
  private readonly winners = new Map<string, Node | null>()
  /** Groups whose winner may have changed since the last `resolve`. */
  private readonly dirty = new Set<string>()

  /** Some group has two members: only then is there anything to resolve or avoid. */
  get any (): boolean {
    return this.multi.size > 0
  }

  /**
   * The objects a block closes that make it a conflict member (L24). A later block of an
   * issuer that already has a closing of the object earlier in its chain is not one: its
   * own chain orders the two, so its transaction simply fails at apply (the object is closed)
   * instead of its block — and the issuer's chain after it — being rejected.
   */
  newClosings (issuer: number, seq: number, keys: readonly string[]): string[] {
    return [...new Set(keys)].filter(key => {
      const first = this.first.get(key)
      const members = this.multi.get(key) ?? (first == null ? [] : [first])
      return !members.some(m => m.issuer === issuer && m.seq < seq)
    })
  }

  /** Files a new block under its groups; a group that gains a second member needs resolving. */
  add (node: Node): void {
    for (const key of groupsOf(node)) {
      const first = this.first.get(key)
      if (first == null) { this.first.set(key, node); continue }
      this.multi.set(key, [...(this.multi.get(key) ?? [first]), node])
      this.dirty.add(key)
    }
  }

  /** A block's weight grew: the groups it is a member of need resolving. */
  weightChanged (n: Node): void {
    if (this.multi.size > 0) for (const key of groupsOf(n)) if (this.multi.has(key)) this.dirty.add(key)
  }

  /** Re-resolves the groups marked since the last call; members of a group whose winner changed go to `changed`. */
  resolve (changed: Set<Node>): void {
    for (const key of this.dirty) {
      const group = this.multi.get(key) as Node[]
      const winner = resolveGroup(group)
      if ((this.winners.get(key) ?? null) !== winner) {
        this.winners.set(key, winner)
        for (const n of group) changed.add(n)
      }
    }
    this.dirty.clear()
  }

  /** Why `n` is rejected as a conflict member (another member won), or null. */
  lostBy (n: Node): BlockRejectReason | null {
    if (this.multi.size === 0) return null
    for (const key of groupsOf(n)) {
      if (!this.multi.has(key)) continue
      const winner = this.winners.get(key) ?? null
      if (winner != null && winner !== n) return key.startsWith('f:') ? 'equivocation' : 'conflict'
    }
    return null
  }

  /** A member of a group with two or more members. */
  inConflict (n: Node): boolean {
    return groupsOf(n).some(k => this.multi.has(k))
  }

  /**
   * Blocks an honest issuer must not approve (L34): the future cones of the conflict members
   * it does not prefer. A validator (bit `v` ≥ 0) prefers the member it already approved
   * (approving another would be a double vote); anyone else the winner, else the heaviest,
   * then the lowest id.
   */
  tainted (v: number): Set<Node> {
    const out = new Set<Node>()
    for (const [key, group] of this.multi) {
      const mine = v < 0 ? undefined : group.find(n => bitHas(n.weight, v))
      const preferred = mine ?? this.winners.get(key) ?? [...group].sort((a, b) => bitCount(b.weight) - bitCount(a.weight) || (a.id < b.id ? -1 : 1))[0]
      for (const loser of group) {
        if (loser === preferred) continue
        const stack = [loser]
        while (stack.length > 0) {
          const n = stack.pop() as Node
          if (out.has(n)) continue
          out.add(n)
          stack.push(...n.children)
        }
      }
    }
    return out
  }

  /** Validators that approved two members of one group, with the two blocks (L24). */
  doubleVotes (validatorDid: (bit: number) => Did, issuerDid: (issuer: number) => Did): DoubleVote[] {
    const out: DoubleVote[] = []
    for (const [key, group] of this.multi) {
      for (let a = 0; a < group.length; a++) {
        for (let b = a + 1; b < group.length; b++) {
          for (const v of bitIndices(bitAnd(group[a].weight, group[b].weight))) {
            const pair = [group[a].id, group[b].id].sort() as [BlockId, BlockId]
            out.push({ validator: validatorDid(v), conflict: key.startsWith('f:') ? `fork of ${issuerDid(group[a].issuer)} at seq ${group[a].seq}` : key, blocks: pair })
          }
        }
      }
    }
    return out.sort((x, y) => (x.validator < y.validator ? -1 : x.validator > y.validator ? 1 : x.blocks[0] < y.blocks[0] ? -1 : 1))
  }
}

/**
 * L24: the member of a conflict group with a quorum of validators wins. Two with a quorum
 * mean more than a third approved both (double votes): the one with the most validators
 * that did not, then the lowest id, wins — deterministic, and the evidence names them.
 */
function resolveGroup (group: readonly Node[]): Node | null {
  const strong = group.filter(n => hasQuorum(n))
  if (strong.length <= 1) return strong[0] ?? null
  const doubled = doubleVoters(group)
  let best: Node | null = null
  let bestW = -1
  for (const n of strong) {
    const w = bitCountAndNot(n.weight, doubled)
    if (w > bestW || (w === bestW && best != null && n.id < best.id)) { best = n; bestW = w }
  }
  return best
}

/** Validators in the weight of two or more members of a group. */
function doubleVoters (group: readonly Node[]): Bits {
  return bitsInTwoOrMore(group.map(n => n.weight))
}
