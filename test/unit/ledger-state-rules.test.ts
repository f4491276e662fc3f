// State-rules versions (SPEC L52, issue 10): the genesis `v` names them. The same payments run
// under v2 (closed claims and escrows stay, marked) and v3 (they leave the state); v2 alliances
// keep their ids and replay as before, v3 forgets what can never be named again, and every
// reader (unreceived claims, conservation, open deposits, checkpoint retention, tx outcomes)
// answers the same under both.
import { describe, expect, it } from 'vitest'
import {
  LedgerEngine, LedgerState, NS, claimOf, createLedgerContext, decodeSnapshot, encodeSnapshot, escrowOf, forgetsClosed, foundGenesis, genesisId, STATE_RULES_NEW,
  isRetained, parseGenesis, receive
} from '../../src/core/ledger/index.ts'
import type { BlockId, LedgerContext, StateReader, Tx, TxApplyContext, TxId, UndoEntry } from '../../src/core/ledger/index.ts'
import { sessionDeposits } from '../../src/core/market/deposits.ts'
import { allianceScript, ctxOf, key, NOW, prng, Script, T0, testGenesis } from '../fixtures/ledger-helpers.ts'

/** The three validators each issue a block on the newest two, `rounds` times, from `tips`. */
function confirm (s: Script, round: number, tips: readonly [string, string]): void {
  let last: [string, string] = [tips[0], tips[1]]
  for (const name of ['v', 'w', 'z']) {
    const label = `${name}${round}`
    s.issue(label, last)
    last = [label, last[0]]
  }
}

function engineOf (s: Script, order: readonly { bytes: Uint8Array }[] = s.order): LedgerEngine {
  const e = new LedgerEngine(s.ctx)
  e.addMany(order.map(b => b.bytes), { now: NOW })
  return e
}

/**
 * v pays a 100 and b 50; a receives (and tries again, in the same block and a later one), b
 * receives and pays c, c receives; v locks a deposit for w that it refunds after the deadline.
 */
function payments (ctx: LedgerContext): Script {
  const s = allianceScript(ctx)
  s.issue('v3', ['z2', 'w2'], [
    { type: 'transfer', to: s.who('a').did, amount: 100, toChain: 'home' },
    { type: 'transfer', to: s.who('b').did, amount: 50, toChain: 'business' },
    { type: 'deposit.lock', provider: s.who('w').did, amount: 40, deadline: T0 + 20, ref: 'x' }
  ])
  confirm(s, 4, ['v3', 'z2'])
  s.issue('a2', ['z4', 'w4'], [s.receive('v3/0'), s.receive('v3/0')])
  s.issue('b2', ['a2', 'z4'], [s.receive('v3/1'), s.pay('c', 20)])
  confirm(s, 5, ['b2', 'a2'])
  s.issue('c2', ['z5', 'w5'], [s.receive('b2/1')])
  s.issue('a3', ['c2', 'z5'], [s.receive('v3/0')]) // a later block naming a taken claim
  s.clock = T0 + 100 // after the deposit's deadline
  s.issue('v6', ['a3', 'c2'], [{ type: 'deposit.refund', deposit: s.tx('v3/2') }])
  confirm(s, 7, ['v6', 'a3'])
  confirm(s, 8, ['z7', 'w7'])
  return s
}

const v2 = (): LedgerContext => ctxOf()
const v3 = (): LedgerContext => ctxOf({ v: 3 })

describe('state-rules versions (L52)', () => {
  it('[L52][L1][L2] the genesis v names the rules and is part of the alliance id; new alliances get v2 unless they ask for v3, v2 ones keep their id', () => {
    const g2 = testGenesis()
    const g3 = testGenesis({ v: 3 })
    expect(parseGenesis(g2).v).toBe(2)
    expect(parseGenesis(g3).v).toBe(3)
    expect(forgetsClosed(g2)).toBe(false)
    expect(forgetsClosed(g3)).toBe(true)
    expect(genesisId(g3)).not.toBe(genesisId(g2))
    expect(() => parseGenesis({ ...g2, v: 4 })).toThrow(/genesis.v/)
    const founded = foundGenesis({ name: 'n', chains: ['home'], founders: [{ did: key(1).did, chain: 'home' }], time: T0 })
    expect(founded.v).toBe(STATE_RULES_NEW)
    expect(STATE_RULES_NEW).toBe(2)
    const opted = foundGenesis({ name: 'n', chains: ['home'], founders: [{ did: key(1).did, chain: 'home' }], time: T0, stateRules: 3 })
    expect(opted.v).toBe(3)
    expect(forgetsClosed(opted)).toBe(true)
  })

  it('[L52][L28][L45] the same blocks: v2 keeps taken claims and the closed escrow, v3 forgets them; balances, statuses and conservation agree', () => {
    const so = payments(v2())
    const old = engineOf(so)
    const s = payments(v3())
    const e = engineOf(s)
    for (const eng of [old, e]) {
      expect(eng.balance(s.who('a').did)).toBe(100)
      expect(eng.balance(s.who('b').did)).toBe(30)
      expect(eng.balance(s.who('c').did)).toBe(20)
      expect(eng.balance(s.who('v').did)).toBe(850)
      expect(eng.totalCredits()).toBe(3000)
      expect(eng.claimsFor(s.who('a').did)).toEqual([])
    }
    const keysOf = (eng: LedgerEngine, ns: string): string[] => eng.stateView.keys(ns)
    // v2: three claims marked received, the escrow closed by the refund
    expect(keysOf(old, NS.claim)).toHaveLength(3)
    expect(keysOf(old, NS.received)).toHaveLength(3)
    expect(escrowOf(old.stateView, so.tx('v3/2'))?.closedBy).toBe(so.tx('v6/0'))
    // v3: nothing of them is left
    expect(keysOf(e, NS.claim)).toEqual([])
    expect(keysOf(e, NS.received)).toEqual([])
    expect(keysOf(e, NS.escrow)).toEqual([])
    // the outcomes read the same: the transfers and receives confirmed, the repeats rejected
    for (const [eng, sc] of [[old, so], [e, s]] as const) {
      for (const t of ['v3/0', 'v3/1', 'v3/2', 'a2/0', 'b2/0', 'b2/1', 'c2/0', 'v6/0']) expect([t, eng.status(sc.tx(t))]).toEqual([t, 'confirmed'])
      expect(eng.txResult(sc.tx('a2/1'))).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
      expect(eng.txResult(sc.tx('a3/0'))).toEqual({ status: 'rejected', reason: 'ERR_BAD_TX' })
    }
  })

  it('[L52] a receive of a deleted claim is rejected and credits nothing, however it is replayed; a refund of a deleted escrow too', () => {
    const s = payments(v3())
    // a second refund of the closed deposit, in a later block of the payer (no conflict: the first is confirmed)
    s.issue('v9', ['z8', 'w8'], [{ type: 'deposit.refund', deposit: s.tx('v3/2') }, s.receive('v3/1')])
    confirm(s, 10, ['v9', 'z8'])
    confirm(s, 11, ['z10', 'w10'])
    const e = engineOf(s)
    expect(e.blockStatus(s.id('v9'))).toBe('confirmed')
    expect(e.status(s.tx('v9/0'))).toBe('rejected')
    expect(e.status(s.tx('v9/1'))).toBe('rejected') // b's claim, and already taken
    expect(e.balance(s.who('v').did)).toBe(850)
    expect(e.totalCredits()).toBe(3000)
    // the same block again is a duplicate: nothing applies twice
    const again = e.addMany([s.order[s.order.length - 1].bytes], { now: NOW })
    expect(again.results[0].kind === 'rejected' ? again.results[0].error.code : again.results[0].kind).toBe('ERR_DUPLICATE')
    expect(e.balance(s.who('a').did)).toBe(100)
  })

  it('[L52][L31] v3 state hashes agree in any delivery order, and across a snapshot and restore', () => {
    const s = payments(v3())
    const want = engineOf(s)
    const rand = prng(11)
    for (let k = 0; k < 6; k++) {
      const shuffled = [...s.order].sort(() => rand() - 0.5)
      const e = new LedgerEngine(s.ctx)
      for (const b of shuffled) e.add(b.bytes, { now: NOW })
      expect(e.stateHash()).toBe(want.stateHash())
      expect(e.stateView.keys(NS.claim)).toEqual([])
    }
    const restored = LedgerEngine.restore(s.ctx, decodeSnapshot(encodeSnapshot(want.snapshot())))
    expect(restored.stateHash()).toBe(want.stateHash())
  })

  it('[L52] undo restores a claim a receive deleted, and the incremental commitment with it (P7)', () => {
    const g = testGenesis({ v: 3 })
    const state = new LedgerState()
    const a = key(1).did
    state.set(NS.member, a, { chain: 'home', since: 'genesis' })
    state.set(NS.claim, 'b/0', { from: key(2).did, to: a, toChain: 'home', amount: 7, kind: 'transfer' })
    const before = state.digest()
    const hash = state.hash()
    const log: UndoEntry[] = []
    state.record(log)
    const ctx: TxApplyContext = { genesis: g, issuer: a, chain: 'home', blockId: 'r' as BlockId, txId: 'r/0' as TxId, index: 0, time: T0, lookup: () => undefined }
    receive.apply(state, { type: 'receive', claims: ['b/0'] } as unknown as Parameters<typeof receive.apply>[1], ctx)
    state.stopRecording()
    expect(state.has(NS.claim, 'b/0')).toBe(false)
    expect(state.has(NS.received, 'b/0')).toBe(false)
    expect(state.get(NS.balance, a)).toBe(7)
    expect(state.digest()).not.toBe(before)
    state.undo(log)
    expect(claimOf(state, 'b/0')?.amount).toBe(7)
    expect(state.has(NS.balance, a)).toBe(false)
    expect(state.digest()).toBe(before)
    expect(state.hash()).toBe(hash)
  })

  it('[L52][S16][L30] readers answer alike under both: retention, unreceived claims, open deposits', () => {
    const v2State = new LedgerState()
    const v3State = new LedgerState()
    const transfer: Tx = { type: 'transfer', to: key(1).did, amount: 5, toChain: 'home' }
    const lock: Tx = { type: 'deposit.lock', provider: key(2).did, amount: 5, deadline: T0 + 10, ref: 's' }
    const claim = { from: key(3).did, to: key(1).did, toChain: 'home', amount: 5, kind: 'transfer' }
    const escrow = { payer: key(3).did, provider: key(2).did, amount: 5, deadline: T0 + 10, ref: 's', closedBy: null }
    for (const st of [v2State, v3State]) { st.set(NS.claim, 't/0', claim); st.set(NS.escrow, 'l/0', escrow) }
    const reads = (st: StateReader): unknown[] => [
      isRetained(transfer, 't/0', st), isRetained(lock, 'l/0', st),
      sessionDeposits(st, { session: 's', payer: key(3).did as never, provider: key(2).did as never }).length
    ]
    expect(reads(v2State)).toEqual([true, true, 1])
    expect(reads(v3State)).toEqual([true, true, 1])
    // closed: v2 marks, v3 deletes
    v2State.set(NS.received, 't/0', 'r/0'); v2State.set(NS.escrow, 'l/0', { ...escrow, closedBy: 'f/0' })
    v3State.delete(NS.claim, 't/0'); v3State.delete(NS.escrow, 'l/0')
    expect(reads(v2State)).toEqual([false, false, 0])
    expect(reads(v3State)).toEqual([false, false, 0])
  })

  it('[L52] a v2 alliance is unchanged: its founded-before id and state hash are those of the same genesis before L52', () => {
    // the v2 genesis encodes as before (the alliance id is its CID: a stored ledger still opens)
    const ctx = createLedgerContext(testGenesis())
    expect(ctx.genesis.v).toBe(2)
    expect(ctx.allianceId).toBe(genesisId(testGenesis()))
    const e = engineOf(payments(ctx))
    expect(e.stateView.keys(NS.received)).toHaveLength(3)
  })
})
