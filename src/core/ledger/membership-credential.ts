/**
 * Admission by credential (SPEC L51, white paper 5.3 "qualification"): with genesis admission
 * 'credential', a member's `member.join` carries a JWT verifiable credential (the did-jwt-vc
 * layout the wallet issues: EdDSA over `header.payload`, `iss`, `sub`, `nbf`, `exp`) from one of
 * the genesis' `credentialIssuers`, naming the member as subject. Checked here with the block's
 * own time, so every peer decides alike; pure (no clock, no resolver: issuers are did:key).
 */
import { fromBase64url } from '../bytes.ts'
import { publicKeyFromDid, verify } from '../identity.ts'
import { LedgerError, LedgerErrorCode } from './errors.ts'
import type { Genesis } from './types.ts'

export const MAX_CREDENTIAL_CHARS = 4096
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

function refuse (why: string): never {
  throw new LedgerError(LedgerErrorCode.NOT_MEMBER, `membership credential: ${why}`)
}

function json (part: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromBase64url(part)))
    if (v == null || typeof v !== 'object' || Array.isArray(v)) refuse('a part is not a JSON object')
    return v as Record<string, unknown>
  } catch (err) {
    if (err instanceof LedgerError) throw err
    return refuse('a part does not decode')
  }
}

/**
 * Throws LedgerError(ERR_NOT_MEMBER) unless `jwt` admits `member` to `chain` at `time` (ms):
 * signed by a listed issuer, subject the member, valid at that time, and — when the credential
 * names a chain (`credentialSubject.chain`) — for that chain.
 */
export function checkMembershipCredential (jwt: unknown, genesis: Genesis, member: string, chain: string, time: number): void {
  if (typeof jwt !== 'string' || jwt.length > MAX_CREDENTIAL_CHARS || !JWT.test(jwt)) refuse('not a JWT')
  const [h, p, sig] = jwt.split('.')
  const header = json(h)
  if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519') refuse('only EdDSA (Ed25519) is accepted')
  const payload = json(p)
  const iss = payload.iss
  if (typeof iss !== 'string' || !(genesis.credentialIssuers ?? []).includes(iss as never)) refuse('its issuer is not one the alliance lists')
  if (payload.sub !== member) refuse('it names another subject')
  const seconds = time / 1000
  if (typeof payload.nbf === 'number' && payload.nbf > seconds) refuse('not valid yet')
  if (typeof payload.exp === 'number' && payload.exp <= seconds) refuse('expired')
  const vc = payload.vc as { credentialSubject?: { chain?: unknown } } | undefined
  const named = vc?.credentialSubject?.chain
  if (named !== undefined && named !== chain) refuse(`it admits to chain ${String(named).slice(0, 32)}`)
  let ok = false
  try {
    ok = verify(publicKeyFromDid(iss), new TextEncoder().encode(`${h}.${p}`), fromBase64url(sig))
  } catch {
    ok = false
  }
  if (!ok) refuse('the signature is not its issuer\'s')
}
