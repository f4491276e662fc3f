// The history mapper (issue 11: a true history): both sides of transfers and sessions, in
// words, with amounts and statuses from the first moment, confirmations, and the engine feed.
import { describe, expect, it } from 'vitest'
import { mapHistory, describeRow, registerHistoryRule, HISTORY_RULES, concernsMe, historyRows } from '../../src/peer/history.ts'
import type { HistoryTx, HistoryRow } from '../../src/peer/history.ts'
import type { ClaimRecord } from '../../src/core/ledger/tx.ts'
import type { LedgerApi } from '../../src/peer/ledger-api.ts'
import type { Tx } from '../../src/core/ledger/types.ts'
import { testDid } from '../fixtures/contacts-store-suite.ts'
import type { Did } from '../../src/core/identity.ts'

const ALICE = testDid(1); const BOB = testDid(2); const CAROL = testDid(3)
const CTX = { grant: 1000, threshold: 3 }
let n = 0
function t (issuer: Did, tx: Tx, over: Partial<HistoryTx> = {}): HistoryTx {
  n++
  return { txId: `b${n}/0`, blockId: `b${n}`, issuer, time: 1000 + n, depth: n, tx, status: 'pending', weight: 1, ...over }
}
const voucher = (cumulative: number, round: number, session = 's1'): Tx[string] => ({ v: 1, session, offer: 'o1', payer: BOB, provider: ALICE, round, cumulative, units: round * 2, sig: new Uint8Array(64) })

describe('history rows', () => {
  it('[U7] a transfer is "out" with −amount for the payer and "in" with +amount for the payee, pending from the start', () => {
    const tx = t(ALICE, { type: 'transfer', to: BOB, amount: 125, toChain: 'home' })
    const [out] = mapHistory([tx], { ...CTX, me: ALICE })
    const [inn] = mapHistory([tx], { ...CTX, me: BOB })
    expect(out).toMatchObject({ kind: 'transfer-out', amount: -125, counterparty: BOB, status: 'pending', confirmations: 1, needed: 3 })
    expect(inn).toMatchObject({ kind: 'transfer-in', amount: 125, counterparty: ALICE, status: 'pending' })
    expect(mapHistory([tx], { ...CTX, me: CAROL })).toEqual([])
    const name = (d: Did): string => d === BOB ? 'Bob' : 'Alice'
    expect(describeRow(out, name)).toBe('Sent to Bob')
    expect(describeRow(inn, name)).toBe('Incoming from Alice')
  })

  it('[U7] a session\'s settlements show the same amounts on both sides: paid by the payer, earned by the provider', () => {
    const txs = [
      t(ALICE, { type: 'session.settle', voucher: voucher(5, 1), request: {} }, { status: 'confirmed', weight: 3 }),
      t(ALICE, { type: 'session.settle', voucher: voucher(15, 3), close: true })
    ]
    const payer = mapHistory(txs, { ...CTX, me: BOB })
    const provider = mapHistory(txs, { ...CTX, me: ALICE })
    expect(payer.map((r) => [r.kind, r.amount, r.rounds, r.status])).toEqual([['session-paid', -10, 3, 'pending'], ['session-paid', -5, 1, 'confirmed']])
    expect(provider.map((r) => [r.kind, r.amount])).toEqual([['session-earned', 10], ['session-earned', 5]])
    expect(payer.reduce((s, r) => s + (r.amount ?? 0), 0)).toBe(-15)
    expect(describeRow(payer[0], () => 'Alice')).toBe('Paid Alice for a session (3 rounds)')
    expect(payer[1].confirmations).toBe(3)
  })

  it('[U7] a rejected settlement does not count toward the next one\'s amount', () => {
    const txs = [
      t(ALICE, { type: 'session.settle', voucher: voucher(10, 2) }, { status: 'rejected', reason: 'ERR_X' }),
      t(ALICE, { type: 'session.settle', voucher: voucher(15, 3) })
    ]
    const rows = mapHistory(txs, { ...CTX, me: BOB })
    expect(rows.map((r) => [r.amount, r.status, r.reason])).toEqual([[-15, 'pending', null], [-10, 'rejected', 'ERR_X']])
  })

  it('[U7] admissions bring the grant in words; ratings given and received name the other side; offers are mine only', () => {
    const txs = [
      t(BOB, { type: 'member.admit', member: BOB, chain: 'home' }),
      t(ALICE, { type: 'session.settle', voucher: voucher(5, 1) }),
      t(BOB, { type: 'rate', session: 's1', score: 4 }),
      t(ALICE, { type: 'offer.publish', offer: {} })
    ]
    const bob = mapHistory(txs, { ...CTX, me: BOB })
    expect(bob.map((r) => r.kind)).toEqual(['rating-given', 'session-paid', 'admission'])
    expect(bob[2]).toMatchObject({ amount: 1000, counterparty: BOB })
    expect(describeRow(bob[2], () => 'Val')).toBe('Admitted to the alliance by Val')
    expect(mapHistory(txs, { ...CTX, grant: 0, me: BOB })[2].amount).toBeNull()
    const alice = mapHistory(txs, { ...CTX, me: ALICE })
    expect(alice.map((r) => r.kind)).toEqual(['offer-published', 'rating-received', 'session-earned'])
    expect(describeRow(alice[1], () => 'Bob')).toBe('Bob rated you 4★')
  })

  it('[U7] a new transaction type is one rule; unknown own types still show', () => {
    registerHistoryRule('escrow.bump', (x, ctx) => x.issuer === ctx.me ? { kind: 'deposit-locked', amount: -(x.tx.amount as number), counterparty: x.tx.provider as Did } : null)
    const rows = mapHistory([t(BOB, { type: 'escrow.bump', amount: 20, provider: ALICE }), t(BOB, { type: 'mystery' })], { ...CTX, me: BOB })
    expect(rows.map((r) => [r.kind, r.amount])).toEqual([['other', null], ['deposit-locked', -20]])
    delete HISTORY_RULES['escrow.bump']
  })
})

describe('credits received, deposits and the balance they add up to', () => {
  const name = (d: Did): string => d === ALICE ? 'Alice' : d === BOB ? 'Bob' : 'Carol'
  /** What the confirmed rows say my balance moved by (deposit payments moved it at the lock). */
  const balanceMoved = (rows: HistoryRow[]): number => rows.filter((r) => r.status === 'confirmed' && !r.fromDeposit).reduce((s, r) => s + (r.amount ?? 0), 0)

  it('[U7] a payment to me is incoming (pending) until my wallet receives it, then one "Received" row with the payer\'s name', () => {
    const pay = t(ALICE, { type: 'transfer', to: BOB, amount: 50, toChain: 'home' })
    const me = { ...CTX, me: BOB }
    const [first] = mapHistory([pay], me)
    expect(first).toMatchObject({ kind: 'transfer-in', amount: 50, status: 'pending', stage: null, paidBy: pay.txId })
    expect(describeRow(first, name)).toBe('Incoming from Alice')
    const paid = { ...pay, status: 'confirmed' as const, weight: 3 }
    // confirmed for Alice, not yet in my balance
    expect(mapHistory([paid], me)[0]).toMatchObject({ status: 'pending', stage: 'incoming' })
    const got = t(BOB, { type: 'receive', claims: [pay.txId] })
    const rows = mapHistory([paid, got], me)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ kind: 'transfer-in', amount: 50, counterparty: ALICE, status: 'pending', txId: got.txId, paidBy: pay.txId })
    expect(describeRow(rows[0], name)).toBe('Received from Alice')
    expect(balanceMoved(mapHistory([paid, { ...got, status: 'confirmed' }], me))).toBe(50)
    // the payer's side is unchanged: one row, −50
    expect(mapHistory([paid, got], { ...CTX, me: ALICE }).map((r) => [r.kind, r.amount])).toEqual([['transfer-out', -50]])
  })

  it('[U7] one receive of several payments makes a row per payer, amounts from the claims', () => {
    const a = t(ALICE, { type: 'transfer', to: BOB, amount: 5, toChain: 'home' }, { status: 'confirmed' })
    const c = t(CAROL, { type: 'transfer', to: BOB, amount: 7, toChain: 'home' }, { status: 'confirmed' })
    const got = t(BOB, { type: 'receive', claims: [a.txId, c.txId] }, { status: 'confirmed' })
    const claims = new Map<string, ClaimRecord>([[a.txId, { from: ALICE, to: BOB, toChain: 'home', amount: 5, kind: 'transfer' }], [c.txId, { from: CAROL, to: BOB, toChain: 'home', amount: 7, kind: 'transfer' }]])
    const rows = mapHistory([a, c, got], { ...CTX, me: BOB, claim: (k) => claims.get(k) })
    expect(rows.map((r) => [r.counterparty, r.amount, r.status])).toEqual([[CAROL, 7, 'confirmed'], [ALICE, 5, 'confirmed']])
    expect(new Set(rows.map((r) => r.id)).size).toBe(2)
  })

  it('[U7] a session from a deposit: locked −20, paid 15 (the same on both sides), 5 returned; rows add up to the balance change', () => {
    const lock = t(BOB, { type: 'deposit.lock', provider: ALICE, amount: 20, deadline: 9e12, ref: 's1' }, { status: 'confirmed', weight: 3 })
    const settle = t(ALICE, { type: 'session.settle', deposit: lock.txId, voucher: voucher(15, 3), close: true })
    const payer = { ...CTX, me: BOB }; const provider = { ...CTX, me: ALICE }
    // pending settlement: what the voucher asks, at most the deposit, from the first moment
    expect(mapHistory([lock, settle], payer).map((r) => [r.kind, r.amount, r.fromDeposit, r.status])).toEqual([['session-paid', -15, true, 'pending'], ['deposit-locked', -20, false, 'confirmed']])
    expect(mapHistory([lock, settle], provider).map((r) => [r.kind, r.amount])).toEqual([['session-earned', 15]])
    // confirmed: exact from the claims it left (the payer's refund)
    const done = { ...settle, status: 'confirmed' as const, weight: 3 }
    const claims = new Map<string, ClaimRecord>([[`${done.txId}:0`, { from: BOB, to: BOB, toChain: '', amount: 5, kind: 'refund' }]])
    const back = t(BOB, { type: 'receive', claims: [`${done.txId}:0`] }, { status: 'confirmed' })
    const rows = mapHistory([lock, done, back], { ...payer, claim: (k) => claims.get(k) })
    expect(rows.map((r) => [r.kind, r.amount])).toEqual([['deposit-returned', 5], ['session-paid', -15], ['deposit-locked', -20]])
    expect(describeRow(rows[0], name)).toBe('Deposit returned from the session with Alice')
    expect(describeRow(rows[2], name)).toBe('Deposit locked for a session with Alice')
    expect(balanceMoved(rows)).toBe(-15)
    const earned = mapHistory([lock, done], { ...provider, claim: (k) => claims.get(k) })
    expect(earned.map((r) => [r.kind, r.amount, r.rounds])).toEqual([['session-earned', 15, 3]])
    expect(balanceMoved(earned)).toBe(15)
  })

  it('[U7] a deposit refunded after its deadline comes back whole; joining and admitting read in words', () => {
    const lock = t(BOB, { type: 'deposit.lock', provider: ALICE, amount: 20, deadline: 5, ref: 's2' }, { status: 'confirmed' })
    const refund = t(BOB, { type: 'deposit.refund', deposit: lock.txId }, { status: 'confirmed' })
    const join = t(BOB, { type: 'member.join', admits: [] }, { status: 'confirmed' })
    // a join sent again while the first was pending is rejected: it does not show twice
    const again = t(BOB, { type: 'member.join', admits: [] }, { status: 'rejected', reason: 'ERR_BAD_TX' })
    const admitted = t(BOB, { type: 'member.admit', member: CAROL, chain: 'home' })
    const rows = mapHistory([lock, refund, join, again, admitted], { ...CTX, me: BOB })
    expect(rows.map((r) => [r.kind, r.amount])).toEqual([['admitted', null], ['joined', null], ['deposit-returned', 20], ['deposit-locked', -20]])
    expect(balanceMoved(rows)).toBe(0)
    expect(describeRow(rows[0], name)).toBe('Admitted Carol to the alliance')
    expect(describeRow(rows[1], name)).toBe('Joined the alliance')
  })

  it('[U7] concernsMe keeps mine, what names me, my sessions\' settlements and their ratings, nothing else', () => {
    const sessions = new Set<string>()
    expect(concernsMe(ALICE, { type: 'session.settle', voucher: voucher(5, 1, 'sx') }, BOB, sessions)).toBe(true)
    expect(concernsMe(ALICE, { type: 'rate', session: 'sx', score: 5 }, BOB, sessions)).toBe(true)
    expect(concernsMe(ALICE, { type: 'rate', session: 'other', score: 5 }, BOB, sessions)).toBe(false)
    expect(concernsMe(ALICE, { type: 'session.settle', voucher: voucher(5, 1, 'sy') }, CAROL, sessions)).toBe(false)
    expect(concernsMe(ALICE, { type: 'transfer', to: BOB, amount: 1, toChain: 'home' }, BOB, sessions)).toBe(true)
    expect(concernsMe(ALICE, { type: 'transfer', to: CAROL, amount: 1, toChain: 'home' }, BOB, sessions)).toBe(false)
    expect(concernsMe(BOB, { type: 'offer.publish' }, BOB, sessions)).toBe(true)
  })

  it('[U7] historyRows reads the ledger\'s raw entries, its quorum and its claims', () => {
    const pay = t(ALICE, { type: 'transfer', to: BOB, amount: 9, toChain: 'home' }, { status: 'confirmed', weight: 5 })
    const ledger = { historyEntries: () => [pay], quorum: () => 2, claim: () => undefined } as unknown as LedgerApi
    expect(historyRows(ledger, BOB)[0]).toMatchObject({ kind: 'transfer-in', amount: 9, confirmations: 2, needed: 2, stage: 'incoming' })
  })
})
