/**
 * Invitations and join requests (SPEC A1–A5): how a person gets into an alliance by the
 * paper's "subject control" (5.3). A validator signs an invitation; its link or QR carries the
 * genesis (so the invitee can validate everything it later receives), the inviter, an expiry
 * and relays. The invitee asks to join with a request naming the invitation; the inviting
 * validator admits holders of its own unexpired invitations automatically and shows others to
 * its owner to decide. Pure: no clock (`now` is a parameter), no I/O.
 */
import { decode, encode } from './codec.ts'
import { concatBytes, fromBase64url, toBase64url } from './bytes.ts'
import { AllianceError } from './errors.ts'
import { parseDid, publicKeyFromDid, sign, verify, didFromPublicKey, generateKeyPair } from './identity.ts'
import type { Did } from './identity.ts'
import { decodeGenesis, encodeGenesis, genesisId } from './ledger/genesis.ts'
import type { Genesis } from './ledger/types.ts'
import { isRecord } from './ledger/check.ts'

export const InvitationErrorCode = {
  MALFORMED: 'ERR_BAD_INVITATION',
  FORGED: 'ERR_INVITATION_FORGED',
  EXPIRED: 'ERR_INVITATION_EXPIRED',
  NOT_VALIDATOR: 'ERR_INVITER_NOT_VALIDATOR'
} as const
export type InvitationErrorCode = typeof InvitationErrorCode[keyof typeof InvitationErrorCode]

export class InvitationError extends AllianceError {
  declare readonly code: InvitationErrorCode
  constructor (code: InvitationErrorCode, message: string) { super(code, message) }
}

const DOMAIN = new TextEncoder().encode('alliance-net/invitation/v1\n')
/** Links stay short enough for a QR code: the genesis is at most a few hundred bytes. */
export const INVITATION_MAX_BYTES = 8 * 1024

/** What the inviter signs: the alliance, itself, when it ends, and a nonce. */
export interface InvitationToken {
  readonly alliance: string
  readonly inviter: Did
  readonly expires: number
  readonly nonce: string
  readonly sig: Uint8Array
}

export interface Invitation {
  readonly v: 1
  readonly genesis: Genesis
  readonly token: InvitationToken
  /** Signaling relays to reach the alliance (multiaddrs). */
  readonly relays: readonly string[]
  /** A name the inviter gives itself, shown as unverified. */
  readonly from: string
}

function tokenBytes (t: Omit<InvitationToken, 'sig'>): Uint8Array {
  return concatBytes(DOMAIN, encode({ alliance: t.alliance, inviter: t.inviter, expires: t.expires, nonce: t.nonce }))
}

export function createInvitation (o: { genesis: Genesis, seed: Uint8Array, expires: number, nonce: string, relays?: readonly string[], from?: string }): Invitation {
  const inviter = didFromPublicKey(generateKeyPair(o.seed).publicKey)
  const unsigned = { alliance: genesisId(o.genesis), inviter, expires: o.expires, nonce: o.nonce }
  return { v: 1, genesis: o.genesis, token: { ...unsigned, sig: sign(o.seed, tokenBytes(unsigned)) }, relays: [...(o.relays ?? [])], from: o.from ?? '' }
}

/**
 * Checks a token: signed by its inviter, one of `validators` (the alliance's current set; the
 * genesis founders by default), for this alliance, not expired.
 */
export function checkToken (token: InvitationToken, genesis: Genesis, now: number, validators: readonly string[] = genesis.founders.map(f => f.did)): void {
  if (token.alliance !== genesisId(genesis)) throw new InvitationError(InvitationErrorCode.MALFORMED, 'the invitation is for another alliance')
  if (!validators.includes(token.inviter)) throw new InvitationError(InvitationErrorCode.NOT_VALIDATOR, 'the inviter is not a validator of this alliance')
  if (!verify(publicKeyFromDid(token.inviter), tokenBytes(token), token.sig)) throw new InvitationError(InvitationErrorCode.FORGED, 'the invitation signature is not the inviter\'s')
  if (now > token.expires) throw new InvitationError(InvitationErrorCode.EXPIRED, 'the invitation has expired: ask for a new one')
}

function parseToken (v: unknown): InvitationToken {
  const bad = (why: string): never => { throw new InvitationError(InvitationErrorCode.MALFORMED, `invitation token: ${why}`) }
  if (!isRecord(v)) bad('not a map')
  const r = v as Record<string, unknown>
  if (typeof r.alliance !== 'string' || r.alliance.length > 128) bad('alliance')
  if (typeof r.expires !== 'number' || !Number.isSafeInteger(r.expires)) bad('expires')
  if (typeof r.nonce !== 'string' || r.nonce.length > 64) bad('nonce')
  if (!(r.sig instanceof Uint8Array) || r.sig.length !== 64) bad('sig')
  let inviter: Did
  try { inviter = parseDid(r.inviter as string) } catch { return bad('inviter') }
  return { alliance: r.alliance as string, inviter, expires: r.expires as number, nonce: r.nonce as string, sig: r.sig as Uint8Array }
}

export function encodeInvitation (inv: Invitation): Uint8Array {
  return encode({ v: 1, genesis: encodeGenesis(inv.genesis), token: inv.token, relays: [...inv.relays], from: inv.from })
}

/** Decodes untrusted invitation bytes (the signature is checked by `checkToken`). */
export function decodeInvitation (bytes: Uint8Array): Invitation {
  if (bytes.byteLength > INVITATION_MAX_BYTES) throw new InvitationError(InvitationErrorCode.MALFORMED, 'the invitation is too large')
  let v: unknown
  try { v = decode(bytes, INVITATION_MAX_BYTES) } catch { throw new InvitationError(InvitationErrorCode.MALFORMED, 'the invitation does not decode') }
  if (!isRecord(v) || v.v !== 1 || !(v.genesis instanceof Uint8Array)) throw new InvitationError(InvitationErrorCode.MALFORMED, 'not an invitation')
  let genesis: Genesis
  try { genesis = decodeGenesis(v.genesis) } catch (err) { throw new InvitationError(InvitationErrorCode.MALFORMED, `the invitation's genesis: ${(err as Error).message}`) }
  const relays = Array.isArray(v.relays) ? v.relays.filter((r): r is string => typeof r === 'string' && r.length < 512).slice(0, 8) : []
  const from = typeof v.from === 'string' ? v.from.slice(0, 64) : ''
  return { v: 1, genesis, token: parseToken(v.token), relays, from }
}

/** base64url without padding, for links and QR codes. */
export function invitationToText (inv: Invitation): string {
  return toBase64url(encodeInvitation(inv))
}

/** Takes the text itself or a whole link (`…?invite=…`). */
export function invitationFromText (text: string): Invitation {
  const clean = text.trim().replace(/^.*[?&#]invite=/, '').replace(/[&#].*$/, '')
  let bytes: Uint8Array
  try { bytes = fromBase64url(clean) } catch { throw new InvitationError(InvitationErrorCode.MALFORMED, 'the invitation link is damaged') }
  return decodeInvitation(bytes)
}

/** A join request, gossiped on the alliance's admission topic, signed by the transport (its author is its sender). */
export interface JoinRequest {
  readonly v: 1
  readonly alliance: string
  readonly chain: string
  /** A name the requester gives itself (unverified). */
  readonly name: string
  readonly token: InvitationToken | null
}

export function encodeJoinRequest (r: JoinRequest): Uint8Array {
  return encode({ v: 1, alliance: r.alliance, chain: r.chain, name: r.name, token: r.token })
}

export function decodeJoinRequest (bytes: Uint8Array): JoinRequest {
  let v: unknown
  try { v = decode(bytes, 2048) } catch { throw new InvitationError(InvitationErrorCode.MALFORMED, 'join request does not decode') }
  if (!isRecord(v) || v.v !== 1 || typeof v.alliance !== 'string' || typeof v.chain !== 'string' || v.chain.length > 32) {
    throw new InvitationError(InvitationErrorCode.MALFORMED, 'not a join request')
  }
  const name = typeof v.name === 'string' ? v.name.slice(0, 64) : ''
  return { v: 1, alliance: v.alliance, chain: v.chain, name, token: v.token == null ? null : parseToken(v.token) }
}
