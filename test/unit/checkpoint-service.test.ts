// Checkpoints as a running peer's feature (SPEC S19–S22), several ledger services in one
// process over an in-memory mesh: validators sign the cut as a duty and every peer stores the
// package once signatures pass the quorum; peers prune to it (memory holds checkpoint + tail,
// start-up reads only that); a fresh peer joins from a served package and syncs only the
// tail; a package signed by too little weight or with a state that does not hash to the
// signed digest is refused and counted against its sender, and the peer syncs in full.
import { afterEach, describe, expect, it } from 'vitest'
import {
  LedgerEngine, checkpointCutAt, createLedgerContext, encodeCheckpointPackage, packageOfCut, signCheckpoint
} from '../../src/core/ledger/index.ts'
import type { BlockId, CheckpointPackage, LedgerContext } from '../../src/core/ledger/index.ts'
import { peerIdStringFromDid } from '../../src/core/identity.ts'
import { toHex } from '../../src/core/bytes.ts'
import { sha256 } from '../../src/core/codec.ts'
import { checkpointSigningBytes } from '../../src/core/ledger/checkpoint.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import { inThreadMiner } from '../../src/peer/miner.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import type { MemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { MemoryCheckpointStore } from '../../src/store/checkpoints.ts'
import { persistBatch } from '../../src/store/ledger-loader.ts'
import { makeDag } from '../bench/ledger-kernel.ts'
import { dagGenesis, key } from '../fixtures/ledger-helpers.ts'
import { FakeLedgerMesh } from '../fixtures/fake-ledger-net.ts'

const BASE = 230
const ISSUERS = 4
const ctx: LedgerContext = createLedgerContext(dagGenesis(BASE, ISSUERS, 0, { maxParentAgeMs: 5000 }))
const dag = makeDag(ctx, 240, { issuers: ISSUERS, sign: true, keyBase: BASE, seed: 5, receive: true })
const bytesOf = new Map<BlockId, Uint8Array>(dag.map(b => [b.id, b.bytes]))
// an hour: the newest ripe grid time stays the same while the test runs (peers follow only the newest, S21)
const INTERVAL = 3_600_000
const full = new LedgerEngine(ctx)
full.addMany(dag.map(b => b.bytes), { now: Date.now(), trusted: true })

const running: LedgerService[] = []
afterEach(async () => { await Promise.allSettled(running.splice(0).map(async s => { await s.stop() })) })

async function filledStore (): Promise<MemoryLedgerStore> {
  const store = createMemoryLedgerStore()
  const e = new LedgerEngine(ctx)
  await persistBatch(store, e.addMany(dag.map(b => b.bytes), { now: Date.now(), trusted: true }))
  return store
}

async function peer (mesh: FakeLedgerMesh, n: number, store: MemoryLedgerStore, checkpoints = new MemoryCheckpointStore(ctx.allianceId), start = true, diskHorizon?: number): Promise<{ ledger: LedgerService, store: MemoryLedgerStore, checkpoints: MemoryCheckpointStore, did: ReturnType<typeof key>['did'] }> {
  const k = key(n)
  const ledger = await LedgerService.open({
    ctx, store, did: k.did, seed: () => k.seed, miner: inThreadMiner, checkpoints, ...(diskHorizon != null ? { diskHorizon } : {}),
    checkpointIntervalMs: INTERVAL, checkpointRipeMs: 0, checkpointMinBlocks: 100, witnessIntervalMs: 3_600_000, syncIntervalMs: 3_600_000
  })
  running.push(ledger)
  if (start) await ledger.start(mesh.netFor(k.did))
  return { ledger, store, checkpoints, did: k.did }
}

async function until (what: string, f: () => boolean | Promise<boolean>, ms = 25_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** A package of the full engine's newest cut signed by `signers` (indices of the validators), optionally tampered. */
function servedPackage (signers: readonly number[], tamper?: (p: CheckpointPackage) => CheckpointPackage): { bytes: Uint8Array, at: number, body: string, height: number, tailFrom: number } {
  const at = ctx.genesis.time + Math.floor((Date.now() - ctx.genesis.time) / INTERVAL) * INTERVAL
  const cut = checkpointCutAt(full, at)
  if (cut == null) throw new Error('no cut')
  let pkg = packageOfCut(cut, signers.map(i => signCheckpoint(cut.body, key(BASE + i).did, key(BASE + i).seed)), id => bytesOf.get(id))
  if (tamper != null) pkg = tamper(pkg)
  const tailFrom = dag.findIndex(b => !cut.members.has(b.id))
  return { bytes: encodeCheckpointPackage(pkg), at, body: toHex(sha256(checkpointSigningBytes(cut.body))), height: cut.body.height, tailFrom: tailFrom < 0 ? dag.length : tailFrom }
}

describe('checkpoint service', () => {
  it('[S21][S19][S22] validators sign the cut as a duty; every peer stores the package at quorum and prunes to it; a restart reads checkpoint + tail', async () => {
    const mesh = new FakeLedgerMesh()
    // three of four validators online: the quorum of 4 is 3
    const peers: Array<Awaited<ReturnType<typeof peer>>> = []
    for (let i = 0; i < 3; i++) peers.push(await peer(mesh, BASE + i, await filledStore()))
    await until('every peer holds a package', async () => (await Promise.all(peers.map(async p => await p.checkpoints.newestMeta()))).every(m => m != null))
    const metas = await Promise.all(peers.map(async p => await p.checkpoints.newestMeta()))
    expect(new Set(metas.map(m => m?.body)).size).toBe(1)
    await until('every peer pruned', () => peers.every(p => p.ledger.engine.stats().blocks < full.stats().blocks))
    for (const p of peers) {
      expect(p.ledger.stats().stateHash).toBe(full.stateHash())
      expect(p.ledger.engine.stats().blocks).toBeLessThan(full.stats().blocks / 2)
    }
    expect(mesh.reports).toEqual([])
    // a restart opens from the package plus the stored tail, not the history
    const first = peers[0]
    await first.ledger.stop()
    const again = await peer(mesh, BASE, first.store, first.checkpoints, false)
    expect(again.ledger.engine.stats().blocks).toBe(first.ledger.engine.stats().blocks)
    expect(again.ledger.stats().stateHash).toBe(full.stateHash())
  })

  it('[S40] with a horizon of 0 the store forgets history below the package tail; the peer reopens from package + tail, serves the tail to a fresh peer and takes new blocks', async () => {
    const mesh = new FakeLedgerMesh()
    const peers: Array<Awaited<ReturnType<typeof peer>>> = []
    for (let i = 0; i < 3; i++) peers.push(await peer(mesh, BASE + i, await filledStore(), undefined, true, 0))
    await until('every peer pruned its store', async () => (await Promise.all(peers.map(async p => await p.store.firstPosition()))).every(f => f > 0))
    for (const p of peers) {
      const meta = await p.checkpoints.newestMeta()
      const first = await p.store.firstPosition()
      expect(meta).toBeDefined()
      expect(first).toBeLessThanOrEqual(meta?.tailFrom ?? 0)
      expect(await p.store.blockCount()).toBeGreaterThanOrEqual(dag.length) // the count goes on (their own blocks too)
      expect(await p.store.hasBlock(dag[0].id)).toBe(false)
      expect(p.ledger.stats().stateHash).toBe(full.stateHash())
    }
    // a restart opens from the package and what is left on disk
    const first = peers[0]
    await first.ledger.stop()
    const again = await peer(mesh, BASE, first.store, first.checkpoints, true, 0)
    expect(again.ledger.stats().stateHash).toBe(full.stateHash())
    // a fresh peer joins from it: package, then the tail from the first held position on
    const fresh = await peer(mesh, 250, createMemoryLedgerStore())
    mesh.link(again.did, fresh.did)
    await until('the fresh peer has the tail', () => fresh.ledger.stats().stateHash === full.stateHash() && fresh.ledger.engine.has(dag[dag.length - 1].id))
    expect(Object.keys(fresh.ledger.stats().rejectedInputs)).toEqual([])
    // the pruned peers still validate and take new blocks
    for (const p of peers.slice(1)) mesh.link(again.did, p.did)
    const id = await peers[1].ledger.submit([])
    await until('the new block reached the reopened peer', () => again.ledger.engine.has(id))
    expect(mesh.reports).toEqual([])
  })

  it('[S40] a pruned store whose packages no longer open is refused typed (ERR_STORE_PRUNED), never rebuilt from the blocks left', async () => {
    const store = await filledStore()
    await store.pruneBelow(100)
    const checkpoints = new MemoryCheckpointStore(ctx.allianceId)
    const served = servedPackage([0, 1, 2])
    // a package that no longer verifies (a damaged signature set: too little weight)
    const weak = servedPackage([0])
    await checkpoints.put({ meta: { alliance: ctx.allianceId, at: served.at, height: weak.height, time: 0, state: 'ab'.repeat(32), body: weak.body, tailFrom: weak.tailFrom, bytes: weak.bytes.byteLength }, bytes: weak.bytes })
    await expect(peer(new FakeLedgerMesh(), BASE, store, checkpoints, false)).rejects.toMatchObject({ code: 'ERR_STORE_PRUNED' })
    // with an older package that still opens, start-up falls back to it
    await checkpoints.put({ meta: { alliance: ctx.allianceId, at: served.at - INTERVAL, height: served.height, time: 0, state: 'ab'.repeat(32), body: served.body, tailFrom: served.tailFrom, bytes: served.bytes.byteLength }, bytes: served.bytes })
    expect((await checkpoints.list()).length).toBe(2)
    const opened = await peer(new FakeLedgerMesh(), BASE, store, checkpoints, false)
    expect(opened.ledger.stats().stateHash).toBe(full.stateHash())
  })

  it('[S20][S22] a fresh peer joins from a served package, syncs only the tail, agrees on the state hash; the pruned server still serves the tail', async () => {
    const mesh = new FakeLedgerMesh()
    const served = servedPackage([0, 1, 2])
    const server = await peer(mesh, BASE, await filledStore(), undefined, false)
    await server.checkpoints.put({ meta: { alliance: ctx.allianceId, at: served.at, height: served.height, time: 0, state: 'ab'.repeat(32), body: served.body, tailFrom: served.tailFrom, bytes: served.bytes.byteLength }, bytes: served.bytes })
    await server.ledger.stop()
    // reopened: the server itself starts pruned from that package (S22)
    const pruned = await peer(mesh, BASE, server.store, server.checkpoints)
    expect(pruned.ledger.engine.stats().blocks).toBeLessThan(full.stats().blocks / 2)
    const fresh = await peer(mesh, 250, createMemoryLedgerStore())
    mesh.link(pruned.did, fresh.did)
    await until('the fresh peer has the tail', () => fresh.ledger.stats().stateHash === full.stateHash() && fresh.ledger.engine.has(dag[dag.length - 1].id))
    expect(await fresh.checkpoints.newestMeta()).toMatchObject({ body: served.body })
    // only the tail was asked for and stored (blocks of it below the cut are known: not stored), not the 240 blocks
    expect(await fresh.store.blockCount()).toBeLessThanOrEqual(dag.length - served.tailFrom)
    expect(served.tailFrom).toBeGreaterThan(dag.length * 0.9)
    expect(Object.keys(fresh.ledger.stats().rejectedInputs)).toEqual([])
    expect(mesh.reports).toEqual([])
  })

  for (const [name, signers, tamper, code] of [
    ['signed by too little weight (2 of 4; quorum 3)', [0, 1], undefined, 'ERR_CHECKPOINT_WEIGHT'],
    ['whose state does not hash to the signed digest', [0, 1, 2, 3], (p: CheckpointPackage) => ({ ...p, state: p.state.map(([ns, pairs]) => [ns, ns === 'balance' ? pairs.map(([k, v], i) => [k, i === 0 ? (v as number) + 5 : v]) : pairs]) as typeof p.state }), 'ERR_CHECKPOINT_STATE']
  ] as const) {
    it(`[S20] a package ${name} is refused, counted against the server (${code}); the peer syncs in full instead`, async () => {
      const mesh = new FakeLedgerMesh()
      const served = servedPackage(signers, tamper)
      const server = await peer(mesh, BASE, await filledStore(), undefined, false)
      await server.checkpoints.put({ meta: { alliance: ctx.allianceId, at: served.at, height: served.height, time: 0, state: 'ab'.repeat(32), body: served.body, tailFrom: served.tailFrom, bytes: served.bytes.byteLength }, bytes: served.bytes })
      // served as is: not pruned to it (a peer never prunes to a package it did not check: this one stands in for a liar)
      await server.ledger.start(mesh.netFor(server.did))
      const fresh = await peer(mesh, 251, createMemoryLedgerStore())
      mesh.link(server.did, fresh.did)
      await until('the fresh peer synced in full', () => dag.every(b => fresh.ledger.engine.has(b.id)))
      expect(mesh.reports).toContainEqual({ by: fresh.did, peerId: peerIdStringFromDid(server.did), code })
      expect(await fresh.checkpoints.newestMeta()).toBeUndefined()
    })
  }
})
