/**
 * `/alliance/dm/1`: encrypted direct messages over a direct connection.
 *
 * Wire: the sender opens a stream and writes length-prefixed frames, each one DM envelope
 * (src/core/dm.ts, dag-cbor, at most MAX_FRAME_BYTES), then closes its writable end; the
 * receiver answers every frame with one length-prefixed dag-cbor reply, `{ok: true}` or
 * `{ok: false, code}` (a `REJECT_CODES` value), and closes when the sender has.
 *
 * The receiver accepts an envelope only if it is addressed to this node, signed by the DID of
 * the peer on the other end of the (Noise/DTLS-authenticated) connection, fresh (clock skew
 * within DEFAULT_MAX_SKEW_MS), not a replay of a nonce seen in that window, and decrypts.
 * Every rejection is reported to the misbehaviour tracker with its code; a framing error
 * (oversized or truncated frame) ends the stream since the frame boundaries are lost.
 */
import type { Stream } from '@libp2p/interface'
import { decode, encode } from '../core/codec.ts'
import { isAllianceError, InvalidInputError } from '../core/errors.ts'
import { toHex } from '../core/bytes.ts'
import { DEFAULT_MAX_SKEW_MS, decodeDmText, encodeDmText, openEnvelope, sealEnvelope } from '../core/dm.ts'
import { didFromPeerId } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { DM_INBOX_SIZE, DM_PROTOCOL, DM_TIMEOUT_MS, MAX_FRAME_BYTES, MAX_REPLY_BYTES } from './constants.ts'
import { REJECT_CODES, RemoteRejectedError, ReplayError, SenderMismatchError } from './errors.ts'
import { readFrames, readOneFrame, writeFrame } from './frames.ts'

export interface DmMessage {
  from: Did
  text: string
  /** Sender's timestamp (ms since epoch), authenticated by its signature. */
  at: number
}

export interface DmReply {
  ok: boolean
  code?: string
}

export interface DmServiceDeps {
  seed: Uint8Array
  did: Did
  /** Opens a stream of `protocol` to `did` over a direct connection. */
  openStream: (did: Did, protocol: string, options: { signal: AbortSignal }) => Promise<Stream>
  /** Counts a rejected frame from `peerId` (strikes and maybe hangs up). */
  reject: (peerId: string, code: string) => void
  /** Counts a rejected frame that is not a strike against the sender. */
  count: (code: string) => void
  onMessage: (msg: DmMessage) => void
  now?: () => number
  random?: (length: number) => Uint8Array
}

const NO_STRIKE: ReadonlySet<string> = new Set([REJECT_CODES.stale])

export function decodeReply (bytes: Uint8Array): DmReply {
  const value = decode<unknown>(bytes, MAX_REPLY_BYTES)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError('reply is not a map', 'ERR_DECODE')
  const { ok, code } = value as Record<string, unknown>
  if (ok === true) return { ok: true }
  if (ok === false && typeof code === 'string' && code.length <= 64) return { ok: false, code }
  throw new InvalidInputError('reply is not {ok} or {ok: false, code}', 'ERR_DECODE')
}

export class DmService {
  private readonly deps: DmServiceDeps
  private readonly now: () => number
  private readonly random: (length: number) => Uint8Array
  private readonly inboxItems: DmMessage[] = []
  /** Nonces seen within the skew window: key → expiry. Bounded by MAX_SEEN. */
  private readonly seen = new Map<string, number>()
  private static readonly MAX_SEEN = 4096
  private sentCount = 0
  private receivedCount = 0

  constructor (deps: DmServiceDeps) {
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)))
  }

  inbox (): DmMessage[] {
    return [...this.inboxItems]
  }

  stats (): { sent: number, received: number } {
    return { sent: this.sentCount, received: this.receivedCount }
  }

  /** Sends `text` to `to`; resolves once the recipient accepted it. */
  async send (to: Did, text: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (to === this.deps.did) throw new InvalidInputError('cannot send a DM to oneself', 'ERR_DM_SELF')
    const envelope = sealEnvelope({ senderSeed: this.deps.seed, to, plaintext: encodeDmText(text), at: this.now(), random: this.random })
    const timeout = AbortSignal.timeout(DM_TIMEOUT_MS)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    const stream = await this.deps.openStream(to, DM_PROTOCOL, { signal })
    let reply: DmReply
    try {
      // listen for the reply before closing: it may come while close() waits (SPEC N8)
      const replied = readOneFrame(stream, MAX_REPLY_BYTES, { signal })
      replied.catch(() => {})
      await writeFrame(stream, envelope, { signal })
      await stream.close({ signal })
      reply = decodeReply(await replied)
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
    if (!reply.ok) throw new RemoteRejectedError(reply.code ?? 'ERR_UNKNOWN')
    this.sentCount++
  }

  /** Inbound stream handler (registered for direct connections only). */
  async handleStream (stream: Stream, remotePeer: string): Promise<void> {
    const signal = AbortSignal.timeout(DM_TIMEOUT_MS)
    try {
      for await (const frame of readFrames(stream, MAX_FRAME_BYTES, { signal })) {
        const reply = this.accept(frame, remotePeer)
        await writeFrame(stream, encode(reply), { signal })
      }
      await stream.close({ signal })
    } catch (err) {
      if (isAllianceError(err)) {
        // a framing error: the frame boundaries are lost, so answer once and hang up the stream
        this.rejectFrom(remotePeer, err.code)
        try {
          await writeFrame(stream, encode({ ok: false, code: err.code }), { signal })
          await stream.close({ signal: AbortSignal.timeout(2_000) })
        } catch {
          // the remote may already be gone; the stream is aborted below either way
        }
      }
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Validates one frame; returns the reply to send. Never throws for bad input. */
  accept (frame: Uint8Array, remotePeer: string): DmReply {
    try {
      const now = this.now()
      const opened = openEnvelope(frame, { recipientSeed: this.deps.seed, now, maxSkewMs: DEFAULT_MAX_SKEW_MS, maxBytes: MAX_FRAME_BYTES })
      const remoteDid = didFromPeerId(remotePeer)
      if (opened.from !== remoteDid) throw new SenderMismatchError(`envelope signed by ${opened.from.slice(0, 24)}… arrived from ${remotePeer}`)
      const key = `${opened.from} ${toHex(opened.nonce)}`
      this.pruneSeen(now)
      if (this.seen.has(key)) throw new ReplayError()
      const { text } = decodeDmText(opened.plaintext)
      this.seen.set(key, opened.at + DEFAULT_MAX_SKEW_MS)
      const msg: DmMessage = { from: opened.from, text, at: opened.at }
      this.inboxItems.push(msg)
      if (this.inboxItems.length > DM_INBOX_SIZE) this.inboxItems.splice(0, this.inboxItems.length - DM_INBOX_SIZE)
      this.receivedCount++
      try {
        this.deps.onMessage(msg)
      } catch {
        // a failing listener must not turn an accepted message into a rejection
      }
      return { ok: true }
    } catch (err) {
      const code = isAllianceError(err) ? err.code : REJECT_CODES.decode
      this.rejectFrom(remotePeer, code)
      return { ok: false, code }
    }
  }

  private rejectFrom (remotePeer: string, code: string): void {
    if (NO_STRIKE.has(code)) this.deps.count(code)
    else this.deps.reject(remotePeer, code)
  }

  private pruneSeen (now: number): void {
    for (const [key, expiry] of this.seen) {
      if (expiry > now && this.seen.size <= DmService.MAX_SEEN) break
      this.seen.delete(key)
    }
  }
}
