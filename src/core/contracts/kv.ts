/**
 * Where market and contract state lives: namespaced key/value maps of dag-cbor values. The
 * interfaces are structurally those of the ledger's `StateView` (so the ledger's undo log,
 * state hash and snapshots cover market state with no extra code); `MemoryKv` is the same
 * thing in memory for tests and tools. Balances are read and moved through `BalancePort`.
 */
import type { Did } from '../identity.ts'

/** Any value dag-cbor can encode (same shape as the ledger's LedgerValue). */
export type StoredValue =
  | null | boolean | number | string | Uint8Array
  | readonly StoredValue[]
  | { readonly [key: string]: StoredValue }

export interface KvReader {
  get (ns: string, key: string): unknown
  has (ns: string, key: string): boolean
  /** Keys of a namespace, sorted by code unit. */
  keys (ns: string): string[]
}

export interface KvStore extends KvReader {
  set (ns: string, key: string, value: StoredValue): void
  delete (ns: string, key: string): void
}

/** Namespaces owned by the market and contract transaction types. */
export const MARKET_NS = {
  /** offerId → OfferRecord */
  offer: 'market.offer',
  /** requestId → BountyRecord */
  request: 'market.request',
  /** sessionId → SessionRecord */
  session: 'market.session',
  /** sessionId → SessionRatings */
  rating: 'market.rating',
  /** did → ReputationFacts */
  reputation: 'market.rep'
} as const

/** Records are plain objects of stored values; this is the one place that says so to TS. */
export function stored (record: object): StoredValue {
  return record as unknown as StoredValue
}

export class MemoryKv implements KvStore {
  readonly #spaces = new Map<string, Map<string, StoredValue>>()

  get (ns: string, key: string): unknown {
    return this.#spaces.get(ns)?.get(key)
  }

  has (ns: string, key: string): boolean {
    return this.#spaces.get(ns)?.has(key) ?? false
  }

  keys (ns: string): string[] {
    return [...(this.#spaces.get(ns)?.keys() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  set (ns: string, key: string, value: StoredValue): void {
    let space = this.#spaces.get(ns)
    if (space === undefined) { space = new Map(); this.#spaces.set(ns, space) }
    space.set(key, value)
  }

  delete (ns: string, key: string): void {
    this.#spaces.get(ns)?.delete(key)
  }
}

/** Credits of DIDs; integers. `move` never takes more than `from` holds (callers check). */
export interface BalancePort {
  balanceOf (did: Did): number
  move (from: Did, to: Did, amount: number): void
}

/** Balances kept in namespace `ns` of a store (the ledger keeps them in 'balance'). */
export function kvBalances (kv: KvStore, ns = 'balance'): BalancePort {
  const read = (did: Did): number => {
    const v = kv.get(ns, did)
    return typeof v === 'number' ? v : 0
  }
  return {
    balanceOf: read,
    move (from, to, amount) {
      if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`amount must be a non-negative integer, got ${amount}`)
      if (amount === 0 || from === to) return
      const have = read(from)
      if (amount > have) throw new RangeError(`move of ${amount} over a balance of ${have}`)
      kv.set(ns, from, have - amount)
      kv.set(ns, to, read(to) + amount)
    }
  }
}
