// Checkpoints at agreed cuts (SPEC S18): every peer computes the same body for the cut at a
// grid time, whatever order it got the blocks in and however far past the cut it is; the
// package of that body joins a fresh engine that agrees with the full history; a joined
// (pruned) engine makes the next cut's body the same as a full one does.
import { describe, expect, it } from 'vitest'
import {
  LedgerEngine, checkpointCutAt, createLedgerContext, isCutTime, joinFromCheckpoint, latestCutTime, packageOfCut, signCheckpoint, verifyCheckpointPackage,
  checkpointWeight
} from '../../src/core/ledger/index.ts'
import type { BlockId, CheckpointCut, LedgerContext } from '../../src/core/ledger/index.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { dagGenesis, key, NOW } from '../fixtures/ledger-helpers.ts'

const ISSUERS = 6
const ctx: LedgerContext = createLedgerContext(dagGenesis(210, ISSUERS, 0, { maxParentAgeMs: 5000 }))
const dag = makeDag(ctx, 360, { issuers: ISSUERS, sign: true, keyBase: 210, seed: 11, receive: true })
const bytes = new Map<BlockId, Uint8Array>(dag.map(b => [b.id, b.bytes]))
const G = ctx.genesis.time
const AT = G + 40_000 // blocks are 200 ms apart: the cut holds the first ~200 minus those not yet confirmed
const AT2 = G + 60_000

function engineWith (blocks: readonly Uint8Array[], chunk = blocks.length): LedgerEngine {
  const e = new LedgerEngine(ctx)
  // trusted: the signatures are not what these tests are about (checkpoint-join.test.ts checks them)
  for (let i = 0; i < blocks.length; i += chunk) e.addMany(blocks.slice(i, i + chunk), { now: NOW, trusted: true })
  return e
}

/** A seeded shuffle (the seed is printed by the test name). */
function shuffled<T> (xs: readonly T[], seed: number): T[] {
  const out = [...xs]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const sign = (cut: CheckpointCut, n = ISSUERS): ReturnType<typeof signCheckpoint>[] => Array.from({ length: n }, (_, i) => signCheckpoint(cut.body, key(210 + i).did, key(210 + i).seed))

describe('checkpoint cuts', () => {
  it('[S18] grid times: genesis.time + k × interval, k ≥ 1', () => {
    expect(latestCutTime(G, 10_000, G + 9_999)).toBe(null)
    expect(latestCutTime(G, 10_000, G + 25_000)).toBe(G + 20_000)
    expect(isCutTime(G, 10_000, G + 20_000)).toBe(true)
    expect(isCutTime(G, 10_000, G + 20_001)).toBe(false)
    expect(isCutTime(G, 10_000, G)).toBe(false)
  })

  for (const seed of [1, 2, 3]) {
    it(`[S18] the same body on every peer: arrival order and blocks past the cut change nothing (seed ${seed})`, () => {
      const full = engineWith(dag.map(b => b.bytes))
      const ref = checkpointCutAt(full, AT)
      expect(ref).not.toBeNull()
      // another peer: shuffled arrival in small batches (orphans resolve), and fewer blocks past the cut
      const some = shuffled(dag.slice(0, 300).map(b => b.bytes), seed)
      const other = engineWith(some, 17)
      expect(other.stats().blocks).toBe(300)
      expect(checkpointCutAt(other, AT)?.body).toEqual(ref?.body)
      expect(ref?.body.height).toBeGreaterThan(150)
      expect(ref?.body.height).toBeLessThan(205)
    })
  }

  it('[S18][S15] the package of a cut verifies, joins, and the joined engine agrees with the full history', () => {
    const full = engineWith(dag.map(b => b.bytes))
    const cut = checkpointCutAt(full, AT) as CheckpointCut
    const pkg = packageOfCut(cut, sign(cut, 5), id => bytes.get(id))
    expect(checkpointWeight(pkg.checkpoint)).toBe(5)
    expect(verifyCheckpointPackage(ctx, pkg).state).toBe(cut.body.state)
    const joined = joinFromCheckpoint(ctx, pkg, { now: NOW })
    joined.addMany(dag.map(b => b.bytes), { now: NOW })
    expect(joined.stateHash()).toBe(full.stateHash())
    expect(joined.totalCredits()).toBe(full.totalCredits())
  })

  it('[S18] a joined engine makes the next cut\'s body exactly as a full-history engine does', () => {
    const full = engineWith(dag.map(b => b.bytes))
    const cut = checkpointCutAt(full, AT) as CheckpointCut
    const joined = joinFromCheckpoint(ctx, packageOfCut(cut, sign(cut), id => bytes.get(id)), { now: NOW })
    joined.addMany(dag.map(b => b.bytes), { now: NOW })
    expect(checkpointCutAt(joined, AT - 10_000)).toBeNull() // older than its base
    const next = checkpointCutAt(joined, AT2) as CheckpointCut
    expect(next.body).toEqual(checkpointCutAt(full, AT2)?.body)
    // and that one joins too (an incremental chain of checkpoints)
    const again = joinFromCheckpoint(ctx, packageOfCut(next, sign(next), id => bytes.get(id)), { now: NOW })
    again.addMany(dag.map(b => b.bytes), { now: NOW })
    expect(again.stateHash()).toBe(full.stateHash())
  })
})
