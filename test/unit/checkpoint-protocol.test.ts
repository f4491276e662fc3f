// /alliance/checkpoint/1 and the signature gossip at the boundary (SPEC S20, S21): every
// malformed request, reply or message is a typed error, never a value; sizes are capped.
import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { decode, encode } from '../../src/core/codec.ts'
import { readOneFrame, writeFrame } from '../../src/net/frames.ts'
import {
  CHECKPOINT_CHUNKS_IN_FLIGHT, CHECKPOINT_CHUNK_BYTES, CHECKPOINT_CHUNK_RETRIES, CheckpointClient, decodeCheckpointSig, encodeCheckpointSig, parseCheckpointInfo, parseCheckpointRequest, serveCheckpoint
} from '../../src/net/checkpoint-protocol.ts'
import type { CheckpointInfo } from '../../src/net/checkpoint-protocol.ts'

const info: CheckpointInfo = { at: 20, height: 9, time: 19, state: 'a'.repeat(64), body: 'b'.repeat(64), tailFrom: 7, bytes: 5 }
const code = (f: () => unknown): string | undefined => { try { f() } catch (err) { return (err as { code?: string }).code } return undefined }

describe('checkpoint wire', () => {
  it('[S20] requests: info and get, exact fields', () => {
    expect(parseCheckpointRequest({ t: 'info' })).toEqual({ t: 'info' })
    expect(parseCheckpointRequest({ t: 'get', at: 5 })).toEqual({ t: 'get', at: 5 })
    for (const bad of [null, 7, [], { t: 'get' }, { t: 'get', at: -1 }, { t: 'get', at: 1.5 }, { t: 'info', x: 1 }, { t: 'inv' }, { __proto__: { t: 'info' } }]) {
      expect(code(() => parseCheckpointRequest(bad))).toBe('ERR_BAD_CHECKPOINT_WIRE')
    }
  })

  it('[S20] info replies: numbers, hex digests, a size within the cap', () => {
    expect(parseCheckpointInfo({ cp: null })).toBeNull()
    expect(parseCheckpointInfo({ cp: info })).toEqual(info)
    for (const bad of [{}, { cp: 3 }, { cp: { ...info, state: 'zz' } }, { cp: { ...info, bytes: 2 ** 40 } }, { cp: { ...info, at: -2 } }, { cp: { ...info, body: 5 } }]) {
      expect(code(() => parseCheckpointInfo(bad))).toBe('ERR_BAD_CHECKPOINT_WIRE')
    }
  })

  it('[S21] signature messages: exact shape, 64-byte signature, 256 bytes at most', () => {
    const m = { at: 10, body: 'c'.repeat(64), sig: new Uint8Array(64).fill(1) }
    expect(decodeCheckpointSig(encodeCheckpointSig(m))).toEqual(m)
    for (const bad of [
      encode({ v: 1, at: 10, body: m.body, sig: new Uint8Array(63) }), encode({ v: 2, at: 10, body: m.body, sig: m.sig }),
      encode({ v: 1, at: 10, body: m.body, sig: m.sig, extra: 1 }), new Uint8Array(300), new Uint8Array([0xff])
    ]) expect(code(() => decodeCheckpointSig(bad))).toBe('ERR_BAD_CHECKPOINT_SIG')
  })

  it('[S20] the whole-package get is still served (peers before S30), within its info size', async () => {
    const [a, b] = await streamPair()
    void serveCheckpoint(b, { info: async () => info, bytes: async () => new Uint8Array(100).fill(7) }).catch(() => {})
    await writeFrame(a, encode({ t: 'get', at: 20 }))
    expect(await readOneFrame(a, 100)).toEqual(new Uint8Array(100).fill(7))
  })

  it('[S30] chunk requests: exact fields; a chunk past the end is refused as malformed', async () => {
    expect(parseCheckpointRequest({ t: 'chunk', at: 5, i: 2 })).toEqual({ t: 'chunk', at: 5, i: 2 })
    for (const bad of [{ t: 'chunk', at: 5 }, { t: 'chunk', at: 5, i: -1 }, { t: 'chunk', at: 5, i: 0.5 }, { t: 'chunk', at: 5, i: 1, x: 0 }]) {
      expect(code(() => parseCheckpointRequest(bad))).toBe('ERR_BAD_CHECKPOINT_WIRE')
    }
    const [a, b] = await streamPair()
    const served = serveCheckpoint(b, { info: async () => info, bytes: async () => new Uint8Array(10) })
    await writeFrame(a, encode({ t: 'chunk', at: 20, i: 1 }))
    await expect(served).rejects.toMatchObject({ code: 'ERR_BAD_CHECKPOINT_WIRE' })
  })

  it('[S30] a package is downloaded in 1 MiB chunks, one stream each, and put back together byte for byte', async () => {
    const pkg = pattern(2 * CHECKPOINT_CHUNK_BYTES + 12345)
    const { client, asked } = server(pkg, async (req, bytes) => bytes.subarray(req.i * CHECKPOINT_CHUNK_BYTES, (req.i + 1) * CHECKPOINT_CHUNK_BYTES))
    const got = await client.download({ ...info, bytes: pkg.byteLength })
    expect(same(got, pkg)).toBe(true)
    expect(asked.sort()).toEqual([0, 1, 2])
  })

  it('[S30] a chunk longer than its place is refused on its length prefix and ends the download (typed, no retry)', async () => {
    const pkg = new Uint8Array(3 * CHECKPOINT_CHUNK_BYTES)
    const { client, asked } = server(pkg, async (req) => new Uint8Array(req.i === 0 ? CHECKPOINT_CHUNK_BYTES + 1 : CHECKPOINT_CHUNK_BYTES))
    await expect(client.download({ ...info, bytes: pkg.byteLength })).rejects.toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' })
    expect(asked.filter(i => i === 0)).toHaveLength(1)
    expect(asked.length).toBeLessThanOrEqual(CHECKPOINT_CHUNKS_IN_FLIGHT)
  })

  it('[S30] a short chunk, or a last chunk padded past the announced size, is ERR_BAD_CHECKPOINT_WIRE', async () => {
    const short = server(new Uint8Array(0), async () => new Uint8Array(10))
    await expect(short.client.download({ ...info, bytes: CHECKPOINT_CHUNK_BYTES })).rejects.toMatchObject({ code: 'ERR_BAD_CHECKPOINT_WIRE' })
    const padded = server(new Uint8Array(0), async () => new Uint8Array(600))
    await expect(padded.client.download({ ...info, bytes: 500 })).rejects.toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' })
    await expect(padded.client.download({ ...info, bytes: 0 })).rejects.toMatchObject({ code: 'ERR_BAD_CHECKPOINT_WIRE' })
  })

  it('[S30] a lost chunk is asked again and the chunks already in are kept; a chunk lost every time ends it', async () => {
    const pkg = pattern(2 * CHECKPOINT_CHUNK_BYTES)
    let fails = 2
    const flaky = server(pkg, async (req, bytes) => {
      if (req.i === 1 && fails-- > 0) throw new Error('stream reset')
      return bytes.subarray(req.i * CHECKPOINT_CHUNK_BYTES, (req.i + 1) * CHECKPOINT_CHUNK_BYTES)
    })
    expect(same(await flaky.client.download({ ...info, bytes: pkg.byteLength }), pkg)).toBe(true)
    expect(flaky.asked.sort()).toEqual([0, 1, 1, 1])
    const dead = server(pkg, async (req, bytes) => {
      if (req.i === 1) throw new Error('stream reset')
      return bytes.subarray(req.i * CHECKPOINT_CHUNK_BYTES, (req.i + 1) * CHECKPOINT_CHUNK_BYTES)
    })
    await expect(dead.client.download({ ...info, bytes: pkg.byteLength })).rejects.toThrow()
    expect(dead.asked.filter(i => i === 1)).toHaveLength(CHECKPOINT_CHUNK_RETRIES)
  })

  it('[S30] a server that no longer holds the cut answers empty: null', async () => {
    const { client } = server(new Uint8Array(0), async () => new Uint8Array(0))
    expect(await client.download({ ...info, bytes: 5 })).toBeNull()
  })
})

/** Bytes that differ from chunk to chunk (a misplaced chunk shows). */
function pattern (n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 20)) % 251
  return out
}

/** Byte equality without a per-element deep compare (megabytes). */
const same = (a: Uint8Array | null, b: Uint8Array): boolean => a != null && Buffer.compare(a, b) === 0

/** A test server: each stream reads one chunk request and answers what `reply` gives (a throw aborts the stream). */
function server (pkg: Uint8Array, reply: (req: { i: number }, bytes: Uint8Array) => Promise<Uint8Array>): { client: CheckpointClient, asked: number[] } {
  const asked: number[] = []
  const client = new CheckpointClient(async () => {
    const [a, b] = await streamPair()
    void (async () => {
      const req = decode(await readOneFrame(b, 256)) as { t: string, i: number }
      asked.push(req.i)
      try {
        await writeFrame(b, await reply(req, pkg))
        await b.close()
      } catch (err) {
        b.abort(err as Error)
      }
    })().catch(() => {})
    return a
  })
  return { client, asked }
}
