// The market's transaction types inside the real ledger engine (SPEC M10): registered through
// the ledger's registry, validated statelessly with each block, applied at replay against the
// ledger state (balances, conservation, undo), and rejected per transaction with a code.
import { describe, it, expect } from 'vitest'
import { LedgerError, TxRegistry, validateBlockBytes } from '../../src/core/ledger/index.ts'
import type { Tx } from '../../src/core/ledger/index.ts'
import { forge, NOW, T0 } from '../fixtures/ledger-helpers.ts'
import type { Key } from '../fixtures/ledger-helpers.ts'
import { EscrowNet } from '../fixtures/escrow-ledger.ts'
import { registerMarketTxTypes, marketCodeOf } from '../../src/core/market/ledger-adapter.ts'
import { offerIdOf } from '../../src/core/market/offer.ts'
import type { OfferBody } from '../../src/core/market/offer.ts'
import { OfferIndex, reputationLookup } from '../../src/core/market/registry.ts'
import { MARKET_NS } from '../../src/core/contracts/kv.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import { signSessionRequest, sessionIdOf } from '../../src/core/session/request.ts'
import type { OfferId } from '../../src/core/session/terms.ts'
import type { Did } from '../../src/core/identity.ts'
import { MARKET_TX_TYPES } from '../../src/core/market/apply.ts'

const DAY = 86_400_000

function setup (): { s: { ctx: EscrowNet['ctx'] }, n: EscrowNet, p: Key, u: Key, w: Key, x: Key } {
  const n = new EscrowNet()
  // provider and payer on 'home', a witness on 'business', one more on 'operator'
  return { s: { ctx: n.ctx }, n, p: n.keys.provider, u: n.keys.payer, w: n.keys.v2, x: n.keys.v3 }
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

const SOME_DEPOSIT = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy/0'

describe('market transactions in the ledger', () => {
  it('[M10] registers all seven types; registering twice is harmless', () => {
    const r = new TxRegistry()
    registerMarketTxTypes(r)
    registerMarketTxTypes(r)
    expect(r.names()).toEqual([...MARKET_TX_TYPES].sort())
  })

  it('[M10][C4] an offer replayed by the engine and found by the registry', () => {
    // the full path (deposit, claims, conflicts, conservation) is test/unit/market-escrow.test.ts
    const { n, p, w } = setup()
    const body = offerBody(p.did, w.did)
    n.issue('provider', [tx({ type: 'offer.publish', offer: body })])
    n.witness()
    const offer = offerIdOf(p.did, body) as OfferId
    expect(n.engine.stateView.get(MARKET_NS.offer, offer)).toMatchObject({ provider: p.did, rev: 0 })
    const index = OfferIndex.fromStore(n.engine.stateView)
    const hits = index.query({ near: 'u281z7j4', kind: 'hotspot' }, { now: T0 + DAY, reputation: reputationLookup(n.engine.stateView) })
    expect(hits.map((h) => h.offer.id)).toEqual([offer])
  })

  it('[M10] a block carrying a malformed market transaction is rejected whole at validation, with the market code as cause', () => {
    const { s, p, w } = setup()
    const bad = forge(s.ctx, p, { txs: [tx({ type: 'offer.publish', offer: { ...offerBody(p.did, w.did), trial: 601 } })] })
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
    const { s, p, u } = setup()
    const req = signSessionRequest(u.seed, { v: 1, offer: 'bafyreix' as OfferId, rev: 0, provider: p.did, payer: u.did, nonce: 1, time: T0 })
    const v = signVoucher(u.seed, { v: 1, session: sessionIdOf(req), offer: req.offer, payer: u.did, provider: p.did, round: 1, cumulative: 1, units: 1, time: T0 })
    const block = forge(s.ctx, u, { txs: [tx({ type: 'session.settle', deposit: SOME_DEPOSIT, voucher: v, request: req })] })
    expect(() => validateBlockBytes(block.bytes, s.ctx, { now: NOW })).toThrowError(expect.objectContaining({ code: 'ERR_BAD_TX' }))
    // C9: the deposit must be a transaction id
    const noDeposit = forge(s.ctx, p, { txs: [tx({ type: 'session.settle', deposit: 'nope/0', voucher: v, request: req })] })
    expect(() => validateBlockBytes(noDeposit.bytes, s.ctx, { now: NOW })).toThrowError(expect.objectContaining({ code: 'ERR_BAD_TX' }))
  })

  it('[M10] a settlement for a payer on another chain must name payerChain and is then cross-chain', () => {
    const { n, p, x } = setup()
    const req = signSessionRequest(x.seed, { v: 1, offer: 'bafyreix' as OfferId, rev: 0, provider: p.did, payer: x.did, nonce: 1, time: T0 })
    const v = signVoucher(x.seed, { v: 1, session: sessionIdOf(req), offer: req.offer, payer: x.did, provider: p.did, round: 1, cumulative: 1, units: 1, time: T0 })
    const s = { ctx: n.ctx }
    const same = forge(n.ctx, p, { txs: [tx({ type: 'session.settle', deposit: SOME_DEPOSIT, voucher: v, request: req })] })
    const cross = forge(n.ctx, p, { txs: [tx({ type: 'session.settle', deposit: SOME_DEPOSIT, voucher: v, request: req, payerChain: 'business' })] })
    expect(validateBlockBytes(same.bytes, s.ctx, { now: NOW }).crossChain).toBe(false)
    expect(validateBlockBytes(cross.bytes, s.ctx, { now: NOW }).crossChain).toBe(true)
  })
})
