/**
 * The ledger state: namespaced key/value maps (members, balances, anchors, rejected
 * transactions, and whatever registered transaction types add), changed only by replaying
 * confirmed blocks. Every write can be recorded in an undo log so the engine can roll back
 * blocks when a block confirmed later sorts before blocks already applied. `hash()` is the CID
 * of a canonical encoding: identical on every peer that applied the same blocks in the same
 * order, whatever the insertion order of the maps.
 *
 * Two things for checkpoints (SPEC P7, S14): an incremental LtHash commitment of the entries
 * (made on first use, then kept up to date by every write: one expansion per changed entry,
 * not a re-encoding of the state), and a per-block journal of writes since the last prune,
 * so a validator can compute the state at a cut a little behind its own (S15).
 */
import { cidOf } from '../codec.ts'
import { StateCommitment, encodeStateEntry } from './state-commitment.ts'
import type { LedgerValue } from './types.ts'

/** Read access, for the UI, the market index and transaction types. */
export interface StateReader {
  get (ns: string, key: string): LedgerValue | undefined
  has (ns: string, key: string): boolean
  /** Keys of a namespace in code-unit order (deterministic). */
  keys (ns: string): string[]
  size (ns: string): number
}

/** What a transaction type's `apply` may do. Values must be dag-cbor encodable. */
export interface StateView extends StateReader {
  set (ns: string, key: string, value: LedgerValue): void
  delete (ns: string, key: string): void
}

/** One undo entry: the namespace, key and the value before the write (undefined: absent). */
export type UndoEntry = readonly [ns: string, key: string, before: LedgerValue | undefined]

/** Canonical, encodable form of the state: namespaces and keys sorted, empty ones dropped. */
export type StateEntries = Array<[string, Array<[string, LedgerValue]>]>

/** A write as the journal keeps it: namespace, key, value before and after (undefined: absent). */
export type JournalWrite = readonly [ns: string, key: string, before: LedgerValue | undefined, after: LedgerValue | undefined]

/** The writes of one applied block, in order. */
export interface JournalBlock {
  readonly block: string
  readonly writes: JournalWrite[]
}

function byCodeUnit (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class LedgerState implements StateView {
  private readonly spaces = new Map<string, Map<string, LedgerValue>>()
  private recording: UndoEntry[] | null = null
  /** Null until `commitment()` is first asked for; then updated by every write. */
  private lt: StateCommitment | null = null
  private journal: JournalBlock[] = []
  private current: JournalBlock | null = null

  get (ns: string, key: string): LedgerValue | undefined {
    return this.spaces.get(ns)?.get(key)
  }

  has (ns: string, key: string): boolean {
    return this.spaces.get(ns)?.has(key) ?? false
  }

  keys (ns: string): string[] {
    return [...(this.spaces.get(ns)?.keys() ?? [])].sort(byCodeUnit)
  }

  size (ns: string): number {
    return this.spaces.get(ns)?.size ?? 0
  }

  set (ns: string, key: string, value: LedgerValue): void {
    if (typeof ns !== 'string' || typeof key !== 'string') throw new TypeError('namespace and key must be strings')
    if (value === undefined) throw new TypeError('state values cannot be undefined; use delete')
    let space = this.spaces.get(ns)
    if (space == null) { space = new Map(); this.spaces.set(ns, space) }
    const before = space.get(key)
    this.recording?.push([ns, key, before])
    space.set(key, value)
    this.wrote(ns, key, before, value)
  }

  /** Journal and commitment bookkeeping of one write. */
  private wrote (ns: string, key: string, before: LedgerValue | undefined, after: LedgerValue | undefined): void {
    this.current?.writes.push([ns, key, before, after])
    if (this.lt != null) {
      if (before !== undefined) this.lt.remove(encodeStateEntry(ns, key, before))
      if (after !== undefined) this.lt.add(encodeStateEntry(ns, key, after))
    }
  }

  /** Writes from now on belong to `block` in the journal (the engine calls it as it applies one). */
  beginBlock (block: string): void {
    this.current = { block, writes: [] }
    this.journal.push(this.current)
  }

  /** The journal since the last `dropJournal` (or since this state was made), oldest first. */
  journalBlocks (): readonly JournalBlock[] {
    return this.journal
  }

  /** Forgets the journal of the blocks `drop` says (pruned below a checkpoint). */
  dropJournal (drop: (block: string) => boolean): void {
    this.journal = this.journal.filter(j => !drop(j.block))
    if (this.current != null && drop(this.current.block)) this.current = null
  }

  /** The incremental commitment of the entries (P7); the first call costs O(state). */
  commitment (): StateCommitment {
    if (this.lt == null) {
      const c = StateCommitment.empty()
      for (const [ns, space] of this.spaces) for (const [k, v] of space) c.add(encodeStateEntry(ns, k, v))
      this.lt = c
    }
    return this.lt
  }

  /** The digest of `commitment()`: what a checkpoint signs (S14). */
  digest (): string {
    return this.commitment().digest()
  }

  /** An independent copy (maps copied, values shared: they are never mutated in place). */
  clone (): LedgerState {
    const s = new LedgerState()
    for (const [ns, space] of this.spaces) s.spaces.set(ns, new Map(space))
    if (this.lt != null) s.lt = this.lt.clone()
    return s
  }

  /** Sets or deletes without recording or journaling (rewinding a copy to a cut). */
  rewind (ns: string, key: string, value: LedgerValue | undefined): void {
    let space = this.spaces.get(ns)
    const before = space?.get(key)
    if (value === undefined) space?.delete(key)
    else {
      if (space == null) { space = new Map(); this.spaces.set(ns, space) }
      space.set(key, value)
    }
    if (this.lt != null) {
      if (before !== undefined) this.lt.remove(encodeStateEntry(ns, key, before))
      if (value !== undefined) this.lt.add(encodeStateEntry(ns, key, value))
    }
  }

  delete (ns: string, key: string): void {
    const space = this.spaces.get(ns)
    if (space == null || !space.has(key)) return
    const before = space.get(key)
    this.recording?.push([ns, key, before])
    space.delete(key)
    this.wrote(ns, key, before, undefined)
  }

  /** Starts recording writes into `log` (until `stopRecording`). */
  record (log: UndoEntry[]): void {
    this.recording = log
  }

  stopRecording (): void {
    this.recording = null
  }

  /** Reverts the entries of `log` from the end down to `from` (inclusive), without recording. */
  undo (log: UndoEntry[], from = 0): void {
    const saved = this.recording
    this.recording = null
    for (let i = log.length - 1; i >= from; i--) {
      const [ns, key, before] = log[i]
      const space = this.spaces.get(ns)
      const now = space?.get(key)
      if (before === undefined) space?.delete(key)
      else if (space != null) space.set(key, before)
      else this.spaces.set(ns, new Map([[key, before]]))
      this.wrote(ns, key, now, before)
    }
    log.length = from
    this.recording = saved
  }

  entries (): StateEntries {
    const out: StateEntries = []
    for (const ns of [...this.spaces.keys()].sort(byCodeUnit)) {
      const space = this.spaces.get(ns)
      if (space == null || space.size === 0) continue
      out.push([ns, [...space.entries()].sort((a, b) => byCodeUnit(a[0], b[0]))])
    }
    return out
  }

  /** CID string of the canonical encoding of the state. O(size of the state). */
  hash (): string {
    return cidOf(this.entries()).toString()
  }

  /** A state of `entries`; `commitment`, when given, must be theirs (a checkpoint join verified it, S31). */
  static fromEntries (entries: StateEntries, commitment?: StateCommitment): LedgerState {
    const s = new LedgerState()
    for (const [ns, pairs] of entries) s.spaces.set(ns, new Map(pairs))
    if (commitment != null) s.lt = commitment
    return s
  }
}
