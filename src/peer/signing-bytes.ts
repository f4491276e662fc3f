/**
 * A block's signing bytes cut out of its own bytes instead of encoding the block again
 * (P5): the verify job checks the canonical form first (the bytes are `encode(block)`), and
 * in dag-cbor's canonical key order (length first) a block's map opens with `v`, `seq`,
 * `sig`, so the unsigned encoding is the same bytes with the `sig` entry removed and the
 * map's size one less. That re-encode was one of the three encodes the pool made per block.
 * Anything that does not have exactly that layout is encoded the old way.
 */
import { BLOCK_SIG_DOMAIN, signingBytes } from '../core/ledger/index.ts'
import type { Block } from '../core/ledger/index.ts'

/** A map of 12 entries (a block's keys) and of 11 (without `sig`). */
const MAP_12 = 0xac
const MAP_11 = 0xab
/** `"v": 1`, then the key `"seq"`. */
const HEAD = [0x61, 0x76, 0x01, 0x63, 0x73, 0x65, 0x71]
/** The key `"sig"` and the header of 64 bytes. */
const SIG_ENTRY = [0x63, 0x73, 0x69, 0x67, 0x58, 0x40]
const SIG_ENTRY_BYTES = SIG_ENTRY.length + 64

/** Where the `sig` entry starts in canonical block bytes, or -1 when the layout differs. */
function sigEntryAt (bytes: Uint8Array): number {
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
 * `signingBytes(block)` for `bytes` that are `encode(block)` (checked by the caller: the
 * canonical-form rule), without encoding anything.
 */
export function signingBytesOf (bytes: Uint8Array, block: Block): Uint8Array {
  const at = sigEntryAt(bytes)
  if (at < 0) return signingBytes(block)
  const d = BLOCK_SIG_DOMAIN.length
  const out = new Uint8Array(d + bytes.length - SIG_ENTRY_BYTES)
  out.set(BLOCK_SIG_DOMAIN)
  out[d] = MAP_11
  out.set(bytes.subarray(1, at), d + 1)
  out.set(bytes.subarray(at + SIG_ENTRY_BYTES), d + at)
  return out
}
