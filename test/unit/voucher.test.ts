// Vouchers and session requests (SPEC V1–V9, S1): canonical signed bytes, the voucher book's
// monotonic rules with one typed code per rejection, and hostile input at every entry point.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { encode } from '../../src/core/codec.ts'
import {
  signVoucher, verifyVoucher, voucherBytes, encodeSignedVoucher, decodeSignedVoucher, parseSignedVoucher, VOUCHER_DOMAIN, MAX_VOUCHER_BYTES
} from '../../src/core/session/voucher.ts'
import type { SignedVoucher, Voucher } from '../../src/core/session/voucher.ts'
import {
  signSessionRequest, verifySessionRequest, sessionIdOf, checkSignedSessionRequest, encodeSignedSessionRequest, decodeSignedSessionRequest
} from '../../src/core/session/request.ts'
import type { SessionRequest } from '../../src/core/session/request.ts'
import { VoucherBook, checkVoucherStep } from '../../src/core/session/book.ts'
import { VoucherError, VoucherRejection, SessionRejection } from '../../src/core/session/errors.ts'
import { chargeable } from '../../src/core/session/terms.ts'
import type { OfferId, SessionTerms } from '../../src/core/session/terms.ts'
import { concatBytes } from '../../src/core/bytes.ts'

function party (n: number): { seed: Uint8Array, did: Did } {
  const seed = new Uint8Array(32).fill(n)
  return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) }
}

const payer = party(1)
const provider = party(2)
const mallory = party(3)
const OFFER = 'bafyreioffer0000000000000000000000000000000000000000000000' as OfferId
const terms: SessionTerms = { offer: OFFER, rev: 0, provider: provider.did, price: 10, unit: 'bytes', roundSize: 1000, trial: 100, refund: 'none' }

function request (over: Partial<SessionRequest> = {}): SessionRequest {
  return { v: 1, offer: OFFER, rev: 0, provider: provider.did, payer: payer.did, nonce: 7, time: 1_700_000_000_000, ...over }
}

const signedRequest = signSessionRequest(payer.seed, request())
const SESSION = sessionIdOf(signedRequest)

function voucher (round: number, over: Partial<Voucher> = {}): Voucher {
  return { v: 1, session: SESSION, offer: OFFER, payer: payer.did, provider: provider.did, round, cumulative: round * terms.price, units: (round - 1) * terms.roundSize + 1, time: 1_700_000_000_000 + round, ...over }
}

function signed (round: number, over: Partial<Voucher> = {}, seed = payer.seed): SignedVoucher {
  return signVoucher(seed, voucher(round, over))
}

function book (): VoucherBook {
  return new VoucherBook({ session: SESSION, payer: payer.did, terms })
}

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('session requests', () => {
  it('[F1] a session id is the CID of the payer-signed request and changes with any field', () => {
    expect(verifySessionRequest(signedRequest)).toBe(true)
    expect(SESSION).toMatch(/^bafyrei/)
    expect(sessionIdOf(signSessionRequest(payer.seed, request()))).toBe(SESSION) // Ed25519 is deterministic
    expect(sessionIdOf(signSessionRequest(payer.seed, request({ nonce: 8 })))).not.toBe(SESSION)
    expect(decodeSignedSessionRequest(encodeSignedSessionRequest(signedRequest))).toEqual(signedRequest)
  })

  it('[F1] a request signed by anyone but the payer, or altered, is forged', () => {
    const forged = { ...signedRequest, nonce: 8 }
    expect(codeOf(() => checkSignedSessionRequest(forged))).toBe(SessionRejection.REQUEST_FORGED)
    const byMallory = { ...request(), sig: signSessionRequest(mallory.seed, request({ payer: mallory.did })).sig }
    expect(codeOf(() => checkSignedSessionRequest(byMallory))).toBe(SessionRejection.REQUEST_FORGED)
    expect(() => signSessionRequest(mallory.seed, request())).toThrow(TypeError)
  })

  it('[F1] malformed requests are rejected with a typed code', () => {
    const bad: unknown[] = [null, 1, [], { ...signedRequest, extra: 1 }, { ...signedRequest, v: 2 }, { ...signedRequest, payer: provider.did },
      { ...signedRequest, rev: -1 }, { ...signedRequest, sig: new Uint8Array(10) }, { ...signedRequest, time: 1.5 }]
    for (const b of bad) expect(codeOf(() => checkSignedSessionRequest(b))).toBe(SessionRejection.REQUEST_MALFORMED)
  })
})

describe('voucher signing', () => {
  it('[V1] signs canonical dag-cbor behind a domain tag, verifiable by the payer\'s key only', () => {
    const v = signed(1)
    expect(verifyVoucher(v)).toBe(true)
    expect(voucherBytes(v)).toEqual(concatBytes(VOUCHER_DOMAIN, encode(voucher(1))))
    // key order of the input does not matter
    const reordered = Object.fromEntries(Object.entries(voucher(1)).reverse()) as unknown as Voucher
    expect(voucherBytes(reordered)).toEqual(voucherBytes(v))
    expect(verifyVoucher({ ...v, cumulative: v.cumulative + 1 })).toBe(false)
    expect(verifyVoucher({ ...v, payer: mallory.did })).toBe(false)
    expect(() => signVoucher(mallory.seed, voucher(1))).toThrow(TypeError)
  })

  it('[V8] round-trips through wire bytes; oversized or malformed bytes are ERR_VOUCHER_MALFORMED', () => {
    const v = signed(3)
    const bytes = encodeSignedVoucher(v)
    expect(bytes.length).toBeLessThan(MAX_VOUCHER_BYTES)
    expect(decodeSignedVoucher(bytes)).toEqual(v)
    expect(codeOf(() => decodeSignedVoucher(new Uint8Array(MAX_VOUCHER_BYTES + 1)))).toBe(VoucherRejection.MALFORMED)
    expect(codeOf(() => decodeSignedVoucher(new Uint8Array([0xff, 0x00])))).toBe(VoucherRejection.MALFORMED)
    expect(codeOf(() => decodeSignedVoucher(encode({ ...v, extra: 1 })))).toBe(VoucherRejection.MALFORMED)
  })

  it('[V8] every field is range-checked', () => {
    const v = signed(2)
    const bad: Array<Record<string, unknown>> = [
      { v: 2 }, { round: 0 }, { round: 1.5 }, { round: 1e9 }, { cumulative: -1 }, { cumulative: 2 ** 53 }, { units: -5 },
      { time: -1 }, { payer: 'did:web:x' }, { provider: 'did:key:zzz' }, { session: '' }, { session: 'x'.repeat(200) }, { sig: new Uint8Array(63) }, { sig: 'sig' }
    ]
    for (const b of bad) expect(codeOf(() => parseSignedVoucher({ ...v, ...b }))).toBe(VoucherRejection.MALFORMED)
    const { sig: _sig, ...noSig } = v
    expect(codeOf(() => parseSignedVoucher(noSig))).toBe(VoucherRejection.MALFORMED)
    expect(codeOf(() => parseSignedVoucher(Object.assign(Object.create({ polluted: true }) as object, v)))).toBe(VoucherRejection.MALFORMED)
  })

  it('[V8] never throws anything but a VoucherError on arbitrary input (property)', () => {
    fc.assert(fc.property(fc.anything(), (junk) => {
      try {
        parseSignedVoucher(junk)
      } catch (err) {
        expect(err).toBeInstanceOf(VoucherError)
      }
    }), { numRuns: 300 })
  })
})

describe('voucher book', () => {
  it('[V3] accepts a strictly increasing sequence and keeps the newest', () => {
    const b = book()
    for (let r = 1; r <= 5; r++) expect(b.accept(signed(r))).toMatchObject({ round: r, cumulative: r * 10 })
    expect(b.newest?.round).toBe(5)
    expect(b.cursor).toEqual({ round: 5, cumulative: 50, units: 4001 })
  })

  it('[V3] a replayed voucher (same round, or an older one) is ERR_VOUCHER_REPLAY', () => {
    const b = book()
    const v1 = signed(1)
    b.accept(v1)
    b.accept(signed(2))
    expect(b.tryAccept(signed(2))).toMatchObject({ ok: false, code: VoucherRejection.REPLAY })
    expect(b.tryAccept(v1)).toMatchObject({ ok: false, code: VoucherRejection.REPLAY })
    expect(b.newest?.round).toBe(2)
  })

  it('[V4] a voucher whose cumulative credits or units go down is ERR_VOUCHER_ROLLBACK', () => {
    const b = new VoucherBook({ session: SESSION, payer: payer.did, terms }, { requireFullRound: false })
    b.accept(signed(2, { cumulative: 20, units: 1500 }))
    expect(b.tryAccept(signed(3, { cumulative: 15 }))).toMatchObject({ ok: false, code: VoucherRejection.ROLLBACK })
    expect(b.tryAccept(signed(3, { cumulative: 30, units: 1400 }))).toMatchObject({ ok: false, code: VoucherRejection.ROLLBACK })
    expect(b.tryAccept(signed(3, { cumulative: 30, units: 2001 })).ok).toBe(true)
  })

  it('[V1] a forged voucher (bad signature, or signed by someone else than the payer) is ERR_VOUCHER_FORGED', () => {
    const b = book()
    const good = signed(1)
    const tampered = { ...good, sig: good.sig.map((x, i) => (i === 0 ? x ^ 1 : x)) }
    expect(b.tryAccept(tampered)).toMatchObject({ ok: false, code: VoucherRejection.FORGED })
    // Mallory signs a voucher naming the payer: the signature is not the payer's
    const byMallory = { ...voucher(1), sig: signVoucher(mallory.seed, voucher(1, { payer: mallory.did })).sig }
    expect(b.tryAccept(byMallory)).toMatchObject({ ok: false, code: VoucherRejection.FORGED })
    // an altered amount invalidates the payer's signature
    expect(b.tryAccept({ ...signed(1), units: 5 })).toMatchObject({ ok: false, code: VoucherRejection.FORGED })
    expect(b.newest).toBeNull()
  })

  it('[V2] a cross-session voucher (other session, offer, payer or provider) is ERR_VOUCHER_WRONG_SESSION', () => {
    const b = book()
    const other = sessionIdOf(signSessionRequest(payer.seed, request({ nonce: 99 })))
    expect(b.tryAccept(signed(1, { session: other }))).toMatchObject({ ok: false, code: VoucherRejection.WRONG_SESSION })
    expect(b.tryAccept(signed(1, { offer: 'bafyreiotheroffer' as OfferId }))).toMatchObject({ ok: false, code: VoucherRejection.WRONG_SESSION })
    expect(b.tryAccept(signed(1, { provider: mallory.did }))).toMatchObject({ ok: false, code: VoucherRejection.WRONG_SESSION })
    // Mallory's own valid voucher for the same session id is still not this session's payer
    expect(b.tryAccept(signVoucher(mallory.seed, voucher(1, { payer: mallory.did })))).toMatchObject({ ok: false, code: VoucherRejection.WRONG_SESSION })
  })

  it('[V5] cumulative over round × price is ERR_VOUCHER_OVERCHARGE', () => {
    expect(book().tryAccept(signed(2, { cumulative: 21 }))).toMatchObject({ ok: false, code: VoucherRejection.OVERCHARGE })
  })

  it('[V6] units over round × roundSize are ERR_VOUCHER_UNITS', () => {
    expect(book().tryAccept(signed(2, { units: 2001 }))).toMatchObject({ ok: false, code: VoucherRejection.UNITS })
  })

  it('[V7] the provider\'s book wants the whole round paid (ERR_VOUCHER_UNDERPAID); the ledger rule does not', () => {
    expect(book().tryAccept(signed(2, { cumulative: 19 }))).toMatchObject({ ok: false, code: VoucherRejection.UNDERPAID })
    expect(checkVoucherStep(null, signed(2, { cumulative: 19 }), { session: SESSION, payer: payer.did, terms })).toEqual({ round: 2, cumulative: 19, units: 1001 })
  })

  it('[V9] cheap rules run before the signature: a stale forged voucher is a replay, not a verify', () => {
    const b = book()
    b.accept(signed(3))
    const staleForged = { ...signed(2), sig: new Uint8Array(64) }
    expect(b.tryAccept(staleForged)).toMatchObject({ ok: false, code: VoucherRejection.REPLAY })
  })

  it('[V3][V4] only strictly newer, non-decreasing vouchers are ever accepted (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({ round: fc.integer({ min: 1, max: 8 }), dc: fc.integer({ min: -5, max: 5 }) }), { maxLength: 12 }), (steps) => {
      const b = new VoucherBook({ session: SESSION, payer: payer.did, terms }, { requireFullRound: false })
      let accepted: SignedVoucher[] = []
      for (const s of steps) {
        const cumulative = Math.max(0, Math.min(s.round * 10, s.round * 10 + s.dc))
        const r = b.tryAccept(signed(s.round, { cumulative, units: 0 }))
        if (r.ok) accepted = [...accepted, r.voucher]
      }
      for (let i = 1; i < accepted.length; i++) {
        expect(accepted[i].round).toBeGreaterThan(accepted[i - 1].round)
        expect(accepted[i].cumulative).toBeGreaterThanOrEqual(accepted[i - 1].cumulative)
      }
    }), { numRuns: 60 })
  })
})

describe('chargeable amount', () => {
  it('[C4] refund none charges the cumulative; unused-rounds charges only rounds the units reached', () => {
    expect(chargeable({ round: 3, cumulative: 30, units: 2001 }, terms)).toBe(30)
    const refunding: SessionTerms = { ...terms, refund: 'unused-rounds' }
    expect(chargeable({ round: 3, cumulative: 30, units: 2001 }, refunding)).toBe(30)
    expect(chargeable({ round: 3, cumulative: 30, units: 2000 }, refunding)).toBe(20)
    expect(chargeable({ round: 3, cumulative: 30, units: 0 }, refunding)).toBe(0)
  })
})
