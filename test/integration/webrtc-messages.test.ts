// The WebRTC stream's message path as patched in patches/@libp2p+webrtc+*.patch (SPEC N18,
// B1), over a real direct WebRTC connection (node-datachannel): one data-channel message per
// libp2p message, messages encoded in a reused buffer (so a sender's buffer may change right
// after send() returns without changing what arrives), incoming messages decoded in the
// message event, and the SCTP association's message limit visible to the relay pipe, which
// then sends messages wider than 64 KiB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { readFrames } from '../../src/net/frames.ts'
import { RELAY_FRAME_MAX_BYTES, RELAY_MESSAGE_BYTES, RelayPipe } from '../../src/net/relay-service-pipe.ts'
import { sha256 } from '../../src/core/codec.ts'
import { fullyDirect, startPeers, stopAll, waitFor } from './helpers.ts'

const PROTOCOL = '/alliance-test/webrtc-messages/1'
const PIPE = '/alliance-test/webrtc-messages-pipe/1'
const MIB = 1024 * 1024

interface Channelled { channel: RTCDataChannel, transportMaxMessageSize?: number, maxMessageSize?: number }

/** Counts the data-channel messages a WebRTC stream sends, and their largest size. */
function countSends (stream: Stream): { sends: number, largest: number } {
  const c = { sends: 0, largest: 0 }
  const channel = (stream as unknown as Channelled).channel
  const send = channel.send.bind(channel) as (data: ArrayBufferView) => void
  channel.send = ((data: ArrayBufferView) => { c.sends++; c.largest = Math.max(c.largest, data.byteLength); send(data) }) as RTCDataChannel['send']
  return c
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

describe('WebRTC stream messages (patched @libp2p/webrtc)', () => {
  let relay: RelayHandle
  let nets: AllianceNet[]
  /** What each inbound stream of PROTOCOL received, by the order streams arrived. */
  const received: Array<Promise<Uint8Array>> = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: () => {} })
    nets = await startPeers(2, relay.multiaddrs)
    await waitFor('a direct connection', () => fullyDirect(nets), 60_000)
    await nets[1].handle(PROTOCOL, async (stream) => {
      received.push((async () => {
        const parts: Uint8Array[] = []
        for await (const part of stream) parts.push(part.subarray().slice())
        await stream.close()
        return concat(parts)
      })())
    })
  }, 90_000)

  afterAll(async () => {
    await stopAll(nets ?? [])
    await relay?.stop()
  })

  it('[N18] a write goes out as one data-channel message (length prefix and protobuf together)', async () => {
    // the remote's handler may run before dialProtocol resolves
    const before = received.length
    const stream = await nets[0].dialProtocol(nets[1].did, PROTOCOL)
    const counted = countSends(stream)
    stream.send(new Uint8Array(1000).fill(7))
    // upstream sent the length prefix and the protobuf as two messages
    expect(counted.sends).toBe(1)
    await stream.close()
    await waitFor('the stream arrived', () => received.length > before, 10_000, 10)
    expect(await received[before]).toEqual(new Uint8Array(1000).fill(7))
  })

  it('[N18] what arrives is what was sent when the sender rewrites its buffer right after each send', async () => {
    const before = received.length
    const stream = await nets[0].dialProtocol(nets[1].did, PROTOCOL)
    const sizes = [1, 100, 16 * 1024 - 100, 16 * 1024, 40_000, 64 * 1024, 3]
    const buf = new Uint8Array(64 * 1024)
    const expected: Uint8Array[] = []
    let seed = 0
    for (let round = 0; round < 40; round++) {
      for (const n of sizes) {
        for (let i = 0; i < n; i++) buf[i] = (i * 31 + seed) & 0xff
        expected.push(buf.slice(0, n))
        const more = stream.send(buf.subarray(0, n))
        // the next content overwrites this one at once: the stream must not hold the buffer
        buf.fill(0xee)
        seed++
        if (!more) await stream.onDrain()
      }
    }
    await stream.close()
    await waitFor('the stream arrived', () => received.length > before, 10_000, 10)
    expect(sha256(await received[before])).toEqual(sha256(concat(expected)))
  }, 60_000)

  it('[B1] a relay pipe over WebRTC sends messages wider than 64 KiB when the SCTP association allows, intact', async () => {
    const got = new Promise<Uint8Array>((resolve, reject) => {
      void nets[1].handle(PIPE, async (stream) => {
        const pipe = new RelayPipe(stream, readFrames(stream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB)
        const parts: Uint8Array[] = []
        for (let c = await pipe.recv(); c !== null; c = await pipe.recv()) { parts.push(c.slice()); pipe.ack(c.byteLength) }
        await pipe.end()
        resolve(concat(parts))
      }).catch(reject)
    })
    const stream = await nets[0].dialProtocol(nets[1].did, PIPE)
    const limit = (stream as unknown as Channelled).transportMaxMessageSize
    expect(limit).toBeGreaterThan(RELAY_MESSAGE_BYTES)
    const counted = countSends(stream)
    const pipe = new RelayPipe(stream, readFrames(stream, RELAY_FRAME_MAX_BYTES)[Symbol.asyncIterator](), MIB, MIB)
    const data = new Uint8Array(4 * MIB)
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 13)) & 0xff
    // the payer's way: one write buffer, rewritten after each send
    const buf = new Uint8Array(256 * 1024)
    for (let off = 0; off < data.length; off += buf.length) {
      buf.set(data.subarray(off, off + buf.length))
      await pipe.send(buf)
      buf.fill(0xee)
    }
    await pipe.end()
    expect(sha256(await got)).toEqual(sha256(data))
    expect(counted.largest).toBeGreaterThan(RELAY_MESSAGE_BYTES)
    expect(counted.largest).toBeLessThanOrEqual(limit ?? 0)
  }, 60_000)
})
