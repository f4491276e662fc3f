// The settlement contract, ratings and reputation (SPEC C1–C12, R1–R3) over an in-memory store
// with a fake escrow port: each settlement here draws from a deposit into which the payer locked
// its whole balance just before (so a deposit's limit is the payer's balance), and the pay-out
// (claims) is received at once. Exact payments split by shares, shortfalls that never overdraw
// and count against the payer's reputation, replayed / forged / cross-session vouchers refused,
// and conservation. The real ledger path (claims, deps, conflicts) is market-escrow.test.ts.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { MemoryKv, kvBalances, MARKET_NS } from '../../src/core/contracts/kv.ts'
import { ContractRejection } from '../../src/core/contracts/errors.ts'
import { readSession } from '../../src/core/contracts/settlement.ts'
import type { DepositView, EscrowPort, SessionSettleTx, SettleEffect } from '../../src/core/contracts/settlement.ts'
import type { SettledParties } from '../../src/core/contracts/rating.ts'
import { reputationOf, reputationScore, EMPTY_FACTS } from '../../src/core/contracts/reputation.ts'
import { applyMarketTx, decodeMarketTx } from '../../src/core/market/apply.ts'
import type { MarketEffect } from '../../src/core/market/apply.ts'
import { offerIdOf } from '../../src/core/market/offer.ts'
import type { OfferBody } from '../../src/core/market/offer.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import type { SignedVoucher } from '../../src/core/session/voucher.ts'
import { signSessionRequest, sessionIdOf } from '../../src/core/session/request.ts'
import type { SignedSessionRequest } from '../../src/core/session/request.ts'
import type { OfferId, SessionId } from '../../src/core/session/terms.ts'
import { VoucherRejection } from '../../src/core/session/errors.ts'

function party (n: number): { seed: Uint8Array, did: Did } {
  const seed = new Uint8Array(32).fill(n)
  return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) }
}
const provider = party(31)
const payer = party(32)
const alice = party(33)
const bob = party(34)
const mallory = party(35)
const T = 1_750_000_000_000
const DAY = 86_400_000

function offerBody (over: Partial<OfferBody> = {}): OfferBody {
  return {
    kind: 'relay', title: 'Relay via my fibre', price: 7, round: { unit: 'bytes', size: 1_000_000 }, trial: 100_000, capacity: 4, expiresAt: T + 30 * DAY,
    policy: { mayBuy: { anyone: true }, shares: [{ did: provider.did, bps: 6000 }, { did: alice.did, bps: 2500 }, { did: bob.did, bps: 1500 }], refund: 'none' },
    nonce: 1,
    ...over
  }
}

interface World {
  readonly kv: MemoryKv
  readonly offer: OfferId
  apply: (tx: unknown, issuer?: Did, time?: number) => MarketEffect
  balance: (did: Did) => number
}

function world (balances: Record<string, number> = { [payer.did]: 1000 }, body: OfferBody = offerBody()): World {
  const kv = new MemoryKv()
  for (const [d, n] of Object.entries(balances)) kv.set('balance', d, n)
  const bal = kvBalances(kv)
  const deposits = new Map<string, DepositView>()
  const settles = new Map<string, SettledParties>()
  let k = 0
  const escrow: EscrowPort = {
    deposit: (id) => deposits.get(id) ?? null,
    close (id, payments, refund) {
      const d = deposits.get(id) as DepositView
      for (const p of payments) kv.set('balance', p.to, bal.balanceOf(p.to) + p.amount)
      kv.set('balance', d.payer, bal.balanceOf(d.payer) + refund)
      deposits.set(id, { ...d, closed: true })
    }
  }
  const apply = (raw: unknown, issuer: Did = provider.did, time = T + 1000): MarketEffect => {
    let tx = decodeMarketTx(raw)
    const txId = `bafytx${++k}/0`
    let undo = (): void => {}
    if (tx.type === 'session.settle') {
      // the payer locks its whole balance for this settlement
      const v = tx.voucher
      const depositId = `bafylock${k}/0`
      const amount = bal.balanceOf(v.payer)
      kv.set('balance', v.payer, 0)
      deposits.set(depositId, { payer: v.payer, provider: v.provider, amount, deadline: time + DAY, ref: v.session, closed: false, chain: 'home' })
      tx = { ...tx, deposit: depositId }
      // a rejected settlement leaves the deposit open; here the payer takes it back at once
      undo = () => { kv.set('balance', v.payer, bal.balanceOf(v.payer) + amount); deposits.delete(depositId) }
    }
    let e: MarketEffect
    try {
      e = applyMarketTx(kv, tx, { issuer, time, chain: 'home', txId, escrow, settled: (id) => settles.get(id) ?? null })
    } catch (err) {
      undo()
      throw err
    }
    if (e.type === 'session.settle') settles.set(txId, { session: e.session.sessionId, payer: e.session.payer, provider: e.session.provider })
    return e
  }
  apply({ type: 'offer.publish', offer: body }, provider.did, T)
  return { kv, offer: offerIdOf(provider.did, body), apply, balance: (d) => kvBalances(kv).balanceOf(d) }
}

function request (offer: OfferId, nonce = 1, rev = 0, who = payer): SignedSessionRequest {
  return signSessionRequest(who.seed, { v: 1, offer, rev, provider: provider.did, payer: who.did, nonce, time: T })
}

function voucherFor (req: SignedSessionRequest, round: number, price = 7, over: Partial<SignedVoucher> = {}, seed = payer.seed): SignedVoucher {
  return signVoucher(seed, { v: 1, session: sessionIdOf(req), offer: req.offer, payer: req.payer, provider: req.provider, round, cumulative: round * price, units: (round - 1) * 1_000_000 + 1, time: T, ...over })
}

function settleTx (voucher: SignedVoucher, req?: SignedSessionRequest, close?: boolean): SessionSettleTx {
  return { type: 'session.settle', deposit: 'bafyplaceholder/0', voucher, ...(req === undefined ? {} : { request: req }), ...(close === undefined ? {} : { close }) }
}

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

function total (w: World, dids: Did[]): number {
  return dids.reduce((a, d) => a + w.balance(d), 0)
}

describe('settlement', () => {
  it('[C4] pays cumulative − settled, split by shares with the remainder to the first holder', () => {
    const w = world()
    const req = request(w.offer)
    const e = w.apply(settleTx(voucherFor(req, 3), req)) as SettleEffect
    expect(e).toMatchObject({ paid: 21, shortfall: 0, opened: true })
    expect(e.payments).toEqual([{ to: provider.did, amount: 13 }, { to: alice.did, amount: 5 }, { to: bob.did, amount: 3 }])
    expect([w.balance(payer.did), w.balance(provider.did), w.balance(alice.did), w.balance(bob.did)]).toEqual([979, 13, 5, 3])
    const e2 = w.apply(settleTx(voucherFor(req, 5))) as SettleEffect
    expect(e2.paid).toBe(14)
    expect(readSession(w.kv, sessionIdOf(req))).toMatchObject({ rounds: 5, cumulative: 35, charged: 35, settled: 35, unpaid: 0, closed: false, settlements: 2 })
    expect(w.balance(payer.did)).toBe(965)
  })

  it('[C4] never takes more than the payer holds; the shortfall stays unpaid and counts against the payer', () => {
    const w = world({ [payer.did]: 10 })
    const req = request(w.offer)
    const e = w.apply(settleTx(voucherFor(req, 3), req)) as SettleEffect
    expect(e).toMatchObject({ paid: 10, shortfall: 11 })
    expect(w.balance(payer.did)).toBe(0)
    expect(readSession(w.kv, sessionIdOf(req))).toMatchObject({ charged: 21, settled: 10, unpaid: 11 })
    expect(reputationOf(w.kv, payer.did)).toMatchObject({ unpaid: 1, unpaidCredits: 11 })
    const before = reputationOf(w.kv, payer.did).score
    expect(before).toBeLessThan(0.5)
    // the payer receives credits: the next settlement collects the old shortfall too
    w.kv.set('balance', payer.did, 100)
    const e2 = w.apply(settleTx(voucherFor(req, 4))) as SettleEffect
    expect(e2).toMatchObject({ paid: 18, shortfall: 0 })
    expect(reputationOf(w.kv, payer.did)).toMatchObject({ unpaid: 0, unpaidCredits: 0 })
    expect(reputationOf(w.kv, payer.did).score).toBeGreaterThan(before)
  })

  it('[C5][C6] re-posting the newest voucher closes the session; a closed session refuses new vouchers but collects shortfalls', () => {
    const w = world({ [payer.did]: 5 })
    const req = request(w.offer)
    const v2 = voucherFor(req, 2)
    w.apply(settleTx(v2, req))
    expect(readSession(w.kv, sessionIdOf(req))).toMatchObject({ charged: 14, settled: 5, unpaid: 9 })
    // close with the same voucher
    expect((w.apply(settleTx(v2, undefined, true)) as SettleEffect).session.closed).toBe(true)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 3))))).toBe(ContractRejection.SESSION_CLOSED)
    // later the payer has credits: a re-post of the newest voucher collects what is unpaid
    w.kv.set('balance', payer.did, 50)
    expect((w.apply(settleTx(v2)) as SettleEffect)).toMatchObject({ paid: 9, shortfall: 0, session: { settled: 14, unpaid: 0, closed: true } })
    expect(codeOf(() => w.apply(settleTx(v2)))).toBe(ContractRejection.SESSION_CLOSED)
    expect(reputationOf(w.kv, payer.did)).toMatchObject({ settled: 1, completed: 1, unpaid: 0 })
    expect(reputationOf(w.kv, provider.did)).toMatchObject({ settled: 1, completed: 1 })
  })

  it('[C3] a replayed or rolled-back voucher is refused and moves nothing', () => {
    const w = world()
    const req = request(w.offer)
    const v1 = voucherFor(req, 1)
    w.apply(settleTx(voucherFor(req, 2), req))
    const before = w.balance(payer.did)
    expect(codeOf(() => w.apply(settleTx(v1)))).toBe(VoucherRejection.REPLAY)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 2))))).toBe(VoucherRejection.REPLAY)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 3, 7, { cumulative: 13 }))))).toBe(VoucherRejection.ROLLBACK)
    expect(w.balance(payer.did)).toBe(before)
  })

  it('[C3] a forged voucher is refused: bad signature, or signed by someone else than the payer', () => {
    const w = world()
    const req = request(w.offer)
    const v = voucherFor(req, 1)
    expect(codeOf(() => w.apply(settleTx({ ...v, sig: new Uint8Array(64) }, req)))).toBe(VoucherRejection.FORGED)
    const byMallory = { ...v, sig: voucherFor(req, 1, 7, { payer: mallory.did }, mallory.seed).sig }
    expect(codeOf(() => w.apply(settleTx(byMallory, req)))).toBe(VoucherRejection.FORGED)
    expect(readSession(w.kv, sessionIdOf(req))).toBeUndefined()
    expect(w.balance(payer.did)).toBe(1000)
  })

  it('[C1][C3] a cross-session voucher is refused: the request must be the voucher\'s session, the payer the session\'s', () => {
    const w = world({ [payer.did]: 1000, [mallory.did]: 1000 })
    const reqA = request(w.offer, 1)
    const reqB = request(w.offer, 2)
    expect(codeOf(() => w.apply(settleTx(voucherFor(reqB, 1), reqA)))).toBe(VoucherRejection.WRONG_SESSION)
    w.apply(settleTx(voucherFor(reqA, 1), reqA))
    // a voucher naming session A but signed by (and naming) another payer
    const foreign = signVoucher(mallory.seed, { v: 1, session: sessionIdOf(reqA), offer: w.offer, payer: mallory.did, provider: provider.did, round: 2, cumulative: 14, units: 1, time: T })
    expect(codeOf(() => w.apply(settleTx(foreign)))).toBe(VoucherRejection.WRONG_SESSION)
    expect(w.balance(mallory.did)).toBe(1000)
  })

  it('[C1] the first settlement needs the payer\'s genuine request for a known offer revision', () => {
    const w = world()
    const req = request(w.offer)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 1))))).toBe(ContractRejection.SETTLE_NO_REQUEST)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 1), { ...req, nonce: 9 })))).toBe(ContractRejection.SETTLE_BAD_REQUEST)
    const unknownOffer = request('bafyreiunknown' as OfferId)
    expect(codeOf(() => w.apply(settleTx(voucherFor(unknownOffer, 1), unknownOffer)))).toBe(ContractRejection.SETTLE_UNKNOWN_OFFER)
    const futureRev = request(w.offer, 1, 3)
    expect(codeOf(() => w.apply(settleTx(voucherFor(futureRev, 1), futureRev)))).toBe(ContractRejection.SETTLE_UNKNOWN_OFFER)
  })

  it('[C2] only the provider may post a session\'s vouchers', () => {
    const w = world()
    const req = request(w.offer)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 1), req), mallory.did))).toBe(ContractRejection.SETTLE_NOT_PROVIDER)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 1), req), payer.did))).toBe(ContractRejection.SETTLE_NOT_PROVIDER)
  })

  it('[C3] a voucher over round × price is refused as an overcharge', () => {
    const w = world()
    const req = request(w.offer)
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 2, 8), req)))).toBe(VoucherRejection.OVERCHARGE)
  })

  it('[C8] a session settles under the terms and shares of the revision its request names', () => {
    const w = world()
    const req = request(w.offer, 1, 0)
    w.apply({ type: 'offer.update', offer: w.offer, patch: { price: 20, policy: { mayBuy: { anyone: true }, shares: [{ did: provider.did, bps: 10000 }], refund: 'none' } } })
    // under rev 0 a round costs 7, so 3 rounds at the new price overcharge
    expect(codeOf(() => w.apply(settleTx(voucherFor(req, 3, 20), req)))).toBe(VoucherRejection.OVERCHARGE)
    expect((w.apply(settleTx(voucherFor(req, 3), req)) as SettleEffect).payments.map((p) => p.to)).toEqual([provider.did, alice.did, bob.did])
    const req1 = request(w.offer, 2, 1)
    expect((w.apply(settleTx(voucherFor(req1, 3, 20), req1)) as SettleEffect).payments).toEqual([{ to: provider.did, amount: 60 }])
  })

  it('[C4] with refund unused-rounds, rounds the payer\'s units never reached are not charged', () => {
    const body = offerBody({ policy: { mayBuy: { anyone: true }, shares: [{ did: provider.did, bps: 10000 }], refund: 'unused-rounds' } })
    const w = world({ [payer.did]: 1000 }, body)
    const req = request(w.offer)
    // signed ahead for round 3 while only 2,000,000 units (two rounds) had arrived
    const e = w.apply(settleTx(voucherFor(req, 3, 7, { units: 2_000_000 }), req)) as SettleEffect
    expect(e).toMatchObject({ paid: 14, session: { cumulative: 21, charged: 14 } })
  })

  it('[C7] conservation: whatever the sequence of settlements, credits are only moved, never overdrawn (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 300 }),
      fc.array(fc.record({ round: fc.integer({ min: 1, max: 40 }), topUp: fc.integer({ min: 0, max: 60 }), close: fc.boolean() }), { minLength: 1, maxLength: 10 }),
      (start, steps) => {
        const w = world({ [payer.did]: start })
        const req = request(w.offer)
        const everyone = [payer.did, provider.did, alice.did, bob.did]
        let minted = start
        let lastRound = 0
        for (const [i, s] of steps.entries()) {
          w.kv.set('balance', payer.did, w.balance(payer.did) + s.topUp)
          minted += s.topUp
          const held = w.balance(payer.did)
          const before = readSession(w.kv, sessionIdOf(req))
          let e: SettleEffect | null = null
          try {
            e = w.apply(settleTx(voucherFor(req, s.round), i === 0 ? req : undefined, s.close)) as SettleEffect
          } catch (err) {
            expect((err as { code: string }).code).toMatch(/^ERR_(VOUCHER_REPLAY|SESSION_CLOSED|SETTLE_NO_REQUEST)$/)
          }
          expect(total(w, everyone)).toBe(minted)
          if (e === null) { expect(readSession(w.kv, sessionIdOf(req))).toEqual(before); continue }
          lastRound = e.session.rounds
          expect(e.paid).toBeLessThanOrEqual(held)
          expect(e.payments.reduce((a, p) => a + p.amount, 0)).toBe(e.paid)
          expect(w.balance(payer.did)).toBe(held - e.paid)
          expect(e.session.settled + e.session.unpaid).toBe(e.session.charged)
          expect(e.session.charged).toBe(lastRound * 7)
          expect(reputationOf(w.kv, payer.did).unpaid).toBe(e.session.unpaid > 0 ? 1 : 0)
        }
      }), { numRuns: 60 })
  })
})

describe('ratings and reputation', () => {
  function settled (): { w: World, session: SessionId, settle: string } {
    const w = world()
    const req = request(w.offer)
    const e = w.apply(settleTx(voucherFor(req, 2), req, true)) as SettleEffect
    return { w, session: sessionIdOf(req), settle: e.session.lastSettle }
  }

  it('[R3] each side rates the other once, 1..5, only for a session on the ledger', () => {
    const { w, session, settle } = settled()
    expect(w.apply({ type: 'rate', session, settle, score: 5 }, payer.did)).toEqual({ type: 'rate', session, by: 'payer', subject: provider.did, score: 5 })
    expect(w.apply({ type: 'rate', session, settle, score: 2 }, provider.did)).toMatchObject({ by: 'provider', subject: payer.did })
    expect(codeOf(() => w.apply({ type: 'rate', session, settle, score: 4 }, payer.did))).toBe(ContractRejection.RATE_DUPLICATE)
    expect(codeOf(() => w.apply({ type: 'rate', session, settle, score: 4 }, mallory.did))).toBe(ContractRejection.RATE_NOT_PARTY)
    expect(codeOf(() => w.apply({ type: 'rate', session: 'bafyreinope', settle, score: 4 }, payer.did))).toBe(ContractRejection.RATE_UNKNOWN_SESSION)
    expect(codeOf(() => w.apply({ type: 'rate', session, settle: 'bafynope/0', score: 4 }, payer.did))).toBe(ContractRejection.RATE_NO_SETTLEMENT)
    for (const score of [0, 6, 2.5, '5']) expect(codeOf(() => decodeMarketTx({ type: 'rate', session, settle, score }))).toBe(ContractRejection.RATE_SCORE)
    expect(codeOf(() => decodeMarketTx({ type: 'rate', session, settle, score: 3, extra: 1 }))).toBe(ContractRejection.RATE_SHAPE)
    expect(reputationOf(w.kv, provider.did)).toMatchObject({ ratings: 1, ratingSum: 5, averageRating: 5 })
    expect(reputationOf(w.kv, payer.did)).toMatchObject({ ratings: 1, averageRating: 2 })
  })

  it('[R2] no history is 0.5; a settled, completed session raises it; bad ratings, shortfalls and equivocations lower it', () => {
    expect(reputationScore(EMPTY_FACTS)).toBe(0.5)
    const { w, session } = settled()
    const provRep = reputationOf(w.kv, provider.did)
    expect(provRep).toMatchObject({ settled: 1, completed: 1, score: 2 / 3 })
    w.apply({ type: 'rate', session, settle: (w.kv.get(MARKET_NS.session, session) as { lastSettle: string }).lastSettle, score: 1 }, payer.did)
    expect(reputationOf(w.kv, provider.did).score).toBeCloseTo(1 / 2, 10)
    expect(reputationOf(w.kv, provider.did, 1).score).toBeCloseTo(1 / 4, 10)
    expect(reputationScore({ ...EMPTY_FACTS, unpaid: 1, unpaidCredits: 3 })).toBeCloseTo(1 / 5, 10)
    expect(reputationScore({ ...EMPTY_FACTS, ratings: 4, ratingSum: 20 })).toBeCloseTo(5 / 6, 10)
    expect(() => reputationScore(EMPTY_FACTS, -1)).toThrow(RangeError)
  })

  it('[R1] facts are stored in the market.rep namespace, one record per DID', () => {
    const { w } = settled()
    expect(w.kv.keys(MARKET_NS.reputation).sort()).toEqual([payer.did, provider.did].sort())
  })
})
