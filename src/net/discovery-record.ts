/**
 * The record `@libp2p/pubsub-peer-discovery` gossips (protobuf `Peer { bytes publicKey = 1;
 * repeated bytes addrs = 2; }`), decoded strictly and within bounds before anything else
 * looks at it (SPEC N12). The library's own decoder accepts any size and unknown fields; this
 * one refuses records a well-behaved peer never sends, so a flood of them costs a few
 * comparisons each.
 */
import { AllianceError } from '../core/errors.ts'

/** A protobuf public key (type + 32-byte Ed25519 key) is 36 bytes; RSA keys are not used here. */
export const MAX_RECORD_KEY_BYTES = 128
/** Addresses in one record: a peer behind a few relays announces a handful. */
export const MAX_RECORD_ADDRS = 16
/** One multiaddr's bytes: a relayed WebRTC address with two peer ids is about 90. */
export const MAX_RECORD_ADDR_BYTES = 256
/** A whole record. */
export const MAX_RECORD_BYTES = 4096

export class DiscoveryRecordError extends AllianceError {}

export interface DiscoveryRecord {
  publicKey: Uint8Array
  addrs: Uint8Array[]
}

export function decodeDiscoveryRecord (bytes: Uint8Array): DiscoveryRecord {
  if (bytes.byteLength > MAX_RECORD_BYTES) throw new DiscoveryRecordError('ERR_FRAME_TOO_LARGE', `discovery record of ${bytes.byteLength} bytes`)
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (at >= bytes.length) throw bad('truncated varint')
      const b = bytes[at++]
      value |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return value
    }
    throw bad('varint too long')
  }
  let publicKey: Uint8Array | null = null
  const addrs: Uint8Array[] = []
  while (at < bytes.length) {
    const tag = varint()
    if ((tag & 7) !== 2) throw bad(`unexpected wire type in tag ${tag}`)
    const length = varint()
    if (at + length > bytes.length) throw bad('field runs past the end')
    const value = bytes.subarray(at, at + length)
    at += length
    if (tag >>> 3 === 1) {
      if (publicKey != null) throw bad('two public keys')
      if (length > MAX_RECORD_KEY_BYTES) throw bad('public key too long')
      publicKey = value
    } else if (tag >>> 3 === 2) {
      if (addrs.length >= MAX_RECORD_ADDRS) throw bad(`more than ${MAX_RECORD_ADDRS} addresses`)
      if (length > MAX_RECORD_ADDR_BYTES) throw bad('address too long')
      addrs.push(value)
    } else {
      throw bad(`unknown field ${tag >>> 3}`)
    }
  }
  if (publicKey == null) throw bad('no public key')
  return { publicKey, addrs }
}

function bad (why: string): DiscoveryRecordError {
  return new DiscoveryRecordError('ERR_BAD_RECORD', `discovery record: ${why}`)
}
