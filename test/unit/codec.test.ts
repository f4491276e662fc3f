// The canonical codec: same value, same bytes, same CID; key order does not matter; bad or
// oversized input gets a typed error.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { encode, decode, cidOf, cidOfBytes, parseCid } from '../../src/core/codec.ts'
import { toHex } from '../../src/core/bytes.ts'

describe('codec', () => {
  it('is deterministic: key order does not change bytes or CID', () => {
    const a = { b: 2, a: 1, nested: { y: [1, 2, 3], x: new Uint8Array([1, 2]) } }
    const b = { nested: { x: new Uint8Array([1, 2]), y: [1, 2, 3] }, a: 1, b: 2 }
    expect(toHex(encode(a))).toBe(toHex(encode(b)))
    expect(cidOf(a).toString()).toBe(cidOf(b).toString())
    expect(cidOf(a).toString()).toBe(cidOfBytes(encode(a)).toString())
  })

  it('has a stable known answer (dag-cbor, CIDv1, sha2-256)', () => {
    // dag-cbor of {"hello":"world"} is a1 65 68656c6c6f 65 776f726c64
    expect(toHex(encode({ hello: 'world' }))).toBe('a16568656c6c6f65776f726c64')
    const cid = cidOf({ hello: 'world' })
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x71)
    expect(cid.multihash.code).toBe(0x12)
    expect(cid.toString()).toBe('bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae')
    expect(parseCid(cid.toString()).equals(cid)).toBe(true)
  })

  it('round-trips any JSON-like value (property)', () => {
    fc.assert(fc.property(fc.jsonValue({ noUnicodeString: false }), (value) => {
      const clean = JSON.parse(JSON.stringify(value)) as unknown
      // dag-cbor has no -0 and no non-integer/ integer distinction beyond what JSON keeps
      try { encode(clean) } catch { return }
      const bytes = encode(clean)
      expect(toHex(encode(decode(bytes)))).toBe(toHex(bytes))
    }), { numRuns: 200 })
  })

  it('rejects malformed, non-canonical and oversized input with typed errors', () => {
    expect(() => decode(new Uint8Array([0xa1, 0x65]))).toThrowError(expect.objectContaining({ code: 'ERR_DECODE' }))
    // indefinite-length map is not canonical dag-cbor
    expect(() => decode(new Uint8Array([0xbf, 0x61, 0x61, 0x01, 0xff]))).toThrowError(expect.objectContaining({ code: 'ERR_DECODE' }))
    expect(() => decode(new Uint8Array(100), 10)).toThrowError(expect.objectContaining({ code: 'ERR_TOO_LARGE' }))
    expect(() => encode({ f: () => 1 })).toThrowError(expect.objectContaining({ code: 'ERR_ENCODE' }))
    expect(() => encode({ u: undefined })).toThrowError(expect.objectContaining({ code: 'ERR_ENCODE' }))
    expect(() => parseCid('not-a-cid')).toThrowError(expect.objectContaining({ code: 'ERR_BAD_CID' }))
  })

  it('does not let __proto__ keys pollute prototypes', () => {
    const bytes = encode(JSON.parse('{"__proto__":{"polluted":true}}'))
    const value = decode<Record<string, unknown>>(bytes)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
  })
})
