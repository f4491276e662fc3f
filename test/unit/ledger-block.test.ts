// Blocks, genesis, proof-of-work and stateless validation (SPEC.md, Ledger, L1–L18).
import { describe, expect, it } from 'vitest'
import { encode } from '../../src/core/codec.ts'
import {
  BLOCK_LIMITS, foundGenesis, quorumOf, LedgerError, LedgerErrorCode, checkPow, createBlock, createBlockAsync,
  createLedgerContext, createTxRegistry, decodeGenesis, encodeGenesis, genesisId, leadingZeroBits, mine,
  parseGenesis, powDigest, powHeaderOf, prepareBlock, sealBlock, validateBlockBytes
} from '../../src/core/ledger/index.ts'
import type { BlockId, Genesis, LedgerErrorCode as Code } from '../../src/core/ledger/index.ts'
import { ctxOf, forge, Issuer, key, NOW, T0, testGenesis, validatorsGenesis } from '../fixtures/ledger-helpers.ts'
import vectors from '../fixtures/ledger-vectors.json' with { type: 'json' }

const ctx = ctxOf()
const G = ctx.allianceId

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof LedgerError ? err.code : `not a LedgerError: ${String(err)}`
  }
  return undefined
}

function validate (bytes: Uint8Array, now = NOW): string | undefined {
  return codeOf(() => validateBlockBytes(bytes, ctx, { now }))
}

describe('genesis', () => {
  it('[L1] parses a valid genesis and rejects each malformed field', () => {
    expect(parseGenesis(testGenesis())).toEqual(testGenesis())
    const bad: Array<Partial<Record<keyof Genesis, unknown>> & Record<string, unknown>> = [
      { v: 1 }, { kind: 'x' }, { name: '' }, { chains: [] }, { chains: ['a', 'a'] }, { chains: ['Bad Name'] },
      { chains: Array.from({ length: 17 }, (_, i) => `c${i}`) }, { difficulty: 33 }, { difficulty: 1.5 },
      { crossChainApprovals: 3 }, { allocation: -1 }, { admission: 'closed' }, { admission: 'invite', admitVotes: 2 }, { admitVotes: 0 },
      { founders: [] }, { maxParentAgeMs: 0 }, { bytesPerSecond: 0 }, { minBlockIntervalMs: -1 },
      { founders: [{ did: 'did:key:nope', chain: 'home' }] }, { founders: [{ did: key(1).did, chain: 'nowhere' }] },
      { founders: [{ did: key(1).did, chain: 'home' }, { did: key(1).did, chain: 'home' }] },
      { maxClockSkewMs: -1 }, { extra: 1 }
    ]
    for (const over of bad) {
      expect(codeOf(() => parseGenesis({ ...testGenesis(), ...over })), JSON.stringify(over)).toBe('ERR_MALFORMED')
    }
    expect(codeOf(() => parseGenesis(null))).toBe('ERR_MALFORMED')
    expect(codeOf(() => parseGenesis([]))).toBe('ERR_MALFORMED')
    expect(codeOf(() => decodeGenesis(new Uint8Array([0xff])))).toBe('ERR_MALFORMED')
  })

  it('[L2] the alliance id is the CID of the encoded genesis, and round-trips', () => {
    const g = testGenesis()
    expect(genesisId(g)).toBe(ctx.allianceId)
    expect(decodeGenesis(encodeGenesis(g))).toEqual(g)
    expect(genesisId({ ...g, time: T0 + 1 })).not.toBe(genesisId(g))
  })

  it('[L3] a founded genesis: its founders are the validators and hold the supply; difficulty 13 by default', () => {
    const g = foundGenesis({ name: 'x', chains: ['home', 'business'], founders: [{ did: key(1).did, chain: 'home' }], time: T0 })
    expect([g.admission, g.admitVotes, g.difficulty, g.crossChainApprovals, g.allocation]).toEqual(['invite', 1, 13, 0, 1_000_000])
    expect(quorumOf(g)).toBe(1)
    expect(quorumOf(validatorsGenesis(4))).toBe(3)
    expect(quorumOf(validatorsGenesis(7))).toBe(5)
    const v = foundGenesis({ name: 'y', chains: ['home'], founders: [1, 2, 3].map(n => ({ did: key(n).did, chain: 'home' })), admission: 'vote', time: T0 })
    expect(v.admitVotes).toBe(2)
  })
})

describe('proof-of-work', () => {
  it('[L9] leading zero bits', () => {
    expect(leadingZeroBits(new Uint8Array([0, 0, 0x80]))).toBe(16)
    expect(leadingZeroBits(new Uint8Array([0x01]))).toBe(7)
    expect(leadingZeroBits(new Uint8Array([0, 0]))).toBe(16)
    expect(leadingZeroBits(new Uint8Array([0xff]))).toBe(0)
  })

  it('[L9] mine finds a nonce in chunks, resuming where it stopped', () => {
    const header = new Uint8Array(32).fill(7)
    const whole = mine(header, 10)
    expect(whole.found).toBe(true)
    let start = 0
    let r = mine(header, 10, start, 64)
    while (!r.found) { start = r.next; r = mine(header, 10, start, 64) }
    expect(r).toMatchObject({ found: true, nonce: whole.found ? whole.nonce : -1 })
    expect(checkPow(header, r.nonce, 10)).toBe(true)
    expect(leadingZeroBits(powDigest(header, r.nonce))).toBeGreaterThanOrEqual(10)
    expect(mine(header, 0, 5, 1)).toMatchObject({ found: true, nonce: 5 })
    expect(mine(header, 30, 0, 0)).toMatchObject({ found: false, next: 0 })
  })

  it('[L9] mine rejects bad arguments at the boundary', () => {
    expect(() => mine(new Uint8Array(31), 4)).toThrow(RangeError)
    expect(() => mine('x' as unknown as Uint8Array, 4)).toThrow(TypeError)
    expect(() => mine(new Uint8Array(32), -1)).toThrow(RangeError)
    expect(() => mine(new Uint8Array(32), 4, -1)).toThrow(RangeError)
    expect(() => powDigest(new Uint8Array(32), 1.5)).toThrow(RangeError)
  })

  it('[L9] known-answer vector: the PoW digest of a fixed header and nonce', () => {
    const header = new Uint8Array(32).map((_, i) => i)
    expect(Buffer.from(powDigest(header, 0x0102030405)).toString('hex')).toBe(vectors.powDigest)
  })
})

describe('block creation', () => {
  it('[L5][L6] createBlock makes a block that validates; its id is the CID of its bytes', () => {
    const a = new Issuer(ctx, 1, 'home')
    const v = a.block([G, G], [{ type: 'credential.anchor', hash: 'ab'.repeat(32) }])
    const again = validateBlockBytes(v.bytes, ctx, { now: NOW })
    expect(again.id).toBe(v.id)
    expect(again.block).toEqual(v.block)
    expect(v.id).toMatch(/^bafyrei/)
  })

  it('[L5] known-answer vector: a block from a fixed seed has a fixed id', () => {
    const v = createBlock({
      seed: key(1).seed, genesis: ctx, chain: 'home', seq: 1, prev: null, parents: [G, G], time: T0 + 1,
      txs: [{ type: 'credential.anchor', hash: 'ab'.repeat(32) }]
    })
    expect({ alliance: ctx.allianceId, did: key(1).did, id: v.id, nonce: v.block.nonce }).toEqual(vectors.block)
  })

  it('[L9][L10] prepare, mine elsewhere, seal; async variant; a wrong nonce or seed is refused', async () => {
    const k = key(2)
    const input = { genesis: ctx, chain: 'home', seq: 1, prev: null, parents: [G, G] as [BlockId, BlockId], time: T0 + 5, txs: [] }
    const p = prepareBlock({ ...input, issuer: k.did })
    const r = mine(p.header, p.difficulty)
    if (!r.found) throw new Error('no nonce')
    const sealed = sealBlock(ctx, p, r.nonce, k.seed)
    expect(validateBlockBytes(sealed.bytes, ctx, { now: NOW }).id).toBe(sealed.id)
    let bad = 0
    while (checkPow(p.header, bad, p.difficulty)) bad++
    expect(() => sealBlock(ctx, p, bad, k.seed)).toThrow(LedgerError)
    expect(() => sealBlock(ctx, p, r.nonce, key(3).seed)).toThrow(TypeError)
    const viaAsync = await createBlockAsync({ ...input, seed: k.seed }, async (h, d) => { const m = mine(h, d); return m.found ? m.nonce : -1 })
    expect(viaAsync.id).toBe(sealed.id)
  })

  it('[L14] creation applies the receiver\'s rules (bad input throws before mining)', () => {
    const k = key(1)
    const base = { seed: k.seed, genesis: ctx, chain: 'home', seq: 1, prev: null, parents: [G, G] as [BlockId, BlockId], time: T0 + 1 }
    expect(codeOf(() => createBlock({ ...base, txs: [{ type: 'nope' }] }))).toBe('ERR_UNKNOWN_TX')
    expect(codeOf(() => createBlock({ ...base, chain: 'mars', txs: [] }))).toBe('ERR_UNKNOWN_CHAIN')
    expect(codeOf(() => createBlock({ ...base, seq: 2, txs: [] }))).toBe('ERR_BAD_PREV')
  })

  it('[L3] blocks carry the alliance difficulty, never lower', () => {
    const g = createLedgerContext(foundGenesis({ name: 'x', chains: ['home'], founders: [{ did: key(1).did, chain: 'home' }], time: T0 }))
    const p = prepareBlock({ genesis: g, issuer: key(1).did, chain: 'home', seq: 1, prev: null, parents: [g.allianceId, g.allianceId], time: T0 + 1, txs: [] })
    expect(p.difficulty).toBe(13)
  })
})

describe('stateless validation: each rule and its code', () => {
  const k = key(1)

  it('[L5] a well-forged block passes (the forge helper itself is sound)', () => {
    expect(validate(forge(ctx, k, {}).bytes)).toBeUndefined()
  })

  it('[L7] ERR_TOO_LARGE: over 64 KiB (before decoding) or over 64 transactions', () => {
    expect(validate(new Uint8Array(BLOCK_LIMITS.maxBytes + 1))).toBe('ERR_TOO_LARGE')
    const txs = Array.from({ length: 65 }, () => ({ type: 'credential.anchor', hash: 'a'.repeat(64) }))
    expect(validate(forge(ctx, k, { txs }).bytes)).toBe('ERR_TOO_LARGE')
  })

  it('[L5] ERR_MALFORMED: undecodable, not a map, missing/extra fields, bad types, non-canonical', () => {
    expect(validate(new Uint8Array([0xa1]))).toBe('ERR_MALFORMED')
    expect(validate(encode([1, 2]))).toBe('ERR_MALFORMED')
    expect(validate('x' as unknown as Uint8Array)).toBe('ERR_MALFORMED')
    const cases: Array<Record<string, unknown>> = [
      { v: 2 }, { issuer: 'did:key:zNope' }, { seq: 0 }, { seq: 1.5 }, { time: -1 }, { prev: 'not-a-cid' },
      { parents: 'x' }, { parents: [G, 'bafy'] }, { txs: {} }, { nonce: -1 }, { alliance: 5 }, { sig: new Uint8Array(3) },
      { chain: 7 }
    ]
    for (const c of cases) expect(validate(forge(ctx, k, c).bytes), JSON.stringify(Object.keys(c))).toBe('ERR_MALFORMED')
    expect(validate(forge(ctx, k, {}, { mutate: b => { b.extra = 1 } }).bytes)).toBe('ERR_MALFORMED')
    expect(validate(forge(ctx, k, {}, { mutate: b => { delete b.time } }).bytes)).toBe('ERR_MALFORMED')
    // a CIDv0 / other-codec CID is not a canonical block reference
    expect(validate(forge(ctx, k, { parents: [G, 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'] }).bytes)).toBe('ERR_MALFORMED')
    // non-canonical encoding of a valid block: an integer in a longer form than needed
    const good = forge(ctx, k, {}).bytes
    const i = good.findIndex((_, j) => good[j] === 0x61 && good[j + 1] === 0x76 && good[j + 2] === 0x01) + 2 // "v": 1
    expect(i).toBeGreaterThan(1)
    const longer = new Uint8Array([...good.slice(0, i), 0x18, 0x01, ...good.slice(i + 1)])
    expect(validate(longer)).toBe('ERR_MALFORMED')
  })

  it('[L8] ERR_WRONG_ALLIANCE and ERR_UNKNOWN_CHAIN (incl. a founder off its chain)', () => {
    const other = ctxOf({ name: 'other' })
    expect(validate(forge(other, k, {}).bytes)).toBe('ERR_WRONG_ALLIANCE')
    expect(validate(forge(ctx, k, { chain: 'mars' }).bytes)).toBe('ERR_UNKNOWN_CHAIN')
    const fctx = ctxOf({ founders: [1, 2, 3].map(n => ({ did: key(n).did, chain: 'operator' })) })
    expect(codeOf(() => validateBlockBytes(forge(fctx, key(1), { chain: 'home' }).bytes, fctx, { now: NOW }))).toBe('ERR_UNKNOWN_CHAIN')
    expect(codeOf(() => validateBlockBytes(forge(fctx, key(1), { chain: 'operator' }).bytes, fctx, { now: NOW }))).toBeUndefined()
  })

  it('[L9] ERR_BAD_POW: wrong difficulty field, or a nonce that does not reach it', () => {
    expect(validate(forge(ctx, k, { difficulty: 3 }).bytes)).toBe('ERR_BAD_POW')
    let nonce = 0
    const header = powHeaderOf({ v: 1, alliance: G, chain: 'home', issuer: k.did, seq: 1, prev: null, parents: [G, G], time: T0 + 1, txs: [], difficulty: 4 })
    while (checkPow(header, nonce, 4)) nonce++
    expect(validate(forge(ctx, k, { nonce }).bytes)).toBe('ERR_BAD_POW')
  })

  it('[L10] ERR_BAD_SIGNATURE: another key, a flipped bit, or a changed field', () => {
    const other = forge(ctx, key(2), {})
    expect(validate(forge(ctx, k, { sig: new Uint8Array(64).fill(1) }).bytes)).toBe('ERR_BAD_SIGNATURE')
    const sig = validateBlockBytes(other.bytes, ctx, { now: NOW }).block.sig
    expect(validate(forge(ctx, k, { sig }).bytes)).toBe('ERR_BAD_SIGNATURE')
    const flipped = forge(ctx, k, {}, { mutate: b => { const s = new Uint8Array(b.sig as Uint8Array); s[10] ^= 1; b.sig = s } })
    expect(validate(flipped.bytes)).toBe('ERR_BAD_SIGNATURE')
    // changing a field after signing: the PoW happens to hold at difficulty 0, the signature not
    const c0 = ctxOf({ difficulty: 0 })
    const changed = forge(c0, k, {}, { mutate: b => { b.time = T0 + 2 } })
    expect(codeOf(() => validateBlockBytes(changed.bytes, c0, { now: NOW }))).toBe('ERR_BAD_SIGNATURE')
    // a trusted re-read from our own store skips the signature
    expect(codeOf(() => validateBlockBytes(changed.bytes, c0, { now: NOW, trusted: true }))).toBeUndefined()
  })

  it('[L11] ERR_BAD_PREV at seq 1 with a prev, or after seq 1 without', () => {
    expect(validate(forge(ctx, k, { seq: 1, prev: G }).bytes)).toBe('ERR_BAD_PREV')
    expect(validate(forge(ctx, k, { seq: 2, prev: null }).bytes)).toBe('ERR_BAD_PREV')
  })

  it('[L12] ERR_BAD_PARENTS: not two, duplicated (but for the genesis), older than the genesis', () => {
    expect(validate(forge(ctx, k, { parents: [G] }).bytes)).toBe('ERR_BAD_PARENTS')
    expect(validate(forge(ctx, k, { parents: [G, G, G] }).bytes)).toBe('ERR_BAD_PARENTS')
    const a = forge(ctx, k, {}).id
    expect(validate(forge(ctx, key(2), { parents: [a, a] }).bytes)).toBe('ERR_BAD_PARENTS')
    expect(validate(forge(ctx, key(2), { parents: [a, G] }).bytes)).toBeUndefined()
    expect(validate(forge(ctx, k, { time: T0 - 1 }).bytes)).toBe('ERR_BAD_PARENTS')
  })

  it('[L13] ERR_FUTURE_TIME beyond now + maxClockSkewMs, accepted later', () => {
    const b = forge(ctx, k, { time: T0 + 100_000 }).bytes
    expect(validate(b, T0 + 100_000 - 60_001)).toBe('ERR_FUTURE_TIME')
    expect(validate(b, T0 + 100_000 - 60_000)).toBeUndefined()
  })

  it('[L14] ERR_UNKNOWN_TX and ERR_BAD_TX for each built-in type', () => {
    expect(validate(forge(ctx, k, { txs: [{ type: 'offer.publish' }] }).bytes)).toBe('ERR_UNKNOWN_TX')
    const bad: unknown[] = [
      5, { type: 7 }, {},
      { type: 'member.admit', member: k.did, chain: 'home' }, // itself
      { type: 'validator.vote', action: 'add', did: key(2).did, chain: 'home' }, // no epoch
      { type: 'validator.vote', action: 'demote', did: key(2).did, chain: 'home', epoch: 0 },
      { type: 'validator.vote', action: 'remove', did: key(2).did, chain: 'mars', epoch: 0 },
      { type: 'validator.vote', action: 'add', did: key(2).did, chain: 'home', epoch: -1 },
      { type: 'member.join', admits: [] }, { type: 'member.join', admits: ['nope/0'] },
      { type: 'receive', claims: [] }, { type: 'deposit.lock', provider: k.did, amount: 5, deadline: 1, ref: '' },
      { type: 'deposit.refund', deposit: 5 },
      { type: 'transfer', to: k.did, amount: 5, toChain: 'home' }, // to oneself
      { type: 'transfer', to: key(2).did, amount: 0, toChain: 'home' },
      { type: 'transfer', to: key(2).did, amount: 1.5, toChain: 'home' },
      { type: 'transfer', to: key(2).did, amount: 2 ** 53, toChain: 'home' },
      { type: 'transfer', to: key(2).did, amount: 5, toChain: 'mars' },
      { type: 'transfer', to: 'did:web:x', amount: 5, toChain: 'home' },
      { type: 'transfer', to: key(2).did, amount: 5 },
      { type: 'credential.anchor', hash: 'A'.repeat(64) },
      { type: 'credential.anchor', hash: 'a'.repeat(63) },
      { type: 'credential.revoke', hash: 5 }
    ]
    for (const tx of bad) expect(validate(forge(ctx, k, { txs: [tx] }).bytes), JSON.stringify(tx)).toBe('ERR_BAD_TX')
    const fctx = ctxOf({ founders: [1, 2, 3].map(n => ({ did: key(n).did, chain: 'home' })) })
    const byNonFounder = forge(fctx, key(9), { txs: [{ type: 'member.admit', member: key(8).did, chain: 'home' }] })
    // who may admit is no shape rule since validators change by vote: the engine refuses it (L27, L46)
    expect(codeOf(() => validateBlockBytes(byNonFounder.bytes, fctx, { now: NOW }))).toBeUndefined()
    const byFounder = forge(fctx, key(1), { txs: [{ type: 'member.admit', member: key(8).did, chain: 'business' }] })
    expect(codeOf(() => validateBlockBytes(byFounder.bytes, fctx, { now: NOW }))).toBeUndefined()
  })

  it('[L33] a registered type is accepted only by engines whose registry has it', () => {
    const registry = createTxRegistry([{
      type: 'note.post',
      decode: raw => {
        if (typeof raw.text !== 'string') throw new LedgerError(LedgerErrorCode.BAD_TX, 'text')
        return { type: 'note.post', text: raw.text }
      },
      apply: (state, tx, c) => { state.set('note', c.txId, tx.text as string) }
    }])
    const withNotes = createLedgerContext(testGenesis(), registry)
    const b = forge(withNotes, k, { txs: [{ type: 'note.post', text: 'hi' }] })
    expect(codeOf(() => validateBlockBytes(b.bytes, withNotes, { now: NOW }))).toBeUndefined()
    expect(validate(b.bytes)).toBe('ERR_UNKNOWN_TX')
    expect(() => registry.register({ type: 'note.post', decode: r => r as never, apply: () => {} })).toThrow(RangeError)
    expect(() => registry.register({ type: 'Bad Type', decode: r => r as never, apply: () => {} })).toThrow(TypeError)
  })

  it('[L5] fuzz: random bytes and random mutations of a valid block never throw anything but LedgerError', () => {
    const good = forge(ctx, k, { txs: [{ type: 'credential.anchor', hash: 'a'.repeat(64) }] }).bytes
    let seed = 12345
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }
    const codes = new Set<string>()
    for (let i = 0; i < 400; i++) {
      const m = new Uint8Array(good)
      for (let j = 0; j <= rnd(3); j++) m[rnd(m.length)] = rnd(256)
      const c = validate(i % 10 === 0 ? new Uint8Array(rnd(200)).map(() => rnd(256)) : m)
      if (c != null) codes.add(c)
      expect(c == null || c.startsWith('ERR_')).toBe(true)
    }
    for (const c of codes) expect(Object.values(LedgerErrorCode)).toContain(c as Code)
  })
})
