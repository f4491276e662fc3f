/**
 * The transaction type registry: what a type of transaction is (`TxTypeDef`: pure `decode`,
 * `crossChain`, `deps`, `conflicts`, `checkDeps` and `apply`), the contexts each of those is
 * given, and `TxRegistry`, which the engine and block validation ask about a transaction by
 * its `type`. Every peer of an alliance must run the same registry (tx.ts builds the default).
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { isRecord } from './check.ts'
import type { StateView } from './state.ts'
import type { BlockId, Genesis, Tx, TxId } from './types.ts'

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
