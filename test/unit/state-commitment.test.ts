// The incremental state commitment (SPEC P7): order-independent, updatable per entry,
// equal to the commitment computed from scratch, sensitive to every key and value.
import { describe, expect, it } from 'vitest'
import { COMMITMENT_BYTES, StateCommitment, encodeEntry } from '../../src/core/ledger/state-commitment.ts'
import { chacha20 } from '@noble/ciphers/chacha.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { prng } from '../fixtures/ledger-helpers.ts'

/** The expansion as P7 defines it, with @noble/ciphers' ChaCha20 (what the fast path must equal). */
function referenceLanes (entries: readonly Uint8Array[]): Uint8Array {
  const domain = utf8ToBytes('alliance-net/state-commitment/v2\0')
  const sum = new Uint16Array(1024)
  for (const e of entries) {
    const input = new Uint8Array(domain.length + e.length)
    input.set(domain, 0)
    input.set(e, domain.length)
    const ks = chacha20(sha256(input), new Uint8Array(12), new Uint8Array(2048))
    for (let i = 0; i < 1024; i++) sum[i] += ks[2 * i] | (ks[2 * i + 1] << 8)
  }
  const out = new Uint8Array(2048)
  for (let i = 0; i < 1024; i++) { out[2 * i] = sum[i] & 0xff; out[2 * i + 1] = sum[i] >> 8 }
  return out
}

describe('state commitment', () => {
  // computed independently with Python's hashlib and cryptography (sha256 of 2,048 zero
  // bytes; for one entry the lanes are the ChaCha20 keystream under sha256(domain ‖ entry),
  // 16 zero bytes of counter ‖ nonce, so the digest is sha256 of that keystream)
  it('[P7] known answers: the empty set, and one entry (pins the encoding and the expansion)', () => {
    expect(StateCommitment.empty().digest()).toBe('e5a00aa9991ac8a5ee3109844d84a55583bd20572ad3ffcd42792f3c36b183ad')
    expect(StateCommitment.of([['bal/did:key:z6Mk', 100]]).digest()).toBe('a292f530bdef20c44054089a9fdf56f9bde9234bda0d27fa8e3f0680f0f9a570')
  })

  it('[P7] the in-place keystream equals @noble/ciphers ChaCha20 for random entries, adding and removing (seeded)', () => {
    const rnd = prng(30)
    const entries = Array.from({ length: 40 }, (_, i) => encodeEntry(`k${i}/${rnd().toString(36)}`, { n: Math.floor(rnd() * 2 ** 40), s: 'x'.repeat(Math.floor(rnd() * 300)) }))
    const c = StateCommitment.empty()
    for (const e of entries) c.add(e)
    expect(c.toBytes()).toEqual(referenceLanes(entries))
    for (const e of entries.slice(0, 25)) c.remove(e)
    expect(c.toBytes()).toEqual(referenceLanes(entries.slice(25)))
  })

  it('[P7] the order of entries does not matter; removing undoes adding', () => {
    const entries: Array<[string, unknown]> = [['a', 1], ['b', { x: [1, 2] }], ['c', 'three']]
    const one = StateCommitment.of(entries)
    const other = StateCommitment.of([...entries].reverse())
    expect(one.equals(other)).toBe(true)
    expect(one.digest()).toBe(other.digest())
    const c = one.clone().add(encodeEntry('d', 4)).remove(encodeEntry('d', 4))
    expect(c.equals(one)).toBe(true)
    expect(one.clone().remove(encodeEntry('a', 1)).remove(encodeEntry('b', { x: [1, 2] })).remove(encodeEntry('c', 'three')).equals(StateCommitment.empty())).toBe(true)
  })

  it('[P7] per-key updates over a random history equal the commitment of the final state (seeded)', () => {
    const seed = Math.floor(Math.random() * 2 ** 31)
    console.log(`state-commitment seed ${seed}`)
    const rand = prng(seed)
    const state = new Map<string, unknown>()
    const c = StateCommitment.empty()
    for (let step = 0; step < 500; step++) {
      const key = `k${Math.floor(rand() * 40)}`
      const before = state.get(key)
      const after = rand() < 0.2 ? undefined : Math.floor(rand() * 1000)
      c.update(key, before, after)
      if (after === undefined) state.delete(key); else state.set(key, after)
    }
    expect(c.digest()).toBe(StateCommitment.of(state).digest())
  })

  it('[P7] a different value, key or multiplicity gives a different digest', () => {
    const base = StateCommitment.of([['a', 1], ['b', 2]]).digest()
    expect(StateCommitment.of([['a', 1], ['b', 3]]).digest()).not.toBe(base)
    expect(StateCommitment.of([['a', 1], ['c', 2]]).digest()).not.toBe(base)
    expect(StateCommitment.of([['a', 1], ['b', 2], ['b', 2]]).digest()).not.toBe(base)
    expect(StateCommitment.of([['a', 2], ['b', 1]]).digest()).not.toBe(base)
  })

  it('[P7] bytes round trip; combine is the union of disjoint sets; bad input is refused', () => {
    const x = StateCommitment.of([['a', 1]])
    const y = StateCommitment.of([['b', 2]])
    expect(StateCommitment.fromBytes(x.toBytes()).equals(x)).toBe(true)
    expect(x.clone().combine(y).equals(StateCommitment.of([['a', 1], ['b', 2]]))).toBe(true)
    expect(x.clone().combine(y).combine(y, -1).equals(x)).toBe(true)
    expect(() => StateCommitment.fromBytes(new Uint8Array(COMMITMENT_BYTES - 1))).toThrow(RangeError)
    expect(() => StateCommitment.fromBytes('x' as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => x.add('x' as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => encodeEntry(1 as unknown as string, 1)).toThrow(TypeError)
  })
})
