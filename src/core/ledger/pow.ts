/**
 * Proof-of-work. The work hash of a block is sha256(header || nonce as 8 bytes big-endian),
 * where header = sha256(encoding of the block without `nonce` and `sig`). Hashing a 40-byte
 * input keeps the cost of one attempt constant whatever the block's size (a 64 KiB block would
 * otherwise cost ~1,000 times more per attempt). The nonce is still covered by the signature.
 * `mine` searches a bounded range so that a Worker can run it in chunks, report progress and
 * stop when asked.
 */
import { sha256 } from '../codec.ts'

export const POW_HEADER_BYTES = 32
/** Nonces are safe integers so that they encode as plain dag-cbor integers. */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER

/** Number of leading zero bits of a digest. */
export function leadingZeroBits (digest: Uint8Array): number {
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) { bits += 8; continue }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

function writeNonce (buf: Uint8Array, nonce: number): void {
  const hi = Math.floor(nonce / 0x100000000)
  const lo = nonce >>> 0
  buf[32] = hi >>> 24; buf[33] = (hi >>> 16) & 0xff; buf[34] = (hi >>> 8) & 0xff; buf[35] = hi & 0xff
  buf[36] = lo >>> 24; buf[37] = (lo >>> 16) & 0xff; buf[38] = (lo >>> 8) & 0xff; buf[39] = lo & 0xff
}

function checkHeader (header: Uint8Array): void {
  if (!(header instanceof Uint8Array)) throw new TypeError('PoW header must be a Uint8Array')
  if (header.length !== POW_HEADER_BYTES) throw new RangeError(`PoW header must be ${POW_HEADER_BYTES} bytes`)
}

/** The work hash of `header` with `nonce`. */
export function powDigest (header: Uint8Array, nonce: number): Uint8Array {
  checkHeader(header)
  if (!Number.isSafeInteger(nonce) || nonce < 0) throw new RangeError('nonce must be a non-negative safe integer')
  const buf = new Uint8Array(POW_HEADER_BYTES + 8)
  buf.set(header)
  writeNonce(buf, nonce)
  return sha256(buf)
}

export function checkPow (header: Uint8Array, nonce: number, difficulty: number): boolean {
  return leadingZeroBits(powDigest(header, nonce)) >= difficulty
}

export type MineResult =
  | { readonly found: true, readonly nonce: number, readonly attempts: number }
  | { readonly found: false, readonly next: number, readonly attempts: number }

/**
 * Tries nonces `startNonce, startNonce + 1, …` for at most `maxIterations` attempts. Returns
 * the first nonce that reaches `difficulty`, or where to continue. Pure and synchronous: call
 * it in chunks (e.g. 4,096 attempts) from a Worker to report progress and to cancel.
 */
export function mine (header: Uint8Array, difficulty: number, startNonce = 0, maxIterations = Number.POSITIVE_INFINITY): MineResult {
  checkHeader(header)
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 256) throw new RangeError('difficulty must be an integer in [0, 256]')
  if (!Number.isSafeInteger(startNonce) || startNonce < 0) throw new RangeError('startNonce must be a non-negative safe integer')
  if (!(maxIterations >= 0)) throw new RangeError('maxIterations must be >= 0')
  const buf = new Uint8Array(POW_HEADER_BYTES + 8)
  buf.set(header)
  let nonce = startNonce
  let attempts = 0
  while (attempts < maxIterations && nonce <= MAX_NONCE) {
    writeNonce(buf, nonce)
    attempts++
    if (leadingZeroBits(sha256(buf)) >= difficulty) return { found: true, nonce, attempts }
    nonce++
  }
  return { found: false, next: nonce, attempts }
}

/** Mines to completion, synchronously. For tests and Node; the browser mines in a Worker. */
export function mineSync (header: Uint8Array, difficulty: number): number {
  const r = mine(header, difficulty)
  if (!r.found) throw new RangeError('nonce space exhausted')
  return r.nonce
}
