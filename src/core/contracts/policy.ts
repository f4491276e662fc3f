/**
 * Rights policies (white paper 5.3): who may buy an offer, how its income is shared, and the
 * refund rule. A policy is part of an offer and therefore of the ledger, so `parsePolicy`
 * validates untrusted input strictly and returns a normalised copy with only known fields.
 * `checkBuyer` decides from credential claims the wallet has already verified (the VC's
 * signature is checked outside core); it never sees a raw credential.
 *
 * Shares are in basis points: 10000 = 100 %, so 0.01 % is representable with integers only.
 */
import type { Did } from '../identity.ts'
import { ContractRejection, contractFail } from './errors.ts'
import { expectRecord, has, isBoundedString, isDidString, isPlainObject, isSafeInt } from './guards.ts'
import type { Fail } from './guards.ts'

/** Sum of all shares of a policy: 10000 basis points = 100 %. */
export const BPS_TOTAL = 10_000
/** More share holders than this makes every settlement heavier for no product need. */
export const MAX_SHARES = 16
/** Bounds the issuers allow-list of a credential requirement. */
export const MAX_ISSUERS = 16
export const MAX_CREDENTIAL_TYPE_LENGTH = 128

export type MayBuy =
  | { readonly anyone: true }
  | { readonly credentialType: string, readonly issuers?: readonly Did[] }

export interface Share {
  readonly did: Did
  /** Basis points, integer 1..10000. */
  readonly bps: number
}

/**
 * `none`: every round the payer signed for is charged in full (white paper 5.6.1 step 4).
 * `unused-rounds`: a round the payer's newest voucher does not acknowledge as begun (its
 * `units` do not reach into that round) is not charged; see SPEC C4.
 */
export type RefundRule = 'none' | 'unused-rounds'
export const REFUND_RULES: readonly RefundRule[] = ['none', 'unused-rounds']

export interface RightsPolicy {
  readonly mayBuy: MayBuy
  /** Income split; the first holder also receives the rounding remainder (SPEC C4). */
  readonly shares: readonly Share[]
  readonly refund: RefundRule
}

/** The policy of an offer that names none: anyone may buy, all income to the provider. */
export function defaultPolicy (provider: Did): RightsPolicy {
  return { mayBuy: { anyone: true }, shares: [{ did: provider, bps: BPS_TOTAL }], refund: 'none' }
}

function parseMayBuy (value: unknown): MayBuy {
  const fail: Fail = contractFail(ContractRejection.POLICY_MAY_BUY)
  if (!isPlainObject(value)) fail('mayBuy must be { anyone: true } or { credentialType, issuers? }')
  if (has(value, 'anyone')) {
    expectRecord(value, 'mayBuy', ['anyone'], [], fail)
    if (value.anyone !== true) fail('mayBuy.anyone must be true')
    return { anyone: true }
  }
  const rec = expectRecord(value, 'mayBuy', ['credentialType'], ['issuers'], fail)
  if (!isBoundedString(rec.credentialType, MAX_CREDENTIAL_TYPE_LENGTH)) fail(`mayBuy.credentialType must be a string of 1..${MAX_CREDENTIAL_TYPE_LENGTH} characters`)
  if (!has(rec, 'issuers')) return { credentialType: rec.credentialType }
  const issuers = rec.issuers
  if (!Array.isArray(issuers) || issuers.length < 1 || issuers.length > MAX_ISSUERS) fail(`mayBuy.issuers must list 1..${MAX_ISSUERS} DIDs`)
  const seen = new Set<string>()
  for (const i of issuers) {
    if (!isDidString(i)) fail('mayBuy.issuers holds something that is not an Ed25519 did:key')
    if (seen.has(i)) fail('mayBuy.issuers lists a DID twice')
    seen.add(i)
  }
  return { credentialType: rec.credentialType, issuers: [...issuers] as Did[] }
}

function parseShares (value: unknown): Share[] {
  const fail: Fail = contractFail(ContractRejection.POLICY_SHARE)
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_SHARES) fail(`shares must list 1..${MAX_SHARES} holders`)
  const out: Share[] = []
  const seen = new Set<string>()
  let sum = 0
  for (const s of value) {
    const rec = expectRecord(s, 'share', ['did', 'bps'], [], fail)
    if (!isDidString(rec.did)) fail('a share holder is not an Ed25519 did:key')
    if (!isSafeInt(rec.bps, 1, BPS_TOTAL)) fail(`a share must be an integer number of basis points in 1..${BPS_TOTAL} (got ${String(rec.bps)})`)
    if (seen.has(rec.did)) contractFail(ContractRejection.POLICY_SHARE_DUPLICATE)(`${rec.did.slice(0, 24)}… holds two shares`)
    seen.add(rec.did)
    sum += rec.bps
    out.push({ did: rec.did, bps: rec.bps })
  }
  if (sum !== BPS_TOTAL) contractFail(ContractRejection.POLICY_SHARES_SUM)(`shares sum to ${sum} basis points (${sum / 100} %), not ${BPS_TOTAL} (100 %)`)
  return out
}

/** Validates an untrusted policy and returns a normalised copy; throws ContractError. */
export function parsePolicy (value: unknown): RightsPolicy {
  const rec = expectRecord(value, 'policy', ['mayBuy', 'shares', 'refund'], [], contractFail(ContractRejection.POLICY_SHAPE))
  const mayBuy = parseMayBuy(rec.mayBuy)
  const shares = parseShares(rec.shares)
  if (typeof rec.refund !== 'string' || !(REFUND_RULES as readonly string[]).includes(rec.refund)) {
    contractFail(ContractRejection.POLICY_REFUND)(`refund must be one of ${REFUND_RULES.join(', ')}`)
  }
  return { mayBuy, shares, refund: rec.refund as RefundRule }
}

/** Claims of a credential whose signature the wallet has already verified. Times in ms. */
export interface CredentialClaims {
  readonly issuer: Did
  readonly subject: Did
  /** The VC's `type` entries, e.g. ['VerifiableCredential', 'AllianceMember']. */
  readonly types: readonly string[]
  readonly issuedAt?: number
  readonly expiresAt?: number
}

export const BuyerRejection = {
  /** No presented credential has the required type. */
  NO_CREDENTIAL: 'ERR_BUYER_NO_CREDENTIAL',
  /** A credential of the type exists but is about somebody else. */
  WRONG_SUBJECT: 'ERR_BUYER_WRONG_SUBJECT',
  /** A credential of the type about the buyer exists but its issuer is not allowed. */
  UNTRUSTED_ISSUER: 'ERR_BUYER_UNTRUSTED_ISSUER',
  /** A matching credential exists but is expired or not yet valid at `now`. */
  CREDENTIAL_TIME: 'ERR_BUYER_CREDENTIAL_TIME'
} as const
export type BuyerRejectionCode = typeof BuyerRejection[keyof typeof BuyerRejection]

export type BuyerCheck =
  | { readonly ok: true, readonly credential?: CredentialClaims }
  | { readonly ok: false, readonly code: BuyerRejectionCode, readonly message: string }

/**
 * May `buyer` buy under `policy` at time `now` (ms), given verified credential claims?
 * Passes with the first credential that satisfies every condition; otherwise reports the
 * failure of the credential that came closest (type → subject → issuer → validity time).
 * Revoked credentials must be filtered out by the caller (revocations live on the ledger).
 */
export function checkBuyer (policy: RightsPolicy, buyer: Did, presented: readonly CredentialClaims[], now: number): BuyerCheck {
  if (!Number.isFinite(now)) throw new RangeError('now must be a finite number of milliseconds')
  const rule = policy.mayBuy
  if ('anyone' in rule) return { ok: true }
  const stages: Array<[BuyerRejectionCode, string]> = [
    [BuyerRejection.NO_CREDENTIAL, `a credential of type "${rule.credentialType}" is required`],
    [BuyerRejection.WRONG_SUBJECT, `the "${rule.credentialType}" credential presented is not about the buyer`],
    [BuyerRejection.UNTRUSTED_ISSUER, `the "${rule.credentialType}" credential is not from an issuer this offer trusts`],
    [BuyerRejection.CREDENTIAL_TIME, `the "${rule.credentialType}" credential is expired or not yet valid`]
  ]
  let furthest = 0
  for (const c of presented) {
    let stage = 0
    if (Array.isArray(c.types) && c.types.includes(rule.credentialType)) {
      stage = 1
      if (c.subject === buyer) {
        stage = 2
        if (rule.issuers === undefined || rule.issuers.includes(c.issuer)) {
          stage = 3
          const notBefore = c.issuedAt ?? Number.NEGATIVE_INFINITY
          const notAfter = c.expiresAt ?? Number.POSITIVE_INFINITY
          if (now >= notBefore && now < notAfter) return { ok: true, credential: c }
        }
      }
    }
    furthest = Math.max(furthest, stage)
  }
  const [code, message] = stages[furthest]
  return { ok: false, code, message }
}
