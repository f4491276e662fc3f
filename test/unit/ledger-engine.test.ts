// The ledger engine: references and orphans, weights, confirmation, cross-chain approvals,
// equivocations, the state machine, tip selection and checkpoints (SPEC.md, Ledger).
import { describe, expect, it } from 'vitest'
import {
  LAZY_TIP_DEPTH, LedgerEngine, createLedgerContext, decodeSnapshot, encodeSnapshot, validateBlockBytes
} from '../../src/core/ledger/index.ts'
import type { BatchResult, LedgerContext, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { ctxOf, forge, key, NOW, prng, Script, T0, testGenesis } from '../fixtures/ledger-helpers.ts'

function addAll (e: LedgerEngine, blocks: readonly ValidatedBlock[]): BatchResult {
  return e.addMany(blocks.map(b => b.bytes), { now: NOW })
}

/** Everything observable of an engine, as bytes/JSON, to prove a rejection changed nothing. */
function fingerprint (e: LedgerEngine): string {
  return JSON.stringify({
    snap: Buffer.from(encodeSnapshot(e.snapshot())).toString('base64'),
    orphans: e.orphanIds(),
    missing: e.missing(),
    stats: e.stats()
  })
}

/** a (home), b (business), c (home) admitted; a1 confirmed by a, b, c. */
function base (ctx: LedgerContext = ctxOf()): Script {
  const s = new Script(ctx)
  s.issuer('a', 1, 'home'); s.issuer('b', 2, 'business'); s.issuer('c', 3, 'home')
  s.issuer('d', 4, 'operator'); s.issuer('e', 5, 'home'); s.issuer('f', 6, 'home'); s.issuer('x', 7, 'home')
  s.issue('a1', ['G', 'G'], [s.admit('a')])
  s.issue('b1', ['a1', 'G'], [s.admit('b')])
  s.issue('c1', ['a1', 'b1'], [s.admit('c')])
  return s
}

describe('references and orphans', () => {
  it('[L15] a block with unknown parents is parked, then inserted when they arrive (cascade, parents first)', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'])
    const e = new LedgerEngine(s.ctx)
    const r1 = addAll(e, [s.blocks.get('a2') as ValidatedBlock, s.blocks.get('c1') as ValidatedBlock])
    expect(r1.results.map(r => r.kind)).toEqual(['orphan', 'orphan'])
    expect(r1.results[0]).toMatchObject({ code: 'ERR_MISSING_PARENTS', missing: [s.id('c1'), s.id('b1'), s.id('a1')] })
    expect(r1.parked.map(p => p.id)).toEqual([s.id('a2'), s.id('c1')])
    expect(e.missing()).toEqual([s.id('a1'), s.id('b1')].sort())
    expect(e.blockStatus(s.id('a2'))).toBe('pending')
    expect(e.status(`${s.id('a2')}/0`)).toBeUndefined()
    const r2 = addAll(e, [s.blocks.get('b1') as ValidatedBlock])
    expect(r2.results[0].kind).toBe('orphan')
    const r3 = addAll(e, [s.blocks.get('a1') as ValidatedBlock])
    expect(r3.results[0].kind).toBe('inserted')
    expect(r3.inserted.map(i => i.id)).toEqual(['a1', 'b1', 'c1', 'a2'].map(l => s.id(l)))
    expect(e.missing()).toEqual([])
    expect(e.orphanIds()).toEqual([])
    expect(e.stats()).toMatchObject({ blocks: 4, orphans: 0 })
  })

  it('[L15] the orphan pool is bounded in count and bytes: the oldest is evicted and reported', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'])
    const e = new LedgerEngine(s.ctx, { maxOrphans: 2 })
    const r = addAll(e, ['b1', 'c1', 'a2'].map(l => s.blocks.get(l) as ValidatedBlock))
    expect(r.dropped.map(d => d.id)).toEqual([s.id('b1')])
    expect(e.orphanIds()).toEqual([s.id('c1'), s.id('a2')])
    const bySize = new LedgerEngine(s.ctx, { maxOrphanBytes: s.blocks.get('c1')!.bytes.length + s.blocks.get('a2')!.bytes.length })
    const r2 = addAll(bySize, ['b1', 'c1', 'a2'].map(l => s.blocks.get(l) as ValidatedBlock))
    expect(r2.dropped.map(d => d.id)).toEqual([s.id('b1')])
    expect(bySize.orphanIds()).toEqual([s.id('c1'), s.id('a2')])
  })

  it('[L15][L11] an orphan that breaks a reference rule once complete is dropped, not inserted', () => {
    const s = base()
    const a = s.who('a')
    // a's "seq 3" block naming a1 (seq 1) as prev: a gap, only visible once a1 is known
    const gap = a.block([s.id('b1'), s.id('G')], [], { seq: 3, prev: s.id('a1'), fork: true })
    const e = new LedgerEngine(s.ctx)
    expect(addAll(e, [gap]).results[0].kind).toBe('orphan')
    const r = addAll(e, [s.blocks.get('a1') as ValidatedBlock, s.blocks.get('b1') as ValidatedBlock])
    expect(r.dropped).toEqual([{ id: gap.id, error: expect.objectContaining({ code: 'ERR_SEQ_GAP' }) }])
    expect(e.has(gap.id)).toBe(false)
  })

  it('[L16] a known block, inserted or parked, is ERR_DUPLICATE', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    addAll(e, [s.blocks.get('a1') as ValidatedBlock, s.blocks.get('c1') as ValidatedBlock])
    const r = addAll(e, [s.blocks.get('a1') as ValidatedBlock, s.blocks.get('c1') as ValidatedBlock])
    expect(r.results.map(x => x.kind === 'rejected' ? x.error.code : x.kind)).toEqual(['ERR_DUPLICATE', 'ERR_DUPLICATE'])
  })

  it('[L11][L12] reference rules: prev of another issuer or chain, seq gap, prev or parent newer', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    const ctx = s.ctx
    const later = T0 + 1000
    const cases: Array<[string, Record<string, unknown>, number]> = [
      ['ERR_BAD_PREV', { seq: 2, prev: s.id('b1'), parents: [s.id('c1'), s.id('b1')], time: later }, 1], // b's block as a's prev
      ['ERR_SEQ_GAP', { seq: 3, prev: s.id('a1'), parents: [s.id('c1'), s.id('b1')], time: later }, 1],
      ['ERR_BAD_PREV', { seq: 2, prev: s.id('a1'), parents: [s.id('c1'), s.id('b1')], time: s.blocks.get('a1')!.block.time - 1 + 0, chain: 'home' }, 1],
      ['ERR_BAD_PARENTS', { seq: 1, prev: null, parents: [s.id('c1'), s.id('b1')], time: s.blocks.get('c1')!.block.time - 1 }, 9]
    ]
    for (const [code, fields, n] of cases) {
      const b = forge(ctx, key(n), fields)
      const r = e.add(b.bytes, { now: NOW }).results[0]
      expect(r.kind === 'rejected' ? r.error.code : r.kind, JSON.stringify(fields)).toBe(code)
    }
    // prev on another chain: a's seq-2 block on 'business'
    const off = forge(ctx, key(1), { chain: 'business', seq: 2, prev: s.id('a1'), parents: [s.id('c1'), s.id('b1')], time: later })
    const r = e.add(off.bytes, { now: NOW }).results[0]
    expect(r.kind === 'rejected' ? r.error.code : r.kind).toBe('ERR_BAD_PREV')
  })

  it('[L17] nothing already stored changes on any rejection', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'], [s.pay('b', 5)])
    const e = new LedgerEngine(s.ctx)
    addAll(e, [...s.order.slice(0, 3)])
    addAll(e, [s.blocks.get('a2') as ValidatedBlock]) // pending
    const orphan = forge(s.ctx, key(9), { parents: [s.id('c1'), forge(s.ctx, key(8), {}).id], time: T0 + 500 })
    addAll(e, [{ bytes: orphan.bytes } as ValidatedBlock])
    const before = fingerprint(e)
    const G = s.ctx.allianceId
    const bad: Uint8Array[] = [
      new Uint8Array(70_000), new Uint8Array([1, 2, 3]), s.blocks.get('a1')!.bytes, orphan.bytes,
      forge(s.ctx, key(9), { sig: new Uint8Array(64) }).bytes, forge(s.ctx, key(9), { difficulty: 1 }).bytes,
      forge(ctxOf({ name: 'x' }), key(9), {}).bytes, forge(s.ctx, key(9), { chain: 'mars' }).bytes,
      forge(s.ctx, key(1), { seq: 3, prev: s.id('a1'), parents: [G, s.id('c1')], time: T0 + 900 }).bytes,
      forge(s.ctx, key(9), { parents: [s.id('c1'), s.id('c1')] }).bytes,
      forge(s.ctx, key(9), { time: NOW + 3_600_000 }).bytes, forge(s.ctx, key(9), { txs: [{ type: 'nope' }] }).bytes,
      forge(s.ctx, key(9), { txs: [{ type: 'transfer', to: key(1).did, amount: -1, toChain: 'home' }] }).bytes
    ]
    for (const b of bad) {
      const r = e.add(b, { now: NOW })
      expect(r.results[0].kind).toBe('rejected')
      expect(r.inserted).toEqual([])
      expect(fingerprint(e)).toBe(before)
    }
  })
})

describe('weight and confirmation', () => {
  it('[L19][L23] cumulative weight is the set of distinct approving issuers; threshold confirms', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    expect(e.approvers(s.id('a1'))).toEqual([s.who('a').did, s.who('b').did, s.who('c').did].sort())
    expect(e.weight(s.id('b1'))).toBe(2)
    expect(e.blockStatus(s.id('a1'))).toBe('confirmed')
    expect(e.blockStatus(s.id('b1'))).toBe('pending')
    addAll(e, [s.issue('c2', ['c1', 'b1'])]) // c again: no new issuer
    expect(e.weight(s.id('b1'))).toBe(2)
    addAll(e, [s.issue('e1', ['c2', 'G'], [s.admit('e')])])
    expect(e.weight(s.id('b1'))).toBe(3)
    expect(e.blockStatus(s.id('b1'))).toBe('confirmed')
    expect(e.blockInfo(s.id('b1'))).toMatchObject({ status: 'confirmed', weight: 3, depth: 2, seq: 1, chain: 'business' })
  })

  it('[L22][L23] a cross-chain transfer waits for an issuer of another chain; its descendants wait for it', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'], [s.pay('b', 100)]) // home -> business: cross-chain
    s.issue('c2', ['a2', 'b1'])
    s.issue('e1', ['a2', 'c2'], [s.admit('e')])
    s.issue('f1', ['e1', 'c2'], [s.admit('f')])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    const a2 = e.blockInfo(s.id('a2'))
    expect(a2).toMatchObject({ crossChain: true, weight: 4, crossChainWeight: 0, status: 'pending' })
    expect(e.weight(s.id('c2'))).toBe(3)
    expect(e.blockStatus(s.id('c2'))).toBe('pending') // has weight, but a2 (a reference) is pending
    expect(e.status(`${s.id('a2')}/0`)).toBe('pending')
    const r = addAll(e, [s.issue('b2', ['f1', 'e1'])])
    expect(e.blockInfo(s.id('a2'))).toMatchObject({ crossChainWeight: 1, status: 'confirmed' })
    expect(r.confirmed).toEqual(expect.arrayContaining([s.id('a2'), s.id('c2')]))
    expect(e.status(`${s.id('a2')}/0`)).toBe('confirmed')
    expect(e.balance(s.who('b').did)).toBe(1100)
  })

  it('[L20][L4] with founders admission only founders carry weight; founders admit members', () => {
    const founders = [1, 2, 3, 4].map(n => ({ did: key(n).did, chain: n === 2 ? 'business' : 'home' }))
    const ctx = ctxOf({ admission: 'founders', founders })
    const s = new Script(ctx)
    s.issuer('a', 1, 'home'); s.issuer('b', 2, 'business'); s.issuer('c', 3, 'home'); s.issuer('m', 9, 'home'); s.issuer('n', 10, 'home')
    s.issue('m1', ['G', 'G'])
    s.issue('n1', ['m1', 'G'])
    s.issue('a1', ['n1', 'm1'], [{ type: 'member.admit', member: s.who('m').did, chain: 'home' }])
    const e = new LedgerEngine(ctx)
    addAll(e, s.order)
    expect(e.approvers(s.id('m1')).length).toBe(3)
    expect(e.weight(s.id('m1'))).toBe(1) // m and n are not founders
    expect(e.members().length).toBe(4)
    addAll(e, [s.issue('b1', ['a1', 'G']), s.issue('c1', ['b1', 'a1'])])
    expect(e.blockStatus(s.id('a1'))).toBe('confirmed')
    expect(e.member(s.who('m').did)).toEqual({ chain: 'home', since: s.id('a1') })
    expect(e.balance(s.who('m').did)).toBe(1000)
    expect(e.totalCredits()).toBe(5000)
  })
})

describe('equivocation', () => {
  /** x forks at seq 2: x2 pays a 800, x2' pays b 800 (x holds 1000). */
  function forked (): Script {
    const s = base()
    s.issue('x1', ['c1', 'b1'], [s.admit('x')])
    s.issue('a2', ['x1', 'c1'])
    s.issue('b2', ['a2', 'x1'])
    s.issue('x2', ['b2', 'a2'], [s.pay('a', 800)])
    s.issue("x2'", ['b2', 'a2'], [s.pay('c', 800)], { fork: true, prev: 'x1', seq: 2 })
    return s
  }

  it('[L24] the heavier fork member wins; the other is rejected; evidence is reported', () => {
    const s = forked()
    s.issue('c2', ['x2', 'b2'])
    s.issue('e1', ['c2', 'x2'], [s.admit('e')])
    s.issue('d1', ["x2'", 'e1'], [s.admit('d')]) // approves both sides
    s.issue('f1', ['d1', 'e1'], [s.admit('f')])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    expect(e.weight(s.id('x2'))).toBeGreaterThan(e.weight(s.id("x2'")))
    expect(e.blockInfo(s.id("x2'"))).toMatchObject({ status: 'rejected', reason: 'equivocation' })
    expect(e.blockStatus(s.id('x2'))).toBe('confirmed')
    expect(e.txResult(`${s.id("x2'")}/0`)).toEqual({ status: 'rejected', reason: 'equivocation' })
    expect(e.equivocations()).toEqual([{ issuer: s.who('x').did, seq: 2, blocks: [s.id('x2'), s.id("x2'")].sort(), canonical: s.id('x2') }])
    // others' blocks approving the loser are unaffected
    expect(e.blockStatus(s.id('d1'))).not.toBe('rejected')
    expect(e.balance(s.who('a').did)).toBe(1800)
    expect(e.balance(s.who('c').did)).toBe(1000)
    // x's next block on the losing branch is rejected with it
    const r = addAll(e, [s.issue('x3', ['f1', 'd1'], [], { prev: "x2'", seq: 3 })])
    expect(r.rejected).toEqual([s.id('x3')])
    expect(e.blockInfo(s.id('x3'))).toMatchObject({ status: 'rejected', reason: 'prev-rejected' })
  })

  it('[L24] equal weight: the lower id wins', () => {
    const s = forked()
    s.issue('c2', ['x2', "x2'"]) // both sides get c
    s.issue('e1', ['c2', 'b2'], [s.admit('e')])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    expect(e.weight(s.id('x2'))).toBe(e.weight(s.id("x2'")))
    const [low, high] = [s.id('x2'), s.id("x2'")].sort()
    expect(e.blockStatus(low)).toBe('confirmed')
    expect(e.blockStatus(high)).toBe('rejected')
  })

  it('[L25] a winner seen first is reverted when the heavier side arrives; state rolls back; same end as any order', () => {
    const s = forked()
    // side A: x2' approved by c, e (x2' weight x, c, e, ... ) first
    s.issue('c2', ["x2'", 'b2'])
    s.issue('e1', ['c2', "x2'"], [s.admit('e')])
    // side B: x2 approved by a, b, d, f
    s.issue('a3', ['x2', 'b2'])
    s.issue('b3', ['a3', 'x2'])
    s.issue('d1', ['b3', 'a3'], [s.admit('d')])
    s.issue('f1', ['d1', 'b3'], [s.admit('f')])
    const sideA = ['a1', 'b1', 'c1', 'x1', 'a2', 'b2', "x2'", 'c2', 'e1']
    const sideB = ['x2', 'a3', 'b3', 'd1', 'f1']
    const e = new LedgerEngine(s.ctx)
    addAll(e, sideA.map(l => s.blocks.get(l) as ValidatedBlock))
    expect(e.blockStatus(s.id("x2'"))).toBe('confirmed')
    expect(e.balance(s.who('c').did)).toBe(1800)
    const r = addAll(e, sideB.map(l => s.blocks.get(l) as ValidatedBlock))
    expect(r.reverted).toContain(s.id("x2'"))
    expect(e.blockStatus(s.id("x2'"))).toBe('rejected')
    expect(e.blockStatus(s.id('x2'))).toBe('confirmed')
    expect(e.balance(s.who('c').did)).toBe(1000)
    expect(e.balance(s.who('a').did)).toBe(1800)
    const other = new LedgerEngine(s.ctx)
    addAll(other, [...s.order].reverse())
    expect(other.stateHash()).toBe(e.stateHash())
    expect(other.confirmedIds()).toEqual(e.confirmedIds())
    expect(e.stats().rollbacks).toBeGreaterThan(0)
  })
})

describe('state machine', () => {
  it('[L26][L28] overspend is rejected at replay by the total order; the block\'s other txs still apply', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'], [s.pay('c', 700), s.pay('c', 700), { type: 'credential.anchor', hash: 'ab'.repeat(32) }])
    s.issue('b2', ['a2', 'c1'])
    s.issue('c2', ['b2', 'a2'])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    const id = s.id('a2')
    expect(e.txResult(`${id}/0`)).toEqual({ status: 'confirmed' })
    expect(e.txResult(`${id}/1`)).toEqual({ status: 'rejected', reason: 'ERR_OVERSPEND' })
    expect(e.txResult(`${id}/2`)).toEqual({ status: 'confirmed' })
    expect(e.balance(s.who('a').did)).toBe(300)
    expect(e.balance(s.who('c').did)).toBe(1700)
  })

  it('[L27][L28][L29] admission once, members only, recipient chain, anchors and revocations', () => {
    const s = base()
    const h = 'cd'.repeat(32)
    s.issue('a2', ['c1', 'b1'], [
      s.admit('a'), // again: rejected
      s.pay('x', 5), // x is not a member
      { type: 'transfer', to: s.who('b').did, amount: 5, toChain: 'home' }, // b is on business
      { type: 'credential.anchor', hash: h },
      { type: 'credential.anchor', hash: h }, // twice
      { type: 'credential.revoke', hash: 'ef'.repeat(32) } // not anchored
    ])
    s.issue('x1', ['a2', 'c1'], [s.pay('a', 1)]) // x pays before being a member
    s.issue('c2', ['x1', 'a2'], [{ type: 'credential.revoke', hash: h }]) // not c's anchor
    s.issue('b2', ['c2', 'x1'])
    s.issue('a3', ['b2', 'c2'], [{ type: 'credential.revoke', hash: h }, { type: 'credential.revoke', hash: h }])
    s.issue('c3', ['a3', 'b2'])
    s.issue('b3', ['c3', 'a3'])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    const r = (l: string, i: number): unknown => e.txResult(`${s.id(l)}/${i}`)
    expect([0, 1, 2, 3, 4, 5].map(i => r('a2', i))).toEqual([
      { status: 'rejected', reason: 'ERR_BAD_TX' }, { status: 'rejected', reason: 'ERR_BAD_TX' },
      { status: 'rejected', reason: 'ERR_BAD_TX' }, { status: 'confirmed' },
      { status: 'rejected', reason: 'ERR_BAD_TX' }, { status: 'rejected', reason: 'ERR_BAD_TX' }
    ])
    expect(r('x1', 0)).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect(r('c2', 0)).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect([r('a3', 0), r('a3', 1)]).toEqual([{ status: 'confirmed' }, { status: 'rejected', reason: 'ERR_BAD_TX' }])
    expect(e.stateView.get('anchor', h)).toEqual({ issuer: s.who('a').did, anchoredIn: s.id('a2'), revokedIn: s.id('a3') })
    expect(e.members().length).toBe(3)
    expect(e.totalCredits()).toBe(3000)
  })

  it('[L26] a member issuing on another chain than its own has every tx rejected (ERR_UNKNOWN_CHAIN)', () => {
    const founders = [1, 2, 3].map(n => ({ did: key(n).did, chain: 'home' }))
    const ctx = ctxOf({ admission: 'founders', founders })
    const s = new Script(ctx)
    s.issuer('a', 1, 'home'); s.issuer('b', 2, 'home'); s.issuer('c', 3, 'home'); s.issuer('m', 9, 'operator')
    s.issue('a1', ['G', 'G'], [{ type: 'member.admit', member: s.who('m').did, chain: 'business' }]) // cross-chain admission
    s.issue('m1', ['a1', 'G'], [s.pay('a', 10)])
    s.issue('b1', ['m1', 'a1'])
    s.issue('c1', ['b1', 'm1'])
    const e = new LedgerEngine(ctx)
    addAll(e, s.order)
    // a1 is cross-chain (admits to business): m (operator) is not eligible, so it stays pending
    expect(e.blockInfo(s.id('a1'))).toMatchObject({ crossChain: true, weight: 3, status: 'pending' })
    const ctx2 = ctxOf({ admission: 'founders', founders: [...founders, { did: key(4).did, chain: 'operator' }] })
    const s2 = new Script(ctx2)
    s2.issuer('a', 1, 'home'); s2.issuer('b', 2, 'home'); s2.issuer('c', 3, 'home'); s2.issuer('d', 4, 'operator'); s2.issuer('m', 9, 'operator')
    s2.issue('a1', ['G', 'G'], [{ type: 'member.admit', member: s2.who('m').did, chain: 'business' }])
    s2.issue('d1', ['a1', 'G'])
    s2.issue('b1', ['d1', 'a1'])
    s2.issue('m1', ['b1', 'd1'], [s2.pay('a', 10)])
    s2.issue('c1', ['m1', 'b1'])
    s2.issue('d2', ['c1', 'm1'])
    s2.issue('b2', ['d2', 'c1'])
    const e2 = new LedgerEngine(ctx2)
    addAll(e2, s2.order)
    expect(e2.blockStatus(s2.id('a1'))).toBe('confirmed')
    expect(e2.blockStatus(s2.id('m1'))).toBe('confirmed')
    expect(e2.txResult(`${s2.id('m1')}/0`)).toEqual({ status: 'rejected', reason: 'ERR_UNKNOWN_CHAIN' })
  })

  it('[L30][L31] conservation, and the same state hash whatever the delivery order', () => {
    const s = base()
    s.issue('a2', ['c1', 'b1'], [s.pay('c', 10)])
    s.issue('b2', ['a2', 'c1'], [s.pay('a', 20)])
    s.issue('c2', ['b2', 'a2'], [s.pay('b', 30)])
    s.issue('a3', ['c2', 'b2'])
    s.issue('b3', ['a3', 'c2'])
    const engines = [0, 1, 2, 3].map(() => new LedgerEngine(s.ctx))
    const rand = prng(7)
    engines.forEach((e, i) => {
      const blocks = [...s.order]
      if (i === 1) blocks.reverse()
      if (i > 1) blocks.sort(() => rand() - 0.5)
      for (const b of blocks) e.add(b.bytes, { now: NOW })
    })
    const hashes = new Set(engines.map(e => e.stateHash()))
    expect(hashes.size).toBe(1)
    for (const e of engines) expect(e.totalCredits()).toBe(e.members().length * 1000)
    expect(engines[0].balance(s.who('a').did)).toBe(1000 - 10 + 20)
  })

  it('[L32] tx ids and statuses: pending, confirmed, unknown', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order.slice(0, 2))
    const t = `${s.id('a1')}/0`
    expect(e.status(t)).toBe('pending')
    addAll(e, s.order.slice(2))
    expect(e.status(t)).toBe('confirmed')
    expect(e.status(`${s.id('a1')}/1`)).toBeUndefined()
    expect(e.status('nonsense')).toBeUndefined()
    expect(e.status(`${s.id('a1')}/01`)).toBeUndefined()
  })

  it('[L26] a block confirmed late that sorts first rolls back applied blocks (undo log, or replay from genesis beyond the window)', () => {
    const s = base()
    s.issue('e1', ['a1', 'G'], [s.admit('e'), s.pay('a', 1)]) // depth 2, approved by nobody for a while
    s.issue('a2', ['c1', 'b1'], [s.pay('b', 1)])
    s.issue('b2', ['a2', 'c1'], [s.pay('c', 2)])
    s.issue('c2', ['b2', 'a2'], [s.pay('a', 3)])
    s.issue('a3', ['c2', 'b2'])
    s.issue('b3', ['a3', 'c2'])
    s.issue('c3', ['b3', 'e1'])
    s.issue('a4', ['c3', 'b3'])
    s.issue('b4', ['a4', 'c3'])
    const ref = new LedgerEngine(s.ctx)
    addAll(ref, s.order)
    for (const undoWindow of [1, 100]) {
      const e = new LedgerEngine(s.ctx, { undoWindow })
      for (const b of s.order) e.add(b.bytes, { now: NOW })
      expect(e.stateHash()).toBe(ref.stateHash())
      expect(e.confirmedIds()).toEqual(ref.confirmedIds())
      expect(e.stats()).toMatchObject(undoWindow === 1 ? { fullReplays: 1 } : { rollbacks: 1, fullReplays: 0 })
    }
    expect(ref.confirmedIds().indexOf(s.id('e1'))).toBeLessThan(ref.confirmedIds().indexOf(s.id('a3')))
    expect(ref.balance(s.who('e').did)).toBe(999)
  })
})

describe('issuing', () => {
  it('[L34] selectTips prefers pending tips of distinct other issuers, never own, rejected or lazy ones', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    expect(e.selectTips(() => 0)).toEqual([s.ctx.allianceId, s.ctx.allianceId])
    addAll(e, s.order)
    s.issue('a2', ['c1', 'b1'])
    s.issue('b2', ['c1', 'a1'])
    addAll(e, s.order.slice(3))
    for (let i = 0; i < 20; i++) {
      const rand = prng(i)
      const [p, q] = e.selectTips(rand, { issuer: s.who('c').did })
      expect(p).not.toBe(q)
      expect([p, q].sort()).toEqual([s.id('a2'), s.id('b2')].sort())
    }
    // own tips are left to prev
    const [p, q] = e.selectTips(() => 0.5, { issuer: s.who('a').did })
    expect(p).toBe(s.id('b2'))
    expect(q).not.toBe(s.id('a2'))
    // a lazy tip far below the deepest block is not approved
    let prev = 'b2'
    for (let i = 0; i < LAZY_TIP_DEPTH + 2; i++) {
      const who = i % 2 === 0 ? 'c' : 'a'
      const label = `${who}${10 + i}`
      s.issue(label, [prev, 'G'])
      prev = label
    }
    s.issue('e1', ['a1', 'G'], [s.admit('e')])
    addAll(e, s.order.slice(5))
    const tips = e.tips()
    expect(tips).toContain(s.id('e1'))
    for (let i = 0; i < 10; i++) expect(e.selectTips(prng(i))).not.toContain(s.id('e1'))
  })

  it('[L34][L35] template: seq, prev, chain and time for the next block; promotionDue when own blocks stay pending', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order)
    const a = s.who('a')
    const t = e.template(a.did, prng(1), T0)
    expect(t).toMatchObject({ chain: 'home', seq: 2, prev: s.id('a1') })
    expect(t.time).toBeGreaterThanOrEqual(s.blocks.get('c1')!.block.time)
    expect(e.template(key(42).did, prng(1), NOW)).toMatchObject({ chain: null, seq: 1, prev: null, time: NOW })
    const c = s.who('c')
    expect(e.pendingOf(c.did)).toEqual([s.id('c1')])
    const c1Time = s.blocks.get('c1')!.block.time
    expect(e.promotionDue(c.did, c1Time + 10_000, 30_000)).toBe(false)
    expect(e.promotionDue(c.did, c1Time + 30_000, 30_000)).toBe(true)
    expect(e.promotionDue(a.did, NOW, 1)).toBe(false)
  })
})

describe('checkpoints', () => {
  it('[L36] a restored snapshot behaves exactly as the original for any further block', () => {
    const s = base()
    s.issue('x1', ['c1', 'b1'], [s.admit('x')])
    s.issue('a2', ['x1', 'c1'], [s.pay('b', 50)])
    s.issue('x2', ['a2', 'x1'], [s.pay('a', 800)])
    s.issue("x2'", ['a2', 'x1'], [s.pay('c', 800)], { fork: true, prev: 'x1', seq: 2 })
    s.issue('b2', ['x2', "x2'"])
    s.issue('c2', ['b2', 'x2'])
    s.issue('e1', ['c2', "x2'"], [s.admit('e')])
    s.issue('a3', ['e1', 'c2'])
    const cut = 6
    const orig = new LedgerEngine(s.ctx)
    addAll(orig, s.order.slice(0, cut))
    const bytes = encodeSnapshot(orig.snapshot())
    const restored = LedgerEngine.restore(s.ctx, decodeSnapshot(bytes))
    expect(encodeSnapshot(restored.snapshot())).toEqual(bytes)
    expect(restored.stateHash()).toBe(orig.stateHash())
    for (const b of s.order.slice(cut)) {
      const r1 = orig.add(b.bytes, { now: NOW })
      const r2 = restored.add(b.bytes, { now: NOW })
      expect(r2).toEqual(r1)
    }
    expect(encodeSnapshot(restored.snapshot())).toEqual(encodeSnapshot(orig.snapshot()))
    expect(restored.equivocations()).toEqual(orig.equivocations())
    expect(() => LedgerEngine.restore(ctxOf({ name: 'other' }), decodeSnapshot(bytes))).toThrow(/another alliance/)
    expect(() => decodeSnapshot(new Uint8Array([0xff]))).toThrow(/snapshot/)
  })

  it('[L38] trusted re-adds skip the signature; addValidated takes blocks validated elsewhere', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    const validated = s.order.map(b => validateBlockBytes(b.bytes, createLedgerContext(testGenesis()), { now: NOW }))
    const r = e.addValidated(validated)
    expect(r.results.every(x => x.kind === 'inserted')).toBe(true)
    const t = new LedgerEngine(s.ctx)
    t.addMany(s.order.map(b => b.bytes), { now: 0, trusted: true }) // no clock check either
    expect(t.stateHash()).toBe(e.stateHash())
    expect(e.addValidated(validated).results[0].kind).toBe('rejected')
  })
})
