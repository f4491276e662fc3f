// Issue 5 over the real mesh: a real relay and three Node peers (AllianceNet over WebRTC via
// node-datachannel, LedgerService on in-memory stores with the demo alliance and in-thread PoW,
// MarketService on in-memory session stores). Three distinct issuers, so settlements confirm.
// - A relay-service session moves 4 MiB of real bytes from the buyer through the provider to a
//   target, metered per round of bytes; the settlement confirms and every peer agrees on it.
// - A payer that stops signing is stopped within one trial slice; a replayed and a forged
//   voucher are refused on the wire with their codes and counted as misbehaviour; a provider
//   that posts a replayed or forged voucher in `session.settle` is refused by every ledger.
// - A hotspot session delivers the provider's credentials, sealed to the buyer's DID.
// Figures (request → first byte vs a pay-first baseline; relay vs raw throughput) are printed.
// NET_TEST_LOG=1 prints the peers' logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../src/core/codec.ts'
import type { Did } from '../../src/core/identity.ts'
import type { Tx } from '../../src/core/ledger/index.ts'
import { readSession } from '../../src/core/contracts/settlement.ts'
import { sessionIdOf, signSessionRequest } from '../../src/core/session/request.ts'
import { signVoucher } from '../../src/core/session/voucher.ts'
import type { Voucher } from '../../src/core/session/voucher.ts'
import type { OfferId, SessionId } from '../../src/core/session/terms.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { startRelay } from '../../src/relay/relay.ts'
import type { RelayHandle } from '../../src/relay/relay.ts'
import { readFrames, writeFrame } from '../../src/net/node.ts'
import { allianceContext } from '../../src/peer/alliance.ts'
import { foundGenesis } from '../../src/core/ledger/index.ts'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import { randomBytes } from '@noble/hashes/utils.js'
import { MarketService } from '../../src/peer/market-service.ts'
import type { SecretCipher } from '../../src/peer/market-service.ts'
import { MemorySessionsStore } from '../../src/store/sessions.ts'
import {
  closePayerChannel, nextProviderFrame, openSessionStream, sendPayerFrame, SESSION_PROTOCOL, systemTimers
} from '../../src/net/session-protocol.ts'
import type { PayerChannel, SessionTiming } from '../../src/net/session-protocol.ts'
import type { ProviderFrame } from '../../src/net/session-wire.ts'
import { voucherMap, requestMap } from '../../src/net/session-wire.ts'
import { RelayService } from '../../src/net/relay-service.ts'
import type { RelayedStream } from '../../src/net/relay-service.ts'
import { fullyDirect, logger, waitFor } from './helpers.ts'
import { startLedgerPeer, stopLedgerPeers } from './ledger-helpers.ts'
import type { LedgerPeer } from './ledger-helpers.ts'

// the three market peers are the alliance's validators: no admission needed, 1000 credits each
const SEEDS = [0, 1, 2].map(() => randomBytes(32))
const ctx = allianceContext(foundGenesis({
  name: 'market integration',
  chains: ['home', 'business', 'operator'],
  founders: SEEDS.map((s, i) => ({ did: didFromPublicKey(generateKeyPair(s).publicKey), chain: ['home', 'business', 'operator'][i] })),
  allocation: 1000,
  difficulty: 8,
  time: Date.now() - 60_000
}))
const GRANT = ctx.genesis.allocation
const TIMING: Partial<SessionTiming> = { unitMs: 100, voucherWaitMs: 3_000, keepaliveMs: 5_000, idleMs: 30_000, openTimeoutMs: 30_000 }
const ROUND = 512 * 1024
const TRIAL = 64 * 1024
const PRICE = 3

/** Reversible stand-in for the wallet's cipher (the market only needs encrypt/decrypt). */
const cipher: SecretCipher = {
  encrypt: async (p) => Uint8Array.from([0xee, ...p.map((b) => b ^ 0x5a)]),
  decrypt: async (c) => c.slice(1).map((b) => b ^ 0x5a)
}

interface Peer extends LedgerPeer { market: MarketService }

interface Sink { bytes: number, firstAt: number | null, lastAt: number | null, done: boolean, hash: Uint8Array | null, from: Did | null, via: Did | null }

function sink (): Sink {
  return { bytes: 0, firstAt: null, lastAt: null, done: false, hash: null, from: null, via: null }
}

/** Reads a relayed stream to its end into `s`, hashing what arrived; then ends its own side. */
async function drain (stream: RelayedStream, s: Sink): Promise<void> {
  const parts: Uint8Array[] = []
  s.from = stream.peer
  s.via = stream.via
  for await (const c of stream) {
    s.firstAt ??= Date.now()
    s.lastAt = Date.now()
    s.bytes += c.byteLength
    parts.push(c.slice())
  }
  const all = new Uint8Array(s.bytes)
  let o = 0
  for (const c of parts) { all.set(c, o); o += c.byteLength }
  s.hash = sha256(all)
  s.done = true
  await stream.end().catch(() => {})
}

function pattern (n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + salt + (i >> 11)) & 0xff
  return out
}

async function nextOf (channel: PayerChannel, t: ProviderFrame['t']): Promise<ProviderFrame> {
  for (;;) {
    const f = await nextProviderFrame(channel, 30_000)
    if (f === null) throw new Error(`the provider closed the stream before a ${t} frame`)
    if (f.t === t) return f
  }
}

const rt = { timing: { unitMs: 100, voucherWaitMs: 3_000, keepaliveMs: 60_000, idleMs: 60_000, openTimeoutMs: 30_000 }, timers: systemTimers, now: () => Date.now() }

describe('market over a real relay and WebRTC', () => {
  let relay: RelayHandle | undefined
  const peers: Peer[] = []
  let provider: Peer
  let buyer: Peer
  let target: Peer
  let relayOffer = ''
  let hotspotOffer = ''
  /** Credits the buyer owes the provider once everything settled so far has confirmed. */
  let paid = 0
  const figures: Record<string, number> = {}

  beforeAll(async () => {
    relay = await startRelay({ port: 0, log: logger('relay') })
    const names = ['provider', 'buyer', 'target']
    const started = await Promise.all(names.map(async (name, i) => await startLedgerPeer(name, { ctx, relays: relay!.multiaddrs, seed: SEEDS[i], ledger: { witnessIntervalMs: 600 } })))
    for (const p of started) {
      const market = new MarketService({
        did: p.did,
        seed: () => p.seed,
        ledger: p.ledger,
        net: p.net,
        sessionsStore: new MemorySessionsStore(),
        cipher,
        timing: TIMING,
        settleEvery: 4,
        log: logger(`${p.name}/market`)
      })
      await market.start()
      peers.push({ ...p, market, stop: async () => { await market.stop(); await p.stop() } })
    }
    ;[provider, buyer, target] = peers
  }, 60_000)

  afterAll(async () => {
    if (Object.keys(figures).length > 0) console.log(`[market integration] figures ${JSON.stringify(figures)}`)
    await stopLedgerPeers(peers)
    await relay?.stop()
  })

  /** Every peer shows `did` holding `credits`. */
  const balanceEverywhere = (did: Did, credits: number): boolean => peers.every((p) => p.ledger.balance(did) === credits)

  it('three peers connect directly, are admitted, and the provider\'s relay offer reaches everyone', async () => {
    await waitFor('a direct connection between every pair', () => fullyDirect(peers.map((p) => p.net)), 60_000)
    await waitFor('every peer sees all three admitted with the grant', () =>
      peers.every((p) => peers.every((q) => p.ledger.isMember(q.did) && p.ledger.balance(q.did) === GRANT)), 60_000, 200)
    relayOffer = await provider.market.publish({ kind: 'relay', title: 'Relay through the provider', price: PRICE, round: { size: ROUND }, trial: TRIAL, capacity: 4 })
    await waitFor('every peer lists the relay offer', () => peers.every((p) => p.market.offers({ kind: 'relay' }).some((o) => o.id === relayOffer)), 60_000, 200)
    expect(buyer.market.offer(relayOffer)).toMatchObject({ provider: provider.did, price: PRICE, round: { unit: 'bytes', size: ROUND }, trial: TRIAL, reputation: 0.5 })
  }, 150_000)

  it('[F2][F6][C4] a relay session moves 4 MiB through the provider to the target, and the settlement confirms on every peer', async () => {
    const got = sink()
    const off = target.market.onRelayedStream((s) => { void drain(s, got) })
    const rounds = 8
    const data = pattern(rounds * ROUND, 1)
    const t0 = Date.now()
    const handle = await buyer.market.buy(relayOffer, rounds, { target: target.did })
    const ch = handle.relay
    if (ch === null) throw new Error('no relay channel')
    const back: Uint8Array[] = []
    const reading = (async () => { for await (const c of ch) back.push(c) })()
    await ch.write(data)
    await ch.end()
    await waitFor('the target read all of it', () => got.done, 60_000)
    await reading
    const end = await handle.ended
    off()
    expect(got.bytes).toBe(data.length)
    expect(got.hash).toEqual(sha256(data))
    expect(got.from).toBe(buyer.did)
    expect(got.via).toBe(provider.did)
    expect(end).toMatchObject({ state: 'ended', endReason: 'completed', vouchers: rounds, paid: rounds * PRICE })
    const served = await waitFor('the provider ended the session', () => provider.market.sessions().find((s) => s.id === handle.id && s.state === 'ended'), 30_000)
    expect(served).toMatchObject({ role: 'provider', payer: buyer.did, target: target.did, endReason: 'completed', unitsUsed: data.length, vouchers: rounds })
    figures.requestToFirstByteMs = (got.firstAt ?? 0) - t0
    figures.relayMiBps = Number(((data.length / 1048576) / (((got.lastAt ?? 0) - (got.firstAt ?? 0)) / 1000)).toFixed(2))

    paid += rounds * PRICE
    await waitFor('the settlement confirmed on every peer', () =>
      peers.every((p) => readSession(p.ledger.engine.stateView, handle.id as SessionId)?.closed === true) &&
      balanceEverywhere(buyer.did, GRANT - paid) && balanceEverywhere(provider.did, GRANT + paid), 90_000, 200)
    for (const p of peers) {
      expect(readSession(p.ledger.engine.stateView, handle.id as SessionId)).toMatchObject({ rounds, settled: rounds * PRICE, unpaid: 0, closed: true })
      expect(p.ledger.engine.totalCredits()).toBe(3 * GRANT)
    }
    expect(buyer.market.sessions().find((s) => s.id === handle.id)?.settled).toBe(rounds * PRICE)
    // the provider's reputation rose with a settled, completed session
    await waitFor('reputation rose on every peer', () => peers.every((p) => p.market.reputation(provider.did).score > 0.5))
  }, 150_000)

  it('figures: the same bytes over a raw direct stream, and a pay-first baseline', async () => {
    const proto = '/alliance/test-sink/1'
    const got = sink()
    await target.net.handle(proto, async (stream) => {
      for await (const f of readFrames(stream, 64 * 1024)) {
        got.firstAt ??= Date.now()
        got.lastAt = Date.now()
        got.bytes += f.byteLength
      }
      got.done = true
      await stream.close().catch(() => {})
    })
    const data = pattern(4 * 1048576, 2)
    const stream = await buyer.net.dialProtocol(target.did, proto)
    for (let o = 0; o < data.length; o += 16_000) await writeFrame(stream, data.subarray(o, o + 16_000))
    await stream.close()
    await waitFor('the raw sink read all of it', () => got.done, 60_000)
    expect(got.bytes).toBe(data.length)
    figures.rawMiBps = Number(((data.length / 1048576) / (((got.lastAt ?? 0) - (got.firstAt ?? 0)) / 1000)).toFixed(2))
    figures.relayVsRaw = Number((figures.relayMiBps / figures.rawMiBps).toFixed(2))
    // settle-first: pay one round, wait for the payment to confirm at the provider, then serve
    const t0 = Date.now()
    const txId = await buyer.ledger.transfer(provider.did, PRICE)
    await waitFor('the payment confirmed at the provider', () => provider.ledger.status(txId) === 'confirmed', 90_000, 50)
    figures.settleFirstMs = Date.now() - t0
    figures.fastVsSettleFirst = Number((figures.requestToFirstByteMs / figures.settleFirstMs).toFixed(3))
    paid += PRICE // the transfer moved credits the same way
    await waitFor('the transfer confirmed everywhere', () => balanceEverywhere(buyer.did, GRANT - paid), 60_000, 200)
  }, 150_000)

  it('[V1][V3][F3][F4] a replayed and a forged voucher are refused on the wire; a payer that stops signing is stopped within one trial slice', async () => {
    const got = sink()
    const off = target.market.onRelayedStream((s) => { void drain(s, got) })
    const rejectedBefore = { ...provider.net.stats().rejected }
    // the buyer acts by hand: one voucher, then bytes without ever signing round 2
    const request = signSessionRequest(buyer.seed, { v: 1, offer: relayOffer as OfferId, rev: 0, provider: provider.did, payer: buyer.did, nonce: 42, time: Date.now() })
    // C9: the provider serves only against a confirmed deposit for this session
    const lock = `${await buyer.ledger.submit([{ type: 'deposit.lock', provider: provider.did, amount: PRICE * 4, deadline: Date.now() + 3 * 3600_000, ref: sessionIdOf(request) }])}/0`
    await waitFor('the deposit confirmed at the provider', () => provider.ledger.status(lock) === 'confirmed', 60_000, 200)
    const stream = await buyer.net.dialProtocol(provider.did, SESSION_PROTOCOL)
    const { accepted, channel } = await openSessionStream(stream, { t: 'open', request, target: target.did }, rt)
    const id = accepted.session as SessionId
    const unsigned = (round: number, payer: Did = buyer.did): Voucher =>
      ({ v: 1, session: id, offer: relayOffer as OfferId, payer, provider: provider.did, round, cumulative: PRICE * round, units: 1, time: Date.now() })
    sendPayerFrame(channel, { t: 'voucher', voucher: signVoucher(buyer.seed, unsigned(1)) })
    expect(await nextOf(channel, 'ack')).toEqual({ t: 'ack', round: 1 })
    sendPayerFrame(channel, { t: 'voucher', voucher: signVoucher(buyer.seed, unsigned(1)) })
    expect(await nextOf(channel, 'nack')).toMatchObject({ code: 'ERR_VOUCHER_REPLAY' })
    const stranger = new Uint8Array(32).fill(99)
    const strangerDid = didFromPublicKey(generateKeyPair(stranger).publicKey)
    sendPayerFrame(channel, { t: 'voucher', voucher: { ...unsigned(2), sig: signVoucher(stranger, unsigned(2, strangerDid)).sig } })
    expect(await nextOf(channel, 'nack')).toMatchObject({ code: 'ERR_VOUCHER_FORGED' })
    const rejected = provider.net.stats().rejected
    expect((rejected.ERR_VOUCHER_REPLAY ?? 0) - (rejectedBefore.ERR_VOUCHER_REPLAY ?? 0)).toBe(1)
    expect((rejected.ERR_VOUCHER_FORGED ?? 0) - (rejectedBefore.ERR_VOUCHER_FORGED ?? 0)).toBe(1)

    const client = new RelayService({ net: buyer.net, host: { relaySession: () => { throw new Error('not a provider here') } } })
    const meter = { reserve: (n: number) => n, received: () => {}, stopped: false, onStop: () => () => {} }
    const ch = await client.open(provider.did, target.did, id, meter)
    void ch.write(pattern(3 * ROUND, 3)).catch(() => {})
    expect(await nextOf(channel, 'ended')).toMatchObject({ reason: 'no-voucher', paidRounds: 1 })
    const view = await waitFor('the provider ended it', () => provider.market.sessions().find((s) => s.id === id && s.state === 'ended'), 30_000)
    // F4: bytes served ≤ what was paid + one trial slice
    expect(view).toMatchObject({ endReason: 'no-voucher', vouchers: 1, rejectedVouchers: { ERR_VOUCHER_REPLAY: 1, ERR_VOUCHER_FORGED: 1 } })
    expect(view.unitsUsed).toBeGreaterThan(ROUND)
    expect(view.unitsUsed).toBeLessThanOrEqual(ROUND + TRIAL)
    await waitFor('the target got what was forwarded, and no more', () => got.done || got.bytes === view.unitsUsed, 30_000)
    expect(got.bytes).toBeLessThanOrEqual(ROUND + TRIAL)
    await closePayerChannel(channel)
    off()
    paid += PRICE
    await waitFor('round 1 settled on every peer', () =>
      peers.every((p) => readSession(p.ledger.engine.stateView, id)?.closed === true) && balanceEverywhere(buyer.did, GRANT - paid), 90_000, 200)
  }, 150_000)

  it('[C3][V1][V3] a provider posting a replayed or a forged voucher in session.settle is refused by every peer\'s ledger', async () => {
    const request = signSessionRequest(buyer.seed, { v: 1, offer: relayOffer as OfferId, rev: 0, provider: provider.did, payer: buyer.did, nonce: 7, time: Date.now() })
    const id = sessionIdOf(request)
    const v = (round: number): Voucher => ({ v: 1, session: id, offer: relayOffer as OfferId, payer: buyer.did, provider: provider.did, round, cumulative: PRICE * round, units: ROUND * (round - 1) + 1, time: Date.now() })
    // a payer on another chain than the provider's makes the settlement cross-chain (M10)
    const payerChain = provider.ledger.engine.member(buyer.did)?.chain
    const cross = payerChain !== provider.ledger.engine.member(provider.did)?.chain ? { payerChain } : {}
    const deposit = `${await buyer.ledger.submit([{ type: 'deposit.lock', provider: provider.did, amount: PRICE * 5, deadline: Date.now() + 3 * 3600_000, ref: id }])}/0`
    await waitFor('the deposit confirmed at the provider', () => provider.ledger.status(deposit) === 'confirmed', 60_000, 200)
    const settle = (voucher: ReturnType<typeof signVoucher>, withRequest: boolean): Tx =>
      ({ type: 'session.settle', deposit, voucher: voucherMap(voucher), ...(withRequest ? { request: requestMap(request) } : {}), ...cross }) as unknown as Tx
    const honest = `${await provider.ledger.submit([settle(signVoucher(buyer.seed, v(2)), true)])}/0`
    const replayOld = `${await provider.ledger.submit([settle(signVoucher(buyer.seed, v(1)), false)])}/0`
    const replaySame = `${await provider.ledger.submit([settle(signVoucher(buyer.seed, v(2)), false)])}/0`
    const forgedVoucher = { ...v(3), sig: signVoucher(buyer.seed, { ...v(3), cumulative: PRICE }).sig }
    const forged = `${await provider.ledger.submit([settle(forgedVoucher, false)])}/0`
    paid += 2 * PRICE
    await waitFor('all four settlements decided on every peer', () =>
      peers.every((p) => [honest, replayOld, replaySame, forged].every((tx) => p.ledger.status(tx) !== 'pending' && p.ledger.status(tx) !== 'unknown')), 90_000, 200)
    for (const p of peers) {
      expect(p.ledger.status(honest)).toBe('confirmed')
      // the deposit is closed by the honest settlement: the others fail in the provider's own chain order
      for (const tx of [replayOld, replaySame, forged]) expect(p.ledger.engine.txResult(tx)).toMatchObject({ status: 'rejected', reason: 'ERR_BAD_TX' })
      expect(readSession(p.ledger.engine.stateView, id)).toMatchObject({ rounds: 2, settled: 2 * PRICE })
    }
    await waitFor('every peer agrees on both balances', () => balanceEverywhere(buyer.did, GRANT - paid) && balanceEverywhere(provider.did, GRANT + paid), 60_000, 200)
  }, 150_000)

  it('[F2] a hotspot session delivers the provider\'s credentials, sealed to the buyer, and settles by time', async () => {
    await provider.market.setHotspotSecret({ ssid: 'Alliance Café', security: 'WPA', password: 'open;sesame' })
    const offer = await provider.market.publish({ kind: 'hotspot', title: 'Café Wi-Fi', price: 2, round: { size: 20 }, trial: 10, geohash: 'u281z7j5' })
    hotspotOffer = offer
    await waitFor('the buyer finds the hotspot near it', () => buyer.market.offers({ kind: 'hotspot', near: 'u281z7j4', radiusMeters: 2000 }).some((o) => o.id === offer), 60_000, 200)
    const handle = await buyer.market.buy(offer, 2)
    expect(handle.credentials).toEqual({ ssid: 'Alliance Café', security: 'WPA', password: 'open;sesame', wifiQr: 'WIFI:T:WPA;S:Alliance Café;P:open\\;sesame;;' })
    expect(handle.view().remainingMs).toBeGreaterThan(0)
    await waitFor('the provider sees its guest', () => provider.market.sessions().some((s) => s.id === handle.id && s.payer === buyer.did))
    const end = await handle.ended
    expect(end).toMatchObject({ endReason: 'completed', vouchers: 2, paid: 4 })
    paid += 4
    await waitFor('the hotspot settlement confirmed on every peer', () =>
      peers.every((p) => readSession(p.ledger.engine.stateView, handle.id as SessionId)?.closed === true) &&
      balanceEverywhere(buyer.did, GRANT - paid) && balanceEverywhere(provider.did, GRANT + paid), 90_000, 200)
    for (const p of peers) expect(p.ledger.engine.totalCredits()).toBe(3 * GRANT)
  }, 150_000)

  it('[F4][F7] a buyer whose connection drops mid-session: both sides notice, and the provider settles what is owed', async () => {
    const handle = await buyer.market.buy(hotspotOffer, 5)
    await waitFor('the first voucher accepted', () => provider.market.sessions().some((s) => s.id === handle.id && s.vouchers >= 1), 30_000)
    // the tab closes: its connection to the provider goes away with every stream on it
    const closedAt = Date.now()
    await buyer.net.libp2p.hangUp(peerIdFromString(provider.net.peerId))
    const served = await waitFor('the provider ended it', () => provider.market.sessions().find((s) => s.id === handle.id && s.state === 'ended'), 30_000)
    // noticed within the round: by the closed stream, or at the latest by the missing voucher
    expect(['peer-gone', 'no-voucher']).toContain(served.endReason)
    expect(served.unitsUsed).toBeLessThanOrEqual(served.vouchers * 20 + 10)
    expect(await handle.ended).toMatchObject({ state: 'ended', endReason: 'peer-gone' })
    paid += served.paid
    await waitFor('what was owed settled on every peer', () =>
      peers.every((p) => readSession(p.ledger.engine.stateView, handle.id as SessionId)?.closed === true) &&
      balanceEverywhere(buyer.did, GRANT - paid) && balanceEverywhere(provider.did, GRANT + paid), 90_000, 200)
    figures.peerGoneNoticedMs = (served.endedAt ?? 0) - closedAt
  }, 150_000)
})
