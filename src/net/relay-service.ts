/**
 * The relay service, `/alliance/relay/1` (issue 5 §4): a provider forwards a payer's stream
 * to a target peer over its own direct connection, metered in bytes and billed per round of
 * bytes through the session running on `/alliance/session/1`.
 *
 *   payer ──open{session, window}──▶ provider ──deliver{session, from, window}──▶ target
 *         ◀──ok{window} | no{code}──          ◀──ok{window} | no{code}──────────
 *   then windowed data both ways (relay-service-pipe.ts), each byte through the provider
 *   counted by its session's gate; the provider pauses at the end of a trial slice of bytes
 *   and stops forwarding when the voucher does not come (session-protocol.ts).
 *
 * The first frame on a stream is a dag-cbor handshake of at most 1 KiB. The provider's
 * receive window toward the payer is at most half a round (so the payer is never more than a
 * round ahead of what was forwarded, SPEC V10). The target learns the payer's DID from the
 * provider (`from`): it is the provider's claim, authenticated only as far as the provider is.
 * A relayed stream ends cleanly when both ends have ended their sending sides; when the
 * session stops the provider ends both hops after the bytes it already granted.
 */
import type { Stream } from '@libp2p/interface'
import { decode, encode } from '../core/codec.ts'
import { isAllianceError } from '../core/errors.ts'
import { isDid, peerIdStringFromDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { readFrames, writeFrame } from './frames.ts'
import {
  DEFAULT_RELAY_WINDOW, RELAY_FRAME_MAX_BYTES, RelayError, RelayPipe, RelayRejection
} from './relay-service-pipe.ts'
import type { PayerMeter, RemotePeer, ServiceGate } from './session-protocol.ts'
import { SessionEndedError } from './session-protocol.ts'

export { RelayError, RelayRejection, RELAY_CHUNK_BYTES, DEFAULT_RELAY_WINDOW } from './relay-service-pipe.ts'
export type { RelayRejectionCode } from './relay-service-pipe.ts'

export const RELAY_PROTOCOL = '/alliance/relay/1'
const HANDSHAKE_MAX_BYTES = 1024
const HANDSHAKE_TIMEOUT_MS = 20_000
/** After both hops ended their sending sides, how long the provider waits for the ends to close theirs. */
const CLOSE_GRACE_MS = 5_000

type Handshake =
  | { t: 'open', session: string, window: number }
  | { t: 'deliver', session: string, from: Did, window: number }
  | { t: 'ok', window: number }
  | { t: 'no', code: string, message: string }

function handshakeError (message: string): never {
  throw new RelayError(RelayRejection.FRAME, message)
}

const isWindow = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= 64 * 1024 * 1024
const isSessionId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128

function exact (r: Record<string, unknown>, fields: readonly string[]): void {
  const keys = Object.keys(r)
  if (keys.length !== fields.length || !fields.every((f) => Object.prototype.hasOwnProperty.call(r, f))) handshakeError(`a ${String(r.t)} handshake has exactly ${fields.join(', ')}`)
}

export function decodeHandshake (bytes: Uint8Array): Handshake {
  if (bytes.byteLength > HANDSHAKE_MAX_BYTES) throw new RelayError(RelayRejection.FRAME, `handshake of ${bytes.byteLength} bytes is over ${HANDSHAKE_MAX_BYTES}`)
  let value: unknown
  try {
    value = decode(bytes, HANDSHAKE_MAX_BYTES)
  } catch (err) {
    throw new RelayError(RelayRejection.FRAME, `handshake does not decode: ${(err as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) handshakeError('handshake is not a map')
  const r = value as Record<string, unknown>
  switch (r.t) {
    case 'open':
      exact(r, ['t', 'session', 'window'])
      if (!isSessionId(r.session) || !isWindow(r.window)) handshakeError('open needs a session id and a window')
      return { t: 'open', session: r.session, window: r.window }
    case 'deliver':
      exact(r, ['t', 'session', 'from', 'window'])
      if (!isSessionId(r.session) || !isDid(r.from) || !isWindow(r.window)) handshakeError('deliver needs a session id, a DID and a window')
      return { t: 'deliver', session: r.session, from: r.from, window: r.window }
    case 'ok':
      exact(r, ['t', 'window'])
      if (!isWindow(r.window)) handshakeError('ok needs a window')
      return { t: 'ok', window: r.window }
    case 'no':
      exact(r, ['t', 'code', 'message'])
      if (typeof r.code !== 'string' || !/^ERR_[A-Z0-9_]{1,60}$/.test(r.code) || typeof r.message !== 'string') handshakeError('no needs a code and a message')
      return { t: 'no', code: r.code, message: r.message.slice(0, 300) }
    default:
      return handshakeError('unknown handshake')
  }
}

/** The provider's receive window toward the payer for a round of `roundSize` bytes. */
export function relayWindowFor (roundSize: number): number {
  if (roundSize >= 64 * 1024) return Math.min(DEFAULT_RELAY_WINDOW, Math.floor(roundSize / 2))
  return Math.max(1, Math.floor(roundSize / 4))
}

async function writeHandshake (stream: Stream, h: Handshake): Promise<void> {
  await writeFrame(stream, encode(h))
}

async function nextWithin (frames: AsyncIterator<Uint8Array>, ms: number): Promise<Uint8Array | null> {
  let handle: ReturnType<typeof setTimeout> | undefined
  const pending = frames.next()
  pending.catch(() => {})
  try {
    const r = await Promise.race([
      pending,
      new Promise<never>((_resolve, reject) => { handle = setTimeout(() => { reject(new RelayError(RelayRejection.CLOSED, `no handshake within ${ms} ms`)) }, ms) })
    ])
    return r.done === true ? null : r.value
  } finally {
    clearTimeout(handle)
  }
}

/** A byte stream over a relay, as its ends see it. Iterate it to read; `end()` when done writing. */
export class RelayedStream implements AsyncIterable<Uint8Array> {
  readonly session: string
  /** Payer side: the provider. Target side: the payer, as the provider named it. */
  readonly peer: Did
  /** Target side: the provider that forwarded it. Payer side: the target. */
  readonly via: Did
  protected readonly pipe: RelayPipe

  constructor (pipe: RelayPipe, session: string, peer: Did, via: Did) {
    this.pipe = pipe
    this.session = session
    this.peer = peer
    this.via = via
  }

  get sent (): number { return this.pipe.sent }
  get received (): number { return this.pipe.received }

  async write (bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('write(bytes) needs a Uint8Array')
    await this.pipe.send(bytes)
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = await this.pipe.recv()
      if (chunk === null) return
      this.pipe.ack(chunk.byteLength)
      this.onReceived(chunk.byteLength)
      yield chunk
    }
  }

  protected onReceived (_n: number): void {}

  /** Ends this side's data; reads continue until the other side ends too. */
  async end (): Promise<void> {
    await this.pipe.end()
  }

  /** Resolves once the next hop has taken every byte written (acknowledged), or the stream failed. */
  async flushed (): Promise<void> {
    await this.pipe.flushed()
  }

  /** Resolves once the other side has ended its data. */
  get remoteDone (): Promise<void> {
    return this.pipe.readDone
  }

  abort (err: Error = new RelayError(RelayRejection.CLOSED, 'relay aborted')): void {
    this.pipe.abort(err)
  }
}

/** The payer's end: every byte written or read is counted by the session's meter first. */
export class RelayChannel extends RelayedStream {
  readonly #meter: PayerMeter

  constructor (pipe: RelayPipe, session: string, provider: Did, target: Did, meter: PayerMeter) {
    super(pipe, session, provider, target)
    this.#meter = meter
  }

  /** Writes `bytes`; throws SessionEndedError when the session ends first (bought units used up, stopped). */
  override async write (bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('write(bytes) needs a Uint8Array')
    let off = 0
    while (off < bytes.byteLength) {
      const n = this.#meter.reserve(Math.min(this.pipe.batchBytes, bytes.byteLength - off))
      if (n === 0) throw new SessionEndedError(`the session ended after ${off} of ${bytes.byteLength} bytes`)
      await this.pipe.send(bytes.subarray(off, off + n))
      off += n
    }
  }

  protected override onReceived (n: number): void {
    this.#meter.received(n)
  }
}

export interface RelayNet {
  handle: (protocol: string, handler: (stream: Stream, ctx: { did: Did, peerId: string }) => void | Promise<void>, opts?: { maxInboundStreams?: number, maxOutboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dialProtocol: (did: Did, protocol: string, opts?: { signal?: AbortSignal }) => Promise<Stream>
}

/** What the provider's side needs from the market: the running session behind a relay stream. */
export interface RelayHost {
  /**
   * The running relay session `session` paid by `payer`: its gate, target and the receive
   * window toward the payer. Throws an AllianceError (sent back as `no`) to refuse.
   */
  relaySession: (session: string, payer: Did) => { gate: ServiceGate, target: Did, window: number }
  /** The relay stream of `session` ended (or never started): another may be opened. */
  released?: (session: string) => void
  /** A peer broke the protocol. */
  misbehaved?: (remote: RemotePeer, code: string) => void
}

export interface RelayServiceOptions {
  net: RelayNet
  host: RelayHost
  /** Receive window of this peer as a payer or target. */
  window?: number
  log?: (line: string) => void
}

export interface RelayStats {
  /** Relays forwarded as a provider, and the bytes through them (both ways). */
  relays: number
  forwarded: number
  /** Relayed streams received as a target. */
  delivered: number
}

export class RelayService {
  readonly #o: RelayServiceOptions
  readonly #handlers = new Set<(stream: RelayedStream) => void>()
  readonly #active = new Set<Stream>()
  #stats: RelayStats = { relays: 0, forwarded: 0, delivered: 0 }
  #started = false

  constructor (opts: RelayServiceOptions) {
    this.#o = opts
  }

  get window (): number { return this.#o.window ?? DEFAULT_RELAY_WINDOW }
  stats (): RelayStats { return { ...this.#stats } }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#o.net.handle(RELAY_PROTOCOL, async (stream, ctx) => { await this.#inbound(stream, ctx) }, { maxInboundStreams: 32, maxOutboundStreams: 32 })
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#o.net.unhandle(RELAY_PROTOCOL).catch(() => {})
    for (const s of this.#active) s.abort(new RelayError(RelayRejection.CLOSED, 'the relay service stopped'))
    this.#active.clear()
  }

  /** Target side: relayed streams arrive here. Without a handler they are refused. */
  onRelayedStream (handler: (stream: RelayedStream) => void): () => void {
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  /**
   * Payer side: opens the relay of a running session. Resolves once the provider has reached
   * the target; throws a RelayError with the provider's code otherwise.
   */
  async open (provider: Did, target: Did, session: string, meter: PayerMeter, opts: { signal?: AbortSignal } = {}): Promise<RelayChannel> {
    const stream = await this.#o.net.dialProtocol(provider, RELAY_PROTOCOL, opts)
    const frames = readFrames(stream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator]()
    try {
      await writeHandshake(stream, { t: 'open', session, window: this.window })
      const reply = await nextWithin(frames, HANDSHAKE_TIMEOUT_MS)
      if (reply === null) throw new RelayError(RelayRejection.CLOSED, 'the provider closed the relay stream')
      const h = decodeHandshake(reply)
      if (h.t === 'no') throw new RelayError(h.code, h.message)
      if (h.t !== 'ok') throw new RelayError(RelayRejection.FRAME, `expected ok or no, got ${h.t}`)
      const pipe = new RelayPipe(stream, frames, h.window, this.window)
      const channel = new RelayChannel(pipe, session, provider, target, meter)
      this.#track(stream)
      return channel
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  #track (stream: Stream): void {
    this.#active.add(stream)
    stream.addEventListener('close', () => { this.#active.delete(stream) }, { once: true })
  }

  async #inbound (stream: Stream, ctx: { did: Did, peerId: string }): Promise<void> {
    const remote: RemotePeer = { did: ctx.did, peerId: ctx.peerId }
    const frames = readFrames(stream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator]()
    let h: Handshake
    try {
      const first = await nextWithin(frames, HANDSHAKE_TIMEOUT_MS)
      if (first === null) { await stream.close().catch(() => {}); return }
      h = decodeHandshake(first)
    } catch (err) {
      if (isAllianceError(err) && err.code === RelayRejection.FRAME) this.#o.host.misbehaved?.(remote, err.code)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (h.t === 'open') await this.#forward(stream, frames, h, remote)
    else if (h.t === 'deliver') await this.#accept(stream, frames, h, remote)
    else {
      this.#o.host.misbehaved?.(remote, RelayRejection.FRAME)
      stream.abort(new RelayError(RelayRejection.FRAME, 'a relay stream starts with open or deliver'))
    }
  }

  async #refuse (stream: Stream, code: string, message: string): Promise<void> {
    try {
      await writeHandshake(stream, { t: 'no', code, message })
      await stream.close({ signal: AbortSignal.timeout(2_000) })
    } catch {
      stream.abort(new RelayError(code, message))
    }
  }

  /** Target side. */
  async #accept (stream: Stream, frames: AsyncIterator<Uint8Array>, h: Extract<Handshake, { t: 'deliver' }>, remote: RemotePeer): Promise<void> {
    if (this.#handlers.size === 0) {
      await this.#refuse(stream, RelayRejection.NOT_ACCEPTED, 'this peer does not accept relayed streams')
      return
    }
    await writeHandshake(stream, { t: 'ok', window: this.window })
    const pipe = new RelayPipe(stream, frames, h.window, this.window)
    pipe.onViolation = (code) => { this.#o.host.misbehaved?.(remote, code) }
    this.#track(stream)
    this.#stats = { ...this.#stats, delivered: this.#stats.delivered + 1 }
    const relayed = new RelayedStream(pipe, h.session, h.from, remote.did)
    for (const handler of this.#handlers) {
      try { handler(relayed) } catch (err) { this.#o.log?.(`relay: handler failed: ${(err as Error).message}`) }
    }
  }

  /** Provider side: dial the target, then forward both ways through the session's gate. */
  async #forward (stream: Stream, frames: AsyncIterator<Uint8Array>, h: Extract<Handshake, { t: 'open' }>, remote: RemotePeer): Promise<void> {
    let running: { gate: ServiceGate, target: Did, window: number }
    try {
      running = this.#o.host.relaySession(h.session, remote.did)
    } catch (err) {
      await this.#refuse(stream, isAllianceError(err) ? err.code : RelayRejection.NO_SESSION, (err as Error).message)
      return
    }
    try {
      await this.#forwardTo(stream, frames, h, remote, running)
    } finally {
      this.#o.host.released?.(h.session)
    }
  }

  async #forwardTo (stream: Stream, frames: AsyncIterator<Uint8Array>, h: Extract<Handshake, { t: 'open' }>, remote: RemotePeer, running: { gate: ServiceGate, target: Did, window: number }): Promise<void> {
    const { gate, target } = running
    let out: Stream
    try {
      out = await this.#o.net.dialProtocol(target, RELAY_PROTOCOL, { signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS) })
    } catch (err) {
      await this.#refuse(stream, RelayRejection.TARGET_UNREACHABLE, `the target is not reachable: ${(err as Error).message}`)
      return
    }
    const outFrames = readFrames(out, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator]()
    let targetWindow: number
    try {
      await writeHandshake(out, { t: 'deliver', session: h.session, from: remote.did, window: running.window })
      const reply = await nextWithin(outFrames, HANDSHAKE_TIMEOUT_MS)
      if (reply === null) throw new RelayError(RelayRejection.NOT_ACCEPTED, 'the target closed the relay stream')
      const answer = decodeHandshake(reply)
      if (answer.t === 'no') throw new RelayError(answer.code, answer.message)
      if (answer.t !== 'ok') throw new RelayError(RelayRejection.FRAME, 'the target answered neither ok nor no')
      targetWindow = answer.window
    } catch (err) {
      out.abort(err instanceof Error ? err : new Error(String(err)))
      await this.#refuse(stream, isAllianceError(err) ? err.code : RelayRejection.NOT_ACCEPTED, (err as Error).message)
      return
    }
    await writeHandshake(stream, { t: 'ok', window: running.window })
    const payerPipe = new RelayPipe(stream, frames, h.window, running.window)
    const targetPipe = new RelayPipe(out, outFrames, targetWindow, running.window)
    payerPipe.onViolation = (code) => { this.#o.host.misbehaved?.(remote, code) }
    targetPipe.onViolation = (code) => { this.#o.host.misbehaved?.({ did: target, peerId: peerIdStringFromDid(target) }, code) }
    this.#track(stream)
    this.#track(out)
    this.#stats = { ...this.#stats, relays: this.#stats.relays + 1 }

    let halt: () => void = () => {}
    const halted = new Promise<'halt'>((resolve) => { halt = () => { resolve('halt') } })
    const unsubscribe = gate.onStop(halt)
    const count = (n: number): void => { this.#stats = { ...this.#stats, forwarded: this.#stats.forwarded + n } }
    try {
      await Promise.all([
        forward(payerPipe, targetPipe, gate, halted, count),
        forward(targetPipe, payerPipe, gate, halted, count)
      ])
      // both hops have ended their data; give the ends a moment to close their streams
      await Promise.race([
        Promise.all([payerPipe.closed, targetPipe.closed]),
        new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))
      ])
    } finally {
      unsubscribe()
      if (stream.status === 'open') stream.abort(new RelayError(RelayRejection.CLOSED, 'relay ended'))
      if (out.status === 'open') out.abort(new RelayError(RelayRejection.CLOSED, 'relay ended'))
    }
  }
}

/**
 * Forwards `from` → `to` through the gate (which may pause at a trial edge or end the session),
 * a batch at a time: what has arrived, up to the next hop's `batchBytes`, is granted and written
 * together, so the gate and the stream are asked once per batch rather than once per frame
 * (SPEC B1). On the remote's end or the session's stop, ends `to` after what was granted.
 */
async function forward (from: RelayPipe, to: RelayPipe, gate: ServiceGate, halted: Promise<'halt'>, count: (n: number) => void): Promise<void> {
  try {
    for (;;) {
      const first = await Promise.race([from.recv(), halted])
      if (first === 'halt' || first === null) break
      const batch = [first]
      let total = first.byteLength
      const most = to.batchBytes
      for (let next = total < most ? from.poll() : undefined; next !== undefined; next = total < most ? from.poll() : undefined) {
        batch.push(next)
        total += next.byteLength
      }
      // the gate may grant less than the batch (at a trial edge): send what it granted, ask again
      for (let done = 0; done < total;) {
        const n = await gate.take(total - done)
        await to.send(range(batch, done, n))
        count(n)
        done += n
      }
      from.ack(total)
    }
  } catch (err) {
    if (!(err instanceof SessionEndedError) && !(err instanceof RelayError)) throw err
  } finally {
    await to.end().catch(() => {})
  }
}

/** Views of the bytes `start … start + n` of `parts` taken as one sequence. */
function range (parts: readonly Uint8Array[], start: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  for (const p of parts) {
    const end = at + p.byteLength
    if (end > start && at < start + n) out.push(p.subarray(Math.max(0, start - at), Math.min(p.byteLength, start + n - at)))
    at = end
    if (at >= start + n) break
  }
  return out
}
