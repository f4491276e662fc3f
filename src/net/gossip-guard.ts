/**
 * Gossip is checked before it is forwarded (gossipsub v1.1 practice, SPEC N11–N12). Every
 * topic the node subscribes to gets a topic validator that runs the application's handlers
 * first: gossipsub forwards a message only when they accept it, drops it silently when one
 * says `ignore` (it may become valid later, or is simply not news), and rejects it when one
 * throws a typed AllianceError. A rejection is a strike against the message's author AND
 * against the peer that handed it to us (the propagation source): an honest peer validates
 * before forwarding, so whoever forwards an invalid message is either its author or an
 * accomplice. Gossipsub's own score (P4, invalid message deliveries) punishes the same peer:
 * past a few invalid messages we stop gossiping with it, then ignore everything it sends.
 *
 * The discovery topic's records are bound to their author (N12): a record must carry the
 * public key of the peer that signed the gossip message, and only a bounded number of
 * well-formed multiaddrs. Relays run the same check, so they never forward a fake record
 * (and are never penalised for one).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message as GossipMessage, TopicValidatorFn } from '@libp2p/gossipsub'
import { createPeerScoreParams, createPeerScoreThresholds, createTopicScoreParams } from '@libp2p/gossipsub/score'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { isAllianceError } from '../core/errors.ts'
import { didFromPeerId, type Did } from '../core/identity.ts'
import { MAX_GOSSIP_BYTES } from './constants.ts'
import { decodeDiscoveryRecord, DiscoveryRecordError } from './discovery-record.ts'

/** What a gossip handler says of a message it did not throw on. `accept` is the default. */
export type GossipVerdict = 'accept' | 'ignore'

/** A topic's handler: throws an AllianceError to reject (strike + not forwarded). */
export type GossipHandler = (data: Uint8Array, from: Did) => void | GossipVerdict | Promise<void | GossipVerdict>

/** Codes of the strikes this module gives. */
export const GOSSIP_CODES = {
  unsigned: 'ERR_UNSIGNED_GOSSIP',
  badAuthor: 'ERR_BAD_AUTHOR',
  tooLarge: 'ERR_FRAME_TOO_LARGE',
  /** The strike a forwarder gets for an invalid message someone else wrote. */
  forwardedInvalid: 'ERR_FORWARDED_INVALID'
} as const

/**
 * Messages from one propagation source being validated at once. Gossipsub validates every
 * message of an RPC concurrently and only scores a peer once a verdict is in, so without a
 * cap one burst of junk would hold thousands of pending validations (each up to
 * MAX_GOSSIP_BYTES) before the first rejection counted; past it, messages are dropped unread.
 */
export const MAX_VALIDATIONS_PER_SOURCE = 16

export interface GossipGuardHooks {
  /** The handlers of `topic` now (the set can change while the node runs). */
  handlers: (topic: string) => ReadonlySet<GossipHandler> | undefined
  /** A strike against `peer` for `code` (may hang up on it); the author need not be connected. */
  strike: (peer: string, code: string) => void
  log: (line: string) => void
}

/**
 * The topic validator for an application topic: runs its handlers and turns their outcome
 * into gossipsub's verdict. A handler failing with a non-AllianceError is our own fault
 * (a store write failed): the message is ignored and nobody is blamed.
 */
export function applicationValidator (topic: string, hooks: GossipGuardHooks): TopicValidatorFn {
  const inflight = new Map<string, number>()
  return async (source: PeerId, msg: GossipMessage) => {
    const forwarder = source.toString()
    const running = inflight.get(forwarder) ?? 0
    if (running >= MAX_VALIDATIONS_PER_SOURCE) return TopicValidatorResult.Ignore
    inflight.set(forwarder, running + 1)
    try {
      return await validate(topic, hooks, forwarder, msg)
    } finally {
      const left = (inflight.get(forwarder) ?? 1) - 1
      if (left <= 0) inflight.delete(forwarder)
      else inflight.set(forwarder, left)
    }
  }
}

async function validate (topic: string, hooks: GossipGuardHooks, forwarder: string, msg: GossipMessage): Promise<TopicValidatorResult> {
    const reject = (author: string | null, code: string): TopicValidatorResult => blame(hooks, forwarder, author, code)
    if (msg.type !== 'signed') return reject(null, GOSSIP_CODES.unsigned)
    let from: Did
    try {
      from = didFromPeerId(msg.from)
    } catch {
      return reject(null, GOSSIP_CODES.badAuthor)
    }
    const author = msg.from.toString()
    if (msg.data.byteLength > MAX_GOSSIP_BYTES) return reject(author, GOSSIP_CODES.tooLarge)
    const handlers = hooks.handlers(topic)
    if (handlers == null || handlers.size === 0) return TopicValidatorResult.Ignore
    let verdict: GossipVerdict = 'accept'
    for (const handler of [...handlers]) {
      try {
        if (await handler(msg.data, from) === 'ignore') verdict = 'ignore'
      } catch (err) {
        if (isAllianceError(err)) return reject(author, err.code)
        hooks.log(`net: gossip handler for ${topic} failed: ${(err as Error)?.message}`)
        verdict = 'ignore'
      }
    }
    return verdict === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
}

/** Strikes the author (when known) and the forwarder (when another peer) for one invalid message. */
function blame (hooks: Pick<GossipGuardHooks, 'strike'>, forwarder: string, author: string | null, code: string): TopicValidatorResult {
  if (author != null) hooks.strike(author, code)
  if (author !== forwarder) hooks.strike(forwarder, author == null ? code : GOSSIP_CODES.forwardedInvalid)
  return TopicValidatorResult.Reject
}

/**
 * The discovery topic's validator (N12): the record's key is the signer's key and its
 * addresses parse. Used by peers and relays alike; `strike` may be a no-op on a relay.
 */
export function discoveryValidator (hooks: Pick<GossipGuardHooks, 'strike'>): TopicValidatorFn {
  return (source: PeerId, msg: GossipMessage) => {
    try {
      checkDiscoveryMessage(msg)
      return TopicValidatorResult.Accept
    } catch (err) {
      const code = isAllianceError(err) ? err.code : GOSSIP_CODES.badAuthor
      return blame(hooks, source.toString(), msg.type === 'signed' ? msg.from.toString() : null, code)
    }
  }
}

/** Throws a typed error unless `msg` is a discovery record its own author signed. */
export function checkDiscoveryMessage (msg: GossipMessage): void {
  if (msg.type !== 'signed') throw new DiscoveryRecordError(GOSSIP_CODES.unsigned, 'discovery records must be signed')
  const record = decodeDiscoveryRecord(msg.data)
  let claimed: string
  try {
    claimed = peerIdFromPublicKey(publicKeyFromProtobuf(record.publicKey)).toString()
  } catch (err) {
    throw new DiscoveryRecordError('ERR_BAD_RECORD', `discovery record key does not decode: ${(err as Error).message}`)
  }
  if (claimed !== msg.from.toString()) throw new DiscoveryRecordError('ERR_RECORD_NOT_AUTHOR', `record of ${claimed} signed by ${msg.from.toString()}`)
  for (const bytes of record.addrs) {
    try {
      multiaddr(bytes)
    } catch {
      throw new DiscoveryRecordError('ERR_BAD_RECORD', 'discovery record holds an address that does not decode')
    }
  }
}

/**
 * Gossipsub's score with only what helps us: P4 (invalid messages, squared, slow decay) on
 * every given topic. The delivery-rate terms (P3) are off: ledger topics are quiet for long
 * stretches, and P3 would punish every honest peer for that.
 */
export function gossipScoring (topics: readonly string[]): { scoreParams: Partial<PeerScoreParams>, scoreThresholds: Partial<PeerScoreThresholds> } {
  const perTopic: Record<string, TopicScoreParams> = {}
  for (const t of topics) perTopic[t] = topicScore()
  return {
    scoreParams: createPeerScoreParams({
      topics: perTopic,
      // Tabs of one browser and phones behind one NAT share an IP address; gossipsub's default
      // IP-colocation penalty would start ignoring them past 10 (see src/relay).
      IPColocationFactorWeight: 0,
      // a gone peer's bad record is kept this long, so reconnecting does not wash it
      retainScore: 10 * 60_000
    }),
    // 4 per message squared: 2 invalid messages stop gossip with it, 4 stop publishing to it,
    // 5 put it on the graylist (everything it sends is dropped unread)
    scoreThresholds: createPeerScoreThresholds({ gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 })
  }
}

/**
 * The live per-topic score table of a running gossipsub, so a topic subscribed after start is
 * scored too (PeerScore reads it on every update). It is not in the library's public type:
 * a version without it fails loudly here rather than run unscored.
 */
export function scoreTopics (pubsub: object): Record<string, TopicScoreParams> {
  const topics = (pubsub as { score?: { params?: { topics?: Record<string, TopicScoreParams> } } }).score?.params?.topics
  if (topics == null) throw new TypeError('@libp2p/gossipsub changed: no score.params.topics; update src/net/gossip-guard.ts')
  return topics
}

export function topicScore (): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -4,
    // ~0.5 after 70 s: a peer that sent bad messages stays suspect for minutes, not forever
    invalidMessageDeliveriesDecay: 0.99
  })
}

