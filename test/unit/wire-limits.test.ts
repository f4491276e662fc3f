/**
 * Resource limits on the wire (SPEC N11–N14): gossip judged before it is forwarded, with the
 * forwarder blamed too; discovery records bound to their signer and bounded; reservations per
 * IP and per peer; inbound WebRTC handshakes per minute.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message as GossipMessage } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { applicationValidator, discoveryValidator, GOSSIP_CODES, MAX_VALIDATIONS_PER_SOURCE, type GossipHandler } from '../../src/net/gossip-guard.ts'
import { decodeDiscoveryRecord, MAX_RECORD_ADDRS } from '../../src/net/discovery-record.ts'
import { InboundRate } from '../../src/net/webrtc-guard.ts'
import { ReservationLimiter } from '../../src/relay/reservation-limits.ts'
import { AllianceError } from '../../src/core/errors.ts'

async function peer (): Promise<{ id: PeerId, publicKey: Uint8Array }> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key), publicKey: publicKeyToProtobuf(key.publicKey) }
}

function field (n: number, bytes: Uint8Array): Uint8Array {
  return Uint8Array.from([(n << 3) | 2, bytes.length, ...bytes])
}

function record (publicKey: Uint8Array, addrs: Uint8Array[]): Uint8Array {
  const parts = [field(1, publicKey), ...addrs.map(a => field(2, a))]
  return Uint8Array.from(parts.flatMap(p => [...p]))
}

function signed (from: PeerId, data: Uint8Array, topic = 't'): GossipMessage {
  return { type: 'signed', from, data, topic, sequenceNumber: 1n, signature: new Uint8Array(64), key: new Uint8Array(32) } as unknown as GossipMessage
}

function recorder (): { strikes: Array<[string, string]>, strike: (p: string, c: string) => void } {
  const strikes: Array<[string, string]> = []
  return { strikes, strike: (p, c) => { strikes.push([p, c]) } }
}

const ADDR = multiaddr('/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit/webrtc').bytes

describe('gossip judged before it is forwarded', () => {
  it('[N11] accepts what the handlers accept, and ignores what one of them ignores, blaming nobody', async () => {
    const author = await peer()
    const r = recorder()
    const handlers = new Set<GossipHandler>([() => {}])
    const validate = applicationValidator('t', { handlers: () => handlers, strike: r.strike, log: () => {} })
    expect(await validate(author.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Accept)
    handlers.add(() => 'ignore')
    expect(await validate(author.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Ignore)
    expect(r.strikes).toEqual([])
  })

  it('[N11] a rejected message is a strike against its author and against the peer that forwarded it', async () => {
    const [author, forwarder] = [await peer(), await peer()]
    const r = recorder()
    const validate = applicationValidator('t', {
      handlers: () => new Set<GossipHandler>([() => { throw new AllianceError('ERR_BAD_SIGNATURE', 'forged') }]),
      strike: r.strike,
      log: () => {}
    })
    expect(await validate(forwarder.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Reject)
    expect(r.strikes).toEqual([[author.id.toString(), 'ERR_BAD_SIGNATURE'], [forwarder.id.toString(), GOSSIP_CODES.forwardedInvalid]])
    // an author sending its own junk gets one strike, not two
    r.strikes.length = 0
    expect(await validate(author.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Reject)
    expect(r.strikes).toEqual([[author.id.toString(), 'ERR_BAD_SIGNATURE']])
  })

  it('[N11] a local failure (not a typed error) is ignored, not blamed on anyone', async () => {
    const author = await peer()
    const r = recorder()
    const lines: string[] = []
    const validate = applicationValidator('t', { handlers: () => new Set<GossipHandler>([() => { throw new Error('disk full') }]), strike: r.strike, log: l => { lines.push(l) } })
    expect(await validate(author.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Ignore)
    expect(r.strikes).toEqual([])
    expect(lines.join()).toContain('disk full')
  })

  it('[N11] holds at most MAX_VALIDATIONS_PER_SOURCE messages of one forwarder at once; the rest are dropped unread', async () => {
    const author = await peer()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let seen = 0
    const validate = applicationValidator('t', { handlers: () => new Set<GossipHandler>([async () => { seen++; await gate }]), strike: () => {}, log: () => {} })
    const verdicts = Array.from({ length: MAX_VALIDATIONS_PER_SOURCE + 10 }, async () => await validate(author.id, signed(author.id, new Uint8Array([1]))))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(seen).toBe(MAX_VALIDATIONS_PER_SOURCE)
    release()
    const results = await Promise.all(verdicts)
    expect(results.filter(v => v === TopicValidatorResult.Accept)).toHaveLength(MAX_VALIDATIONS_PER_SOURCE)
    expect(results.filter(v => v === TopicValidatorResult.Ignore)).toHaveLength(10)
    // once they are done, the forwarder's next message is judged again
    expect(await validate(author.id, signed(author.id, new Uint8Array([1])))).toBe(TopicValidatorResult.Accept)
  })
})

describe('discovery records bound to their author', () => {
  it('[N12] accepts a record of the signer\'s own key with well-formed addresses', async () => {
    const author = await peer()
    const r = recorder()
    expect(await discoveryValidator(r)(author.id, signed(author.id, record(author.publicKey, [ADDR])))).toBe(TopicValidatorResult.Accept)
    expect(r.strikes).toEqual([])
  })

  it('[N12] rejects a record of another key, and blames the signer and the forwarder', async () => {
    const [author, victim, forwarder] = [await peer(), await peer(), await peer()]
    const r = recorder()
    expect(await discoveryValidator(r)(forwarder.id, signed(author.id, record(victim.publicKey, [ADDR])))).toBe(TopicValidatorResult.Reject)
    expect(r.strikes).toEqual([[author.id.toString(), 'ERR_RECORD_NOT_AUTHOR'], [forwarder.id.toString(), GOSSIP_CODES.forwardedInvalid]])
  })

  it('[N12] rejects records that are unbounded, malformed or hold undecodable addresses', async () => {
    const author = await peer()
    const cases: Array<[string, Uint8Array]> = [
      ['too many addresses', record(author.publicKey, Array.from({ length: MAX_RECORD_ADDRS + 1 }, () => ADDR))],
      ['no key', Uint8Array.from(field(2, ADDR))],
      ['unknown field', Uint8Array.from([...record(author.publicKey, []), ...field(3, new Uint8Array([1]))])],
      ['truncated', record(author.publicKey, [ADDR]).subarray(0, 20)],
      ['address junk', record(author.publicKey, [Uint8Array.from([0xff, 0xff, 0xff])])],
      ['oversized', new Uint8Array(5000)]
    ]
    for (const [why, bytes] of cases) {
      const r = recorder()
      expect(await discoveryValidator(r)(author.id, signed(author.id, bytes)), why).toBe(TopicValidatorResult.Reject)
      expect(r.strikes, why).toHaveLength(1)
    }
    expect(() => decodeDiscoveryRecord(record(author.publicKey, [ADDR, ADDR]))).not.toThrow()
  })
})

describe('relay reservations per IP and per peer', () => {
  it('[N13] refuses the next peer of an IP that holds perIp reservations; a renewal keeps its slot', () => {
    const limits = new ReservationLimiter({ perIp: 2 })
    const holders = [{ peer: 'a', ip: '10.0.0.1' }, { peer: 'b', ip: '10.0.0.1' }, { peer: 'c', ip: '10.0.0.2' }]
    expect(limits.check('d', '10.0.0.1', holders, 0)).toBe('per-ip')
    expect(limits.check('a', '10.0.0.1', holders, 0)).toBeNull()
    expect(limits.check('d', '10.0.0.2', holders, 0)).toBeNull()
    expect(limits.refused['per-ip']).toBe(1)
  })

  it('[N13] refuses a peer asking more than perPeerPerMinute times a minute, and lets it back after', () => {
    const limits = new ReservationLimiter({ perPeerPerMinute: 3 })
    for (let i = 0; i < 3; i++) expect(limits.check('a', '10.0.0.1', [], i * 1000)).toBeNull()
    expect(limits.check('a', '10.0.0.1', [], 3000)).toBe('per-peer-rate')
    expect(limits.check('b', '10.0.0.1', [], 3000)).toBeNull()
    expect(limits.check('a', '10.0.0.1', [], 70_000)).toBeNull()
  })
})

describe('inbound WebRTC handshakes per minute', () => {
  it('[N14] limits one peer and everyone, in a sliding minute', () => {
    const rate = new InboundRate(2, 3)
    expect(rate.take('a', 0)).toBeNull()
    expect(rate.take('a', 1)).toBeNull()
    expect(rate.take('a', 2)).toMatch(/from it/)
    expect(rate.take('b', 3)).toBeNull()
    expect(rate.take('c', 4)).toMatch(/inbound handshakes in the last minute/)
    expect(rate.take('a', 60_001)).toBeNull()
  })
})
