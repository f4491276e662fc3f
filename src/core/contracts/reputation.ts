/**
 * Reputation (white paper 5.4: credit history from past behaviour), derived only from applied
 * ledger facts: sessions that moved credits, sessions closed with nothing unpaid, ratings
 * received, unpaid shortfalls as a payer, and equivocation evidence (counted by the ledger
 * engine and passed in). Facts are kept per DID and updated by the settlement and rating
 * contracts, so a lookup is O(1). The score formula is SPEC R2; it is a view, not consensus.
 */
import type { Did } from '../identity.ts'
import { MARKET_NS, stored } from './kv.ts'
import type { KvReader, KvStore } from './kv.ts'

export interface ReputationFacts {
  /** Sessions (either side) in which credits moved. */
  readonly settled: number
  /** Of those, sessions closed with nothing left unpaid. */
  readonly completed: number
  /** Ratings received and the sum of their scores (1..5 each). */
  readonly ratings: number
  readonly ratingSum: number
  /** Sessions where this DID, as payer, left a shortfall unpaid, and its total. */
  readonly unpaid: number
  readonly unpaidCredits: number
}

export const EMPTY_FACTS: ReputationFacts = Object.freeze({ settled: 0, completed: 0, ratings: 0, ratingSum: 0, unpaid: 0, unpaidCredits: 0 })
const FACT_KEYS = Object.keys(EMPTY_FACTS) as Array<keyof ReputationFacts>

export function readFacts (kv: KvReader, did: Did): ReputationFacts {
  const v = kv.get(MARKET_NS.reputation, did)
  return v === undefined ? EMPTY_FACTS : v as ReputationFacts
}

/** Adds `delta` (which may be negative) to a DID's facts. */
export function addFacts (kv: KvStore, did: Did, delta: Partial<ReputationFacts>): void {
  const before = readFacts(kv, did)
  const after: Record<string, number> = {}
  let changed = false
  for (const k of FACT_KEYS) {
    const d = delta[k] ?? 0
    if (d !== 0) changed = true
    after[k] = before[k] + d
  }
  if (changed) kv.set(MARKET_NS.reputation, did, stored(after))
}

/** Weight of one unpaid session against a payer, in rating-sized observations. */
export const UNPAID_WEIGHT = 3

/**
 * SPEC R2. With q = (score − 1) / 4 per rating:
 *   P = Σq + ½·settled + ½·completed        (positive evidence)
 *   N = Σ(1 − q) + 3·unpaid                  (negative evidence)
 *   score = (P + 1) / (P + N + 2) × ½^equivocations
 * A DID with no history scores 0.5; the score stays in (0, 1).
 */
export function reputationScore (facts: ReputationFacts, equivocations = 0): number {
  if (!Number.isSafeInteger(equivocations) || equivocations < 0) throw new RangeError('equivocations must be a non-negative integer')
  const q = (facts.ratingSum - facts.ratings) / 4
  const positive = q + 0.5 * facts.settled + 0.5 * facts.completed
  const negative = (facts.ratings - q) + UNPAID_WEIGHT * facts.unpaid
  return ((positive + 1) / (positive + negative + 2)) * 0.5 ** equivocations
}

export interface Reputation extends ReputationFacts {
  readonly equivocations: number
  readonly averageRating: number | null
  readonly score: number
}

export function reputationOf (kv: KvReader, did: Did, equivocations = 0): Reputation {
  const facts = readFacts(kv, did)
  return {
    ...facts,
    equivocations,
    averageRating: facts.ratings === 0 ? null : facts.ratingSum / facts.ratings,
    score: reputationScore(facts, equivocations)
  }
}
