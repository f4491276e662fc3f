/**
 * A block's signing bytes cut out of its own bytes instead of encoding the block again
 * (P5): the verify job checks the canonical form first (the bytes are `encode(block)`), so
 * the unsigned encoding is the same bytes with the `sig` entry removed and the map's size
 * one less (the layout: src/core/ledger/block-layout.ts). Anything that does not have
 * exactly that layout is encoded the old way.
 */
import { signingBytesOfChecked } from '../core/ledger/index.ts'
import type { Block } from '../core/ledger/index.ts'

/**
 * `signingBytes(block)` for `bytes` that are `encode(block)` (checked by the caller: the
 * canonical-form rule), without encoding anything.
 */
export function signingBytesOf (bytes: Uint8Array, block: Block): Uint8Array {
  return signingBytesOfChecked(bytes, block)
}
