/**
 * Length-prefixed frames (unsigned varint length, then the bytes) over a libp2p stream, with a
 * size cap checked on the length prefix, before any payload is buffered.
 *
 * Errors are typed: a length over the cap is `FrameTooLargeError` (ERR_FRAME_TOO_LARGE); a
 * malformed length or a stream that ends inside a frame is `InvalidInputError` (ERR_DECODE).
 */
import * as lp from 'it-length-prefixed'
import type { AbortOptions, MessageStream } from '@libp2p/interface'
import { InvalidInputError } from '../core/errors.ts'
import { FrameTooLargeError } from './errors.ts'

function mapFrameError (err: unknown, maxBytes: number): unknown {
  const name = (err as Error | undefined)?.name
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    return new FrameTooLargeError(`frame is over the limit of ${maxBytes} bytes`)
  }
  if (name === 'InvalidMessageLengthError' || name === 'UnexpectedEOFError') {
    return new InvalidInputError(`malformed frame: ${(err as Error).message}`, 'ERR_DECODE', { cause: err })
  }
  return err
}

/**
 * Yields each frame of `stream` until the remote closes its writable end. Aborting `signal`
 * aborts the stream (which ends the iteration with the abort reason).
 */
export async function * readFrames (stream: MessageStream, maxBytes: number, options: AbortOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const onAbort = (): void => { stream.abort(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted')) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const frame of lp.decode(stream, { maxDataLength: maxBytes })) {
      yield frame.subarray()
    }
  } catch (err) {
    throw mapFrameError(err, maxBytes)
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}

/** Reads exactly one frame, or throws if the stream ends first. */
export async function readOneFrame (stream: MessageStream, maxBytes: number, options: AbortOptions = {}): Promise<Uint8Array> {
  for await (const frame of readFrames(stream, maxBytes, options)) return frame
  throw new InvalidInputError('stream ended before a frame arrived', 'ERR_DECODE')
}

/** Writes one frame, waiting for the stream to drain when its buffer is full. */
export async function writeFrame (stream: MessageStream, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
  if (!stream.send(lp.encode.single(bytes))) await stream.onDrain(options)
}

/**
 * Half-closes `stream` and returns what the remote sends until it closes its end (a sink's
 * acknowledgement, a reply). Reading starts BEFORE the close: an answer that arrives while
 * `close()` waits would otherwise sit in the stream's read buffer with no listener, its
 * `remoteCloseWrite` event already gone, so a later read either never ends or, once the
 * WebRTC data channel closes and the stream drops its buffer, ends empty — the bench's
 * "direct 2 MiB transfer where the receiver acknowledged nothing" (SPEC N8).
 */
export async function closeAndReadAll (stream: MessageStream, options: AbortOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  const reading = (async () => {
    for await (const part of stream) parts.push(part.subarray())
  })()
  reading.catch(() => {})
  await stream.close(options)
  await reading
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}
