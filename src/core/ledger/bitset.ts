/**
 * Growable bitsets over small integer ids (issuer indices), as plain arrays of 32-bit words:
 * compact per block (one word up to 32 issuers) and cheap to AND and count.
 */

export type Bits = number[]

export function bitHas (bits: Bits, i: number): boolean {
  const w = i >>> 5
  return w < bits.length && (bits[w] & (1 << (i & 31))) !== 0
}

/** Adds `i` in place (growing the array if needed). */
export function bitAdd (bits: Bits, i: number): void {
  const w = i >>> 5
  while (bits.length <= w) bits.push(0)
  bits[w] = (bits[w] | (1 << (i & 31))) >>> 0
}

/**
 * `bits` with `i` added: the same array when it has room, else a new one of exactly the
 * needed length (V8 gives a pushed-to array room for ~17 elements; per block that adds up).
 */
export function bitWith (bits: Bits, i: number): Bits {
  const w = i >>> 5
  if (w < bits.length) {
    bits[w] = (bits[w] | (1 << (i & 31))) >>> 0
    return bits
  }
  const out = Array.from({ length: w + 1 }, (_, k) => (k < bits.length ? bits[k] : 0))
  out[w] = (1 << (i & 31)) >>> 0
  return out
}

export function bitDelete (bits: Bits, i: number): void {
  const w = i >>> 5
  if (w < bits.length) bits[w] = (bits[w] & ~(1 << (i & 31))) >>> 0
}

function popcount32 (x: number): number {
  x = x - ((x >>> 1) & 0x55555555)
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

export function bitCount (bits: Bits): number {
  let n = 0
  for (const w of bits) n += popcount32(w)
  return n
}

/** |a ∩ b| */
export function bitCountAnd (a: Bits, b: Bits): number {
  const len = Math.min(a.length, b.length)
  let n = 0
  for (let i = 0; i < len; i++) n += popcount32(a[i] & b[i])
  return n
}

/** |a ∩ b ∩ c| */
export function bitCountAnd3 (a: Bits, b: Bits, c: Bits): number {
  const len = Math.min(a.length, b.length, c.length)
  let n = 0
  for (let i = 0; i < len; i++) n += popcount32(a[i] & b[i] & c[i])
  return n
}

export function bitIndices (bits: Bits): number[] {
  const out: number[] = []
  for (let w = 0; w < bits.length; w++) {
    let word = bits[w]
    while (word !== 0) {
      const low = word & -word
      out.push(w * 32 + 31 - Math.clz32(low))
      word = (word ^ low) >>> 0
    }
  }
  return out
}

/** a ∩ b, as a new bitset. */
export function bitAnd (a: Bits, b: Bits): Bits {
  const n = Math.min(a.length, b.length)
  const out: Bits = new Array<number>(n)
  for (let w = 0; w < n; w++) out[w] = (a[w] & b[w]) >>> 0
  return out
}

/** a ∪ b, into a. */
export function bitOrInto (a: Bits, b: Bits): void {
  for (let w = 0; w < b.length; w++) a[w] = ((a[w] ?? 0) | b[w]) >>> 0
}

/** The bits set in two or more of `sets` (e.g. validators in two members' weights). */
export function bitsInTwoOrMore (sets: Iterable<Bits>): Bits {
  const seen: Bits = []
  const twice: Bits = []
  for (const s of sets) {
    bitOrInto(twice, bitAnd(seen, s))
    bitOrInto(seen, s)
  }
  return twice
}

/** |a \ b|. */
export function bitCountAndNot (a: Bits, b: Bits): number {
  let c = 0
  for (let w = 0; w < a.length; w++) {
    let x = (a[w] & ~(b[w] ?? 0)) >>> 0
    while (x !== 0) { x &= x - 1; c++ }
  }
  return c
}
