/**
 * Signed checkpoints (SPEC.md S14–S17, issue 10 "join from a checkpoint"): the format, the
 * validators' signatures over it, and what a fresh peer checks before trusting one instead
 * of the whole history.
 *
 * A checkpoint body names a cut (per issuer, the last block of the confirmed set: confirmed
 * blocks of an issuer are a prefix of its chain, L23), the LtHash digest of the state at that
 * cut (P7), the epoch and validator set it is signed under, and the cut blocks a joiner keeps
 * as its base (`retained`). It is trusted only when signed by more than two thirds of that
 * validator set (L4 quorum ⌊2n/3⌋+1) and that set is reached from the genesis founders by the
 * epoch proofs (`verifyEpochChain`), and when the state it carries hashes to its digest.
 * Pure: no I/O, no clock.
 */
import { decode, encode } from '../codec.ts'
import { AllianceError } from '../errors.ts'
import { isDid, publicKeyFromDid, sign, verify } from '../identity.ts'
import type { Did } from '../identity.ts'
import { blockIdOf, signingBytes } from './block.ts'
import type { LedgerContext } from './block.ts'
import { isRecord } from './check.ts'
import { StateCommitment } from './state-commitment.ts'
import type { StateEntries } from './state.ts'
import type { AllianceId, BlockId, UnsignedBlock } from './types.ts'

export const CHECKPOINT_SIG_DOMAIN = 'alliance-net/checkpoint/v1\n'
/** A checkpoint package (state + retained blocks) larger than this is refused before decoding. */
export const CHECKPOINT_MAX_BYTES = 256 * 1024 * 1024
/** Validators of an epoch are at most this many (the genesis limit, L1). */
const MAX_VALIDATORS = 1024

export const CheckpointErrorCode = {
  /** Not a checkpoint: wrong shape, another alliance, unsorted lists. */
  MALFORMED: 'ERR_CHECKPOINT_MALFORMED',
  /** Signed by too little of the validator set's weight (S15). */
  WEIGHT: 'ERR_CHECKPOINT_WEIGHT',
  /** The state carried does not hash to the signed digest, or retained blocks differ (S15). */
  STATE: 'ERR_CHECKPOINT_STATE',
  /** The epoch proofs do not lead from the genesis founders to the signing set (S17). */
  EPOCH: 'ERR_CHECKPOINT_EPOCH'
} as const
export type CheckpointErrorCode = typeof CheckpointErrorCode[keyof typeof CheckpointErrorCode]

export class CheckpointError extends AllianceError {
  declare readonly code: CheckpointErrorCode
  constructor (code: CheckpointErrorCode, message: string) {
    super(code, message)
  }
}

function bad (code: CheckpointErrorCode, message: string): never {
  throw new CheckpointError(code, message)
}

/** `[issuer, seq, block id]`: the issuer's last block in the cut. */
export type CutHead = readonly [Did, number, BlockId]

export interface CheckpointBody {
  readonly v: 1
  readonly kind: 'alliance-checkpoint'
  readonly alliance: AllianceId
  /** The epoch whose validator set signs (0: the genesis founders). */
  readonly epoch: number
  /** That set, sorted. */
  readonly validators: readonly Did[]
  /** The cut, sorted by issuer. */
  readonly heads: readonly CutHead[]
  /** Blocks in the cut. */
  readonly height: number
  /** Newest block time in the cut. */
  readonly time: number
  /** `StateCommitment.digest()` of the state at the cut (P7). */
  readonly state: string
  /** Cut blocks a joiner keeps as its base (S16), sorted. */
  readonly retained: readonly BlockId[]
}

/** `[validator, Ed25519 signature over CHECKPOINT_SIG_DOMAIN ‖ dag-cbor(body)]` */
export type CheckpointSig = readonly [Did, Uint8Array]

export interface SignedCheckpoint {
  readonly body: CheckpointBody
  readonly sigs: readonly CheckpointSig[]
  /** Raw signed blocks with the `validator.vote` transactions that moved V_k to V_k+1 (S17). */
  readonly epochProofs: readonly Uint8Array[]
}

/** What a joiner downloads: the signed checkpoint, the state at the cut, the retained blocks. */
export interface CheckpointPackage {
  readonly checkpoint: SignedCheckpoint
  readonly state: StateEntries
  readonly retained: readonly Uint8Array[]
}

export function checkpointSigningBytes (body: CheckpointBody): Uint8Array {
  const domain = new TextEncoder().encode(CHECKPOINT_SIG_DOMAIN)
  const b = encode(body)
  const out = new Uint8Array(domain.length + b.length)
  out.set(domain, 0)
  out.set(b, domain.length)
  return out
}

/** A validator's signature of a body (a ledger-service duty, S14). */
export function signCheckpoint (body: CheckpointBody, did: Did, seed: Uint8Array): CheckpointSig {
  return [did, sign(seed, checkpointSigningBytes(body))]
}

/** Quorum of a validator set of `n`: more than two thirds (L4). */
export function quorumOfSet (n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

const sortedUnique = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1] < x)

/** Checks an untrusted value as a checkpoint body. */
export function parseCheckpointBody (value: unknown, alliance: AllianceId): CheckpointBody {
  const M = CheckpointErrorCode.MALFORMED
  if (!isRecord(value)) bad(M, 'a checkpoint body is a map')
  const keys = ['v', 'kind', 'alliance', 'epoch', 'validators', 'heads', 'height', 'time', 'state', 'retained']
  if (Object.keys(value).length !== keys.length || !keys.every(k => Object.hasOwn(value, k))) bad(M, 'checkpoint body fields')
  if (value.v !== 1 || value.kind !== 'alliance-checkpoint') bad(M, 'checkpoint version')
  if (value.alliance !== alliance) bad(M, 'checkpoint of another alliance')
  const int = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0
  if (!int(value.epoch) || !int(value.height) || !int(value.time)) bad(M, 'checkpoint epoch, height and time are integers')
  const validators = value.validators
  if (!Array.isArray(validators) || validators.length < 1 || validators.length > MAX_VALIDATORS || !validators.every(isDid) || !sortedUnique(validators)) bad(M, 'checkpoint validators: sorted distinct DIDs')
  const heads = value.heads
  if (!Array.isArray(heads) || !heads.every(h => Array.isArray(h) && h.length === 3 && isDid(h[0]) && Number.isSafeInteger(h[1]) && h[1] >= 1 && typeof h[2] === 'string')) bad(M, 'checkpoint heads')
  if (!sortedUnique(heads.map(h => h[0] as string))) bad(M, 'checkpoint heads: sorted by issuer, one each')
  if (typeof value.state !== 'string' || !/^[0-9a-f]{64}$/.test(value.state)) bad(M, 'checkpoint state digest')
  const retained = value.retained
  if (!Array.isArray(retained) || !retained.every(r => typeof r === 'string') || !sortedUnique(retained)) bad(M, 'checkpoint retained: sorted distinct ids')
  return value as unknown as CheckpointBody
}

/** A `validator.vote` transaction (the lead's epoch rule): `{action, did, epoch}`. */
interface Vote { readonly action: 'add' | 'remove', readonly did: Did, readonly epoch: number }

function votesOf (bytes: Uint8Array, ctx: LedgerContext): { issuer: Did, votes: Vote[] } {
  const E = CheckpointErrorCode.EPOCH
  let b: unknown
  try { b = decode(bytes, 64 * 1024) } catch { bad(E, 'an epoch proof does not decode') }
  if (!isRecord(b) || b.alliance !== ctx.allianceId || typeof b.issuer !== 'string' || !isDid(b.issuer) || !(b.sig instanceof Uint8Array) || !Array.isArray(b.txs)) bad(E, 'an epoch proof is not a block of this alliance')
  const { sig, ...unsigned } = b
  if (!verify(publicKeyFromDid(b.issuer), signingBytes(unsigned as unknown as UnsignedBlock), sig)) bad(E, 'an epoch proof is not signed by its issuer')
  const votes: Vote[] = []
  for (const tx of b.txs) {
    if (!isRecord(tx) || tx.type !== 'validator.vote') continue
    if ((tx.action !== 'add' && tx.action !== 'remove') || typeof tx.did !== 'string' || !isDid(tx.did) || !Number.isSafeInteger(tx.epoch)) bad(E, 'a malformed validator.vote')
    votes.push({ action: tx.action, did: tx.did, epoch: tx.epoch as number })
  }
  return { issuer: b.issuer, votes }
}

/**
 * S17: the validator set of `epoch`, reached from the genesis founders (V_0) by the signed
 * vote blocks in `proofs`: V_k+1 = V_k ± did once q(V_k) distinct validators of V_k signed a
 * `validator.vote {action, did, epoch: k}`. Each epoch needs exactly one change with a quorum
 * (two would mean more than a third of V_k voted twice). Throws ERR_CHECKPOINT_EPOCH; returns
 * the sorted set, which the caller compares with the body's.
 */
export function verifyEpochChain (ctx: LedgerContext, epoch: number, proofs: readonly Uint8Array[]): Did[] {
  const E = CheckpointErrorCode.EPOCH
  let set = [...ctx.genesis.founders.map(f => f.did)].sort()
  if (epoch === 0) {
    if (proofs.length > 0) bad(E, 'epoch 0 takes no proofs')
    return set
  }
  // (epoch, action, did) -> voters
  const tally = new Map<string, Set<Did>>()
  const signed = proofs.map(p => votesOf(p, ctx))
  for (let k = 0; k < epoch; k++) {
    tally.clear()
    const members = new Set(set)
    for (const { issuer, votes } of signed) {
      if (!members.has(issuer)) continue
      for (const v of votes) {
        if (v.epoch !== k) continue
        const key = `${v.action} ${v.did}`
        const voters = tally.get(key) ?? new Set<Did>()
        voters.add(issuer)
        tally.set(key, voters)
      }
    }
    const q = quorumOfSet(set.length)
    const passed = [...tally].filter(([, voters]) => voters.size >= q).map(([key]) => key)
    if (passed.length !== 1) bad(E, `epoch ${k}: ${passed.length} changes reach the quorum of ${q}, not one`)
    const [action, did] = passed[0].split(' ') as ['add' | 'remove', Did]
    if (action === 'add') {
      if (members.has(did)) bad(E, `epoch ${k}: adds a validator already in the set`)
      set = [...set, did].sort()
    } else {
      if (!members.has(did) || set.length === 1) bad(E, `epoch ${k}: removes a validator not in the set (or the last)`)
      set = set.filter(d => d !== did)
    }
  }
  return set
}

/** S15: distinct validators of the body's set whose signature over the body verifies. */
export function checkpointWeight (cp: SignedCheckpoint): number {
  const set = new Set(cp.body.validators)
  const bytes = checkpointSigningBytes(cp.body)
  const ok = new Set<Did>()
  for (const [did, sig] of cp.sigs) {
    if (!set.has(did) || ok.has(did) || !(sig instanceof Uint8Array)) continue
    if (verify(publicKeyFromDid(did), bytes, sig)) ok.add(did)
  }
  return ok.size
}

/**
 * S15: everything a joiner checks before it trusts a checkpoint package, cheapest first:
 * shape and alliance, the epoch chain to the signing set, the signatures' weight (more than
 * two thirds of the set), the retained blocks' ids, and last the LtHash of the state.
 * `stateCommitment`, when given, is that LtHash as the caller computed it from the same
 * entries (S31: a tab hashes them in Web Workers while its main thread decodes); its digest
 * is compared with the signed one exactly as the one computed here would be.
 */
export function verifyCheckpointPackage (ctx: LedgerContext, pkg: CheckpointPackage, opts: { readonly stateCommitment?: StateCommitment } = {}): CheckpointBody {
  return verifyCheckpointState(ctx, pkg, opts).body
}

/** `verifyCheckpointPackage`, also giving the state's verified commitment (a joined state starts from it, S31). */
export function verifyCheckpointState (ctx: LedgerContext, pkg: CheckpointPackage, opts: { readonly stateCommitment?: StateCommitment } = {}): { body: CheckpointBody, commitment: StateCommitment } {
  const M = CheckpointErrorCode.MALFORMED
  if (pkg == null || pkg.checkpoint == null || !Array.isArray(pkg.checkpoint.sigs) || !Array.isArray(pkg.checkpoint.epochProofs) || !Array.isArray(pkg.state) || !Array.isArray(pkg.retained)) bad(M, 'checkpoint package shape')
  const body = parseCheckpointBody(pkg.checkpoint.body, ctx.allianceId)
  const set = verifyEpochChain(ctx, body.epoch, pkg.checkpoint.epochProofs)
  if (set.length !== body.validators.length || set.some((d, i) => d !== body.validators[i])) bad(CheckpointErrorCode.EPOCH, `the epoch ${body.epoch} set differs from the signing set`)
  const weight = checkpointWeight({ ...pkg.checkpoint, body })
  const q = quorumOfSet(body.validators.length)
  if (weight < q) bad(CheckpointErrorCode.WEIGHT, `signed by ${weight} of ${body.validators.length} validators; ${q} needed`)
  const ids = pkg.retained.map(b => (b instanceof Uint8Array ? blockIdOf(b) : bad(M, 'a retained block is bytes'))).sort()
  if (ids.length !== body.retained.length || ids.some((id, i) => id !== body.retained[i])) bad(CheckpointErrorCode.STATE, 'the retained blocks are not the signed ones')
  // entries must be canonical (sorted, unique): the commitment is a multiset, the state a map
  const namespaces = pkg.state.map(e => Array.isArray(e) ? e[0] : null)
  if (!namespaces.every(n => typeof n === 'string') || !sortedUnique(namespaces as string[])) bad(M, 'state namespaces: sorted, unique')
  for (const e of pkg.state) {
    if (!Array.isArray(e[1]) || !e[1].every(p => Array.isArray(p) && typeof p[0] === 'string') || !sortedUnique(e[1].map(p => p[0]))) bad(M, 'state keys: sorted, unique')
  }
  const commitment = opts.stateCommitment ?? StateCommitment.ofState(pkg.state)
  if (commitment.digest() !== body.state) bad(CheckpointErrorCode.STATE, 'the state does not hash to the signed digest')
  return { body, commitment }
}

export function encodeCheckpointPackage (pkg: CheckpointPackage): Uint8Array {
  return encode(pkg)
}

export function decodeCheckpointPackage (bytes: Uint8Array): CheckpointPackage {
  try {
    return decode<CheckpointPackage>(bytes, CHECKPOINT_MAX_BYTES)
  } catch (err) {
    return bad(CheckpointErrorCode.MALFORMED, `checkpoint package does not decode: ${(err as Error).message}`)
  }
}
