// Rights policies (SPEC P1–P3) and the income split (SPEC C3 rounding): every policy rejection
// code, buyer checks with and without the required credential, and exact, conserving splits.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { BPS_TOTAL, BuyerRejection, checkBuyer, defaultPolicy, parsePolicy } from '../../src/core/contracts/policy.ts'
import type { CredentialClaims, RightsPolicy } from '../../src/core/contracts/policy.ts'
import { ContractError, ContractRejection } from '../../src/core/contracts/errors.ts'
import { splitAmount } from '../../src/core/contracts/split.ts'

const did = (n: number): Did => didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(n)).publicKey)
const [provider, alice, bob, buyer, issuer, rogue] = [21, 22, 23, 24, 25, 26].map(did)
const NOW = 1_750_000_000_000
const holders = Array.from({ length: 16 }, (_, i) => did(40 + i))

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { expect(err).toBeInstanceOf(ContractError); return (err as ContractError).code }
  return undefined
}

const good = { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 7000 }, { did: alice, bps: 3000 }], refund: 'none' }

describe('policy validation', () => {
  it('[P1] accepts shares in basis points that sum to 10000 and returns a clean copy', () => {
    const p = parsePolicy(good)
    expect(p).toEqual(good)
    expect(p).not.toBe(good)
    expect(parsePolicy(defaultPolicy(provider))).toEqual({ mayBuy: { anyone: true }, shares: [{ did: provider, bps: BPS_TOTAL }], refund: 'none' })
  })

  it('[P1] shares not summing to 100 % are ERR_POLICY_SHARES_SUM', () => {
    expect(codeOf(() => parsePolicy({ ...good, shares: [{ did: provider, bps: 7000 }, { did: alice, bps: 2999 }] }))).toBe(ContractRejection.POLICY_SHARES_SUM)
    expect(codeOf(() => parsePolicy({ ...good, shares: [{ did: provider, bps: 7000 }, { did: alice, bps: 3001 }] }))).toBe(ContractRejection.POLICY_SHARES_SUM)
  })

  it('[P1] bad shares are ERR_POLICY_SHARE; the same DID twice is ERR_POLICY_SHARE_DUPLICATE', () => {
    const bad: unknown[] = [[], [{ did: provider, bps: 0 }, { did: alice, bps: 10000 }], [{ did: provider, bps: -1 }], [{ did: provider, bps: 50.5 }],
      [{ did: 'did:web:example.com', bps: 10000 }], [{ did: provider, bps: 10000, note: 'x' }], Array.from({ length: 17 }, (_, i) => ({ did: did(100 + i), bps: 1 })), 'all to me']
    for (const shares of bad) expect(codeOf(() => parsePolicy({ ...good, shares }))).toBe(ContractRejection.POLICY_SHARE)
    expect(codeOf(() => parsePolicy({ ...good, shares: [{ did: provider, bps: 5000 }, { did: provider, bps: 5000 }] }))).toBe(ContractRejection.POLICY_SHARE_DUPLICATE)
  })

  it('[P2] mayBuy must be anyone or a credential type with optional issuers (ERR_POLICY_MAY_BUY)', () => {
    expect(parsePolicy({ ...good, mayBuy: { credentialType: 'AllianceMember', issuers: [issuer] } }).mayBuy).toEqual({ credentialType: 'AllianceMember', issuers: [issuer] })
    const bad: unknown[] = [{}, { anyone: false }, { anyone: true, credentialType: 'X' }, { credentialType: '' }, { credentialType: 'X', issuers: [] },
      { credentialType: 'X', issuers: ['nope'] }, { credentialType: 'X', issuers: [issuer, issuer] }, { credentialType: 'x'.repeat(129) }, null]
    for (const mayBuy of bad) expect(codeOf(() => parsePolicy({ ...good, mayBuy }))).toBe(ContractRejection.POLICY_MAY_BUY)
  })

  it('[P2] refund must be none or unused-rounds (ERR_POLICY_REFUND); other shapes are ERR_POLICY_SHAPE', () => {
    expect(parsePolicy({ ...good, refund: 'unused-rounds' }).refund).toBe('unused-rounds')
    expect(codeOf(() => parsePolicy({ ...good, refund: 'always' }))).toBe(ContractRejection.POLICY_REFUND)
    expect(codeOf(() => parsePolicy({ ...good, extra: 1 }))).toBe(ContractRejection.POLICY_SHAPE)
    const { refund: _r, ...noRefund } = good
    expect(codeOf(() => parsePolicy(noRefund))).toBe(ContractRejection.POLICY_SHAPE)
    expect(codeOf(() => parsePolicy([good]))).toBe(ContractRejection.POLICY_SHAPE)
  })

  it('[P1] never throws anything but a ContractError on arbitrary input (property)', () => {
    fc.assert(fc.property(fc.anything(), (junk) => {
      try { parsePolicy(junk) } catch (err) { expect(err).toBeInstanceOf(ContractError) }
      try { parsePolicy({ ...good, shares: junk }) } catch (err) { expect(err).toBeInstanceOf(ContractError) }
    }), { numRuns: 300 })
  })
})

describe('buyer checks', () => {
  const members: RightsPolicy = { ...parsePolicy(good), mayBuy: { credentialType: 'AllianceMember', issuers: [issuer] } }
  const vc = (over: Partial<CredentialClaims> = {}): CredentialClaims => ({ issuer, subject: buyer, types: ['VerifiableCredential', 'AllianceMember'], issuedAt: NOW - 1000, expiresAt: NOW + 1000, ...over })

  it('[P3] anyone may buy under an open policy, with or without credentials', () => {
    expect(checkBuyer(parsePolicy(good), buyer, [], NOW)).toEqual({ ok: true })
  })

  it('[P3] passes with the required credential about the buyer from a trusted issuer', () => {
    expect(checkBuyer(members, buyer, [vc({ types: ['VerifiableCredential', 'Other'] }), vc()], NOW)).toEqual({ ok: true, credential: vc() })
    const anyIssuer: RightsPolicy = { ...members, mayBuy: { credentialType: 'AllianceMember' } }
    expect(checkBuyer(anyIssuer, buyer, [vc({ issuer: rogue })], NOW).ok).toBe(true)
  })

  it('[P3] refuses without the credential, and says which condition failed', () => {
    expect(checkBuyer(members, buyer, [], NOW)).toMatchObject({ ok: false, code: BuyerRejection.NO_CREDENTIAL })
    expect(checkBuyer(members, buyer, [vc({ types: ['VerifiableCredential'] })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.NO_CREDENTIAL })
    expect(checkBuyer(members, buyer, [vc({ subject: bob })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.WRONG_SUBJECT })
    expect(checkBuyer(members, buyer, [vc({ issuer: rogue })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.UNTRUSTED_ISSUER })
    expect(checkBuyer(members, buyer, [vc({ expiresAt: NOW })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.CREDENTIAL_TIME })
    expect(checkBuyer(members, buyer, [vc({ issuedAt: NOW + 1 })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.CREDENTIAL_TIME })
    // the closest miss is reported
    expect(checkBuyer(members, buyer, [vc({ subject: bob }), vc({ issuer: rogue })], NOW)).toMatchObject({ ok: false, code: BuyerRejection.UNTRUSTED_ISSUER })
  })
})

describe('income split', () => {
  it('[C4] floors each share and gives the remainder to the first holder', () => {
    const shares = [{ did: provider, bps: 6000 }, { did: alice, bps: 2500 }, { did: bob, bps: 1500 }]
    expect(splitAmount(21, shares)).toEqual([{ to: provider, amount: 13 }, { to: alice, amount: 5 }, { to: bob, amount: 3 }])
    expect(splitAmount(0, shares).map((p) => p.amount)).toEqual([0, 0, 0])
    expect(splitAmount(1, [{ did: alice, bps: 1 }, { did: bob, bps: 9999 }]).map((p) => p.amount)).toEqual([1, 0])
    expect(splitAmount(Number.MAX_SAFE_INTEGER, [{ did: alice, bps: 5000 }, { did: bob, bps: 5000 }]).map((p) => p.amount)).toEqual([4503599627370496, 4503599627370495])
    expect(() => splitAmount(-1, shares)).toThrow(RangeError)
    expect(() => splitAmount(1.5, shares)).toThrow(RangeError)
    expect(() => splitAmount(10, [{ did: alice, bps: 10 }])).toThrow(RangeError)
  })

  it('[C4] parts always sum to the amount, each within one credit of its exact share (property)', () => {
    const sharesArb = fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 16 }).map((weights) => {
      const total = weights.reduce((a, b) => a + b, 0)
      const bps = weights.map((w) => Math.floor(w * BPS_TOTAL / total))
      bps[0] += BPS_TOTAL - bps.reduce((a, b) => a + b, 0)
      return bps.map((b, i) => ({ did: holders[i], bps: b })).filter((s) => s.bps > 0)
    })
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), sharesArb, (amount, shares) => {
      const parts = splitAmount(amount, shares)
      expect(parts.reduce((a, p) => a + p.amount, 0)).toBe(amount)
      parts.forEach((p, i) => {
        const exact = amount * shares[i].bps / BPS_TOTAL
        expect(p.amount).toBeGreaterThanOrEqual(Math.floor(exact) - 1)
        if (i > 0) expect(p.amount).toBeLessThanOrEqual(Math.ceil(exact))
      })
      expect(parts[0].amount - Math.floor(amount * shares[0].bps / BPS_TOTAL)).toBeLessThan(shares.length + 1)
    }), { numRuns: 300 })
  })
})
