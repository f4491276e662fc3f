/**
 * The ledger engine's orphan pool: validated blocks that reference blocks not held yet, parked
 * until the last one arrives. Bounded in count and bytes (oldest evicted first); blocks of
 * strangers (L39: after seq 1, of an issuer with no block here) sit in a separate, much smaller
 * budget and are never persisted, so a flood of fresh keys neither fills memory nor pushes a
 * member's orphan out.
 */
import type { ValidatedBlock } from './block.ts'
import type { LedgerError } from './errors.ts'
import type { BlockId } from './types.ts'
import type { MutableBatch } from './engine-node.ts'

export const DEFAULT_MAX_ORPHANS = 4096
export const DEFAULT_MAX_ORPHAN_BYTES = 16 * 1024 * 1024

/** L39: blocks after seq 1 of issuers with no block here, held at most (oldest evicted first). */
export const MAX_STRANGER_ORPHANS = 64
export const MAX_STRANGER_ORPHAN_BYTES = 1024 * 1024

interface Orphan {
  readonly v: ValidatedBlock
  readonly missing: Set<BlockId>
  /** Of an issuer with no block here, after seq 1 (L39): kept apart, few, and never persisted. */
  readonly stranger: boolean
}

/**
 * Called by `cascade` for an orphan whose last missing reference arrived (the pool has let it
 * go): inserts it and returns null, or returns why it cannot go in (it is then dropped).
 */
export type AdmitOrphan = (v: ValidatedBlock, batch: MutableBatch) => LedgerError | null

export class OrphanPool {
  private readonly maxOrphans: number
  private readonly maxOrphanBytes: number
  private readonly orphans = new Map<BlockId, Orphan>()
  /** Missing id → the orphans waiting for it. */
  private readonly waiting = new Map<BlockId, Set<BlockId>>()
  private orphanBytes = 0
  /** Stranger orphans in arrival order, and their bytes (also in `orphans`/`orphanBytes`). */
  private readonly strangerIds = new Set<BlockId>()
  private strangerBytes = 0

  constructor (maxOrphans: number, maxOrphanBytes: number) {
    if (!Number.isInteger(maxOrphans) || maxOrphans < 0) throw new RangeError('maxOrphans must be a non-negative integer')
    if (!(maxOrphanBytes >= 0)) throw new RangeError('maxOrphanBytes must be >= 0')
    this.maxOrphans = maxOrphans
    this.maxOrphanBytes = maxOrphanBytes
  }

  get size (): number {
    return this.orphans.size
  }

  has (id: BlockId): boolean {
    return this.orphans.has(id)
  }

  /** The parked block, if `id` is parked. */
  get (id: BlockId): ValidatedBlock | undefined {
    return this.orphans.get(id)?.v
  }

  /**
   * L39: a block after seq 1 whose issuer has no block here (`issuerKnown` false) and whose
   * prev is not its own parked block: maybe a new member's block that overtook its join, maybe
   * a fresh key's junk.
   */
  isStranger (v: ValidatedBlock, issuerKnown: boolean): boolean {
    const b = v.block
    if (b.seq <= 1 || issuerKnown) return false
    const prev = b.prev == null ? undefined : this.orphans.get(b.prev)
    return prev == null || prev.v.block.issuer !== b.issuer || prev.stranger
  }

  /** Parks `v` until every id of `missing` is held, evicting the oldest of its budget to fit. */
  park (v: ValidatedBlock, missing: readonly BlockId[], batch: MutableBatch, stranger: boolean): void {
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

  /**
   * Hands orphans whose last missing reference just arrived to `admit`, transitively (what
   * goes in may be the last missing reference of others), in id order per arrival.
   */
  cascade (arrived: BlockId, batch: MutableBatch, admit: AdmitOrphan): void {
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
        this.forget(oid, o)
        const error = admit(o.v, batch)
        if (error != null) {
          batch.dropped.push({ id: oid, error })
          continue
        }
        queue.push(oid)
      }
    }
  }

  /** Ids the orphans wait for that are not parked themselves (an arrival clears its own). */
  missing (): BlockId[] {
    return [...this.waiting.keys()].filter(id => !this.orphans.has(id)).sort()
  }

  /** Parked ids, oldest first. */
  ids (): BlockId[] {
    return [...this.orphans.keys()]
  }

  private oldestMemberOrphan (): BlockId {
    for (const id of this.orphans.keys()) if (!this.strangerIds.has(id)) return id
    throw new Error('no orphan to evict')
  }

  private forget (id: BlockId, o: Orphan): void {
    this.orphans.delete(id)
    this.orphanBytes -= o.v.bytes.byteLength
    if (o.stranger) {
      this.strangerIds.delete(id)
      this.strangerBytes -= o.v.bytes.byteLength
    }
  }

  private unpark (id: BlockId): void {
    const o = this.orphans.get(id)
    if (o == null) return
    this.forget(id, o)
    for (const m of o.missing) {
      const set = this.waiting.get(m)
      set?.delete(id)
      if (set?.size === 0) this.waiting.delete(m)
    }
  }
}
