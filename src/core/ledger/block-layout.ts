/**
 * Where the entries of a canonical block encoding lie, so that the encodings of a block
 * without `sig` (what the issuer signs) and without `nonce` and `sig` (the PoW header's
 * input) are cut out of the block's own bytes instead of encoding the block again (P5, P10).
 * dag-cbor's canonical map order is by key length, then bytewise:
 *
 *   v, seq, sig, txs, prev, time, chain, nonce, issuer, parents, alliance, difficulty
 *
 * and a map's encoding is its header then each entry's encoding in that order, so a map of a
 * subset of the keys is the same entries with the others left out and a smaller header.
 * Only for bytes that are `encode(block)` (the caller checked the canonical form); anything
 * without exactly this layout gives `null` and the caller encodes the old way. The results
 * are bit-identical to `encode(…)` (test/unit/block-layout.test.ts compares them on random
 * blocks).
 */
import type { Block } from './types.ts'

/** Maps of 12 entries (a block), 11 (without `sig`) and 10 (without `nonce` and `sig`). */
const MAP_12 = 0xac
const MAP_11 = 0xab
const MAP_10 = 0xaa
/** `"v": 1`, then the key `"seq"`. */
const HEAD = [0x61, 0x76, 0x01, 0x63, 0x73, 0x65, 0x71]
/** The key `"sig"` and the header of a 64-byte string. */
const SIG_ENTRY = [0x63, 0x73, 0x69, 0x67, 0x58, 0x40]
const SIG_ENTRY_BYTES = SIG_ENTRY.length + 64
/** The key `"nonce"`. */
const NONCE_KEY = [0x65, 0x6e, 0x6f, 0x6e, 0x63, 0x65]

/** Bytes of the head of an unsigned integer (or a length) `n` in CBOR. */
function headBytes (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/** Bytes of a text string of ASCII `s` (ids, DIDs: checked ASCII by the block's shape rules). */
function textBytes (s: string): number {
  return headBytes(s.length) + s.length
}

/** Where the `sig` entry starts in canonical block bytes, or -1 when the layout differs. */
export function sigEntryAt (bytes: Uint8Array): number {
  if (bytes[0] !== MAP_12) return -1
  for (let i = 0; i < HEAD.length; i++) if (bytes[1 + i] !== HEAD[i]) return -1
  // seq: an unsigned integer (major type 0), its argument inline or in 1, 2, 4 or 8 bytes
  const h = bytes[1 + HEAD.length]
  const width = h < 0x18 ? 0 : h === 0x18 ? 1 : h === 0x19 ? 2 : h === 0x1a ? 4 : h === 0x1b ? 8 : -1
  if (width < 0) return -1
  const at = 2 + HEAD.length + width
  if (at + SIG_ENTRY_BYTES > bytes.length) return -1
  for (let i = 0; i < SIG_ENTRY.length; i++) if (bytes[at + i] !== SIG_ENTRY[i]) return -1
  return at
}

/**
 * `prefix || encode(block without sig)` for `bytes` = `encode(block)`, or null when the
 * layout differs (the caller then encodes).
 */
export function unsignedBytesOf (bytes: Uint8Array, prefix: Uint8Array): Uint8Array | null {
  const at = sigEntryAt(bytes)
  if (at < 0) return null
  const d = prefix.length
  const out = new Uint8Array(d + bytes.length - SIG_ENTRY_BYTES)
  out.set(prefix)
  out[d] = MAP_11
  out.set(bytes.subarray(1, at), d + 1)
  out.set(bytes.subarray(at + SIG_ENTRY_BYTES), d + at)
  return out
}

/** Where the `nonce` entry starts (and its length), found from the end: the four entries after it have known sizes. */
function nonceEntry (bytes: Uint8Array, block: Block): { at: number, length: number } | null {
  const tail =
    7 + textBytes(block.issuer) +
    8 + 1 + textBytes(block.parents[0]) + textBytes(block.parents[1]) +
    9 + textBytes(block.alliance) +
    11 + headBytes(block.difficulty)
  const length = NONCE_KEY.length + headBytes(block.nonce)
  const at = bytes.length - tail - length
  if (at < 0) return null
  for (let i = 0; i < NONCE_KEY.length; i++) if (bytes[at + i] !== NONCE_KEY[i]) return null
  return { at, length }
}

/**
 * `encode(block without nonce and sig)` (the PoW header's input, pow.ts) for `bytes` =
 * `encode(block)`, or null when the layout differs.
 */
export function coreBytesOf (bytes: Uint8Array, block: Block): Uint8Array | null {
  const sig = sigEntryAt(bytes)
  if (sig < 0) return null
  const nonce = nonceEntry(bytes, block)
  if (nonce == null || nonce.at < sig + SIG_ENTRY_BYTES) return null
  const out = new Uint8Array(bytes.length - SIG_ENTRY_BYTES - nonce.length)
  out[0] = MAP_10
  out.set(bytes.subarray(1, sig), 1)
  out.set(bytes.subarray(sig + SIG_ENTRY_BYTES, nonce.at), sig)
  out.set(bytes.subarray(nonce.at + nonce.length), nonce.at - SIG_ENTRY_BYTES)
  return out
}
