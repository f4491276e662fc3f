// P10: the encodings the stateless check needs beside the block's bytes (the PoW header's
// input, the signing bytes) are cut out of the canonical bytes (block-layout.ts), and the
// checks that remember passed strings (check.ts) answer exactly as the full checks.
import { describe, expect, it } from 'vitest'
import { decode, encode } from '../../src/core/codec.ts'
import { coreBytesOf, unsignedBytesOf } from '../../src/core/ledger/block-layout.ts'
import { expectBlockId, expectDid } from '../../src/core/ledger/check.ts'
import { BLOCK_SIG_DOMAIN, blockIdOf, checkPow, powHeaderOf, signingBytes, validateBlockBytes, LedgerError } from '../../src/core/ledger/index.ts'
import type { Block, BlockCore } from '../../src/core/ledger/index.ts'
import { ctxOf, forge, key, NOW, prng, validatorChain, withBadSig } from '../fixtures/ledger-helpers.ts'

const coreOf = (b: Block): BlockCore => ({ v: b.v, alliance: b.alliance, chain: b.chain, issuer: b.issuer, seq: b.seq, prev: b.prev, parents: b.parents, time: b.time, txs: b.txs, difficulty: b.difficulty })
const WIDTHS = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]

describe('block layout (P10)', () => {
  it('[P10] the PoW header input and the signing bytes cut from canonical bytes equal encoding the block, for every width of seq, nonce and difficulty', () => {
    const { blocks } = validatorChain(6)
    const rand = prng(7)
    for (const bytes of blocks) {
      const block = decode<Block>(bytes)
      expect(coreBytesOf(bytes, block)).toEqual(encode(coreOf(block)))
      for (let k = 0; k < 40; k++) {
        const b: Block = { ...block, seq: WIDTHS[Math.floor(rand() * WIDTHS.length)] || 1, nonce: WIDTHS[Math.floor(rand() * WIDTHS.length)], difficulty: Math.floor(rand() * 257) }
        const canonical = encode(b)
        expect(coreBytesOf(canonical, b)).toEqual(encode(coreOf(b)))
        expect(unsignedBytesOf(canonical, BLOCK_SIG_DOMAIN)).toEqual(signingBytes(b))
      }
    }
  })

  it('[P10] bytes of another layout give null (the caller encodes the old way)', () => {
    const bytes = validatorChain(1).blocks[0]
    const block = decode<Block>(bytes)
    const short = { ...block, sig: block.sig.subarray(0, 32) }
    expect(coreBytesOf(encode(short), short)).toBeNull()
    expect(unsignedBytesOf(encode(short), BLOCK_SIG_DOMAIN)).toBeNull()
    expect(coreBytesOf(encode({ ...block, x: 1 }), block)).toBeNull()
    // the block's fields do not match its bytes: the nonce key is not where they say
    expect(coreBytesOf(bytes, { ...block, issuer: (key(9).did + 'x') as Block['issuer'] })).toBeNull()
  })

  it('[P10] validation with the cut bytes refuses what it refused before (bad PoW, bad signature, non-canonical)', () => {
    const ctx = ctxOf({ difficulty: 8 })
    const codeOf = (bytes: Uint8Array): string | undefined => {
      try { validateBlockBytes(bytes, ctx, { now: NOW }); return undefined } catch (err) { return (err as LedgerError).code }
    }
    const good = forge(ctx, key(1), {})
    expect(codeOf(good.bytes)).toBeUndefined()
    const header = powHeaderOf(decode<Block>(good.bytes))
    let nonce = 0
    while (checkPow(header, nonce, 8)) nonce++
    expect(codeOf(forge(ctx, key(1), { nonce }).bytes)).toBe('ERR_BAD_POW')
    expect(codeOf(withBadSig(good.bytes))).toBe('ERR_BAD_SIGNATURE')
    expect(codeOf(encode({ ...decode<Record<string, unknown>>(good.bytes), extra: 1 }))).toBe('ERR_MALFORMED')
  })

  it('[P10] remembered strings: a passed id or DID passes again, a failing one fails every time', () => {
    const id = blockIdOf(new Uint8Array([1, 2, 3]))
    expect(expectBlockId(id, 'id')).toBe(id)
    expect(expectBlockId(id, 'id')).toBe(id)
    const upper = id.toUpperCase()
    for (let i = 0; i < 2; i++) expect(() => expectBlockId(upper, 'id')).toThrow(LedgerError)
    const did = key(3).did
    expect(expectDid(did, 'did')).toBe(did)
    expect(expectDid(did, 'did')).toBe(did)
    const bad = did.slice(0, -1) + (did.endsWith('1') ? '2' : '1')
    for (let i = 0; i < 2; i++) expect(() => expectDid(bad + '0', 'did')).toThrow(LedgerError)
  })
})
