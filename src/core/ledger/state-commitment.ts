/**
 * An incremental commitment to a set of state entries (SPEC.md P7): a lattice-based
 * homomorphic multiset hash (LtHash, Bellare–Micciancio 1997; parameters of Lewi et al.,
 * "Securing update propagation with homomorphic hashing", 2019: 1,024 lanes of 16 bits).
 * Each entry is expanded into 1,024 lanes by ChaCha20 keyed with SHA-256 of the
 * domain-separated entry (a PRF expansion as in Lewi et al.; SHAKE256 in JS cost ~4x as much,
 * and a 100,000-entry state is hashed in full once per checkpoint join); the commitment is
 * their lane-wise sum mod 2^16. Adding and removing entries commute, so a per-block update
 * costs one expansion per changed entry (remove the old `[key, value]`, add the new one)
 * instead of re-encoding the whole state, and two peers that reach the same state by
 * different histories get the same digest. It is a multiset: an entry added twice counts
 * twice (state entries are unique by key, so this never arises from a state).
 *
 * The ledger state keeps one (`LedgerState.commitment()`, updated by every write); a
 * checkpoint signs its `digest()` (SPEC S14). A state entry is `encodeStateEntry(ns, key,
 * value)`. Pure: no I/O, no clock.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { encode } from '../codec.ts'

export const COMMITMENT_LANES = 1024
/** Bytes of a commitment's state (1,024 lanes of 2 bytes, little-endian). */
export const COMMITMENT_BYTES = COMMITMENT_LANES * 2
const DOMAIN = utf8ToBytes('alliance-net/state-commitment/v2\0')

/** The ChaCha20 input block's key words and counter (nonce 0), reused: expansion is the join's hot loop. */
const KEYWORDS = new Uint32Array(8)

/**
 * Adds (`sign` 1) or subtracts (-1) the lanes of one entry in place: ChaCha20(key =
 * SHA-256(domain ‖ bytes), nonce 0, counter 0) keystream as 1,024 little-endian u16. The 32
 * keystream blocks are computed here word by word and summed straight into the lanes (a
 * keystream word w is lanes 2i and 2i+1: w & 0xffff and w >>> 16): the same bytes as
 * `chacha20(key, nonce, zeros)` of @noble/ciphers (tested against it) at a fraction of its
 * cost, since a checkpoint join hashes every state entry once (S30).
 */
function accumulate (entry: Uint8Array, lanes: Uint16Array, sign: 1 | -1): void {
  const input = new Uint8Array(DOMAIN.length + entry.length)
  input.set(DOMAIN, 0)
  input.set(entry, DOMAIN.length)
  const key = sha256(input)
  for (let i = 0; i < 8; i++) KEYWORDS[i] = key[4 * i] | (key[4 * i + 1] << 8) | (key[4 * i + 2] << 16) | (key[4 * i + 3] << 24)
  const k0 = KEYWORDS[0] | 0; const k1 = KEYWORDS[1] | 0; const k2 = KEYWORDS[2] | 0; const k3 = KEYWORDS[3] | 0
  const k4 = KEYWORDS[4] | 0; const k5 = KEYWORDS[5] | 0; const k6 = KEYWORDS[6] | 0; const k7 = KEYWORDS[7] | 0
  // "expand 32-byte k"
  const c0 = 0x61707865; const c1 = 0x3320646e; const c2 = 0x79622d32; const c3 = 0x6b206574
  for (let block = 0; block < COMMITMENT_LANES / 32; block++) {
    let x0 = c0; let x1 = c1; let x2 = c2; let x3 = c3
    let x4 = k0; let x5 = k1; let x6 = k2; let x7 = k3
    let x8 = k4; let x9 = k5; let x10 = k6; let x11 = k7
    let x12 = block; let x13 = 0; let x14 = 0; let x15 = 0
    for (let r = 0; r < 10; r++) {
      // column rounds
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16)
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20)
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24)
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25)
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16)
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20)
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24)
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25)
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16)
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20)
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24)
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25)
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16)
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20)
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24)
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25)
      // diagonal rounds
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16)
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20)
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24)
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25)
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16)
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20)
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24)
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25)
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16)
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20)
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24)
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25)
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16)
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20)
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24)
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25)
    }
    const o = block * 32
    lane2(lanes, o, (x0 + c0) | 0, sign); lane2(lanes, o + 2, (x1 + c1) | 0, sign)
    lane2(lanes, o + 4, (x2 + c2) | 0, sign); lane2(lanes, o + 6, (x3 + c3) | 0, sign)
    lane2(lanes, o + 8, (x4 + k0) | 0, sign); lane2(lanes, o + 10, (x5 + k1) | 0, sign)
    lane2(lanes, o + 12, (x6 + k2) | 0, sign); lane2(lanes, o + 14, (x7 + k3) | 0, sign)
    lane2(lanes, o + 16, (x8 + k4) | 0, sign); lane2(lanes, o + 18, (x9 + k5) | 0, sign)
    lane2(lanes, o + 20, (x10 + k6) | 0, sign); lane2(lanes, o + 22, (x11 + k7) | 0, sign)
    lane2(lanes, o + 24, (x12 + block) | 0, sign); lane2(lanes, o + 26, x13, sign)
    lane2(lanes, o + 28, x14, sign); lane2(lanes, o + 30, x15, sign)
  }
}

/** One keystream word into lanes `i` and `i + 1` (a Uint16Array store wraps mod 2^16). */
function lane2 (lanes: Uint16Array, i: number, w: number, sign: 1 | -1): void {
  lanes[i] += sign * (w & 0xffff)
  lanes[i + 1] += sign * (w >>> 16)
}

/** The canonical bytes of a state entry: dag-cbor of `[key, value]`. */
export function encodeEntry (key: string, value: unknown): Uint8Array {
  if (typeof key !== 'string') throw new TypeError('a state key is a string')
  return encode([key, value])
}

/** The canonical bytes of a ledger state entry: dag-cbor of `[namespace, key, value]`. */
export function encodeStateEntry (ns: string, key: string, value: unknown): Uint8Array {
  if (typeof ns !== 'string' || typeof key !== 'string') throw new TypeError('a state namespace and key are strings')
  return encode([ns, key, value])
}

export class StateCommitment {
  private readonly lanes: Uint16Array

  private constructor (lanes: Uint16Array) {
    this.lanes = lanes
  }

  /** The commitment to the empty set. */
  static empty (): StateCommitment {
    return new StateCommitment(new Uint16Array(COMMITMENT_LANES))
  }

  /** A commitment from `toBytes()`. */
  static fromBytes (bytes: Uint8Array): StateCommitment {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('a commitment is bytes')
    if (bytes.length !== COMMITMENT_BYTES) throw new RangeError(`a commitment is ${COMMITMENT_BYTES} bytes, not ${bytes.length}`)
    const lanes = new Uint16Array(COMMITMENT_LANES)
    for (let i = 0; i < COMMITMENT_LANES; i++) lanes[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8)
    return new StateCommitment(lanes)
  }

  /** The commitment to `entries` (each `[key, value]`), in any order. */
  static of (entries: Iterable<readonly [string, unknown]>): StateCommitment {
    const c = StateCommitment.empty()
    for (const [k, v] of entries) c.add(encodeEntry(k, v))
    return c
  }

  /** The commitment to a ledger state's entries (`LedgerState.entries()` shape). */
  static ofState (spaces: Iterable<readonly [string, Iterable<readonly [string, unknown]>]>): StateCommitment {
    const c = StateCommitment.empty()
    for (const [ns, pairs] of spaces) for (const [k, v] of pairs) c.add(encodeStateEntry(ns, k, v))
    return c
  }

  /** Adds an entry's bytes (in place); returns this. */
  add (entry: Uint8Array): this {
    if (!(entry instanceof Uint8Array)) throw new TypeError('an entry is bytes')
    accumulate(entry, this.lanes, 1)
    return this
  }

  /** Removes an entry's bytes (in place); removing what was never added is not detected. */
  remove (entry: Uint8Array): this {
    if (!(entry instanceof Uint8Array)) throw new TypeError('an entry is bytes')
    accumulate(entry, this.lanes, -1)
    return this
  }

  /**
   * One state key changing: `before` undefined = the key is new, `after` undefined = it is
   * deleted. What a block's undo log (old value) and its writes (new value) give.
   */
  update (key: string, before: unknown, after: unknown): this {
    if (before !== undefined) this.remove(encodeEntry(key, before))
    if (after !== undefined) this.add(encodeEntry(key, after))
    return this
  }

  /** Adds (or removes) every entry of another commitment: the union of two disjoint sets. */
  combine (other: StateCommitment, sign: 1 | -1 = 1): this {
    for (let i = 0; i < COMMITMENT_LANES; i++) this.lanes[i] = (this.lanes[i] + sign * other.lanes[i]) & 0xffff
    return this
  }

  clone (): StateCommitment {
    return new StateCommitment(this.lanes.slice())
  }

  equals (other: StateCommitment): boolean {
    for (let i = 0; i < COMMITMENT_LANES; i++) if (this.lanes[i] !== other.lanes[i]) return false
    return true
  }

  /** The 2,048 bytes of the commitment (lanes little-endian), to store or send. */
  toBytes (): Uint8Array {
    const out = new Uint8Array(COMMITMENT_BYTES)
    for (let i = 0; i < COMMITMENT_LANES; i++) { out[2 * i] = this.lanes[i] & 0xff; out[2 * i + 1] = this.lanes[i] >> 8 }
    return out
  }

  /** SHA-256 of `toBytes()`, hex: what a checkpoint signs. */
  digest (): string {
    return bytesToHex(sha256(this.toBytes()))
  }
}
