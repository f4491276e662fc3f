/**
 * In-memory `LedgerStore` for tests, tools and peers that do not persist. Same semantics as
 * the IndexedDB store: a write is staged completely, then committed at once (or not at all,
 * when it fails or is aborted before committing); reads return copies of the records.
 */
import type { BlockId } from '../core/ledger/types.ts'
import {
  abortedError, checkCheckpoint, checkPosition, checkRange, checkOrphan, describeBlock, LedgerStoreError, LedgerStoreErrorCode
} from './ledger.ts'
import type {
  BlockBytes, LedgerCheckpoint, LedgerStore, LedgerWrite, StoreCallOptions, StoredBlock, StoredOrphan
} from './ledger.ts'

export class MemoryLedgerStore implements LedgerStore {
  /** The held blocks: `blocks[i]` is at position `base + i` (S40: below `base` was pruned). */
  private blocks: StoredBlock[] = []
  private base = 0
  private byId = new Map<string, StoredBlock>()
  private bySlot = new Map<string, StoredBlock[]>()
  private childrenOf = new Map<string, Set<BlockId>>()
  private tipSet = new Set<BlockId>()
  private orphans = new Map<string, StoredOrphan>()
  private checkpoints: LedgerCheckpoint[] = []
  private closed = false

  private open (): void {
    if (this.closed) throw new LedgerStoreError(LedgerStoreErrorCode.CLOSED, 'the ledger store is closed')
  }

  async write (w: LedgerWrite, opts: StoreCallOptions = {}): Promise<void> {
    this.open()
    if (opts.signal?.aborted === true) throw abortedError()
    // stage: check and describe everything before changing anything
    const staged: StoredBlock[] = []
    const seen = new Set<string>()
    for (const b of w.blocks ?? []) {
      if (this.byId.has(b?.id) || seen.has(b?.id)) continue
      staged.push(describeBlock(b, this.base + this.blocks.length + staged.length))
      seen.add(b.id)
    }
    const orphans = (w.orphans ?? []).map(checkOrphan)
    const remove = [...(w.removeOrphans ?? [])]
    // an IndexedDB transaction commits after the current task; so does this
    await Promise.resolve()
    if (isAborted(opts.signal)) throw abortedError()
    this.open()
    for (const b of staged) {
      this.blocks.push(b)
      this.byId.set(b.id, b)
      const slot = `${b.issuer}|${b.seq}`
      this.bySlot.set(slot, [...(this.bySlot.get(slot) ?? []), b])
      for (const r of b.refs) {
        let set = this.childrenOf.get(r)
        if (set == null) { set = new Set(); this.childrenOf.set(r, set) }
        set.add(b.id)
        this.tipSet.delete(r)
      }
      // a block some stored block already references (stored child first) is no tip
      if (!this.childrenOf.has(b.id)) this.tipSet.add(b.id)
      this.orphans.delete(b.id)
    }
    for (const o of orphans) if (!this.byId.has(o.id)) this.orphans.set(o.id, o)
    for (const id of remove) this.orphans.delete(id)
  }

  async putBlocks (blocks: readonly BlockBytes[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ blocks }, opts)
  }

  async getBlock (id: string): Promise<StoredBlock | undefined> {
    this.open()
    const b = this.byId.get(id)
    return b == null ? undefined : copyBlock(b)
  }

  async hasBlock (id: string): Promise<boolean> {
    this.open()
    return this.byId.has(id)
  }

  async blockCount (): Promise<number> {
    this.open()
    return this.base + this.blocks.length
  }

  async firstPosition (): Promise<number> {
    this.open()
    return this.base
  }

  async pruneBelow (position: number, opts: StoreCallOptions = {}): Promise<number> {
    this.open()
    checkPosition(position)
    // never the newest block: it may be all that tells where the next position is
    const cut = Math.min(position, this.base + this.blocks.length - 1)
    await Promise.resolve()
    if (isAborted(opts.signal)) throw abortedError()
    if (cut <= this.base) return this.base
    const gone = this.blocks.slice(0, cut - this.base)
    this.blocks = this.blocks.slice(cut - this.base)
    this.base = cut
    for (const b of gone) {
      this.byId.delete(b.id)
      this.tipSet.delete(b.id)
      // as the IndexedDB store's scan: a forgotten block is nobody's child any more, while a
      // forgotten parent still lists the held blocks that reference it
      for (const r of b.refs) {
        const set = this.childrenOf.get(r)
        set?.delete(b.id)
        if (set?.size === 0) this.childrenOf.delete(r)
      }
      const slot = `${b.issuer}|${b.seq}`
      const left = (this.bySlot.get(slot) ?? []).filter(x => x.id !== b.id)
      if (left.length > 0) this.bySlot.set(slot, left)
      else this.bySlot.delete(slot)
    }
    return this.base
  }

  async * iterateBlocks (opts: { readonly from?: number, readonly pageSize?: number } = {}): AsyncIterable<StoredBlock> {
    const pageSize = Math.max(1, opts.pageSize ?? 500)
    let at = Math.max(0, opts.from ?? 0)
    for (;;) {
      this.open()
      at = Math.max(at, this.base)
      const page = this.blocks.slice(at - this.base, at - this.base + pageSize)
      if (page.length === 0) return
      for (const b of page) yield copyBlock(b)
      at += page.length
    }
  }

  async blockIdsFrom (from: number, limit: number): Promise<BlockId[]> {
    this.open()
    checkRange(from, limit)
    const start = Math.max(from, this.base)
    return this.blocks.slice(start - this.base, from + limit - this.base).map(b => b.id)
  }

  async getBlocksBytes (ids: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    this.open()
    return ids.map(id => this.byId.get(id)?.bytes.slice())
  }

  async getByIssuerSeq (issuer: string, seq: number): Promise<StoredBlock[]> {
    this.open()
    return (this.bySlot.get(`${issuer}|${seq}`) ?? []).map(copyBlock).sort((a, b) => a.n - b.n)
  }

  async children (parent: string): Promise<BlockId[]> {
    this.open()
    return [...(this.childrenOf.get(parent) ?? [])].sort()
  }

  async tips (): Promise<BlockId[]> {
    this.open()
    return [...this.tipSet].sort()
  }

  async putOrphans (orphans: readonly StoredOrphan[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ orphans }, opts)
  }

  async takeOrphans (id: string): Promise<StoredOrphan[]> {
    this.open()
    const out = [...this.orphans.values()].filter(o => o.missing.includes(id as BlockId)).sort(byId)
    for (const o of out) this.orphans.delete(o.id)
    return out.map(copyOrphan)
  }

  async listOrphans (): Promise<StoredOrphan[]> {
    this.open()
    return [...this.orphans.values()].sort(byId).map(copyOrphan)
  }

  async putCheckpoint (cp: LedgerCheckpoint, opts: StoreCallOptions = {}): Promise<void> {
    this.open()
    const checked = checkCheckpoint(cp)
    await Promise.resolve()
    if (opts.signal?.aborted === true) throw abortedError()
    this.checkpoints = [...this.checkpoints, { ...checked, data: checked.data.slice() }].slice(-2)
  }

  async getCheckpoint (): Promise<LedgerCheckpoint | undefined> {
    this.open()
    const cp = this.checkpoints[this.checkpoints.length - 1]
    return cp == null ? undefined : { ...cp, data: cp.data.slice() }
  }

  async getPreviousCheckpoint (): Promise<LedgerCheckpoint | undefined> {
    this.open()
    const cp = this.checkpoints.length > 1 ? this.checkpoints[this.checkpoints.length - 2] : undefined
    return cp == null ? undefined : { ...cp, data: cp.data.slice() }
  }

  async close (): Promise<void> {
    this.closed = true
  }
}

/** A function, so that TypeScript does not keep the narrowing of an earlier check across an await. */
function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function byId (a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function copyBlock (b: StoredBlock): StoredBlock {
  return { ...b, bytes: b.bytes.slice(), refs: [...b.refs] }
}

function copyOrphan (o: StoredOrphan): StoredOrphan {
  return { ...o, bytes: o.bytes.slice(), missing: [...o.missing] }
}

export function createMemoryLedgerStore (): MemoryLedgerStore {
  return new MemoryLedgerStore()
}
