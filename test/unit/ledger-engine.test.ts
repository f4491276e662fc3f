// The ledger engine: references and orphans, admission, validator weight and finality,
// conflicts and double votes, block-lattice accounting, quotas, tips and checkpoints
// (SPEC.md, Ledger). The five attacks of issue 8 are regression tests here, by name.
import { describe, expect, it } from 'vitest'
import {
  LedgerEngine, MAX_STRANGER_ORPHANS, createLedgerContext, decodeSnapshot, encodeSnapshot, validateBlockBytes
} from '../../src/core/ledger/index.ts'
import type { BatchResult, Tx, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { allianceScript as base, ctxOf, forge, key, NOW, prng, Script, T0, testGenesis, validatorsGenesis } from '../fixtures/ledger-helpers.ts'

function addAll (e: LedgerEngine, blocks: readonly ValidatedBlock[]): BatchResult {
  return e.addMany(blocks.map(b => b.bytes), { now: NOW })
}

function code (r: BatchResult): string {
  const x = r.results[0]
  return x.kind === 'rejected' ? x.error.code : x.kind
}

/** Everything observable of an engine, to prove a rejection changed nothing. */
function fingerprint (e: LedgerEngine): string {
  return JSON.stringify({
    snap: Buffer.from(encodeSnapshot(e.snapshot())).toString('base64'),
    orphans: e.orphanIds(),
    missing: e.missing(),
    stats: e.stats()
  })
}

/** The three validators each issue a block approving `tips` (then each other's). */
function confirmBy (s: Script, round: number, tips: readonly [string, string], who: readonly string[] = ['v', 'w', 'z']): string[] {
  const labels: string[] = []
  let last: [string, string] = [tips[0], tips[1]]
  for (const name of who) {
    const label = `${name}${round}`
    s.issue(label, last)
    labels.push(label)
    last = [label, last[0]]
  }
  return labels
}

function engineOf (s: Script): LedgerEngine {
  const e = new LedgerEngine(s.ctx)
  addAll(e, s.order)
  return e
}

describe('admission (L27, L39)', () => {
  it('[L39] a stranger\'s block is rejected as ERR_NOT_MEMBER before anything is stored or parked', () => {
    const s = base()
    const e = engineOf(s)
    const before = fingerprint(e)
    const stranger = forge(s.ctx, key(50), { parents: [s.id('z2'), s.id('w2')], time: T0 + 500, txs: [{ type: 'transfer', to: key(1).did, amount: 1, toChain: 'home' }] })
    const r = e.add(stranger.bytes, { now: NOW })
    expect(code(r)).toBe('ERR_NOT_MEMBER')
    expect(r.inserted).toEqual([])
    expect(r.parked).toEqual([])
    expect(fingerprint(e)).toBe(before)
  })

  it('[L39] a join must name admissions of this issuer, to this chain, by validators', () => {
    const s = base()
    const e = engineOf(s)
    const cases: Array<[number, string, Tx[]]> = [
      [50, 'home', [{ type: 'member.join', admits: [s.tx('v1/0')] }]], // a's admission, not 50's
      [1, 'business', [{ type: 'member.join', admits: [s.tx('v1/0')] }]], // a admitted to home
      [51, 'home', [{ type: 'member.join', admits: [s.tx('a1/0')] }]] // not an admission
    ]
    for (const [n, chain, txs] of cases) {
      const b = forge(s.ctx, key(n), { chain, parents: [s.id('z2'), s.id('w2')], time: T0 + 600, txs })
      expect(code(e.add(b.bytes, { now: NOW }))).toBe('ERR_NOT_MEMBER')
    }
    // a member cannot admit: member.admit by a non-validator is a bad transaction
    const selfAdmit = forge(s.ctx, key(1), { seq: 2, prev: s.id('a1'), parents: [s.id('z2'), s.id('w2')], time: T0 + 700, txs: [{ type: 'member.admit', member: key(52).did, chain: 'home' }] })
    expect(code(e.add(selfAdmit.bytes, { now: NOW }))).toBe('ERR_BAD_TX')
  })

  it('[L27] attack 3: joining gives no credits; the supply is the founders\' allocation, always', () => {
    const s = base()
    const e = engineOf(s)
    expect(e.members().sort()).toEqual([s.who('v'), s.who('w'), s.who('z'), s.who('a'), s.who('b'), s.who('c')].map(i => i.did).sort())
    for (const m of ['a', 'b', 'c']) expect(e.balance(s.who(m).did)).toBe(0)
    expect(e.totalCredits()).toBe(3000)
    // the old mint: admit self and pay the grant on: now a stranger's block is not even stored
    const mint = forge(s.ctx, key(60), { parents: [s.id('z2'), s.id('w2')], time: T0 + 800, txs: [{ type: 'member.admit', member: key(60).did, chain: 'home' }, { type: 'transfer', to: key(1).did, amount: 1000, toChain: 'home' }] })
    expect(code(e.add(mint.bytes, { now: NOW }))).toBe('ERR_NOT_MEMBER') // refused on its bare header (L18)
    expect(e.totalCredits()).toBe(3000)
  })

  it('[L27] with admission "vote", a join needs admitVotes distinct validators', () => {
    const ctx = createLedgerContext(testGenesis({ admission: 'vote', admitVotes: 2 }))
    const s = new Script(ctx)
    s.issuer('v', 101, 'home'); s.issuer('w', 102, 'business'); s.issuer('z', 103, 'operator'); s.issuer('a', 1, 'home')
    s.issue('v1', ['G', 'G'], [s.admit('a')])
    s.issue('w1', ['v1', 'G'], [s.admit('a')])
    s.issue('z1', ['w1', 'v1'])
    const e = engineOf(s)
    const one = s.who('a').block([s.id('z1'), s.id('w1')], [s.join('v1/0')], { fork: true, time: T0 + 100 })
    expect(code(e.add(one.bytes, { now: NOW }))).toBe('ERR_NOT_MEMBER')
    const two = s.issue('a1', ['z1', 'w1'], [s.join('v1/0', 'w1/0')])
    expect(code(e.add(two.bytes, { now: NOW }))).toBe('inserted')
    addAll(e, confirmBy(s, 2, ['a1', 'z1']).map(l => s.blocks.get(l) as ValidatedBlock))
    expect(e.member(s.who('a').did)).toEqual({ chain: 'home', since: s.id('a1') })
  })
})

describe('validator weight and finality (L19–L25)', () => {
  it('[L23] a block confirms above two thirds of the validators, its prev confirmed', () => {
    const s = base()
    s.issue('a2', ['z2', 'w2'], [{ type: 'credential.anchor', hash: 'ab'.repeat(32) }])
    const e = engineOf(s)
    const v = s.who('v').block([s.id('a2'), s.id('z2')], [], { time: ++s.clock })
    const w = s.who('w').block([v.id, s.id('a2')], [], { time: ++s.clock })
    addAll(e, [v, w])
    expect(e.blockInfo(s.id('a2'))).toMatchObject({ status: 'pending', weight: 2, quorum: 3 })
    const z = s.who('z').block([w.id, v.id], [], { time: ++s.clock })
    const r = addAll(e, [z])
    expect(r.confirmed).toContain(s.id('a2'))
    expect(e.status(s.tx('a2/0'))).toBe('confirmed')
  })

  it('[L23] with f < n/3 validators silent, blocks still confirm (n = 4: quorum 3)', () => {
    const ctx = createLedgerContext(validatorsGenesis(4))
    const s = new Script(ctx)
    s.issuer('v', 101, 'home'); s.issuer('w', 102, 'business'); s.issuer('z', 103, 'operator'); s.issuer('q', 104, 'home')
    s.issue('v1', ['G', 'G'], [{ type: 'transfer', to: key(102).did, amount: 10, toChain: 'business' }])
    s.issue('w1', ['v1', 'G'])
    const e = engineOf(s)
    expect(e.quorum).toBe(3)
    expect(e.blockStatus(s.id('v1'))).toBe('pending')
    addAll(e, [s.issue('z1', ['w1', 'v1'])]) // q stays silent
    expect(e.blockStatus(s.id('v1'))).toBe('confirmed')
  })

  it('[L20][L21] attack 5: members\' blocks carry no weight and cost no weight work, however new the issuer', () => {
    const s = base()
    s.issue('a2', ['z2', 'w2'], [s.pay('b', 1)])
    const e = engineOf(s)
    const work = e.stats().weightWork
    const weights = e.blockIds().map(id => e.weight(id))
    // members pile on a2: nothing moves
    addAll(e, [s.issue('b2', ['a2', 'z2']), s.issue('c2', ['b2', 'a2']), s.issue('b3', ['c2', 'a2'])])
    expect(e.stats().weightWork).toBe(work)
    expect(e.blockIds().slice(0, weights.length).map(id => e.weight(id))).toEqual(weights)
    expect(e.blockStatus(s.id('a2'))).toBe('pending')
    // one validator block walks only the blocks it newly approves
    addAll(e, [s.issue('v3', ['b3', 'c2'])])
    // (4 newly approved blocks, each pushing its 3 references, and the start: O(new blocks))
    expect(e.stats().weightWork - work).toBeLessThanOrEqual(3 + 4 * 3 * 2)
  })

  it('[L22] a cross-chain transfer also waits for a validator of another chain', () => {
    const ctx = createLedgerContext(testGenesis({
      founders: [{ did: key(101).did, chain: 'home' }, { did: key(102).did, chain: 'home' }, { did: key(103).did, chain: 'business' }],
      crossChainApprovals: 1
    }))
    const s = new Script(ctx)
    s.issuer('v', 101, 'home'); s.issuer('w', 102, 'home'); s.issuer('z', 103, 'business')
    s.issue('v1', ['G', 'G'], [{ type: 'transfer', to: key(103).did, amount: 10, toChain: 'business' }])
    s.issue('w1', ['v1', 'G'])
    const e = engineOf(s)
    // weight 2 of quorum 3 and no other chain yet
    expect(e.blockInfo(s.id('v1'))).toMatchObject({ crossChain: true, crossChainWeight: 0, status: 'pending' })
    addAll(e, [s.issue('z1', ['w1', 'v1'])])
    expect(e.blockInfo(s.id('v1'))).toMatchObject({ crossChainWeight: 1, status: 'confirmed' })
  })

  it('[L24][L25] attack 2: after X is confirmed, Y of the same seq stays rejected whatever arrives — fresh keys cannot even be stored', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('a').did, amount: 300, toChain: 'home' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    s.issue('a2', ['z4', 'w4'], [s.receive('v3/0')])
    confirmBy(s, 5, ['a2', 'z4'])
    s.issue('a3', ['z5', 'w5'], [s.pay('b', 300)]) // X: a pays b
    s.issue("a3'", ['z5', 'w5'], [s.pay('c', 300)], { fork: true, prev: 'a2', seq: 3 }) // Y: same seq, pays c
    confirmBy(s, 6, ['a3', 'z5'])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order.filter(b => b.id !== s.id("a3'")))
    expect(e.status(s.tx('a3/0'))).toBe('confirmed')
    const hash = e.stateHash()
    const r = addAll(e, [s.blocks.get("a3'") as ValidatedBlock])
    expect(r.reverted).toEqual([])
    expect(e.blockStatus(s.id("a3'"))).toBe('rejected')
    // six fresh keys approving Y: not members, not stored
    for (let k = 70; k < 76; k++) {
      const f = forge(s.ctx, key(k), { parents: [s.id("a3'"), s.id('z6')], time: s.clock + 10 })
      expect(code(e.add(f.bytes, { now: NOW }))).toBe('ERR_NOT_MEMBER')
    }
    // members approving Y carry no weight
    addAll(e, [s.issue('c2', ["a3'", 'z6']), s.issue('b2', ['c2', "a3'"])])
    expect(e.status(s.tx('a3/0'))).toBe('confirmed')
    expect(e.blockInfo(s.id("a3'"))).toMatchObject({ status: 'rejected', reason: 'equivocation' })
    expect(e.stateHash()).toBe(hash)
    expect(e.equivocations()).toEqual([{ issuer: s.who('a').did, seq: 3, blocks: [s.id('a3'), s.id("a3'")].sort(), canonical: s.id('a3') }])
  })

  it('[L24] a validator approving both sides of a conflict is named with the two blocks; one double voter of four cannot make both win', () => {
    const ctx = createLedgerContext(validatorsGenesis(4))
    const s = new Script(ctx)
    s.issuer('v', 101, 'home'); s.issuer('w', 102, 'business'); s.issuer('z', 103, 'operator'); s.issuer('q', 104, 'home')
    s.issue('v1', ['G', 'G'], [{ type: 'transfer', to: key(102).did, amount: 10, toChain: 'business' }])
    s.issue("v1'", ['G', 'G'], [{ type: 'transfer', to: key(103).did, amount: 10, toChain: 'operator' }], { fork: true, prev: null, seq: 1 })
    s.issue('w1', ['v1', 'G'])
    s.issue('z1', ["v1'", 'G'])
    s.issue('q1', ['v1', 'w1'])
    const e = engineOf(s)
    // v, the equivocating validator, is in both blocks' weight: named, with the evidence
    expect(e.doubleVotes()).toEqual([{ validator: key(101).did, conflict: expect.stringContaining('fork of'), blocks: [s.id('v1'), s.id("v1'")].sort() }])
    // v1 has v, w, q = 3 = quorum; v1' has v, z = 2: v1 wins, v1' is rejected
    expect(e.blockStatus(s.id('v1'))).toBe('confirmed')
    expect(e.blockStatus(s.id("v1'"))).toBe('rejected')
  })

  it('[L25] when more than a third double-vote, both sides reach the quorum: the evidence names them and the outcome is still one function of the blocks', () => {
    const ctx = createLedgerContext(validatorsGenesis(4))
    const s = new Script(ctx)
    s.issuer('v', 101, 'home'); s.issuer('w', 102, 'business'); s.issuer('z', 103, 'operator'); s.issuer('q', 104, 'home')
    s.issue('z1', ['G', 'G'], [{ type: 'transfer', to: key(102).did, amount: 10, toChain: 'business' }])
    s.issue("z1'", ['G', 'G'], [{ type: 'transfer', to: key(101).did, amount: 10, toChain: 'home' }], { fork: true, prev: null, seq: 1 })
    s.issue('v1', ['z1', 'G'])
    s.issue('w1', ["z1'", 'G'])
    s.issue('q1', ['z1', "z1'"])
    const orders = [s.order, [...s.order].reverse(), [s.order[2], s.order[4], s.order[0], s.order[3], s.order[1]]]
    const hashes = orders.map(order => { const e = new LedgerEngine(ctx); addAll(e, order); return [e.stateHash(), e.blockStatus(s.id('z1')), e.doubleVotes().map(d => d.validator).sort()] })
    expect(new Set(hashes.map(h => JSON.stringify(h))).size).toBe(1)
    expect(hashes[0][2]).toEqual([key(103).did, key(104).did].sort())
  })
})

describe('block-lattice accounting (L26, L28, L30)', () => {
  it('[L28] a transfer debits the payer and leaves a claim; only the recipient receives it, once', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    s.issue('b2', ['z4', 'w4'], [s.receive('v3/0')]) // not b's
    s.issue('a2', ['b2', 'z4'], [s.receive('v3/0'), s.receive('v3/0')]) // second: already received
    confirmBy(s, 5, ['a2', 'b2'])
    const e = engineOf(s)
    expect(e.status(s.tx('b2/0'))).toBe('rejected')
    expect(e.status(s.tx('a2/0'))).toBe('confirmed')
    expect(e.txResult(s.tx('a2/1'))).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
    expect(e.balance(s.who('a').did)).toBe(100)
    expect(e.balance(s.who('v').did)).toBe(900)
    expect(e.claimsFor(s.who('a').did)).toEqual([])
    expect(e.totalCredits()).toBe(3000)
  })

  it('[L28] overspend is rejected in the payer\'s own chain order; the block\'s other txs still apply', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('w').did, amount: 900, toChain: 'business' }, { type: 'transfer', to: s.who('z').did, amount: 200, toChain: 'operator' }, { type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    const e = engineOf(s)
    expect(e.status(s.tx('v3/0'))).toBe('confirmed')
    expect(e.txResult(s.tx('v3/1'))).toEqual({ status: 'rejected', reason: 'ERR_OVERSPEND' })
    expect(e.status(s.tx('v3/2'))).toBe('confirmed')
    expect(e.balance(s.who('v').did)).toBe(0)
  })

  it('[L26][L31] attack 1: a block that approves old parents and confirms late cannot change a confirmed payment', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    s.issue('a2', ['z4', 'w4'], [s.receive('v3/0')])
    confirmBy(s, 5, ['a2', 'z4'])
    s.issue('a3', ['z5', 'w5'], [s.pay('b', 100)]) // X: a pays merchant b everything
    confirmBy(s, 6, ['a3', 'z5'])
    for (let r = 7; r < 12; r++) confirmBy(s, r, [`z${r - 1}`, `w${r - 1}`])
    const e = engineOf(s)
    expect(e.status(s.tx('a3/0'))).toBe('confirmed')
    const hash = e.stateHash()
    // an accomplice c, approving old parents (depth ~13 lower), spends "for a": it can only spend its own
    s.issue('c2', ['a1', 'b1'], [{ type: 'transfer', to: s.who('x').did, amount: 100, toChain: 'home' }])
    confirmBy(s, 12, ['c2', 'z11'])
    const r = addAll(e, s.order.slice(-4))
    expect(r.reverted).toEqual([])
    expect(e.status(s.tx('a3/0'))).toBe('confirmed')
    expect(e.txResult(s.tx('c2/0'))).toEqual({ status: 'rejected', reason: 'ERR_OVERSPEND' })
    expect(e.balance(s.who('a').did)).toBe(0)
    expect(e.claimsFor(s.who('b').did).map(c => c.claim.amount)).toEqual([100])
    expect(e.stateHash()).not.toBe(hash) // only the rejection record of c2 is new
  })

  it('[L31] the same blocks give the same state hash in any delivery order', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' }, { type: 'transfer', to: s.who('b').did, amount: 50, toChain: 'business' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    s.issue('a2', ['z4', 'w4'], [s.receive('v3/0'), s.pay('c', 30)])
    s.issue('b2', ['a2', 'z4'], [s.receive('v3/1'), s.pay('a', 20)])
    confirmBy(s, 5, ['b2', 'a2'])
    s.issue('c2', ['z5', 'w5'], [s.receive('a2/1')])
    s.issue('a3', ['c2', 'z5'], [s.receive('b2/1')])
    confirmBy(s, 6, ['a3', 'c2'])
    const want = engineOf(s)
    expect(want.balance(s.who('a').did)).toBe(90)
    expect(want.balance(s.who('c').did)).toBe(30)
    const rand = prng(7)
    for (let k = 0; k < 5; k++) {
      const shuffled = [...s.order].sort(() => rand() - 0.5)
      const e = new LedgerEngine(s.ctx)
      for (const b of shuffled) e.add(b.bytes, { now: NOW })
      expect(e.stateHash()).toBe(want.stateHash())
      expect(e.totalCredits()).toBe(3000)
    }
  })
})

describe('deposits (L45)', () => {
  function withDeposit (deadline: number): Script {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'deposit.lock', provider: s.who('a').did, amount: 60, deadline, ref: 'session-1' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    return s
  }

  it('[L45] a deposit locks credits; the payer refunds only after the deadline; a second refund is rejected', () => {
    const s = withDeposit(T0 + 200)
    const e = engineOf(s)
    expect(e.escrow(s.tx('v3/0'))).toMatchObject({ amount: 60, closedBy: null })
    expect(e.balance(s.who('v').did)).toBe(940)
    expect(e.totalCredits()).toBe(3000)
    // before the deadline a refund is refused at validation: it never enters the conflict
    const early = s.who('v').block([s.id('z4'), s.id('w4')], [{ type: 'deposit.refund', deposit: s.tx('v3/0') }], { fork: true, time: T0 + 150 })
    expect(code(e.add(early.bytes, { now: NOW }))).toBe('ERR_BAD_TX')
    s.clock = T0 + 300
    s.issue('v5', ['z4', 'w4'], [{ type: 'deposit.refund', deposit: s.tx('v3/0') }])
    confirmBy(s, 6, ['v5', 'z4'], ['w', 'z'])
    addAll(e, s.order.slice(-3))
    expect(e.status(s.tx('v5/0'))).toBe('confirmed')
    expect(e.balance(s.who('v').did)).toBe(1000)
    expect(e.escrow(s.tx('v3/0'))).toMatchObject({ closedBy: s.tx('v5/0') })
  })

  it('[L45][L24] two closings of one deposit conflict: only the one with a quorum confirms', () => {
    const s = withDeposit(T0 + 200)
    s.clock = T0 + 300
    s.issue('v5', ['z4', 'w4'], [{ type: 'deposit.refund', deposit: s.tx('v3/0') }])
    s.issue("v5'", ['z4', 'w4'], [{ type: 'deposit.refund', deposit: s.tx('v3/0') }, { type: 'transfer', to: s.who('b').did, amount: 1, toChain: 'business' }], { fork: true, prev: 'v3', seq: 4 })
    const tips = ['v5', 'z4'] as const
    confirmBy(s, 6, tips, ['w', 'z'])
    const e = engineOf(s)
    expect(e.blockStatus(s.id('v5'))).toBe('confirmed')
    expect(e.blockStatus(s.id("v5'"))).toBe('rejected')
    expect(e.balance(s.who('v').did)).toBe(1000)
  })
})

describe('bounded cost (L40, L41, L15)', () => {
  it('[L40] quota: a block comes at least minBlockIntervalMs + size/bytesPerSecond after its prev', () => {
    const ctx = createLedgerContext(testGenesis({ minBlockIntervalMs: 1000, bytesPerSecond: 1000 }))
    const s = base(ctx, 5000)
    const e = engineOf(s)
    const prevTime = s.blocks.get('v2')!.block.time
    const soon = forge(ctx, key(101), { seq: 3, prev: s.id('v2'), parents: [s.id('c1'), s.id('b1')], time: prevTime + 1000 })
    expect(code(e.add(soon.bytes, { now: NOW }))).toBe('ERR_QUOTA')
    const later = forge(ctx, key(101), { seq: 3, prev: s.id('v2'), parents: [s.id('c1'), s.id('b1')], time: prevTime + 1000 + soon.bytes.length + 10 })
    expect(code(e.add(later.bytes, { now: NOW }))).toBe('inserted')
  })

  it('[L41] below max depth: a parent older than maxParentAgeMs is ERR_STALE_PARENTS (the genesis excepted)', () => {
    const ctx = createLedgerContext(testGenesis({ maxParentAgeMs: 1000 }))
    const s = base(ctx)
    const e = engineOf(s)
    const stale = forge(ctx, key(102), { chain: 'business', seq: 3, prev: s.id('w2'), parents: [s.id('z2'), s.id('v1')], time: s.blocks.get('v1')!.block.time + 1001 })
    expect(code(e.add(stale.bytes, { now: NOW }))).toBe('ERR_STALE_PARENTS')
    const fresh = forge(ctx, key(102), { chain: 'business', seq: 3, prev: s.id('w2'), parents: [s.id('z2'), s.id('G')], time: s.blocks.get('v1')!.block.time + 1001 })
    expect(code(e.add(fresh.bytes, { now: NOW }))).toBe('inserted')
  })

  it('[L15] a block with unknown references is parked, then inserted when they arrive; the pool is bounded', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx, { maxOrphans: 2 })
    const r1 = addAll(e, ['c1', 'b1', 'a1'].map(l => s.blocks.get(l) as ValidatedBlock))
    expect(r1.results.map(r => r.kind)).toEqual(['orphan', 'orphan', 'orphan'])
    expect(r1.dropped.map(d => d.id)).toEqual([s.id('c1')])
    const r2 = addAll(e, s.order.slice(0, 3))
    expect(r2.inserted.map(i => i.id)).toEqual(['v1', 'w1', 'z1', 'a1', 'b1'].map(l => s.id(l)))
    expect(e.orphanIds()).toEqual([])
  })

  it('[L17] attack 4: nothing changes on any rejection, and junk from strangers takes no memory', () => {
    const s = base()
    const e = engineOf(s)
    const before = fingerprint(e)
    const big: Tx[] = Array.from({ length: 60 }, (_, i) => ({ type: 'credential.anchor', hash: i.toString(16).padStart(64, '0') }))
    const junk = Array.from({ length: 20 }, (_, k) => forge(s.ctx, key(200 + k), { parents: [s.id('z2'), s.id('w2')], time: T0 + 900, txs: big }).bytes)
    const bad: Uint8Array[] = [
      new Uint8Array(70_000), new Uint8Array([1, 2, 3]), s.blocks.get('a1')!.bytes, ...junk,
      forge(s.ctx, key(1), { seq: 2, prev: s.id('a1'), parents: [s.id('z2'), s.id('w2')], time: T0 + 900, sig: new Uint8Array(64) }).bytes,
      forge(ctxOf({ name: 'x' }), key(1), {}).bytes,
      forge(s.ctx, key(1), { seq: 3, prev: s.id('a1'), parents: [s.id('z2'), s.id('c1')], time: T0 + 900 }).bytes,
      forge(s.ctx, key(1), { seq: 2, prev: s.id('a1'), parents: [s.id('z2'), s.id('w2')], time: NOW + 3_600_000 }).bytes
    ]
    for (const b of bad) {
      const r = e.add(b, { now: NOW })
      expect(r.results[0].kind).toBe('rejected')
      expect(r.inserted).toEqual([])
      expect(r.parked).toEqual([])
    }
    expect(fingerprint(e)).toBe(before)
  })
})

describe('issuing (L34, L35)', () => {
  it('[L34] an honest validator never picks a tip that would approve the side of a conflict it did not approve', () => {
    const s = base()
    s.issue('a2', ['z2', 'w2'], [s.pay('b', 0 + 1)])
    s.issue("a2'", ['z2', 'w2'], [s.pay('c', 1)], { fork: true, prev: 'a1', seq: 2 })
    s.issue('v3', ['a2', 'z2']) // v approves a2
    s.issue('c2', ["a2'", 'v3']) // a member builds on a2'
    const e = engineOf(s)
    for (let k = 0; k < 30; k++) {
      const tips = e.selectTips(prng(k), { issuer: s.who('v').did, now: s.clock })
      expect(tips).not.toContain(s.id("a2'"))
      expect(tips).not.toContain(s.id('c2'))
    }
    // c's block approves the side no validator backs: c's wallet re-issues it (L35)
    expect(e.taintedPendingOf(s.who('c').did)).toEqual([s.id('c2')])
  })

  it('[L35] validators are told which members\' pending blocks await their approval, one per issuer', () => {
    const s = base()
    s.issue('a2', ['z2', 'w2'], [s.pay('b', 1)])
    s.issue('a3', ['a2', 'z2'], [s.pay('b', 1)])
    s.issue('b2', ['a3', 'z2'], [s.pay('a', 1)])
    s.issue('c2', ['b2', 'a3']) // empty: never asks for approval
    const e = engineOf(s)
    const due = e.awaitingApproval(s.who('v').did, s.clock)
    expect(due).toHaveLength(2)
    expect(e.awaitingApproval(s.who('a').did, s.clock)).toEqual([])
    const t = e.template(s.who('a').did, prng(1), s.clock)
    expect(t).toMatchObject({ chain: 'home', seq: 4, prev: s.id('a3') })
  })
})

describe('checkpoints (L36, L38)', () => {
  it('[L36] a restored snapshot behaves exactly as the original for any further block', () => {
    const s = base()
    s.issue('v3', ['z2', 'w2'], [{ type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' }])
    confirmBy(s, 4, ['v3', 'z2'], ['w', 'z'])
    s.issue('a2', ['z4', 'w4'], [s.receive('v3/0'), s.pay('b', 10)])
    s.issue("a2'", ['z4', 'w4'], [s.pay('c', 10)], { fork: true, prev: 'a1', seq: 2 })
    confirmBy(s, 5, ['a2', 'z4'])
    const cut = s.order.length - 4
    const orig = new LedgerEngine(s.ctx)
    addAll(orig, s.order.slice(0, cut))
    const bytes = encodeSnapshot(orig.snapshot())
    const restored = LedgerEngine.restore(s.ctx, decodeSnapshot(bytes))
    expect(encodeSnapshot(restored.snapshot())).toEqual(bytes)
    for (const b of s.order.slice(cut)) expect(restored.add(b.bytes, { now: NOW })).toEqual(orig.add(b.bytes, { now: NOW }))
    expect(restored.stateHash()).toBe(orig.stateHash())
    expect(restored.equivocations()).toEqual(orig.equivocations())
    expect(() => LedgerEngine.restore(ctxOf({ name: 'other' }), decodeSnapshot(bytes))).toThrow(/another alliance/)
  })

  it('[L38] trusted re-adds skip the signature; addValidated takes blocks validated elsewhere', () => {
    const s = base()
    const e = new LedgerEngine(s.ctx)
    const validated = s.order.map(b => validateBlockBytes(b.bytes, createLedgerContext(testGenesis()), { now: NOW }))
    expect(e.addValidated(validated).results.every(x => x.kind === 'inserted')).toBe(true)
    const t = new LedgerEngine(s.ctx)
    t.addMany(s.order.map(b => b.bytes), { now: 0, trusted: true })
    expect(t.stateHash()).toBe(e.stateHash())
    expect(e.addValidated(validated).results[0].kind).toBe('rejected')
  })
})

describe('strangers\' orphans (L39, L15)', () => {
  const unknownId = (n: number): string => forge(ctxOf(), key(900 + n), { time: T0 + 1 }).id

  it('[L39][L15] a flood of fresh keys\' seq-2 blocks after unknown prevs stays in a small pool, unpersisted, and evicts no member\'s orphan', () => {
    const s = base()
    const e = engineOf(s)
    const memberOrphan = forge(s.ctx, key(1), { seq: 2, prev: s.id('a1'), parents: [unknownId(0), s.id('z2')], time: T0 + 400 })
    expect(e.add(memberOrphan.bytes, { now: NOW }).parked.map(p => p.id)).toEqual([memberOrphan.id])
    let persisted = 0
    for (let i = 0; i < 3 * MAX_STRANGER_ORPHANS; i++) {
      const junk = forge(s.ctx, key(500 + i), { seq: 2, prev: unknownId(i + 1), parents: [s.id('z2'), s.id('w2')], time: T0 + 500 })
      persisted += e.add(junk.bytes, { now: NOW }).parked.length
    }
    expect(persisted).toBe(0)
    expect(e.stats().orphans).toBe(MAX_STRANGER_ORPHANS + 1)
    expect(e.isOrphan(memberOrphan.id)).toBe(true)
  })

  it('[L39][L31] a new member\'s block that overtakes its join waits for it and then enters', () => {
    const s = base()
    s.issue('x1', ['z2', 'w2'], [s.join('v1/3')])
    s.issue('x2', ['x1', 'z2'])
    const e = new LedgerEngine(s.ctx)
    addAll(e, s.order.slice(0, -2))
    expect(code(e.add(s.blocks.get('x2')!.bytes, { now: NOW }))).toBe('orphan')
    addAll(e, [s.blocks.get('x1')!])
    expect(e.has(s.id('x2'))).toBe(true)
  })
})
