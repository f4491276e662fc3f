// Join from a signed checkpoint (SPEC S14–S17, issue 10): a fresh engine trusts a checkpoint
// only with more than two thirds of the validator set's signatures and a state that hashes
// to the signed digest; once joined it validates new blocks and agrees with a full peer.
import { describe, expect, it } from 'vitest'
import {
  LedgerEngine, CheckpointErrorCode, checkpointBodyOf, checkpointPackageOf, createLedgerContext, engineState, joinFromCheckpoint,
  signCheckpoint, verifyCheckpointPackage, verifyEpochChain, decodeCheckpointPackage, encodeCheckpointPackage
} from '../../src/core/ledger/index.ts'
import type { BlockId, CheckpointPackage, LedgerContext } from '../../src/core/ledger/index.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { dagGenesis, forge, key, NOW, testGenesis } from '../fixtures/ledger-helpers.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { openFromCheckpoint, persistBatch } from '../../src/store/ledger-loader.ts'

const ISSUERS = 6
const ctx: LedgerContext = createLedgerContext(dagGenesis(200, ISSUERS, 0, { maxParentAgeMs: 5000 }))
const dag = makeDag(ctx, 320, { issuers: ISSUERS, sign: true, keyBase: 200, seed: 7 })
const CUT_AT = 220

function fullEngine (n: number): LedgerEngine {
  const e = new LedgerEngine(ctx)
  e.addMany(dag.slice(0, n).map(b => b.bytes), { now: NOW })
  return e
}

/** The checkpoint of the first CUT_AT blocks, signed by the validators numbered in `signers`. */
function checkpointOf (signers: readonly number[]): { pkg: CheckpointPackage, full: LedgerEngine } {
  const full = fullEngine(CUT_AT)
  const body = checkpointBodyOf(full)
  const bytes = new Map<BlockId, Uint8Array>(dag.map(b => [b.id, b.bytes]))
  const sigs = signers.map(i => signCheckpoint(body, key(200 + i).did, key(200 + i).seed))
  return { pkg: checkpointPackageOf(body, sigs, engineState(full), id => bytes.get(id)), full }
}

const codeOf = (f: () => unknown): string | undefined => {
  try { f() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('checkpoint join', () => {
  it('[S15] is refused when signed by too little of the validator weight (4 of 6; quorum 5)', () => {
    const { pkg } = checkpointOf([0, 1, 2, 3])
    expect(codeOf(() => joinFromCheckpoint(ctx, pkg, { now: NOW }))).toBe(CheckpointErrorCode.WEIGHT)
    // a repeated signature, or one by a non-validator, adds nothing
    const stranger = key(999)
    const padded = { ...pkg, checkpoint: { ...pkg.checkpoint, sigs: [...pkg.checkpoint.sigs, pkg.checkpoint.sigs[0], signCheckpoint(pkg.checkpoint.body, stranger.did, stranger.seed)] } }
    expect(codeOf(() => verifyCheckpointPackage(ctx, padded))).toBe(CheckpointErrorCode.WEIGHT)
    // a signature over another body does not count for this one
    const other = { ...pkg.checkpoint.body, height: pkg.checkpoint.body.height + 1 }
    const forged = { ...pkg, checkpoint: { ...pkg.checkpoint, sigs: [...pkg.checkpoint.sigs, signCheckpoint(other, key(204).did, key(204).seed)] } }
    expect(codeOf(() => verifyCheckpointPackage(ctx, forged))).toBe(CheckpointErrorCode.WEIGHT)
  })

  it('[S15] is refused when the state does not hash to the signed digest', () => {
    const { pkg } = checkpointOf([0, 1, 2, 3, 4, 5])
    const state = pkg.state.map(([ns, pairs]) => [ns, ns === 'balance' ? pairs.map(([k, v], i) => [k, i === 0 ? (v as number) + 1 : v]) : pairs]) as typeof pkg.state
    expect(codeOf(() => joinFromCheckpoint(ctx, { ...pkg, state }, { now: NOW }))).toBe(CheckpointErrorCode.STATE)
    // dropping an entry, or a retained block, is caught as well
    const fewer = pkg.state.map(([ns, pairs]) => [ns, ns === 'claim' ? pairs.slice(1) : pairs]) as typeof pkg.state
    expect(codeOf(() => verifyCheckpointPackage(ctx, { ...pkg, state: fewer }))).toBe(CheckpointErrorCode.STATE)
    expect(codeOf(() => verifyCheckpointPackage(ctx, { ...pkg, retained: pkg.retained.slice(1) }))).toBe(CheckpointErrorCode.STATE)
  })

  it('[S15][S16] is accepted at quorum; the joined engine validates the tail and agrees on the state hash with a full-history peer', () => {
    const { pkg, full } = checkpointOf([1, 2, 3, 4, 5])
    const wire = decodeCheckpointPackage(encodeCheckpointPackage(pkg))
    const joined = joinFromCheckpoint(ctx, wire, { now: NOW })
    expect(joined.stateHash()).toBe(full.stateHash())
    // it keeps only part of the cut: the heads, recent blocks and open objects (S16)
    expect(pkg.retained.length).toBeLessThan(pkg.checkpoint.body.height)
    expect(joined.stats().blocks).toBe(pkg.retained.length)
    // the tail (and, harmlessly, the history below the cut) from a serving peer, in its storage order
    const r = joined.addMany(dag.map(b => b.bytes), { now: NOW })
    const codes = new Set(r.results.filter(x => x.kind === 'rejected').map(x => x.kind === 'rejected' ? x.error.code : ''))
    expect([...codes]).toEqual(['ERR_DUPLICATE'])
    expect(r.parked).toEqual([])
    full.addMany(dag.slice(CUT_AT).map(b => b.bytes), { now: NOW })
    expect(joined.stateHash()).toBe(full.stateHash())
    expect(joined.stats().confirmed - pkg.retained.length).toBe(full.stats().confirmed - CUT_AT + (CUT_AT - pkg.checkpoint.body.height))
    expect(joined.totalCredits()).toBe(full.totalCredits())
    // the same live tips; an old retained block whose children were left below the cut looks
    // like a tip, but is past max depth, so tip selection never picks it (L34, L41)
    const newest = Math.max(...dag.map(b => b.block.time))
    const live = (ids: readonly string[]): string[] => ids.filter(id => (joined.blockInfo(id)?.time ?? 0) > newest - ctx.genesis.maxParentAgeMs)
    expect(live(joined.tips())).toEqual(full.tips())
    expect(joined.selectTips(() => 0.5, { now: newest })).toEqual(full.selectTips(() => 0.5, { now: newest }))
  })

  it('[S17] the epoch chain: epoch 0 is the genesis set; a change needs a quorum of the previous set', () => {
    const c = createLedgerContext(testGenesis())
    const founders = c.genesis.founders.map(f => f.did).sort()
    expect(verifyEpochChain(c, 0, [])).toEqual(founders)
    const newcomer = key(150).did
    const vote = (n: number, epoch = 0): Uint8Array => forge(c, key(n), { chain: c.genesis.founders.find(f => f.did === key(n).did)?.chain ?? 'home', txs: [{ type: 'validator.vote', action: 'add', did: newcomer, epoch }] }, { skipPow: true }).bytes
    // q(3) = 3: two votes, or a stranger's third, do not move the set
    expect(codeOf(() => verifyEpochChain(c, 1, [vote(101), vote(102)]))).toBe(CheckpointErrorCode.EPOCH)
    expect(codeOf(() => verifyEpochChain(c, 1, [vote(101), vote(102), vote(150)]))).toBe(CheckpointErrorCode.EPOCH)
    // votes for another epoch do not count for this one
    expect(codeOf(() => verifyEpochChain(c, 1, [vote(101), vote(102), vote(103, 1)]))).toBe(CheckpointErrorCode.EPOCH)
    expect(verifyEpochChain(c, 1, [vote(101), vote(102), vote(103)])).toEqual([...founders, newcomer].sort())
    // a proof whose signature does not hold is refused
    const bad = vote(103)
    bad[bad.length - 1] ^= 1
    expect(codeOf(() => verifyEpochChain(c, 1, [vote(101), vote(102), bad]))).toBe(CheckpointErrorCode.EPOCH)
  })

  it('[S16] a pruned peer (checkpoint + stored tail in memory, history on disk) validates new blocks and serves the tail', async () => {
    const { pkg, full } = checkpointOf([0, 1, 2, 3, 4])
    const store = createMemoryLedgerStore()
    await store.putBlocks(dag.slice(0, CUT_AT).map(b => ({ id: b.id, bytes: b.bytes })))
    const tailFrom = dag.findIndex(b => full.blockStatus(b.id) !== 'confirmed')
    const { engine: pruned } = await openFromCheckpoint(store, ctx, pkg, { now: NOW, tailFrom })
    expect(pruned.stateHash()).toBe(full.stateHash())
    expect(pruned.stats().blocks).toBeLessThan(full.stats().blocks)
    // new blocks: validated in full (signatures too) and stored
    const r = pruned.addMany(dag.slice(CUT_AT).map(b => b.bytes), { now: NOW })
    expect(r.results.every(x => x.kind === 'inserted')).toBe(true)
    await persistBatch(store, r)
    full.addMany(dag.slice(CUT_AT).map(b => b.bytes), { now: NOW })
    expect(pruned.stateHash()).toBe(full.stateHash())
    // it serves the tail (and the history it keeps on disk) as S11 range reads: another peer
    // joining from the same checkpoint with what it serves agrees as well
    const ids = await store.blockIdsFrom(tailFrom, 2000)
    const served = (await store.getBlocksBytes(ids)).filter((b): b is Uint8Array => b != null)
    expect(served.length).toBe(dag.length - tailFrom)
    const other = joinFromCheckpoint(ctx, pkg, { now: NOW })
    other.addMany(served, { now: NOW })
    expect(other.stateHash()).toBe(full.stateHash())
  })
})
