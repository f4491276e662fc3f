/**
 * Where a peer keeps the signed checkpoint packages it made or joined from (SPEC.md S19):
 * the `CheckpointStore` interface and its in-memory twin; `checkpoints-idb.ts` is the
 * IndexedDB one (database `alliance/${profile}/checkpoints`, one per profile, keyed by
 * alliance and cut time). Both pass `test/fixtures/checkpoint-store-suite.ts`.
 * A package is kept as the bytes it travels as (`encodeCheckpointPackage`); the few fields
 * a peer needs before reading it (to answer "which checkpoint do you have", to open the
 * ledger from its tail) are kept beside it. Only the newest `keep` packages of an alliance
 * stay: older ones are deleted in the same transaction that adds a newer one.
 */
import { LedgerStoreError, LedgerStoreErrorCode, type StoreCallOptions } from './ledger.ts'

/** What is known of a package without reading it. */
export interface CheckpointMeta {
  readonly alliance: string
  /** The cut's grid time (S18). */
  readonly at: number
  /** Blocks in the cut (`body.height`). */
  readonly height: number
  /** `body.time`: newest block time in the cut. */
  readonly time: number
  /** `body.state`: the LtHash digest. */
  readonly state: string
  /** SHA-256 (hex) of the signed bytes of the body: two peers hold the same checkpoint when equal. */
  readonly body: string
  /** Position in this peer's ledger store of the first block outside the cut (its tail). */
  readonly tailFrom: number
  /** Size of the package bytes. */
  readonly bytes: number
}

export interface StoredCheckpointPackage {
  readonly meta: CheckpointMeta
  readonly bytes: Uint8Array
}

export interface CheckpointStore {
  /** Adds a package (replacing one at the same `at`) and drops all but the newest `keep`. */
  put (pkg: StoredCheckpointPackage, opts?: StoreCallOptions): Promise<void>
  /** The newest package's meta, without its bytes. */
  newestMeta (): Promise<CheckpointMeta | undefined>
  /** The newest package. */
  newest (): Promise<StoredCheckpointPackage | undefined>
  /** The package cut at `at`, if kept (start-up falls back to an older one, S40). */
  get (at: number): Promise<StoredCheckpointPackage | undefined>
  /** Metas, oldest first. */
  list (): Promise<CheckpointMeta[]>
  close (): Promise<void>
}

/** The ledger store's codes: both rooms fail in the same ways, and the UI reads them alike. */
export const CheckpointStoreErrorCode = LedgerStoreErrorCode
export type CheckpointStoreErrorCode = LedgerStoreErrorCode

export class CheckpointStoreError extends LedgerStoreError {}

/** Packages kept per alliance by default: the newest, and one before it while peers still ask for it. */
export const CHECKPOINTS_KEPT = 2

const uint = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0

/** Checks a meta record on the way in and out (a damaged record is ERR_STORE_CORRUPT, not data). */
export function checkCheckpointMeta (m: unknown, code: CheckpointStoreErrorCode | 'type' = 'type'): CheckpointMeta {
  const r = m as Partial<CheckpointMeta> | null
  const ok = r != null && typeof r.alliance === 'string' && uint(r.at) && uint(r.height) && uint(r.time) && typeof r.state === 'string' &&
    typeof r.body === 'string' && uint(r.tailFrom) && uint(r.bytes)
  if (!ok) {
    if (code === 'type') throw new TypeError('a checkpoint meta is { alliance, at, height, time, state, body, tailFrom, bytes }')
    throw new CheckpointStoreError(code, 'a stored checkpoint record is damaged')
  }
  return { alliance: r.alliance as string, at: r.at as number, height: r.height as number, time: r.time as number, state: r.state as string, body: r.body as string, tailFrom: r.tailFrom as number, bytes: r.bytes as number }
}

export function checkStoredPackage (p: StoredCheckpointPackage, alliance: string): StoredCheckpointPackage {
  if (p == null || !(p.bytes instanceof Uint8Array)) throw new TypeError('a stored checkpoint package is { meta, bytes: Uint8Array }')
  const meta = checkCheckpointMeta(p.meta)
  if (meta.alliance !== alliance) throw new RangeError('a checkpoint of another alliance')
  if (meta.bytes !== p.bytes.byteLength) throw new RangeError('meta.bytes is not the size of the package')
  return { meta, bytes: p.bytes }
}

export class MemoryCheckpointStore implements CheckpointStore {
  readonly #items = new Map<number, StoredCheckpointPackage>()
  #closed = false
  constructor (private readonly alliance: string, private readonly keep = CHECKPOINTS_KEPT) {}

  #open (): void {
    if (this.#closed) throw new CheckpointStoreError(CheckpointStoreErrorCode.CLOSED, 'the checkpoint store is closed')
  }

  async put (pkg: StoredCheckpointPackage, opts?: StoreCallOptions): Promise<void> {
    this.#open()
    const clean = checkStoredPackage(pkg, this.alliance)
    if (opts?.signal?.aborted === true) throw new CheckpointStoreError(CheckpointStoreErrorCode.ABORTED, 'the write was aborted; nothing was written')
    this.#items.set(clean.meta.at, { meta: clean.meta, bytes: clean.bytes.slice() })
    const ats = [...this.#items.keys()].sort((a, b) => a - b)
    for (const at of ats.slice(0, Math.max(0, ats.length - this.keep))) this.#items.delete(at)
  }

  async newestMeta (): Promise<CheckpointMeta | undefined> {
    return (await this.newest())?.meta
  }

  async newest (): Promise<StoredCheckpointPackage | undefined> {
    this.#open()
    const at = Math.max(-1, ...this.#items.keys())
    return this.#items.get(at)
  }

  async get (at: number): Promise<StoredCheckpointPackage | undefined> {
    this.#open()
    return this.#items.get(at)
  }

  async list (): Promise<CheckpointMeta[]> {
    this.#open()
    return [...this.#items.values()].map(p => p.meta).sort((a, b) => a.at - b.at)
  }

  async close (): Promise<void> {
    this.#closed = true
  }
}
