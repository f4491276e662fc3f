/**
 * The LtHash of a checkpoint package's state, in parts (SPEC.md S31): part `p` of `parts` is
 * the commitment (P7) of the state entries whose position in the package is `p` modulo
 * `parts`. The commitment is a sum, so the parts' lanes add up to the whole state's. A job
 * decodes the package bytes itself: the entries are not sent between threads as objects
 * (that costs as much as decoding them), only the package bytes in and 2 KiB of lanes out.
 * Runs in `state-hash-worker.ts` and, where there are no workers, in the calling thread.
 */
import { decodeCheckpointPackage } from '../core/ledger/checkpoint.ts'
import { StateCommitment, encodeStateEntry } from '../core/ledger/state-commitment.ts'

export interface StateHashJob {
  readonly id: number
  readonly bytes: Uint8Array
  readonly part: number
  readonly parts: number
}

export type StateHashReply =
  | { readonly id: number, readonly lanes: Uint8Array }
  | { readonly id: number, readonly error: string }

/** The commitment lanes of part `part` of the package's state (throws on a package that does not decode). */
export function statePartLanes (bytes: Uint8Array, part: number, parts: number): Uint8Array {
  const pkg = decodeCheckpointPackage(bytes)
  const c = StateCommitment.empty()
  let i = 0
  if (!Array.isArray(pkg.state)) return c.toBytes() // the caller's shape check refuses it
  for (const space of pkg.state) {
    if (!Array.isArray(space) || !Array.isArray(space[1])) continue
    for (const pair of space[1]) {
      if (i++ % parts !== part || !Array.isArray(pair)) continue
      c.add(encodeStateEntry(space[0], pair[0], pair[1]))
    }
  }
  return c.toBytes()
}

export function runStateHashJob (job: StateHashJob): StateHashReply {
  try {
    return { id: job.id, lanes: statePartLanes(job.bytes, job.part, job.parts) }
  } catch (err) {
    return { id: job.id, error: (err as Error).message }
  }
}
