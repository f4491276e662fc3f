// DM envelopes (src/core/dm.ts): round trip, wrong recipient, tampering, forged sender.
import { describe, expect, it } from 'vitest'
import { randomBytes } from '@noble/hashes/utils.js'
import {
  decodeDmText, decodeEnvelope, decryptEnvelope, encodeDmText, MAX_ENVELOPE_BYTES, openEnvelope, sealEnvelope
} from '../../src/core/dm.ts'
import { decode, encode } from '../../src/core/codec.ts'
import { AllianceError } from '../../src/core/errors.ts'
import { didFromPublicKey, keyPairFromSeed, sign } from '../../src/core/identity.ts'
import { concatBytes } from '../../src/core/bytes.ts'

function seed (byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte)
}
const alice = seed(1)
const bob = seed(2)
const carol = seed(3)
const didOf = (s: Uint8Array) => didFromPublicKey(keyPairFromSeed(s).publicKey)
const AT = 1_700_000_000_000

function seal (from: Uint8Array, to: Uint8Array, text: string, at = AT): Uint8Array {
  return sealEnvelope({ senderSeed: from, to: didOf(to), plaintext: encodeDmText(text), at, random: randomBytes })
}

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AllianceError)
    return (err as AllianceError).code
  }
  throw new Error('expected a throw')
}

/** Re-encodes an envelope after `edit`, keeping the original signature. */
function edited (bytes: Uint8Array, edit: (env: Record<string, unknown>) => void): Uint8Array {
  const env = decode<Record<string, unknown>>(bytes)
  edit(env)
  return encode(env)
}

describe('DM envelope', () => {
  it('round-trips text from Alice to Bob and names Alice as the sender', () => {
    const bytes = seal(alice, bob, 'hello bob ✓')
    const opened = openEnvelope(bytes, { recipientSeed: bob, now: AT + 1000 })
    expect(opened.from).toBe(didOf(alice))
    expect(opened.to).toBe(didOf(bob))
    expect(opened.at).toBe(AT)
    expect(decodeDmText(opened.plaintext).text).toBe('hello bob ✓')
  })

  it('does not carry the plaintext in the clear and uses a fresh nonce and key each time', () => {
    const a = decodeEnvelope(seal(alice, bob, 'secret words'))
    const b = decodeEnvelope(seal(alice, bob, 'secret words'))
    expect(new TextDecoder().decode(a.ct)).not.toContain('secret words')
    expect(a.nonce).not.toEqual(b.nonce)
    expect(a.epk).not.toEqual(b.epk)
    expect(a.ct).not.toEqual(b.ct)
  })

  it('a wrong recipient cannot decrypt', () => {
    const bytes = seal(alice, bob, 'for bob only')
    expect(codeOf(() => openEnvelope(bytes, { recipientSeed: carol }))).toBe('ERR_WRONG_RECIPIENT')
    // even ignoring the address, Carol's key does not open Bob's ciphertext
    expect(codeOf(() => decryptEnvelope(decodeEnvelope(bytes), carol))).toBe('ERR_DECRYPT')
  })

  it('a tampered ciphertext is rejected with a typed error', () => {
    const bytes = seal(alice, bob, 'do not touch')
    const flipped = edited(bytes, env => { const ct = (env.ct as Uint8Array).slice(); ct[0] ^= 1; env.ct = ct })
    expect(codeOf(() => openEnvelope(flipped, { recipientSeed: bob }))).toBe('ERR_BAD_SIGNATURE')
    // the sender re-signing a tampered ciphertext still fails authentication
    const env = decodeEnvelope(flipped)
    const resigned = encode({ ...env, sig: sign(alice, concatBytes(new TextEncoder().encode('alliance/dm/1 signature\0'), encode({ v: env.v, from: env.from, to: env.to, at: env.at, nonce: env.nonce, epk: env.epk, ct: env.ct }))) })
    expect(codeOf(() => openEnvelope(resigned, { recipientSeed: bob }))).toBe('ERR_DECRYPT')
  })

  it('a changed timestamp or nonce breaks the signature', () => {
    const bytes = seal(alice, bob, 'x')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.at = AT + 1 }), { recipientSeed: bob }))).toBe('ERR_BAD_SIGNATURE')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.nonce = new Uint8Array(24) }), { recipientSeed: bob }))).toBe('ERR_BAD_SIGNATURE')
  })

  it('a wrong sender signature is rejected: claiming another DID, or a signature by someone else', () => {
    const bytes = seal(alice, bob, 'from alice')
    // Carol claims to be the sender of Alice's ciphertext
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.from = didOf(carol) }), { recipientSeed: bob }))).toBe('ERR_BAD_SIGNATURE')
    // a signature made by Carol over Alice's envelope
    const env = decodeEnvelope(bytes)
    const carolSig = sign(carol, concatBytes(new TextEncoder().encode('alliance/dm/1 signature\0'), encode({ v: env.v, from: env.from, to: env.to, at: env.at, nonce: env.nonce, epk: env.epk, ct: env.ct })))
    expect(codeOf(() => openEnvelope(encode({ ...env, sig: carolSig }), { recipientSeed: bob }))).toBe('ERR_BAD_SIGNATURE')
  })

  it('Carol re-signing Alice\'s ciphertext under her own DID does not decrypt (from is authenticated data)', () => {
    const env = decodeEnvelope(seal(alice, bob, 'alice wrote this'))
    const forged = { v: env.v, from: didOf(carol), to: env.to, at: env.at, nonce: env.nonce, epk: env.epk, ct: env.ct }
    const sig = sign(carol, concatBytes(new TextEncoder().encode('alliance/dm/1 signature\0'), encode(forged)))
    expect(codeOf(() => openEnvelope(encode({ ...forged, sig }), { recipientSeed: bob }))).toBe('ERR_DECRYPT')
  })

  it('rejects stale envelopes when the receiver passes its clock', () => {
    const bytes = seal(alice, bob, 'old', AT)
    expect(codeOf(() => openEnvelope(bytes, { recipientSeed: bob, now: AT + 11 * 60_000 }))).toBe('ERR_STALE')
    expect(openEnvelope(bytes, { recipientSeed: bob, now: AT + 60_000 }).from).toBe(didOf(alice))
  })

  it('rejects malformed, oversized and wrongly shaped input with typed errors', () => {
    expect(codeOf(() => openEnvelope(new Uint8Array([0xff, 0x00, 0x13]), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), { recipientSeed: bob }))).toBe('ERR_FRAME_TOO_LARGE')
    expect(codeOf(() => openEnvelope(encode([1, 2, 3]), { recipientSeed: bob }))).toBe('ERR_DECODE')
    const bytes = seal(alice, bob, 'x')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.extra = 1 }), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.v = 2 }), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.from = 'did:web:example.com' }), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.sig = new Uint8Array(10) }), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => openEnvelope(edited(bytes, e => { e.at = -5 }), { recipientSeed: bob }))).toBe('ERR_DECODE')
    expect(codeOf(() => decodeDmText(encode({ text: 1 })))).toBe('ERR_DECODE')
    expect(codeOf(() => decodeDmText(encode({ text: 'a', more: true })))).toBe('ERR_DECODE')
  })

  it('checks its arguments at the boundary', () => {
    expect(() => sealEnvelope({ senderSeed: new Uint8Array(5), to: didOf(bob), plaintext: new Uint8Array(1), at: AT, random: randomBytes })).toThrow(RangeError)
    expect(() => sealEnvelope({ senderSeed: alice, to: didOf(bob), plaintext: new Uint8Array(1), at: -1, random: randomBytes })).toThrow(RangeError)
    expect(codeOf(() => sealEnvelope({ senderSeed: alice, to: 'did:key:nope' as never, plaintext: new Uint8Array(1), at: AT, random: randomBytes }))).toBe('ERR_BAD_DID')
    expect(codeOf(() => encodeDmText('x'.repeat(20_000)))).toBe('ERR_TOO_LARGE')
  })
})
