/**
 * Hotspot credentials (issue 5 §5): the provider's Wi-Fi name, security and password, checked
 * once when the provider enters them, sealed end to end to the payer's DID when a session
 * starts (the DM envelope of src/core/dm.ts: X25519 from Ed25519, XChaCha20-Poly1305, signed
 * by the provider), and shown to the payer as text and as the standard Wi-Fi QR payload
 * `WIFI:T:<WPA|WEP|nopass>;S:<ssid>;P:<password>;;` (`\ ; , " :` escaped with a backslash).
 * The session id sits inside the sealed payload, so an envelope cannot be replayed into
 * another session.
 */
import { decode, encode } from '../core/codec.ts'
import { AllianceError } from '../core/errors.ts'
import { openEnvelope, sealEnvelope } from '../core/dm.ts'
import type { Did } from '../core/identity.ts'

export type WifiSecurity = 'WPA' | 'WEP' | 'nopass'
export const WIFI_SECURITIES: readonly WifiSecurity[] = ['WPA', 'WEP', 'nopass']

export interface HotspotSecret {
  readonly ssid: string
  readonly security: WifiSecurity
  /** Empty for `nopass`. */
  readonly password: string
}

export interface HotspotCredentials extends HotspotSecret {
  /** The Wi-Fi QR payload a phone camera understands. */
  readonly wifiQr: string
}

export const HotspotRejection = {
  SSID: 'ERR_HOTSPOT_SSID',
  SECURITY: 'ERR_HOTSPOT_SECURITY',
  PASSWORD: 'ERR_HOTSPOT_PASSWORD',
  /** The sealed credentials are not for this session, not from its provider, or damaged. */
  ENVELOPE: 'ERR_HOTSPOT_ENVELOPE',
  /** No credentials are set (or they cannot be read). */
  NOT_SET: 'ERR_HOTSPOT_NOT_SET'
} as const
export type HotspotRejectionCode = typeof HotspotRejection[keyof typeof HotspotRejection]

export class HotspotError extends AllianceError {
  declare readonly code: HotspotRejectionCode
  constructor (code: HotspotRejectionCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/
const HEX = /^[0-9a-fA-F]*$/

/** Checks what a provider entered; returns a clean copy. */
export function parseHotspotSecret (value: unknown): HotspotSecret {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HotspotError(HotspotRejection.SSID, 'hotspot credentials must be { ssid, security, password }')
  const r = value as Record<string, unknown>
  const ssid = r.ssid
  if (typeof ssid !== 'string' || ssid.length === 0 || new TextEncoder().encode(ssid).byteLength > 32) throw new HotspotError(HotspotRejection.SSID, 'the network name (SSID) must be 1 to 32 bytes')
  const security = r.security
  if (typeof security !== 'string' || !(WIFI_SECURITIES as readonly string[]).includes(security)) throw new HotspotError(HotspotRejection.SECURITY, `security must be one of ${WIFI_SECURITIES.join(', ')}`)
  const password = r.password ?? ''
  if (typeof password !== 'string') throw new HotspotError(HotspotRejection.PASSWORD, 'the password must be text')
  if (security === 'nopass') {
    if (password !== '') throw new HotspotError(HotspotRejection.PASSWORD, 'an open network (nopass) has no password')
  } else if (security === 'WPA') {
    const ok = (password.length >= 8 && password.length <= 63 && PRINTABLE_ASCII.test(password)) || (password.length === 64 && HEX.test(password))
    if (!ok) throw new HotspotError(HotspotRejection.PASSWORD, 'a WPA password is 8 to 63 printable ASCII characters (or 64 hex digits)')
  } else {
    const ok = ((password.length === 5 || password.length === 13) && PRINTABLE_ASCII.test(password)) || ((password.length === 10 || password.length === 26) && HEX.test(password))
    if (!ok) throw new HotspotError(HotspotRejection.PASSWORD, 'a WEP key is 5 or 13 ASCII characters, or 10 or 26 hex digits')
  }
  return { ssid, security: security as WifiSecurity, password }
}

function escapeWifi (text: string): string {
  return text.replace(/[\\;,":]/g, (c) => `\\${c}`)
}

/** `WIFI:T:WPA;S:<ssid>;P:<password>;;` with the special characters escaped. */
export function wifiQrString (secret: HotspotSecret): string {
  const s = parseHotspotSecret(secret)
  if (s.security === 'nopass') return `WIFI:T:nopass;S:${escapeWifi(s.ssid)};;`
  return `WIFI:T:${s.security};S:${escapeWifi(s.ssid)};P:${escapeWifi(s.password)};;`
}

export function encodeHotspotSecret (secret: HotspotSecret): Uint8Array {
  const s = parseHotspotSecret(secret)
  return encode({ ssid: s.ssid, security: s.security, password: s.password })
}

export function decodeHotspotSecret (bytes: Uint8Array): HotspotSecret {
  try {
    return parseHotspotSecret(decode(bytes, 4096))
  } catch (err) {
    throw new HotspotError(HotspotRejection.NOT_SET, `stored hotspot credentials are unreadable: ${(err as Error).message}`, { cause: err })
  }
}

export interface SealHotspotOptions {
  readonly providerSeed: Uint8Array
  readonly payer: Did
  readonly session: string
  readonly secret: HotspotSecret
  readonly at: number
  readonly random: (length: number) => Uint8Array
}

/** The provider seals its credentials to the payer's DID for one session. */
export function sealHotspotCredentials (o: SealHotspotOptions): Uint8Array {
  const s = parseHotspotSecret(o.secret)
  const plaintext = encode({ session: o.session, ssid: s.ssid, security: s.security, password: s.password })
  return sealEnvelope({ senderSeed: o.providerSeed, to: o.payer, plaintext, at: Math.floor(o.at), random: o.random })
}

/** The payer opens the credentials of session `session` from `provider`; throws HotspotError. */
export function openHotspotCredentials (bytes: Uint8Array, payerSeed: Uint8Array, expected: { readonly provider: Did, readonly session: string }): HotspotCredentials {
  let secret: HotspotSecret
  try {
    const opened = openEnvelope(bytes, { recipientSeed: payerSeed })
    if (opened.from !== expected.provider) throw new Error('sealed by someone else than the provider')
    const value = decode<Record<string, unknown>>(opened.plaintext, 4096)
    if (value === null || typeof value !== 'object' || value.session !== expected.session) throw new Error('sealed for another session')
    secret = parseHotspotSecret({ ssid: value.ssid, security: value.security, password: value.password })
  } catch (err) {
    throw new HotspotError(HotspotRejection.ENVELOPE, `hotspot credentials: ${(err as Error).message}`, { cause: err })
  }
  return { ...secret, wifiQr: wifiQrString(secret) }
}
