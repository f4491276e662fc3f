// MarketService with fakes (CONVENTIONS §5: several peers in one process first): a fake mesh
// that connects peers through in-memory libp2p stream pairs, and a fake ledger whose
// transactions apply at once through the market core (`applyMarketTx`) on one shared state.
// Covers the session protocol end to end (SPEC F1–F7, V1–V10 on the wire), the relay and
// hotspot services, rights policies (P3), capacity, reopen after a closed tab, and publish's
// checks (M1–M6) — with real timers at short unit lengths, polling and generous timeouts.
import '../../src/net/polyfills.ts'
import { afterEach, describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { sha256 } from '../../src/core/codec.ts'
import type { CredentialClaims } from '../../src/core/contracts/policy.ts'
import { readSession } from '../../src/core/contracts/settlement.ts'
import { cidOf } from '../../src/core/codec.ts'
import { createTxRegistry } from '../../src/core/ledger/index.ts'
import type { BlockId, LedgerStats, StateReader, Tx, TxId } from '../../src/core/ledger/index.ts'
import { LedgerState } from '../../src/core/ledger/state.ts'
import type { UndoEntry } from '../../src/core/ledger/state.ts'
import { balanceOf, claimOf, NS } from '../../src/core/ledger/tx.ts'
import type { TxOutcome, TxTypeDef } from '../../src/core/ledger/tx.ts'
import { marketCodeOf, marketTxTypeDefs } from '../../src/core/market/ledger-adapter.ts'
import { escrowGenesis } from '../fixtures/escrow-ledger.ts'
import { encodeSignedSessionRequest, sessionIdOf, signSessionRequest } from '../../src/core/session/request.ts'
import { encodeSignedVoucher, signVoucher } from '../../src/core/session/voucher.ts'
import type { OfferId, SessionId, SessionTerms } from '../../src/core/session/terms.ts'
import type { SignedVoucher } from '../../src/core/session/voucher.ts'
import { MarketService, seedSecretCipher, walletCredentialPicker, walletCredentialVerifier } from '../../src/peer/market-service.ts'
import type { MarketLedger, MarketNet, SecretCipher } from '../../src/peer/market-service.ts'
import { MemorySessionsStore } from '../../src/store/sessions.ts'
import type { StoredSession } from '../../src/store/sessions.ts'
import {
  closePayerChannel, DEFAULT_SESSION_TIMING, nextProviderFrame, openSessionStream, ProviderSession, sendPayerFrame, SESSION_PROTOCOL, SessionEndedError
} from '../../src/net/session-protocol.ts'
import type { PayerChannel, SessionTiming, Timers } from '../../src/net/session-protocol.ts'
import type { ProviderFrame } from '../../src/net/session-wire.ts'
import { RelayService } from '../../src/net/relay-service.ts'
import type { RelayedStream } from '../../src/net/relay-service.ts'
import { parseHotspotSecret, wifiQrString } from '../../src/net/session-hotspot.ts'

const TIMING: Partial<SessionTiming> = { unitMs: 50, voucherWaitMs: 600, keepaliveMs: 1_000, idleMs: 8_000, openTimeoutMs: 8_000 }

interface Party { readonly seed: Uint8Array, readonly did: Did }
function party (n: number): Party {
  const seed = new Uint8Array(32).fill(n)
  return { seed, did: didFromPublicKey(generateKeyPair(seed).publicKey) }
}

async function waitFor<T> (what: string, check: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = check()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * One shared "confirmed" state: every submitted transaction is decoded and applied at once by
 * the real transaction types (ledger built-ins + market), deposits and their deps included;
 * claims are received at once, as the ledger service's auto-receive will.
 */
let currentChain: FakeChain | null = null

class FakeChain {
  readonly kv = new LedgerState()
  readonly balances = { balanceOf: (d: Did): number => balanceOf(this.kv, d) }
  readonly results: Array<{ issuer: Did, type: string, ok: boolean, code?: string, tx: Tx, txId: string }> = []
  readonly #registry = createTxRegistry(marketTxTypeDefs())
  readonly #genesis = escrowGenesis()
  readonly #outcomes = new Map<string, TxOutcome>()
  #blocks = 0

  admit (did: Did, chain = 'home', credits = 1000): void {
    this.kv.set('member', did, { chain, since: 'genesis' })
    this.kv.set('balance', did, credits)
  }

  #apply (did: Did, raw: Tx, blockId: BlockId, index: number): void {
    const txId = `${blockId}/${index}` as TxId
    const chain = (this.kv.get('member', did) as { chain: string } | undefined)?.chain ?? 'home'
    const time = Date.now()
    const log: UndoEntry[] = []
    let tx: Tx = raw
    this.kv.record(log)
    try {
      tx = this.#registry.decodeTx(raw, { genesis: this.#genesis, issuer: did, chain }, index)
      const def = this.#registry.get(tx.type) as TxTypeDef
      def.apply(this.kv, tx, { genesis: this.#genesis, issuer: did, chain, blockId, txId, index, time, lookup: (id) => this.#outcomes.get(id) })
      this.kv.stopRecording()
      this.#outcomes.set(txId, { tx, issuer: did, chain, time, status: 'confirmed' })
      this.results.push({ issuer: did, type: raw.type, ok: true, tx: raw, txId })
    } catch (e) {
      this.kv.stopRecording()
      this.kv.undo(log)
      this.#outcomes.set(txId, { tx, issuer: did, chain, time, status: 'rejected' })
      this.results.push({ issuer: did, type: raw.type, ok: false, code: marketCodeOf(e) ?? (e as { code?: string }).code, tx: raw, txId })
    }
  }

  /** Takes every claim at once into its recipient's balance. */
  #receiveAll (): void {
    for (const key of this.kv.keys(NS.claim)) {
      if (this.kv.has(NS.received, key)) continue
      const c = claimOf(this.kv, key)
      if (c === undefined) continue
      this.kv.set(NS.received, key, 'fake')
      this.kv.set('balance', c.to, balanceOf(this.kv, c.to) + c.amount)
    }
  }

  ledgerFor (did: Did): MarketLedger {
    const view = this.kv as unknown as StateReader
    return {
      engine: {
        stateView: view,
        member: (d) => this.kv.get('member', d) as { chain: string, since: string } | undefined,
        equivocations: () => [],
        stats: () => ({ applied: this.#blocks, fullReplays: 0, confirmed: this.#blocks }) as unknown as LedgerStats,
        status: (txId) => this.#outcomes.get(txId)?.status
      },
      balance: (d) => this.balances.balanceOf((d ?? did) as Did),
      submit: async (txs) => {
        const id = cidOf({ fake: ++this.#blocks }).toString() as BlockId
        txs.forEach((tx, i) => { this.#apply(did, tx, id, i) })
        this.#receiveAll()
        return id
      }
    }
  }

  settles (session: string): Array<{ ok: boolean, code?: string, close: boolean }> {
    return this.results.filter((r) => r.type === 'session.settle' && (r.tx.voucher as { session?: string }).session === session)
      .map((r) => ({ ok: r.ok, code: r.code, close: r.tx.close === true }))
  }

  deposits (payer: Did): Array<{ ok: boolean, amount: number, txId: string }> {
    return this.results.filter((r) => r.type === 'deposit.lock' && r.issuer === payer).map((r) => ({ ok: r.ok, amount: r.tx.amount as number, txId: r.txId }))
  }
}

/** Peers connected by in-memory stream pairs; records misbehaviour reports. */
class FakeMesh {
  readonly #handlers = new Map<string, Map<string, (stream: Stream, ctx: { did: Did, peerId: string }) => void | Promise<void>>>()
  readonly reports: Array<{ by: Did, peerId: string, code: string }> = []

  netFor (did: Did): MarketNet {
    const handlers = new Map<string, (stream: Stream, ctx: { did: Did, peerId: string }) => void | Promise<void>>()
    this.#handlers.set(did, handlers)
    return {
      handle: async (protocol, handler) => { handlers.set(protocol, handler) },
      unhandle: async (protocol) => { handlers.delete(protocol) },
      dialProtocol: async (to, protocol) => {
        const h = this.#handlers.get(to)?.get(protocol)
        if (h === undefined) throw new Error(`${to.slice(0, 20)} does not handle ${protocol}`)
        const [outbound, inbound] = await streamPair()
        Promise.resolve(h(inbound, { did, peerId: `peer:${did}` })).catch((e: unknown) => { inbound.abort(e instanceof Error ? e : new Error(String(e))) })
        return outbound
      },
      reportMisbehaviour: (peerId, code) => { this.reports.push({ by: did, peerId, code }) }
    }
  }
}

/** A stand-in for the wallet's cipher: reversible, and visibly not the plaintext. */
const cipher: SecretCipher = {
  encrypt: async (p) => Uint8Array.from([0xee, ...p.map((b) => b ^ 0x5a)]),
  decrypt: async (c) => c.slice(1).map((b) => b ^ 0x5a)
}

const running: MarketService[] = []

function service (chain: FakeChain, mesh: FakeMesh, p: Party, extra: Partial<ConstructorParameters<typeof MarketService>[0]> = {}): MarketService {
  const s = new MarketService({
    did: p.did,
    seed: () => p.seed,
    ledger: chain.ledgerFor(p.did),
    net: mesh.netFor(p.did),
    sessionsStore: new MemorySessionsStore(),
    cipher,
    timing: TIMING,
    settleEvery: 2,
    ...extra
  })
  running.push(s)
  return s
}

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map(async (s) => { await s.stop() }))
})

const provider = party(21)
const buyer = party(22)
const target = party(23)
const other = party(24)

function world (): { chain: FakeChain, mesh: FakeMesh } {
  const chain = new FakeChain()
  currentChain = chain
  for (const p of [provider, buyer, target, other]) chain.admit(p.did)
  return { chain, mesh: new FakeMesh() }
}

const HOTSPOT = { kind: 'hotspot', title: 'Café Wi-Fi', price: 5, round: { size: 20 }, trial: 10, capacity: 1, geohash: 'u281z7j5' } as const

describe('MarketService: publish and query', () => {
  it('[M1][M2][M3][P1] refuses impossible offers with the core\'s codes before submitting anything', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    await p.start()
    const relay = { kind: 'relay', title: 'Relay', price: 3, round: { size: 65536 }, trial: 4096 }
    await expect(p.publish({ ...relay, price: -1 })).rejects.toMatchObject({ code: 'ERR_OFFER_PRICE' })
    await expect(p.publish({ ...relay, trial: 65537 })).rejects.toMatchObject({ code: 'ERR_OFFER_TRIAL', message: expect.stringContaining('longer than a round') })
    await expect(p.publish({ ...relay, kind: 'teleport' })).rejects.toMatchObject({ code: 'ERR_OFFER_KIND' })
    await expect(p.publish({ ...relay, policy: { shares: [{ did: provider.did, bps: 9000 }] } })).rejects.toMatchObject({ code: 'ERR_POLICY_SHARES_SUM', message: expect.stringContaining('90 %') })
    await expect(p.publish({ ...HOTSPOT, geohash: undefined })).rejects.toMatchObject({ code: 'ERR_OFFER_GEOHASH_REQUIRED' })
    // a hotspot offer needs the credentials it will hand out
    await expect(p.publish(HOTSPOT)).rejects.toMatchObject({ code: 'ERR_HOTSPOT_NOT_SET' })
    expect(chain.results).toEqual([])
  })

  it('[M9] publishes, finds by kind and distance with the provider\'s reputation, withdraws', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Cafe', security: 'WPA', password: 'correct horse' })
    expect(await p.hotspotNetwork()).toEqual({ ssid: 'Cafe', security: 'WPA' })
    const id = await p.publish(HOTSPOT)
    const hits = u.offers({ kind: 'hotspot', near: 'u281z7j4' })
    expect(hits.map((h) => h.id)).toEqual([id])
    expect(hits[0]).toMatchObject({ provider: provider.did, price: 5, round: { unit: 'seconds', size: 20 }, reputation: 0.5, mine: false })
    expect(hits[0].distanceMeters).toBeGreaterThan(0)
    expect(u.offers({ kind: 'relay' })).toEqual([])
    expect(u.offers({ maxPrice: 4 })).toEqual([])
    await p.withdraw(id)
    expect(u.offers({ kind: 'hotspot' })).toEqual([])
  })

  it('[M11] posts and lists a request, and refuses a relay request without a DID target', async () => {
    const { chain, mesh } = world()
    const u = service(chain, mesh, buyer)
    await u.start()
    await expect(u.postRequest({ kind: 'relay', target: 'bob', maxCredits: 10 })).rejects.toMatchObject({ code: 'ERR_REQUEST_TARGET' })
    const id = await u.postRequest({ kind: 'relay', target: target.did, maxCredits: 10, title: 'reach my printer' })
    expect(u.requests('relay')).toMatchObject([{ id, target: target.did, maxCredits: 10, mine: true }])
  })
})

describe('MarketService: hotspot sessions', () => {
  it('[F2][F5][F6] serves at once, delivers sealed credentials and a Wi-Fi QR, and settles every round bought', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Café;1', security: 'WPA', password: 'pa:ss,word"x' })
    const offer = await p.publish(HOTSPOT)
    const handle = await u.buy(offer, 2)
    expect(handle.credentials).toEqual({ ssid: 'Café;1', security: 'WPA', password: 'pa:ss,word"x', wifiQr: 'WIFI:T:WPA;S:Café\\;1;P:pa\\:ss\\,word\\"x;;' })
    expect(p.sessions()).toMatchObject([{ id: handle.id, role: 'provider', payer: buyer.did, state: 'active' }])
    const end = await handle.ended
    expect(end).toMatchObject({ state: 'ended', endReason: 'completed', vouchers: 2, paid: 10 })
    const prov = await waitFor('the provider ends', () => p.sessions().find((s) => s.id === handle.id && s.state === 'ended'))
    expect(prov).toMatchObject({ endReason: 'completed', vouchers: 2, paid: 10, unitsUsed: 40 })
    await waitFor('the closing settlement', () => chain.settles(handle.id).some((s) => s.close && s.ok))
    expect(chain.settles(handle.id).every((s) => s.ok)).toBe(true)
    expect(chain.balances.balanceOf(buyer.did)).toBe(990)
    expect(chain.balances.balanceOf(provider.did)).toBe(1010)
    expect(readSession(chain.kv, handle.id as SessionId)).toMatchObject({ rounds: 2, settled: 10, closed: true, unpaid: 0 })
    expect(u.session(handle.id)?.settled).toBe(10)
  })

  it('[V11][V13][C9][V14] the buyer locks rounds × price for the session before it opens; the provider refuses a session without a deposit; an expired deposit is refunded', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer, { refundSweepMs: 50 })
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Cafe', security: 'WPA', password: 'password1' })
    const offer = await p.publish(HOTSPOT)
    const handle = await u.buy(offer, 2)
    const [lock] = chain.deposits(buyer.did)
    expect(lock).toMatchObject({ ok: true, amount: 10 })
    expect((chain.kv.get('escrow', lock.txId) as { ref: string }).ref).toBe(handle.id)
    await handle.ended
    await waitFor('the closing settlement', () => chain.settles(handle.id).some((s) => s.close && s.ok))
    const settle = chain.results.filter((r) => r.type === 'session.settle')
    expect(settle.map((r) => r.tx.deposit)).toEqual([lock.txId]) // one settlement, from the deposit
    expect((chain.kv.get('escrow', lock.txId) as { closedBy: string }).closedBy).toBe(settle[0].txId)
    // without a deposit the provider does not serve: the hotspot credentials never leave it
    const net = mesh.netFor(other.did)
    const request = signSessionRequest(other.seed, { v: 1, offer: offer as OfferId, rev: 0, provider: provider.did, payer: other.did, nonce: 9, time: Date.now() })
    const stream = await net.dialProtocol(provider.did, SESSION_PROTOCOL)
    await expect(openSessionStream(stream, { t: 'open', request, rounds: 1 }, { timing: { ...DEFAULT_SESSION_TIMING, ...TIMING }, timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => { clearTimeout(h as ReturnType<typeof setTimeout>) } }, now: () => Date.now() }))
      .rejects.toMatchObject({ code: 'ERR_SESSION_NO_DEPOSIT' })
    // a deposit whose deadline passed with no settlement goes back to the payer
    const before = chain.balances.balanceOf(buyer.did)
    await chain.ledgerFor(buyer.did).submit([{ type: 'deposit.lock', provider: provider.did, amount: 50, deadline: Date.now() + 30, ref: 'abandoned' } as unknown as Tx])
    expect(chain.balances.balanceOf(buyer.did)).toBe(before - 50)
    await waitFor('the refund', () => chain.results.some((r) => r.type === 'deposit.refund' && r.ok))
    expect(chain.balances.balanceOf(buyer.did)).toBe(before)
  })

  it('[F5] a trial of a single unit: the payer signs as each round starts, so the provider never waits in vain', async () => {
    const { chain, mesh } = world()
    const timing = { ...TIMING, unitMs: 300 }
    const p = service(chain, mesh, provider, { timing })
    const u = service(chain, mesh, buyer, { timing })
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Tiny', security: 'WPA', password: 'password1' })
    const offer = await p.publish({ ...HOTSPOT, round: { size: 2 }, trial: 1 })
    const h = await u.buy(offer, 3)
    expect(await h.ended).toMatchObject({ endReason: 'completed', vouchers: 3, paid: 15 })
    const prov = await waitFor('the provider ends', () => p.sessions().find((s) => s.id === h.id && s.state === 'ended'))
    expect(prov).toMatchObject({ endReason: 'completed', unitsUsed: 6, vouchers: 3 })
  })

  it('[P3] a credential-gated offer: refused without a credential or with one about someone else, served with the right one', async () => {
    const { chain, mesh } = world()
    const issuer = party(30).did
    const verifyCredential = async (jwt: string): Promise<CredentialClaims | null> => {
      const [kind, subject] = jwt.split('|')
      if (kind !== 'guest') return null
      return { issuer, subject: subject as Did, types: ['VerifiableCredential', 'HotspotGuest'] }
    }
    const p = service(chain, mesh, provider, { verifyCredential })
    const u = service(chain, mesh, buyer, { credentialFor: async () => null })
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Members', security: 'nopass', password: '' })
    const offer = await p.publish({ ...HOTSPOT, capacity: 3, policy: { mayBuy: { credentialType: 'HotspotGuest', issuers: [issuer] } } })
    await expect(u.buy(offer, 1)).rejects.toMatchObject({ code: 'ERR_BUYER_NO_CREDENTIAL' })
    await expect(u.buy(offer, 1, { credential: `guest|${other.did}` })).rejects.toMatchObject({ code: 'ERR_BUYER_WRONG_SUBJECT' })
    await expect(u.buy(offer, 1, { credential: 'forged|x' })).rejects.toMatchObject({ code: 'ERR_BUYER_NO_CREDENTIAL' })
    const h = await u.buy(offer, 1, { credential: `guest|${buyer.did}` })
    expect(h.credentials?.wifiQr).toBe('WIFI:T:nopass;S:Members;;')
    await h.stop()
  })

  it('refuses a second guest over capacity, and a buyer who cannot pay for the rounds', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    const v = service(chain, mesh, other)
    await p.start(); await u.start(); await v.start()
    await p.setHotspotSecret({ ssid: 'Cafe', security: 'WEP', password: 'abcde' })
    const offer = await p.publish(HOTSPOT)
    const first = await u.buy(offer, 5)
    await expect(v.buy(offer, 1)).rejects.toMatchObject({ code: 'ERR_SESSION_CAPACITY' })
    await expect(v.buy(offer, 201)).rejects.toMatchObject({ code: 'ERR_SESSION_FUNDS' })
    const stopped = await first.stop()
    expect(stopped).toMatchObject({ state: 'ended', endReason: 'stopped-by-payer' })
    await waitFor('the provider frees the slot', () => p.sessions().every((s) => s.state === 'ended'))
    const second = await v.buy(offer, 1)
    await second.stop()
  })
})

describe('MarketService: owner controls', () => {
  it('[U10] a blocked payer cannot open a session; unblocked, it can', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    await p.start(); await u.start()
    await p.setHotspotSecret({ ssid: 'Cafe', security: 'WEP', password: 'abcde' })
    const offer = await p.publish({ ...HOTSPOT, capacity: 2 })
    p.setBlockedPayers([buyer.did])
    await expect(u.buy(offer, 1)).rejects.toMatchObject({ code: 'ERR_SESSION_UNAVAILABLE' })
    expect(p.sessions()).toEqual([])
    p.setBlockedPayers([])
    const h = await u.buy(offer, 1)
    await h.stop()
  })
})

/** Opens a session by hand (a payer that does what the test says), on the fake mesh. */
async function handOpen (mesh: FakeMesh, payer: Party, providerDid: Did, offer: string, opts: { target?: Did, time?: number } = {}): Promise<{ channel: PayerChannel, id: SessionId }> {
  const net = mesh.netFor(payer.did)
  const request = signSessionRequest(payer.seed, { v: 1, offer: offer as OfferId, rev: 0, provider: providerDid, payer: payer.did, nonce: Math.floor(Math.random() * 1e9), time: opts.time ?? Date.now() })
  // V11/V13: the provider serves only against a confirmed deposit for this session
  if (currentChain === null) throw new Error('no world')
  await currentChain.ledgerFor(payer.did).submit([{ type: 'deposit.lock', provider: providerDid, amount: 100, deadline: Date.now() + 2 * 3600_000, ref: sessionIdOf(request) } as unknown as Tx])
  const stream = await net.dialProtocol(providerDid, SESSION_PROTOCOL)
  const { accepted, channel } = await openSessionStream(stream, { t: 'open', request, ...(opts.target !== undefined ? { target: opts.target } : {}) }, { timing: { unitMs: 50, voucherWaitMs: 600, keepaliveMs: 60_000, idleMs: 60_000, openTimeoutMs: 8_000 }, timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => { clearTimeout(h as ReturnType<typeof setTimeout>) } }, now: () => Date.now() })
  return { channel, id: accepted.session as SessionId }
}

async function nextOf (channel: PayerChannel, t: ProviderFrame['t']): Promise<ProviderFrame> {
  for (;;) {
    const f = await nextProviderFrame(channel, 8_000)
    if (f === null) throw new Error('the provider closed the stream')
    if (f.t === t) return f
  }
}

describe('MarketService: relay sessions', () => {
  const RELAY = { kind: 'relay', title: 'Relay', price: 3, round: { size: 65536 }, trial: 8192, capacity: 4 } as const

  it('[F4][F6] relays real bytes to the target, meters them per round and settles what was signed', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    const t = service(chain, mesh, target)
    await p.start(); await u.start(); await t.start()
    const got: { bytes: number, hash: Uint8Array | null, from: Did | null } = { bytes: 0, hash: null, from: null }
    t.onRelayedStream((s: RelayedStream) => {
      void (async () => {
        const parts: Uint8Array[] = []
        for await (const c of s) { parts.push(c.slice()); got.bytes += c.byteLength }
        const all = new Uint8Array(got.bytes)
        let o = 0
        for (const c of parts) { all.set(c, o); o += c.byteLength }
        got.hash = sha256(all)
        got.from = s.peer
        await s.write(new TextEncoder().encode('thanks'))
        await s.end()
      })()
    })
    const offer = await p.publish(RELAY)
    const rounds = 16
    const data = new Uint8Array(rounds * 65536)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff
    const h = await u.buy(offer, rounds, { target: target.did })
    const relay = h.relay
    if (relay === null) throw new Error('no relay channel')
    const reply: Uint8Array[] = []
    const reading = (async () => { for await (const c of relay) reply.push(c) })()
    await relay.write(data)
    await relay.end()
    await reading
    const end = await h.ended
    await waitFor('the target read everything', () => got.hash !== null)
    expect(got).toEqual({ bytes: data.length, hash: sha256(data), from: buyer.did })
    expect(end).toMatchObject({ endReason: 'completed', paid: rounds * 3 })
    await waitFor('the closing settlement', () => chain.settles(h.id).some((s) => s.close))
    expect(chain.settles(h.id).every((s) => s.ok)).toBe(true)
    expect(chain.balances.balanceOf(buyer.did)).toBe(1000 - rounds * 3)
    expect(chain.balances.balanceOf(provider.did)).toBe(1000 + rounds * 3)
    const prov = p.sessions().find((s) => s.id === h.id)
    expect(prov).toMatchObject({ role: 'provider', target: target.did, unitsUsed: data.length, vouchers: rounds })
    // the target's "thanks" could not come back: every byte bought was used by the upload
    expect(reply.reduce((n, c) => n + c.byteLength, 0)).toBe(0)
  })

  it('[F6][F7] stopping after writing fewer rounds than bought: what was written gets through, and only the rounds begun are paid', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    const t = service(chain, mesh, target)
    await p.start(); await u.start(); await t.start()
    let got = 0
    // a target that only reads, and never ends its side
    t.onRelayedStream((s) => { void (async () => { for await (const c of s) got += c.byteLength })() })
    const offer = await p.publish(RELAY)
    const h = await u.buy(offer, 4, { target: target.did })
    const chunk = new Uint8Array(16 * 1024).fill(7)
    for (let off = 0; off < 3 * 65536; off += chunk.length) await h.relay!.write(chunk)
    await h.relay!.end()
    const v = await h.stop()
    expect(v).toMatchObject({ endReason: 'stopped-by-payer', paid: 9, vouchers: 3 })
    expect(h.relay!.sent).toBe(3 * 65536)
    await waitFor('the target got every byte', () => got === 3 * 65536)
    await waitFor('the closing settlement', () => chain.settles(h.id).some((s) => s.close && s.ok))
    expect(chain.balances.balanceOf(buyer.did)).toBe(1000 - 9)
  })

  it('[F3][F5] meters the download direction too: the payer signs as each round arrives and the provider waits for it at each trial edge', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const u = service(chain, mesh, buyer)
    const t = service(chain, mesh, target)
    await p.start(); await u.start(); await t.start()
    const rounds = 6
    const answer = new Uint8Array(rounds * 65536 - 1024)
    for (let i = 0; i < answer.length; i++) answer[i] = (i * 13) & 0xff
    t.onRelayedStream((s) => {
      void (async () => {
        let asked = 0
        for await (const c of s) asked += c.byteLength
        if (asked === 1024) await s.write(answer)
        await s.end()
      })()
    })
    const offer = await p.publish(RELAY)
    const h = await u.buy(offer, rounds, { target: target.did })
    const relay = h.relay
    if (relay === null) throw new Error('no relay channel')
    await relay.write(new Uint8Array(1024))
    await relay.end()
    let back = 0
    let same = true
    for await (const c of relay) {
      for (let i = 0; i < c.byteLength; i++) if (c[i] !== answer[back + i]) same = false
      back += c.byteLength
    }
    expect(back).toBe(answer.length)
    expect(same).toBe(true)
    expect(await h.ended).toMatchObject({ endReason: 'completed', vouchers: rounds })
    // the last chunk may arrive just after the provider's end: it still counts as used
    expect(h.view().unitsUsed).toBe(rounds * 65536)
    const prov = await waitFor('the provider ends', () => p.sessions().find((s) => s.id === h.id && s.state === 'ended'))
    expect(prov).toMatchObject({ endReason: 'completed', unitsUsed: rounds * 65536, vouchers: rounds, rejectedVouchers: {} })
  })

  it('[V1][V3][F3][F4] rejects a replayed and a forged voucher on the wire, and stops a payer that stops signing within one trial slice', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const t = service(chain, mesh, target)
    await p.start(); await t.start()
    let delivered = 0
    t.onRelayedStream((s) => { void (async () => { for await (const c of s) delivered += c.byteLength })() })
    const offer = await p.publish(RELAY)
    const { channel, id } = await handOpen(mesh, buyer, provider.did, offer, { target: target.did })
    const unsigned = (round: number, payer = buyer.did): Parameters<typeof signVoucher>[1] =>
      ({ v: 1, session: id, offer: offer as OfferId, payer, provider: provider.did, round, cumulative: 3 * round, units: 1, time: Date.now() })
    const voucher = (round: number): ReturnType<typeof signVoucher> => signVoucher(buyer.seed, unsigned(round))
    sendPayerFrame(channel, { t: 'voucher', voucher: voucher(1) })
    expect(await nextOf(channel, 'ack')).toEqual({ t: 'ack', round: 1 })
    sendPayerFrame(channel, { t: 'voucher', voucher: voucher(1) })
    expect(await nextOf(channel, 'nack')).toMatchObject({ code: 'ERR_VOUCHER_REPLAY' })
    // signed by someone else, in the payer's name
    const forged = { ...unsigned(2), sig: signVoucher(other.seed, unsigned(2, other.did)).sig }
    sendPayerFrame(channel, { t: 'voucher', voucher: forged })
    expect(await nextOf(channel, 'nack')).toMatchObject({ code: 'ERR_VOUCHER_FORGED' })
    expect(mesh.reports.filter((r) => r.by === provider.did).map((r) => r.code)).toEqual(['ERR_VOUCHER_REPLAY', 'ERR_VOUCHER_FORGED'])
    expect(p.sessions()[0].rejectedVouchers).toEqual({ ERR_VOUCHER_REPLAY: 1, ERR_VOUCHER_FORGED: 1 })

    // now the payer pushes three rounds of bytes but never signs round 2
    const client = new RelayService({ net: mesh.netFor(buyer.did), host: { relaySession: () => { throw new Error('not a provider') } } })
    const meter = { reserve: (n: number) => n, received: () => {}, stopped: false, onStop: () => () => {} }
    const relay = await client.open(provider.did, target.did, id, meter)
    void relay.write(new Uint8Array(3 * 65536)).catch(() => {})
    const ended = await nextOf(channel, 'ended')
    expect(ended).toMatchObject({ reason: 'no-voucher', paidRounds: 1 })
    const view = await waitFor('the provider\'s view ends', () => p.sessions().find((s) => s.state === 'ended'))
    expect(view.endReason).toBe('no-voucher')
    // F4: served at most the paid round plus one trial slice
    expect(view.unitsUsed).toBeLessThanOrEqual(65536 + 8192)
    expect(view.unitsUsed).toBeGreaterThan(65536)
    await waitFor('the target got what was forwarded', () => delivered === view.unitsUsed)
    await waitFor('the closing settlement of round 1', () => chain.settles(id).some((s) => s.close && s.ok))
    expect(chain.balances.balanceOf(buyer.did)).toBe(997)
    await closePayerChannel(channel)
  })

  it('[F7] a payer whose stream closes mid-session: the provider notices, ends it as peer-gone and settles what is owed', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    const t = service(chain, mesh, target)
    await p.start(); await t.start()
    t.onRelayedStream(() => {})
    const offer = await p.publish(RELAY)
    const { channel, id } = await handOpen(mesh, buyer, provider.did, offer, { target: target.did })
    sendPayerFrame(channel, { t: 'voucher', voucher: signVoucher(buyer.seed, { v: 1, session: id, offer: offer as OfferId, payer: buyer.did, provider: provider.did, round: 1, cumulative: 3, units: 0, time: Date.now() }) })
    await nextOf(channel, 'ack')
    await closePayerChannel(channel)
    const view = await waitFor('peer-gone', () => p.sessions().find((s) => s.state === 'ended'))
    expect(view.endReason).toBe('peer-gone')
    await waitFor('the closing settlement', () => chain.settles(id).some((s) => s.close && s.ok))
    expect(chain.balances.balanceOf(buyer.did)).toBe(997)
  })

  it('refuses a replayed session request and a stale one', async () => {
    const { chain, mesh } = world()
    const p = service(chain, mesh, provider)
    await p.start()
    const offer = await p.publish(RELAY)
    await expect(handOpen(mesh, buyer, provider.did, offer, { target: target.did, time: Date.now() - 3_600_000 })).rejects.toMatchObject({ code: 'ERR_SESSION_STALE' })
    await expect(handOpen(mesh, buyer, provider.did, offer)).rejects.toMatchObject({ code: 'ERR_SESSION_TARGET' })
  })
})

describe('MarketService: reopen', () => {
  it('[F7] a session left running by a closed tab shows as ended with its totals, and the provider posts the settlement it owes', async () => {
    const { chain, mesh } = world()
    const p0 = service(chain, mesh, provider)
    await p0.start()
    const offer = await p0.publish({ kind: 'relay', title: 'Relay', price: 3, round: { size: 1000 }, trial: 100 })
    await p0.stop()
    const request = signSessionRequest(buyer.seed, { v: 1, offer: offer as OfferId, rev: 0, provider: provider.did, payer: buyer.did, nonce: 1, time: Date.now() })
    const id = sessionIdOf(request)
    const v2 = signVoucher(buyer.seed, { v: 1, session: id, offer: offer as OfferId, payer: buyer.did, provider: provider.did, round: 2, cumulative: 6, units: 1500, time: Date.now() })
    // the buyer's deposit for the session (C9): the settlement after the reload draws from it
    await chain.ledgerFor(buyer.did).submit([{ type: 'deposit.lock', provider: provider.did, amount: 30, deadline: Date.now() + 2 * 3600_000, ref: id } as unknown as Tx])
    const store = new MemorySessionsStore()
    const rec: StoredSession = {
      id, role: 'provider', kind: 'relay', offer, rev: 0, title: 'Relay', provider: provider.did, payer: buyer.did, target: target.did,
      unit: 'bytes', price: 3, roundSize: 1000, trial: 100, maxRounds: null, request: encodeSignedSessionRequest(request), state: 'active',
      round: 2, units: 1550, vouchers: 2, voucher: encodeSignedVoucher(v2), voucherRound: 2, committed: 6, settled: 0, settleTxs: [],
      settledRound: 0, closePosted: false, rejected: {}, secret: null, openedAt: Date.now() - 5000, updatedAt: Date.now() - 4000, endedAt: null, endReason: null
    }
    await store.put(rec)
    const p = service(chain, mesh, provider, { sessionsStore: store })
    await p.start()
    expect(p.sessions()).toMatchObject([{ id, state: 'ended', endReason: 'interrupted', unitsUsed: 1550, vouchers: 2, paid: 6 }])
    await waitFor('the closing settlement', () => chain.settles(id).some((s) => s.close && s.ok))
    expect(chain.balances.balanceOf(buyer.did)).toBe(994)
    await p.flush()
    expect(await store.get(id)).toMatchObject({ state: 'ended', endReason: 'interrupted', closePosted: true })
    expect(p.sessions()[0].settled).toBe(6)
  })
})

/** Timers on a hand-driven clock. */
class FakeClock implements Timers {
  now = 1_700_000_000_000
  #next = 0
  #due: Array<{ at: number, id: number, fn: () => void }> = []
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#next
    this.#due.push({ at: this.now + ms, id, fn })
    return id
  }

  clearTimeout = (handle: unknown): void => { this.#due = this.#due.filter((t) => t.id !== handle) }

  advance (ms: number): void {
    const end = this.now + ms
    for (;;) {
      this.#due.sort((a, b) => a.at - b.at || a.id - b.id)
      const t = this.#due[0]
      if (t === undefined || t.at > end) break
      this.#due.shift()
      this.now = t.at
      t.fn()
    }
    this.now = end
  }
}

describe('ProviderSession on a fake clock', () => {
  const OFFER = 'bafyreifakeoffer' as OfferId
  function setup (terms: Partial<SessionTerms>, maxRounds?: number): { clock: FakeClock, s: ProviderSession, frames: ProviderFrame[], settles: Array<{ round: number, close: boolean }>, v: (round: number) => SignedVoucher } {
    const clock = new FakeClock()
    const request = signSessionRequest(buyer.seed, { v: 1, offer: OFFER, rev: 0, provider: provider.did, payer: buyer.did, nonce: 1, time: clock.now })
    const id = sessionIdOf(request)
    const full: SessionTerms = { offer: OFFER, rev: 0, provider: provider.did, price: 5, unit: 'bytes', roundSize: 1000, trial: 100, refund: 'none', ...terms }
    const frames: ProviderFrame[] = []
    const settles: Array<{ round: number, close: boolean }> = []
    const s = new ProviderSession({
      id, request, terms: full, maxRounds, settleEvery: 1,
      timing: { ...DEFAULT_SESSION_TIMING, unitMs: 1000, voucherWaitMs: 5_000 },
      timers: clock, now: () => clock.now,
      send: (f) => { frames.push(f) },
      hooks: {
        settle: async (voucher, close) => { settles.push({ round: voucher.round, close }); return `tx${settles.length}` },
        changed: () => {}, rejected: () => {}, ended: () => {}
      }
    })
    const v = (round: number): SignedVoucher => signVoucher(buyer.seed, { v: 1, session: id, offer: OFFER, payer: buyer.did, provider: provider.did, round, cumulative: 5 * round, units: (round - 1) * full.roundSize + 1, time: clock.now })
    return { clock, s, frames, settles, v }
  }

  it('[F3][F4] bytes: delivery pauses one unit short of each trial edge, resumes on the voucher, and halts when the wait runs out', async () => {
    const { clock, s, frames, settles, v } = setup({ unit: 'bytes' })
    s.start()
    expect(await s.take(5000)).toBe(99)
    let granted: number | Error | null = null
    void s.take(10).then((n) => { granted = n }, (e: Error) => { granted = e })
    clock.advance(4_999)
    await Promise.resolve()
    expect(granted).toBeNull()
    s.voucher(v(1))
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(granted).toBe(10)
    expect(await s.take(5000)).toBe(891)
    expect(s.state).toMatchObject({ round: 2, phase: 'trial', delivered: 1000 })
    expect(await s.take(5000)).toBe(99)
    granted = null
    void s.take(1).then((n) => { granted = n }, (e: Error) => { granted = e })
    clock.advance(5_000)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(granted).toBeInstanceOf(SessionEndedError)
    expect(s.state).toMatchObject({ phase: 'stopped', delivered: 1099, stopReason: 'no-voucher' })
    // F4: delivered − paid × size ≤ trial
    expect(s.state.delivered - 1 * 1000).toBeLessThanOrEqual(100)
    await s.settled()
    expect(settles).toEqual([{ round: 1, close: false }, { round: 1, close: true }])
    expect(frames.filter((f) => f.t === 'ended')).toEqual([{ t: 'ended', reason: 'no-voucher', delivered: 1099, paidRounds: 1 }])
  })

  it('[F2][F3] seconds: one unit a second from the start; a voucher inside the trial keeps it going, none stops it at the trial\'s end', () => {
    const { clock, s, v } = setup({ unit: 'seconds', roundSize: 10, trial: 3 })
    s.start()
    clock.advance(2_000)
    expect(s.state).toMatchObject({ phase: 'trial', delivered: 2 })
    s.voucher(v(1))
    clock.advance(8_000)
    expect(s.state).toMatchObject({ round: 2, phase: 'trial', delivered: 10 })
    clock.advance(2_999)
    expect(s.state.phase).toBe('trial')
    clock.advance(1)
    expect(s.state).toMatchObject({ phase: 'stopped', delivered: 13, stopReason: 'no-voucher' })
    clock.advance(60_000)
    expect(s.state.delivered).toBe(13)
  })

  it('[F7] maxRounds: stops as completed once the rounds asked for are delivered', async () => {
    const { s, v } = setup({ unit: 'bytes' }, 2)
    s.start()
    s.voucher(v(1))
    expect(await s.take(5000)).toBe(1000)
    s.voucher(v(2))
    expect(await s.take(5000)).toBe(1000)
    expect(s.state).toMatchObject({ phase: 'stopped', stopReason: 'completed', delivered: 2000 })
    await expect(s.take(1)).rejects.toBeInstanceOf(SessionEndedError)
  })
})

describe('wallet adapters', () => {
  it('keeps secrets sealed under a key from the seed: not readable as stored, not openable with another seed', async () => {
    const c = seedSecretCipher(() => provider.seed)
    const secret = new TextEncoder().encode('correct horse battery staple')
    const sealed = await c.encrypt(secret)
    expect(new TextDecoder().decode(sealed)).not.toContain('horse')
    expect(await c.decrypt(sealed)).toEqual(secret)
    await expect(seedSecretCipher(() => buyer.seed).decrypt(sealed)).rejects.toMatchObject({ code: 'ERR_DECRYPT' })
    // the market uses it by default: set, then read back the network (never the password)
    const { chain, mesh } = world()
    const store = new MemorySessionsStore()
    const p = service(chain, mesh, provider, { cipher: undefined, sessionsStore: store })
    await p.start()
    await p.setHotspotSecret({ ssid: 'Home', security: 'WPA', password: 'correct horse' })
    expect(await p.hotspotNetwork()).toEqual({ ssid: 'Home', security: 'WPA' })
    expect(new TextDecoder().decode(await store.getSetting('hotspot'))).not.toContain('horse')
  })

  it('[P3] turns the wallet\'s credential checks into claims and picks a stored credential that fits', async () => {
    const issuer = party(31).did
    const verify = walletCredentialVerifier({
      verifyCredential: async (jwt) => jwt === 'good'
        ? { status: 'valid', issuer, subject: buyer.did, type: 'HotspotGuest', expiresAt: '2999-01-01T00:00:00Z', reason: 'ok' }
        : { status: 'tampered', reason: 'signature does not verify' }
    })
    expect(await verify('good')).toEqual({ issuer, subject: buyer.did, types: ['VerifiableCredential', 'HotspotGuest'], expiresAt: Date.parse('2999-01-01T00:00:00Z') })
    expect(await verify('bad')).toBeNull()
    const stored = (jwt: string, type: string, subject: Did, iss: string, expiresAt?: string) =>
      ({ id: jwt, jwt, issuer: iss, subject, type, issuedAt: '2020-01-01T00:00:00Z', claims: {}, ...(expiresAt !== undefined ? { expiresAt } : {}) })
    const pick = walletCredentialPicker({
      listCredentials: async () => [
        stored('other-type', 'Member', buyer.did, issuer),
        stored('expired', 'HotspotGuest', buyer.did, issuer, '2021-01-01T00:00:00Z'),
        stored('not-mine', 'HotspotGuest', other.did, issuer),
        stored('fits', 'HotspotGuest', buyer.did, issuer)
      ]
    }, buyer.did)
    expect(await pick({ credentialType: 'HotspotGuest', issuers: [issuer] })).toBe('fits')
    expect(await pick({ credentialType: 'HotspotGuest', issuers: [other.did] })).toBeNull()
    expect(await pick({ anyone: true })).toBeNull()
  })
})

describe('hotspot credentials', () => {
  it('checks what a provider enters and escapes the Wi-Fi QR payload', () => {
    expect(wifiQrString({ ssid: 'a\\b', security: 'WPA', password: '12345678' })).toBe('WIFI:T:WPA;S:a\\\\b;P:12345678;;')
    expect(() => parseHotspotSecret({ ssid: '', security: 'WPA', password: '12345678' })).toThrow(expect.objectContaining({ code: 'ERR_HOTSPOT_SSID' }))
    expect(() => parseHotspotSecret({ ssid: 'x', security: 'WPA', password: 'short' })).toThrow(expect.objectContaining({ code: 'ERR_HOTSPOT_PASSWORD' }))
    expect(() => parseHotspotSecret({ ssid: 'x', security: 'WPA3', password: '12345678' })).toThrow(expect.objectContaining({ code: 'ERR_HOTSPOT_SECURITY' }))
    expect(() => parseHotspotSecret({ ssid: 'x', security: 'nopass', password: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_HOTSPOT_PASSWORD' }))
  })
})
