/**
 * The ledger engine: an in-memory DAG fed with blocks, pure and synchronous (no I/O, no
 * clock: `now` comes in with each call). It validates blocks, parks orphans until what they
 * reference arrives, keeps each block's validator weight (the validators whose blocks approve
 * it directly or indirectly), confirms blocks above two thirds of the validators, resolves
 * conflicts (forks of one issuer, two closings of one deposit) by that quorum, and applies
 * each confirmed block to the state once.
 *
 * Why it is final (SPEC.md L23–L26): a block confirms when more than 2/3 of the validators
 * approve it, its `prev` is confirmed and the blocks it reads (`deps`) are decided. Of two
 * conflicting blocks only one can reach that quorum unless more than a third of the
 * validators approve both — which `doubleVotes()` proves. Balances are written only by their
 * owner's chain (credits are claims the recipient receives), so the state does not depend on
 * the order in which peers confirm blocks: no later block can reorder what is confirmed.
 *
 * Validators change by vote (epochs.ts, L46–L52): each block is judged by the validator set of
 * its epoch, a function of its past cone, and needs the quorum of every epoch from its prev's
 * (and the blocks it reads) to its own — so confirmation stays deterministic across a change.
 *
 * Costs: only validators' blocks propagate weight; a validator's bit walks up until it meets
 * an ancestor that already has it, so all weight work over a ledger is O(blocks × validators)
 * and a member's block costs O(1) weight work, however new its issuer.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode, isLedgerError } from './errors.ts'
import { blockIdOf, createLedgerContext, validateBlockBytes, BLOCK_LIMITS } from './block.ts'
import type { LedgerContext, ValidatedBlock } from './block.ts'
import { bitAnd, bitCount, bitCountAnd, bitCountAndNot, bitHas, bitIndices, bitsInTwoOrMore, bitWith } from './bitset.ts'
import type { Bits } from './bitset.ts'
import { decidedProposal, highestEpoch, makeEpoch, mergeTallies, parseProposalKey, proposalKey, spanOf, splitVoters, withVote } from './epochs.ts'
import type { Epoch, Tally, ValidatorChange, ValidatorVoteTx } from './epochs.ts'
import { checkMembershipCredential } from './membership-credential.ts'
import { LedgerState } from './state.ts'
import type { StateEntries, StateReader, UndoEntry } from './state.ts'
import { admitFounder, balanceOf, blockOfTx, claimOf, escrowOf, memberOf, NS } from './tx.ts'
import type { ClaimRecord, DepTx, EscrowRecord, MemberAdmitTx, MemberRecord, TxApplyContext, TxOutcome } from './tx.ts'
import type { AllianceId, BlockId, BlockStatus, Genesis, LedgerValue, Tx, TxId, TxStatus } from './types.ts'
import { compareNodes, NodeHeap } from './node-heap.ts'
import type {
  AddOptions, AddResult, BatchResult, BlockInfo, BlockRejectReason, BlockTemplate, DoubleVote, Equivocation,
  LedgerEngineOptions, LedgerSnapshot, LedgerStats, ParkedOrphan, SnapshotBlock, StoredBlockRef, TxResult
} from './engine-types.ts'

export type * from './engine-types.ts'

const E = LedgerErrorCode

const PENDING = 0
const CONFIRMED = 1
const REJECTED = 2
type Status = typeof PENDING | typeof CONFIRMED | typeof REJECTED
const STATUS_NAMES: readonly BlockStatus[] = ['pending', 'confirmed', 'rejected']

export const DEFAULT_MAX_ORPHANS = 4096
export const DEFAULT_MAX_ORPHAN_BYTES = 16 * 1024 * 1024

interface Node {
  readonly id: BlockId
  /** Insertion index (0 = genesis); insertion order is topological. */
  readonly index: number
  /** Issuer index; -1 for the genesis. */
  readonly issuer: number
  /** The issuer's bit in the validator registry if it is or was a validator when inserted, or -1. */
  readonly validator: number
  /** The validator set that judges it (L47). */
  readonly epoch: Epoch
  /** Votes of its epoch in its past cone (shared between blocks; null: none). */
  readonly tally: Tally
  /** Epochs whose quorums it needs (L48): usually just its own. */
  readonly span: readonly Epoch[]
  readonly seq: number
  /** Chain index; -1 for the genesis. */
  readonly chain: number
  readonly time: number
  readonly depth: number
  readonly bytes: number
  readonly parents: readonly Node[]
  readonly prev: Node | null
  /** Parents and prev, without repeats: the approval edges. */
  readonly refs: readonly Node[]
  /** Blocks holding the transactions this block's transactions read. */
  readonly deps: readonly Node[]
  /** Replaced, not pushed to, to stay at exact size (memory per block). */
  children: readonly Node[]
  dependents: readonly Node[]
  /** Validators with a block in this block's future cone (its own included). */
  weight: Bits
  status: Status
  reason: BlockRejectReason | null
  readonly txs: readonly Tx[]
  readonly crossChain: boolean
  /** Conflict keys besides its fork: objects its transactions close. */
  readonly closes: readonly string[]
  applied: boolean
}

interface Orphan {
  readonly v: ValidatedBlock
  readonly missing: Set<BlockId>
  /** Of an issuer with no block here, after seq 1 (L39): kept apart, few, and never persisted. */
  readonly stranger: boolean
}

/** L39: blocks after seq 1 of issuers with no block here, held at most (oldest evicted first). */
export const MAX_STRANGER_ORPHANS = 64
export const MAX_STRANGER_ORPHAN_BYTES = 1024 * 1024

/** Splits `${blockId}/${index}`. */
export function parseTxId (txId: string): { blockId: BlockId, index: number } | null {
  if (typeof txId !== 'string') return null
  const at = txId.lastIndexOf('/')
  if (at <= 0) return null
  const index = Number(txId.slice(at + 1))
  if (!Number.isInteger(index) || index < 0 || String(index) !== txId.slice(at + 1)) return null
  return { blockId: txId.slice(0, at) as BlockId, index }
}

export function txIdOf (blockId: BlockId, index: number): TxId {
  return `${blockId}/${index}` as TxId
}

export class LedgerEngine {
  readonly ctx: LedgerContext
  readonly genesis: Genesis
  readonly allianceId: AllianceId
  private readonly maxOrphans: number
  private readonly maxOrphanBytes: number
  private orphanBytes = 0
  /** Stranger orphans in arrival order, and their bytes (also in `orphans`/`orphanBytes`). */
  private readonly strangerIds = new Set<BlockId>()
  private strangerBytes = 0

  private readonly nodes = new Map<BlockId, Node>()
  private readonly order: Node[] = []
  private readonly genesisNode: Node
  private readonly tipSet = new Set<Node>()
  private readonly pendingSet = new Set<Node>()
  private maxDepth = 0

  private readonly issuers: Did[] = []
  private readonly issuerIndex = new Map<string, number>()
  /** Highest seq seen per issuer index. */
  private readonly maxSeq: number[] = []
  /** Blocks per status (pending, confirmed, rejected), genesis excluded. */
  private readonly counts = [0, 0, 0]
  /** Everyone who is or was a validator: DID → bit (founders first, then in order of their epochs). */
  private readonly vbit = new Map<string, number>()
  private readonly vdids: Did[] = []
  /** Epochs by key, so every block of one epoch shares one object. */
  private readonly epochs = new Map<string, Epoch>()
  private readonly epoch0: Epoch
  /** The highest epoch of any block held: its set is "the validators" for issuing and queries. */
  private latest: Epoch
  private readonly ownSpan = new Map<Epoch, readonly Epoch[]>()

  /** Blocks by slot (issuer, seq): almost always one, so a list is made only for a second. */
  private readonly slotFirst = new Map<string, Node>()
  private readonly slotMulti = new Map<string, Node[]>()
  /** Conflict groups by key (forks `f:issuer:prev`, closings `escrow:…`), same scheme. */
  private readonly groupFirst = new Map<string, Node>()
  private readonly groupMulti = new Map<string, Node[]>()
  private readonly winners = new Map<string, Node | null>()

  /** Validators' admissions by member DID: (block, tx index), so lookups cost O(its admissions). */
  private readonly admissions = new Map<string, Array<{ node: Node, index: number }>>()
  private readonly orphans = new Map<BlockId, Orphan>()
  private readonly waiting = new Map<BlockId, Set<BlockId>>()

  private state: LedgerState
  /** Set by a checkpoint join (checkpoint-engine.ts): a block at or below its issuer's cut head is known (S16). */
  belowCut: ((issuer: string, seq: number) => boolean) | null = null
  private applied: Node[] = []
  private fullReplays = 0
  /** Ancestors visited by weight propagation, in all: O(blocks × validators) (L21). */
  private weightWork = 0

  // per-batch scratch
  private dirty = new Set<Node>()
  private dirtyGroups = new Set<string>()

  constructor (genesis: Genesis | LedgerContext, options: LedgerEngineOptions = {}) {
    this.ctx = 'allianceId' in genesis
      ? (options.registry != null ? createLedgerContext(genesis.genesis, options.registry) : genesis)
      : createLedgerContext(genesis, options.registry)
    this.genesis = this.ctx.genesis
    this.allianceId = this.ctx.allianceId
    this.maxOrphans = options.maxOrphans ?? DEFAULT_MAX_ORPHANS
    this.maxOrphanBytes = options.maxOrphanBytes ?? DEFAULT_MAX_ORPHAN_BYTES
    if (!Number.isInteger(this.maxOrphans) || this.maxOrphans < 0) throw new RangeError('maxOrphans must be a non-negative integer')
    if (!(this.maxOrphanBytes >= 0)) throw new RangeError('maxOrphanBytes must be >= 0')
    const founders = this.genesis.founders.map(f => {
      this.intern(f.did)
      return { bit: this.registerValidator(f.did), did: f.did, chain: this.genesis.chains.indexOf(f.chain) }
    })
    this.epoch0 = makeEpoch(0, null, 'g', founders, this.genesis.chains.length, null)
    this.epochs.set(this.epoch0.key, this.epoch0)
    this.latest = this.epoch0
    this.genesisNode = {
      id: this.allianceId, index: 0, issuer: -1, validator: -1, epoch: this.epoch0, tally: null, span: [this.epoch0], seq: 0, chain: -1, time: this.genesis.time, depth: 0, bytes: 0,
      parents: [], prev: null, refs: [], deps: [], children: [], dependents: [], weight: [], status: CONFIRMED, reason: null,
      txs: [], crossChain: false, closes: [], applied: true
    }
    this.nodes.set(this.allianceId, this.genesisNode)
    this.order.push(this.genesisNode)
    this.tipSet.add(this.genesisNode)
    this.state = this.genesisState()
  }

  /** Validators whose approval confirms a block of the latest epoch: more than two thirds. */
  get quorum (): number {
    return this.latest.quorum
  }

  private registerValidator (did: Did): number {
    let bit = this.vbit.get(did)
    if (bit == null) {
      bit = this.vdids.length
      this.vdids.push(did)
      this.vbit.set(did, bit)
    }
    return bit
  }

  private genesisState (): LedgerState {
    const s = new LedgerState()
    for (const f of this.genesis.founders) admitFounder(s, f.did, f.chain, this.genesis.allocation)
    return s
  }

  // ------------------------------------------------------------------------------------------
  // Ingestion

  /** Adds one block from the network (or the store with `trusted`). */
  add (bytes: Uint8Array, opts: AddOptions): BatchResult {
    return this.addMany([bytes], opts)
  }

  /**
   * Adds blocks in one batch: each is validated and inserted or parked; confirmation runs once
   * at the end (much cheaper than one by one). Never throws for bad input.
   */
  addMany (items: readonly Uint8Array[], opts: AddOptions): BatchResult {
    if (typeof opts?.now !== 'number' || !Number.isFinite(opts.now)) throw new TypeError('opts.now must be a number (ms)')
    const batch = newBatch()
    for (const bytes of items) batch.results.push(this.ingest(bytes, opts, batch))
    return this.finish(batch)
  }

  /**
   * Adds blocks validated elsewhere (`validateBlockBytes` in a Worker, with this alliance's
   * context). The caller vouches for the validation; contextual checks still run here.
   */
  addValidated (items: readonly ValidatedBlock[]): BatchResult {
    const batch = newBatch()
    for (const v of items) {
      if (this.nodes.has(v.id) || this.orphans.has(v.id)) {
        batch.results.push({ kind: 'rejected', id: v.id, error: new LedgerError(E.DUPLICATE, 'block already known') })
      } else if (v.block.alliance !== this.allianceId) {
        batch.results.push({ kind: 'rejected', id: v.id, error: new LedgerError(E.WRONG_ALLIANCE, 'block is for another alliance') })
      } else {
        batch.results.push(this.place(v, batch))
      }
    }
    return this.finish(batch)
  }

  private ingest (bytes: Uint8Array, opts: AddOptions, batch: MutableBatch): AddResult {
    if (!(bytes instanceof Uint8Array)) return { kind: 'rejected', id: null, error: new LedgerError(E.MALFORMED, 'a block must be bytes') }
    if (bytes.byteLength > BLOCK_LIMITS.maxBytes) return { kind: 'rejected', id: null, error: new LedgerError(E.TOO_LARGE, `block of ${bytes.byteLength} bytes is over ${BLOCK_LIMITS.maxBytes}`) }
    const id = blockIdOf(bytes)
    if (this.nodes.has(id) || this.orphans.has(id)) return { kind: 'rejected', id, error: new LedgerError(E.DUPLICATE, 'block already known') }
    let v: ValidatedBlock
    try {
      v = validateBlockBytes(bytes, this.ctx, { now: opts.now, trusted: opts.trusted, signatureChecked: opts.signatureChecked, id, admitIssuer: this.admitIssuer })
    } catch (err) {
      return { kind: 'rejected', id, error: toLedgerError(err) }
    }
    return this.place(v, batch)
  }

  private place (v: ValidatedBlock, batch: MutableBatch): AddResult {
    if (this.belowCut?.(v.block.issuer, v.block.seq) === true) return { kind: 'rejected', id: v.id, error: new LedgerError(E.DUPLICATE, 'covered by the checkpoint this engine joined from (S16)') }
    const early = this.checkIssuer(v)
    if (early != null) return { kind: 'rejected', id: v.id, error: early }
    const missing = this.refIds(v).filter(r => !this.nodes.has(r))
    if (missing.length > 0) {
      this.park(v, missing, batch, this.isStranger(v))
      return { kind: 'orphan', id: v.id, code: E.MISSING_PARENTS, missing }
    }
    const error = this.checkContext(v)
    if (error != null) return { kind: 'rejected', id: v.id, error }
    this.insert(v, batch)
    this.cascade(v.id, batch)
    return { kind: 'inserted', id: v.id }
  }

  private txCtx (v: ValidatedBlock): { genesis: Genesis, issuer: Did, chain: string } {
    return { genesis: this.genesis, issuer: v.block.issuer, chain: v.block.chain }
  }

  private depIds (v: ValidatedBlock): BlockId[] {
    const ids = new Set<BlockId>()
    const ctx = this.txCtx(v)
    for (const tx of v.block.txs) for (const d of this.ctx.registry.depsOf(tx, ctx)) ids.add(blockOfTx(d))
    ids.delete(v.id)
    return [...ids]
  }

  private refIds (v: ValidatedBlock): BlockId[] {
    const ids = [v.block.parents[0], v.block.parents[1]]
    if (v.block.prev != null) ids.push(v.block.prev)
    return [...new Set([...ids, ...this.depIds(v)])]
  }

  /**
   * L39, the part that needs no other block: a validator, a block after seq 1 (its chain was
   * checked at seq 1), or a first block that opens with the member's join. Checked before
   * parking, so a stranger's block is neither stored nor parked.
   */
  private checkIssuer (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    if (this.vbit.has(b.issuer) || b.seq > 1) return null
    if (b.txs.length === 0 || b.txs[0].type !== 'member.join') return new LedgerError(E.NOT_MEMBER, 'a member\'s first block opens with its member.join')
    return null
  }

  /** L39's first check on the bare header (L18: before transactions and signature are checked). */
  private readonly admitIssuer = (issuer: string, seq: number, firstTxType: unknown): void => {
    if (seq === 1 && firstTxType !== 'member.join' && !this.vbit.has(issuer)) {
      throw new LedgerError(E.NOT_MEMBER, 'a member\'s first block opens with its member.join')
    }
  }

  /** Rules that need the referenced blocks (all known by now). Null when they hold. */
  private checkContext (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    const g = this.genesis
    if (b.prev != null) {
      const prev = this.nodes.get(b.prev) as Node
      if (prev.issuer < 0 || this.issuers[prev.issuer] !== b.issuer) return new LedgerError(E.BAD_PREV, 'prev is not a block of the same issuer')
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
    if (governs && !this.inSet(this.baseEpoch(v), b.issuer)) return new LedgerError(E.BAD_TX, 'only validators admit members and vote on validators')
    if (b.seq === 1 && epoch != null && !this.inSet(epoch, b.issuer)) {
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
      return n == null || tx == null ? undefined : { tx, issuer: this.issuers[n.issuer], chain: this.genesis.chains[n.chain], time: n.time }
    }
    try {
      for (const tx of b.txs) this.ctx.registry.checkDeps(tx, { ...this.txCtx(v), time: b.time, txOf })
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

  /**
   * L39: a block after seq 1 whose issuer has no block here and whose prev is not its own
   * parked block: maybe a new member's block that overtook its join, maybe a fresh key's junk.
   */
  private isStranger (v: ValidatedBlock): boolean {
    const b = v.block
    if (b.seq <= 1 || this.vbit.has(b.issuer) || this.issuerIndex.has(b.issuer)) return false
    const prev = b.prev == null ? undefined : this.orphans.get(b.prev)
    return prev == null || prev.v.block.issuer !== b.issuer || prev.stranger
  }

  private park (v: ValidatedBlock, missing: readonly BlockId[], batch: MutableBatch, stranger: boolean): void {
    const size = v.bytes.byteLength
    const [cap, capBytes] = stranger ? [MAX_STRANGER_ORPHANS, MAX_STRANGER_ORPHAN_BYTES] : [this.maxOrphans, this.maxOrphanBytes]
    if (cap === 0 || size > capBytes) {
      batch.dropped.push({ id: v.id })
      return
    }
    // strangers evict only strangers, so a flood of them never pushes out a member's orphan
    const count = (): number => stranger ? this.strangerIds.size : this.orphans.size - this.strangerIds.size
    const bytes = (): number => stranger ? this.strangerBytes : this.orphanBytes - this.strangerBytes
    while (count() >= cap || bytes() + size > capBytes) {
      const oldest = stranger ? this.strangerIds.values().next().value as BlockId : this.oldestMemberOrphan()
      this.unpark(oldest)
      batch.dropped.push({ id: oldest })
    }
    this.orphans.set(v.id, { v, missing: new Set(missing), stranger })
    this.orphanBytes += size
    if (stranger) {
      this.strangerIds.add(v.id)
      this.strangerBytes += size
    }
    for (const m of missing) {
      let set = this.waiting.get(m)
      if (set == null) { set = new Set(); this.waiting.set(m, set) }
      set.add(v.id)
    }
    // a stranger's orphan is not persisted: if it was a member's, sync brings it again
    if (!stranger) batch.parked.push({ id: v.id, bytes: v.bytes, missing })
  }

  private oldestMemberOrphan (): BlockId {
    for (const id of this.orphans.keys()) if (!this.strangerIds.has(id)) return id
    throw new Error('no orphan to evict')
  }

  private forgetOrphan (id: BlockId, o: Orphan): void {
    this.orphans.delete(id)
    this.orphanBytes -= o.v.bytes.byteLength
    if (o.stranger) {
      this.strangerIds.delete(id)
      this.strangerBytes -= o.v.bytes.byteLength
    }
  }

  private unpark (id: BlockId): Orphan | undefined {
    const o = this.orphans.get(id)
    if (o == null) return undefined
    this.forgetOrphan(id, o)
    for (const m of o.missing) {
      const set = this.waiting.get(m)
      set?.delete(id)
      if (set?.size === 0) this.waiting.delete(m)
    }
    return o
  }

  /** Inserts orphans whose last missing reference just arrived, transitively. */
  private cascade (arrived: BlockId, batch: MutableBatch): void {
    const queue = [arrived]
    while (queue.length > 0) {
      const id = queue.pop() as BlockId
      const waiters = this.waiting.get(id)
      if (waiters == null) continue
      this.waiting.delete(id)
      for (const oid of [...waiters].sort()) {
        const o = this.orphans.get(oid)
        if (o == null) continue
        o.missing.delete(id)
        if (o.missing.size > 0) continue
        this.forgetOrphan(oid, o)
        const error = this.checkContext(o.v)
        if (error != null) {
          batch.dropped.push({ id: oid, error })
          continue
        }
        this.insert(o.v, batch)
        queue.push(oid)
      }
    }
  }

  private intern (did: Did): number {
    let i = this.issuerIndex.get(did)
    if (i == null) {
      i = this.issuers.length
      this.issuers.push(did)
      this.issuerIndex.set(did, i)
      this.maxSeq.push(0)
    }
    return i
  }

  private insert (v: ValidatedBlock, batch: MutableBatch): void {
    const b = v.block
    const parents = b.parents.map(p => this.nodes.get(p) as Node)
    const prev = b.prev == null ? null : this.nodes.get(b.prev) as Node
    const deps = this.depIds(v).map(d => this.nodes.get(d) as Node)
    const ctx = this.txCtx(v)
    const closes = this.newClosings(this.intern(b.issuer), b.seq, b.txs.flatMap(tx => this.ctx.registry.conflictsOf(tx, ctx)))
    const node = this.makeNode(v.id, this.intern(b.issuer), b.seq, this.genesis.chains.indexOf(b.chain), b.time, v.bytes.byteLength,
      parents, prev, deps, this.internTxs(b.txs), v.crossChain, closes, PENDING, null, [])
    this.link(node)
    const refs: BlockId[] = b.parents[0] === b.parents[1] ? [b.parents[0]] : [b.parents[0], b.parents[1]]
    if (b.prev != null && !refs.includes(b.prev)) refs.push(b.prev)
    batch.inserted.push({ id: v.id, bytes: v.bytes, issuer: b.issuer, seq: b.seq, refs })
    if (node.validator >= 0) {
      node.weight = bitWith(node.weight, node.validator)
      this.propagate(node.validator, node.refs)
    }
  }

  private makeNode (
    id: BlockId, issuer: number, seq: number, chain: number, time: number, bytes: number, parents: Node[], prev: Node | null, deps: Node[],
    txs: readonly Tx[], crossChain: boolean, closes: readonly string[], status: Status, reason: BlockRejectReason | null, weight: Bits
  ): Node {
    const refs = [...new Set(prev == null ? parents : [...parents, prev])]
    let depth = 0
    for (const r of refs) depth = Math.max(depth, r.depth)
    const { epoch, tally } = this.advance(refs, this.issuers[issuer], txs, id)
    if (epoch.n > this.latest.n || (epoch.n === this.latest.n && epoch.key < this.latest.key)) this.latest = epoch
    const around = [epoch, ...(prev == null ? [] : [prev.epoch]), ...deps.map(d => d.epoch)]
    const span = around.every(e => e === epoch) ? this.spanOfOne(epoch) : spanOf(around)
    return {
      id, index: this.order.length, issuer, validator: this.vbit.get(this.issuers[issuer]) ?? -1, epoch, tally, span, seq, chain, time,
      depth: depth + 1, bytes, parents, prev, refs, deps, children: [], dependents: [], weight, status, reason, txs, crossChain, closes, applied: false
    }
  }

  private spanOfOne (epoch: Epoch): readonly Epoch[] {
    let s = this.ownSpan.get(epoch)
    if (s == null) { s = [epoch]; this.ownSpan.set(epoch, s) }
    return s
  }

  private inSet (epoch: Epoch, did: string): boolean {
    const bit = this.vbit.get(did)
    return bit != null && bitHas(epoch.set, bit)
  }

  /** The epoch and tally a validated block will have (L47), before it is inserted. */
  private epochFor (v: ValidatedBlock): { epoch: Epoch, tally: Tally } {
    const b = v.block
    const refs = [...b.parents, ...(b.prev == null ? [] : [b.prev])].map(id => this.nodes.get(id) as Node)
    return this.advance(refs, b.issuer, b.txs, v.id)
  }

  private baseEpoch (v: ValidatedBlock): Epoch {
    const b = v.block
    return highestEpoch([...b.parents, ...(b.prev == null ? [] : [b.prev])].map(id => (this.nodes.get(id) as Node).epoch))
  }

  /**
   * L47: the highest epoch of the references; the block's own votes of that epoch (if it is
   * one of its validators) join the tally, and a proposal with the epoch's quorum moves it on.
   */
  private advance (refs: readonly Node[], issuer: Did, txs: readonly Tx[], id: BlockId): { epoch: Epoch, tally: Tally } {
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

  /**
   * L46: a proposal counts only if it changes the set and leaves it able to work: an addition
   * of a non-validator, or a removal that leaves enough validators to admit (admitVotes) and
   * to approve cross-chain blocks (crossChainApprovals outside each chain).
   */
  private proposalValid (epoch: Epoch, vote: Pick<ValidatorVoteTx, 'action' | 'did' | 'chain'>): boolean {
    const inside = this.inSet(epoch, vote.did)
    if (vote.action === 'add') return !inside && this.genesis.chains.includes(vote.chain)
    if (!inside || epoch.dids.length - 1 < Math.max(1, this.genesis.admitVotes)) return false
    const gone = this.vbit.get(vote.did) as number
    if (this.genesis.chains[epoch.chainOf.get(gone) as number] !== vote.chain) return false
    const chains = this.genesis.chains.length
    if (chains < 2 || this.genesis.crossChainApprovals === 0) return true
    for (let c = 0; c < chains; c++) {
      const others = bitCount(epoch.otherThan[c]) - (bitHas(epoch.otherThan[c], gone) ? 1 : 0)
      if (others > 0 && others < this.genesis.crossChainApprovals) return false
    }
    return true
  }

  private nextEpoch (base: Epoch, proposal: string, decidedIn: BlockId): Epoch {
    const key = `${base.key}|${proposal}`
    const known = this.epochs.get(key)
    if (known != null) return known
    const { action, did, chain } = parseProposalKey(proposal)
    const members = base.dids.map(d => {
      const bit = this.vbit.get(d) as number
      return { bit, did: d, chain: base.chainOf.get(bit) as number }
    }).filter(m => action === 'add' || m.did !== did)
    if (action === 'add') members.push({ bit: this.registerValidator(did), did, chain: this.genesis.chains.indexOf(chain) })
    const change: ValidatorChange = { action, did, chain, decidedIn }
    const epoch = makeEpoch(base.n + 1, base, key, members, this.genesis.chains.length, change)
    this.epochs.set(key, epoch)
    return epoch
  }

  /** L48: validators of every epoch of its span reach that epoch's quorum. */
  private hasQuorum (n: Node): boolean {
    for (const e of n.span) if (bitCountAnd(n.weight, e.set) < e.quorum) return false
    return true
  }

  /**
   * Transactions as kept in memory: strings equal to a known issuer's DID, a chain name or
   * the type share one string (decoding makes a copy per occurrence, ~100 bytes a block).
   */
  private internTxs (txs: readonly Tx[]): readonly Tx[] {
    return txs.map(tx => {
      const out: Record<string, LedgerValue> = {}
      for (const k of Object.keys(tx)) {
        const v = tx[k]
        if (typeof v !== 'string') { out[k] = v; continue }
        if (k === 'type') { out[k] = this.ctx.registry.get(v)?.type ?? v; continue }
        const i = this.issuerIndex.get(v)
        const c = i == null ? this.genesis.chains.indexOf(v) : -1
        out[k] = i != null ? this.issuers[i] : c >= 0 ? this.genesis.chains[c] : v
      }
      return out as Tx
    })
  }

  /** Registers a node in the indexes (shared by insert and restore). */
  private link (node: Node): void {
    this.nodes.set(node.id, node)
    this.order.push(node)
    for (const r of node.refs) {
      r.children = r.children.length === 0 ? [node] : [...r.children, node]
      this.tipSet.delete(r)
    }
    for (const d of node.deps) d.dependents = [...d.dependents, node]
    if (validatorOfOwnEpoch(node)) {
      node.txs.forEach((tx, index) => {
        if (tx.type !== 'member.admit' || typeof tx.member !== 'string') return
        const list = this.admissions.get(tx.member) ?? []
        list.push({ node, index })
        this.admissions.set(tx.member, list)
      })
    }
    this.tipSet.add(node)
    if (node.status === PENDING) this.pendingSet.add(node)
    this.counts[node.status]++
    if (node.seq > this.maxSeq[node.issuer]) this.maxSeq[node.issuer] = node.seq
    if (node.depth > this.maxDepth) this.maxDepth = node.depth
    const slot = `${node.issuer}:${node.seq}`
    const inSlot = this.slotFirst.get(slot)
    if (inSlot == null) this.slotFirst.set(slot, node)
    else this.slotMulti.set(slot, [...(this.slotMulti.get(slot) ?? [inSlot]), node])
    for (const key of this.groupsOf(node)) {
      const first = this.groupFirst.get(key)
      if (first == null) { this.groupFirst.set(key, node); continue }
      this.groupMulti.set(key, [...(this.groupMulti.get(key) ?? [first]), node])
      this.dirtyGroups.add(key)
    }
    this.dirty.add(node)
  }

  /**
   * The objects a block closes that make it a conflict member (L24). A later block of an
   * issuer that already has a closing of the object earlier in its chain is not one: its
   * own chain orders the two, so its transaction simply fails at apply (the object is closed)
   * instead of its block — and the issuer's chain after it — being rejected.
   */
  private newClosings (issuer: number, seq: number, keys: readonly string[]): string[] {
    return [...new Set(keys)].filter(key => {
      const first = this.groupFirst.get(key)
      const members = this.groupMulti.get(key) ?? (first == null ? [] : [first])
      return !members.some(m => m.issuer === issuer && m.seq < seq)
    })
  }

  /** The conflict groups of a block: its fork (issuer, prev) and the objects it closes. */
  private groupsOf (n: Node): string[] {
    if (n.issuer < 0) return []
    const fork = `f:${n.issuer}:${n.prev?.index ?? -1}`
    return n.closes.length === 0 ? [fork] : [fork, ...n.closes]
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
      this.weightWork++
      if (a.issuer < 0 || bitHas(a.weight, v)) continue
      a.weight = bitWith(a.weight, v)
      this.dirty.add(a)
      if (this.groupMulti.size > 0) for (const key of this.groupsOf(a)) if (this.groupMulti.has(key)) this.dirtyGroups.add(key)
      for (const r of a.refs) stack.push(r)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Confirmation

  private crossWeight (n: Node): number {
    return n.chain < 0 ? 0 : bitCountAnd(n.weight, n.epoch.otherThan[n.chain])
  }

  /**
   * L24: the member of a conflict group with a quorum of validators wins. Two with a quorum
   * mean more than a third approved both (double votes): the one with the most validators
   * that did not, then the lowest id, wins — deterministic, and the evidence names them.
   */
  private resolveGroup (group: readonly Node[]): Node | null {
    const strong = group.filter(n => this.hasQuorum(n))
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

  private computeStatus (n: Node): [Status, BlockRejectReason | null] {
    if (n.issuer < 0) return [CONFIRMED, null]
    if (this.groupMulti.size > 0) {
      for (const key of this.groupsOf(n)) {
        if (!this.groupMulti.has(key)) continue
        const winner = this.winners.get(key) ?? null
        if (winner != null && winner !== n) return [REJECTED, key.startsWith('f:') ? 'equivocation' : 'conflict']
      }
    }
    if (n.prev != null && n.prev.status === REJECTED) return [REJECTED, 'prev-rejected']
    if (!this.hasQuorum(n)) return [PENDING, null]
    if (n.crossChain && this.crossWeight(n) < this.genesis.crossChainApprovals) return [PENDING, null]
    if (n.prev != null && n.prev.status !== CONFIRMED) return [PENDING, null]
    for (const d of n.deps) if (d.status === PENDING) return [PENDING, null]
    return [CONFIRMED, null]
  }

  private finish (batch: MutableBatch): BatchResult {
    const { changed, reverted } = this.settle()
    for (const n of changed) {
      if (n.status === CONFIRMED) batch.confirmed.push(n.id)
      else if (n.status === REJECTED) batch.rejected.push(n.id)
    }
    batch.reverted.push(...reverted)
    return batch
  }

  /**
   * Re-evaluates every block whose inputs changed and applies each newly confirmed block at
   * once: its prev and the blocks it reads were decided (and applied) before it.
   */
  private settle (): { changed: Node[], reverted: BlockId[] } {
    for (const key of this.dirtyGroups) {
      const group = this.groupMulti.get(key) as Node[]
      const winner = this.resolveGroup(group)
      if ((this.winners.get(key) ?? null) !== winner) {
        this.winners.set(key, winner)
        for (const n of group) this.dirty.add(n)
      }
    }
    this.dirtyGroups.clear()
    const heap = new NodeHeap<Node>()
    const queued = new Set<Node>()
    for (const n of this.dirty) { heap.push(n); queued.add(n) }
    this.dirty = new Set()
    const changed: Node[] = []
    const reverted: BlockId[] = []
    for (let n = heap.pop(); n != null; n = heap.pop()) {
      queued.delete(n)
      const [status, reason] = this.computeStatus(n)
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
      else if (status === CONFIRMED && reverted.length === 0) this.applyNode(n)
      for (const c of n.children) if (!queued.has(c)) { queued.add(c); heap.push(c) }
      for (const c of n.dependents) if (!queued.has(c)) { queued.add(c); heap.push(c) }
    }
    // only when more than a third of the validators double-voted (L25): rebuild the state
    if (reverted.length > 0) this.fullReplay()
    return { changed, reverted }
  }

  // ------------------------------------------------------------------------------------------
  // State

  /** The state from genesis, applying confirmed blocks after their prev and deps (L26). */
  private fullReplay (): void {
    this.fullReplays++
    this.state = this.genesisState()
    for (const n of this.applied) n.applied = false
    this.applied = []
    for (const root of this.order) {
      if (root.issuer < 0 || root.status !== CONFIRMED || root.applied) continue
      const stack: Node[] = [root]
      while (stack.length > 0) {
        const n = stack[stack.length - 1]
        const before = [...(n.prev != null ? [n.prev] : []), ...n.deps].filter(d => d.status === CONFIRMED && !d.applied && d.issuer >= 0)
        if (before.length > 0) { stack.push(...before); continue }
        stack.pop()
        if (!n.applied) this.applyNode(n)
      }
    }
  }

  private lookup (txId: TxId): TxOutcome | undefined {
    const parsed = parseTxId(txId)
    const n = parsed == null ? undefined : this.nodes.get(parsed.blockId)
    if (parsed == null || n == null || n.issuer < 0 || n.status === PENDING) return undefined
    const tx = n.txs[parsed.index]
    if (tx == null) return undefined
    const rejected = n.status === REJECTED || !n.applied || this.state.has(NS.rejected, txId)
    return { tx, issuer: this.issuers[n.issuer], chain: this.genesis.chains[n.chain], time: n.time, status: rejected ? 'rejected' : 'confirmed' }
  }

  private applyNode (n: Node): void {
    const state = this.state
    const issuer = this.issuers[n.issuer]
    const chain = this.genesis.chains[n.chain]
    const lookup = (txId: TxId): TxOutcome | undefined => this.lookup(txId)
    state.beginBlock(n.id)
    for (let i = 0; i < n.txs.length; i++) {
      const tx = n.txs[i]
      const txId = txIdOf(n.id, i)
      const member = memberOf(state, issuer)
      if (member != null && member.chain !== chain) {
        state.set(NS.rejected, txId, E.UNKNOWN_CHAIN)
        continue
      }
      const def = this.ctx.registry.get(tx.type)
      const log: UndoEntry[] = []
      state.record(log)
      try {
        if (def == null) throw new LedgerError(E.UNKNOWN_TX, `unknown type ${tx.type}`)
        const actx: TxApplyContext = { genesis: this.genesis, issuer, chain, blockId: n.id, txId, index: i, time: n.time, lookup }
        def.apply(state, tx, actx)
        state.stopRecording()
      } catch (err) {
        state.stopRecording()
        state.undo(log)
        state.set(NS.rejected, txId, isLedgerError(err) ? err.code : E.BAD_TX)
      }
    }
    n.applied = true
    this.applied.push(n)
  }

  // ------------------------------------------------------------------------------------------
  // Queries

  has (id: string): boolean {
    return this.nodes.has(id as BlockId)
  }

  isOrphan (id: string): boolean {
    return this.orphans.has(id as BlockId)
  }

  /** Status of a block in the DAG; 'pending' for a parked orphan; undefined if unknown. */
  blockStatus (id: string): BlockStatus | undefined {
    const n = this.nodes.get(id as BlockId)
    if (n != null) return STATUS_NAMES[n.status]
    return this.orphans.has(id as BlockId) ? 'pending' : undefined
  }

  blockInfo (id: string): BlockInfo | undefined {
    const n = this.nodes.get(id as BlockId)
    if (n == null) return undefined
    return {
      id: n.id,
      issuer: n.issuer < 0 ? null : this.issuers[n.issuer],
      chain: n.chain < 0 ? null : this.genesis.chains[n.chain],
      seq: n.seq,
      depth: n.depth,
      time: n.time,
      status: STATUS_NAMES[n.status],
      reason: n.reason,
      weight: bitCountAnd(n.weight, n.epoch.set),
      crossChainWeight: this.crossWeight(n),
      quorum: n.epoch.quorum,
      epoch: n.epoch.n,
      crossChain: n.crossChain,
      parents: n.parents.map(p => p.id),
      prev: n.prev?.id ?? null,
      children: n.children.map(c => c.id),
      deps: n.deps.map(d => d.id),
      txs: n.txs
    }
  }

  /** Status of a transaction `${blockId}/${index}`; undefined if unknown. */
  status (txId: string): TxStatus | undefined {
    return this.txResult(txId)?.status
  }

  txResult (txId: string): TxResult | undefined {
    const parsed = parseTxId(txId)
    if (parsed == null) return undefined
    const n = this.nodes.get(parsed.blockId)
    if (n == null) {
      const o = this.orphans.get(parsed.blockId)
      return o != null && parsed.index < o.v.block.txs.length ? { status: 'pending' } : undefined
    }
    if (parsed.index >= n.txs.length) return undefined
    if (n.status === PENDING) return { status: 'pending' }
    if (n.status === REJECTED) return { status: 'rejected', reason: n.reason ?? undefined }
    const code = this.state.get(NS.rejected, txId)
    return typeof code === 'string' ? { status: 'rejected', reason: code } : { status: 'confirmed' }
  }

  /** Validators approving a block, sorted. */
  approvers (id: string): Did[] {
    const n = this.nodes.get(id as BlockId)
    if (n == null) return []
    return bitIndices(n.weight).map(v => this.vdids[v]).sort()
  }

  /** Validator weight of a block: validators of its epoch approving it. */
  weight (id: string): number {
    const n = this.nodes.get(id as BlockId)
    return n == null ? 0 : bitCountAnd(n.weight, n.epoch.set)
  }

  /** A validator of the latest epoch. */
  isValidator (did: string): boolean {
    return this.inSet(this.latest, did)
  }

  /** A validator of some epoch: its approvals still count for blocks whose span holds that epoch. */
  wasValidator (did: string): boolean {
    return this.vbit.has(did)
  }

  /** The latest epoch's validators, founders first then in the order they were added. */
  validators (): Did[] {
    return [...this.latest.dids]
  }

  /** The chain a validator of the latest epoch validates on. */
  validatorChain (did: string): string | undefined {
    const bit = this.vbit.get(did)
    const c = bit == null ? undefined : this.latest.chainOf.get(bit)
    return c == null ? undefined : this.genesis.chains[c]
  }

  /** The latest epoch: its number, validators and quorum. */
  epoch (): { readonly n: number, readonly validators: readonly Did[], readonly quorum: number } {
    return { n: this.latest.n, validators: this.latest.dids, quorum: this.latest.quorum }
  }

  /** The changes that led to the latest epoch, oldest first (L47). */
  validatorChanges (): Array<ValidatorChange & { readonly epoch: number }> {
    const out: Array<ValidatorChange & { epoch: number }> = []
    for (let e: Epoch | null = this.latest; e?.change != null; e = e.parent) out.unshift({ ...e.change, epoch: e.n })
    return out
  }

  /**
   * Open proposals of the latest epoch with their voters: the union of the tips' tallies (the
   * tips' past cones hold every block). What a validator's "vote" screen shows.
   */
  validatorProposals (): Array<{ readonly action: 'add' | 'remove', readonly did: Did, readonly chain: string, readonly voters: readonly Did[], readonly quorum: number, readonly epoch: number }> {
    const tips = [...this.tipSet].filter(n => n.epoch === this.latest)
    const tally = mergeTallies(this.latest, tips)
    if (tally == null) return []
    const split = splitVoters(tally)
    return [...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, bits]) => {
      const { action, did, chain } = parseProposalKey(key)
      return {
        action,
        did,
        chain,
        voters: bitIndices(bits).filter(b => bitHas(this.latest.set, b) && !bitHas(split, b)).map(b => this.vdids[b]).sort(),
        quorum: this.latest.quorum,
        epoch: this.latest.n
      }
    })
  }

  tips (): BlockId[] {
    return [...this.tipSet].map(n => n.id).sort()
  }

  /** Ids the parked orphans wait for that are neither known nor parked: what sync should fetch. */
  missing (): BlockId[] {
    return [...this.waiting.keys()].filter(id => !this.orphans.has(id)).sort()
  }

  orphanIds (): BlockId[] {
    return [...this.orphans.keys()]
  }

  /** Confirmed blocks in the order this engine applied them (genesis excluded). */
  confirmedIds (): BlockId[] {
    return this.applied.map(n => n.id)
  }

  /** Every block id in insertion order (parents first), genesis excluded. */
  blockIds (): BlockId[] {
    return this.order.slice(1).map(n => n.id)
  }

  /** Every slot (issuer, seq) with more than one block, sorted by issuer DID then seq. */
  equivocations (): Equivocation[] {
    const out: Equivocation[] = []
    for (const slot of this.slotMulti.values()) {
      const canonical = slot.find(n => n.status === CONFIRMED)
      out.push({ issuer: this.issuers[slot[0].issuer], seq: slot[0].seq, blocks: slot.map(n => n.id).sort(), canonical: canonical?.id ?? null })
    }
    return out.sort((x, y) => (x.issuer < y.issuer ? -1 : x.issuer > y.issuer ? 1 : x.seq - y.seq))
  }

  /** Validators that approved two members of one conflict group, with the two blocks (L24). */
  doubleVotes (): DoubleVote[] {
    const out: DoubleVote[] = []
    for (const [key, group] of this.groupMulti) {
      for (let a = 0; a < group.length; a++) {
        for (let b = a + 1; b < group.length; b++) {
          for (const v of bitIndices(bitAnd(group[a].weight, group[b].weight))) {
            const pair = [group[a].id, group[b].id].sort() as [BlockId, BlockId]
            out.push({ validator: this.vdids[v], conflict: key.startsWith('f:') ? `fork of ${this.issuers[group[a].issuer]} at seq ${group[a].seq}` : key, blocks: pair })
          }
        }
      }
    }
    return out.sort((x, y) => (x.validator < y.validator ? -1 : x.validator > y.validator ? 1 : x.blocks[0] < y.blocks[0] ? -1 : 1))
  }

  /** Read-only view of the state. */
  get stateView (): StateReader {
    const s = this.state
    return { get: (ns, key) => s.get(ns, key), has: (ns, key) => s.has(ns, key), keys: ns => s.keys(ns), size: ns => s.size(ns) }
  }

  stateHash (): string {
    return this.state.hash()
  }

  stateEntries (): StateEntries {
    return this.state.entries()
  }

  balance (did: string): number {
    return balanceOf(this.state, did)
  }

  member (did: string): MemberRecord | undefined {
    return memberOf(this.state, did)
  }

  members (): Did[] {
    return this.state.keys(NS.member) as Did[]
  }

  /** Claims for `did` that it has not received yet, with their keys (what its wallet receives). */
  claimsFor (did: string): Array<{ readonly key: string, readonly claim: ClaimRecord }> {
    const out: Array<{ key: string, claim: ClaimRecord }> = []
    for (const key of this.state.keys(NS.claim)) {
      const claim = claimOf(this.state, key)
      if (claim != null && claim.to === did && !this.state.has(NS.received, key)) out.push({ key, claim })
    }
    return out
  }

  escrow (txId: string): EscrowRecord | undefined {
    return escrowOf(this.state, txId)
  }

  /** Every admission of `member` by a validator held here, with its status. */
  admissionsOf (member: string): Array<{ readonly txId: TxId, readonly validator: Did, readonly chain: string, readonly status: TxStatus }> {
    return (this.admissions.get(member) ?? []).map(({ node, index }) => {
      const txId = txIdOf(node.id, index)
      return { txId, validator: this.vdids[node.validator], chain: (node.txs[index] as MemberAdmitTx).chain, status: this.status(txId) ?? 'pending' }
    })
  }

  /** Sum of balances, escrows and unreceived claims: the genesis supply (L30). */
  totalCredits (): number {
    let sum = 0
    for (const k of this.state.keys(NS.balance)) sum += balanceOf(this.state, k)
    for (const k of this.state.keys(NS.claim)) if (!this.state.has(NS.received, k)) sum += claimOf(this.state, k)?.amount ?? 0
    for (const k of this.state.keys(NS.escrow)) {
      const e = escrowOf(this.state, k)
      if (e != null && e.closedBy == null) sum += e.amount
    }
    return sum
  }

  stats (): LedgerStats {
    return {
      blocks: this.order.length - 1,
      confirmed: this.counts[CONFIRMED],
      pending: this.counts[PENDING],
      rejected: this.counts[REJECTED],
      orphans: this.orphans.size,
      missing: this.missing().length,
      tips: this.tipSet.size,
      issuers: this.issuers.length,
      members: this.state.size(NS.member),
      validators: this.latest.dids.length,
      quorum: this.latest.quorum,
      epoch: this.latest.n,
      equivocations: this.slotMulti.size,
      doubleVotes: this.doubleVotes().length,
      maxDepth: this.maxDepth,
      applied: this.applied.length,
      fullReplays: this.fullReplays,
      weightWork: this.weightWork
    }
  }

  // ------------------------------------------------------------------------------------------
  // Issuing

  /** The issuer's latest block that is not rejected (its account chain's head), if any. */
  private headOf (issuer: Did): Node | null {
    const i = this.issuerIndex.get(issuer)
    if (i == null) return null
    for (let seq = this.maxSeq[i]; seq >= 1; seq--) {
      let head: Node | null = null
      const key = `${i}:${seq}`
      const slot = this.slotMulti.get(key) ?? [this.slotFirst.get(key)]
      for (const n of slot) {
        if (n == null) continue
        if (n.status !== REJECTED && (head == null || preferCanonical(n, head))) head = n
      }
      if (head != null) return head
    }
    return null
  }

  /**
   * Blocks an honest issuer must not approve (L34): the future cones of the conflict members
   * it does not prefer. A validator prefers the member it already approved (approving another
   * would be a double vote); anyone else the winner, else the heaviest, then the lowest id.
   */
  private tainted (self: number): Set<Node> {
    const out = new Set<Node>()
    const v = self < 0 ? -1 : (this.vbit.get(this.issuers[self]) ?? -1)
    for (const [key, group] of this.groupMulti) {
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

  /**
   * Two parents for a new block: tips, preferring pending ones (they need the weight), chosen
   * per issuer so that one issuer's many tips do not crowd out others' (witnessing is fair per
   * issuer, L35); never a rejected tip, a tip older than maxParentAgeMs (below max depth,
   * L41) or one that would approve the other side of a conflict (L34). The issuer's own
   * blocks are not picked: `prev` already approves them. `rand` returns numbers in [0, 1).
   */
  selectTips (rand: () => number, opts: { readonly issuer?: Did, readonly now?: number } = {}): [BlockId, BlockId] {
    const self = opts.issuer == null ? -2 : (this.issuerIndex.get(opts.issuer) ?? -2)
    const floor = (opts.now ?? this.newestTime()) - this.genesis.maxParentAgeMs + 1000
    const tainted = this.groupMulti.size > 0 ? this.tainted(self) : null
    const usable = (n: Node): boolean => n.issuer >= 0 && n.issuer !== self && n.status !== REJECTED && n.time >= floor && (tainted == null || !tainted.has(n))
    const tips = [...this.tipSet].filter(usable).sort(compareNodes)
    let candidates = [...tips.filter(n => n.status === PENDING), ...tips.filter(n => n.status === CONFIRMED)]
    if (candidates.length < 2) {
      for (let j = this.order.length - 1; j > 0 && candidates.length < 8 && j > this.order.length - 512; j--) {
        const n = this.order[j]
        if (usable(n) && !candidates.includes(n)) candidates.push(n)
      }
    }
    if (candidates.length === 0) return [this.allianceId, this.allianceId]
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
    const second = others.length > 0 ? pickFair(best(others)) : rest.length > 0 ? pickFair(best(rest)) : this.genesisNode
    return [first.id, second.id]
  }

  private newestTime (): number {
    let t = this.genesis.time
    for (const n of this.tipSet) t = Math.max(t, n.time)
    return t
  }

  /**
   * Everything an issuer needs for its next block but the transactions: chain (if fixed),
   * seq and prev (its head), parents (`selectTips`) and a time not older than them and late
   * enough after its prev for a block of `bytes` (L40).
   */
  template (issuer: Did, rand: () => number, now: number, bytes = 2048): BlockTemplate {
    const head = this.headOf(issuer)
    const parents = this.selectTips(rand, { issuer, now })
    const bit = this.vbit.get(issuer)
    const asValidator = bit == null ? undefined : this.latest.chainOf.get(bit)
    const founder = this.ctx.founderChains.get(issuer) ?? (asValidator == null ? undefined : this.genesis.chains[asValidator])
    let time = now
    for (const id of parents) time = Math.max(time, (this.nodes.get(id) as Node).time)
    if (head != null) time = Math.max(time, head.time + quotaGapMs(this.genesis, bytes))
    return {
      chain: founder ?? (head != null ? this.genesis.chains[head.chain] : (memberOf(this.state, issuer)?.chain ?? null)),
      seq: head == null ? 1 : head.seq + 1,
      prev: head?.id ?? null,
      parents,
      time
    }
  }

  /** The issuer's blocks still pending, oldest first. */
  pendingOf (issuer: Did): BlockId[] {
    const i = this.issuerIndex.get(issuer)
    if (i == null) return []
    return [...this.pendingSet].filter(n => n.issuer === i).sort((a, b) => a.seq - b.seq).map(n => n.id)
  }

  /**
   * True when the issuer has a block pending for longer than `ageMs` (by block time): the
   * runtime should then issue a block (empty if need be), which re-approves it through `prev`
   * and gives validators a fresh tip to approve — no user action (DESIGN, IOTA lesson).
   */
  promotionDue (issuer: Did, now: number, ageMs: number): boolean {
    const i = this.issuerIndex.get(issuer)
    if (i == null) return false
    for (const n of this.pendingSet) if (n.issuer === i && n.time <= now - ageMs) return true
    return false
  }

  /**
   * Pending blocks that a validator should approve (L35): blocks with transactions within
   * maxParentAgeMs that do not have its approval yet, one per issuer (fairness). Empty blocks
   * never ask for approval, so witnessing does not feed itself.
   */
  awaitingApproval (validator: Did, now: number): BlockId[] {
    const v = this.vbit.get(validator)
    if (v == null) return []
    const seen = new Set<number>()
    const out: BlockId[] = []
    const tainted = this.groupMulti.size > 0 ? this.tainted(this.issuerIndex.get(validator) ?? -1) : null
    for (const n of this.pendingSet) {
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
    const i = this.issuerIndex.get(issuer)
    if (i == null || this.groupMulti.size === 0) return []
    const t = this.tainted(-1)
    return [...this.pendingSet].filter(n => n.issuer === i && t.has(n) && !this.groupsOf(n).some(k => this.groupMulti.has(k))).map(n => n.id)
  }

  // ------------------------------------------------------------------------------------------
  // Checkpoints

  /**
   * The engine's derived state as a dag-cbor encodable value: blocks (without signatures),
   * weights, statuses, the state and the order blocks were applied in. Orphans are not
   * included (the store keeps them).
   */
  snapshot (): LedgerSnapshot {
    const blocks: SnapshotBlock[] = []
    for (const n of this.order) {
      if (n.issuer < 0) continue
      blocks.push([
        n.id, n.issuer, n.seq, n.chain, n.time,
        n.parents[0].index, n.parents[1].index, n.prev?.index ?? -1,
        n.crossChain, n.status, n.reason ?? '', n.weight.slice(), n.txs as unknown as LedgerValue, n.bytes
      ])
    }
    return {
      v: 2,
      alliance: this.allianceId,
      issuers: [...this.issuers],
      blocks,
      state: this.state.entries(),
      applied: this.applied.map(n => n.index),
      counters: [this.fullReplays]
    }
  }

  /**
   * Rebuilds an engine from `snapshot()` without validating, propagating or applying again.
   * Only for snapshots this peer made itself; a malformed one throws LedgerError(ERR_MALFORMED).
   */
  static restore (genesis: Genesis | LedgerContext, snapshot: LedgerSnapshot, options: LedgerEngineOptions = {}): LedgerEngine {
    const e = new LedgerEngine(genesis, options)
    try {
      e.load(snapshot)
    } catch (err) {
      throw isLedgerError(err) ? err : new LedgerError(E.MALFORMED, `bad snapshot: ${(err as Error).message}`, { cause: err })
    }
    return e
  }

  private load (s: LedgerSnapshot): void {
    const bad = (why: string): never => { throw new LedgerError(E.MALFORMED, `bad snapshot: ${why}`) }
    if (s == null || s.v !== 2) bad('version')
    if (s.alliance !== this.allianceId) bad('another alliance')
    if (!Array.isArray(s.issuers) || !Array.isArray(s.blocks) || !Array.isArray(s.applied)) bad('shape')
    if (this.issuers.some((d, i) => s.issuers[i] !== d)) bad('validators differ')
    for (const did of s.issuers) this.intern(did)
    for (const row of s.blocks) {
      const [id, issuer, seq, chain, time, p0, p1, prevIndex, crossChain, status, reason, weight, rawTxs, bytes] = row
      const at = (k: number): Node => (this.order[k] ?? bad(`reference ${k}`))
      const txs = this.internTxs(rawTxs as unknown as Tx[])
      const txCtx = { genesis: this.genesis, issuer: this.issuers[issuer], chain: this.genesis.chains[chain] }
      const depIds = [...new Set(txs.flatMap(tx => this.ctx.registry.depsOf(tx, txCtx).map(blockOfTx)))].filter(d => d !== id)
      const deps = depIds.map(d => this.nodes.get(d) ?? bad(`dependency ${d}`))
      const closes = this.newClosings(issuer, seq, txs.flatMap(tx => this.ctx.registry.conflictsOf(tx, txCtx)))
      const node = this.makeNode(id, issuer, seq, chain, time, bytes, [at(p0), at(p1)], prevIndex < 0 ? null : at(prevIndex), deps,
        txs, crossChain, closes, status as Status, reason === '' ? null : reason as BlockRejectReason, Array.from(weight, w => w >>> 0))
      this.link(node)
    }
    this.dirty.clear()
    for (const key of this.dirtyGroups) this.winners.set(key, this.resolveGroup(this.groupMulti.get(key) as Node[]))
    this.dirtyGroups.clear()
    this.state = LedgerState.fromEntries(s.state)
    this.applied = s.applied.map(k => {
      const n = this.order[k] ?? bad(`applied ${k}`)
      n.applied = true
      return n
    })
    this.fullReplays = s.counters[0]
  }
}

/** L40: how much later than its prev a block of `bytes` must be. */
export function quotaGapMs (genesis: Genesis, bytes: number): number {
  return genesis.minBlockIntervalMs + Math.ceil((bytes * 1000) / genesis.bytesPerSecond)
}

/** Validators in the weight of two or more members of a group. */
function doubleVoters (group: readonly Node[]): Bits {
  return bitsInTwoOrMore(group.map(n => n.weight))
}

/** Its issuer is a validator of the block's own epoch (admissions count only from those, L49). */
function validatorOfOwnEpoch (n: Node): boolean {
  return n.validator >= 0 && bitHas(n.epoch.set, n.validator)
}

function preferCanonical (a: Node, b: Node): boolean {
  if (a.status !== b.status) return a.status === CONFIRMED
  return a.id < b.id
}

function toLedgerError (err: unknown): LedgerError {
  if (isLedgerError(err)) return err
  return new LedgerError(E.MALFORMED, (err as Error)?.message ?? String(err), { cause: err })
}

interface MutableBatch {
  results: AddResult[]
  inserted: StoredBlockRef[]
  parked: ParkedOrphan[]
  dropped: Array<{ id: BlockId, error?: LedgerError }>
  confirmed: BlockId[]
  rejected: BlockId[]
  reverted: BlockId[]
}

function newBatch (): MutableBatch {
  return { results: [], inserted: [], parked: [], dropped: [], confirmed: [], rejected: [], reverted: [] }
}
