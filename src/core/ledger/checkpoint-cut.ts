/**
 * Checkpoints at agreed cuts (SPEC.md S18, issue 10): the body every honest peer computes for
 * the cut at grid time `at`, whatever order it confirmed blocks in and however far it has
 * moved past `at`, so that validators' signatures over it add up to a quorum.
 *
 * The cut at `at` is the confirmed blocks with `time ≤ at` whose prev and confirmed deps are in
 * it too (closed under what a block reads, so the state at the cut is a function of the cut:
 * L26). A peer computes it from its engine at any later moment: the state at the cut is its
 * current state with the writes of applied blocks outside the cut taken back, read from the
 * state's per-block journal (a key written inside the cut is never written earlier by a block
 * outside it: its owner's chain or its deps order them; checked, never assumed). Only the
 * overlay of those keys is built (O(writes since the cut)), never a copy of the state, and
 * the LtHash digest moves by the same few entries (P7).
 * Pure: no I/O, no clock.
 */
import type { Did } from '../identity.ts'
import { CheckpointError, CheckpointErrorCode } from './checkpoint.ts'
import type { CheckpointBody, CheckpointPackage, CheckpointSig, CutHead } from './checkpoint.ts'
import { isRetained, joinedFrom } from './checkpoint-engine.ts'
import type { LedgerEngine } from './engine.ts'
import { StateCommitment, encodeStateEntry } from './state-commitment.ts'
import type { LedgerState, StateEntries, StateReader } from './state.ts'
import type { AllianceId, BlockId, LedgerValue, Tx } from './types.ts'

interface CutNode {
  readonly id: BlockId
  readonly index: number
  readonly issuer: number
  readonly seq: number
  readonly time: number
  readonly txs: readonly Tx[]
  readonly prev: CutNode | null
  readonly deps: readonly CutNode[]
  readonly status: number
}

interface CutGuts {
  readonly state: LedgerState
  readonly applied: readonly CutNode[]
  readonly issuers: readonly Did[]
}

const CONFIRMED = 1
const guts = (e: LedgerEngine): CutGuts => e as unknown as CutGuts

/** A cut's body and, on demand, its state (for the package a peer serves). */
export interface CheckpointCut {
  /** The grid time the cut is at. */
  readonly at: number
  readonly body: CheckpointBody
  /** Ids of the cut's blocks this engine holds (the retained base included). */
  readonly members: ReadonlySet<BlockId>
  /** The state entries at the cut, canonical (`LedgerState.entries()` form). */
  stateEntries: () => StateEntries
}

/** The newest grid time (S18: `genesis.time + k × interval`, k ≥ 1) at or before `upTo`, or null. */
export function latestCutTime (genesisTime: number, interval: number, upTo: number): number | null {
  if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError('a checkpoint interval is a positive integer of ms')
  const k = Math.floor((upTo - genesisTime) / interval)
  return k < 1 ? null : genesisTime + k * interval
}

export function isCutTime (genesisTime: number, interval: number, at: number): boolean {
  return Number.isSafeInteger(interval) && interval >= 1 && Number.isSafeInteger(at) && at > genesisTime && (at - genesisTime) % interval === 0
}

const keyOf = (ns: string, key: string): string => `${ns}\u0000${key}`

/**
 * S18: the checkpoint body of the cut at `at`, or null when this engine cannot make it (a
 * joined engine whose base is newer than `at`). Throws ERR_CHECKPOINT_EPOCH after a
 * validator change (S17), and ERR_CHECKPOINT_STATE if the journal does not allow the cut's
 * state (it never should; better no body than a wrong one).
 */
export function checkpointCutAt (engine: LedgerEngine, at: number): CheckpointCut | null {
  if (engine.epoch().n > 0) throw new CheckpointError(CheckpointErrorCode.EPOCH, 'checkpoints after a validator change are not made yet: join by full sync')
  const g = guts(engine)
  const base = joinedFrom(engine)
  if (base != null && base.time > at) return null
  const baseIds = new Set<BlockId>(base?.retained ?? [])
  // one pass in apply order: a block's prev and confirmed deps were applied before it
  const inCut = new Set<CutNode>()
  const below = (n: CutNode): boolean => n.index <= 0 || inCut.has(n) // genesis (0) and stand-ins below a joined base (< 0)
  for (const n of g.applied) {
    if (baseIds.has(n.id)) { inCut.add(n); continue }
    if (n.time > at) continue
    if (n.prev != null && !below(n.prev)) continue
    if (n.deps.some(d => d.status === CONFIRMED && !below(d))) continue
    inCut.add(n)
  }
  // the overlay: for each key a block outside the cut wrote, its value at the cut
  const outside = new Set<string>()
  for (const n of g.applied) if (!inCut.has(n)) outside.add(n.id)
  const overlay = new Map<string, { ns: string, key: string, value: LedgerValue | undefined }>()
  for (const j of g.state.journalBlocks()) {
    const out = outside.has(j.block)
    for (const [ns, key, before] of j.writes) {
      const k = keyOf(ns, key)
      if (out) {
        if (!overlay.has(k)) overlay.set(k, { ns, key, value: before })
      } else if (overlay.has(k)) {
        throw new CheckpointError(CheckpointErrorCode.STATE, `${ns}/${key} is written inside the cut after a block outside it`)
      }
    }
  }
  const journaled = new Set(g.state.journalBlocks().map(j => j.block))
  for (const id of outside) if (!journaled.has(id)) throw new CheckpointError(CheckpointErrorCode.STATE, `no journal for ${id}: the cut's state is not at hand`)
  const view: StateReader = {
    get: (ns, key) => { const o = overlay.get(keyOf(ns, key)); return o != null ? o.value : g.state.get(ns, key) },
    has: (ns, key) => { const o = overlay.get(keyOf(ns, key)); return o != null ? o.value !== undefined : g.state.has(ns, key) },
    keys: () => { throw new Error('not used') },
    size: () => { throw new Error('not used') }
  }
  const lt: StateCommitment = g.state.commitment().clone()
  for (const { ns, key, value } of overlay.values()) {
    const now = g.state.get(ns, key)
    if (now !== undefined) lt.remove(encodeStateEntry(ns, key, now))
    if (value !== undefined) lt.add(encodeStateEntry(ns, key, value))
  }
  const heads = new Map<number, CutNode>()
  let time = base?.time ?? engine.genesis.time
  for (const n of inCut) {
    const h = heads.get(n.issuer)
    if (h == null || n.seq > h.seq) heads.set(n.issuer, n)
    if (n.time > time) time = n.time
  }
  // issuers whose cut head is below a joined base and not retained keep the base's head
  const cut = new Map<Did, CutHead>((base?.heads ?? []).map(h => [h[0], h]))
  for (const n of heads.values()) {
    const did = g.issuers[n.issuer]
    const old = cut.get(did)
    if (old == null || n.seq > old[1]) cut.set(did, [did, n.seq, n.id])
  }
  const headIds = new Set([...cut.values()].map(h => h[2]))
  const floor = time - 2 * engine.genesis.maxParentAgeMs
  const retained: BlockId[] = []
  for (const n of inCut) {
    if (headIds.has(n.id) || n.time >= floor || n.txs.some((tx, i) => isRetained(tx, `${n.id}/${i}`, view))) retained.push(n.id)
  }
  const fresh = [...inCut].filter(n => !baseIds.has(n.id)).length
  const body: CheckpointBody = {
    v: 1,
    kind: 'alliance-checkpoint',
    alliance: engine.allianceId as AllianceId,
    epoch: 0,
    validators: engine.genesis.founders.map(f => f.did).sort(),
    heads: [...cut.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    height: (base?.height ?? 0) + fresh,
    time,
    state: lt.digest(),
    retained: retained.sort()
  }
  return {
    at,
    body,
    members: new Set([...inCut].map(n => n.id)),
    stateEntries: () => {
      const out: StateEntries = []
      const byNs = new Map<string, Map<string, LedgerValue>>()
      for (const [ns, pairs] of g.state.entries()) byNs.set(ns, new Map(pairs))
      for (const { ns, key, value } of overlay.values()) {
        let space = byNs.get(ns)
        if (space == null) { space = new Map(); byNs.set(ns, space) }
        if (value === undefined) space.delete(key); else space.set(key, value)
      }
      for (const ns of [...byNs.keys()].sort()) {
        const space = byNs.get(ns) as Map<string, LedgerValue>
        if (space.size === 0) continue
        out.push([ns, [...space.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))])
      }
      return out
    }
  }
}

/** The package of a signed cut: its state entries and its retained blocks' bytes (S14). */
export function packageOfCut (cut: CheckpointCut, sigs: readonly CheckpointSig[], blockBytes: (id: BlockId) => Uint8Array | undefined): CheckpointPackage {
  const retained = cut.body.retained.map(id => {
    const b = blockBytes(id)
    if (b == null) throw new RangeError(`retained block ${id} is not at hand`)
    return b
  })
  return { checkpoint: { body: cut.body, sigs: [...sigs], epochProofs: [] }, state: cut.stateEntries(), retained }
}
