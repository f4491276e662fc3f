/**
 * The ledger engine: an in-memory DAG fed with blocks, pure and synchronous (no I/O, no
 * clock: `now` comes in with each call). It validates blocks, parks orphans until their
 * parents arrive, keeps each block's cumulative weight (the distinct eligible issuers that
 * approve it directly or indirectly) up to date incrementally, confirms blocks, resolves
 * equivocations, and replays confirmed blocks into the state in a deterministic total order.
 *
 * Guarantees (SPEC.md, Ledger):
 * - A rejected input changes nothing (L17).
 * - Statuses (pending / confirmed / rejected) are a function of the set of blocks known, not
 *   of the order they arrived in; so is the state, replayed from confirmed blocks ordered by
 *   (depth, id) (L20–L27). Two engines that hold the same blocks have the same `stateHash()`.
 * - Credits are conserved: their sum is the grant times the number of members (L28).
 *
 * Costs: inserting a block propagates its issuer up the ancestry and stops at ancestors that
 * already count that issuer, so the total propagation work over a whole ledger is
 * O(blocks × issuers) (amortized O(issuers) per block); a new issuer's first block walks the
 * whole ancestry once. Confirmation is re-evaluated only for blocks whose inputs changed.
 */
import type { Did } from '../identity.ts'
import { LedgerError, LedgerErrorCode, isLedgerError } from './errors.ts'
import { blockIdOf, createLedgerContext, validateBlockBytes, BLOCK_LIMITS } from './block.ts'
import type { LedgerContext, ValidatedBlock, ValidateOptions } from './block.ts'
import { bitAdd, bitCount, bitCountAnd, bitCountAnd3, bitHas, bitIndices, bitWith } from './bitset.ts'
import type { Bits } from './bitset.ts'
import { LedgerState } from './state.ts'
import type { StateEntries, StateReader, UndoEntry } from './state.ts'
import { admitMember, balanceOf, memberOf, NS } from './tx.ts'
import type { MemberRecord, TxApplyContext, TxRegistry } from './tx.ts'
import type { AllianceId, BlockId, BlockStatus, Genesis, LedgerValue, Tx, TxId, TxStatus } from './types.ts'

const E = LedgerErrorCode

const PENDING = 0
const CONFIRMED = 1
const REJECTED = 2
type Status = typeof PENDING | typeof CONFIRMED | typeof REJECTED
const STATUS_NAMES: readonly BlockStatus[] = ['pending', 'confirmed', 'rejected']

/** Why a block (and so every transaction in it) is rejected. */
export type BlockRejectReason =
  /** It lost an equivocation: another block of its issuer with the same prev has more weight. */
  | 'equivocation'
  /** Its `prev` is rejected: it builds on a losing branch of its issuer's account chain. */
  | 'prev-rejected'

/** Engine tuning. Defaults suit a browser tab. */
export interface LedgerEngineOptions {
  /** Transaction types; default: the module's default registry. All peers must agree. */
  readonly registry?: TxRegistry
  /** Parked orphans kept at most (oldest evicted first). Bounds memory a peer can make us use. */
  readonly maxOrphans?: number
  /** Total bytes of parked orphans kept at most (4,096 blocks of 64 KiB would be 256 MiB). */
  readonly maxOrphanBytes?: number
  /** Applied blocks whose undo logs are kept; a rollback deeper than this replays from genesis. */
  readonly undoWindow?: number
}

/** How `add`/`addMany` treat their input; see ValidateOptions. */
export type AddOptions = Pick<ValidateOptions, 'now' | 'trusted' | 'signatureChecked'>

export const DEFAULT_MAX_ORPHANS = 4096
export const DEFAULT_MAX_ORPHAN_BYTES = 16 * 1024 * 1024
export const DEFAULT_UNDO_WINDOW = 10_000
/**
 * Tips this far below the deepest block are not approved by `selectTips` (IOTA's "below max
 * depth"): approving them would order their confirmation before much older state and force a
 * long rollback. Their issuer re-approves them with a new block instead (see promotionDue).
 */
export const LAZY_TIP_DEPTH = 8

export type AddResult =
  | { readonly kind: 'inserted', readonly id: BlockId }
  /** Parked until `missing` blocks arrive (ERR_MISSING_PARENTS is not a rejection). */
  | { readonly kind: 'orphan', readonly id: BlockId, readonly code: typeof LedgerErrorCode.MISSING_PARENTS, readonly missing: readonly BlockId[] }
  | { readonly kind: 'rejected', readonly id: BlockId | null, readonly error: LedgerError }

export interface StoredBlockRef {
  readonly id: BlockId
  readonly bytes: Uint8Array
}

export interface ParkedOrphan extends StoredBlockRef {
  readonly missing: readonly BlockId[]
}

export interface BatchResult {
  /** One per input, in input order. */
  readonly results: readonly AddResult[]
  /** Blocks that entered the DAG (inputs and cascaded orphans), parents first: persist these. */
  readonly inserted: readonly StoredBlockRef[]
  /** Blocks parked as orphans by this batch: persist to survive a reload. */
  readonly parked: readonly ParkedOrphan[]
  /** Orphans that left the pool without entering the DAG (evicted, or invalid once complete). */
  readonly dropped: ReadonlyArray<{ readonly id: BlockId, readonly error?: LedgerError }>
  /** Blocks newly confirmed. */
  readonly confirmed: readonly BlockId[]
  /** Blocks newly rejected. */
  readonly rejected: readonly BlockId[]
  /** Blocks that were confirmed and are not any more (only around equivocations). */
  readonly reverted: readonly BlockId[]
}

export interface BlockInfo {
  readonly id: BlockId
  readonly issuer: Did | null
  readonly chain: string | null
  readonly seq: number
  readonly depth: number
  readonly time: number
  readonly status: BlockStatus
  readonly reason: BlockRejectReason | null
  /** Eligible distinct issuers approving it (itself included). */
  readonly weight: number
  /** Of those, issuers of another chain. */
  readonly crossChainWeight: number
  readonly crossChain: boolean
  readonly parents: readonly BlockId[]
  readonly prev: BlockId | null
  readonly children: readonly BlockId[]
  readonly txs: readonly Tx[]
}

export interface TxResult {
  readonly status: TxStatus
  /** Why it is rejected: a LedgerErrorCode at replay, or its block's reason. */
  readonly reason?: string
}

export interface Equivocation {
  readonly issuer: Did
  readonly seq: number
  /** All blocks of the issuer at this seq (evidence), sorted by id. */
  readonly blocks: readonly BlockId[]
  /** The one confirmed, if any. */
  readonly canonical: BlockId | null
}

export interface LedgerStats {
  readonly blocks: number
  readonly confirmed: number
  readonly pending: number
  readonly rejected: number
  readonly orphans: number
  readonly missing: number
  readonly tips: number
  readonly issuers: number
  readonly members: number
  readonly equivocations: number
  readonly maxDepth: number
  readonly applied: number
  readonly rollbacks: number
  readonly fullReplays: number
}

export interface BlockTemplate {
  /** The issuer's chain, if fixed already (founder, its earlier blocks, or its admission). */
  readonly chain: string | null
  readonly seq: number
  readonly prev: BlockId | null
  readonly parents: readonly [BlockId, BlockId]
  /** max(now, parents' and prev's times): a block may not be older than what it approves. */
  readonly time: number
}

interface Node {
  readonly id: BlockId
  /** Insertion index (0 = genesis); insertion order is topological. */
  readonly index: number
  /** Issuer index; -1 for the genesis. */
  readonly issuer: number
  readonly seq: number
  /** Chain index; -1 for the genesis. */
  readonly chain: number
  readonly time: number
  readonly depth: number
  readonly parents: readonly Node[]
  readonly prev: Node | null
  /** Parents and prev, without repeats: the approval edges. */
  readonly refs: readonly Node[]
  /** Replaced, not pushed to, to stay at exact size (memory per block). */
  children: readonly Node[]
  /** Cumulative weight: every issuer (index) with a block in this block's future cone, plus its own. */
  weight: Bits
  status: Status
  reason: BlockRejectReason | null
  readonly txs: readonly Tx[]
  readonly crossChain: boolean
  applied: boolean
}

interface Orphan {
  readonly v: ValidatedBlock
  readonly missing: Set<BlockId>
}

function compareNodes (a: Node, b: Node): number {
  if (a.depth !== b.depth) return a.depth - b.depth
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** A binary min-heap of nodes by (depth, id). */
class NodeHeap {
  private readonly items: Node[] = []
  get size (): number { return this.items.length }
  push (n: Node): void {
    const a = this.items
    a.push(n)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (compareNodes(a[p], a[i]) <= 0) break
      ;[a[p], a[i]] = [a[i], a[p]]
      i = p
    }
  }

  pop (): Node | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]
    const last = a.pop() as Node
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && compareNodes(a[l], a[m]) < 0) m = l
        if (r < a.length && compareNodes(a[r], a[m]) < 0) m = r
        if (m === i) break
        ;[a[m], a[i]] = [a[i], a[m]]
        i = m
      }
    }
    return top
  }
}

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
  private readonly undoWindow: number

  private readonly nodes = new Map<BlockId, Node>()
  private readonly order: Node[] = []
  private readonly genesisNode: Node
  private readonly tipSet = new Set<Node>()
  private readonly pendingSet = new Set<Node>()
  private maxDepth = 0

  private readonly issuers: Did[] = []
  private readonly issuerIndex = new Map<string, number>()
  private readonly issuerChains: number[] = []
  /** Highest seq seen per issuer index. */
  private readonly maxSeq: number[] = []
  /** Blocks per status (pending, confirmed, rejected), genesis excluded. */
  private readonly counts = [0, 0, 0]
  /** Per chain c: issuers with a block on a chain other than c. */
  private readonly otherThan: Bits[]
  /** Founders' indices when only founders carry weight; null: every issuer does. */
  private readonly eligible: Bits | null

  /**
   * Blocks by slot (issuer, seq) and by fork (issuer, prev). Almost every key has one block,
   * so that one is kept in `…First` and a list is made only for a second (equivocation).
   */
  private readonly slotFirst = new Map<string, Node>()
  private readonly slotMulti = new Map<string, Node[]>()
  private readonly forkFirst = new Map<string, Node>()
  private readonly forkMulti = new Map<string, Node[]>()
  private readonly forkWinner = new Map<string, Node | null>()

  private readonly orphans = new Map<BlockId, Orphan>()
  private readonly waiting = new Map<BlockId, Set<BlockId>>()

  private state: LedgerState
  private applied: Node[] = []
  private undoLogs: Array<UndoEntry[] | undefined> = []
  private rollbacks = 0
  private fullReplays = 0

  // per-batch scratch
  private dirty = new Set<Node>()
  private dirtyForks = new Set<string>()
  private reevaluateAllPending = false

  constructor (genesis: Genesis | LedgerContext, options: LedgerEngineOptions = {}) {
    this.ctx = 'allianceId' in genesis
      ? (options.registry != null ? createLedgerContext(genesis.genesis, options.registry) : genesis)
      : createLedgerContext(genesis, options.registry)
    this.genesis = this.ctx.genesis
    this.allianceId = this.ctx.allianceId
    this.maxOrphans = options.maxOrphans ?? DEFAULT_MAX_ORPHANS
    this.maxOrphanBytes = options.maxOrphanBytes ?? DEFAULT_MAX_ORPHAN_BYTES
    this.undoWindow = options.undoWindow ?? DEFAULT_UNDO_WINDOW
    if (!Number.isInteger(this.maxOrphans) || this.maxOrphans < 0) throw new RangeError('maxOrphans must be a non-negative integer')
    if (!(this.maxOrphanBytes >= 0)) throw new RangeError('maxOrphanBytes must be >= 0')
    if (!Number.isInteger(this.undoWindow) || this.undoWindow < 1) throw new RangeError('undoWindow must be a positive integer')
    this.otherThan = this.genesis.chains.map(() => [])
    this.genesisNode = {
      id: this.allianceId, index: 0, issuer: -1, seq: 0, chain: -1, time: this.genesis.time, depth: 0,
      parents: [], prev: null, refs: [], children: [], weight: [], status: CONFIRMED, reason: null,
      txs: [], crossChain: false, applied: true
    }
    this.nodes.set(this.allianceId, this.genesisNode)
    this.order.push(this.genesisNode)
    this.tipSet.add(this.genesisNode)
    for (const f of this.genesis.founders) this.intern(f.did, this.genesis.chains.indexOf(f.chain))
    if (this.genesis.admission === 'founders') {
      const bits: Bits = []
      for (const f of this.genesis.founders) bitAdd(bits, this.issuerIndex.get(f.did) as number)
      this.eligible = bits
    } else {
      this.eligible = null
    }
    this.state = this.genesisState()
  }

  private genesisState (): LedgerState {
    const s = new LedgerState()
    for (const f of this.genesis.founders) admitMember(s, f.did, f.chain, 'genesis', this.genesis.grant)
    return s
  }

  // ------------------------------------------------------------------------------------------
  // Ingestion

  /** Adds one block from the network (or the store with `trusted`). */
  add (bytes: Uint8Array, opts: AddOptions): BatchResult {
    return this.addMany([bytes], opts)
  }

  /**
   * Adds blocks in one batch: each is validated and inserted or parked; confirmation and
   * replay run once at the end (much cheaper than one by one). Never throws for bad input.
   */
  addMany (items: readonly Uint8Array[], opts: AddOptions): BatchResult {
    if (typeof opts?.now !== 'number' || !Number.isFinite(opts.now)) throw new TypeError('opts.now must be a number (ms)')
    const batch = this.newBatch()
    for (const bytes of items) {
      batch.results.push(this.ingest(bytes, opts, batch))
    }
    return this.finish(batch)
  }

  /**
   * Adds blocks validated elsewhere (`validateBlockBytes` in a Worker, with this alliance's
   * context). The caller vouches for the validation; contextual checks still run here.
   */
  addValidated (items: readonly ValidatedBlock[]): BatchResult {
    const batch = this.newBatch()
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

  private newBatch (): MutableBatch {
    return { results: [], inserted: [], parked: [], dropped: [], confirmed: [], rejected: [], reverted: [] }
  }

  private ingest (bytes: Uint8Array, opts: AddOptions, batch: MutableBatch): AddResult {
    if (!(bytes instanceof Uint8Array)) return { kind: 'rejected', id: null, error: new LedgerError(E.MALFORMED, 'a block must be bytes') }
    if (bytes.byteLength > BLOCK_LIMITS.maxBytes) return { kind: 'rejected', id: null, error: new LedgerError(E.TOO_LARGE, `block of ${bytes.byteLength} bytes is over ${BLOCK_LIMITS.maxBytes}`) }
    const id = blockIdOf(bytes)
    if (this.nodes.has(id) || this.orphans.has(id)) return { kind: 'rejected', id, error: new LedgerError(E.DUPLICATE, 'block already known') }
    let v: ValidatedBlock
    try {
      v = validateBlockBytes(bytes, this.ctx, { now: opts.now, trusted: opts.trusted, signatureChecked: opts.signatureChecked, id })
    } catch (err) {
      return { kind: 'rejected', id, error: toLedgerError(err) }
    }
    return this.place(v, batch)
  }

  private place (v: ValidatedBlock, batch: MutableBatch): AddResult {
    const missing = this.refIds(v).filter(r => !this.nodes.has(r))
    if (missing.length > 0) {
      this.park(v, missing, batch)
      return { kind: 'orphan', id: v.id, code: E.MISSING_PARENTS, missing }
    }
    const error = this.checkContext(v)
    if (error != null) return { kind: 'rejected', id: v.id, error }
    this.insert(v, batch)
    this.cascade(v.id, batch)
    return { kind: 'inserted', id: v.id }
  }

  private refIds (v: ValidatedBlock): BlockId[] {
    const ids = [v.block.parents[0], v.block.parents[1]]
    if (v.block.prev != null) ids.push(v.block.prev)
    return [...new Set(ids)]
  }

  /** Rules that need the referenced blocks (all known by now). Null when they hold. */
  private checkContext (v: ValidatedBlock): LedgerError | null {
    const b = v.block
    if (b.prev != null) {
      const prev = this.nodes.get(b.prev) as Node
      if (prev.issuer < 0 || this.issuers[prev.issuer] !== b.issuer) return new LedgerError(E.BAD_PREV, 'prev is not a block of the same issuer')
      if (this.genesis.chains[prev.chain] !== b.chain) return new LedgerError(E.BAD_PREV, 'an issuer stays on one chain: prev is on another')
      if (b.seq !== prev.seq + 1) return new LedgerError(E.SEQ_GAP, `seq ${b.seq} does not follow prev's seq ${prev.seq}`)
      if (prev.time > b.time) return new LedgerError(E.BAD_PREV, 'prev is newer than the block')
    }
    for (const pid of b.parents) {
      const p = this.nodes.get(pid) as Node
      if (p.time > b.time) return new LedgerError(E.BAD_PARENTS, 'a parent is newer than the block')
    }
    return null
  }

  private park (v: ValidatedBlock, missing: readonly BlockId[], batch: MutableBatch): void {
    if (this.maxOrphans === 0 || v.bytes.byteLength > this.maxOrphanBytes) {
      batch.dropped.push({ id: v.id })
      return
    }
    while (this.orphans.size >= this.maxOrphans || this.orphanBytes + v.bytes.byteLength > this.maxOrphanBytes) {
      const oldest = this.orphans.keys().next().value as BlockId
      this.unpark(oldest)
      batch.dropped.push({ id: oldest })
    }
    this.orphans.set(v.id, { v, missing: new Set(missing) })
    this.orphanBytes += v.bytes.byteLength
    for (const m of missing) {
      let set = this.waiting.get(m)
      if (set == null) { set = new Set(); this.waiting.set(m, set) }
      set.add(v.id)
    }
    batch.parked.push({ id: v.id, bytes: v.bytes, missing })
  }

  private unpark (id: BlockId): Orphan | undefined {
    const o = this.orphans.get(id)
    if (o == null) return undefined
    this.orphans.delete(id)
    this.orphanBytes -= o.v.bytes.byteLength
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
        this.orphans.delete(oid)
        this.orphanBytes -= o.v.bytes.byteLength
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

  private intern (did: Did, chain: number): number {
    let i = this.issuerIndex.get(did)
    if (i == null) {
      i = this.issuers.length
      this.issuers.push(did)
      this.issuerIndex.set(did, i)
      this.issuerChains.push(0)
      this.maxSeq.push(0)
    }
    const mask = this.issuerChains[i]
    const bit = 1 << chain
    if ((mask & bit) === 0) {
      const next = mask | bit
      this.issuerChains[i] = next
      for (let c = 0; c < this.otherThan.length; c++) {
        if ((next & ~(1 << c)) !== 0) bitAdd(this.otherThan[c], i)
      }
      // an issuer seen on a second chain changes cross-chain counts of blocks it approves
      if (mask !== 0) this.reevaluateAllPending = true
    }
    return i
  }

  private insert (v: ValidatedBlock, batch: MutableBatch): void {
    const b = v.block
    const chain = this.genesis.chains.indexOf(b.chain)
    const issuer = this.intern(b.issuer, chain)
    const parents = b.parents.map(p => this.nodes.get(p) as Node)
    const prev = b.prev == null ? null : this.nodes.get(b.prev) as Node
    const refs = [...new Set(prev == null ? parents : [...parents, prev])]
    let depth = 0
    for (const r of refs) depth = Math.max(depth, r.depth)
    const node: Node = {
      id: v.id, index: this.order.length, issuer, seq: b.seq, chain, time: b.time, depth: depth + 1,
      parents, prev, refs, children: [], weight: [], status: PENDING, reason: null, txs: this.internTxs(b.txs),
      crossChain: v.crossChain, applied: false
    }
    node.weight = bitWith(node.weight, issuer)
    this.link(node)
    batch.inserted.push({ id: v.id, bytes: v.bytes })
    this.propagate(issuer, refs)
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
    this.tipSet.add(node)
    if (node.status === PENDING) this.pendingSet.add(node)
    this.counts[node.status]++
    if (node.seq > this.maxSeq[node.issuer]) this.maxSeq[node.issuer] = node.seq
    if (node.depth > this.maxDepth) this.maxDepth = node.depth
    const slot = slotKeyOf(node)
    const inSlot = this.slotFirst.get(slot)
    if (inSlot == null) this.slotFirst.set(slot, node)
    else this.slotMulti.set(slot, [...(this.slotMulti.get(slot) ?? [inSlot]), node])
    const fork = forkKeyOf(node)
    const inFork = this.forkFirst.get(fork)
    if (inFork == null) this.forkFirst.set(fork, node)
    else {
      this.forkMulti.set(fork, [...(this.forkMulti.get(fork) ?? [inFork]), node])
      this.dirtyForks.add(fork)
    }
    this.dirty.add(node)
  }

  /**
   * Adds issuer `i` to the weight of every ancestor reachable from `start`, stopping at
   * ancestors that already count `i`: their own ancestors count it too, because weights
   * only grow and an ancestor's future cone contains its descendants' future cones.
   */
  private propagate (i: number, start: readonly Node[]): void {
    const stack = [...start]
    while (stack.length > 0) {
      const a = stack.pop() as Node
      if (a.issuer < 0 || bitHas(a.weight, i)) continue
      a.weight = bitWith(a.weight, i)
      this.dirty.add(a)
      if (this.forkMulti.size > 0) {
        const key = forkKeyOf(a)
        if (this.forkMulti.has(key)) this.dirtyForks.add(key)
      }
      for (const r of a.refs) stack.push(r)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Confirmation

  private eligibleWeight (n: Node): number {
    return this.eligible == null ? bitCount(n.weight) : bitCountAnd(n.weight, this.eligible)
  }

  private crossWeight (n: Node): number {
    if (n.chain < 0) return 0
    const other = this.otherThan[n.chain]
    return this.eligible == null ? bitCountAnd(n.weight, other) : bitCountAnd3(n.weight, other, this.eligible)
  }

  /**
   * Winner of a fork (blocks of one issuer sharing a prev): the most eligible weight, then the
   * lowest id; null while no contender reaches the threshold (all stay pending).
   */
  private resolveFork (group: readonly Node[]): Node | null {
    let best: Node | null = null
    let bestW = -1
    for (const n of group) {
      const w = this.eligibleWeight(n)
      if (w > bestW || (w === bestW && best != null && n.id < best.id)) { best = n; bestW = w }
    }
    return bestW >= this.genesis.threshold ? best : null
  }

  private computeStatus (n: Node): [Status, BlockRejectReason | null] {
    if (n.issuer < 0) return [CONFIRMED, null]
    if (this.forkMulti.size > 0) {
      const key = forkKeyOf(n)
      if (this.forkMulti.has(key)) {
        const winner = this.forkWinner.get(key) ?? null
        if (winner != null && winner !== n) return [REJECTED, 'equivocation']
      }
    }
    if (n.prev != null && n.prev.status === REJECTED) return [REJECTED, 'prev-rejected']
    if (this.eligibleWeight(n) < this.genesis.threshold) return [PENDING, null]
    if (n.crossChain && this.crossWeight(n) < this.genesis.crossChainApprovals) return [PENDING, null]
    for (const r of n.refs) if (r.status === PENDING) return [PENDING, null]
    return [CONFIRMED, null]
  }

  private finish (batch: MutableBatch): BatchResult {
    const changed = this.settle()
    for (const n of changed) {
      if (n.status === CONFIRMED) batch.confirmed.push(n.id)
      else if (n.status === REJECTED) batch.rejected.push(n.id)
    }
    const reverted = this.replay(changed)
    batch.reverted.push(...reverted)
    return batch
  }

  /** Re-evaluates every block whose inputs changed, in (depth, id) order; returns those that changed. */
  private settle (): Node[] {
    if (this.reevaluateAllPending) {
      for (const n of this.pendingSet) this.dirty.add(n)
      this.reevaluateAllPending = false
    }
    for (const key of this.dirtyForks) {
      const group = this.forkMulti.get(key) as Node[]
      const winner = this.resolveFork(group)
      if ((this.forkWinner.get(key) ?? null) !== winner) {
        this.forkWinner.set(key, winner)
        for (const n of group) this.dirty.add(n)
      }
    }
    this.dirtyForks.clear()
    const heap = new NodeHeap()
    const queued = new Set<Node>()
    for (const n of this.dirty) { heap.push(n); queued.add(n) }
    this.dirty = new Set()
    const changed: Node[] = []
    for (let n = heap.pop(); n != null; n = heap.pop()) {
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
      for (const c of n.children) {
        if (!queued.has(c)) { queued.add(c); heap.push(c) }
      }
    }
    return changed
  }

  // ------------------------------------------------------------------------------------------
  // Replay

  /**
   * Brings the state in line with the confirmed set: blocks are applied in (depth, id) order;
   * a change before the last applied block undoes back to it first. Returns reverted ids.
   */
  private replay (changed: readonly Node[]): BlockId[] {
    const moved = changed.filter(n => (n.status === CONFIRMED) !== n.applied)
    if (moved.length === 0) return []
    const reverted = moved.filter(n => n.applied).map(n => n.id)
    moved.sort(compareNodes)
    const first = moved[0]
    const last = this.applied[this.applied.length - 1]
    const toApply: Node[] = []
    // `<=`: a block to revert may itself be the last one applied
    if (last != null && compareNodes(first, last) <= 0) {
      const cut = this.lowerBound(first)
      if (this.undoLogs[cut] === undefined) {
        this.fullReplay()
        return reverted
      }
      this.rollbacks++
      for (let j = this.applied.length - 1; j >= cut; j--) {
        this.state.undo(this.undoLogs[j] as UndoEntry[])
        const n = this.applied[j]
        n.applied = false
        if (n.status === CONFIRMED) toApply.push(n)
      }
      this.applied.length = cut
      this.undoLogs.length = cut
    }
    for (const n of moved) if (n.status === CONFIRMED && !n.applied) toApply.push(n)
    toApply.sort(compareNodes)
    for (const n of toApply) this.applyNode(n)
    return reverted
  }

  private lowerBound (n: Node): number {
    let lo = 0
    let hi = this.applied.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareNodes(this.applied[mid], n) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private fullReplay (): void {
    this.fullReplays++
    this.state = this.genesisState()
    for (const n of this.applied) n.applied = false
    this.applied = []
    this.undoLogs = []
    const all = this.order.filter(n => n.issuer >= 0 && n.status === CONFIRMED).sort(compareNodes)
    for (const n of all) this.applyNode(n)
  }

  private applyNode (n: Node): void {
    const log: UndoEntry[] = []
    const state = this.state
    state.record(log)
    const issuer = this.issuers[n.issuer]
    const chain = this.genesis.chains[n.chain]
    for (let i = 0; i < n.txs.length; i++) {
      const tx = n.txs[i]
      const txId = txIdOf(n.id, i)
      const member = memberOf(state, issuer)
      if (member != null && member.chain !== chain) {
        state.set(NS.rejected, txId, E.UNKNOWN_CHAIN)
        continue
      }
      const def = this.ctx.registry.get(tx.type)
      const mark = log.length
      try {
        if (def == null) throw new LedgerError(E.UNKNOWN_TX, `unknown type ${tx.type}`)
        const actx: TxApplyContext = { genesis: this.genesis, issuer, chain, blockId: n.id, txId, index: i, time: n.time }
        def.apply(state, tx, actx)
      } catch (err) {
        state.undo(log, mark)
        state.set(NS.rejected, txId, isLedgerError(err) ? err.code : E.BAD_TX)
      }
    }
    state.stopRecording()
    n.applied = true
    this.applied.push(n)
    this.undoLogs.push(log.length === 0 ? EMPTY_LOG : log.slice())
    const old = this.undoLogs.length - 1 - this.undoWindow
    if (old >= 0) this.undoLogs[old] = undefined
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
      weight: this.eligibleWeight(n),
      crossChainWeight: this.crossWeight(n),
      crossChain: n.crossChain,
      parents: n.parents.map(p => p.id),
      prev: n.prev?.id ?? null,
      children: n.children.map(c => c.id),
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

  /** Distinct approving issuers of a block (all, eligible or not), sorted. */
  approvers (id: string): Did[] {
    const n = this.nodes.get(id as BlockId)
    if (n == null) return []
    return bitIndices(n.weight).map(i => this.issuers[i]).sort()
  }

  /** Eligible cumulative weight of a block. */
  weight (id: string): number {
    const n = this.nodes.get(id as BlockId)
    return n == null ? 0 : this.eligibleWeight(n)
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

  /** Confirmed blocks in replay order (genesis excluded). */
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
      out.push({
        issuer: this.issuers[slot[0].issuer],
        seq: slot[0].seq,
        blocks: slot.map(n => n.id).sort(),
        canonical: canonical?.id ?? null
      })
    }
    return out.sort((x, y) => (x.issuer < y.issuer ? -1 : x.issuer > y.issuer ? 1 : x.seq - y.seq))
  }

  /** Read-only view of the replayed state. */
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

  /** Sum of all balances; equals grant × members (L28). */
  totalCredits (): number {
    let sum = 0
    for (const k of this.state.keys(NS.balance)) sum += balanceOf(this.state, k)
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
      equivocations: this.slotMulti.size,
      maxDepth: this.maxDepth,
      applied: this.applied.length,
      rollbacks: this.rollbacks,
      fullReplays: this.fullReplays
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
   * Two parents for a new block: tips, preferring unconfirmed ones (they need the weight) of
   * other issuers, the two of distinct issuers; never rejected tips nor tips more than
   * LAZY_TIP_DEPTH below the deepest block. The issuer's own blocks are not picked: `prev`
   * already approves them (so every new block re-approves its issuer's unconfirmed ones).
   * `rand` returns numbers in [0, 1).
   */
  selectTips (rand: () => number, opts: { readonly issuer?: Did } = {}): [BlockId, BlockId] {
    const self = opts.issuer == null ? -2 : (this.issuerIndex.get(opts.issuer) ?? -2)
    const floor = this.maxDepth - LAZY_TIP_DEPTH
    const usable = (n: Node): boolean => n.issuer >= 0 && n.issuer !== self && n.status !== REJECTED && n.depth >= floor
    const tips = [...this.tipSet].filter(usable).sort(compareNodes)
    // candidates in order of preference: pending tips, confirmed tips, then recent blocks
    const candidates = [...tips.filter(n => n.status === PENDING), ...tips.filter(n => n.status === CONFIRMED)]
    if (candidates.length < 2) {
      for (let j = this.order.length - 1; j > 0 && candidates.length < 8; j--) {
        const n = this.order[j]
        if (usable(n) && !candidates.includes(n)) candidates.push(n)
      }
    }
    if (candidates.length === 0) return [this.allianceId, this.allianceId]
    const pick = (from: readonly Node[]): Node => from[Math.min(from.length - 1, Math.floor(rand() * from.length))]
    const best = (from: readonly Node[]): readonly Node[] => {
      const pending = from.filter(n => n.status === PENDING && this.tipSet.has(n))
      return pending.length > 0 ? pending : from
    }
    const first = pick(best(candidates))
    const rest = candidates.filter(n => n !== first)
    const others = rest.filter(n => n.issuer !== first.issuer)
    const second = others.length > 0 ? pick(best(others)) : rest.length > 0 ? pick(best(rest)) : this.genesisNode
    return [first.id, second.id]
  }

  /**
   * Everything an issuer needs for its next block but the transactions: chain (if fixed),
   * seq and prev (its head), parents (`selectTips`) and a time not older than them.
   */
  template (issuer: Did, rand: () => number, now: number): BlockTemplate {
    const head = this.headOf(issuer)
    const parents = this.selectTips(rand, { issuer })
    const founder = this.ctx.founderChains.get(issuer)
    let time = now
    for (const id of parents) time = Math.max(time, (this.nodes.get(id) as Node).time)
    if (head != null) time = Math.max(time, head.time)
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
   * and gives others a fresh tip to approve — no user action (DESIGN, IOTA lesson).
   */
  promotionDue (issuer: Did, now: number, ageMs: number): boolean {
    const i = this.issuerIndex.get(issuer)
    if (i == null) return false
    for (const n of this.pendingSet) if (n.issuer === i && n.time <= now - ageMs) return true
    return false
  }

  // ------------------------------------------------------------------------------------------
  // Checkpoints

  /**
   * The engine's derived state as a dag-cbor encodable value: blocks (without signatures),
   * weights, statuses, the replayed state, the replay order and the undo logs in the window.
   * Orphans are not included (the store keeps them).
   */
  snapshot (): LedgerSnapshot {
    const blocks: SnapshotBlock[] = []
    for (const n of this.order) {
      if (n.issuer < 0) continue
      blocks.push([
        n.id, n.issuer, n.seq, n.chain, n.time,
        n.parents[0].index, n.parents[1].index, n.prev?.index ?? -1,
        n.crossChain, n.status, n.reason ?? '', n.weight.slice(), n.txs as unknown as LedgerValue
      ])
    }
    const undoFrom = this.undoLogs.findIndex(l => l !== undefined)
    const undo: SnapshotUndo[] = undoFrom < 0
      ? []
      : (this.undoLogs.slice(undoFrom) as UndoEntry[][]).map(log => log.map(([ns, key, before]) => before === undefined ? [ns, key] : [ns, key, before]))
    return {
      v: 1,
      alliance: this.allianceId,
      issuers: [...this.issuers],
      issuerChains: [...this.issuerChains],
      blocks,
      state: this.state.entries(),
      applied: this.applied.map(n => n.index),
      undoFrom: undoFrom < 0 ? this.undoLogs.length : undoFrom,
      undo,
      counters: [this.rollbacks, this.fullReplays]
    }
  }

  /**
   * Rebuilds an engine from `snapshot()` without validating, propagating or replaying again.
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
    if (s == null || s.v !== 1) bad('version')
    if (s.alliance !== this.allianceId) bad('another alliance')
    if (!Array.isArray(s.issuers) || !Array.isArray(s.blocks) || !Array.isArray(s.applied) || !Array.isArray(s.undo)) bad('shape')
    if (this.issuers.some((d, i) => s.issuers[i] !== d)) bad('founders differ')
    for (let i = 0; i < s.issuers.length; i++) {
      const did = s.issuers[i]
      if (i >= this.issuers.length) {
        this.issuers.push(did); this.issuerIndex.set(did, i); this.issuerChains.push(0); this.maxSeq.push(0)
      }
      const mask = s.issuerChains[i]
      this.issuerChains[i] = mask
      for (let c = 0; c < this.otherThan.length; c++) if ((mask & ~(1 << c)) !== 0) bitAdd(this.otherThan[c], i)
    }
    for (const row of s.blocks) {
      const [id, issuer, seq, chain, time, p0, p1, prevIndex, crossChain, status, reason, weight, txs] = row
      const at = (k: number): Node => (this.order[k] ?? bad(`reference ${k}`))
      const parents = [at(p0), at(p1)]
      const prev = prevIndex < 0 ? null : at(prevIndex)
      const refs = [...new Set(prev == null ? parents : [...parents, prev])]
      let depth = 0
      for (const r of refs) depth = Math.max(depth, r.depth)
      const node: Node = {
        id, index: this.order.length, issuer, seq, chain, time, depth: depth + 1, parents, prev, refs,
        children: [], weight: Array.from(weight, w => w >>> 0), status: status as Status, reason: reason === '' ? null : reason as BlockRejectReason,
        txs: this.internTxs(txs as unknown as Tx[]), crossChain, applied: false
      }
      this.link(node)
    }
    this.dirty.clear()
    for (const key of this.dirtyForks) this.forkWinner.set(key, this.resolveFork(this.forkMulti.get(key) as Node[]))
    this.dirtyForks.clear()
    this.state = LedgerState.fromEntries(s.state)
    this.applied = s.applied.map(k => {
      const n = this.order[k] ?? bad(`applied ${k}`)
      n.applied = true
      return n
    })
    this.undoLogs = new Array<UndoEntry[] | undefined>(s.undoFrom).fill(undefined)
    for (const log of s.undo) this.undoLogs.push(log.map(([ns, key, before]) => [ns, key, before] as UndoEntry))
    if (this.undoLogs.length !== this.applied.length) bad('undo logs do not match the applied blocks')
    this.rollbacks = s.counters[0]
    this.fullReplays = s.counters[1]
  }
}

/** Blocks of one issuer with the same prev (or both first): an equivocation's fork. */
function forkKeyOf (n: Node): string {
  return `${n.issuer}:${n.prev?.index ?? -1}`
}

/** Blocks of one issuer with the same seq. */
function slotKeyOf (n: Node): string {
  return `${n.issuer}:${n.seq}`
}

/** Shared by applied blocks that wrote nothing (never written to: undo of it is a no-op). */
const EMPTY_LOG: UndoEntry[] = []

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

/**
 * [id, issuer index, seq, chain index, time, parent 0 index, parent 1 index, prev index (-1:
 * none), cross-chain, status (0 pending, 1 confirmed, 2 rejected), reject reason ('' none),
 * weight words, txs]. Indices are positions in insertion order, 0 being the genesis.
 */
export type SnapshotBlock = [
  BlockId, number, number, number, number, number, number, number, boolean, number, string, number[], LedgerValue
]

/** An undo entry; two elements when the key was absent before. */
export type SnapshotUndo = Array<[string, string] | [string, string, LedgerValue]>

export interface LedgerSnapshot {
  readonly v: 1
  readonly alliance: AllianceId
  readonly issuers: Did[]
  readonly issuerChains: number[]
  readonly blocks: SnapshotBlock[]
  readonly state: StateEntries
  /** Insertion indices of applied blocks, in replay order. */
  readonly applied: number[]
  /** Index in `applied` of the first block whose undo log is kept. */
  readonly undoFrom: number
  readonly undo: SnapshotUndo[]
  readonly counters: [number, number]
}
