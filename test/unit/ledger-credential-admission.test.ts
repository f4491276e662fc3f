// Admission by a credential from listed issuers (SPEC L51): with genesis admission
// 'credential', a member's join carries a JWT VC naming it as subject; the engine checks it at
// the block's time, so every peer decides alike.
import { describe, expect, it } from 'vitest'
import { LedgerEngine, createLedgerContext, parseGenesis } from '../../src/core/ledger/index.ts'
import type { Tx } from '../../src/core/ledger/index.ts'
import { toBase64url } from '../../src/core/bytes.ts'
import { sign } from '../../src/core/identity.ts'
import { forge, key, NOW, Script, T0, testGenesis } from '../fixtures/ledger-helpers.ts'
import type { Key } from '../fixtures/ledger-helpers.ts'

const ISSUER = key(70)
const part = (v: object): string => toBase64url(new TextEncoder().encode(JSON.stringify(v)))

function jwt (issuer: Key, claims: Record<string, unknown>, alg = 'EdDSA'): string {
  const hp = `${part({ alg, typ: 'JWT' })}.${part(claims)}`
  return `${hp}.${toBase64url(sign(issuer.seed, new TextEncoder().encode(hp)))}`
}

const membership = (sub: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: ISSUER.did, sub, nbf: Math.floor(T0 / 1000) - 60, vc: { type: ['VerifiableCredential', 'AllianceMembership'], credentialSubject: { id: sub, chain: 'home' } }, ...over
})

function alliance (): Script {
  const s = new Script(createLedgerContext(testGenesis({ admission: 'credential', credentialIssuers: [ISSUER.did] })))
  s.issuer('v', 101, 'home'); s.issuer('w', 102, 'business'); s.issuer('z', 103, 'operator'); s.issuer('x', 7, 'home')
  s.issue('v1', ['G', 'G'])
  s.issue('w1', ['v1', 'G'])
  s.issue('z1', ['w1', 'v1'])
  return s
}

const joinWith = (credential: string): Tx => ({ type: 'member.join', admits: [], credential })

describe('admission by credential (L51)', () => {
  it('[L51] a join carrying a listed issuer\'s credential for the member makes it a member, with no validator\'s admission', () => {
    const s = alliance()
    s.issue('x1', ['z1', 'w1'], [joinWith(jwt(ISSUER, membership(s.who('x').did)))])
    s.issue('v2', ['x1', 'z1']); s.issue('w2', ['v2', 'x1']); s.issue('z2', ['w2', 'v2'])
    const e = new LedgerEngine(s.ctx)
    e.addMany(s.order.map(b => b.bytes), { now: NOW })
    expect(e.blockStatus(s.id('x1'))).toBe('confirmed')
    expect(e.member(s.who('x').did)).toEqual({ chain: 'home', since: s.id('x1') })
    expect(e.balance(s.who('x').did)).toBe(0)
  })

  it('[L51] refused as ERR_NOT_MEMBER, before anything is stored: an unlisted issuer, another subject, expired, not yet valid, a forged signature, another chain, no credential', () => {
    const s = alliance()
    const e = new LedgerEngine(s.ctx)
    e.addMany(s.order.map(b => b.bytes), { now: NOW })
    const x = s.who('x').did
    const good = jwt(ISSUER, membership(x))
    const forged = `${good.slice(0, good.lastIndexOf('.'))}.${toBase64url(new Uint8Array(64))}`
    const cases: Array<[string, Tx]> = [
      ['unlisted', joinWith(jwt(key(71), membership(x, { iss: key(71).did })))],
      ['subject', joinWith(jwt(ISSUER, membership(key(8).did)))],
      ['expired', joinWith(jwt(ISSUER, membership(x, { exp: Math.floor(T0 / 1000) })))],
      ['not yet', joinWith(jwt(ISSUER, membership(x, { nbf: Math.floor(T0 / 1000) + 3600 })))],
      ['forged', joinWith(forged)],
      ['alg', joinWith(jwt(ISSUER, membership(x), 'ES256'))],
      ['chain', joinWith(jwt(ISSUER, membership(x, { vc: { credentialSubject: { chain: 'business' } } })))],
      ['none', { type: 'member.join', admits: [] }]
    ]
    for (const [why, tx] of cases) {
      const b = forge(s.ctx, key(7), { chain: 'home', parents: [s.id('z1'), s.id('w1')], time: T0 + 100, txs: [tx] })
      const r = e.add(b.bytes, { now: NOW })
      const got = r.results[0]
      expect(got.kind === 'rejected' ? got.error.code : got.kind, why).toBe('ERR_NOT_MEMBER')
      expect(r.inserted.length + r.parked.length, why).toBe(0)
    }
  })

  it('[L51] a credential in a join is a shape error where the genesis admits otherwise; the genesis lists its issuers', () => {
    const s = new Script(createLedgerContext(testGenesis()))
    s.issuer('v', 101, 'home')
    const b = forge(s.ctx, key(7), { chain: 'home', txs: [joinWith(jwt(ISSUER, membership(key(7).did)))] })
    const e = new LedgerEngine(s.ctx)
    const r = e.add(b.bytes, { now: NOW }).results[0]
    expect(r.kind === 'rejected' ? r.error.code : r.kind).toBe('ERR_BAD_TX')
    expect(() => parseGenesis(testGenesis({ admission: 'credential' }))).toThrow(/credentialIssuers/)
    expect(() => parseGenesis(testGenesis({ credentialIssuers: [ISSUER.did] }))).toThrow(/only for admission/)
  })
})
