/**
 * `/alliance/checkpoint/1` and the checkpoint signature gossip (SPEC.md S20, S21): how a
 * fresh peer finds and downloads a signed checkpoint package instead of the whole history,
 * and how validators' signatures over a cut reach each other.
 *   { t: 'info' }     -> { cp: null | { at, height, time, state, body, tailFrom, bytes } }
 *   { t: 'chunk', at, i } -> one frame: bytes [i × 1 MiB, (i + 1) × 1 MiB) of the package
 *                            (empty when that cut is not held)
 *   { t: 'get', at }  -> one frame: the whole package (what peers before S30 ask; still served)
 * One request per stream, direct connections only; a request is at most 256 bytes, an info
 * reply 1 KiB, a package CHECKPOINT_WIRE_MAX_BYTES (and never more than the size its info
 * said). A joiner downloads in chunks (S30): a few in flight, each refused on its length
 * prefix when longer than its place in the package, a short one refused, a lost one asked
 * again, so memory is the package's announced size and a hostile server is cut off at its
 * first wrong chunk. The package is hostile until `verifyCheckpointPackage` passed
 * (signatures first, the LtHash last); everything malformed is a typed error counted
 * against the peer.
 */
import type { MessageStream } from '@libp2p/interface'
import { decode, encode } from '../core/codec.ts'
import { AllianceError, InvalidInputError } from '../core/errors.ts'
import { isRecord } from '../core/ledger/check.ts'
import { readOneFrame, writeFrame } from './frames.ts'
import { widenSyncMessages } from './sync-wide.ts'
import type { CheckpointMeta } from '../store/checkpoints.ts'

export const CHECKPOINT_PROTOCOL = '/alliance/checkpoint/1'
const REQUEST_MAX_BYTES = 256
const INFO_MAX_BYTES = 1024
/**
 * A package bigger than this is refused on its length prefix, before it is buffered. A
 * 100,000-block bench ledger's package is ~30 MiB, most of it state entries.
 */
export const CHECKPOINT_WIRE_MAX_BYTES = 64 * 1024 * 1024
/** An info request without a reply in this long is given up (the sync it precedes waits for it). */
export const CHECKPOINT_INFO_TIMEOUT_MS = 5_000
/** Concurrent inbound checkpoint streams per connection: a joiner keeps CHECKPOINT_CHUNKS_IN_FLIGHT chunks asked. */
export const CHECKPOINT_MAX_INBOUND_STREAMS = 4
/** A chunk of a package (S30): one frame, small enough to be cheap to lose and ask again. */
export const CHECKPOINT_CHUNK_BYTES = 1024 * 1024
/** Chunks asked at once: hides the round trip without buffering more than a few MiB ahead. */
export const CHECKPOINT_CHUNKS_IN_FLIGHT = 3
/** A chunk without its last byte in this long is asked again (a lost stream, a stalled link). */
export const CHECKPOINT_CHUNK_TIMEOUT_MS = 30_000
/** A chunk that failed this many times (timeouts, dropped streams) ends the download. */
export const CHECKPOINT_CHUNK_RETRIES = 3

export const CheckpointWireCode = {
  /** A request or reply that is not one of the forms above. */
  BAD: 'ERR_BAD_CHECKPOINT_WIRE',
  /** A signature gossip message that is malformed, from a non-validator, or whose signature fails over a body we hold. */
  BAD_SIG: 'ERR_BAD_CHECKPOINT_SIG'
} as const

/**
 * What a server says of its newest package: the store's meta without the alliance (the
 * protocol runs per alliance). `tailFrom` is where the server's tail starts in its storage
 * order: a joiner asks its inventory from there (S20).
 */
export type CheckpointInfo = Omit<CheckpointMeta, 'alliance'>

export type CheckpointRequest = { t: 'info' } | { t: 'get', at: number } | { t: 'chunk', at: number, i: number }

/** What a peer serves checkpoints from. */
export interface CheckpointSource {
  info: () => Promise<CheckpointInfo | null>
  bytes: (at: number) => Promise<Uint8Array | null>
}

function bad (message: string, code: string = CheckpointWireCode.BAD): never {
  throw new InvalidInputError(message, code)
}

const uint = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0
const HEX64 = /^[0-9a-f]{64}$/

export function parseCheckpointRequest (value: unknown): CheckpointRequest {
  if (!isRecord(value)) bad('a checkpoint request is a map')
  if (value.t === 'info' && Object.keys(value).length === 1) return { t: 'info' }
  if (value.t === 'get' && Object.keys(value).length === 2 && uint(value.at)) return { t: 'get', at: value.at }
  if (value.t === 'chunk' && Object.keys(value).length === 3 && uint(value.at) && uint(value.i)) return { t: 'chunk', at: value.at, i: value.i }
  return bad('unknown checkpoint request')
}

export function parseCheckpointInfo (value: unknown): CheckpointInfo | null {
  if (!isRecord(value) || !Object.hasOwn(value, 'cp')) bad('malformed checkpoint info')
  const cp = value.cp
  if (cp === null) return null
  if (!isRecord(cp)) bad('malformed checkpoint info')
  const { at, height, time, state, body, tailFrom, bytes } = cp
  if (!uint(at) || !uint(height) || !uint(time) || !uint(tailFrom) || !uint(bytes) || bytes > CHECKPOINT_WIRE_MAX_BYTES) bad('malformed checkpoint info numbers')
  if (typeof state !== 'string' || !HEX64.test(state) || typeof body !== 'string' || !HEX64.test(body)) bad('malformed checkpoint info digests')
  return { at, height, time, state, body, tailFrom, bytes }
}

/** Serves one request on `stream`; errors are typed (the net counts them against the peer). */
export async function serveCheckpoint (stream: MessageStream, source: CheckpointSource, signal?: AbortSignal): Promise<void> {
  const req = parseCheckpointRequest(decode(await readOneFrame(stream, REQUEST_MAX_BYTES, { signal }), REQUEST_MAX_BYTES))
  // S41: 1 MiB chunks in data-channel messages as wide as the transport takes
  widenSyncMessages(stream)
  if (req.t === 'info') {
    await writeFrame(stream, encode({ cp: await source.info() }), { signal })
  } else if (req.t === 'get') {
    await writeFrame(stream, (await source.bytes(req.at)) ?? new Uint8Array(0), { signal })
  } else {
    const bytes = await source.bytes(req.at)
    // a chunk past the end is a malformed request (counted against the asker), not "not held"
    if (bytes != null && req.i * CHECKPOINT_CHUNK_BYTES >= bytes.byteLength) bad('checkpoint chunk past the end')
    await writeFrame(stream, bytes?.subarray(req.i * CHECKPOINT_CHUNK_BYTES, (req.i + 1) * CHECKPOINT_CHUNK_BYTES) ?? new Uint8Array(0), { signal })
  }
  await stream.close({ signal })
}

/** Requests to one remote (the caller opens a stream per request). */
export class CheckpointClient {
  constructor (private readonly open: (signal?: AbortSignal) => Promise<MessageStream>) {}

  private async request (req: CheckpointRequest, maxBytes: number, timeoutMs: number, outer?: AbortSignal): Promise<Uint8Array> {
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = outer == null ? timeout : AbortSignal.any([outer, timeout])
    const stream = await this.open(signal)
    try {
      await writeFrame(stream, encode(req), { signal })
      const reply = await readOneFrame(stream, maxBytes, { signal })
      await stream.close({ signal }).catch(() => {})
      return reply
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  async info (signal?: AbortSignal): Promise<CheckpointInfo | null> {
    const raw = await this.request({ t: 'info' }, INFO_MAX_BYTES, CHECKPOINT_INFO_TIMEOUT_MS, signal)
    let v: unknown
    try { v = decode(raw, INFO_MAX_BYTES) } catch { bad('checkpoint info does not decode') }
    return parseCheckpointInfo(v)
  }

  /**
   * S30: the package `info` names, in chunks of CHECKPOINT_CHUNK_BYTES, a few in flight. The
   * buffer is `info.bytes` (capped by parseCheckpointInfo); each chunk's frame is refused on
   * its length prefix when longer than its place (ERR_FRAME_TOO_LARGE) and a shorter one is
   * ERR_BAD_CHECKPOINT_WIRE: both end the download at once (typed: the caller counts them
   * against the server). A chunk that times out or whose stream drops is asked again, up to
   * CHECKPOINT_CHUNK_RETRIES times, keeping the chunks already in. Null when the remote no
   * longer holds that cut.
   */
  async download (info: CheckpointInfo, opts: { signal?: AbortSignal, onChunk?: (done: number, of: number) => void } = {}): Promise<Uint8Array | null> {
    const size = info.bytes
    if (size < 1 || size > CHECKPOINT_WIRE_MAX_BYTES) bad('a checkpoint package size out of range')
    const out = new Uint8Array(size)
    const count = Math.ceil(size / CHECKPOINT_CHUNK_BYTES)
    const stop = new AbortController()
    const signal = opts.signal == null ? stop.signal : AbortSignal.any([opts.signal, stop.signal])
    let next = 0
    let done = 0
    let gone = false
    const fetchOne = async (i: number): Promise<void> => {
      const from = i * CHECKPOINT_CHUNK_BYTES
      const want = Math.min(CHECKPOINT_CHUNK_BYTES, size - from)
      for (let attempt = 0; ; attempt++) {
        try {
          const chunk = await this.request({ t: 'chunk', at: info.at, i }, want, CHECKPOINT_CHUNK_TIMEOUT_MS, signal)
          if (chunk.byteLength === 0) { gone = true; return }
          if (chunk.byteLength !== want) bad(`checkpoint chunk ${i}: ${chunk.byteLength} bytes, ${want} expected`)
          out.set(chunk, from)
          opts.onChunk?.(++done, count)
          return
        } catch (err) {
          // a typed error is the server's fault: no second chance; anything else may be the link
          if (err instanceof AllianceError || signal.aborted || attempt + 1 >= CHECKPOINT_CHUNK_RETRIES) throw err
        }
      }
    }
    const lane = async (): Promise<void> => {
      while (next < count && !gone) await fetchOne(next++)
    }
    try {
      await Promise.all(Array.from({ length: Math.min(CHECKPOINT_CHUNKS_IN_FLIGHT, count) }, lane))
    } catch (err) {
      stop.abort(err)
      throw err
    }
    return gone ? null : out
  }
}

// ---- signature gossip (S21) ----

/** `{v: 1, at, body, sig}`; the signer is the gossip author. */
export interface CheckpointSigMessage {
  readonly at: number
  /** SHA-256 hex of the body's signed bytes. */
  readonly body: string
  readonly sig: Uint8Array
}

export const CHECKPOINT_SIG_MAX_BYTES = 256

export function checkpointSigTopic (allianceId: string): string {
  return `alliance/${allianceId}/checkpoint/1`
}

export function encodeCheckpointSig (m: CheckpointSigMessage): Uint8Array {
  return encode({ v: 1, at: m.at, body: m.body, sig: m.sig })
}

export function decodeCheckpointSig (bytes: Uint8Array): CheckpointSigMessage {
  if (bytes.byteLength > CHECKPOINT_SIG_MAX_BYTES) bad('checkpoint signature message too large', CheckpointWireCode.BAD_SIG)
  let v: unknown
  try { v = decode(bytes, CHECKPOINT_SIG_MAX_BYTES) } catch { bad('checkpoint signature message does not decode', CheckpointWireCode.BAD_SIG) }
  if (!isRecord(v) || Object.keys(v).length !== 4 || v.v !== 1 || !uint(v.at) || typeof v.body !== 'string' || !HEX64.test(v.body) || !(v.sig instanceof Uint8Array) || v.sig.byteLength !== 64) {
    bad('malformed checkpoint signature message', CheckpointWireCode.BAD_SIG)
  }
  return { at: v.at, body: v.body, sig: v.sig }
}
