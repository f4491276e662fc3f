// Checkpoints under both state rules (SPEC L52 with S14–S18, issue 10): the same kind of
// ledger (transfers received three rounds later) under v2 and v3. Under v3 the package carries
// only the open claims, the cut at a grid time is computed from the journal (a receive outside
// the cut gives its deleted claim back), a joined engine agrees with a full one, and a claim
// taken below the cut cannot be taken again on the joined engine.
import { describe, expect, it } from 'vitest'
import {
  LedgerEngine, NS, checkpointBodyOf, checkpointCutAt, checkpointPackageOf, createLedgerContext, engineState, joinFromCheckpoint, packageOfCut,
  signCheckpoint, verifyCheckpointPackage
} from '../../src/core/ledger/index.ts'
import type { BlockId, CheckpointPackage, LedgerContext, StateEntries, ValidatedBlock } from '../../src/core/ledger/index.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { dagGenesis, key, NOW } from '../fixtures/ledger-helpers.ts'

const ISSUERS = 6
const KEYS = 230
const COUNT = 300
const CUT = 200

interface Ledger { ctx: LedgerContext, dag: ValidatedBlock[], bytes: Map<BlockId, Uint8Array> }

function ledger (v: 2 | 3): Ledger {
  const ctx = createLedgerContext(dagGenesis(KEYS, ISSUERS, 0, { maxParentAgeMs: 5000, v }))
  const dag = makeDag(ctx, COUNT, { issuers: ISSUERS, sign: true, keyBase: KEYS, seed: 5, receive: true })
  return { ctx, dag, bytes: new Map(dag.map(b => [b.id, b.bytes])) }
}

const L2 = ledger(2)
const L3 = ledger(3)

function engineOf (l: Ledger, n: number): LedgerEngine {
  const e = new LedgerEngine(l.ctx)
  e.addMany(l.dag.slice(0, n).map(b => b.bytes), { now: NOW, trusted: true })
  return e
}

function packageOf (l: Ledger, full: LedgerEngine): CheckpointPackage {
  const body = checkpointBodyOf(full)
  const sigs = Array.from({ length: ISSUERS }, (_, i) => signCheckpoint(body, key(KEYS + i).did, key(KEYS + i).seed))
  return checkpointPackageOf(body, sigs, engineState(full), id => l.bytes.get(id))
}

const count = (entries: StateEntries, ns?: string): number => entries.filter(([n]) => ns == null || n === ns).reduce((sum, [, p]) => sum + p.length, 0)

describe('checkpoints under the state rules (L52)', () => {
  it('[L52][S14][S16] the v3 package carries only open claims and no received markers; a joined engine agrees with a full one', () => {
    const p2 = packageOf(L2, engineOf(L2, CUT))
    const full = engineOf(L3, CUT)
    const p3 = packageOf(L3, full)
    // v2: every claim ever left plus a marker per taken one; v3: the open ones only
    expect(count(p2.state, NS.received)).toBeGreaterThan(50)
    expect(count(p3.state, NS.received)).toBe(0)
    expect(count(p3.state, NS.claim)).toBe(count(p2.state, NS.claim) - count(p2.state, NS.received))
    expect(count(p3.state)).toBeLessThan(count(p2.state) / 2)
    // retention is the same: transfers whose claims are open
    expect(p3.retained.length).toBe(p2.retained.length)
    const joined = joinFromCheckpoint(L3.ctx, p3, { now: NOW })
    expect(joined.stateHash()).toBe(full.stateHash())
    const tail = L3.dag.map(b => b.bytes)
    joined.addMany(tail, { now: NOW })
    full.addMany(L3.dag.slice(CUT).map(b => b.bytes), { now: NOW })
    expect(joined.stateHash()).toBe(full.stateHash())
    expect(joined.totalCredits()).toBe(full.totalCredits())
    expect(joined.stateView.keys(NS.claim)).toEqual(full.stateView.keys(NS.claim))
  })

  it('[L52][S18][P7] the cut at a grid time under v3: the journal gives deleted claims back, the digest matches, a joiner agrees', () => {
    const full = engineOf(L3, COUNT)
    const at = L3.ctx.genesis.time + 40_000
    const cut = checkpointCutAt(full, at)
    expect(cut).not.toBeNull()
    if (cut == null) return
    // claims open at the cut but taken since (their receive is outside the cut) come back from the journal
    const claimsAtCut = cut.stateEntries().find(([ns]) => ns === NS.claim)?.[1].map(([k]) => k) ?? []
    const givenBack = claimsAtCut.filter(k => !full.stateView.has(NS.claim, k))
    expect(givenBack.length).toBeGreaterThan(0)
    expect(cut.stateEntries().some(([ns]) => ns === NS.received)).toBe(false)
    // S15 checks the entries against the signed LtHash digest (P7)
    const sigs = Array.from({ length: ISSUERS }, (_, i) => signCheckpoint(cut.body, key(KEYS + i).did, key(KEYS + i).seed))
    const pkg = packageOfCut(cut, sigs, id => L3.bytes.get(id))
    expect(() => verifyCheckpointPackage(L3.ctx, pkg)).not.toThrow()
    const joined = joinFromCheckpoint(L3.ctx, pkg, { now: NOW })
    joined.addMany(L3.dag.map(b => b.bytes), { now: NOW, trusted: true })
    expect(joined.stateHash()).toBe(full.stateHash())
  })

  it('[L52][S16] on a v3 engine joined from a checkpoint, a claim taken below the cut cannot be taken again', () => {
    const full = engineOf(L3, CUT)
    const pkg = packageOf(L3, full)
    const joined = joinFromCheckpoint(L3.ctx, pkg, { now: NOW })
    // a receive below the cut, as a serving peer might send it again: known (ERR_DUPLICATE), nothing applies
    const receives = L3.dag.slice(0, CUT).filter(b => full.blockStatus(b.id) === 'confirmed' && b.block.txs.some(t => t.type === 'receive'))
    expect(receives.length).toBeGreaterThan(10)
    const before = joined.stateHash()
    const r = joined.addMany(receives.map(b => b.bytes), { now: NOW })
    expect(new Set(r.results.map(x => (x.kind === 'rejected' ? x.error.code : x.kind)))).toEqual(new Set(['ERR_DUPLICATE']))
    expect(joined.stateHash()).toBe(before)
  })
})
