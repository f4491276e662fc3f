/**
 * Checkpoints from and into a `LedgerEngine` (SPEC.md S14, S16): the body a validator signs
 * for its own confirmed set, the package a serving peer sends, and an engine built from a
 * verified package plus the retained blocks, which then validates new blocks like any engine
 * and reaches the same state hash as a full-history peer.
 *
 * It works on the engine's indexes through a narrow structural view (`EngineGuts`) instead
 * of a long API on the engine (engine.ts keeps only the `belowCut` hook and a journal mark);
 * the engine's own tests and these catch it if a field it names is renamed.
 * Pure: no I/O, no clock.
 */
import type { Did } from '../identity.ts'
import { validateBlockBytes } from './block.ts'
import type { LedgerContext, ValidatedBlock } from './block.ts'
import { bitAdd } from './bitset.ts'
import type { Bits } from './bitset.ts'
import { CheckpointError, CheckpointErrorCode, verifyCheckpointState } from './checkpoint.ts'
import type { StateCommitment } from './state-commitment.ts'
import type { CheckpointBody, CheckpointPackage, CheckpointSig, CutHead } from './checkpoint.ts'
import { LedgerEngine } from './engine.ts'
import type { LedgerEngineOptions } from './engine.ts'
import { LedgerState } from './state.ts'
import type { StateReader } from './state.ts'
import { NS } from './tx.ts'
import type { AllianceId, BlockId, Tx } from './types.ts'

/** The fields of an engine node this module reads or makes. */
interface GutsNode {
  readonly id: BlockId
  readonly index: number
  readonly issuer: number
  readonly seq: number
  readonly time: number
  readonly txs: readonly Tx[]
  status: number
  applied: boolean
  children: readonly GutsNode[]
}

/** The engine's private fields and methods used here (see the module header). */
interface EngineGuts {
  state: LedgerState
  applied: GutsNode[]
  readonly nodes: Map<BlockId, GutsNode>
  readonly genesisNode: GutsNode
  readonly issuers: Did[]
  readonly vbit: Map<string, number>
  intern: (did: Did) => number
  internTxs: (txs: readonly Tx[]) => readonly Tx[]
  makeNode: (
    id: BlockId, issuer: number, seq: number, chain: number, time: number, bytes: number, parents: GutsNode[], prev: GutsNode | null, deps: GutsNode[],
    txs: readonly Tx[], crossChain: boolean, closes: readonly string[], status: number, reason: null, weight: Bits
  ) => GutsNode
  link: (node: GutsNode) => void
}

const guts = (e: LedgerEngine): EngineGuts => e as unknown as EngineGuts
const CONFIRMED = 1

/**
 * S16 retention: a cut block stays in a joiner's (and a pruned peer's) engine when a new
 * block may still name it: its issuer's head (a `prev`), recent enough to be a parent
 * (within twice maxParentAgeMs of the cut's newest block, L41), or carrying a transaction a
 * later one may read and whose object is still open (an admission of a non-member, a claim
 * not received, an open deposit; types this module does not know are kept). The same test
 * serves both state rules (L52): v3 deletes a taken claim and a closed escrow, v2 marks them.
 */
export function isRetained (tx: Tx, txId: string, state: StateReader): boolean {
  switch (tx.type) {
    case 'member.admit': return typeof tx.member === 'string' && !state.has(NS.member, tx.member)
    case 'transfer': return state.has(NS.claim, txId) && !state.has(NS.received, txId)
    case 'deposit.lock': {
      const e = state.get(NS.escrow, txId) as { closedBy?: unknown } | undefined
      return e != null && e.closedBy == null
    }
    case 'member.join': case 'receive': case 'deposit.refund': case 'credential.anchor': case 'credential.revoke': return false
    default: return true
  }
}

/**
 * The checkpoint body of the engine's confirmed set (its state is the state at that cut:
 * confirmed blocks of an issuer are a prefix of its chain, and every one is applied).
 * Epoch 0 only for now: the set is the genesis founders. After a validator change (L47) an
 * engine joined from a cut would judge new blocks by the genesis set, since the blocks that
 * decided the change are below the cut; so no body is made then (peers join by full sync).
 */
export function checkpointBodyOf (engine: LedgerEngine): CheckpointBody {
  if (engine.epoch().n > 0) throw new CheckpointError(CheckpointErrorCode.EPOCH, 'checkpoints after a validator change are not made yet: join by full sync')
  const g = guts(engine)
  const heads = new Map<number, GutsNode>()
  let time = engine.genesis.time
  for (const n of g.applied) {
    const h = heads.get(n.issuer)
    if (h == null || n.seq > h.seq) heads.set(n.issuer, n)
    if (n.time > time) time = n.time
  }
  const floor = time - 2 * engine.genesis.maxParentAgeMs
  const headSet = new Set(heads.values())
  const retained: BlockId[] = []
  for (const n of g.applied) {
    if (headSet.has(n) || n.time >= floor || n.txs.some((tx, i) => isRetained(tx, `${n.id}/${i}`, g.state))) retained.push(n.id)
  }
  const cut: CutHead[] = [...heads.values()].map(n => [g.issuers[n.issuer], n.seq, n.id] as const)
  cut.sort((a, b) => (a[0] < b[0] ? -1 : 1))
  return {
    v: 1,
    kind: 'alliance-checkpoint',
    alliance: engine.allianceId as AllianceId,
    epoch: 0,
    validators: engine.genesis.founders.map(f => f.did).sort(),
    heads: cut,
    height: g.applied.length,
    time,
    state: g.state.digest(),
    retained: retained.sort()
  }
}

/** What a serving peer sends: the body signed, its state entries, the retained blocks' bytes. */
export function checkpointPackageOf (body: CheckpointBody, sigs: readonly CheckpointSig[], state: LedgerState, blockBytes: (id: BlockId) => Uint8Array | undefined): CheckpointPackage {
  const retained = body.retained.map(id => {
    const b = blockBytes(id)
    if (b == null) throw new RangeError(`retained block ${id} is not at hand`)
    return b
  })
  return { checkpoint: { body, sigs: [...sigs], epochProofs: [] }, state: state.entries(), retained }
}

/** The engine's current state (a validator's, when it makes the package of its own body). */
export function engineState (engine: LedgerEngine): LedgerState {
  return guts(engine).state
}

export interface JoinOptions extends LedgerEngineOptions {
  /** The clock, for the stateless check of the retained blocks. */
  readonly now: number
  /** The LtHash of `pkg.state` computed by the caller (S31, `verifyCheckpointPackage`). */
  readonly stateCommitment?: StateCommitment
}

/**
 * S16: an engine from a verified checkpoint package (throws CheckpointError otherwise): the
 * state at the cut, the retained blocks as confirmed and applied (their references below the
 * cut become stand-ins that are never asked for), and the cut as "known": a block at or below
 * its issuer's head is ERR_DUPLICATE (no fault). New blocks then go in as on any engine.
 */
export function joinFromCheckpoint (ctx: LedgerContext, pkg: CheckpointPackage, opts: JoinOptions): LedgerEngine {
  const { stateCommitment, now, ...engineOpts } = opts
  const { body, commitment } = verifyCheckpointState(ctx, pkg, stateCommitment != null ? { stateCommitment } : {})
  const engine = new LedgerEngine(ctx, engineOpts)
  const g = guts(engine)
  // the verified commitment goes with the state: its first digest() would hash every entry again
  g.state = LedgerState.fromEntries(pkg.state, commitment.clone())
  const full: Bits = []
  for (const bit of g.vbit.values()) bitAdd(full, bit)
  const blocks: ValidatedBlock[] = pkg.retained.map(b => validateBlockBytes(b, ctx, { now, trusted: true }))
  // parents first: a block goes in once every retained block it names is in
  const pending = new Map(blocks.map(v => [v.id, v]))
  const standIns = new Map<BlockId, GutsNode>()
  const standIn = (id: BlockId): GutsNode => {
    let s = standIns.get(id)
    if (s == null) { s = { ...g.genesisNode, id, index: -1 - standIns.size, children: [] }; standIns.set(id, s) }
    return s
  }
  while (pending.size > 0) {
    let progressed = false
    for (const v of [...pending.values()].sort((a, b) => a.block.time - b.block.time || a.block.seq - b.block.seq)) {
      const b = v.block
      const refs = b.prev == null ? [...b.parents] : [...b.parents, b.prev]
      if (refs.some(r => pending.has(r))) continue
      const at = (r: BlockId): GutsNode => g.nodes.get(r) ?? standIn(r)
      const node = g.makeNode(v.id, g.intern(b.issuer), b.seq, ctx.genesis.chains.indexOf(b.chain), b.time, v.bytes.byteLength,
        b.parents.map(at), b.prev == null ? null : at(b.prev), [], g.internTxs(b.txs), false, [], CONFIRMED, null, full.slice())
      g.link(node)
      node.applied = true
      g.applied.push(node)
      pending.delete(v.id)
      progressed = true
    }
    if (!progressed) throw new RangeError('retained blocks name each other in a cycle')
  }
  const cutSeq = new Map<string, number>(body.heads.map(h => [h[0], h[1]]))
  engine.belowCut = (issuer, seq) => seq <= (cutSeq.get(issuer) ?? 0)
  bases.set(engine, body)
  return engine
}

/** The checkpoint body each joined engine started from (checkpoint-cut.ts builds on it). */
const bases = new WeakMap<LedgerEngine, CheckpointBody>()

/** The body `engine` joined from, or undefined for an engine with the whole history. */
export function joinedFrom (engine: LedgerEngine): CheckpointBody | undefined {
  return bases.get(engine)
}
