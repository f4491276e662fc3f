/**
 * Transactions: a registry of transaction types, and the built-in ones (`member.admit`,
 * `member.join`, `validator.vote`, `transfer`, `receive`, `deposit.lock`, `deposit.refund`,
 * `credential.anchor`, `credential.revoke`). A type gives pure functions: `decode` checks an untrusted
 * transaction's shape when its block is validated (state-free, so every peer accepts or
 * rejects the block alike); `crossChain` says whether it needs approvals from another chain
 * (white paper 5.6.2); `deps` names the transactions it reads (its block confirms only after
 * theirs are decided); `conflicts` names the objects it closes (only one confirmed transaction
 * may close each); `apply` changes the state.
 *
 * The accounting is a block lattice (SPEC L26): an account's balance is written only by its
 * own chain. A payment debits the payer and leaves a *claim*; the recipient's chain takes it
 * with `receive`. So credits between accounts commute, and no order chosen after confirmation
 * can change a balance. Every peer of an alliance must run the same registry.
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { expectBlockId, expectDid, expectInt, expectRecord, expectString, HASH_HEX, isRecord } from './check.ts'
import type { StateReader, StateView } from './state.ts'
import type { ValidatorVoteTx } from './epochs.ts'
import { checkMembershipCredential, MAX_CREDENTIAL_CHARS } from './membership-credential.ts'
import type { BlockId, Genesis, LedgerValue, Tx, TxId } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

/** What a transaction's structural check may rely on: the alliance and its block's header. */
export interface TxCheckContext {
  readonly genesis: Genesis
  readonly issuer: Did
  readonly chain: string
}

/** A decided transaction another one depends on (see `deps`). */
export interface TxOutcome {
  readonly tx: Tx
  readonly issuer: Did
  readonly chain: string
  readonly time: number
  readonly status: 'confirmed' | 'rejected'
}

/** A dependency's transaction as its block holds it, decided or not. */
export interface DepTx {
  readonly tx: Tx
  readonly issuer: Did
  readonly chain: string
  readonly time: number
}

/** What `checkDeps` may rely on: the block's header and its dependencies' transactions. */
export interface TxDepsContext extends TxCheckContext {
  readonly time: number
  txOf (txId: TxId): DepTx | undefined
}

/** What `apply` may rely on in addition. */
export interface TxApplyContext extends TxCheckContext {
  readonly blockId: BlockId
  readonly txId: TxId
  readonly index: number
  readonly time: number
  /** A dependency's outcome (only the transactions named by `deps` are guaranteed decided). */
  lookup (txId: TxId): TxOutcome | undefined
}

export interface TxTypeDef<T extends Tx = Tx> {
  /** `family.action`, lower case. */
  readonly type: string
  /** Checks an untrusted decoded transaction; throws LedgerError(ERR_BAD_TX). No state. */
  decode (raw: Record<string, unknown>, ctx: TxCheckContext): T
  /** True if this transaction needs `crossChainApprovals` from another chain. Default false. */
  crossChain? (tx: T, ctx: TxCheckContext): boolean
  /** Transactions this one reads: their blocks must be known, and decided before its own. */
  deps? (tx: T, ctx: TxCheckContext): readonly TxId[]
  /** Objects this transaction closes; two blocks closing one object conflict (L24). */
  conflicts? (tx: T, ctx: TxCheckContext): readonly string[]
  /**
   * Rules against the dependencies' transactions themselves (not the state), checked when the
   * block is inserted; throws LedgerError to reject the block (L42). A closing that could never
   * apply is thus kept out of the conflict it would otherwise block.
   */
  checkDeps? (tx: T, ctx: TxDepsContext): void
  /**
   * Applies to the state; throws LedgerError to reject (writes are then undone). It may write
   * only keys its issuer owns or keys named after its own txId (L26), so that transactions of
   * different chains commute.
   */
  apply (state: StateView, tx: T, ctx: TxApplyContext): void
}

export const TX_TYPE_PATTERN = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)*$/

export class TxRegistry {
  private readonly types = new Map<string, TxTypeDef>()

  register<T extends Tx> (def: TxTypeDef<T>): this {
    if (def == null || typeof def.type !== 'string' || !TX_TYPE_PATTERN.test(def.type) || def.type.length > 32) {
      throw new TypeError('a transaction type needs a name like "offer.publish" (at most 32 characters)')
    }
    if (typeof def.decode !== 'function' || typeof def.apply !== 'function') throw new TypeError(`transaction type ${def.type} needs decode and apply`)
    if (this.types.has(def.type)) throw new RangeError(`transaction type ${def.type} is already registered`)
    this.types.set(def.type, def as unknown as TxTypeDef)
    return this
  }

  get (type: string): TxTypeDef | undefined {
    return this.types.get(type)
  }

  has (type: string): boolean {
    return this.types.has(type)
  }

  names (): string[] {
    return [...this.types.keys()].sort()
  }

  /** Checks one untrusted transaction of a block against its registered type. */
  decodeTx (raw: unknown, ctx: TxCheckContext, index: number): Tx {
    if (!isRecord(raw)) fail(BAD_TX, `tx ${index} must be a map`)
    const type = raw.type
    if (typeof type !== 'string' || type.length > 32) fail(BAD_TX, `tx ${index} needs a string "type"`)
    const def = this.types.get(type)
    if (def == null) fail(LedgerErrorCode.UNKNOWN_TX, `tx ${index} has unknown type "${type}"`)
    return def.decode(raw, ctx)
  }

  isCrossChain (tx: Tx, ctx: TxCheckContext): boolean {
    return this.types.get(tx.type)?.crossChain?.(tx, ctx) ?? false
  }

  depsOf (tx: Tx, ctx: TxCheckContext): readonly TxId[] {
    return this.types.get(tx.type)?.deps?.(tx, ctx) ?? []
  }

  conflictsOf (tx: Tx, ctx: TxCheckContext): readonly string[] {
    return this.types.get(tx.type)?.conflicts?.(tx, ctx) ?? []
  }

  checkDeps (tx: Tx, ctx: TxDepsContext): void {
    this.types.get(tx.type)?.checkDeps?.(tx, ctx)
  }
}

// ---------------------------------------------------------------------------------------------
// Built-in namespaces and helpers.

/** State namespaces owned by the built-in rules. Comments say which chain writes each key. */
export const NS = {
  /** did → MemberRecord (the member's own `member.join`; founders at genesis) */
  member: 'member',
  /** did → credits (integer; only that did's own chain writes it) */
  balance: 'balance',
  /** txId of the paying transaction → ClaimRecord (written by the payer's chain, once) */
  claim: 'claim',
  /** claim txId → txId of the `receive` that took it (the recipient's chain) */
  received: 'received',
  /** txId of the `deposit.lock` → EscrowRecord (the lock; closed by one settle or refund, L45) */
  escrow: 'escrow',
  /** `${hash}/${issuer}` → AnchorRecord (the issuer's chain) */
  anchor: 'anchor',
  /** txId → error code of a transaction rejected at replay */
  rejected: 'rejected'
} as const

export interface MemberRecord {
  readonly chain: string
  /** Block whose `member.join` made it a member, or 'genesis' for founders. */
  readonly since: string
}

/** Credits a confirmed transaction left for `to`, until `to`'s chain receives them. */
export interface ClaimRecord {
  readonly from: Did
  readonly to: Did
  /** The chain `to` must be on to receive (the payer's statement, checked at receive); '' any. */
  readonly toChain: string
  readonly amount: number
  /** What made it: 'transfer', 'settle', 'refund'… (for histories). */
  readonly kind: string
}

export interface EscrowRecord {
  readonly payer: Did
  readonly provider: Did
  readonly amount: number
  /** Block time after which the payer may refund; a settle's block time must not exceed it. */
  readonly deadline: number
  /** Free label binding the deposit to a session (its id), or ''. */
  readonly ref: string
  /** txId that closed it (a settle or a refund), or null while open. */
  readonly closedBy: string | null
}

export interface AnchorRecord {
  readonly issuer: Did
  readonly anchoredIn: BlockId
  readonly revokedIn: BlockId | null
}

export function memberOf (state: StateReader, did: string): MemberRecord | undefined {
  const v = state.get(NS.member, did)
  return isRecord(v) ? v as unknown as MemberRecord : undefined
}

export function balanceOf (state: StateReader, did: string): number {
  const v = state.get(NS.balance, did)
  return typeof v === 'number' ? v : 0
}

export function claimOf (state: StateReader, txId: string): ClaimRecord | undefined {
  const v = state.get(NS.claim, txId)
  return isRecord(v) ? v as unknown as ClaimRecord : undefined
}

export function escrowOf (state: StateReader, txId: string): EscrowRecord | undefined {
  const v = state.get(NS.escrow, txId)
  return isRecord(v) ? v as unknown as EscrowRecord : undefined
}

export function anchorOf (state: StateReader, hash: string, issuer: string): AnchorRecord | undefined {
  const v = state.get(NS.anchor, `${hash}/${issuer}`)
  return isRecord(v) ? v as unknown as AnchorRecord : undefined
}

export function requireMember (state: StateReader, did: string, who: string): MemberRecord {
  const m = memberOf(state, did)
  if (m == null) fail(BAD_TX, `${who} is not a member`)
  return m
}

/** Debits the issuer's own balance; throws ERR_OVERSPEND when it holds fewer than `amount`. */
export function debit (state: StateView, from: string, amount: number): void {
  const have = balanceOf(state, from)
  if (amount > have) fail(LedgerErrorCode.OVERSPEND, `debit of ${amount} over a balance of ${have}`)
  state.set(NS.balance, from, have - amount)
}

/** Credits the issuer's own balance (only its own chain may call this for it). */
export function credit (state: StateView, to: string, amount: number): void {
  state.set(NS.balance, to, balanceOf(state, to) + amount)
}

/** Leaves a claim named after the paying transaction (`key` distinguishes several of one tx). */
export function leaveClaim (state: StateView, key: string, claim: ClaimRecord): void {
  if (state.has(NS.claim, key)) fail(BAD_TX, `claim ${key} exists`)
  state.set(NS.claim, key, claim as unknown as LedgerValue)
}

/** Founders are members from genesis and hold the supply. */
export function admitFounder (state: StateView, did: string, chain: string, allocation: number): void {
  const record: MemberRecord = { chain, since: 'genesis' }
  state.set(NS.member, did, record as unknown as LedgerValue)
  state.set(NS.balance, did, allocation)
}

export function isFounder (genesis: Genesis, did: string): boolean {
  return genesis.founders.some(f => f.did === did)
}

/** `${blockId}/${index}`, checked. */
export function expectTxId (value: unknown, what: string): TxId {
  const s = expectString(value, what, 128, BAD_TX)
  const at = s.lastIndexOf('/')
  const index = Number(s.slice(at + 1))
  if (at <= 0 || !Number.isInteger(index) || index < 0 || index > 63 || String(index) !== s.slice(at + 1)) fail(BAD_TX, `${what} is not a transaction id`)
  expectBlockId(s.slice(0, at), what, BAD_TX)
  return s as TxId
}

/** The block of a transaction id. */
export function blockOfTx (txId: TxId): BlockId {
  return txId.slice(0, txId.lastIndexOf('/')) as BlockId
}

function expectTxIds (value: unknown, what: string, max: number, min = 1): TxId[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) fail(BAD_TX, `${what} must list ${min}..${max} transaction ids`)
  const ids = value.map((v, i) => expectTxId(v, `${what}[${i}]`))
  if (new Set(ids).size !== ids.length) fail(BAD_TX, `${what} has duplicates`)
  return ids
}

/** Reads a decided dependency; rejects the transaction unless it is confirmed and of `type`. */
export function confirmedDep (ctx: TxApplyContext, txId: TxId, type: string): TxOutcome {
  const o = ctx.lookup(txId)
  if (o == null || o.status !== 'confirmed') fail(BAD_TX, `${type} ${txId.slice(0, 20)}… is not confirmed`)
  if (o.tx.type !== type) fail(BAD_TX, `${txId.slice(0, 20)}… is not a ${type}`)
  return o
}

// ---------------------------------------------------------------------------------------------
// Built-in transaction types.

/** Largest amount a transaction may name: 2^53 - 1 keeps arithmetic exact. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER
/** Claims one `receive` may take (a block holds at most 64 transactions anyway). */
export const MAX_RECEIVE_CLAIMS = 64

export interface MemberAdmitTx extends Tx {
  readonly type: 'member.admit'
  readonly member: Did
  readonly chain: string
}

export interface MemberJoinTx extends Tx {
  readonly type: 'member.join'
  /** The validators' `member.admit` transactions for this issuer and chain. */
  readonly admits: readonly TxId[]
  // with admission 'credential' it also carries `credential`: the membership JWT (L51)
}

export interface TransferTx extends Tx {
  readonly type: 'transfer'
  readonly to: Did
  readonly amount: number
  /** The recipient's chain (checked when it receives); a transfer to another chain is cross-chain. */
  readonly toChain: string
}

export interface ReceiveTx extends Tx {
  readonly type: 'receive'
  /** Claim keys (the paying txId, or `${txId}:${n}` for the n-th claim of one transaction). */
  readonly claims: readonly string[]
}

export interface DepositLockTx extends Tx {
  readonly type: 'deposit.lock'
  readonly provider: Did
  readonly amount: number
  readonly deadline: number
  readonly ref: string
}

export interface DepositRefundTx extends Tx {
  readonly type: 'deposit.refund'
  readonly deposit: TxId
}

export interface CredentialAnchorTx extends Tx {
  readonly type: 'credential.anchor' | 'credential.revoke'
  /** Lower-case hex sha-256 of the credential (e.g. of its JWT). */
  readonly hash: string
}

function expectChain (value: unknown, what: string, genesis: Genesis): string {
  const chain = expectString(value, what, 32, BAD_TX)
  if (!genesis.chains.includes(chain)) fail(BAD_TX, `${what} is not a chain of this alliance`)
  return chain
}

/** The claim key's transaction: `txId` or `txId:n`. */
export function claimTxId (key: string): TxId {
  const colon = key.lastIndexOf(':')
  const slash = key.lastIndexOf('/')
  return (colon > slash ? key.slice(0, colon) : key) as TxId
}

function expectClaimKeys (value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_RECEIVE_CLAIMS) fail(BAD_TX, `${what} must list 1..${MAX_RECEIVE_CLAIMS} claims`)
  const keys = value.map((v, i) => {
    const s = expectString(v, `${what}[${i}]`, 140, BAD_TX)
    const base = claimTxId(s)
    expectTxId(base, `${what}[${i}]`)
    if (base !== s && !/^[0-9]{1,2}$/.test(s.slice(base.length + 1))) fail(BAD_TX, `${what}[${i}] is not a claim key`)
    return s
  })
  if (new Set(keys).size !== keys.length) fail(BAD_TX, `${what} has duplicates`)
  return keys
}

export const memberAdmit: TxTypeDef<MemberAdmitTx> = {
  type: 'member.admit',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'member.admit', ['type', 'member', 'chain'], [], BAD_TX)
    const member = expectDid(r.member, 'member.admit.member', BAD_TX)
    const chain = expectChain(r.chain, 'member.admit.chain', ctx.genesis)
    // L27: subject control — only validators admit (the engine counts an admission only from a
    // validator of its block's epoch, L49: the set changes, so that is not a shape rule), never themselves
    if (member === ctx.issuer) fail(BAD_TX, 'no one admits itself')
    if (isFounder(ctx.genesis, member)) fail(BAD_TX, 'a validator is a member from genesis')
    return { type: 'member.admit', member, chain }
  },
  // the admission itself writes nothing: the member's own join reads it (L27)
  apply () {}
}

export const memberJoin: TxTypeDef<MemberJoinTx> = {
  type: 'member.join',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'member.join', ['type', 'admits'], ['credential'], BAD_TX)
    // with admission 'credential' the credential admits and `admits` is empty (L51)
    const admits = expectTxIds(r.admits, 'member.join.admits', Math.max(1, ctx.genesis.admitVotes) + 8, ctx.genesis.admission === 'credential' ? 0 : 1)
    if (isFounder(ctx.genesis, ctx.issuer)) fail(BAD_TX, 'a validator needs no join')
    if (r.credential === undefined) return { type: 'member.join', admits }
    if (ctx.genesis.admission !== 'credential') fail(BAD_TX, 'a credential admits only where the genesis says so')
    const credential = expectString(r.credential, 'member.join.credential', MAX_CREDENTIAL_CHARS, BAD_TX)
    const tx: MemberJoinTx = { type: 'member.join', admits }
    return { ...tx, credential }
  },
  deps (tx) { return tx.admits },
  apply (state, tx, ctx) {
    if (state.has(NS.member, ctx.issuer)) fail(BAD_TX, 'already a member')
    if (ctx.genesis.admission === 'credential') {
      // L51: the credential admits on its own, judged at the block's time (the engine checked it at insert too)
      checkMembershipCredential((tx as Tx).credential, ctx.genesis, ctx.issuer, ctx.chain, ctx.time)
      state.set(NS.member, ctx.issuer, { chain: ctx.chain, since: ctx.blockId } as unknown as LedgerValue)
      return
    }
    const voters = new Set<string>()
    for (const id of tx.admits) {
      const o = confirmedDep(ctx, id, 'member.admit')
      const admit = o.tx as MemberAdmitTx
      if (admit.member !== ctx.issuer || admit.chain !== ctx.chain) fail(BAD_TX, 'an admission names another member or chain')
      voters.add(o.issuer)
    }
    if (voters.size < ctx.genesis.admitVotes) fail(BAD_TX, `${voters.size} of ${ctx.genesis.admitVotes} validators admitted this member`)
    const record: MemberRecord = { chain: ctx.chain, since: ctx.blockId }
    state.set(NS.member, ctx.issuer, record as unknown as LedgerValue)
  }
}

/**
 * L46: a validator's vote to add or remove one validator. It writes nothing: the engine counts
 * votes in each block's past cone (epochs.ts), so the set that judges a block never depends on
 * the order peers confirmed things in.
 */
export const validatorVote: TxTypeDef<ValidatorVoteTx> = {
  type: 'validator.vote',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'validator.vote', ['type', 'action', 'did', 'chain', 'epoch'], [], BAD_TX)
    if (r.action !== 'add' && r.action !== 'remove') fail(BAD_TX, 'validator.vote.action is add or remove')
    const did = expectDid(r.did, 'validator.vote.did', BAD_TX)
    const chain = expectChain(r.chain, 'validator.vote.chain', ctx.genesis)
    const epoch = expectInt(r.epoch, 'validator.vote.epoch', 0, 0x7fffffff, BAD_TX)
    return { type: 'validator.vote', action: r.action, did, chain, epoch }
  },
  apply () {}
}

export const transfer: TxTypeDef<TransferTx> = {
  type: 'transfer',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'transfer', ['type', 'to', 'amount', 'toChain'], [], BAD_TX)
    const to = expectDid(r.to, 'transfer.to', BAD_TX)
    if (to === ctx.issuer) fail(BAD_TX, 'transfer to oneself')
    const amount = expectInt(r.amount, 'transfer.amount', 1, MAX_AMOUNT, BAD_TX)
    const toChain = expectChain(r.toChain, 'transfer.toChain', ctx.genesis)
    return { type: 'transfer', to, amount, toChain }
  },
  crossChain (tx, ctx) {
    return tx.toChain !== ctx.chain
  },
  apply (state, tx, ctx) {
    requireMember(state, ctx.issuer, 'the payer')
    debit(state, ctx.issuer, tx.amount)
    leaveClaim(state, ctx.txId, { from: ctx.issuer, to: tx.to, toChain: tx.toChain, amount: tx.amount, kind: 'transfer' })
  }
}

export const receive: TxTypeDef<ReceiveTx> = {
  type: 'receive',
  decode (raw) {
    const r = expectRecord(raw, 'receive', ['type', 'claims'], [], BAD_TX)
    return { type: 'receive', claims: expectClaimKeys(r.claims, 'receive.claims') }
  },
  deps (tx) { return [...new Set(tx.claims.map(claimTxId))] },
  apply (state, tx, ctx) {
    const me = requireMember(state, ctx.issuer, 'the recipient')
    let total = 0
    for (const key of tx.claims) {
      const c = claimOf(state, key)
      if (c == null) fail(BAD_TX, `no claim ${key.slice(0, 24)}…`)
      if (c.to !== ctx.issuer) fail(BAD_TX, 'the claim is for another member')
      if (c.toChain !== '' && c.toChain !== me.chain) fail(BAD_TX, `the claim is for chain ${c.toChain}, the recipient is on ${me.chain}`)
      if (state.has(NS.received, key)) fail(BAD_TX, 'claim already received')
      state.set(NS.received, key, ctx.txId)
      total += c.amount
    }
    credit(state, ctx.issuer, total)
  }
}

/** Longest a deposit may stay locked: 30 days. */
export const MAX_DEPOSIT_MS = 30 * 24 * 3600 * 1000

export const depositLock: TxTypeDef<DepositLockTx> = {
  type: 'deposit.lock',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'deposit.lock', ['type', 'provider', 'amount', 'deadline', 'ref'], [], BAD_TX)
    const provider = expectDid(r.provider, 'deposit.lock.provider', BAD_TX)
    if (provider === ctx.issuer) fail(BAD_TX, 'a deposit for oneself')
    const amount = expectInt(r.amount, 'deposit.lock.amount', 1, MAX_AMOUNT, BAD_TX)
    const deadline = expectInt(r.deadline, 'deposit.lock.deadline', 0, Number.MAX_SAFE_INTEGER, BAD_TX)
    const ref = expectString(r.ref, 'deposit.lock.ref', 128, BAD_TX)
    return { type: 'deposit.lock', provider, amount, deadline, ref }
  },
  apply (state, tx, ctx) {
    requireMember(state, ctx.issuer, 'the payer')
    if (tx.deadline <= ctx.time || tx.deadline > ctx.time + MAX_DEPOSIT_MS) fail(BAD_TX, 'the deadline must be after the block and within 30 days')
    debit(state, ctx.issuer, tx.amount)
    const record: EscrowRecord = { payer: ctx.issuer, provider: tx.provider, amount: tx.amount, deadline: tx.deadline, ref: tx.ref, closedBy: null }
    state.set(NS.escrow, ctx.txId, record as unknown as LedgerValue)
  }
}

/** The conflict key of a deposit: one confirmed settle or refund closes it (L45). */
export function escrowConflict (deposit: TxId): string {
  return `escrow:${deposit}`
}

export const depositRefund: TxTypeDef<DepositRefundTx> = {
  type: 'deposit.refund',
  decode (raw) {
    const r = expectRecord(raw, 'deposit.refund', ['type', 'deposit'], [], BAD_TX)
    return { type: 'deposit.refund', deposit: expectTxId(r.deposit, 'deposit.refund.deposit') }
  },
  deps (tx) { return [tx.deposit] },
  conflicts (tx) { return [escrowConflict(tx.deposit)] },
  checkDeps (tx, ctx) {
    const lock = ctx.txOf(tx.deposit)
    if (lock == null || lock.tx.type !== 'deposit.lock') fail(BAD_TX, 'deposit.refund names no deposit.lock')
    if (lock.issuer !== ctx.issuer) fail(BAD_TX, 'only the payer refunds its deposit')
    if (ctx.time <= (lock.tx as DepositLockTx).deadline) fail(BAD_TX, 'the deposit is locked until its deadline')
  },
  apply (state, tx, ctx) {
    confirmedDep(ctx, tx.deposit, 'deposit.lock')
    const e = escrowOf(state, tx.deposit)
    if (e == null) fail(BAD_TX, 'no such deposit')
    if (e.payer !== ctx.issuer) fail(BAD_TX, 'only the payer refunds its deposit')
    if (ctx.time <= e.deadline) fail(BAD_TX, 'the deposit is locked until its deadline')
    if (e.closedBy != null) fail(BAD_TX, 'the deposit is closed')
    state.set(NS.escrow, tx.deposit, { ...e, closedBy: ctx.txId } as unknown as LedgerValue)
    credit(state, ctx.issuer, e.amount)
  }
}

function decodeHashTx (type: CredentialAnchorTx['type']) {
  return (raw: Record<string, unknown>): CredentialAnchorTx => {
    const r = expectRecord(raw, type, ['type', 'hash'], [], BAD_TX)
    return { type, hash: expectString(r.hash, `${type}.hash`, 64, BAD_TX, HASH_HEX) }
  }
}

export const credentialAnchor: TxTypeDef<CredentialAnchorTx> = {
  type: 'credential.anchor',
  decode: decodeHashTx('credential.anchor'),
  apply (state, tx, ctx) {
    requireMember(state, ctx.issuer, 'the issuer')
    // keyed by issuer too: two issuers anchoring one hash must not depend on their order
    if (anchorOf(state, tx.hash, ctx.issuer) != null) fail(BAD_TX, 'credential already anchored')
    const record: AnchorRecord = { issuer: ctx.issuer, anchoredIn: ctx.blockId, revokedIn: null }
    state.set(NS.anchor, `${tx.hash}/${ctx.issuer}`, record as unknown as LedgerValue)
  }
}

export const credentialRevoke: TxTypeDef<CredentialAnchorTx> = {
  type: 'credential.revoke',
  decode: decodeHashTx('credential.revoke'),
  apply (state, tx, ctx) {
    const a = anchorOf(state, tx.hash, ctx.issuer)
    if (a == null) fail(BAD_TX, 'credential is not anchored by this issuer')
    if (a.revokedIn != null) fail(BAD_TX, 'credential already revoked')
    const record: AnchorRecord = { ...a, revokedIn: ctx.blockId }
    state.set(NS.anchor, `${tx.hash}/${ctx.issuer}`, record as unknown as LedgerValue)
  }
}

export const BUILTIN_TX_TYPES: readonly TxTypeDef[] = [
  memberAdmit, memberJoin, validatorVote, transfer, receive, depositLock, depositRefund, credentialAnchor, credentialRevoke
] as unknown as readonly TxTypeDef[]

/** A registry with the built-in types and `extra` ones (e.g. the market's). */
export function createTxRegistry (extra: readonly TxTypeDef[] = []): TxRegistry {
  const r = new TxRegistry()
  for (const def of BUILTIN_TX_TYPES) r.register(def)
  for (const def of extra) r.register(def)
  return r
}

/**
 * The registry engines use unless given another. Modules that add transaction types call
 * `registerTxType` once at start-up, before any engine validates a block.
 */
export const defaultTxRegistry: TxRegistry = createTxRegistry()

export function registerTxType<T extends Tx> (def: TxTypeDef<T>): void {
  defaultTxRegistry.register(def)
}
