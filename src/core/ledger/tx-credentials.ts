/**
 * Built-in credential transactions: a member anchors the hash of a credential it issued
 * (`credential.anchor`, keyed by hash and issuer so two issuers of one hash do not depend on
 * their order) and may revoke it later (`credential.revoke`).
 */
import { fail, LedgerErrorCode } from './errors.ts'
import { expectRecord, expectString, HASH_HEX } from './check.ts'
import type { TxTypeDef } from './tx-registry.ts'
import { anchorOf, NS, requireMember } from './tx-records.ts'
import type { AnchorRecord } from './tx-records.ts'
import type { LedgerValue, Tx } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

export interface CredentialAnchorTx extends Tx {
  readonly type: 'credential.anchor' | 'credential.revoke'
  /** Lower-case hex sha-256 of the credential (e.g. of its JWT). */
  readonly hash: string
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
