/**
 * The ledger engine's issuers and their account chains: each DID that issued a block gets a
 * small index (nodes hold the index, not the string), and each slot (issuer, seq) lists its
 * blocks — one, unless the issuer equivocated (L23) — so an issuer's head and the
 * equivocations are found without scanning the DAG. Also interns the strings of transactions
 * kept in memory.
 */
import type { Did } from '../identity.ts'
import type { LedgerContext } from './block.ts'
import type { LedgerValue, Tx } from './types.ts'
import type { Equivocation } from './engine-types.ts'
import { CONFIRMED, REJECTED } from './engine-node.ts'
import type { Node } from './engine-node.ts'

export class IssuerChains {
  /** DIDs by issuer index (the engine reads `dids[node.issuer]`). */
  readonly dids: Did[] = []
  private readonly index = new Map<string, number>()
  /** Highest seq seen per issuer index. */
  private readonly maxSeq: number[] = []
  /** Blocks by slot `${issuer}:${seq}`: almost always one, so a list is made only for a second. */
  private readonly slotFirst = new Map<string, Node>()
  private readonly slotMulti = new Map<string, Node[]>()

  constructor (private readonly ctx: LedgerContext) {}

  get size (): number {
    return this.dids.length
  }

  /** The issuer's index, made if it is new. */
  intern (did: Did): number {
    let i = this.index.get(did)
    if (i == null) {
      i = this.dids.length
      this.dids.push(did)
      this.index.set(did, i)
      this.maxSeq.push(0)
    }
    return i
  }

  /** The issuer's index if it has a block here (or is a founder). */
  indexOf (did: string): number | undefined {
    return this.index.get(did)
  }

  has (did: string): boolean {
    return this.index.has(did)
  }

  /** Files a block just linked into the DAG under its slot. */
  add (node: Node): void {
    if (node.seq > this.maxSeq[node.issuer]) this.maxSeq[node.issuer] = node.seq
    const slot = `${node.issuer}:${node.seq}`
    const inSlot = this.slotFirst.get(slot)
    if (inSlot == null) this.slotFirst.set(slot, node)
    else this.slotMulti.set(slot, [...(this.slotMulti.get(slot) ?? [inSlot]), node])
  }

  /** The issuer's latest block that is not rejected (its account chain's head), if any. */
  headOf (issuer: Did): Node | null {
    const i = this.index.get(issuer)
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

  /** Slots with more than one block. */
  get equivocationCount (): number {
    return this.slotMulti.size
  }

  /** Every slot (issuer, seq) with more than one block, sorted by issuer DID then seq. */
  equivocations (): Equivocation[] {
    const out: Equivocation[] = []
    for (const slot of this.slotMulti.values()) {
      const canonical = slot.find(n => n.status === CONFIRMED)
      out.push({ issuer: this.dids[slot[0].issuer], seq: slot[0].seq, blocks: slot.map(n => n.id).sort(), canonical: canonical?.id ?? null })
    }
    return out.sort((x, y) => (x.issuer < y.issuer ? -1 : x.issuer > y.issuer ? 1 : x.seq - y.seq))
  }

  /**
   * Transactions as kept in memory: strings equal to a known issuer's DID, a chain name or
   * the type share one string (decoding makes a copy per occurrence, ~100 bytes a block).
   */
  internTxs (txs: readonly Tx[]): readonly Tx[] {
    const chains = this.ctx.genesis.chains
    return txs.map(tx => {
      const out: Record<string, LedgerValue> = {}
      for (const k of Object.keys(tx)) {
        const v = tx[k]
        if (typeof v !== 'string') { out[k] = v; continue }
        if (k === 'type') { out[k] = this.ctx.registry.get(v)?.type ?? v; continue }
        const i = this.index.get(v)
        const c = i == null ? chains.indexOf(v) : -1
        out[k] = i != null ? this.dids[i] : c >= 0 ? chains[c] : v
      }
      return out as Tx
    })
  }
}

function preferCanonical (a: Node, b: Node): boolean {
  if (a.status !== b.status) return a.status === CONFIRMED
  return a.id < b.id
}
