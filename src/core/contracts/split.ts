/**
 * Deterministic income split by basis points. Each holder gets floor(amount × bps / 10000);
 * what the floors leave over (at most one credit per holder) goes to the first holder, which
 * by convention is the provider. The parts always sum to `amount` exactly (SPEC C4). BigInt
 * keeps `amount × bps` exact for amounts beyond 2^53 / 10^4.
 */
import type { Did } from '../identity.ts'
import { BPS_TOTAL } from './policy.ts'
import type { Share } from './policy.ts'

export interface Payment {
  readonly to: Did
  readonly amount: number
}

export function splitAmount (amount: number, shares: readonly Share[]): Payment[] {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`amount must be a non-negative safe integer, got ${amount}`)
  if (shares.length === 0) throw new RangeError('at least one share is required')
  let total = 0
  for (const s of shares) total += s.bps
  if (total !== BPS_TOTAL) throw new RangeError(`shares sum to ${total}, not ${BPS_TOTAL}`)
  const big = BigInt(amount)
  const parts = shares.map((s) => Number((big * BigInt(s.bps)) / BigInt(BPS_TOTAL)))
  const remainder = amount - parts.reduce((a, b) => a + b, 0)
  parts[0] += remainder
  return shares.map((s, i) => ({ to: s.did, amount: parts[i] }))
}
