// The history mapper (issue 11: a true history): both sides of transfers and sessions, in
// words, with amounts and statuses from the first moment, confirmations, and the engine feed.
import { describe, expect, it } from 'vitest'
import { mapHistory, describeRow, registerHistoryRule, LedgerHistory, rowsFromEntries, HISTORY_RULES } from '../../src/peer/history.ts'
import type { HistoryTx, LedgerTxSource } from '../../src/peer/history.ts'
import type { BlockInfo } from '../../src/core/ledger/engine.ts'
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
const voucher = (cumulative: number, round: number, session = 's1') => ({ v: 1, session, offer: 'o1', payer: BOB, provider: ALICE, round, cumulative, units: round * 2, sig: new Uint8Array(64) })

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
    expect(describeRow(inn, name)).toBe('Received from Alice')
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
    expect(bob[2]).toMatchObject({ amount: 1000 })
    expect(describeRow(bob[2], () => '')).toBe('Joined the alliance (welcome credits)')
    const alice = mapHistory(txs, { ...CTX, me: ALICE })
    expect(alice.map((r) => r.kind)).toEqual(['offer-published', 'rating-received', 'session-earned'])
    expect(describeRow(alice[1], () => 'Bob')).toBe('Bob rated you 4★')
  })

  it('[U7] a new transaction type is one rule; unknown own types still show', () => {
    registerHistoryRule('deposit.lock', (x, ctx) => x.issuer === ctx.me ? { kind: 'deposit-locked', amount: -(x.tx.amount as number), counterparty: x.tx.provider as Did } : null)
    const rows = mapHistory([t(BOB, { type: 'deposit.lock', amount: 20, provider: ALICE }), t(BOB, { type: 'mystery' })], { ...CTX, me: BOB })
    expect(rows.map((r) => [r.kind, r.amount])).toEqual([['other', null], ['deposit-locked', -20]])
    delete HISTORY_RULES['deposit.lock']
  })
})

describe('LedgerHistory (engine feed)', () => {
  function info (id: string, issuer: Did, txs: Tx[], over: Partial<BlockInfo> = {}): BlockInfo {
    return { id: id as never, issuer, chain: 'home', seq: 1, depth: 1, time: 5, status: 'pending', reason: null, weight: 1, crossChainWeight: 0, quorum: 3, epoch: 0, crossChain: false, parents: [], prev: null, children: [], deps: [], txs, ...over }
  }

  it('[U7] reads each block once, statuses and weights fresh on every call', () => {
    const blocks = new Map<string, BlockInfo>()
    const ids: string[] = []
    let lookups = 0
    const source: LedgerTxSource = {
      blockIds: () => ids,
      blockInfo: (id) => { lookups++; return blocks.get(id) },
      txResult: (txId) => { const b = blocks.get(txId.split('/')[0]); return b == null ? undefined : { status: b.status } }
    }
    const h = new LedgerHistory(source, { ...CTX, me: BOB })
    blocks.set('x1', info('x1', ALICE, [{ type: 'transfer', to: BOB, amount: 7, toChain: 'home' }]))
    blocks.set('x2', info('x2', CAROL, [{ type: 'transfer', to: ALICE, amount: 9, toChain: 'home' }]))
    ids.push('x1', 'x2')
    expect(h.rows().map((r) => [r.kind, r.amount, r.status])).toEqual([['transfer-in', 7, 'pending']])
    blocks.set('x1', info('x1', ALICE, [{ type: 'transfer', to: BOB, amount: 7, toChain: 'home' }], { status: 'confirmed', weight: 4 }))
    const before = lookups
    expect(h.rows()[0]).toMatchObject({ status: 'confirmed', confirmations: 3 })
    // Only the one relevant block was looked up again, not the unrelated one.
    expect(lookups - before).toBe(1)
  })

  it('[U7] falls back to the ledger API\'s entries with amounts even while pending', () => {
    const rows = rowsFromEntries([{ txId: 'b9/0', type: 'transfer', from: ALICE, to: BOB, delta: 0, amount: 30, status: 'pending', time: 3 }], { ...CTX, me: ALICE })
    expect(rows[0]).toMatchObject({ kind: 'transfer-out', amount: -30, status: 'pending' })
  })
})
