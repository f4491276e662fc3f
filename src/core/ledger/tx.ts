/**
 * Transactions: a registry of transaction types, and the built-in ones (`member.admit`,
 * `transfer`, `credential.anchor`, `credential.revoke`). A type gives three pure functions:
 * `decode` checks an untrusted transaction's shape when its block is validated (state-free,
 * so every peer accepts or rejects the block alike), `crossChain` says whether the
 * transaction needs approvals from another chain (white paper 5.6.2), and `apply` changes the
 * state at replay time, throwing a LedgerError to reject the transaction (its writes are then
 * rolled back). Other modules (the market) register `offer.*`, `session.settle`, `rate`…
 * Every peer of an alliance must run the same registry: a type one peer lacks makes it reject
 * blocks the others accept.
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { expectDid, expectInt, expectRecord, expectString, HASH_HEX, isRecord } from './check.ts'
import type { StateReader, StateView } from './state.ts'
import type { BlockId, Genesis, LedgerValue, Tx, TxId } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

/** What a transaction's structural check may rely on: the alliance and its block's header. */
export interface TxCheckContext {
  readonly genesis: Genesis
  readonly issuer: Did
  readonly chain: string
}

/** What `apply` may rely on in addition. */
export interface TxApplyContext extends TxCheckContext {
  readonly blockId: BlockId
  readonly txId: TxId
  readonly index: number
  readonly time: number
}

export interface TxTypeDef<T extends Tx = Tx> {
  /** `family.action`, lower case. */
  readonly type: string
  /** Checks an untrusted decoded transaction; throws LedgerError(ERR_BAD_TX). No state. */
  decode (raw: Record<string, unknown>, ctx: TxCheckContext): T
  /** True if this transaction needs `crossChainApprovals` from another chain. Default false. */
  crossChain? (tx: T, ctx: TxCheckContext): boolean
  /** Applies to the state at replay; throws LedgerError to reject (writes are then undone). */
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
}

// ---------------------------------------------------------------------------------------------
// Built-in namespaces and helpers.

/** State namespaces owned by the built-in rules. */
export const NS = {
  /** did → MemberRecord */
  member: 'member',
  /** did → credits (integer) */
  balance: 'balance',
  /** sha-256 hex → AnchorRecord */
  anchor: 'anchor',
  /** txId → error code of a transaction rejected at replay */
  rejected: 'rejected'
} as const

export interface MemberRecord {
  readonly chain: string
  /** Block whose `member.admit` admitted it, or 'genesis' for founders. */
  readonly since: string
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

export function anchorOf (state: StateReader, hash: string): AnchorRecord | undefined {
  const v = state.get(NS.anchor, hash)
  return isRecord(v) ? v as unknown as AnchorRecord : undefined
}

export function requireMember (state: StateReader, did: string, who: string): MemberRecord {
  const m = memberOf(state, did)
  if (m == null) fail(BAD_TX, `${who} is not a member`)
  return m
}

/** Moves credits; throws ERR_OVERSPEND when `from` has fewer than `amount`. */
export function moveCredits (state: StateView, from: string, to: string, amount: number): void {
  const have = balanceOf(state, from)
  if (amount > have) fail(LedgerErrorCode.OVERSPEND, `transfer of ${amount} over a balance of ${have}`)
  state.set(NS.balance, from, have - amount)
  state.set(NS.balance, to, balanceOf(state, to) + amount)
}

/** Admits a member and gives it the alliance's grant (once: a second admission is rejected). */
export function admitMember (state: StateView, did: string, chain: string, since: string, grant: number): void {
  if (state.has(NS.member, did)) fail(BAD_TX, 'already a member')
  const record: MemberRecord = { chain, since }
  state.set(NS.member, did, record as unknown as LedgerValue)
  state.set(NS.balance, did, balanceOf(state, did) + grant)
}

// ---------------------------------------------------------------------------------------------
// Built-in transaction types.

/** Largest amount a transfer may name: 2^53 - 1 keeps arithmetic exact. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER

export interface MemberAdmitTx extends Tx {
  readonly type: 'member.admit'
  readonly member: Did
  readonly chain: string
}

export interface TransferTx extends Tx {
  readonly type: 'transfer'
  readonly to: Did
  readonly amount: number
  /** The recipient's chain, checked at replay; a transfer to another chain is cross-chain. */
  readonly toChain: string
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

export const memberAdmit: TxTypeDef<MemberAdmitTx> = {
  type: 'member.admit',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'member.admit', ['type', 'member', 'chain'], [], BAD_TX)
    const member = expectDid(r.member, 'member.admit.member', BAD_TX)
    const chain = expectChain(r.chain, 'member.admit.chain', ctx.genesis)
    if (ctx.genesis.admission === 'open') {
      // demo rule: a new DID admits itself, on the chain it issues on
      if (member !== ctx.issuer) fail(BAD_TX, 'with open admission a DID can only admit itself')
      if (chain !== ctx.chain) fail(BAD_TX, 'with open admission a DID joins the chain of its block')
    } else if (!ctx.genesis.founders.some(f => f.did === ctx.issuer)) {
      fail(BAD_TX, 'only founders admit members')
    }
    return { type: 'member.admit', member, chain }
  },
  crossChain (tx, ctx) {
    return tx.chain !== ctx.chain
  },
  apply (state, tx, ctx) {
    admitMember(state, tx.member, tx.chain, ctx.blockId, ctx.genesis.grant)
  }
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
    const to = requireMember(state, tx.to, 'the recipient')
    if (to.chain !== tx.toChain) fail(BAD_TX, `the recipient is on chain ${to.chain}, not ${tx.toChain}`)
    moveCredits(state, ctx.issuer, tx.to, tx.amount)
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
    if (state.has(NS.anchor, tx.hash)) fail(BAD_TX, 'credential already anchored')
    const record: AnchorRecord = { issuer: ctx.issuer, anchoredIn: ctx.blockId, revokedIn: null }
    state.set(NS.anchor, tx.hash, record as unknown as LedgerValue)
  }
}

export const credentialRevoke: TxTypeDef<CredentialAnchorTx> = {
  type: 'credential.revoke',
  decode: decodeHashTx('credential.revoke'),
  apply (state, tx, ctx) {
    const a = anchorOf(state, tx.hash)
    if (a == null) fail(BAD_TX, 'credential is not anchored')
    if (a.issuer !== ctx.issuer) fail(BAD_TX, 'only the anchoring issuer revokes')
    if (a.revokedIn != null) fail(BAD_TX, 'credential already revoked')
    const record: AnchorRecord = { ...a, revokedIn: ctx.blockId }
    state.set(NS.anchor, tx.hash, record as unknown as LedgerValue)
  }
}

export const BUILTIN_TX_TYPES: readonly TxTypeDef[] = [memberAdmit, transfer, credentialAnchor, credentialRevoke] as unknown as readonly TxTypeDef[]

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
