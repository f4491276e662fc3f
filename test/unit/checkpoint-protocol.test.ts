// /alliance/checkpoint/1 and the signature gossip at the boundary (SPEC S20, S21): every
// malformed request, reply or message is a typed error, never a value; sizes are capped.
import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { encode } from '../../src/core/codec.ts'
import {
  CheckpointClient, decodeCheckpointSig, encodeCheckpointSig, parseCheckpointInfo, parseCheckpointRequest, serveCheckpoint
} from '../../src/net/checkpoint-protocol.ts'
import type { CheckpointInfo } from '../../src/net/checkpoint-protocol.ts'

const info: CheckpointInfo = { at: 20, height: 9, time: 19, state: 'a'.repeat(64), body: 'b'.repeat(64), tailFrom: 7, bytes: 5 }
const code = (f: () => unknown): string | undefined => { try { f() } catch (err) { return (err as { code?: string }).code } return undefined }

describe('checkpoint wire', () => {
  it('[S20] requests: info and get only, exact fields', () => {
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

  it('[S20] a package larger than its info said is refused on the length prefix', async () => {
    const client = new CheckpointClient(async () => {
      const [a, b] = await streamPair()
      void serveCheckpoint(b, { info: async () => info, bytes: async () => new Uint8Array(100) }).catch(() => {})
      return a
    })
    expect(await client.info()).toEqual(info)
    await expect(client.get(20, 99)).rejects.toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' })
    expect((await client.get(20, 100))?.byteLength).toBe(100)
  })
})
