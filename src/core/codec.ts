/**
 * The canonical codec for everything that is signed or content-addressed: dag-cbor (RFC 8949
 * deterministic encoding as IPLD defines it) and CIDv1 over sha-256. The same value always
 * gives the same bytes and the same CID, in Node, the browser and a Worker. Hashing uses
 * @noble/hashes so that CIDs are computed synchronously everywhere.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { InvalidInputError, TooLargeError } from './errors.ts'

export { CID }

/** Multicodec code of sha2-256. */
const SHA256_CODE = 0x12

export function sha256 (bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes)
}

export function encode (value: unknown): Uint8Array {
  try {
    return dagCbor.encode(value)
  } catch (err) {
    throw new InvalidInputError(`value cannot be encoded as dag-cbor: ${(err as Error).message}`, 'ERR_ENCODE', { cause: err })
  }
}

/**
 * Decodes untrusted bytes. `maxBytes` is checked before any parsing so that an oversized
 * frame costs nothing; dag-cbor itself rejects non-canonical forms (indefinite lengths,
 * undefined, non-string map keys), and prototype keys cannot become properties because the
 * decoder builds plain objects with defineProperty semantics.
 */
export function decode<T = unknown> (bytes: Uint8Array, maxBytes = 1 << 20): T {
  if (!(bytes instanceof Uint8Array)) throw new InvalidInputError('expected bytes', 'ERR_DECODE')
  if (bytes.byteLength > maxBytes) throw new TooLargeError(`${bytes.byteLength} bytes is over the limit of ${maxBytes}`)
  try {
    return dagCbor.decode<T>(bytes)
  } catch (err) {
    throw new InvalidInputError(`malformed dag-cbor: ${(err as Error).message}`, 'ERR_DECODE', { cause: err })
  }
}

export function cidOfBytes (bytes: Uint8Array): CID {
  return CID.createV1(dagCbor.code, Digest.create(SHA256_CODE, sha256(bytes)))
}

export function cidOf (value: unknown): CID {
  return cidOfBytes(encode(value))
}

export function parseCid (text: string): CID {
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidInputError(`not a CID: ${text.slice(0, 80)}`, 'ERR_BAD_CID', { cause: err })
  }
}
