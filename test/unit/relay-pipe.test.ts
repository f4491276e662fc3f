// The relay pipe (`/alliance/relay/1` after its handshake) and the provider's forwarding over
// in-memory stream pairs: batched frames, coalesced acknowledgements, windows that bound what
// a side holds, and a target that never reads (SPEC B1–B3).
import '../../src/net/node-polyfills.ts'
import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { readFrames } from '../../src/net/frames.ts'
import {
  ACK_DELAY_MS, DEFAULT_RELAY_WINDOW, RELAY_BATCH_BYTES, RELAY_FRAME_MAX_BYTES, RELAY_MESSAGE_BYTES, RelayPipe, RelayRejection
} from '../../src/net/relay-service-pipe.ts'
import { RelayService } from '../../src/net/relay-service.ts'
import type { RelayNet, RelayedStream } from '../../src/net/relay-service.ts'
import type { PayerMeter, ServiceGate } from '../../src/net/session-protocol.ts'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { sha256 } from '../../src/core/codec.ts'

const MIB = 1024 * 1024

/** Counts the writes a stream makes and the relay frames of each type in them. */
function countWrites (stream: Stream): { writes: number, bytes: number, largest: number } {
  const c = { writes: 0, bytes: 0, largest: 0 }
  const send = stream.send.bind(stream)
  stream.send = (data) => { c.writes++; c.bytes += data.byteLength; c.largest = Math.max(c.largest, data.byteLength); return send(data) }
  return c
}

async function pipes (sendWindow: number, recvWindow: number): Promise<{ a: RelayPipe, b: RelayPipe, aStream: Stream, bStream: Stream, aWrites: { writes: number, largest: number }, bWrites: { writes: number } }> {
  const [aStream, bStream] = await streamPair()
  const aWrites = countWrites(aStream)
  const bWrites = countWrites(bStream)
  // a: sends into b's window; b: sends into a's
  const a = new RelayPipe(aStream, readFrames(aStream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), recvWindow, sendWindow)
  const b = new RelayPipe(bStream, readFrames(bStream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), sendWindow, recvWindow)
  return { a, b, aStream, bStream, aWrites, bWrites }
}

function pattern (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed + (i >> 9)) & 0xff
  return out
}

async function readAll (p: RelayPipe): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for (let c = await p.recv(); c !== null; c = await p.recv()) {
    parts.push(c.slice())
    p.ack(c.byteLength)
  }
  const out = new Uint8Array(parts.reduce((n, x) => n + x.byteLength, 0))
  let at = 0
  for (const x of parts) { out.set(x, at); at += x.byteLength }
  return out
}

const tick = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('relay pipe', () => {
  it('[B1][B2] 1 MiB arrives intact in batched writes, acknowledged a quarter window at a time', async () => {
    const window = 256 * 1024
    const { a, b, aWrites, bWrites } = await pipes(window, window)
    const data = pattern(MIB, 1)
    const reading = readAll(b)
    await a.send(data)
    await a.end()
    const got = await reading
    expect(sha256(got)).toEqual(sha256(data))
    // several frames per write (up to ~64 KiB), not one write per 16 KiB frame
    const frames = Math.ceil(MIB / (16 * 1024 - 64))
    expect(aWrites.writes).toBeLessThanOrEqual(frames / 2)
    // acknowledgements: one per quarter window (and the remainder), not one per frame
    expect(bWrites.writes).toBeGreaterThanOrEqual(1)
    expect(bWrites.writes).toBeLessThanOrEqual(MIB / (window / 4) + 2)
    await b.end()
  })

  it('[B1] with window to spare, four full frames go in each write, and a write fits one 64 KiB message', async () => {
    const { a, b, aWrites } = await pipes(DEFAULT_RELAY_WINDOW, DEFAULT_RELAY_WINDOW)
    const reading = readAll(b)
    await a.send(pattern(MIB, 5))
    await a.end()
    expect((await reading).byteLength).toBe(MIB)
    const frames = Math.ceil(MIB / (16 * 1024 - 64))
    expect(aWrites.writes).toBeLessThanOrEqual(Math.ceil(frames / 4) + 1)
    expect(aWrites.largest).toBeLessThanOrEqual(RELAY_MESSAGE_BYTES - 32)
    await b.end()
  })

  it('[B2] a write smaller than a quarter window is acknowledged after the delay, so flushed() resolves', async () => {
    const { a, b } = await pipes(DEFAULT_RELAY_WINDOW, DEFAULT_RELAY_WINDOW)
    const reading = (async () => { for (let c = await b.recv(); c !== null; c = await b.recv()) b.ack(c.byteLength) })()
    await a.send(pattern(1000, 2))
    await a.flushed()
    expect(a.sent).toBe(1000)
    await a.end()
    await reading
    await b.end()
  })

  it('[B1] relay streams carry WebRTC messages of up to 64 KiB', async () => {
    const [s, r] = await streamPair()
    const limited = s as Stream & { maxMessageSize?: number }
    limited.maxMessageSize = 16 * 1024 - 8
    const p = new RelayPipe(s, readFrames(s, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB)
    expect(limited.maxMessageSize).toBeGreaterThan(60 * 1024)
    expect(limited.maxMessageSize).toBeLessThan(RELAY_MESSAGE_BYTES)
    p.abort(new Error('done'))
    r.abort(new Error('done'))
  })

  it('[B1] over a transport that allows 256 KiB messages a batch fills one, at most a quarter of the send window', async () => {
    const [s, r] = await streamPair()
    const wide = s as Stream & { maxMessageSize?: number, transportMaxMessageSize?: number }
    wide.maxMessageSize = 16 * 1024 - 8
    Object.defineProperty(wide, 'transportMaxMessageSize', { value: 256 * 1024 })
    const frames = (window: number): number => new RelayPipe(s, readFrames(s, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), window, MIB).batchBytes / (16 * 1024 - 64)
    expect(frames(MIB)).toBe(16)
    expect(frames(512 * 1024)).toBe(8)
    // never under the 64 KiB batch, however small the window
    expect(frames(64 * 1024)).toBe(4)
    expect(wide.maxMessageSize).toBe(256 * 1024 - 32)
    // a transport that does not say: 64 KiB messages, four frames
    const [t, u] = await streamPair()
    const plain = t as Stream & { maxMessageSize?: number }
    plain.maxMessageSize = 16 * 1024 - 8
    expect(new RelayPipe(t, readFrames(t, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB).batchBytes).toBe(RELAY_BATCH_BYTES)
    for (const x of [s, r, t, u]) x.abort(new Error('done'))
  })

  it('[B1] a sender reuses its batch buffer only on a stream that copies what it sends', async () => {
    for (const copies of [true, false]) {
      const [s, r] = await streamPair()
      const buffers = new Set<ArrayBufferLike>()
      const send = s.send.bind(s)
      // a stream that copies on send, as the patched WebRTC stream does
      s.send = (data) => { const d = data.subarray(); buffers.add(d.buffer); return send(copies ? d.slice() : d) }
      if (copies) Object.defineProperty(s, 'copiesOnSend', { value: true })
      const a = new RelayPipe(s, readFrames(s, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB)
      const b = new RelayPipe(r, readFrames(r, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB)
      const reading = readAll(b)
      const data = pattern(MIB, 9)
      await a.send(data)
      await a.end()
      expect(sha256(await reading)).toEqual(sha256(data))
      // 17 batches of 64 KiB: a fresh buffer each unless the stream copied the write (then a
      // fresh one only after a write the stream kept for its drain), and the end frame's
      if (copies) expect(buffers.size).toBeLessThanOrEqual(8)
      else expect(buffers.size).toBeGreaterThan(16)
      await b.end()
    }
  })

  it('[B2] a sender past the announced window is cut off with ERR_RELAY_WINDOW', async () => {
    const [s, r] = await streamPair()
    const violations: string[] = []
    const receiver = new RelayPipe(r, readFrames(r, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, 1000)
    receiver.onViolation = (code) => { violations.push(code) }
    // a data frame of 1,200 bytes into a window of 1,000: length 1201 (varint 0xb1 0x09), type 0
    const frame = new Uint8Array(2 + 1 + 1200)
    frame.set([0xb1, 0x09, 0])
    s.send(frame)
    await receiver.closed
    expect(violations).toEqual([RelayRejection.WINDOW])
    expect(await receiver.recv()).toBeNull()
    s.abort(new Error('done'))
  })

  it('[B3] a receiver that never reads holds the sender to the window, whatever the window it announced', async () => {
    // b announces 64 MiB but never reads: a keeps at most DEFAULT_RELAY_WINDOW in flight
    const { a, b } = await pipes(64 * MIB, 64 * MIB)
    let done = false
    const writing = a.send(pattern(4 * MIB, 3)).finally(() => { done = true })
    writing.catch(() => {})
    await tick(50 + ACK_DELAY_MS)
    expect(done).toBe(false)
    expect(a.sent).toBeLessThanOrEqual(DEFAULT_RELAY_WINDOW)
    expect(b.received).toBeLessThanOrEqual(DEFAULT_RELAY_WINDOW)
    a.abort(new Error('done'))
    b.abort(new Error('done'))
    await expect(writing).rejects.toThrow()
  })
})

// ---- the provider between a payer and a target that never reads ------------------------------

const did = (n: number): Did => didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(n)).publicKey)

/** Three peers over in-memory stream pairs. */
function mesh (): { netFor: (me: Did) => RelayNet } {
  const handlers = new Map<Did, (stream: Stream, ctx: { did: Did, peerId: string }) => void | Promise<void>>()
  return {
    netFor: (me) => ({
      handle: async (_p, h) => { handlers.set(me, h) },
      unhandle: async () => { handlers.delete(me) },
      dialProtocol: async (to) => {
        const h = handlers.get(to)
        if (h === undefined) throw new Error('not handled')
        const [out, inb] = await streamPair()
        Promise.resolve(h(inb, { did: me, peerId: `peer:${me}` })).catch((e: unknown) => { inb.abort(e as Error) })
        return out
      }
    })
  }
}

describe('relay provider', () => {
  it('[B3][F4] a target that never reads: the payer stalls within the windows, the provider holds at most its windows, and the gate counted only what was forwarded', async () => {
    const [payer, provider, target] = [did(41), did(42), did(43)]
    const m = mesh()
    let granted = 0
    const gate: ServiceGate = { take: async (max) => { granted += max; return max }, stopped: false, onStop: () => () => {} }
    const meter: PayerMeter = { reserve: (max) => max, received: () => {}, stopped: false, onStop: () => () => {} }
    const providerWindow = 256 * 1024
    const targetWindow = 64 * MIB // announced, never honoured by reading
    const services = [
      new RelayService({ net: m.netFor(payer), host: { relaySession: () => { throw new Error('not a provider') } } }),
      new RelayService({ net: m.netFor(provider), host: { relaySession: () => ({ gate, target, window: providerWindow }) } }),
      new RelayService({ net: m.netFor(target), host: { relaySession: () => { throw new Error('not a provider') } }, window: targetWindow })
    ]
    for (const s of services) await s.start()
    let arrived: RelayedStream | null = null
    services[2].onRelayedStream((s) => { arrived = s }) // and never reads it
    const ch = await services[0].open(provider, target, 'session-1', meter)
    let done = false
    const writing = ch.write(pattern(8 * MIB, 4)).finally(() => { done = true })
    writing.catch(() => {})
    await tick(200)
    expect(arrived).not.toBeNull()
    expect(done).toBe(false)
    // in flight toward the target at most DEFAULT_RELAY_WINDOW; from the payer at most the provider's window
    expect(granted).toBeLessThanOrEqual(DEFAULT_RELAY_WINDOW + 64 * 1024)
    // granted before it is written: at most one batch granted and waiting for window credit
    expect(services[1].stats().forwarded).toBeLessThanOrEqual(granted)
    expect(granted - services[1].stats().forwarded).toBeLessThanOrEqual(RELAY_BATCH_BYTES)
    expect(ch.sent).toBeLessThanOrEqual(granted + providerWindow + 64 * 1024)
    ch.abort()
    await expect(writing).rejects.toThrow()
    for (const s of services) await s.stop()
  })
})
