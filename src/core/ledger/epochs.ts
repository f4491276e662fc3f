/**
 * Validator epochs (SPEC L46–L52): the validator set starts as the genesis founders and
 * changes only by `validator.vote` transactions on the ledger, one member at a time. Which set
 * judges a block is a function of the block's past cone alone — never of arrival order or of
 * what a peer has confirmed — so every peer that holds a block agrees on its epoch, and so on
 * what confirms it.
 *
 * A block's epoch: the highest epoch among the blocks it references (ties: the lowest key,
 * which only matters when more than a third double-voted), moved one step when the votes in
 * its past cone for one proposal of that epoch reach the epoch's quorum. A tally of those
 * votes rides along each block (shared by reference while nothing changes, so a block costs
 * O(1) memory for it and votes are rare).
 */
import type { Did } from '../identity.ts'
import { bitAdd, bitCountAnd, bitHas, bitOrInto, bitsInTwoOrMore } from './bitset.ts'
import type { Bits } from './bitset.ts'
import type { BlockId, Tx } from './types.ts'

export type ValidatorAction = 'add' | 'remove'

/** A validator's vote to add or remove one validator in epoch `epoch` (L46). */
export interface ValidatorVoteTx extends Tx {
  readonly type: 'validator.vote'
  readonly action: ValidatorAction
  readonly did: Did
  /** For 'add': the chain the new validator validates on (its own chain if it is a member); for 'remove': its chain. */
  readonly chain: string
  readonly epoch: number
}

export interface ValidatorChange {
  readonly action: ValidatorAction
  readonly did: Did
  readonly chain: string
  /** The block whose past cone first held the quorum of votes. */
  readonly decidedIn: BlockId
}

export interface Epoch {
  readonly n: number
  readonly parent: Epoch | null
  /** Identity: the chain of changes from genesis. Two epochs with one `n` differ only after double votes. */
  readonly key: string
  /** Validators of the epoch, as bits of the engine's validator registry. */
  readonly set: Bits
  readonly dids: readonly Did[]
  readonly quorum: number
  /** Per validator bit: its chain index. */
  readonly chainOf: ReadonlyMap<number, number>
  /** Per chain c: validators of this epoch on a chain other than c. */
  readonly otherThan: readonly Bits[]
  /** What moved the parent epoch to this one; null for epoch 0. */
  readonly change: ValidatorChange | null
}

/** Votes for the proposals of one epoch held in a block's past cone: proposal key → voter bits. */
export type Tally = ReadonlyMap<string, Bits> | null

export function quorumOfSize (n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

export function proposalKey (vote: Pick<ValidatorVoteTx, 'action' | 'did' | 'chain'>): string {
  return `${vote.action}:${vote.did}:${vote.chain}`
}

export function parseProposalKey (key: string): { action: ValidatorAction, did: Did, chain: string } {
  const first = key.indexOf(':')
  const last = key.lastIndexOf(':')
  return { action: key.slice(0, first) as ValidatorAction, did: key.slice(first + 1, last) as Did, chain: key.slice(last + 1) }
}

export function makeEpoch (
  n: number, parent: Epoch | null, key: string, members: ReadonlyArray<{ bit: number, did: Did, chain: number }>,
  chains: number, change: ValidatorChange | null
): Epoch {
  const set: Bits = []
  const chainOf = new Map<number, number>()
  const otherThan: Bits[] = Array.from({ length: chains }, () => [])
  for (const m of members) {
    bitAdd(set, m.bit)
    chainOf.set(m.bit, m.chain)
    for (let c = 0; c < chains; c++) if (c !== m.chain) bitAdd(otherThan[c], m.bit)
  }
  return { n, parent, key, set, dids: members.map(m => m.did), quorum: quorumOfSize(members.length), chainOf, otherThan, change }
}

/** The epoch a block starts from: the highest of its references' (L47). */
export function highestEpoch (epochs: readonly Epoch[]): Epoch {
  let best = epochs[0]
  for (const e of epochs) if (e.n > best.n || (e.n === best.n && e.key < best.key)) best = e
  return best
}

/**
 * The union of the tallies of references in `epoch` (others are of older epochs and do not
 * count). The same object when only one reference has votes, so quiet blocks share it.
 */
export function mergeTallies (epoch: Epoch, refs: ReadonlyArray<{ epoch: Epoch, tally: Tally }>): Tally {
  let out: Tally = null
  let copied = false
  for (const r of refs) {
    if (r.epoch !== epoch || r.tally == null || r.tally === out) continue
    if (out == null) { out = r.tally; continue }
    const merged: Map<string, Bits> = copied ? out as Map<string, Bits> : copyTally(out)
    copied = true
    for (const [k, bits] of r.tally) {
      const mine = merged.get(k)
      if (mine == null) merged.set(k, bits.slice())
      else bitOrInto(mine, bits)
    }
    out = merged
  }
  return out
}

function copyTally (t: ReadonlyMap<string, Bits>): Map<string, Bits> {
  const m = new Map<string, Bits>()
  for (const [k, bits] of t) m.set(k, bits.slice())
  return m
}

/** `tally` with `bit`'s vote for `key` added (a new map: tallies are shared between blocks). */
export function withVote (tally: Tally, key: string, bit: number): Tally {
  if (tally?.get(key) != null && bitHas(tally.get(key) as Bits, bit)) return tally
  const m = tally == null ? new Map<string, Bits>() : copyTally(tally)
  const bits = m.get(key) ?? []
  bitAdd(bits, bit)
  m.set(key, bits)
  return m
}

/** The proposal of the tally with a quorum of the epoch's validators, lowest key first; or null. */
export function decidedProposal (epoch: Epoch, tally: Tally): string | null {
  if (tally == null) return null
  let best: string | null = null
  for (const [k, bits] of tally) {
    if (bitCountAnd(bits, epoch.set) >= epoch.quorum && (best == null || k < best)) best = k
  }
  return best
}

/** Validators that voted for more than one proposal of one epoch (evidence, like double votes). */
export function splitVoters (tally: Tally): Bits {
  return tally == null ? [] : bitsInTwoOrMore(tally.values())
}

/**
 * L48: the epochs whose quorums a block needs — from the lowest epoch of the block, its prev
 * and the blocks it reads up to the highest, along the highest's lineage. Two members of one
 * conflict share a prev (forks) or the block they close (deposits), so their spans share an
 * epoch, and in one epoch two quorums intersect in an honest validator.
 */
export function spanOf (epochs: readonly Epoch[]): readonly Epoch[] {
  const top = highestEpoch(epochs)
  let low = top.n
  for (const e of epochs) low = Math.min(low, e.n)
  if (low === top.n) return [top]
  const out: Epoch[] = []
  for (let e: Epoch | null = top; e != null && e.n >= low; e = e.parent) out.push(e)
  return out
}
