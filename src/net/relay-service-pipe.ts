/**
 * One hop of a relayed stream (`/alliance/relay/1` after its handshake): length-prefixed
 * frames whose first byte says what they are — `0` data (at most `RELAY_CHUNK_BYTES`), `1` an
 * acknowledgement of `n` bytes consumed (4 bytes, big-endian), `2` end of data — with a credit
 * window each way. End of data is a frame, not a half-close, because acknowledgements of the
 * other direction still have to flow; the stream's writing side closes once both sides have
 * sent their end.
 *
 * Why a window: WebRTC data channels in js-libp2p have no read backpressure, so a fast sender
 * fills the receiver's memory; and on a metered hop the provider's machine must not see the
 * payer more than one round ahead (SPEC V10). Each side announces its receive window in the
 * handshake; a sender keeps at most that many unacknowledged bytes in flight, a receiver
 * acknowledges what it has consumed (forwarded, or handed to its reader), and a peer that
 * sends past the window is cut off (`ERR_RELAY_WINDOW`).
 *
 * Why batches and few acknowledgements (SPEC B1, B2): on a loaded browser every
 * `RTCDataChannel.send` and every `message` event costs a cross-thread hop that dwarfs the
 * bytes it carries, and a relay provider pays it on both hops. So a sender puts a batch of
 * frames in one stream write, the relay's streams carry WebRTC messages as wide as the SCTP
 * association allows, up to `RELAY_MESSAGE_MAX_BYTES` (libp2p's default is 16 KiB for go/rust
 * peers, which never speak this protocol; `RELAY_MESSAGE_BYTES` when the transport does not
 * say), a batch fills one message but at most a quarter of the send window (so a window still
 * holds four batches in flight), and a receiver acknowledges once a quarter of its window is
 * consumed, or `ACK_DELAY_MS` after it consumed less (so a sender waiting in `flushed()` is
 * answered).
 */
import type { Stream } from '@libp2p/interface'
import { AllianceError } from '../core/errors.ts'

/** Data per frame: one WebRTC message (16 KiB) less the type byte and framing. */
export const RELAY_CHUNK_BYTES = 16 * 1024 - 64
/** Largest relay frame (a data chunk and its type byte; handshakes are smaller). */
export const RELAY_FRAME_MAX_BYTES = RELAY_CHUNK_BYTES + 1
/** Default receive window of an endpoint that is not metered (the target, the payer). */
export const DEFAULT_RELAY_WINDOW = 1024 * 1024
/** Data frames of a batch on a stream that does not say how wide its messages may be. */
const BATCH_FRAMES = 4
/** Data bytes in one stream write on a stream without a transport message limit: four full frames. */
export const RELAY_BATCH_BYTES = BATCH_FRAMES * RELAY_CHUNK_BYTES
/**
 * WebRTC message on a relay stream when the transport does not report its limit: RFC 8841's
 * default `max-message-size`, which every current browser and node-datachannel accept.
 */
export const RELAY_MESSAGE_BYTES = 64 * 1024
/**
 * Widest WebRTC message on a relay stream when the SCTP association allows it (Chromium and
 * libdatachannel offer 256 KiB): a quarter of the messages, so a quarter of the per-message
 * send and receive work on each hop, which is what bounds a browser provider (SPEC B1).
 */
export const RELAY_MESSAGE_MAX_BYTES = 256 * 1024
/**
 * A receiver that consumed less than a quarter of its window acknowledges after this long:
 * long enough that a stream arriving slowly is not acknowledged frame by frame (the bench saw
 * ~1 ms per data-channel send on a loaded browser at 5 ms), short for a sender in `flushed()`.
 */
export const ACK_DELAY_MS = 50
/** Room for libp2p's protobuf and length prefix around a message's payload. */
const MESSAGE_OVERHEAD = 32

const DATA = 0
const ACK = 1
const END = 2

export const RelayRejection = {
  /** A frame that is neither data nor an acknowledgement, or a bad handshake. */
  FRAME: 'ERR_RELAY_FRAME',
  /** More unacknowledged data than the announced window. */
  WINDOW: 'ERR_RELAY_WINDOW',
  /** No running relay session of that id for that payer. */
  NO_SESSION: 'ERR_RELAY_NO_SESSION',
  /** The session already has its relay stream. */
  BUSY: 'ERR_RELAY_BUSY',
  /** The target does not accept relayed streams. */
  NOT_ACCEPTED: 'ERR_RELAY_NOT_ACCEPTED',
  /** The provider could not reach the target over a direct connection. */
  TARGET_UNREACHABLE: 'ERR_RELAY_TARGET_UNREACHABLE',
  /** The relay ended (session over, or the other side went away). */
  CLOSED: 'ERR_RELAY_CLOSED'
} as const
export type RelayRejectionCode = typeof RelayRejection[keyof typeof RelayRejection]

export class RelayError extends AllianceError {}

/**
 * A windowed, half-closable byte pipe over one stream whose handshake is done. `frames` is the
 * stream's frame iterator (the one that read the handshake), so no buffered frame is lost.
 */
export class RelayPipe {
  readonly stream: Stream
  readonly sendWindow: number
  readonly recvWindow: number
  /** Largest data chunk this side sends. */
  readonly chunk: number
  /** Full data frames in one stream write (SPEC B1). */
  readonly #batchFrames: number
  /** The stream copies what it sends before `send` returns (our @libp2p/webrtc patch). */
  readonly #copiesOnSend: boolean
  /** A batch buffer to reuse, when the stream copies what it sends. */
  #spare: Uint8Array | null = null
  readonly #frames: AsyncIterator<Uint8Array>
  readonly #queue: Uint8Array[] = []
  #held = 0
  #pendingAck = 0
  #inFlight = 0
  /** The remote sent its end of data (or the stream ended). */
  #remoteEnded = false
  /** This side sent its end of data. */
  #localEnded = false
  #ending: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #error: Error | null = null
  #wake = new Set<() => void>()
  #sent = 0
  #received = 0
  #ackTimer: ReturnType<typeof setTimeout> | null = null
  readonly #ackEvery: number
  #dataDone: () => void = () => {}
  readonly #readDone: Promise<void>
  readonly #closed: Promise<void>
  /** A protocol violation by the remote (window overrun, bad frame). */
  onViolation: ((code: string) => void) | null = null

  constructor (stream: Stream, frames: AsyncIterator<Uint8Array>, sendWindow: number, recvWindow: number) {
    if (!Number.isSafeInteger(sendWindow) || sendWindow < 1) throw new RangeError('sendWindow must be a positive integer')
    if (!Number.isSafeInteger(recvWindow) || recvWindow < 1) throw new RangeError('recvWindow must be a positive integer')
    this.stream = stream
    this.#frames = frames
    // whatever the remote announced, at most DEFAULT_RELAY_WINDOW in flight (SPEC B3): a
    // remote that announces a huge window and then stops reading cannot make this side queue
    // more than that in its stream's buffers
    this.sendWindow = Math.min(sendWindow, DEFAULT_RELAY_WINDOW)
    this.recvWindow = recvWindow
    this.chunk = Math.min(RELAY_CHUNK_BYTES, sendWindow)
    this.#ackEvery = Math.max(1, Math.floor(recvWindow / 4))
    this.#copiesOnSend = (stream as Stream & { copiesOnSend?: boolean }).copiesOnSend === true
    const message = widenMessages(stream) ?? RELAY_MESSAGE_BYTES - MESSAGE_OVERHEAD
    const frame = this.chunk + FRAME_HEADER_MAX
    this.#batchFrames = Math.max(1, Math.floor(Math.min(message, Math.max(BATCH_FRAMES * frame, this.sendWindow / 4)) / frame))
    this.#readDone = new Promise((resolve) => { this.#dataDone = resolve })
    this.#closed = this.#pump()
  }

  get sent (): number { return this.#sent }
  /** Data bytes in one full batch (one stream write, one WebRTC message). */
  get batchBytes (): number { return this.#batchFrames * this.chunk }
  get received (): number { return this.#received }

  /** Resolves when the remote has ended its data (or the stream failed). */
  get readDone (): Promise<void> { return this.#readDone }
  /** Resolves when the stream has ended in both directions (or failed). */
  get closed (): Promise<void> { return this.#closed }

  #notify (): void {
    if (this.#wake.size === 0) return
    const woken = [...this.#wake]
    this.#wake.clear()
    for (const w of woken) w()
  }

  async #wait (): Promise<void> {
    await new Promise<void>((resolve) => { this.#wake.add(resolve) })
  }

  #remoteEnd (): void {
    if (this.#remoteEnded) return
    this.#remoteEnded = true
    this.#dataDone()
    this.#maybeClose()
  }

  /** Both sides have ended their data: close the stream's writing side. */
  #maybeClose (): void {
    if (!this.#localEnded || !this.#remoteEnded || this.#closing !== null) return
    this.#closing = (async () => {
      await this.#ending
      await this.stream.close({ signal: AbortSignal.timeout(10_000) })
    })().catch(() => {})
  }

  async #pump (): Promise<void> {
    try {
      for (;;) {
        const r = await this.#frames.next()
        if (r.done === true) break
        const frame = r.value
        if (frame.byteLength === 0) throw new RelayError(RelayRejection.FRAME, 'empty relay frame')
        if (frame[0] === DATA) {
          if (this.#remoteEnded) throw new RelayError(RelayRejection.FRAME, 'data after the end of data')
          // a view, not a copy: the frame's bytes are this pipe's until acknowledged
          const data = frame.subarray(1)
          if (data.byteLength === 0) continue
          this.#held += data.byteLength
          if (this.#held > this.recvWindow) throw new RelayError(RelayRejection.WINDOW, `more than the ${this.recvWindow}-byte window unacknowledged`)
          this.#received += data.byteLength
          this.#queue.push(data)
        } else if (frame[0] === ACK && frame.byteLength === 5) {
          const n = new DataView(frame.buffer, frame.byteOffset + 1, 4).getUint32(0)
          if (n > this.#inFlight) throw new RelayError(RelayRejection.FRAME, 'acknowledgement of bytes never sent')
          this.#inFlight -= n
        } else if (frame[0] === END && frame.byteLength === 1) {
          this.#remoteEnd()
        } else {
          throw new RelayError(RelayRejection.FRAME, `unknown relay frame type ${frame[0]}`)
        }
        this.#notify()
      }
    } catch (err) {
      this.#error = err instanceof Error ? err : new Error(String(err))
      if (err instanceof RelayError) {
        this.onViolation?.(err.code)
        this.stream.abort(err)
      }
    } finally {
      this.#remoteEnd()
      this.#notify()
      if (this.#error !== null) this.#cancelAck()
    }
  }

  /** The next chunk the remote sent, or null once it ended. Call `ack` once it is consumed. */
  async recv (): Promise<Uint8Array | null> {
    for (;;) {
      const next = this.#queue.shift()
      if (next !== undefined) return next
      if (this.#remoteEnded) return null
      await this.#wait()
    }
  }

  /** The next chunk already received, if any (never waits). Call `ack` once it is consumed. */
  poll (): Uint8Array | undefined {
    return this.#queue.shift()
  }

  /**
   * `n` received bytes were consumed: the remote may send that many more. Acknowledged at once
   * past a quarter of the window, else within ACK_DELAY_MS (SPEC B2).
   */
  ack (n: number): void {
    if (n <= 0) return
    this.#pendingAck += n
    if (this.#pendingAck >= this.#ackEvery) {
      this.#flushAck()
      return
    }
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = null
      this.#flushAck()
    }, ACK_DELAY_MS)
  }

  #cancelAck (): void {
    if (this.#ackTimer !== null) { clearTimeout(this.#ackTimer); this.#ackTimer = null }
  }

  #flushAck (): void {
    this.#cancelAck()
    if (this.#pendingAck <= 0 || this.#error !== null) return
    const count = Math.min(this.#pendingAck, 0xffffffff)
    this.#pendingAck -= count
    this.#held -= count
    // length 5, type, count (big-endian)
    const frame = new Uint8Array(6)
    frame[0] = 5
    frame[1] = ACK
    new DataView(frame.buffer).setUint32(2, count)
    // an ack that cannot be written means the stream broke; the reader sees it end
    this.#write(frame).catch(() => {})
  }

  /**
   * Writes already framed bytes. Resolves true when the stream is done with `framed` (it
   * copied it into what it sent), so the caller may write into that buffer again.
   */
  async #write (framed: Uint8Array): Promise<boolean> {
    if (this.stream.writeStatus !== 'writable') throw new RelayError(RelayRejection.CLOSED, 'the relay stream is closed for writing')
    const more = this.stream.send(framed)
    const copied = this.#copiesOnSend && this.stream.writeBufferLength === 0
    if (!more) await this.stream.onDrain()
    return copied
  }

  /**
   * Sends `bytes` (one array or several) in frames of at most `chunk` bytes, up to
   * `batchBytes` per stream write, waiting for window credit; throws once the stream
   * failed or ended. The bytes are copied into the batch, so the caller may reuse its buffers.
   */
  async send (bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes
    // full frames with their headers: one WebRTC message
    const size = this.#batchFrames * (this.chunk + FRAME_HEADER_MAX)
    // this call's batch buffer: the pipe's spare one unless another send holds it
    let batch = this.#spare ?? new Uint8Array(size)
    this.#spare = null
    let at = 0
    let batched = 0
    const flush = async (): Promise<void> => {
      if (batched === 0) return
      const out = batch.subarray(0, at)
      const n = batched
      at = 0
      batched = 0
      // the same buffer again once the stream copied it (a fresh 64-256 KiB buffer per
      // write cost a browser provider more than the copy), else a fresh one: the stream
      // holds this one until it drains
      if (!await this.#write(out)) batch = new Uint8Array(size)
      this.#sent += n
    }
    for (const part of parts) {
      let off = 0
      while (off < part.byteLength) {
        const n = Math.min(this.chunk, part.byteLength - off)
        if (this.#inFlight + n > this.sendWindow) {
          await flush()
          while (this.#inFlight + n > this.sendWindow) {
            this.#checkWritable()
            await this.#wait()
          }
        }
        this.#checkWritable()
        if (at + FRAME_HEADER_MAX + n > batch.byteLength) await flush()
        at = writeDataHeader(batch, at, n)
        batch.set(part.subarray(off, off + n), at)
        at += n
        batched += n
        this.#inFlight += n
        off += n
      }
    }
    await flush()
    this.#spare = batch
  }

  #checkWritable (): void {
    if (this.#error !== null) throw new RelayError(RelayRejection.CLOSED, `the relay stream failed: ${this.#error.message}`)
    if (this.#localEnded) throw new RelayError(RelayRejection.CLOSED, 'the relay stream was ended for writing')
    if (this.stream.status !== 'open') throw new RelayError(RelayRejection.CLOSED, 'the relay stream is closed')
  }

  /** Resolves once the remote has acknowledged every byte sent (or the stream failed). */
  async flushed (): Promise<void> {
    while (this.#inFlight > 0 && this.#error === null && !this.#remoteGone()) await this.#wait()
  }

  #remoteGone (): boolean {
    return this.stream.status !== 'open'
  }

  /** Ends this side's data (the remote's reads end after what was sent). Idempotent. */
  async end (): Promise<void> {
    if (!this.#localEnded) {
      this.#localEnded = true
      this.#flushAck()
      this.#ending = this.#write(Uint8Array.of(1, END)).then(() => {}, () => {})
      this.#notify()
      this.#maybeClose()
    }
    await this.#ending
  }

  abort (err: Error): void {
    this.#error ??= err
    this.#cancelAck()
    this.stream.abort(err)
    this.#notify()
  }
}

/** Varint length prefix (at most 3 bytes for a data frame) and the type byte. */
const FRAME_HEADER_MAX = 4

/** Writes a data frame's header for `n` bytes at `at` (unsigned LEB128 length of type + data, as it-length-prefixed reads it); returns where the data goes. */
function writeDataHeader (into: Uint8Array, at: number, n: number): number {
  let len = n + 1
  while (len >= 0x80) { into[at++] = (len & 0x7f) | 0x80; len >>>= 7 }
  into[at++] = len
  into[at++] = DATA
  return at
}

/**
 * Lets a relay stream carry WebRTC messages as wide as its SCTP association accepts, at most
 * RELAY_MESSAGE_MAX_BYTES, or RELAY_MESSAGE_BYTES when the transport does not say (libp2p's
 * WebRTC streams split writes at 16 KiB; `maxMessageSize` is the public knob it reads per
 * write, `transportMaxMessageSize` comes from our @libp2p/webrtc patch). Returns the payload a
 * message may carry, or null for streams without a message limit (in-memory ones, yamux),
 * which are left alone.
 */
function widenMessages (stream: Stream): number | null {
  const s = stream as Stream & { maxMessageSize?: number, transportMaxMessageSize?: number }
  if (typeof s.maxMessageSize !== 'number') return null
  const transport = s.transportMaxMessageSize
  const message = typeof transport === 'number' && transport >= RELAY_MESSAGE_BYTES ? Math.min(transport, RELAY_MESSAGE_MAX_BYTES) : RELAY_MESSAGE_BYTES
  const widest = message - MESSAGE_OVERHEAD
  if (s.maxMessageSize < widest) s.maxMessageSize = widest
  return widest
}
