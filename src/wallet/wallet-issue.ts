/**
 * Issuing and verifying JWT credentials through the wallet's Veramo agent: the checks on what
 * the caller asks to issue (subject DID, type, plain-JSON claims within limits, a future
 * expiry) and the credential Veramo signs; verification that never throws for a bad
 * credential (it says what is wrong instead).
 */
import { InvalidInputError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import type { WalletAgent } from './agent.ts'
import { assertCredentialType, checkFromFailure, decodeCredentialJwt, describeCheck } from './credentials.ts'
import { WalletStorageError } from './errors.ts'
import type { CredentialCheck, StoredCredential } from './types.ts'

export interface IssueCredentialArgs {
  /** The DID the credential is about. */
  subject: string
  /** The credential's type, e.g. 'AllianceMembership'. */
  type: string
  claims?: Record<string, unknown>
  expirationDate?: Date
}

const MAX_SUBJECT_CHARS = 2048
const MAX_CLAIMS_CHARS = 16 * 1024

/** Issues a JWT VC about `args.subject` signed by `issuer` at `clock()` (InvalidInputError for bad arguments). */
export async function issueCredentialJwt (agent: WalletAgent, issuer: Did, args: IssueCredentialArgs, clock: () => Date): Promise<StoredCredential> {
  if (typeof args !== 'object' || args === null) throw new TypeError('credential arguments are required')
  const { subject, type, claims = {}, expirationDate } = args
  if (typeof subject !== 'string' || !subject.startsWith('did:') || subject.length > MAX_SUBJECT_CHARS) {
    throw new InvalidInputError('the subject must be a DID', 'ERR_BAD_DID')
  }
  assertCredentialType(type)
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new InvalidInputError('claims must be an object', 'ERR_BAD_CLAIMS')
  if (Object.prototype.hasOwnProperty.call(claims, 'id')) throw new InvalidInputError('claims may not set "id": that is the subject', 'ERR_BAD_CLAIMS')
  let claimsJson: string
  try {
    claimsJson = JSON.stringify(claims)
  } catch {
    throw new InvalidInputError('claims must be JSON data', 'ERR_BAD_CLAIMS')
  }
  if (claimsJson.length > MAX_CLAIMS_CHARS) throw new InvalidInputError(`claims are over ${MAX_CLAIMS_CHARS} characters of JSON`, 'ERR_BAD_CLAIMS')
  const now = clock()
  if (expirationDate !== undefined) {
    if (!(expirationDate instanceof Date) || Number.isNaN(expirationDate.getTime())) throw new InvalidInputError('expirationDate must be a valid Date', 'ERR_BAD_DATE')
    if (expirationDate.getTime() <= now.getTime()) throw new InvalidInputError('expirationDate must be in the future', 'ERR_BAD_DATE')
  }
  const vc = await agent.createVerifiableCredential({
    proofFormat: 'jwt',
    // keep credentialSubject.id (and the dates) inside `vc` too: with no claims did-jwt-vc
    // would otherwise move the id to `sub` and refuse the then empty credentialSubject
    removeOriginalFields: false,
    credential: {
      '@context': ['https://www.w3.org/2018/credentials/v1'],
      type: ['VerifiableCredential', type],
      issuer: { id: issuer },
      issuanceDate: now.toISOString(),
      ...(expirationDate !== undefined ? { expirationDate: expirationDate.toISOString() } : {}),
      // JSON round trip: plain data only, nothing the signer could serialise differently later
      credentialSubject: { ...JSON.parse(claimsJson) as Record<string, unknown>, id: subject }
    }
  })
  const jwt: unknown = vc.proof?.jwt
  if (typeof jwt !== 'string') throw new WalletStorageError('Veramo returned a credential without a JWT proof')
  return decodeCredentialJwt(jwt)
}

/** Checks signature (via Veramo and the did:key resolver) and dates at `clock()`; never throws for a bad credential. */
export async function verifyCredentialJwt (agent: WalletAgent, jwt: string, clock: () => Date): Promise<CredentialCheck> {
  let decoded: StoredCredential
  try {
    decoded = decodeCredentialJwt(jwt)
  } catch (err) {
    if (err instanceof InvalidInputError) return describeCheck('malformed', undefined, err.message)
    throw err
  }
  try {
    const result = await agent.verifyCredential({
      credential: jwt,
      // revocation is anchored on the ledger, not in a status list Veramo could fetch
      policies: { now: Math.floor(clock().getTime() / 1000), credentialStatus: false }
    })
    if (result.verified) return describeCheck('valid', decoded)
    return checkFromFailure(result.error ?? {}, decoded)
  } catch (err) {
    return checkFromFailure({ message: (err as Error)?.message }, decoded)
  }
}
