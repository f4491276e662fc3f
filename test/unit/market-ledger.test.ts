// The market's transaction types inside the real ledger engine (SPEC M10): registered through
// the ledger's registry, validated statelessly with each block, applied at replay against the
// ledger state (balances, conservation, undo), and rejected per transaction with a code.
import { describe, it, expect } from 'vitest'
import { LedgerEngine, createLedgerContext, createTxRegistry, LedgerError, TxRegistry, validateBlockBytes } from '../../src/core/ledger/index.ts'
import type { Tx, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { forge, NOW, Script, T0, testGenesis } from '../fixtures/ledger-helpers.ts'
import { marketTxTypeDefs, registerMarketTxTypes, marketCodeOf } from '../../src/core/market/ledger-adapter.ts'
import { offerIdOf } from '../../src/core/market/offer.ts'
import type { OfferBody } from '../../src/core/market/offer.ts'
import { OfferIndex, reputationLookup } from '../../src/core/market/registry.ts'
import { MARKET_NS } from '../../src/core/contracts/kv.ts'
import { readSession } from '../../src/core/contracts/settlement.ts'
import { reputationOf } from '../../src/core/contracts/reputation.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import type { SignedVoucher } from '../../src/core/session/voucher.ts'
import { signSessionRequest, sessionIdOf } from '../../src/core/session/request.ts'
import type { SignedSessionRequest } from '../../src/core/session/request.ts'
import type { OfferId } from '../../src/core/session/terms.ts'
import type { Did } from '../../src/core/identity.ts'
import { MARKET_TX_TYPES } from '../../src/core/market/apply.ts'

const DAY = 86_400_000

function setup (): { s: Script, e: LedgerEngine, add: (v: ValidatedBlock) => void } {
  const ctx = createLedgerContext(testGenesis(), createTxRegistry(marketTxTypeDefs()))
  const s = new Script(ctx)
  s.issuer('p', 1, 'home') // provider
  s.issuer('u', 2, 'home') // payer (user)
  s.issuer('w', 3, 'home') // witness
  s.issuer('x', 4, 'business') // on another chain
  const e = new LedgerEngine(ctx)
  return { s, e, add: (v) => { e.add(v.bytes, { now: NOW }) } }
}

function offerBody (provider: Did, witness: Did): OfferBody {
  return {
    kind: 'hotspot', title: 'Library Wi-Fi', price: 7, round: { unit: 'seconds', size: 600 }, trial: 30, capacity: 2, geohash: 'u281z7j5', expiresAt: T0 + 30 * DAY,
    policy: { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 8000 }, { did: witness, bps: 2000 }], refund: 'none' },
    nonce: 1
  }
}

function tx (value: object): Tx {
  return value as unknown as Tx
}

/** Approving blocks by three issuers, each on the two before it, so that everything before confirms. */
function confirmAll (s: Script, add: (v: ValidatedBlock) => void, tag: number, tail: [string, string]): [string, string] {
  let [a, b] = tail
  for (let i = 0; i < 3; i++) {
    for (const who of ['w', 'u', 'p']) {
      const label = `${who}${tag + i}`
      add(s.issue(label, [b, a]))
      a = b
      b = label
    }
  }
  return [a, b]
}

describe('market transactions in the ledger', () => {
  it('[M10] registers all seven types; registering twice is harmless', () => {
    const r = new TxRegistry()
    registerMarketTxTypes(r)
    registerMarketTxTypes(r)
    expect(r.names()).toEqual([...MARKET_TX_TYPES].sort())
  })

  it('[M10][C4] an offer, a session settled from a voucher, a forged and a replayed voucher, and a rating, replayed by the engine', () => {
    const { s, e, add } = setup()
    const p = s.who('p'); const u = s.who('u'); const w = s.who('w')
    add(s.issue('p1', ['G', 'G'], [s.admit('p')]))
    add(s.issue('u1', ['p1', 'G'], [s.admit('u')]))
    add(s.issue('w1', ['u1', 'p1'], [s.admit('w')]))
    const body = offerBody(p.did, w.did)
    add(s.issue('p2', ['w1', 'u1'], [tx({ type: 'offer.publish', offer: body })]))
    const offer = offerIdOf(p.did, body) as OfferId
    const last = confirmAll(s, add, 10, ['w1', 'p2'])
    expect(e.stateView.get(MARKET_NS.offer, offer)).toMatchObject({ provider: p.did, rev: 0 })

    // the user buys three rounds and signs three vouchers; the provider settles the newest
    const req: SignedSessionRequest = signSessionRequest(u.key.seed, { v: 1, offer, rev: 0, provider: p.did, payer: u.did, nonce: 5, time: T0 })
    const session = sessionIdOf(req)
    const v = (round: number): SignedVoucher => signVoucher(u.key.seed, { v: 1, session, offer, payer: u.did, provider: p.did, round, cumulative: 7 * round, units: 600 * (round - 1) + 1, time: T0 })
    const forged = { ...v(4), sig: new Uint8Array(64) }
    add(s.issue('p3', [last[1], last[0]], [
      tx({ type: 'session.settle', voucher: v(3), request: req }),
      tx({ type: 'session.settle', voucher: v(2) }), // replay of an older round
      tx({ type: 'session.settle', voucher: forged })
    ]))
    const last2 = confirmAll(s, add, 20, [last[1], 'p3'])
    add(s.issue('u9', [last2[1], last2[0]], [tx({ type: 'rate', session, score: 5 })]))
    confirmAll(s, add, 30, [last2[1], 'u9'])

    const p3 = s.id('p3')
    expect(e.txResult(`${p3}/0`)).toMatchObject({ status: 'confirmed' })
    expect(e.txResult(`${p3}/1`)).toMatchObject({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect(e.txResult(`${p3}/2`)).toMatchObject({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect(e.balance(u.did)).toBe(1000 - 21)
    expect(e.balance(p.did)).toBe(1000 + 17)
    expect(e.balance(w.did)).toBe(1000 + 4)
    expect(e.totalCredits()).toBe(3 * 1000)
    expect(readSession(e.stateView, session)).toMatchObject({ rounds: 3, settled: 21, unpaid: 0 })
    expect(reputationOf(e.stateView, p.did)).toMatchObject({ settled: 1, ratings: 1, ratingSum: 5 })
    const index = OfferIndex.fromStore(e.stateView)
    const hits = index.query({ near: 'u281z7j4', kind: 'hotspot' }, { now: T0 + DAY, reputation: reputationLookup(e.stateView) })
    expect(hits.map((h) => h.offer.id)).toEqual([offer])
    expect(hits[0].reputation).toBeGreaterThan(0.5)
  })

  it('[M10] a block carrying a malformed market transaction is rejected whole at validation, with the market code as cause', () => {
    const { s } = setup()
    const p = s.who('p'); const w = s.who('w')
    const bad = forge(s.ctx, p.key, { txs: [s.admit('p'), tx({ type: 'offer.publish', offer: { ...offerBody(p.did, w.did), trial: 601 } })] })
    try {
      validateBlockBytes(bad.bytes, s.ctx, { now: NOW })
      expect.fail('should be rejected')
    } catch (err) {
      expect(err).toBeInstanceOf(LedgerError)
      expect((err as LedgerError).code).toBe('ERR_BAD_TX')
      expect((err as LedgerError).message).toMatch(/^ERR_OFFER_TRIAL: trial of 601 seconds is longer than a round/)
      expect(marketCodeOf(err)).toBe('ERR_OFFER_TRIAL')
    }
  })

  it('[M10][C2] a settlement issued by someone else than the voucher\'s provider is refused at validation', () => {
    const { s } = setup()
    const p = s.who('p'); const u = s.who('u')
    const req = signSessionRequest(u.key.seed, { v: 1, offer: 'bafyreix' as OfferId, rev: 0, provider: p.did, payer: u.did, nonce: 1, time: T0 })
    const v = signVoucher(u.key.seed, { v: 1, session: sessionIdOf(req), offer: req.offer, payer: u.did, provider: p.did, round: 1, cumulative: 1, units: 1, time: T0 })
    const block = forge(s.ctx, u.key, { txs: [tx({ type: 'session.settle', voucher: v, request: req })] })
    expect(() => validateBlockBytes(block.bytes, s.ctx, { now: NOW })).toThrowError(expect.objectContaining({ code: 'ERR_BAD_TX' }))
  })

  it('[M10] a settlement for a payer on another chain must name payerChain and is then cross-chain', () => {
    const { s } = setup()
    const p = s.who('p'); const x = s.who('x')
    const req = signSessionRequest(x.key.seed, { v: 1, offer: 'bafyreix' as OfferId, rev: 0, provider: p.did, payer: x.did, nonce: 1, time: T0 })
    const v = signVoucher(x.key.seed, { v: 1, session: sessionIdOf(req), offer: req.offer, payer: x.did, provider: p.did, round: 1, cumulative: 1, units: 1, time: T0 })
    const same = s.issue('p1', ['G', 'G'], [tx({ type: 'session.settle', voucher: v, request: req })], { fork: true })
    const cross = s.issue('p1', ['G', 'G'], [tx({ type: 'session.settle', voucher: v, request: req, payerChain: 'business' })], { fork: true })
    expect(validateBlockBytes(same.bytes, s.ctx, { now: NOW }).crossChain).toBe(false)
    expect(validateBlockBytes(cross.bytes, s.ctx, { now: NOW }).crossChain).toBe(true)
  })
})
