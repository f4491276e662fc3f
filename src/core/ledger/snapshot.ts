/**
 * Checkpoint encoding: an engine snapshot as dag-cbor bytes, so the store can keep it in one
 * record and a peer can reopen a large ledger without validating and replaying every block.
 */
import { decode, encode } from '../codec.ts'
import { LedgerError, LedgerErrorCode } from './errors.ts'
import type { LedgerSnapshot } from './engine-types.ts'

/** A checkpoint of ~1M blocks stays under this; beyond it the snapshot is refused. */
export const SNAPSHOT_MAX_BYTES = 512 * 1024 * 1024

export function encodeSnapshot (snapshot: LedgerSnapshot): Uint8Array {
  return encode(snapshot)
}

export function decodeSnapshot (bytes: Uint8Array): LedgerSnapshot {
  try {
    return decode<LedgerSnapshot>(bytes, SNAPSHOT_MAX_BYTES)
  } catch (err) {
    throw new LedgerError(LedgerErrorCode.MALFORMED, `snapshot does not decode: ${(err as Error).message}`, { cause: err })
  }
}
