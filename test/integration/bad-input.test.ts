// Untrusted input on /alliance/dm/1 over real direct WebRTC connections: malformed, oversized,
// forged and misaddressed frames are rejected with typed codes and counted, the node keeps
// working, and a peer that keeps sending garbage is hung up on and denied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as lp from 'it-length-prefixed'
import { randomBytes } from '@noble/hashes/utils.js'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import { DM_PROTOCOL, MAX_FRAME_BYTES, readOneFrame, writeFrame } from '../../src/net/node.ts'
import type { AllianceNet } from '../../src/net/node.ts'
import { decodeReply } from '../../src/net/dm.ts'
import { decodeEnvelope, encodeDmText, sealEnvelope } from '../../src/core/dm.ts'
import { encode } from '../../src/core/codec.ts'
import { fullyDirect, logger, startPeers, stopAll, waitFor } from './helpers.ts'

/** Sends raw frames on one DM stream and returns the receiver's replies (codes). */
async function sendRaw (from: AllianceNet, to: AllianceNet, payload: Uint8Array | 'oversized'): Promise<string> {
  const stream = await from.dialProtocol(to.did, DM_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const signal = AbortSignal.timeout(10_000)
  if (payload === 'oversized') {
    // a length prefix announcing more than the limit, followed by part of the bytes
    const big = lp.encode.single(new Uint8Array(MAX_FRAME_BYTES + 1024)).subarray()
    stream.send(big.subarray(0, 4096))
  } else {
    await writeFrame(stream, payload, { signal })
  }
  await stream.close({ signal }).catch(() => {})
  const reply = decodeReply(await readOneFrame(stream, 1024, { signal }))
  return reply.ok ? 'ok' : reply.code ?? '?'
}

describe('bad input on the DM protocol', () => {
  let relay: RelayHandle | undefined
  let nets: AllianceNet[] = []

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    nets = await startPeers(3, relay.multiaddrs)
    await waitFor('a direct connection between every pair', () => fullyDirect(nets), 90_000)
  })

  afterAll(async () => {
    await stopAll([...nets, relay])
  })

  it('rejects a malformed frame with ERR_DECODE and keeps working', async () => {
    const [alice, bob] = nets
    expect(await sendRaw(bob, alice, new Uint8Array([0xff, 0x00, 0x13, 0x37]))).toBe('ERR_DECODE')
    expect(await sendRaw(bob, alice, encode({ v: 1, hello: 'not an envelope' }))).toBe('ERR_DECODE')
    expect(alice.stats().rejected.ERR_DECODE).toBe(2)
    await bob.sendDm(alice.did, 'a good message after garbage')
    expect(alice.inbox().at(-1)).toMatchObject({ from: bob.did, text: 'a good message after garbage' })
  })

  it('rejects an oversized frame with ERR_FRAME_TOO_LARGE before reading it', async () => {
    const [alice, bob] = nets
    expect(await sendRaw(bob, alice, 'oversized')).toBe('ERR_FRAME_TOO_LARGE')
    expect(alice.stats().rejected.ERR_FRAME_TOO_LARGE).toBe(1)
    // three strikes for bob so far: still connected and heard
    expect(alice.stats().disconnected).toBe(0)
    expect(alice.peers().find(p => p.did === bob.did)?.kind).toBe('direct')
    await bob.sendDm(alice.did, 'still fine')
    expect(alice.inbox().at(-1)?.text).toBe('still fine')
  })

  it('rejects a forged envelope and one addressed to someone else', async () => {
    const [alice, bob, carol] = nets
    // an envelope for carol, pushed to alice: not for her
    const forCarol = sealEnvelope({ senderSeed: randomBytes(32), to: carol.did, plaintext: encodeDmText('x'), at: Date.now(), random: randomBytes })
    const before = alice.stats().rejected
    expect(await sendRaw(carol, alice, forCarol)).toBe('ERR_WRONG_RECIPIENT')
    // an envelope to alice whose signature does not cover what is sent
    const env = decodeEnvelope(sealEnvelope({ senderSeed: randomBytes(32), to: alice.did, plaintext: encodeDmText('y'), at: Date.now(), random: randomBytes }))
    const tampered = encode({ ...env, at: env.at + 1 })
    expect(await sendRaw(carol, alice, tampered)).toBe('ERR_BAD_SIGNATURE')
    // a valid envelope by some other key, relayed by carol: the signer is not the sender
    const other = sealEnvelope({ senderSeed: randomBytes(32), to: alice.did, plaintext: encodeDmText('z'), at: Date.now(), random: randomBytes })
    expect(await sendRaw(carol, alice, other)).toBe('ERR_SENDER_MISMATCH')
    const after = alice.stats().rejected
    expect(after.ERR_WRONG_RECIPIENT).toBe((before.ERR_WRONG_RECIPIENT ?? 0) + 1)
    expect(after.ERR_BAD_SIGNATURE).toBe((before.ERR_BAD_SIGNATURE ?? 0) + 1)
    expect(after.ERR_SENDER_MISMATCH).toBe((before.ERR_SENDER_MISMATCH ?? 0) + 1)
    expect(bob.inbox()).toHaveLength(0)
  })

  it('hangs up on a peer that keeps sending garbage, denies it, and keeps serving the others', async () => {
    const [alice, bob, carol] = nets
    // carol has 3 strikes from the previous test; garbage until alice hangs up
    const codes: string[] = []
    for (let i = 0; i < 2; i++) {
      codes.push(await sendRaw(carol, alice, randomBytes(64)).catch((err: Error) => `error:${err.name}`))
    }
    expect(codes[0]).toBe('ERR_DECODE')
    await waitFor('alice hung up on carol', () => alice.stats().disconnected === 1 && !alice.peers().some(p => p.did === carol.did))
    expect(alice.stats().denied).toBe(1)
    expect(alice.libp2p.getConnections(carol.libp2p.peerId)).toHaveLength(0)
    // carol cannot come back while denied
    await expect(carol.sendDm(alice.did, 'let me in')).rejects.toThrow()
    expect(alice.inbox().some(m => m.from === carol.did)).toBe(false)
    // alice still works with bob, and carol with bob
    await bob.sendDm(alice.did, 'alice still serves bob')
    expect(alice.inbox().at(-1)?.text).toBe('alice still serves bob')
    await carol.sendDm(bob.did, 'carol still talks to bob')
    expect(bob.inbox().at(-1)).toMatchObject({ from: carol.did, text: 'carol still talks to bob' })
  })
})
