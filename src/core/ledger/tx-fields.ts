/**
 * Field checks the built-in transaction types share when they decode untrusted transactions
 * (transaction ids, claim keys, chains; all ERR_BAD_TX), and reading a dependency that must be
 * confirmed when a transaction applies.
 */
import { fail, LedgerErrorCode } from './errors.ts'
import { expectBlockId, expectString } from './check.ts'
import type { TxApplyContext, TxOutcome } from './tx-registry.ts'
import type { BlockId, Genesis, TxId } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

/** Claims one `receive` may take (a block holds at most 64 transactions anyway). */
export const MAX_RECEIVE_CLAIMS = 64

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

export function expectTxIds (value: unknown, what: string, max: number, min = 1): TxId[] {
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

export function expectChain (value: unknown, what: string, genesis: Genesis): string {
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

export function expectClaimKeys (value: unknown, what: string): string[] {
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
