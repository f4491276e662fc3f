/**
 * `/alliance/sync/1`: catch-up for a peer that was away (SPEC.md S1–S6). One request per
 * stream, dag-cbor frames with size caps:
 *   { t: 'inv', from, limit } -> { ids, next, total }   the remote's block ids in its storage
 *                                                      order (parents before children), paged
 *   { t: 'get', ids }         -> { blocks }             the blocks' bytes, in the asked order
 * Fetching in storage order means a batch's parents are already known, so a late joiner
 * validates and stores whole batches instead of parking orphans one by one.
 */
import type { MessageStream } from '@libp2p/interface'
import { decode, encode } from '../core/codec.ts'
import { InvalidInputError } from '../core/errors.ts'
import { readOneFrame, writeFrame } from './frames.ts'
import { widenSyncMessages } from './sync-wide.ts'

export const SYNC_PROTOCOL = '/alliance/sync/1'
/** Ids per inventory page (about 60 bytes each). */
export const SYNC_INV_LIMIT = 2000
/** Blocks per `get`. */
export const SYNC_GET_LIMIT = 256
export const SYNC_REQUEST_MAX_BYTES = 64 * 1024
/** A reply stops adding blocks past this size (one block may still make it larger, up to the cap). */
export const SYNC_REPLY_SOFT_BYTES = 1024 * 1024
export const SYNC_REPLY_MAX_BYTES = 4 * 1024 * 1024
/**
 * A request that has no reply after this long is given up (the stream aborted): a stream on
 * a connection that died without closing used to hold a sync (and its "Syncing 0 of N")
 * until the connection timed out; the sync is then tried again (S13).
 */
export const SYNC_REQUEST_TIMEOUT_MS = 20_000
const ID = /^[a-z2-7]{8,100}$/

export type SyncRequest = { t: 'inv', from: number, limit: number } | { t: 'get', ids: string[] }
export interface InvReply { ids: string[], next: number | null, total: number }
export interface GetReply { blocks: Uint8Array[] }

/** What a peer serves sync from (its block store). */
export interface SyncSource {
  inventory: (from: number, limit: number) => Promise<InvReply>
  getBlocks: (ids: string[]) => Promise<Uint8Array[]>
}

function bad (message: string): never {
  throw new InvalidInputError(message, 'ERR_BAD_SYNC')
}

export function parseSyncRequest (value: unknown): SyncRequest {
  if (typeof value !== 'object' || value == null) bad('sync request must be a map')
  const r = value as Record<string, unknown>
  if (r.t === 'inv') {
    if (!Number.isSafeInteger(r.from) || (r.from as number) < 0) bad('inv.from must be a non-negative integer')
    if (!Number.isSafeInteger(r.limit) || (r.limit as number) < 1) bad('inv.limit must be a positive integer')
    return { t: 'inv', from: r.from as number, limit: Math.min(r.limit as number, SYNC_INV_LIMIT) }
  }
  if (r.t === 'get') {
    if (!Array.isArray(r.ids) || r.ids.length > SYNC_GET_LIMIT) bad(`get.ids must be a list of at most ${SYNC_GET_LIMIT} ids`)
    const ids = r.ids.map((id) => (typeof id === 'string' && ID.test(id) ? id : bad('get.ids must be block ids')))
    return { t: 'get', ids }
  }
  return bad('unknown sync request')
}

function parseInvReply (value: unknown): InvReply {
  const r = value as Partial<InvReply> | null
  if (r == null || !Array.isArray(r.ids) || r.ids.length > SYNC_INV_LIMIT || !r.ids.every((id) => typeof id === 'string' && ID.test(id))) bad('malformed inventory reply')
  if (!(r.next === null || (Number.isSafeInteger(r.next) && (r.next as number) >= 0))) bad('malformed inventory cursor')
  if (!Number.isSafeInteger(r.total)) bad('malformed inventory total')
  return { ids: r.ids, next: r.next as number | null, total: r.total as number }
}

function parseGetReply (value: unknown): GetReply {
  const r = value as Partial<GetReply> | null
  if (r == null || !Array.isArray(r.blocks) || r.blocks.length > SYNC_GET_LIMIT || !r.blocks.every((b) => b instanceof Uint8Array)) bad('malformed blocks reply')
  return { blocks: r.blocks }
}

/** Serves one request on `stream`. Errors are typed; the caller counts them against the peer. */
export async function serveSync (stream: MessageStream, source: SyncSource, signal?: AbortSignal): Promise<void> {
  const req = parseSyncRequest(decode(await readOneFrame(stream, SYNC_REQUEST_MAX_BYTES, { signal }), SYNC_REQUEST_MAX_BYTES))
  // S41: the reply in data-channel messages as wide as the transport takes, not 16 KiB ones
  widenSyncMessages(stream)
  let reply: InvReply | GetReply
  if (req.t === 'inv') {
    reply = await source.inventory(req.from, req.limit)
  } else {
    const blocks: Uint8Array[] = []
    let size = 0
    for (const b of await source.getBlocks(req.ids)) {
      if (size + b.byteLength > SYNC_REPLY_SOFT_BYTES && blocks.length > 0) break
      blocks.push(b)
      size += b.byteLength
    }
    reply = { blocks }
  }
  await writeFrame(stream, encode(reply), { signal })
  await stream.close({ signal })
}

/** Opens streams to one remote for requests (the caller provides the stream opener). */
export class SyncClient {
  constructor (
    private readonly open: (signal?: AbortSignal) => Promise<MessageStream>,
    private readonly timeoutMs = SYNC_REQUEST_TIMEOUT_MS
  ) {}

  private async request (req: SyncRequest, outer?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = outer == null ? timeout : AbortSignal.any([outer, timeout])
    const stream = await this.open(signal)
    try {
      await writeFrame(stream, encode(req), { signal })
      const reply = decode(await readOneFrame(stream, SYNC_REPLY_MAX_BYTES, { signal }), SYNC_REPLY_MAX_BYTES)
      await stream.close({ signal }).catch(() => {})
      return reply
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  async inventory (from: number, limit = SYNC_INV_LIMIT, signal?: AbortSignal): Promise<InvReply> {
    return parseInvReply(await this.request({ t: 'inv', from, limit }, signal))
  }

  async getBlocks (ids: string[], signal?: AbortSignal): Promise<Uint8Array[]> {
    return parseGetReply(await this.request({ t: 'get', ids }, signal)).blocks
  }
}
