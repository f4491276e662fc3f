// Identity core: did:key <-> PeerId <-> public key against known vectors, signatures, and
// rejection of anything that is not an Ed25519 did:key.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import vectors from '../fixtures/did-key-ed25519.json'
import {
  generateKeyPair, didFromPublicKey, publicKeyFromDid, peerIdStringFromDid, didFromPeerId,
  libp2pPrivateKey, sign, verify, assertSignedBy, isDid, shortDid
} from '../../src/core/identity.ts'
import { fromHex, toHex } from '../../src/core/bytes.ts'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'

describe('did:key and PeerId', () => {
  for (const v of vectors.vectors) {
    it(`matches the spec vector ${v.did.slice(0, 20)}…`, () => {
      const kp = generateKeyPair(fromHex(v.seedHex))
      expect(toHex(kp.publicKey)).toBe(v.publicKeyHex)
      expect(didFromPublicKey(kp.publicKey)).toBe(v.did)
      expect(toHex(publicKeyFromDid(v.did))).toBe(v.publicKeyHex)
      expect(peerIdStringFromDid(v.did)).toBe(v.peerId)
      expect(didFromPeerId(v.peerId)).toBe(v.did)
      expect(peerIdFromPrivateKey(libp2pPrivateKey(kp.seed)).toString()).toBe(v.peerId)
    })
  }

  it('converts both ways for any key (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const kp = generateKeyPair(seed)
      const did = didFromPublicKey(kp.publicKey)
      const peerId = peerIdStringFromDid(did)
      expect(didFromPeerId(peerIdFromString(peerId))).toBe(did)
      expect(peerIdFromPrivateKey(libp2pPrivateKey(seed)).toString()).toBe(peerId)
    }), { numRuns: 50 })
  })

  it('rejects DIDs that are not Ed25519 did:keys with a typed error', () => {
    const bad = ['', 'did:web:example.com', 'did:key:abc', 'did:key:z0OIl', 'did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme']
    for (const d of bad) {
      expect(() => publicKeyFromDid(d)).toThrowError(expect.objectContaining({ code: 'ERR_BAD_DID' }))
      expect(isDid(d)).toBe(false)
    }
    expect(() => didFromPeerId('QmNotAPeer')).toThrowError(expect.objectContaining({ code: 'ERR_BAD_PEER_ID' }))
  })

  it('rejects wrong key sizes at the boundary', () => {
    expect(() => didFromPublicKey(new Uint8Array(31))).toThrow(RangeError)
    expect(() => generateKeyPair(new Uint8Array(64))).toThrow(RangeError)
  })

  it('shortens DIDs for display', () => {
    expect(shortDid(vectors.vectors[0].did)).toBe('did:key:z6MkiT…mDooWp')
    expect(shortDid('did:key:z6Mk')).toBe('did:key:z6Mk')
  })
})

describe('signatures', () => {
  it('match RFC 8032 test 1', () => {
    const v = vectors.rfc8032
    const kp = generateKeyPair(fromHex(v.seedHex))
    expect(toHex(kp.publicKey)).toBe(v.publicKeyHex)
    expect(toHex(sign(kp.seed, fromHex(v.messageHex)))).toBe(v.signatureHex)
    expect(verify(kp.publicKey, fromHex(v.messageHex), fromHex(v.signatureHex))).toBe(true)
  })

  it('libp2p signs identically with the same key (one key, two encodings)', async () => {
    const kp = generateKeyPair()
    const msg = new TextEncoder().encode('alliance')
    const libp2pSig = await libp2pPrivateKey(kp.seed).sign(msg)
    expect(toHex(libp2pSig)).toBe(toHex(sign(kp.seed, msg)))
  })

  it('rejects tampered messages and signatures, and malformed inputs, without throwing', () => {
    const kp = generateKeyPair()
    const msg = new TextEncoder().encode('pay 5')
    const sig = sign(kp.seed, msg)
    expect(verify(kp.publicKey, new TextEncoder().encode('pay 6'), sig)).toBe(false)
    const flipped = sig.slice(); flipped[3] ^= 1
    expect(verify(kp.publicKey, msg, flipped)).toBe(false)
    expect(verify(kp.publicKey, msg, sig.slice(0, 63))).toBe(false)
    expect(verify(new Uint8Array(32).fill(255), msg, sig)).toBe(false)
    const did = didFromPublicKey(kp.publicKey)
    expect(() => assertSignedBy(did, msg, sig)).not.toThrow()
    expect(() => assertSignedBy(did, msg, flipped)).toThrowError(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))
  })
})
