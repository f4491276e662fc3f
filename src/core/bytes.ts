/** Small byte helpers (hex, base64url, constant-time compare) used across layers. */
import { bytesToHex, hexToBytes as nobleHexToBytes } from '@noble/hashes/utils.js'
import { base64url } from 'multiformats/bases/base64'
import { InvalidInputError } from './errors.ts'

export function toHex (bytes: Uint8Array): string {
  return bytesToHex(bytes)
}

export function fromHex (hex: string): Uint8Array {
  try {
    return nobleHexToBytes(hex)
  } catch (err) {
    throw new InvalidInputError('not hex', 'ERR_BAD_HEX', { cause: err })
  }
}

export function toBase64url (bytes: Uint8Array): string {
  return base64url.baseEncode(bytes)
}

export function fromBase64url (text: string): Uint8Array {
  try {
    return base64url.baseDecode(text)
  } catch (err) {
    throw new InvalidInputError('not base64url', 'ERR_BAD_BASE64', { cause: err })
  }
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
