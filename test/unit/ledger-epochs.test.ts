// Validators join and leave by vote (SPEC L46–L50): epochs decided by the votes in a block's
// past cone, a block judged by every epoch of its span, confirmation the same in any order.
import { describe, expect, it } from 'vitest'
import { LedgerEngine, decodeSnapshot, encodeSnapshot } from '../../src/core/ledger/index.ts'
import type { BatchResult, Tx, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { checkpointBodyOf } from '../../src/core/ledger/checkpoint-engine.ts'
import { allianceScript as base, ctxOf, NOW, prng, Script } from '../fixtures/ledger-helpers.ts'

function addAll (e: LedgerEngine, blocks: readonly ValidatedBlock[]): BatchResult {
  return e.addMany(blocks.map(b => b.bytes), { now: NOW })
}

function code (r: BatchResult): string {
  const x = r.results[0]
  return x.kind === 'rejected' ? x.error.code : x.kind
}

function vote (s: Script, action: 'add' | 'remove', who: string, epoch = 0): Tx {
  const i = s.who(who)
  return { type: 'validator.vote', action, did: i.did, chain: i.chain, epoch }
}

/** v, w and z each vote in turn, the last block's past cone holding all three votes. */
function allVote (s: Script, round: number, tx: Tx): void {
  s.issue(`v${round}`, ['z2', 'w2'], [tx])
  s.issue(`w${round}`, [`v${round}`, 'z2'], [tx])
  s.issue(`z${round}`, [`w${round}`, `v${round}`], [tx])
}

function engineOf (s: Script): LedgerEngine {
  const e = new LedgerEngine(s.ctx)
  addAll(e, s.order)
  return e
}

describe('validator epochs (L46–L50)', () => {
  it('[L46][L47] a quorum of votes in a block\'s past cone adds a validator from that block on', () => {
    const s = base()
    allVote(s, 3, vote(s, 'add', 'a'))
    const e = engineOf(s)
    expect(e.blockInfo(s.id('w3'))?.epoch).toBe(0) // two of three votes: not yet
    expect(e.blockInfo(s.id('z3'))?.epoch).toBe(1)
    expect(e.epoch()).toMatchObject({ n: 1, quorum: 3 })
    expect(e.validators()).toEqual([s.who('v').did, s.who('w').did, s.who('z').did, s.who('a').did])
    expect(e.isValidator(s.who('a').did)).toBe(true)
    expect(e.validatorChanges()).toEqual([{ action: 'add', did: s.who('a').did, chain: 'home', decidedIn: s.id('z3'), epoch: 1 }])
    expect(e.validatorProposals()).toEqual([])
    // a checkpoint cut above the change would lose the blocks that decided it (S17): none is made
    expect(() => checkpointBodyOf(e)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT_EPOCH' }))
  })

  it('[L48] the first block after a change needs both sets; then the new validator\'s approval counts', () => {
    const s = base()
    allVote(s, 3, vote(s, 'add', 'a'))
    s.issue('c2', ['z3', 'w3'], [s.pay('b', 10)]) // prev c1 is of epoch 0: span [0, 1]
    s.issue('a2', ['c2', 'z3'])
    s.issue('v4', ['a2', 'c2'])
    s.issue('w4', ['v4', 'a2'])
    const e = engineOf(s)
    const c2 = e.blockInfo(s.id('c2'))
    expect(c2).toMatchObject({ epoch: 1, weight: 3, quorum: 3, status: 'pending' }) // a, v, w of epoch 1 …
    expect(e.approvers(s.id('c2'))).not.toContain(s.who('z').did) // … but only v, w of epoch 0
    addAll(e, [s.issue('z4', ['w4', 'v4'])])
    expect(e.blockStatus(s.id('c2'))).toBe('confirmed')
    // c3's prev is of epoch 1: a, v and w (3 of 4) confirm it without z
    s.issue('c3', ['z4', 'w4'], [s.pay('b', 5)])
    s.issue('a3', ['c3', 'z4'])
    s.issue('v5', ['a3', 'c3'])
    s.issue('w5', ['v5', 'a3'])
    addAll(e, s.order.slice(-4))
    expect(e.approvers(s.id('c3'))).not.toContain(s.who('z').did)
    expect(e.blockStatus(s.id('c3'))).toBe('confirmed')
    expect(e.balance(s.who('c').did)).toBe(0) // c holds nothing (joining grants nothing): the transfers fail at apply …
    expect(e.txResult(`${s.id('c3')}/0`)).toEqual({ status: 'rejected', reason: 'ERR_OVERSPEND' }) // … their blocks are final
  })

  it('[L46][L48] a removed validator admits no one, yet its approvals still count for blocks of its epochs', () => {
    const s = base()
    allVote(s, 3, vote(s, 'remove', 'z'))
    s.issue('c2', ['z3', 'w3'], [s.pay('a', 1)]) // prev c1 of epoch 0
    s.issue('v4', ['c2', 'z3'])
    s.issue('w4', ['v4', 'c2'])
    const e = engineOf(s)
    expect(e.epoch()).toMatchObject({ n: 1, quorum: 2, validators: [s.who('v').did, s.who('w').did] })
    expect(e.isValidator(s.who('z').did)).toBe(false)
    expect(e.wasValidator(s.who('z').did)).toBe(true)
    expect(e.blockStatus(s.id('c2'))).toBe('pending') // 2 of the 3 of epoch 0
    expect(e.awaitingApproval(s.who('z').did, s.clock)).toEqual([s.id('c2')]) // z is still asked for epoch 0 …
    addAll(e, [s.issue('z4', ['w4', 'v4'])])
    expect(e.blockStatus(s.id('c2'))).toBe('confirmed') // … and its block counts there
    const admit = s.issue('z5', ['z4', 'w4'], [s.admit('d')])
    expect(code(e.add(admit.bytes, { now: NOW }))).toBe('ERR_BAD_TX')
    const c3 = s.issue('c3', ['z4', 'w4'], [s.pay('a', 1)])
    s.issue('v5', ['c3', 'z4'])
    s.issue('w5', ['v5', 'c3'])
    addAll(e, [c3, s.blocks.get('v5') as ValidatedBlock, s.blocks.get('w5') as ValidatedBlock])
    expect(e.blockStatus(s.id('c3'))).toBe('confirmed') // 2 of 2 of epoch 1
  })

  it('[L46] only validators of the block\'s epoch vote; a vote of another epoch or a second vote counts nothing', () => {
    const s = base()
    const e = engineOf(s)
    const byMember = s.issue('a2', ['z2', 'w2'], [vote(s, 'add', 'c')])
    expect(code(e.add(byMember.bytes, { now: NOW }))).toBe('ERR_BAD_TX')
    s.blocks.delete('a2'); s.order.pop()
    const late = vote(s, 'add', 'c', 7)
    addAll(e, [s.issue('v3', ['z2', 'w2'], [late, vote(s, 'add', 'c'), vote(s, 'add', 'c')]), s.issue('v4', ['v3', 'z2'], [vote(s, 'add', 'c')])])
    addAll(e, [s.issue('w3', ['v4', 'z2'], [late])])
    expect(e.epoch().n).toBe(0)
    expect(e.validatorProposals()).toEqual([{ action: 'add', did: s.who('c').did, chain: 'home', voters: [s.who('v').did], quorum: 3, epoch: 0 }])
    // removing until fewer validators than an admission needs is no valid proposal
    const strict = new Script(ctxOf({ admission: 'vote', admitVotes: 3 }))
    strict.issuer('v', 101, 'home'); strict.issuer('w', 102, 'business'); strict.issuer('z', 103, 'operator')
    const gone: Tx = { type: 'validator.vote', action: 'remove', did: strict.who('z').did, chain: 'operator', epoch: 0 }
    strict.issue('v1', ['G', 'G'], [gone]); strict.issue('w1', ['v1', 'G'], [gone]); strict.issue('z1', ['w1', 'v1'], [gone])
    expect(engineOf(strict).epoch().n).toBe(0)
  })

  it('[L47] every arrival order gives the same epochs, statuses and state', () => {
    const s = base()
    allVote(s, 3, vote(s, 'add', 'a'))
    s.issue('c2', ['z3', 'w3'], [s.pay('a', 0 + 1)])
    s.issue('a2', ['c2', 'z3'], [vote(s, 'remove', 'z', 1)])
    s.issue('v4', ['a2', 'c2'], [vote(s, 'remove', 'z', 1)])
    s.issue('w4', ['v4', 'a2'], [vote(s, 'remove', 'z', 1)])
    s.issue('z4', ['w4', 'v4'])
    s.issue('c3', ['z4', 'w4'], [s.pay('b', 1)])
    s.issue('v5', ['c3', 'z4'])
    s.issue('w5', ['v5', 'c3'])
    s.issue('a3', ['w5', 'v5'])
    const reference = engineOf(s)
    expect(reference.epoch().n).toBe(2)
    const view = (e: LedgerEngine): unknown => ({
      statuses: s.order.map(b => [e.blockStatus(b.id), e.blockInfo(b.id)?.epoch]),
      epoch: e.epoch(),
      changes: e.validatorChanges().map(c => [c.action, c.did, c.epoch]),
      hash: e.stateHash()
    })
    const want = view(reference)
    const rand = prng(46)
    for (let round = 0; round < 8; round++) {
      const shuffled = [...s.order].sort(() => rand() - 0.5)
      const e = new LedgerEngine(s.ctx)
      for (const b of shuffled) e.add(b.bytes, { now: NOW })
      expect(view(e), `order ${round}`).toEqual(want)
    }
    const restored = LedgerEngine.restore(s.ctx, decodeSnapshot(encodeSnapshot(reference.snapshot())))
    expect(view(restored)).toEqual(want)
  })
})
