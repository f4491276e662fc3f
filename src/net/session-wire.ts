/**
 * Wire format of `/alliance/session/1` (white paper 5.6.1, SPEC F1–F7): length-prefixed
 * dag-cbor frames, each a map with a `t` tag and exactly the fields of its kind. The payer
 * opens the stream and writes first.
 *
 *   payer → provider                                   provider → payer
 *   { t: 'open', request, rounds?, target?,            { t: 'accept', session, hotspot? }
 *     credential? }                                    { t: 'reject', code, message }
 *   { t: 'voucher', voucher }                          { t: 'ack', round }
 *   { t: 'stop' }                                      { t: 'nack', round, code, message }
 *   { t: 'ping' }                                      { t: 'settle', round, tx, close }
 *                                                      { t: 'ended', reason, delivered, paidRounds }
 *                                                      { t: 'ping' }
 *
 * Everything from a peer is untrusted: sizes are capped on the length prefix, frames are
 * decoded at the boundary with exact field sets, and every failure is a typed error with a
 * stable code (`SessionWireRejection`).
 */
import { decode, encode } from '../core/codec.ts'
import { AllianceError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { parseSignedSessionRequest } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { MAX_ROUND } from '../core/session/terms.ts'

export const SESSION_PROTOCOL = '/alliance/session/1'
/** The open frame may carry a JWT credential (≤ 64 KiB of text) besides the ~300-byte request. */
export const SESSION_OPEN_MAX_BYTES = 72 * 1024
/** Every other frame is small (a signed voucher is ~330 bytes, a hotspot envelope ~400). */
export const SESSION_FRAME_MAX_BYTES = 4 * 1024
/** Longest JWT credential a payer may present. */
export const MAX_CREDENTIAL_CHARS = 64 * 1024

/** Codes of the session layer that travel on the wire (besides ERR_VOUCHER_*, ERR_BUYER_*, ERR_SESSION_REQUEST_*). */
export const SessionWireRejection = {
  /** A frame that does not decode or has the wrong shape. */
  FRAME: 'ERR_SESSION_FRAME',
  /** The request names another provider than the peer asked. */
  WRONG_PROVIDER: 'ERR_SESSION_WRONG_PROVIDER',
  /** The request's payer is not the peer on the other end of the connection. */
  WRONG_PAYER: 'ERR_SESSION_WRONG_PAYER',
  /** The request's time is too far from the provider's clock. */
  STALE: 'ERR_SESSION_STALE',
  /** A session with this id was already opened (a replayed request). */
  DUPLICATE: 'ERR_SESSION_DUPLICATE',
  /** The offer is not on the provider's ledger. */
  OFFER_UNKNOWN: 'ERR_SESSION_OFFER_UNKNOWN',
  /** The offer is withdrawn or expired, or not this provider's. */
  OFFER_INACTIVE: 'ERR_SESSION_OFFER_INACTIVE',
  /** The request names another revision than the offer's current one. */
  OFFER_REVISION: 'ERR_SESSION_OFFER_REVISION',
  /** The offer serves `capacity` users already. */
  CAPACITY: 'ERR_SESSION_CAPACITY',
  /** The payer does not hold the price of a round. */
  FUNDS: 'ERR_SESSION_FUNDS',
  /** A relay session without a usable target. */
  TARGET: 'ERR_SESSION_TARGET',
  /** The provider cannot deliver this kind now (no hotspot credentials set, locked wallet…). */
  UNAVAILABLE: 'ERR_SESSION_UNAVAILABLE',
  /** The other side did not answer in time. */
  TIMEOUT: 'ERR_SESSION_TIMEOUT',
  /** The session has ended; nothing more is accepted. */
  ENDED: 'ERR_SESSION_ENDED',
  /** The provider's answer is not what this payer asked for. */
  BAD_ANSWER: 'ERR_SESSION_BAD_ANSWER'
} as const
export type SessionWireRejectionCode = typeof SessionWireRejection[keyof typeof SessionWireRejection]

/** A session-layer failure with a code that may travel on the wire (any AllianceError code). */
export class SessionProtocolError extends AllianceError {}

function frameError (message: string): never {
  throw new SessionProtocolError(SessionWireRejection.FRAME, message)
}

export interface OpenFrame {
  readonly t: 'open'
  readonly request: SignedSessionRequest
  /** Rounds the payer intends to buy; the provider stops after them. */
  readonly rounds?: number
  /** Relay sessions: the peer to forward to. */
  readonly target?: Did
  /** A JWT verifiable credential, for offers that require one (SPEC P3). */
  readonly credential?: string
}

export type PayerFrame =
  | OpenFrame
  | { readonly t: 'voucher', readonly voucher: SignedVoucher }
  | { readonly t: 'stop' }
  | { readonly t: 'ping' }

/** A payer frame as decoded: the voucher is left unchecked for the provider's book (SPEC V9). */
export type IncomingPayerFrame =
  | OpenFrame
  | { readonly t: 'voucher', readonly voucher: unknown }
  | { readonly t: 'stop' }
  | { readonly t: 'ping' }

export type ProviderFrame =
  | { readonly t: 'accept', readonly session: string, readonly hotspot?: Uint8Array }
  | { readonly t: 'reject', readonly code: string, readonly message: string }
  | { readonly t: 'ack', readonly round: number }
  | { readonly t: 'nack', readonly round: number, readonly code: string, readonly message: string }
  | { readonly t: 'settle', readonly round: number, readonly tx: string, readonly close: boolean }
  | { readonly t: 'ended', readonly reason: string, readonly delivered: number, readonly paidRounds: number }
  | { readonly t: 'ping' }

const CODE = /^ERR_[A-Z0-9_]{1,60}$/
const MAX_MESSAGE = 300
const MAX_TX_ID = 200

function record (value: unknown, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) frameError('frame is not a map')
  const rec = value as Record<string, unknown>
  for (const k of Object.keys(rec)) if (!required.includes(k) && !optional.includes(k)) frameError(`unexpected field ${k.slice(0, 32)} in a ${String(rec.t).slice(0, 16)} frame`)
  for (const k of required) if (!Object.prototype.hasOwnProperty.call(rec, k)) frameError(`missing field ${k} in a ${String(rec.t).slice(0, 16)} frame`)
  return rec
}

const has = (r: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(r, k)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isCode = (v: unknown): v is string => typeof v === 'string' && CODE.test(v)

function tagOf (value: unknown): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as { t?: unknown }).t : undefined
}

function decodeFrame (bytes: Uint8Array, maxBytes: number): unknown {
  if (bytes.byteLength > maxBytes) throw new SessionProtocolError('ERR_FRAME_TOO_LARGE', `frame of ${bytes.byteLength} bytes is over ${maxBytes}`)
  try {
    return decode(bytes, maxBytes)
  } catch (err) {
    throw new SessionProtocolError(SessionWireRejection.FRAME, `frame does not decode: ${(err as Error).message}`, { cause: err })
  }
}

/** Decodes a frame from the payer; the open frame may be larger than the others. */
export function decodePayerFrame (bytes: Uint8Array): IncomingPayerFrame {
  const value = decodeFrame(bytes, SESSION_OPEN_MAX_BYTES)
  const t = tagOf(value)
  if (t !== 'open' && bytes.byteLength > SESSION_FRAME_MAX_BYTES) throw new SessionProtocolError('ERR_FRAME_TOO_LARGE', `frame of ${bytes.byteLength} bytes is over ${SESSION_FRAME_MAX_BYTES}`)
  switch (t) {
    case 'open': {
      const r = record(value, ['t', 'request'], ['rounds', 'target', 'credential'])
      let request: SignedSessionRequest
      try {
        request = parseSignedSessionRequest(r.request)
      } catch (err) {
        if (err instanceof AllianceError) throw err
        frameError('open.request is not a signed session request')
      }
      let frame: OpenFrame = { t: 'open', request }
      if (has(r, 'rounds')) {
        if (!isCount(r.rounds) || r.rounds < 1 || r.rounds > MAX_ROUND) frameError(`open.rounds must be an integer 1..${MAX_ROUND}`)
        frame = { ...frame, rounds: r.rounds }
      }
      if (has(r, 'target')) {
        if (!isDid(r.target)) frameError('open.target must be an Ed25519 did:key')
        frame = { ...frame, target: r.target }
      }
      if (has(r, 'credential')) {
        if (typeof r.credential !== 'string' || r.credential.length === 0 || r.credential.length > MAX_CREDENTIAL_CHARS) frameError(`open.credential must be a JWT of at most ${MAX_CREDENTIAL_CHARS} characters`)
        frame = { ...frame, credential: r.credential }
      }
      return frame
    }
    case 'voucher': {
      const r = record(value, ['t', 'voucher'])
      // checked by the provider's machine (V8 first: ERR_VOUCHER_MALFORMED), not here
      return { t: 'voucher', voucher: r.voucher }
    }
    case 'stop': record(value, ['t']); return { t: 'stop' }
    case 'ping': record(value, ['t']); return { t: 'ping' }
    default: return frameError(`unknown frame type ${String(t).slice(0, 16)}`)
  }
}

/** Decodes a frame from the provider. */
export function decodeProviderFrame (bytes: Uint8Array): ProviderFrame {
  const value = decodeFrame(bytes, SESSION_FRAME_MAX_BYTES)
  const t = tagOf(value)
  switch (t) {
    case 'accept': {
      const r = record(value, ['t', 'session'], ['hotspot'])
      if (typeof r.session !== 'string' || r.session.length === 0 || r.session.length > 128) frameError('accept.session must be a session id')
      if (has(r, 'hotspot')) {
        if (!(r.hotspot instanceof Uint8Array)) frameError('accept.hotspot must be bytes')
        return { t: 'accept', session: r.session, hotspot: r.hotspot }
      }
      return { t: 'accept', session: r.session }
    }
    case 'reject': {
      const r = record(value, ['t', 'code', 'message'])
      if (!isCode(r.code) || typeof r.message !== 'string') frameError('reject must carry a code and a message')
      return { t: 'reject', code: r.code, message: r.message.slice(0, MAX_MESSAGE) }
    }
    case 'ack': {
      const r = record(value, ['t', 'round'])
      if (!isCount(r.round)) frameError('ack.round must be a round')
      return { t: 'ack', round: r.round }
    }
    case 'nack': {
      const r = record(value, ['t', 'round', 'code', 'message'])
      if (!isCount(r.round) || !isCode(r.code) || typeof r.message !== 'string') frameError('nack must carry a round, a code and a message')
      return { t: 'nack', round: r.round, code: r.code, message: r.message.slice(0, MAX_MESSAGE) }
    }
    case 'settle': {
      const r = record(value, ['t', 'round', 'tx', 'close'])
      if (!isCount(r.round) || typeof r.tx !== 'string' || r.tx.length === 0 || r.tx.length > MAX_TX_ID || typeof r.close !== 'boolean') frameError('settle must carry a round, a transaction id and close')
      return { t: 'settle', round: r.round, tx: r.tx, close: r.close }
    }
    case 'ended': {
      const r = record(value, ['t', 'reason', 'delivered', 'paidRounds'])
      if (typeof r.reason !== 'string' || r.reason.length > 32 || !isCount(r.delivered) || !isCount(r.paidRounds)) frameError('ended must carry a reason and totals')
      return { t: 'ended', reason: r.reason, delivered: r.delivered, paidRounds: r.paidRounds }
    }
    case 'ping': record(value, ['t']); return { t: 'ping' }
    default: return frameError(`unknown frame type ${String(t).slice(0, 16)}`)
  }
}

/** A signed request as the plain map that goes on the wire and into a `session.settle`. */
export function requestMap (r: SignedSessionRequest): Record<string, unknown> {
  return { v: r.v, offer: r.offer, rev: r.rev, provider: r.provider, payer: r.payer, nonce: r.nonce, time: r.time, sig: r.sig }
}

/** A signed voucher as the plain map that goes on the wire and into a `session.settle`. */
export function voucherMap (v: SignedVoucher): Record<string, unknown> {
  return { v: v.v, session: v.session, offer: v.offer, payer: v.payer, provider: v.provider, round: v.round, cumulative: v.cumulative, units: v.units, time: v.time, sig: v.sig }
}

export function encodePayerFrame (frame: PayerFrame): Uint8Array {
  switch (frame.t) {
    case 'open': {
      const out: Record<string, unknown> = { t: 'open', request: requestMap(frame.request) }
      if (frame.rounds !== undefined) out.rounds = frame.rounds
      if (frame.target !== undefined) out.target = frame.target
      if (frame.credential !== undefined) out.credential = frame.credential
      return encode(out)
    }
    case 'voucher': return encode({ t: 'voucher', voucher: voucherMap(frame.voucher) })
    case 'stop': return encode({ t: 'stop' })
    case 'ping': return encode({ t: 'ping' })
  }
}

export function encodeProviderFrame (frame: ProviderFrame): Uint8Array {
  switch (frame.t) {
    case 'accept': return encode(frame.hotspot === undefined ? { t: 'accept', session: frame.session } : { t: 'accept', session: frame.session, hotspot: frame.hotspot })
    case 'reject': return encode({ t: 'reject', code: frame.code, message: frame.message.slice(0, MAX_MESSAGE) })
    case 'ack': return encode({ t: 'ack', round: frame.round })
    case 'nack': return encode({ t: 'nack', round: frame.round, code: frame.code, message: frame.message.slice(0, MAX_MESSAGE) })
    case 'settle': return encode({ t: 'settle', round: frame.round, tx: frame.tx, close: frame.close })
    case 'ended': return encode({ t: 'ended', reason: frame.reason, delivered: frame.delivered, paidRounds: frame.paidRounds })
    case 'ping': return encode({ t: 'ping' })
  }
}
