/**
 * The contextual block rules of the ledger engine: what a block must satisfy against the
 * blocks it references, once they are all held (block.ts checks everything that needs no
 * other block). The issuer may write here (L39: a member's first block opens with its join
 * naming enough admissions, or a credential), its chain follows its prev (seq, time, quota
 * L40), parents are not newer nor below max depth (L41), only validators of the block's epoch
 * admit and vote (L27, L46), and transactions hold against those they read (L42).
 * Reads the engine's DAG; changes nothing.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode } from './errors.ts'
import type { LedgerContext, ValidatedBlock } from './block.ts'
import { highestEpoch } from './epochs.ts'
import type { Epoch, Tally } from './epochs.ts'
import { checkMembershipCredential } from './membership-credential.ts'
import { blockOfTx } from './tx.ts'
import type { DepTx, MemberAdmitTx } from './tx.ts'
import type { BlockId, Genesis, TxId } from './types.ts'
import { REJECTED, parseTxId, toLedgerError, validatorOfOwnEpoch } from './engine-node.ts'
import type { Node } from './engine-node.ts'
import type { IssuerChains } from './engine-issuers.ts'
import type { ValidatorEpochs } from './engine-validators.ts'

const E = LedgerErrorCode

/** L40: how much later than its prev a block of `bytes` must be. */
export function quotaGapMs (genesis: Genesis, bytes: number): number {
  return genesis.minBlockIntervalMs + Math.ceil((bytes * 1000) / genesis.bytesPerSecond)
}

/** What a transaction type's `depsOf` and `conflictsOf` are told about the block. */
export function txContextOf (genesis: Genesis, v: ValidatedBlock): { genesis: Genesis, issuer: Did, chain: string } {
  return { genesis, issuer: v.block.issuer, chain: v.block.chain }
}

/** Blocks holding the transactions the block's transactions read (L42), itself excluded. */
export function depIdsOf (ctx: LedgerContext, v: ValidatedBlock): BlockId[] {
  const ids = new Set<BlockId>()
  const tctx = txContextOf(ctx.genesis, v)
  for (const tx of v.block.txs) for (const d of ctx.registry.depsOf(tx, tctx)) ids.add(blockOfTx(d))
  ids.delete(v.id)
  return [...ids]
}

/** Every block the block needs before it can go in: parents, prev and deps, without repeats. */
export function refIdsOf (ctx: LedgerContext, v: ValidatedBlock): BlockId[] {
  const ids = [v.block.parents[0], v.block.parents[1]]
  if (v.block.prev != null) ids.push(v.block.prev)
  return [...new Set([...ids, ...depIdsOf(ctx, v)])]
}

export class ContextRules {
  private readonly genesis: Genesis

  constructor (
    private readonly ctx: LedgerContext,
    private readonly nodes: ReadonlyMap<BlockId, Node>,
    private readonly issuers: IssuerChains,
    private readonly validators: ValidatorEpochs
  ) {
    this.genesis = ctx.genesis
  }

  /**
   * L39, the part that needs no other block: a validator, a block after seq 1 (its chain was
   * checked at seq 1), or a first block that opens with the member's join. Checked before
   * parking, so a stranger's block is neither stored nor parked.
   */
  checkIssuer (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    if (this.validators.has(b.issuer) || b.seq > 1) return null
    if (b.txs.length === 0 || b.txs[0].type !== 'member.join') return new LedgerError(E.NOT_MEMBER, 'a member\'s first block opens with its member.join')
    return null
  }

  /** L39's first check on the bare header (L18: before transactions and signature are checked). */
  readonly admitIssuer = (issuer: string, seq: number, firstTxType: unknown): void => {
    if (seq === 1 && firstTxType !== 'member.join' && !this.validators.has(issuer)) {
      throw new LedgerError(E.NOT_MEMBER, 'a member\'s first block opens with its member.join')
    }
  }

  /** Rules that need the referenced blocks (all known by now). Null when they hold. */
  check (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    const g = this.genesis
    if (b.prev != null) {
      const prev = this.nodes.get(b.prev) as Node
      if (prev.issuer < 0 || this.issuers.dids[prev.issuer] !== b.issuer) return new LedgerError(E.BAD_PREV, 'prev is not a block of the same issuer')
      if (g.chains[prev.chain] !== b.chain) return new LedgerError(E.BAD_PREV, 'an issuer stays on one chain: prev is on another')
      if (b.seq !== prev.seq + 1) return new LedgerError(E.SEQ_GAP, `seq ${b.seq} does not follow prev's seq ${prev.seq}`)
      if (prev.time > b.time) return new LedgerError(E.BAD_PREV, 'prev is newer than the block')
      const gap = quotaGapMs(g, v.bytes.byteLength)
      if (b.time < prev.time + gap) return new LedgerError(E.QUOTA, `a block of ${v.bytes.byteLength} bytes comes at least ${gap} ms after its prev`)
    }
    for (const pid of b.parents) {
      const p = this.nodes.get(pid) as Node
      if (p.time > b.time) return new LedgerError(E.BAD_PARENTS, 'a parent is newer than the block')
      if (p.issuer >= 0 && p.time < b.time - g.maxParentAgeMs) return new LedgerError(E.STALE_PARENTS, 'a parent is below max depth (older than maxParentAgeMs)')
    }
    const governs = b.txs.some(tx => tx.type === 'member.admit' || tx.type === 'validator.vote')
    const epoch = b.seq === 1 || governs ? this.epochFor(v).epoch : null
    // L27, L46: admitting and voting are a validator's, of the epoch the block is in (before its own votes move it)
    if (governs && !this.validators.inSet(this.baseEpoch(v), b.issuer)) return new LedgerError(E.BAD_TX, 'only validators admit members and vote on validators')
    if (b.seq === 1 && epoch != null && !this.validators.inSet(epoch, b.issuer)) {
      const join = this.checkJoin(v)
      if (join != null) return join
    }
    return this.checkDeps(v)
  }

  /** L42: each transaction's rules against the transactions it reads. */
  private checkDeps (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    if (b.txs.every(tx => this.ctx.registry.get(tx.type)?.checkDeps == null)) return null
    const txOf = (txId: TxId): DepTx | undefined => {
      const parsed = parseTxId(txId)
      const n = parsed == null ? undefined : this.nodes.get(parsed.blockId)
      const tx = n == null || parsed == null || n.issuer < 0 ? undefined : n.txs[parsed.index]
      return n == null || tx == null ? undefined : { tx, issuer: this.issuers.dids[n.issuer], chain: this.genesis.chains[n.chain], time: n.time }
    }
    try {
      for (const tx of b.txs) this.ctx.registry.checkDeps(tx, { ...txContextOf(this.genesis, v), time: b.time, txOf })
    } catch (err) {
      return toLedgerError(err)
    }
    return null
  }

  /** L39: the join names enough admissions of this issuer to this chain by distinct validators. */
  private checkJoin (v: ValidatedBlock): LedgerError | null {
    if (this.genesis.admission === 'credential') {
      try {
        checkMembershipCredential(v.block.txs[0].credential, this.genesis, v.block.issuer, v.block.chain, v.block.time)
        return null
      } catch (err) {
        return toLedgerError(err)
      }
    }
    const join = v.block.txs[0] as unknown as { admits: readonly TxId[] }
    const voters = new Set<number>()
    for (const txId of join.admits) {
      const parsed = parseTxId(txId)
      const n = parsed == null ? undefined : this.nodes.get(parsed.blockId)
      const tx = n == null || parsed == null ? undefined : n.txs[parsed.index] as MemberAdmitTx | undefined
      if (n == null || tx == null || tx.type !== 'member.admit' || !validatorOfOwnEpoch(n) || n.status === REJECTED) continue
      if (tx.member !== v.block.issuer || tx.chain !== v.block.chain) continue
      voters.add(n.validator)
    }
    if (voters.size < this.genesis.admitVotes) {
      return new LedgerError(E.NOT_MEMBER, `the join names ${voters.size} of the ${this.genesis.admitVotes} validator admissions it needs`)
    }
    return null
  }

  /** The epoch and tally a validated block will have (L47), before it is inserted. */
  private epochFor (v: ValidatedBlock): { epoch: Epoch, tally: Tally } {
    const b = v.block
    const refs = [...b.parents, ...(b.prev == null ? [] : [b.prev])].map(id => this.nodes.get(id) as Node)
    return this.validators.advance(refs, b.issuer, b.txs, v.id)
  }

  private baseEpoch (v: ValidatedBlock): Epoch {
    const b = v.block
    return highestEpoch([...b.parents, ...(b.prev == null ? [] : [b.prev])].map(id => (this.nodes.get(id) as Node).epoch))
  }
}
