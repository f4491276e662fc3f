// Sync replies in data-channel messages as wide as the transport takes (SPEC S41, N18): a
// serving stream that reports its SCTP limit writes a 256-block reply as one message instead
// of libp2p's 16 KiB ones. Streams here are libp2p's in-memory pair, dressed as WebRTC streams.
import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { MessageStream } from '@libp2p/interface'
import { decode, encode } from '../../src/core/codec.ts'
import { writeFrame } from '../../src/net/frames.ts'
import { serveSync } from '../../src/net/sync.ts'
import { SYNC_MESSAGE_MAX_BYTES, widenSyncMessages } from '../../src/net/sync-wide.ts'

const WEBRTC_DEFAULT = 16 * 1024 - 8

/** A stream as @libp2p/webrtc (patched) makes it: 16 KiB messages, the association's limit reported. */
function asWebRTC (s: MessageStream, transport: number | undefined): MessageStream {
  (s as MessageStream & { maxMessageSize: number }).maxMessageSize = WEBRTC_DEFAULT
  Object.defineProperty(s, 'transportMaxMessageSize', { get: () => transport })
  return s
}

/** Sends `request` on `client` and returns the raw messages the reply came in. */
async function messagesOf (client: MessageStream, request: Uint8Array): Promise<Uint8Array[]> {
  await writeFrame(client, request)
  const parts: Uint8Array[] = []
  for await (const part of client) parts.push(part.subarray())
  return parts
}

describe('[S41] wide sync messages', () => {
  it('[S41] a served get of ~150 KiB goes as one message where the transport takes 256 KiB', async () => {
    const blocks = Array.from({ length: 256 }, (_, i) => new Uint8Array(580).fill(i % 251))
    const [client, server] = await streamPair()
    asWebRTC(server, 256 * 1024)
    const serving = serveSync(server, { inventory: async () => ({ ids: [], next: null, total: 0 }), getBlocks: async () => blocks })
    const parts = await messagesOf(client, encode({ t: 'get', ids: ['aaaaaaaa'] }))
    await serving
    expect(parts.length).toBe(1)
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
    let at = 0
    for (const p of parts) { whole.set(p, at); at += p.byteLength }
    // one length-prefixed frame: the varint, then the dag-cbor reply
    const reply = decode(whole.subarray(varintLength(whole))) as { blocks: Uint8Array[] }
    expect(reply.blocks.length).toBe(256)
    expect(reply.blocks[7]).toEqual(blocks[7])
  })

  it('[S41] the width is the transport\'s limit, at most 256 KiB; streams that report none are left alone', async () => {
    const [a, b] = await streamPair()
    expect(widenSyncMessages(asWebRTC(a, 64 * 1024))).toBe(64 * 1024 - 32)
    expect(widenSyncMessages(asWebRTC(b, 1024 * 1024 * 1024))).toBe(SYNC_MESSAGE_MAX_BYTES - 32)
    const [c] = await streamPair()
    expect(widenSyncMessages(asWebRTC(c, undefined))).toBeNull()
    expect((c as unknown as { maxMessageSize: number }).maxMessageSize).toBe(WEBRTC_DEFAULT)
  })
})

function varintLength (bytes: Uint8Array): number {
  let n = 0
  while ((bytes[n] & 0x80) !== 0) n++
  return n + 1
}
