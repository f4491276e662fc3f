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
import { chacha20 } from '@noble/ciphers/chacha.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { encode } from '../codec.ts'

export const COMMITMENT_LANES = 1024
/** Bytes of a commitment's state (1,024 lanes of 2 bytes, little-endian). */
export const COMMITMENT_BYTES = COMMITMENT_LANES * 2
const DOMAIN = utf8ToBytes('alliance-net/state-commitment/v2\0')
const NONCE = new Uint8Array(12)
const ZEROS = new Uint8Array(2 * 1024)

/** The lanes of one entry: ChaCha20(key = SHA-256(domain ‖ bytes), nonce 0, counter 0) keystream, 1,024 little-endian u16. */
function expand (entry: Uint8Array): Uint16Array {
  const input = new Uint8Array(DOMAIN.length + entry.length)
  input.set(DOMAIN, 0)
  input.set(entry, DOMAIN.length)
  const out = chacha20(sha256(input), NONCE, ZEROS)
  const lanes = new Uint16Array(COMMITMENT_LANES)
  for (let i = 0; i < COMMITMENT_LANES; i++) lanes[i] = out[2 * i] | (out[2 * i + 1] << 8)
  return lanes
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
    const e = expand(entry)
    for (let i = 0; i < COMMITMENT_LANES; i++) this.lanes[i] = (this.lanes[i] + e[i]) & 0xffff
    return this
  }

  /** Removes an entry's bytes (in place); removing what was never added is not detected. */
  remove (entry: Uint8Array): this {
    if (!(entry instanceof Uint8Array)) throw new TypeError('an entry is bytes')
    const e = expand(entry)
    for (let i = 0; i < COMMITMENT_LANES; i++) this.lanes[i] = (this.lanes[i] - e[i]) & 0xffff
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
