/**
 * The ledger engine's validator registry and epochs (SPEC L46–L52, rules in epochs.ts): every
 * DID that is or was a validator has one bit for good (founders first, then in the order their
 * epochs made them), every epoch is made once and shared by all blocks in it, and a block's
 * epoch follows from its references and its own votes alone (`advance`), so every peer agrees
 * on it. The latest epoch (the highest of any block held) is "the validators" for issuing and
 * for the queries.
 */
import type { Did } from '../identity.ts'
import { bitCount, bitHas, bitIndices } from './bitset.ts'
import { decidedProposal, highestEpoch, makeEpoch, mergeTallies, parseProposalKey, proposalKey, spanOf, splitVoters, withVote } from './epochs.ts'
import type { Epoch, Tally, ValidatorChange, ValidatorVoteTx } from './epochs.ts'
import type { BlockId, Genesis, Tx } from './types.ts'
import type { ValidatorProposal } from './engine-types.ts'

/** What `advance` reads of a referenced block. */
export interface EpochRef {
  readonly epoch: Epoch
  readonly tally: Tally
}

export class ValidatorEpochs {
  /** Everyone who is or was a validator: DID → bit. */
  private readonly vbit = new Map<string, number>()
  /** The same map, read-only (checkpoint-engine.ts reads it through the engine). */
  readonly bits: ReadonlyMap<string, number> = this.vbit
  private readonly dids: Did[] = []
  /** Epochs by key, so every block of one epoch shares one object. */
  private readonly byKey = new Map<string, Epoch>()
  private readonly ownSpan = new Map<Epoch, readonly Epoch[]>()
  /** Epoch 0: the genesis founders. */
  readonly first: Epoch
  private latestEpoch: Epoch

  constructor (private readonly genesis: Genesis) {
    const founders = genesis.founders.map(f => ({ bit: this.register(f.did), did: f.did, chain: genesis.chains.indexOf(f.chain) }))
    this.first = makeEpoch(0, null, 'g', founders, genesis.chains.length, null)
    this.byKey.set(this.first.key, this.first)
    this.latestEpoch = this.first
  }

  /** The highest epoch of any block held (ties: the lowest key). */
  get latest (): Epoch {
    return this.latestEpoch
  }

  /** Notes the epoch of a block just made: it may be the new latest. */
  note (epoch: Epoch): void {
    const latest = this.latestEpoch
    if (epoch.n > latest.n || (epoch.n === latest.n && epoch.key < latest.key)) this.latestEpoch = epoch
  }

  /** The validator's bit, registering it if it is new. */
  register (did: Did): number {
    let bit = this.vbit.get(did)
    if (bit == null) {
      bit = this.dids.length
      this.dids.push(did)
      this.vbit.set(did, bit)
    }
    return bit
  }

  /** The bit of a DID that is or was a validator. */
  bitOf (did: string): number | undefined {
    return this.vbit.get(did)
  }

  /** A validator of some epoch. */
  has (did: string): boolean {
    return this.vbit.has(did)
  }

  didOf (bit: number): Did {
    return this.dids[bit]
  }

  inSet (epoch: Epoch, did: string): boolean {
    const bit = this.vbit.get(did)
    return bit != null && bitHas(epoch.set, bit)
  }

  /**
   * L47: the highest epoch of the references; the block's own votes of that epoch (if it is
   * one of its validators) join the tally, and a proposal with the epoch's quorum moves it on.
   */
  advance (refs: readonly EpochRef[], issuer: Did, txs: readonly Tx[], id: BlockId): { epoch: Epoch, tally: Tally } {
    const base = highestEpoch(refs.map(r => r.epoch))
    let tally = mergeTallies(base, refs)
    const bit = this.vbit.get(issuer)
    if (bit != null && bitHas(base.set, bit)) {
      for (const tx of txs) {
        if (tx.type !== 'validator.vote') continue
        const vote = tx as ValidatorVoteTx
        if (vote.epoch === base.n && this.proposalValid(base, vote)) tally = withVote(tally, proposalKey(vote), bit)
      }
    }
    const decided = decidedProposal(base, tally)
    return decided == null ? { epoch: base, tally } : { epoch: this.nextEpoch(base, decided, id), tally: null }
  }

  /** L48: the epochs a block of `epoch` needs quorums of, given its prev's and its deps' epochs. */
  spanFor (epoch: Epoch, prev: EpochRef | null, deps: readonly EpochRef[]): readonly Epoch[] {
    const around = [epoch, ...(prev == null ? [] : [prev.epoch]), ...deps.map(d => d.epoch)]
    return around.every(e => e === epoch) ? this.spanOfOne(epoch) : spanOf(around)
  }

  /** The chain a validator of the latest epoch validates on (its index in genesis.chains). */
  chainIndexOf (did: string): number | undefined {
    const bit = this.vbit.get(did)
    return bit == null ? undefined : this.latestEpoch.chainOf.get(bit)
  }

  /** The changes that led to the latest epoch, oldest first (L47). */
  changes (): Array<ValidatorChange & { readonly epoch: number }> {
    const out: Array<ValidatorChange & { epoch: number }> = []
    for (let e: Epoch | null = this.latestEpoch; e?.change != null; e = e.parent) out.unshift({ ...e.change, epoch: e.n })
    return out
  }

  /**
   * Open proposals of the latest epoch with their voters: the union of the tips' tallies (the
   * tips' past cones hold every block).
   */
  proposals (tips: Iterable<EpochRef>): ValidatorProposal[] {
    const latest = this.latestEpoch
    const inLatest = [...tips].filter(n => n.epoch === latest)
    const tally = mergeTallies(latest, inLatest)
    if (tally == null) return []
    const split = splitVoters(tally)
    return [...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, bits]) => {
      const { action, did, chain } = parseProposalKey(key)
      return {
        action,
        did,
        chain,
        voters: bitIndices(bits).filter(b => bitHas(latest.set, b) && !bitHas(split, b)).map(b => this.dids[b]).sort(),
        quorum: latest.quorum,
        epoch: latest.n
      }
    })
  }

  private spanOfOne (epoch: Epoch): readonly Epoch[] {
    let s = this.ownSpan.get(epoch)
    if (s == null) { s = [epoch]; this.ownSpan.set(epoch, s) }
    return s
  }

  /**
   * L46: a proposal counts only if it changes the set and leaves it able to work: an addition
   * of a non-validator, or a removal that leaves enough validators to admit (admitVotes) and
   * to approve cross-chain blocks (crossChainApprovals outside each chain).
   */
  private proposalValid (epoch: Epoch, vote: Pick<ValidatorVoteTx, 'action' | 'did' | 'chain'>): boolean {
    const g = this.genesis
    const inside = this.inSet(epoch, vote.did)
    if (vote.action === 'add') return !inside && g.chains.includes(vote.chain)
    if (!inside || epoch.dids.length - 1 < Math.max(1, g.admitVotes)) return false
    const gone = this.vbit.get(vote.did) as number
    if (g.chains[epoch.chainOf.get(gone) as number] !== vote.chain) return false
    const chains = g.chains.length
    if (chains < 2 || g.crossChainApprovals === 0) return true
    for (let c = 0; c < chains; c++) {
      const others = bitCount(epoch.otherThan[c]) - (bitHas(epoch.otherThan[c], gone) ? 1 : 0)
      if (others > 0 && others < g.crossChainApprovals) return false
    }
    return true
  }

  private nextEpoch (base: Epoch, proposal: string, decidedIn: BlockId): Epoch {
    const key = `${base.key}|${proposal}`
    const known = this.byKey.get(key)
    if (known != null) return known
    const { action, did, chain } = parseProposalKey(proposal)
    const members = base.dids.map(d => {
      const bit = this.vbit.get(d) as number
      return { bit, did: d, chain: base.chainOf.get(bit) as number }
    }).filter(m => action === 'add' || m.did !== did)
    if (action === 'add') members.push({ bit: this.register(did), did, chain: this.genesis.chains.indexOf(chain) })
    const change: ValidatorChange = { action, did, chain, decidedIn }
    const epoch = makeEpoch(base.n + 1, base, key, members, this.genesis.chains.length, change)
    this.byKey.set(key, epoch)
    return epoch
  }
}
