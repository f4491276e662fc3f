/**
 * The ledger state: namespaced key/value maps (members, balances, anchors, rejected
 * transactions, and whatever registered transaction types add), changed only by replaying
 * confirmed blocks. Every write can be recorded in an undo log so the engine can roll back
 * blocks when a block confirmed later sorts before blocks already applied. `hash()` is the CID
 * of a canonical encoding: identical on every peer that applied the same blocks in the same
 * order, whatever the insertion order of the maps.
 */
import { cidOf } from '../codec.ts'
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

function byCodeUnit (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class LedgerState implements StateView {
  private readonly spaces = new Map<string, Map<string, LedgerValue>>()
  private recording: UndoEntry[] | null = null

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
    this.recording?.push([ns, key, space.get(key)])
    space.set(key, value)
  }

  delete (ns: string, key: string): void {
    const space = this.spaces.get(ns)
    if (space == null || !space.has(key)) return
    this.recording?.push([ns, key, space.get(key)])
    space.delete(key)
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
      if (before === undefined) space?.delete(key)
      else if (space != null) space.set(key, before)
      else this.spaces.set(ns, new Map([[key, before]]))
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

  static fromEntries (entries: StateEntries): LedgerState {
    const s = new LedgerState()
    for (const [ns, pairs] of entries) s.spaces.set(ns, new Map(pairs))
    return s
  }
}
