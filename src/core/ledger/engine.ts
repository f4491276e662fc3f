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
 * This class holds the DAG and wires its parts, one module each: engine-rules (contextual
 * rules), -orphans, -issuers, -validators (epochs), -conflicts, -confirmation (weight and
 * status), -apply (the state), -tips (tips and templates), -snapshot. checkpoint-engine.ts and
 * checkpoint-cut.ts read private fields by name (`state`, `applied`, `nodes`, `genesisNode`,
 * `issuers`, `vbit`, `intern`, `internTxs`, `makeNode`, `link`): keep those names.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode, isLedgerError } from './errors.ts'
import { blockIdOf, createLedgerContext, validateBlockBytes, BLOCK_LIMITS } from './block.ts'
import type { LedgerContext, ValidatedBlock } from './block.ts'
import { bitCountAnd, bitIndices } from './bitset.ts'
import type { Bits } from './bitset.ts'
import type { ValidatorChange } from './epochs.ts'
import { LedgerState } from './state.ts'
import type { StateEntries, StateReader } from './state.ts'
import { balanceOf, blockOfTx, escrowOf, memberOf, NS } from './tx.ts'
import type { ClaimRecord, EscrowRecord, MemberRecord, TxOutcome } from './tx.ts'
import type { AllianceId, BlockId, BlockStatus, Genesis, Tx, TxId, TxStatus } from './types.ts'
import type {
  AddOptions, AddResult, BatchResult, BlockInfo, BlockRejectReason, BlockTemplate, DoubleVote, Equivocation,
  LedgerEngineOptions, LedgerSnapshot, LedgerStats, TxResult
} from './engine-types.ts'
import { CONFIRMED, PENDING, REJECTED, STATUS_NAMES, blockInfoOf, newBatch, parseTxId, toLedgerError } from './engine-node.ts'
import type { MutableBatch, Node, Status } from './engine-node.ts'
import { DEFAULT_MAX_ORPHANS, DEFAULT_MAX_ORPHAN_BYTES, OrphanPool } from './engine-orphans.ts'
import type { AdmitOrphan } from './engine-orphans.ts'
import { ValidatorEpochs } from './engine-validators.ts'
import type { ValidatorProposal } from './engine-types.ts'
import { AdmissionIndex } from './engine-admissions.ts'
import { IssuerChains } from './engine-issuers.ts'
import { ConflictGroups } from './engine-conflicts.ts'
import { Confirmation } from './engine-confirmation.ts'
import { ContextRules, depIdsOf, refIdsOf, txContextOf } from './engine-rules.ts'
import { applyBlock, applyConfirmed, genesisState, txOutcomeOf } from './engine-apply.ts'
import type { ApplyEnv } from './engine-apply.ts'
import { TipSelector } from './engine-tips.ts'
import { badSnapshot, checkSnapshotHead, snapshotOf } from './engine-snapshot.ts'
import { claimsFor, readerOf, totalCredits } from './engine-state-view.ts'

export type * from './engine-types.ts'
export { parseTxId, txIdOf } from './engine-node.ts'
export { quotaGapMs } from './engine-rules.ts'
export { DEFAULT_MAX_ORPHANS, DEFAULT_MAX_ORPHAN_BYTES, MAX_STRANGER_ORPHANS, MAX_STRANGER_ORPHAN_BYTES } from './engine-orphans.ts'

const E = LedgerErrorCode

export class LedgerEngine {
  readonly ctx: LedgerContext
  readonly genesis: Genesis
  readonly allianceId: AllianceId

  private readonly nodes = new Map<BlockId, Node>()
  private readonly order: Node[] = []
  private readonly genesisNode: Node
  private readonly tipSet = new Set<Node>()
  private maxDepth = 0
  private readonly admissions = new AdmissionIndex()

  private readonly orphans: OrphanPool
  private readonly chains: IssuerChains
  /** DIDs by issuer index: `chains.dids`, under the name checkpoint-engine.ts reads. */
  private readonly issuers: Did[]
  private readonly validatorSet: ValidatorEpochs
  /** Validator bits by DID: `validatorSet.bits`, under the name checkpoint-engine.ts reads. */
  private readonly vbit: ReadonlyMap<string, number>
  private readonly conflicts = new ConflictGroups()
  private readonly confirmation: Confirmation
  private readonly rules: ContextRules
  private readonly tipSelector: TipSelector
  private readonly applyEnv: ApplyEnv

  private state: LedgerState
  /** Set by a checkpoint join (checkpoint-engine.ts): a block at or below its issuer's cut head is known (S16). */
  belowCut: ((issuer: string, seq: number) => boolean) | null = null
  private applied: Node[] = []
  private fullReplays = 0

  constructor (genesis: Genesis | LedgerContext, options: LedgerEngineOptions = {}) {
    this.ctx = 'allianceId' in genesis
      ? (options.registry != null ? createLedgerContext(genesis.genesis, options.registry) : genesis)
      : createLedgerContext(genesis, options.registry)
    this.genesis = this.ctx.genesis
    this.allianceId = this.ctx.allianceId
    this.orphans = new OrphanPool(options.maxOrphans ?? DEFAULT_MAX_ORPHANS, options.maxOrphanBytes ?? DEFAULT_MAX_ORPHAN_BYTES)
    this.chains = new IssuerChains(this.ctx)
    this.issuers = this.chains.dids
    for (const f of this.genesis.founders) this.chains.intern(f.did)
    this.validatorSet = new ValidatorEpochs(this.genesis)
    this.vbit = this.validatorSet.bits
    const epoch0 = this.validatorSet.first
    this.genesisNode = {
      id: this.allianceId, index: 0, issuer: -1, validator: -1, epoch: epoch0, tally: null, span: [epoch0], seq: 0, chain: -1, time: this.genesis.time, depth: 0, bytes: 0,
      parents: [], prev: null, refs: [], deps: [], children: [], dependents: [], weight: [], status: CONFIRMED, reason: null,
      txs: [], crossChain: false, closes: [], applied: true
    }
    this.nodes.set(this.allianceId, this.genesisNode)
    this.order.push(this.genesisNode)
    this.tipSet.add(this.genesisNode)
    this.state = genesisState(this.genesis)
    this.confirmation = new Confirmation(this.genesis, this.conflicts, { apply: n => { this.applyNode(n) }, replayAll: () => { this.fullReplay() } })
    this.rules = new ContextRules(this.ctx, this.nodes, this.chains, this.validatorSet)
    this.tipSelector = new TipSelector(this.ctx, { nodes: this.nodes, order: this.order, tips: this.tipSet, pending: this.confirmation.pending }, this.chains, this.validatorSet, this.conflicts)
    this.applyEnv = { ctx: this.ctx, issuers: this.issuers, lookup: (txId: TxId): TxOutcome | undefined => txOutcomeOf(this.nodes, this.state, this.applyEnv, txId) }
  }

  /** Validators whose approval confirms a block of the latest epoch: more than two thirds. */
  get quorum (): number {
    return this.validatorSet.latest.quorum
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
      v = validateBlockBytes(bytes, this.ctx, { now: opts.now, trusted: opts.trusted, signatureChecked: opts.signatureChecked, id, admitIssuer: this.rules.admitIssuer })
    } catch (err) {
      return { kind: 'rejected', id, error: toLedgerError(err) }
    }
    return this.place(v, batch)
  }

  private place (v: ValidatedBlock, batch: MutableBatch): AddResult {
    if (this.belowCut?.(v.block.issuer, v.block.seq) === true) return { kind: 'rejected', id: v.id, error: new LedgerError(E.DUPLICATE, 'covered by the checkpoint this engine joined from (S16)') }
    const early = this.rules.checkIssuer(v)
    if (early != null) return { kind: 'rejected', id: v.id, error: early }
    const missing = refIdsOf(this.ctx, v).filter(r => !this.nodes.has(r))
    if (missing.length > 0) {
      const known = this.validatorSet.has(v.block.issuer) || this.chains.has(v.block.issuer)
      this.orphans.park(v, missing, batch, this.orphans.isStranger(v, known))
      return { kind: 'orphan', id: v.id, code: E.MISSING_PARENTS, missing }
    }
    const error = this.rules.check(v)
    if (error != null) return { kind: 'rejected', id: v.id, error }
    this.insert(v, batch)
    this.orphans.cascade(v.id, batch, this.admitOrphan)
    return { kind: 'inserted', id: v.id }
  }

  /** An orphan whose references all arrived: the contextual rules, then in. */
  private readonly admitOrphan: AdmitOrphan = (v, batch) => {
    const error = this.rules.check(v)
    if (error == null) this.insert(v, batch)
    return error
  }

  private intern (did: Did): number {
    return this.chains.intern(did)
  }

  private internTxs (txs: readonly Tx[]): readonly Tx[] {
    return this.chains.internTxs(txs)
  }

  private insert (v: ValidatedBlock, batch: MutableBatch): void {
    const b = v.block
    const parents = b.parents.map(p => this.nodes.get(p) as Node)
    const prev = b.prev == null ? null : this.nodes.get(b.prev) as Node
    const deps = depIdsOf(this.ctx, v).map(d => this.nodes.get(d) as Node)
    const ctx = txContextOf(this.genesis, v)
    const closes = this.conflicts.newClosings(this.intern(b.issuer), b.seq, b.txs.flatMap(tx => this.ctx.registry.conflictsOf(tx, ctx)))
    const node = this.makeNode(v.id, this.intern(b.issuer), b.seq, this.genesis.chains.indexOf(b.chain), b.time, v.bytes.byteLength,
      parents, prev, deps, this.internTxs(b.txs), v.crossChain, closes, PENDING, null, [])
    this.link(node)
    const refs: BlockId[] = b.parents[0] === b.parents[1] ? [b.parents[0]] : [b.parents[0], b.parents[1]]
    if (b.prev != null && !refs.includes(b.prev)) refs.push(b.prev)
    batch.inserted.push({ id: v.id, bytes: v.bytes, issuer: b.issuer, seq: b.seq, refs })
    if (node.validator >= 0) this.confirmation.addValidatorBlock(node)
  }

  private makeNode (
    id: BlockId, issuer: number, seq: number, chain: number, time: number, bytes: number, parents: Node[], prev: Node | null, deps: Node[],
    txs: readonly Tx[], crossChain: boolean, closes: readonly string[], status: Status, reason: BlockRejectReason | null, weight: Bits
  ): Node {
    const refs = [...new Set(prev == null ? parents : [...parents, prev])]
    let depth = 0
    for (const r of refs) depth = Math.max(depth, r.depth)
    const { epoch, tally } = this.validatorSet.advance(refs, this.issuers[issuer], txs, id)
    this.validatorSet.note(epoch)
    const span = this.validatorSet.spanFor(epoch, prev, deps)
    return {
      id, index: this.order.length, issuer, validator: this.vbit.get(this.issuers[issuer]) ?? -1, epoch, tally, span, seq, chain, time,
      depth: depth + 1, bytes, parents, prev, refs, deps, children: [], dependents: [], weight, status, reason, txs, crossChain, closes, applied: false
    }
  }

  /** Registers a node in the indexes (shared by insert, restore and a checkpoint join). */
  private link (node: Node): void {
    this.nodes.set(node.id, node)
    this.order.push(node)
    for (const r of node.refs) {
      r.children = r.children.length === 0 ? [node] : [...r.children, node]
      this.tipSet.delete(r)
    }
    for (const d of node.deps) d.dependents = [...d.dependents, node]
    this.admissions.add(node)
    this.tipSet.add(node)
    if (node.depth > this.maxDepth) this.maxDepth = node.depth
    this.chains.add(node)
    this.conflicts.add(node)
    this.confirmation.track(node)
  }

  private finish (batch: MutableBatch): BatchResult {
    const { changed, reverted } = this.confirmation.settle()
    for (const n of changed) {
      if (n.status === CONFIRMED) batch.confirmed.push(n.id)
      else if (n.status === REJECTED) batch.rejected.push(n.id)
    }
    batch.reverted.push(...reverted)
    return batch
  }

  // ------------------------------------------------------------------------------------------
  // State

  private applyNode (n: Node): void {
    applyBlock(this.state, n, this.applyEnv)
    n.applied = true
    this.applied.push(n)
  }

  /** The state from genesis, applying confirmed blocks after their prev and deps (L26). */
  private fullReplay (): void {
    this.fullReplays++
    this.state = genesisState(this.genesis)
    for (const n of this.applied) n.applied = false
    this.applied = []
    applyConfirmed(this.order, n => { this.applyNode(n) })
  }

  // ------------------------------------------------------------------------------------------
  // Queries

  has (id: string): boolean { return this.nodes.has(id as BlockId) }
  isOrphan (id: string): boolean { return this.orphans.has(id as BlockId) }

  /** Status of a block in the DAG; 'pending' for a parked orphan; undefined if unknown. */
  blockStatus (id: string): BlockStatus | undefined {
    const n = this.nodes.get(id as BlockId)
    if (n != null) return STATUS_NAMES[n.status]
    return this.orphans.has(id as BlockId) ? 'pending' : undefined
  }

  blockInfo (id: string): BlockInfo | undefined {
    const n = this.nodes.get(id as BlockId)
    return n == null ? undefined : blockInfoOf(n, this.issuers, this.genesis.chains)
  }

  /** Status of a transaction `${blockId}/${index}`; undefined if unknown. */
  status (txId: string): TxStatus | undefined { return this.txResult(txId)?.status }

  txResult (txId: string): TxResult | undefined {
    const parsed = parseTxId(txId)
    if (parsed == null) return undefined
    const n = this.nodes.get(parsed.blockId)
    if (n == null) {
      const o = this.orphans.get(parsed.blockId)
      return o != null && parsed.index < o.block.txs.length ? { status: 'pending' } : undefined
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
    return bitIndices(n.weight).map(v => this.validatorSet.didOf(v)).sort()
  }

  /** Validator weight of a block: validators of its epoch approving it. */
  weight (id: string): number {
    const n = this.nodes.get(id as BlockId)
    return n == null ? 0 : bitCountAnd(n.weight, n.epoch.set)
  }

  /** A validator of the latest epoch. */
  isValidator (did: string): boolean { return this.validatorSet.inSet(this.validatorSet.latest, did) }
  /** A validator of some epoch: its approvals still count for blocks whose span holds that epoch. */
  wasValidator (did: string): boolean { return this.validatorSet.has(did) }
  /** The latest epoch's validators, founders first then in the order they were added. */
  validators (): Did[] { return [...this.validatorSet.latest.dids] }

  /** The chain a validator of the latest epoch validates on. */
  validatorChain (did: string): string | undefined {
    const c = this.validatorSet.chainIndexOf(did)
    return c == null ? undefined : this.genesis.chains[c]
  }

  /** The latest epoch: its number, validators and quorum. */
  epoch (): { readonly n: number, readonly validators: readonly Did[], readonly quorum: number } {
    const latest = this.validatorSet.latest
    return { n: latest.n, validators: latest.dids, quorum: latest.quorum }
  }

  /** The changes that led to the latest epoch, oldest first (L47). */
  validatorChanges (): Array<ValidatorChange & { readonly epoch: number }> { return this.validatorSet.changes() }

  /**
   * Open proposals of the latest epoch with their voters: the union of the tips' tallies (the
   * tips' past cones hold every block). What a validator's "vote" screen shows.
   */
  validatorProposals (): ValidatorProposal[] { return this.validatorSet.proposals(this.tipSet) }

  tips (): BlockId[] { return [...this.tipSet].map(n => n.id).sort() }
  /** Ids the parked orphans wait for that are neither known nor parked: what sync should fetch. */
  missing (): BlockId[] { return this.orphans.missing() }
  orphanIds (): BlockId[] { return this.orphans.ids() }
  /** Confirmed blocks in the order this engine applied them (genesis excluded). */
  confirmedIds (): BlockId[] { return this.applied.map(n => n.id) }
  /** Every block id in insertion order (parents first), genesis excluded. */
  blockIds (): BlockId[] { return this.order.slice(1).map(n => n.id) }
  /** Every slot (issuer, seq) with more than one block, sorted by issuer DID then seq. */
  equivocations (): Equivocation[] { return this.chains.equivocations() }

  /** Validators that approved two members of one conflict group, with the two blocks (L24). */
  doubleVotes (): DoubleVote[] {
    return this.conflicts.doubleVotes(bit => this.validatorSet.didOf(bit), i => this.issuers[i])
  }

  /** Read-only view of the state. */
  get stateView (): StateReader { return readerOf(this.state) }
  stateHash (): string { return this.state.hash() }
  stateEntries (): StateEntries { return this.state.entries() }
  balance (did: string): number { return balanceOf(this.state, did) }
  member (did: string): MemberRecord | undefined { return memberOf(this.state, did) }
  members (): Did[] { return this.state.keys(NS.member) as Did[] }
  /** Claims for `did` that it has not received yet, with their keys (what its wallet receives). */
  claimsFor (did: string): Array<{ readonly key: string, readonly claim: ClaimRecord }> { return claimsFor(this.state, did) }
  escrow (txId: string): EscrowRecord | undefined { return escrowOf(this.state, txId) }

  /** Every admission of `member` by a validator held here, with its status. */
  admissionsOf (member: string): Array<{ readonly txId: TxId, readonly validator: Did, readonly chain: string, readonly status: TxStatus }> {
    return this.admissions.of(member, bit => this.validatorSet.didOf(bit), txId => this.status(txId))
  }

  /** Sum of balances, escrows and unreceived claims: the genesis supply (L30). */
  totalCredits (): number { return totalCredits(this.state) }

  stats (): LedgerStats {
    const latest = this.validatorSet.latest
    return {
      blocks: this.order.length - 1,
      confirmed: this.confirmation.count(CONFIRMED),
      pending: this.confirmation.count(PENDING),
      rejected: this.confirmation.count(REJECTED),
      orphans: this.orphans.size,
      missing: this.missing().length,
      tips: this.tipSet.size,
      issuers: this.chains.size,
      members: this.state.size(NS.member),
      validators: latest.dids.length,
      quorum: latest.quorum,
      epoch: latest.n,
      equivocations: this.chains.equivocationCount,
      doubleVotes: this.doubleVotes().length,
      maxDepth: this.maxDepth,
      applied: this.applied.length,
      fullReplays: this.fullReplays,
      weightWork: this.confirmation.weightWork
    }
  }

  // ------------------------------------------------------------------------------------------
  // Issuing (engine-tips.ts)

  /** Two tips for a new block of `opts.issuer` (L34); `rand` returns numbers in [0, 1). */
  selectTips (rand: () => number, opts: { readonly issuer?: Did, readonly now?: number } = {}): [BlockId, BlockId] {
    return this.tipSelector.selectTips(rand, opts)
  }

  /** Everything an issuer needs for its next block but the transactions (L40). */
  template (issuer: Did, rand: () => number, now: number, bytes = 2048): BlockTemplate {
    return this.tipSelector.template(issuer, rand, now, bytes, this.state)
  }

  /** The issuer's blocks still pending, oldest first. */
  pendingOf (issuer: Did): BlockId[] { return this.tipSelector.pendingOf(issuer) }
  /** True when the issuer has a block pending for longer than `ageMs` (by block time): it should issue one (L35). */
  promotionDue (issuer: Did, now: number, ageMs: number): boolean { return this.tipSelector.promotionDue(issuer, now, ageMs) }
  /** Pending blocks with transactions that a validator should approve, one per issuer (L35). */
  awaitingApproval (validator: Did, now: number): BlockId[] { return this.tipSelector.awaitingApproval(validator, now) }
  /** Non-empty when one of the issuer's pending blocks approves the losing side of a conflict. */
  taintedPendingOf (issuer: Did): BlockId[] { return this.tipSelector.taintedPendingOf(issuer) }

  // ------------------------------------------------------------------------------------------
  // Checkpoints (engine-snapshot.ts)

  /**
   * The engine's derived state as a dag-cbor encodable value: blocks (without signatures),
   * weights, statuses, the state and the order blocks were applied in. Orphans are not
   * included (the store keeps them).
   */
  snapshot (): LedgerSnapshot {
    return snapshotOf(this.allianceId, this.order, this.issuers, this.state, this.applied, this.fullReplays)
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
    checkSnapshotHead(s, this.allianceId, this.issuers)
    for (const did of s.issuers) this.intern(did)
    for (const row of s.blocks) {
      const [id, issuer, seq, chain, time, p0, p1, prevIndex, crossChain, status, reason, weight, rawTxs, bytes] = row
      const at = (k: number): Node => (this.order[k] ?? badSnapshot(`reference ${k}`))
      const txs = this.internTxs(rawTxs as unknown as Tx[])
      const txCtx = { genesis: this.genesis, issuer: this.issuers[issuer], chain: this.genesis.chains[chain] }
      const depIds = [...new Set(txs.flatMap(tx => this.ctx.registry.depsOf(tx, txCtx).map(blockOfTx)))].filter(d => d !== id)
      const deps = depIds.map(d => this.nodes.get(d) ?? badSnapshot(`dependency ${d}`))
      const closes = this.conflicts.newClosings(issuer, seq, txs.flatMap(tx => this.ctx.registry.conflictsOf(tx, txCtx)))
      const node = this.makeNode(id, issuer, seq, chain, time, bytes, [at(p0), at(p1)], prevIndex < 0 ? null : at(prevIndex), deps,
        txs, crossChain, closes, status as Status, reason === '' ? null : reason as BlockRejectReason, Array.from(weight, w => w >>> 0))
      this.link(node)
    }
    // statuses come as they were: only the conflicts' winners are worked out again
    this.confirmation.clearChanges()
    this.conflicts.resolve(new Set())
    this.state = LedgerState.fromEntries(s.state)
    this.applied = s.applied.map(k => {
      const n = this.order[k] ?? badSnapshot(`applied ${k}`)
      n.applied = true
      return n
    })
    this.fullReplays = s.counters[0]
  }
}
