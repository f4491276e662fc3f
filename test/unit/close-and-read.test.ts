// The lost-transfer failure of issue 9 (SPEC N8): a sender that half-closes and only then reads
// the receiver's acknowledgement. The receiver acks and closes while close() waits, so the ack
// lands in the stream's buffer with nobody listening and its end-of-stream event is missed.
// In-memory libp2p stream pairs (the same stream base class as WebRTC's streams).
import '../../src/net/polyfills.ts'
import { describe, expect, it, vi } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { closeAndReadAll, readOneFrame, writeFrame } from '../../src/net/frames.ts'

/** Reads everything, acks the count and closes: the bench's sink. */
async function sink (stream: Stream): Promise<void> {
  let n = 0
  for await (const c of stream) n += c.byteLength
  stream.send(new TextEncoder().encode(String(n)))
  await stream.close()
}

describe('closing a stream and reading the answer', () => {
  it('[N8] the read-after-close pattern leaves the ack unread and the stream without an end (why closeAndReadAll exists)', async () => {
    const [a, b] = await streamPair()
    const served = sink(b)
    a.send(new Uint8Array(4096))
    await a.close()
    await served
    // the remote has acked and closed; our side is closed, yet the ack sits unread in the
    // buffer with no end-of-stream left to deliver: a `for await` now would never finish
    await vi.waitFor(() => { expect(a.status).toBe('closed') })
    expect(a.readBufferLength).toBe(4)
    expect(a.readStatus).toBe('readable')
  })

  it('[N8] closeAndReadAll gets the whole ack of a 2 MiB transfer, the receiver closing while we close', async () => {
    const [a, b] = await streamPair()
    const served = sink(b)
    const chunk = new Uint8Array(64 * 1024)
    for (let sent = 0; sent < 2 * 1024 * 1024; sent += chunk.byteLength) {
      if (!a.send(chunk)) await a.onDrain()
    }
    const ack = new TextDecoder().decode(await closeAndReadAll(a, { signal: AbortSignal.timeout(20_000) }))
    await served
    expect(ack).toBe(String(2 * 1024 * 1024))
  })

  it('[N8] a frame reply is read when the reader is started before the close (the DM sender)', async () => {
    const [a, b] = await streamPair()
    void (async () => {
      await readOneFrame(b, 1024)
      await writeFrame(b, new Uint8Array([1, 2, 3]))
      await b.close()
    })()
    const replied = readOneFrame(a, 1024)
    await writeFrame(a, new Uint8Array([9]))
    await a.close()
    expect([...await replied]).toEqual([1, 2, 3])
  })
})
