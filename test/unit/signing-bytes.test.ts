// The signing bytes cut out of a block's canonical bytes (SPEC P5, signing-bytes.ts) are the
// bytes `signingBytes` encodes, for every width of seq; other layouts are encoded the old way.
import { describe, expect, it } from 'vitest'
import { decode, encode } from '../../src/core/codec.ts'
import { signingBytes } from '../../src/core/ledger/index.ts'
import type { Block } from '../../src/core/ledger/index.ts'
import { signingBytesOf } from '../../src/peer/signing-bytes.ts'
import { validatorChain as chainOf } from '../fixtures/ledger-helpers.ts'

describe('signing bytes from block bytes', () => {
  it('[P5] equal signingBytes(block) for real blocks and every seq width (inline, 1, 2, 4, 8 bytes)', () => {
    const { blocks } = chainOf(6)
    for (const bytes of blocks) {
      const block = decode<Block>(bytes)
      expect(signingBytesOf(bytes, block)).toEqual(signingBytes(block))
      for (const seq of [1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
        const b = { ...block, seq }
        const canonical = encode(b)
        expect(signingBytesOf(canonical, b)).toEqual(signingBytes(b))
      }
    }
  })

  it('[P5] bytes of another layout (a 64-byte sig missing, an extra key) fall back to encoding the block', () => {
    const bytes = chainOf(1).blocks[0]
    const block = decode<Block>(bytes)
    const short = { ...block, sig: block.sig.subarray(0, 32) }
    expect(signingBytesOf(encode(short), short)).toEqual(signingBytes(short))
    const extra = encode({ ...block, x: 1 })
    expect(signingBytesOf(extra, block)).toEqual(signingBytes(block))
  })
})
