// Escrowed sessions on the real ledger engine (SPEC C9–C12, R3, L45): a settlement draws only
// from the payer's deposit, closes it once, pays the provider's share to itself and the rest as
// claims, and a settlement and a refund of one deposit cannot both confirm.
import { describe, it, expect } from 'vitest'
import { EscrowNet, T0, txOf } from '../fixtures/escrow-ledger.ts'
import { offerIdOf } from '../../src/core/market/offer.ts'
import type { OfferBody } from '../../src/core/market/offer.ts'
import { readSession } from '../../src/core/contracts/settlement.ts'
import { readRatings } from '../../src/core/contracts/rating.ts'
import { escrowOf, claimOf } from '../../src/core/ledger/tx.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import type { SignedVoucher } from '../../src/core/session/voucher.ts'
import { signSessionRequest, sessionIdOf } from '../../src/core/session/request.ts'
import type { SignedSessionRequest } from '../../src/core/session/request.ts'
import type { OfferId, SessionId } from '../../src/core/session/terms.ts'
import type { Did } from '../../src/core/identity.ts'

const DAY = 86_400_000

function offerBody (provider: Did, other: Did): OfferBody {
  return {
    kind: 'hotspot', title: 'Library Wi-Fi', price: 10, round: { unit: 'seconds', size: 600 }, trial: 30, capacity: 2, geohash: 'u281z7j5', expiresAt: T0 + 30 * DAY,
    policy: { mayBuy: { anyone: true }, shares: [{ did: provider, bps: 8000 }, { did: other, bps: 2000 }], refund: 'none' },
    nonce: 1
  }
}

interface World {
  readonly n: EscrowNet
  readonly offer: OfferId
  readonly req: SignedSessionRequest
  readonly session: SessionId
  voucher: (round: number) => SignedVoucher
  lock: (amount: number, deadline: number, over?: { provider?: Did, ref?: string }) => string
  settle: (deposit: string, round: number, opts?: { time?: number, first?: boolean }) => string
}

function world (stateRules: 2 | 3 = 2): World {
  const n = new EscrowNet(stateRules)
  const body = offerBody(n.did('provider'), n.did('v2'))
  n.issue('provider', [txOf({ type: 'offer.publish', offer: body })])
  n.witness()
  const offer = offerIdOf(n.did('provider'), body) as OfferId
  const payer = n.keys.payer
  const req = signSessionRequest(payer.seed, { v: 1, offer, rev: 0, provider: n.did('provider'), payer: payer.did, nonce: 5, time: T0 })
  const session = sessionIdOf(req)
  const voucher = (round: number): SignedVoucher => signVoucher(payer.seed, { v: 1, session, offer, payer: payer.did, provider: n.did('provider'), round, cumulative: 10 * round, units: 600 * (round - 1) + 1, time: T0 })
  return {
    n, offer, req, session, voucher,
    lock (amount, deadline, over = {}) {
      const b = n.issue('payer', [txOf({ type: 'deposit.lock', provider: over.provider ?? n.did('provider'), amount, deadline, ref: over.ref ?? session })])
      return `${b.id}/0`
    },
    settle (deposit, round, opts = {}) {
      const b = n.issue('provider', [txOf({ type: 'session.settle', deposit, voucher: voucher(round), ...(opts.first === false ? {} : { request: req }), close: true })], { time: opts.time })
      return `${b.id}/0`
    }
  }
}

describe('escrowed settlement on the ledger', () => {
  it('[C9][C11][C7] pays min(charged, deposit) by shares: the provider\'s share to itself, the other holder and the payer\'s refund as claims; credits conserved', () => {
    const w = world(); const n = w.n
    const dep = w.lock(50, n.clock + DAY)
    n.witness()
    expect(n.status(dep)).toBe('confirmed')
    expect(n.engine.balance(n.did('payer'))).toBe(950)
    const st = w.settle(dep, 3)
    n.witness()
    expect(n.status(st)).toBe('confirmed')
    // charged 30 of 50: provider 24 to its balance, v2 6 as claim :0, payer 20 back as claim :1
    expect(n.engine.balance(n.did('provider'))).toBe(1024)
    expect(claimOf(n.engine.stateView, `${st}:0`)).toMatchObject({ to: n.did('v2'), amount: 6, kind: 'settle' })
    expect(claimOf(n.engine.stateView, `${st}:1`)).toMatchObject({ to: n.did('payer'), amount: 20, kind: 'refund' })
    expect(escrowOf(n.engine.stateView, dep)?.closedBy).toBe(st)
    expect(readSession(n.engine.stateView, w.session)).toMatchObject({ charged: 30, settled: 30, unpaid: 0, lastSettle: st })
    expect(n.engine.totalCredits()).toBe(4000)
    // the payer's chain receives its refund
    const rc = n.issue('payer', [txOf({ type: 'receive', claims: [`${st}:1`] })])
    n.witness()
    expect(n.status(`${rc.id}/0`)).toBe('confirmed')
    expect(n.engine.balance(n.did('payer'))).toBe(970)
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[C4][C9] never overdraws: vouchers beyond the deposit pay only the deposit, the rest stays unpaid; the payer\'s balance is never read', () => {
    const w = world(); const n = w.n
    const dep = w.lock(20, n.clock + DAY)
    n.witness()
    // the payer spends everything else it has before the settlement: nothing changes for it
    n.issue('payer', [txOf({ type: 'transfer', to: n.did('v3'), amount: 980, toChain: 'operator' })])
    n.witness()
    expect(n.engine.balance(n.did('payer'))).toBe(0)
    const st = w.settle(dep, 5)
    n.witness()
    expect(n.status(st)).toBe('confirmed')
    expect(readSession(n.engine.stateView, w.session)).toMatchObject({ charged: 50, settled: 20, unpaid: 30 })
    expect(n.engine.balance(n.did('payer'))).toBe(0)
    expect(claimOf(n.engine.stateView, `${st}:1`)).toBeUndefined() // nothing left to refund
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[C9] a settlement without a deposit, with a foreign, closed or expired deposit is rejected and moves nothing', () => {
    const w = world(); const n = w.n
    const foreignProvider = w.lock(50, n.clock + DAY, { provider: n.did('v3') })
    const foreignRef = w.lock(50, n.clock + DAY, { ref: 'another-session' })
    const short = w.lock(50, n.clock + 50)
    n.witness()
    const offerTx = `${n.heads.get(n.did('provider'))?.prev as string}/0` // an empty witness block's id: not a lock
    const noDeposit = w.settle(offerTx.replace(/\/0$/, '/3'), 1)
    const wrongProvider = w.settle(foreignProvider, 1)
    const wrongRef = w.settle(foreignRef, 1)
    const late = w.settle(short, 1, { time: n.clock + 1000 })
    n.witness()
    for (const id of [noDeposit, wrongProvider, wrongRef, late]) expect([id, n.status(id)]).toEqual([id, 'rejected'])
    expect(n.engine.balance(n.did('provider'))).toBe(1000)
    expect(readSession(n.engine.stateView, w.session)).toBeUndefined()
    // a closed deposit: a good settlement closes it, a second one is rejected
    const dep = w.lock(50, n.clock + DAY)
    n.witness()
    const first = w.settle(dep, 1)
    n.witness()
    const again = w.settle(dep, 2, { first: false })
    n.witness()
    expect(n.status(first)).toBe('confirmed')
    expect(n.status(again)).toBe('rejected')
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[L52][C9][C6] under the v3 state rules a settlement deletes the escrow it closes; a later one is refused; the session record stays', () => {
    const w = world(3); const n = w.n
    const dep = w.lock(50, n.clock + DAY)
    n.witness()
    const st = w.settle(dep, 3)
    n.witness()
    expect(n.status(st)).toBe('confirmed')
    expect(escrowOf(n.engine.stateView, dep)).toBeUndefined()
    expect(n.engine.stateView.keys('escrow')).toEqual([])
    expect(readSession(n.engine.stateView, w.session)).toMatchObject({ charged: 30, settled: 30, closed: true, lastSettle: st })
    expect(n.engine.totalCredits()).toBe(4000)
    // the payer takes its refund claim: it leaves the state too
    const rc = n.issue('payer', [txOf({ type: 'receive', claims: [`${st}:1`] })])
    n.witness()
    expect(n.status(`${rc.id}/0`)).toBe('confirmed')
    expect(claimOf(n.engine.stateView, `${st}:1`)).toBeUndefined()
    expect(n.engine.balance(n.did('payer'))).toBe(970)
    // a second settlement of the deleted deposit (the provider's own chain orders it after the
    // first, so it is no conflict member) is refused at apply and moves nothing
    const again = w.settle(dep, 4, { first: false })
    n.witness()
    expect(n.engine.txResult(again)).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect(n.engine.balance(n.did('payer'))).toBe(970)
    expect(n.engine.balance(n.did('provider'))).toBe(1024)
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[C10][L45] a settlement and a refund of one deposit conflict: only the one the validators approve confirms', () => {
    const w = world(); const n = w.n
    const dep = w.lock(50, n.clock + 100)
    n.witness()
    const base = n.tips
    // the settle (in time) and the refund (after the deadline) both reach the DAG
    const settle = n.block('provider', [txOf({ type: 'session.settle', deposit: dep, voucher: w.voucher(2), request: w.req, close: true })], { parents: base })
    n.add(settle)
    const refund = n.block('payer', [txOf({ type: 'deposit.refund', deposit: dep })], { parents: base, time: n.clock + 1000 })
    n.add(refund)
    // validators approve only the settle's branch
    n.tips = [settle.id, settle.id === base[1] ? base[0] : base[1]]
    n.witness(['provider', 'v2', 'v3'])
    expect(n.status(`${settle.id}/0`)).toBe('confirmed')
    expect(n.status(`${refund.id}/0`)).toBe('rejected')
    expect(escrowOf(n.engine.stateView, dep)?.closedBy).toBe(`${settle.id}/0`)
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[C9] after the deadline with no settlement the payer refunds the whole deposit', () => {
    const w = world(); const n = w.n
    const dep = w.lock(50, n.clock + 100)
    n.witness()
    const rf = n.issue('payer', [txOf({ type: 'deposit.refund', deposit: dep })], { time: n.clock + 1000 })
    n.witness()
    expect(n.status(`${rf.id}/0`)).toBe('confirmed')
    expect(n.engine.balance(n.did('payer'))).toBe(1000)
    expect(n.engine.totalCredits()).toBe(4000)
  })

  it('[R3] a rating names a confirmed settlement of the session; each side once', () => {
    const w = world(); const n = w.n
    const dep = w.lock(50, n.clock + DAY)
    n.witness()
    const st = w.settle(dep, 2)
    n.witness()
    const r1 = n.issue('payer', [txOf({ type: 'rate', session: w.session, settle: st, score: 5 })])
    const r2 = n.issue('payer', [txOf({ type: 'rate', session: w.session, settle: st, score: 1 })])
    const bad = n.issue('v3', [txOf({ type: 'rate', session: w.session, settle: st, score: 1 })])
    const wrong = n.issue('provider', [txOf({ type: 'rate', session: w.session, settle: dep, score: 4 })])
    n.witness()
    expect(n.status(`${r1.id}/0`)).toBe('confirmed')
    expect(n.status(`${r2.id}/0`)).toBe('rejected')
    expect(n.status(`${bad.id}/0`)).toBe('rejected')
    expect(n.status(`${wrong.id}/0`)).toBe('rejected')
    expect(readRatings(n.engine.stateView, w.session)).toEqual({ byPayer: 5, byProvider: null })
  })

  it('[L?] attack 1: a late, low-depth settlement of a voucher cannot revert a confirmed transfer', () => {
    const w = world(); const n = w.n
    const old = n.tips
    // the payer pays a merchant (v3) everything; it confirms deep
    const pay = n.issue('payer', [txOf({ type: 'transfer', to: n.did('v3'), amount: 1000, toChain: 'operator' })])
    n.witness(undefined, 4)
    expect(n.status(`${pay.id}/0`)).toBe('confirmed')
    // the provider then settles a voucher the payer signed, from old parents, with no deposit
    const late = n.block('provider', [txOf({ type: 'session.settle', deposit: `${old[1]}/0`, voucher: w.voucher(3), request: w.req, close: true })], { parents: old })
    n.add(late)
    n.witness(undefined, 3)
    expect(n.status(`${pay.id}/0`)).toBe('confirmed')
    expect(n.status(`${late.id}/0`)).not.toBe('confirmed')
    expect(n.engine.balance(n.did('payer'))).toBe(0)
    expect(n.engine.balance(n.did('provider'))).toBe(1000)
    expect(n.engine.totalCredits()).toBe(4000)
  })
})
