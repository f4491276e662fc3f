/**
 * The market of one peer, live (issue 5): the pure market, contract and session cores put
 * together with the ledger, the mesh and the sessions store.
 * - Offers, requests and ratings are validated by the core before anything is submitted
 *   (impossible values fail with the core's codes and messages), then become ledger
 *   transactions; queries run on the registry index built from the confirmed state.
 * - Sessions run on `/alliance/session/1` (net/session-protocol.ts). As a provider this peer
 *   admits a session after checking the offer (active, this revision, capacity), the payer's
 *   confirmed deposit for this session (SPEC V13: amount ≥ rounds × price, deadline far
 *   enough) and the offer's rights policy (a presented JWT credential is verified, revoked ones
 *   dropped), serves at once (the first trial slice is covered by that deposit) and posts the
 *   newest voucher in one closing `session.settle` drawn from the deposit (C9). As a payer it
 *   locks rounds × price in a `deposit.lock` and waits for it to confirm before opening (V11),
 *   signs a voucher per round, and refunds its deposits whose deadline passed unsettled (V14).
 * - Services: relay (net/relay-service.ts, metered in bytes) and hotspot (credentials sealed
 *   to the payer's DID, metered in time).
 * - Both sides' views are kept in the sessions store; on start, sessions left running by a
 *   closed tab show as ended (`interrupted`) with their totals, and a provider posts the
 *   closing settlement it still owes itself.
 * Dependencies come in explicitly (constructor), so tests hand it fakes.
 */
import type { Stream } from '@libp2p/interface'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { AllianceError, InvalidInputError } from '../core/errors.ts'
import { toHex } from '../core/bytes.ts'
import { sha256 } from '../core/codec.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import type { BlockId, Equivocation, LedgerStats, StateReader, Tx, TxStatus } from '../core/ledger/index.ts'
import type { MemberRecord } from '../core/ledger/tx.ts'
import { BuyerRejection, checkBuyer, defaultPolicy } from '../core/contracts/policy.ts'
import type { CredentialClaims, MayBuy } from '../core/contracts/policy.ts'
import { reputationOf } from '../core/contracts/reputation.ts'
import type { Reputation } from '../core/contracts/reputation.ts'
import { readSession } from '../core/contracts/settlement.ts'
import { defaultKinds } from '../core/market/kinds.ts'
import type { KindRegistry } from '../core/market/kinds.ts'
import { isOfferActive, offerIdOf, sessionTermsOf, validateOfferBody } from '../core/market/offer.ts'
import type { OfferBody, OfferRecord } from '../core/market/offer.ts'
import { requestIdOf, validateBountyBody } from '../core/market/bounty.ts'
import type { BountyBody } from '../core/market/bounty.ts'
import { readOffer } from '../core/market/apply.ts'
import { checkSessionDeposit, depositAmount, depositDeadline, expiredDeposits, MIN_SETTLE_MARGIN_MS, sessionDeposits } from '../core/market/deposits.ts'
import { MarketError, MarketRejection } from '../core/market/errors.ts'
import { OfferIndex, openRequests, reputationLookup } from '../core/market/registry.ts'
import { decodeSignedSessionRequest, encodeSignedSessionRequest, sessionIdOf, signSessionRequest } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import { MAX_ROUND } from '../core/session/terms.ts'
import type { OfferId, SessionId, SessionTerms } from '../core/session/terms.ts'
import { decodeSignedVoucher, encodeSignedVoucher } from '../core/session/voucher.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import {
  DEFAULT_SESSION_TIMING, openSessionStream, PayerSession, serveSessionStream, SESSION_PROTOCOL, SessionEndedError, systemTimers
} from '../net/session-protocol.ts'
import type { EndReason, ProviderAdmission, ProviderHooks, ProviderSession, RemotePeer, SessionRuntime, SessionTiming, Timers } from '../net/session-protocol.ts'
import { requestMap, SessionProtocolError, SessionWireRejection, voucherMap } from '../net/session-wire.ts'
import type { OpenFrame } from '../net/session-wire.ts'
import {
  decodeHotspotSecret, encodeHotspotSecret, HotspotError, HotspotRejection, openHotspotCredentials, parseHotspotSecret, sealHotspotCredentials
} from '../net/session-hotspot.ts'
import type { HotspotCredentials, WifiSecurity } from '../net/session-hotspot.ts'
import { RelayError, RelayRejection, RelayService, relayWindowFor } from '../net/relay-service.ts'
import type { RelayChannel, RelayedStream, RelayNet } from '../net/relay-service.ts'
import type { SessionsStore, StoredSession } from '../store/sessions.ts'
import type { CredentialCheck, StoredCredential } from '../wallet/types.ts'
import type {
  BuyOptions, MarketApi, MarketEvent, OfferInput, OfferQueryInput, OfferView, RequestInput, RequestView, SessionHandle, SessionView
} from './market-api.ts'

/** The part of the mesh the market uses (AllianceNet has it; tests pass their own). */
export interface MarketNet extends RelayNet {
  reportMisbehaviour: (peerId: string, code: string) => void
}

/** The part of the ledger the market uses (LedgerService has it). */
export interface MarketLedger {
  readonly engine: {
    readonly stateView: StateReader
    member: (did: string) => MemberRecord | undefined
    equivocations: () => Equivocation[]
    stats: () => LedgerStats
    /** Status of a transaction (the buyer waits for its deposit to confirm). */
    status: (txId: string) => TxStatus | undefined
  }
  balance: (did?: string) => number
  submit: (txs: Tx[]) => Promise<BlockId>
}

/** Seals small secrets at rest (the wallet's cipher: AES-GCM under the wallet's key). */
export interface SecretCipher {
  encrypt: (plaintext: Uint8Array) => Promise<Uint8Array>
  decrypt: (sealed: Uint8Array) => Promise<Uint8Array>
}

export interface MarketServiceOptions {
  did: Did
  /** The wallet's seed, read when signing (throws while locked). */
  seed: () => Uint8Array
  ledger: MarketLedger
  /** The mesh; null runs the market offline (publish and query only). */
  net: MarketNet | null
  sessionsStore: SessionsStore
  /** Encrypts the hotspot credentials at rest; default `seedSecretCipher(seed)`. */
  cipher?: SecretCipher
  /** Verifies a JWT credential presented by a buyer; null when it does not verify. */
  verifyCredential?: (jwt: string) => Promise<CredentialClaims | null>
  /** Picks a credential of this wallet that satisfies `mayBuy`, as a JWT; null when none. */
  credentialFor?: (mayBuy: MayBuy) => Promise<string | null>
  kinds?: KindRegistry
  now?: () => number
  timers?: Timers
  random?: (length: number) => Uint8Array
  timing?: Partial<SessionTiming>
  /** Post a settlement at least every this many paid rounds (and at the end). Default 4. */
  settleEvery?: number
  /** A session request older or newer than this (ms) is refused. Default 5 minutes. */
  maxRequestSkewMs?: number
  /** Persist running sessions at most this often (ms); vouchers and ends are written at once. */
  persistEveryMs?: number
  /** How long a buyer waits for its deposit to confirm before giving up (ms). Default 120 s. */
  depositWaitMs?: number
  /** How often the payer looks for expired deposits to refund (ms). Default 60 s. */
  refundSweepMs?: number
  log?: (line: string) => void
  onChange?: () => void
}

/**
 * The default cipher for secrets at rest: XChaCha20-Poly1305 under a key derived (HKDF-SHA-256)
 * from the wallet's seed, so it works only while the wallet is unlocked, like the keys, and
 * survives a passphrase change (a key wrapped by the passphrase would not). Format:
 * version byte 1 ‖ 24-byte nonce ‖ ciphertext.
 */
export function seedSecretCipher (seed: () => Uint8Array, random: (n: number) => Uint8Array = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n))): SecretCipher {
  const keyOf = (): Uint8Array => hkdf(nobleSha256, seed(), undefined, SECRET_KDF_INFO, 32)
  return {
    encrypt: async (plaintext) => {
      const nonce = random(24)
      const ct = xchacha20poly1305(keyOf(), nonce, SECRET_AAD).encrypt(plaintext)
      const out = new Uint8Array(1 + nonce.length + ct.length)
      out[0] = 1
      out.set(nonce, 1)
      out.set(ct, 25)
      return out
    },
    decrypt: async (sealed) => {
      if (sealed.length < 1 + 24 + 16 || sealed[0] !== 1) throw new AllianceError('ERR_DECRYPT', 'not a sealed secret of this version')
      try {
        return xchacha20poly1305(keyOf(), sealed.subarray(1, 25), SECRET_AAD).decrypt(sealed.subarray(25))
      } catch (e) {
        throw new AllianceError('ERR_DECRYPT', 'the secret does not open with this wallet\'s key', { cause: e })
      }
    }
  }
}

const SECRET_KDF_INFO = new TextEncoder().encode('alliance/market-secret/1 key')
const SECRET_AAD = new TextEncoder().encode('alliance/market-secret/1')

/** What the market needs of the wallet to check and pick credentials (Wallet has both). */
export interface CredentialWallet {
  verifyCredential: (jwt: string) => Promise<CredentialCheck>
  listCredentials: () => Promise<StoredCredential[]>
}

/** `verifyCredential` for MarketServiceOptions: the wallet verifies, valid ones become claims. */
export function walletCredentialVerifier (wallet: Pick<CredentialWallet, 'verifyCredential'>): (jwt: string) => Promise<CredentialClaims | null> {
  return async (jwt) => {
    const check = await wallet.verifyCredential(jwt)
    if (check.status !== 'valid' || !isDid(check.issuer) || !isDid(check.subject) || typeof check.type !== 'string') return null
    const expiresAt = check.expiresAt === undefined ? undefined : Date.parse(check.expiresAt)
    return { issuer: check.issuer, subject: check.subject, types: ['VerifiableCredential', check.type], ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}) }
  }
}

/** `credentialFor` for MarketServiceOptions: the newest stored credential about `did` that `mayBuy` accepts. */
export function walletCredentialPicker (wallet: Pick<CredentialWallet, 'listCredentials'>, did: Did, now: () => number = () => Date.now()): (mayBuy: MayBuy) => Promise<string | null> {
  return async (mayBuy) => {
    if ('anyone' in mayBuy) return null
    const t = now()
    const fits = (await wallet.listCredentials()).filter((c) =>
      c.type === mayBuy.credentialType && c.subject === did &&
      (mayBuy.issuers === undefined || mayBuy.issuers.includes(c.issuer as Did)) &&
      Date.parse(c.issuedAt) <= t && (c.expiresAt === undefined || Date.parse(c.expiresAt) > t))
    return fits.length === 0 ? null : fits[fits.length - 1].jwt
  }
}

/** Where every session record starts, on either side (fresh objects each time). */
function newSessionProgress (): Pick<StoredSession, 'state' | 'round' | 'units' | 'vouchers' | 'voucher' | 'voucherRound' | 'committed' | 'settled' | 'settleTxs' | 'settledRound' | 'closePosted' | 'rejected'> {
  return {
    state: 'active',
    round: 0,
    units: 0,
    vouchers: 0,
    voucher: null,
    voucherRound: 0,
    committed: 0,
    settled: 0,
    settleTxs: [],
    settledRound: 0,
    closePosted: false,
    rejected: {}
  }
}

const HOTSPOT_SETTING = 'hotspot'
const DAY_MS = 24 * 3600 * 1000
const DEFAULT_OFFER_TTL_MS = 30 * DAY_MS
const STOP_WAIT_MS = 5_000

export class MarketNotReadyError extends AllianceError {
  constructor (message: string, code = 'ERR_NOT_CONNECTED') { super(code, message) }
}

interface PayerEntry {
  readonly session: PayerSession
  readonly relay: RelayChannel | null
  readonly credentials: HotspotCredentials | null
  readonly handle: SessionHandle
}

function randomNonce (random: (n: number) => Uint8Array): number {
  const b = random(6)
  return b.reduce((n, x) => n * 256 + x, 0)
}

function err (code: string, message: string): SessionProtocolError {
  return new SessionProtocolError(code, message)
}

function asTx (value: object): Tx {
  return value as unknown as Tx
}

export class MarketService implements MarketApi {
  readonly did: Did
  readonly #o: MarketServiceOptions
  readonly #kinds: KindRegistry
  readonly #now: () => number
  readonly #timers: Timers
  readonly #random: (n: number) => Uint8Array
  readonly #rt: SessionRuntime
  readonly #settleEvery: number
  readonly #cipher: SecretCipher
  readonly #records = new Map<string, StoredSession>()
  readonly #providers = new Map<string, ProviderSession>()
  readonly #payers = new Map<string, PayerEntry>()
  readonly #relayClaimed = new Set<string>()
  readonly #voucherBytes = new WeakMap<SignedVoucher, Uint8Array>()
  readonly #writes = new Map<string, Promise<void>>()
  readonly #dirty = new Set<string>()
  readonly #endWaiters = new Map<string, Array<(v: SessionView) => void>>()
  readonly #listeners = new Map<MarketEvent, Set<(id?: string) => void>>()
  readonly #background = new Set<Promise<unknown>>()
  #relay: RelayService | null = null
  #flushTimer: unknown = null
  #changeTimer: unknown = null
  #lastChange = 0
  #index: { key: string, index: OfferIndex } | null = null
  #started = false
  #closed = false
  #sweepTimer: unknown = null
  readonly #refunding = new Set<string>()

  constructor (opts: MarketServiceOptions) {
    if (!isDid(opts.did)) throw new TypeError('did must be an Ed25519 did:key')
    this.#o = opts
    this.did = opts.did
    this.#kinds = opts.kinds ?? defaultKinds
    this.#now = opts.now ?? (() => Date.now())
    this.#timers = opts.timers ?? systemTimers
    this.#random = opts.random ?? ((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)))
    this.#rt = { timing: { ...DEFAULT_SESSION_TIMING, ...opts.timing }, timers: this.#timers, now: this.#now }
    this.#cipher = opts.cipher ?? seedSecretCipher(opts.seed, this.#random)
    this.#settleEvery = opts.settleEvery ?? 4
    if (!Number.isSafeInteger(this.#settleEvery) || this.#settleEvery < 1) throw new RangeError('settleEvery must be a positive integer')
  }

  // ---- life cycle ----

  /** Loads the stored sessions (ending those a closed tab left running) and starts serving. */
  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    const now = this.#now()
    for (const stored of await this.#o.sessionsStore.list()) {
      let rec = stored
      if (rec.state !== 'ended') {
        rec = { ...rec, state: 'ended', endReason: 'interrupted', endedAt: now, updatedAt: now }
        this.#records.set(rec.id, rec)
        await this.#persist(rec.id)
      } else {
        this.#records.set(rec.id, rec)
      }
      if (rec.role === 'provider' && rec.voucher !== null && !rec.closePosted) this.#background.add(this.#settleLeftover(rec))
    }
    const net = this.#o.net
    if (net !== null) {
      await net.handle(SESSION_PROTOCOL, async (stream, ctx) => { await this.#serve(stream, ctx) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
      this.#relay = new RelayService({
        net,
        host: {
          relaySession: (session, payer) => this.#relaySession(session, payer),
          released: (session) => { this.#relayClaimed.delete(session) },
          misbehaved: (remote, code) => { net.reportMisbehaviour(remote.peerId, code) }
        },
        log: this.#o.log
      })
      await this.#relay.start()
    }
    this.#sweepRefunds()
    this.#changed()
  }

  /** Stops every running session (a provider settles what is owed), then stops serving. */
  async stop (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#sweepTimer !== null) this.#timers.clearTimeout(this.#sweepTimer)
    const net = this.#o.net
    if (net !== null && this.#started) await net.unhandle(SESSION_PROTOCOL).catch(() => {})
    const providers = [...this.#providers.values()]
    for (const p of providers) p.stop('provider')
    for (const e of this.#payers.values()) e.session.stop()
    // the closing settlements are handed to the ledger before it stops (bounded)
    await this.#within(Promise.allSettled(providers.map(async (p) => { await p.settled() })), STOP_WAIT_MS)
    await this.#relay?.stop()
    await Promise.allSettled([...this.#background])
    await this.flush()
    if (this.#flushTimer !== null) this.#timers.clearTimeout(this.#flushTimer)
    if (this.#changeTimer !== null) this.#timers.clearTimeout(this.#changeTimer)
  }

  /** Waits for `promise` at most `ms`; never throws. */
  async #within (promise: Promise<unknown>, ms: number): Promise<void> {
    let timer: unknown = null
    await Promise.race([
      promise.catch(() => {}),
      new Promise((resolve) => { timer = this.#timers.setTimeout(() => { resolve(null) }, ms) })
    ])
    if (timer !== null) this.#timers.clearTimeout(timer)
  }

  /** Writes every changed session record now. */
  async flush (): Promise<void> {
    const ids = [...this.#dirty]
    await Promise.allSettled(ids.map(async (id) => { await this.#persist(id) }))
    await Promise.allSettled([...this.#writes.values()])
  }

  // ---- events ----

  on (event: MarketEvent, listener: (sessionId?: string) => void): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) { set = new Set(); this.#listeners.set(event, set) }
    set.add(listener)
    return () => { set.delete(listener) }
  }

  #emit (event: MarketEvent, id?: string): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try { l(id) } catch (e) { this.#log(`market listener failed: ${(e as Error).message}`) }
    }
  }

  /** Change notifications at most every 100 ms (a relay moves many chunks a second). */
  #changed (): void {
    const now = this.#now()
    if (now - this.#lastChange >= 100) {
      this.#lastChange = now
      this.#emit('change')
      this.#o.onChange?.()
      return
    }
    if (this.#changeTimer !== null) return
    this.#changeTimer = this.#timers.setTimeout(() => {
      this.#changeTimer = null
      this.#lastChange = this.#now()
      this.#emit('change')
      this.#o.onChange?.()
    }, 100)
  }

  #log (line: string): void {
    this.#o.log?.(`market: ${line}`)
  }

  // ---- offers, requests, reputation ----

  #state (): StateReader {
    return this.#o.ledger.engine.stateView
  }

  #requireMember (): void {
    if (this.#o.ledger.engine.member(this.did) === undefined) {
      throw new AllianceError('ERR_NOT_MEMBER', 'this peer is not a member of the alliance yet: wait until its admission is confirmed')
    }
  }

  async publish (input: OfferInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidInputError('publish needs an offer object')
    const kind = typeof input.kind === 'string' ? this.#kinds.get(input.kind) : undefined
    if (kind === undefined) throw new MarketError(MarketRejection.OFFER_KIND, `unknown offer kind "${String(input.kind).slice(0, 40)}"; known: ${this.#kinds.names().join(', ')}`)
    const now = this.#now()
    const base = defaultPolicy(this.did)
    const round = input.round as { size?: unknown, unit?: unknown } | undefined
    const body: Record<string, unknown> = {
      kind: kind.name,
      title: input.title,
      price: input.price,
      round: { unit: round?.unit ?? kind.units[0], size: round?.size },
      trial: input.trial,
      capacity: input.capacity ?? 1,
      expiresAt: input.expiresAt ?? now + DEFAULT_OFFER_TTL_MS,
      policy: {
        mayBuy: input.policy?.mayBuy ?? base.mayBuy,
        shares: input.policy?.shares ?? base.shares,
        refund: input.policy?.refund ?? base.refund
      },
      nonce: input.nonce ?? randomNonce(this.#random)
    }
    if (input.geohash !== undefined) body.geohash = input.geohash
    // M1–M6: impossible values are refused here, with the code and message the ledger would give
    const clean: OfferBody = validateOfferBody(body, { now, kinds: this.#kinds })
    if (clean.kind === 'hotspot' && await this.#hotspotSecret() === null) {
      throw new HotspotError(HotspotRejection.NOT_SET, 'set the hotspot\'s network name and password before offering it')
    }
    this.#requireMember()
    const id = offerIdOf(this.did, clean)
    if (this.#state().has('market.offer', id)) throw new MarketError(MarketRejection.OFFER_DUPLICATE, 'this exact offer is already published; change its nonce')
    await this.#o.ledger.submit([asTx({ type: 'offer.publish', offer: clean })])
    this.#changed()
    return id
  }

  async withdraw (offerId: string): Promise<string> {
    const record = readOffer(this.#state(), offerId)
    if (record === undefined) throw new MarketError(MarketRejection.OFFER_UNKNOWN, 'no such offer on the ledger (a new one may not be confirmed yet)')
    if (record.provider !== this.did) throw new MarketError(MarketRejection.OFFER_NOT_PROVIDER, 'only the offer\'s provider may withdraw it')
    if (record.withdrawn) throw new MarketError(MarketRejection.OFFER_WITHDRAWN, 'the offer was already withdrawn')
    const block = await this.#o.ledger.submit([asTx({ type: 'offer.withdraw', offer: offerId })])
    this.#changed()
    return `${block}/0`
  }

  #offerIndex (): OfferIndex {
    const s = this.#o.ledger.engine.stats()
    const key = `${s.applied}/${s.fullReplays}/${s.confirmed}`
    if (this.#index?.key !== key) this.#index = { key, index: OfferIndex.fromStore(this.#state()) }
    return this.#index.index
  }

  #equivocationsOf (): (did: Did) => number {
    const counts = new Map<string, number>()
    for (const e of this.#o.ledger.engine.equivocations()) counts.set(e.issuer, (counts.get(e.issuer) ?? 0) + 1)
    return (did) => counts.get(did) ?? 0
  }

  /** Sessions this peer serves on `offerId` now (admitted and not ended). */
  #activeOn (offerId: string): number {
    let n = 0
    for (const r of this.#records.values()) if (r.role === 'provider' && r.offer === offerId && r.state !== 'ended') n++
    return n
  }

  #offerView (r: OfferRecord, reputation: number, distanceMeters: number | null): OfferView {
    const b = r.body
    return {
      id: r.id,
      provider: r.provider,
      kind: b.kind,
      title: b.title,
      price: b.price,
      round: { unit: b.round.unit, size: b.round.size },
      trial: b.trial,
      capacity: b.capacity,
      geohash: b.geohash ?? null,
      expiresAt: b.expiresAt,
      rev: r.rev,
      publishedAt: r.publishedAt,
      mayBuy: b.policy.mayBuy,
      shares: b.policy.shares,
      refund: b.policy.refund,
      reputation,
      distanceMeters,
      mine: r.provider === this.did,
      activeSessions: r.provider === this.did ? this.#activeOn(r.id) : 0
    }
  }

  offers (query: OfferQueryInput = {}): OfferView[] {
    const reputation = reputationLookup(this.#state(), this.#equivocationsOf())
    const { includeOwn, ...q } = query
    const hits = this.#offerIndex().query(q, { now: this.#now(), reputation })
    return hits.filter((h) => includeOwn !== false || h.offer.provider !== this.did).map((h) => this.#offerView(h.offer, h.reputation, h.distanceMeters))
  }

  offer (offerId: string): OfferView | null {
    const r = readOffer(this.#state(), offerId)
    if (r === undefined || !isOfferActive(r, this.#now())) return null
    return this.#offerView(r, reputationLookup(this.#state(), this.#equivocationsOf())(r.provider), null)
  }

  async postRequest (input: RequestInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidInputError('postRequest needs a request object')
    const now = this.#now()
    const body: Record<string, unknown> = {
      kind: input.kind,
      target: input.target,
      maxCredits: input.maxCredits,
      expiresAt: input.expiresAt ?? now + DEFAULT_OFFER_TTL_MS,
      nonce: input.nonce ?? randomNonce(this.#random)
    }
    if (input.title !== undefined) body.title = input.title
    if (input.geohash !== undefined) body.geohash = input.geohash
    const clean: BountyBody = validateBountyBody(body, { now, kinds: this.#kinds })
    this.#requireMember()
    const id = requestIdOf(this.did, clean)
    if (this.#state().has('market.request', id)) throw new MarketError(MarketRejection.REQUEST_DUPLICATE, 'this exact request is already published; change its nonce')
    await this.#o.ledger.submit([asTx({ type: 'request.publish', request: clean })])
    this.#changed()
    return id
  }

  async withdrawRequest (requestId: string): Promise<string> {
    const block = await this.#o.ledger.submit([asTx({ type: 'request.withdraw', request: requestId })])
    this.#changed()
    return `${block}/0`
  }

  requests (kind?: string): RequestView[] {
    return openRequests(this.#state(), this.#now(), kind).map((r) => ({
      id: r.id,
      issuer: r.issuer,
      kind: r.body.kind,
      target: r.body.target,
      maxCredits: r.body.maxCredits,
      expiresAt: r.body.expiresAt,
      title: r.body.title ?? null,
      geohash: r.body.geohash ?? null,
      publishedAt: r.publishedAt,
      mine: r.issuer === this.did
    }))
  }

  reputation (did: Did): Reputation {
    return reputationOf(this.#state(), did, this.#equivocationsOf()(did))
  }

  async rate (sessionId: string, score: number): Promise<string> {
    if (!Number.isSafeInteger(score) || score < 1 || score > 5) throw new InvalidInputError('a rating is a whole number from 1 to 5', 'ERR_RATE_SCORE')
    const s = readSession(this.#state(), sessionId as SessionId)
    if (s === undefined) throw new InvalidInputError('the session is not settled on the ledger yet', 'ERR_RATE_UNKNOWN_SESSION')
    if (s.payer !== this.did && s.provider !== this.did) throw new InvalidInputError('only the payer or the provider of a session rates it', 'ERR_RATE_NOT_PARTY')
    const block = await this.#o.ledger.submit([asTx({ type: 'rate', session: sessionId, settle: s.lastSettle, score })])
    this.#changed()
    return `${block}/0`
  }

  // ---- hotspot credentials ----

  async setHotspotSecret (secret: { ssid: string, security: WifiSecurity, password: string }): Promise<void> {
    const clean = parseHotspotSecret(secret)
    await this.#o.sessionsStore.putSetting(HOTSPOT_SETTING, await this.#cipher.encrypt(encodeHotspotSecret(clean)))
    this.#changed()
  }

  async hotspotNetwork (): Promise<{ ssid: string, security: WifiSecurity } | null> {
    const s = await this.#hotspotSecret()
    return s === null ? null : { ssid: s.ssid, security: s.security }
  }

  async #hotspotSecret (): Promise<{ ssid: string, security: WifiSecurity, password: string } | null> {
    const sealed = await this.#o.sessionsStore.getSetting(HOTSPOT_SETTING)
    if (sealed === undefined) return null
    return decodeHotspotSecret(await this.#cipher.decrypt(sealed))
  }

  // ---- relayed streams (target side) ----

  onRelayedStream (handler: (stream: RelayedStream) => void): () => void {
    if (this.#relay === null) throw new MarketNotReadyError('the market is not connected to the mesh')
    return this.#relay.onRelayedStream(handler)
  }

  relayStats (): { relays: number, forwarded: number, delivered: number } {
    return this.#relay?.stats() ?? { relays: 0, forwarded: 0, delivered: 0 }
  }

  // ---- sessions: views and persistence ----

  #touch (id: string, patch: Partial<StoredSession>, urgent: boolean): void {
    const before = this.#records.get(id)
    if (before === undefined) return
    this.#records.set(id, { ...before, ...patch, updatedAt: this.#now() })
    this.#dirty.add(id)
    if (urgent) void this.#persist(id)
    else if (this.#flushTimer === null) {
      this.#flushTimer = this.#timers.setTimeout(() => {
        this.#flushTimer = null
        for (const d of [...this.#dirty]) void this.#persist(d)
      }, this.#o.persistEveryMs ?? 1000)
    }
    this.#changed()
  }

  /** Writes the record of `id` after any write of it still running. */
  async #persist (id: string): Promise<void> {
    this.#dirty.delete(id)
    const prev = this.#writes.get(id) ?? Promise.resolve()
    const run = prev.then(async () => {
      let rec = this.#records.get(id)
      if (rec === undefined) return
      // keep the credits settled on the ledger beside the session, for a reload while offline
      const onLedger = readSession(this.#state(), id as SessionId)
      if (onLedger !== undefined && onLedger.settled !== rec.settled) {
        rec = { ...rec, settled: onLedger.settled }
        this.#records.set(id, rec)
      }
      await this.#o.sessionsStore.put(rec)
    }).catch((e: unknown) => { this.#log(`saving session ${id.slice(0, 16)}… failed: ${(e as Error).message}`) })
    this.#writes.set(id, run)
    await run
    if (this.#writes.get(id) === run) this.#writes.delete(id)
  }

  #voucherBytesOf (v: SignedVoucher): Uint8Array {
    let bytes = this.#voucherBytes.get(v)
    if (bytes === undefined) { bytes = encodeSignedVoucher(v); this.#voucherBytes.set(v, bytes) }
    return bytes
  }

  #view (rec: StoredSession): SessionView {
    const onLedger = readSession(this.#state(), rec.id as SessionId)
    const live = this.#providers.get(rec.id)
    const phase = live !== undefined && !live.stopped && (live.state.phase === 'trial' || live.state.phase === 'paid') ? live.state.phase : null
    const remainingUnits = rec.maxRounds === null ? null : Math.max(0, rec.maxRounds * rec.roundSize - rec.units)
    const active = rec.state !== 'ended'
    return {
      id: rec.id,
      role: rec.role,
      kind: rec.kind,
      offer: rec.offer,
      title: rec.title,
      provider: rec.provider,
      payer: rec.payer,
      target: rec.target,
      unit: rec.unit,
      price: rec.price,
      roundSize: rec.roundSize,
      trial: rec.trial,
      maxRounds: rec.maxRounds,
      state: rec.state,
      phase,
      round: rec.round,
      unitsUsed: rec.units,
      roundUnits: rec.round === 0 ? 0 : Math.max(0, rec.units - (rec.round - 1) * rec.roundSize),
      vouchers: rec.vouchers,
      paid: rec.committed,
      settled: onLedger?.settled ?? rec.settled,
      unpaid: onLedger?.unpaid ?? 0,
      settleTxs: rec.settleTxs,
      rejectedVouchers: rec.rejected,
      remainingUnits: active ? remainingUnits : (remainingUnits === null ? null : 0),
      remainingMs: rec.unit === 'seconds' && remainingUnits !== null ? (active ? remainingUnits * this.#rt.timing.unitMs : 0) : null,
      openedAt: rec.openedAt,
      endedAt: rec.endedAt,
      endReason: rec.endReason
    }
  }

  sessions (): SessionView[] {
    return [...this.#records.values()].map((r) => this.#view(r)).sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? -1 : 1))
  }

  session (id: string): SessionHandle | null {
    return this.#payers.get(id)?.handle ?? (this.#records.has(id) ? this.#storedHandle(id) : null)
  }

  async stopSession (id: string): Promise<void> {
    const payer = this.#payers.get(id)
    if (payer !== undefined) { await payer.handle.stop(); return }
    const provider = this.#providers.get(id)
    if (provider !== undefined) {
      provider.stop('provider')
      await this.#waitEnded(id)
      return
    }
    if (!this.#records.has(id)) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
  }

  async #waitEnded (id: string): Promise<SessionView> {
    const rec = this.#records.get(id)
    if (rec === undefined) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
    if (rec.state === 'ended') return this.#view(rec)
    return await new Promise<SessionView>((resolve) => {
      const list = this.#endWaiters.get(id) ?? []
      list.push(resolve)
      this.#endWaiters.set(id, list)
    })
  }

  #sessionEnded (id: string): void {
    const rec = this.#records.get(id)
    if (rec === undefined) return
    const view = this.#view(rec)
    for (const w of this.#endWaiters.get(id) ?? []) w(view)
    this.#endWaiters.delete(id)
    this.#emit('session-ended', id)
    this.#changed()
  }

  #storedHandle (id: string): SessionHandle {
    const view = (): SessionView => {
      const rec = this.#records.get(id)
      if (rec === undefined) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
      return this.#view(rec)
    }
    const rec = this.#records.get(id) as StoredSession
    let credentials: HotspotCredentials | null = null
    if (rec.role === 'payer' && rec.secret !== null) {
      try { credentials = openHotspotCredentials(rec.secret, this.#o.seed(), { provider: rec.provider, session: id }) } catch { credentials = null }
    }
    return {
      id,
      role: rec.role,
      get state () { return view().state },
      get rounds () { return view().round },
      get unitsUsed () { return view().unitsUsed },
      get vouchersSigned () { return view().vouchers },
      get paid () { return view().paid },
      get settled () { return view().settled },
      credentials,
      relay: null,
      view,
      stop: async () => { await this.stopSession(id); return view() },
      ended: this.#waitEnded(id)
    }
  }

  // ---- provider side ----

  async #serve (stream: Stream, ctx: { did: Did, peerId: string }): Promise<void> {
    const net = this.#o.net
    await serveSessionStream(stream, { did: ctx.did, peerId: ctx.peerId }, {
      admit: async (open, id, remote) => await this.#admit(open, id, remote),
      started: (session) => { this.#providers.set(session.id, session) },
      misbehaved: (remote, code) => { net?.reportMisbehaviour(remote.peerId, code) }
    }, this.#rt)
  }

  readonly #blockedPayers = new Set<string>()

  /** DIDs this provider refuses to serve from now on (sessions already running go on). */
  setBlockedPayers (dids: readonly string[]): void {
    this.#blockedPayers.clear()
    for (const d of dids) this.#blockedPayers.add(d)
  }

  /** The provider's checks before serving (white paper 5.6.1 step 2; SPEC P3). */
  async #admit (open: OpenFrame, id: SessionId, remote: RemotePeer): Promise<ProviderAdmission> {
    if (this.#closed) throw err(SessionWireRejection.UNAVAILABLE, 'this peer is shutting down')
    const req = open.request
    const now = this.#now()
    if (req.provider !== this.did) throw err(SessionWireRejection.WRONG_PROVIDER, 'the request names another provider')
    // The owner's block list (issue 11 owner controls): refused before anything is looked up.
    if (this.#blockedPayers.has(req.payer)) throw err(SessionWireRejection.UNAVAILABLE, 'this provider does not serve this DID')
    const skew = this.#o.maxRequestSkewMs ?? 5 * 60_000
    if (Math.abs(now - req.time) > skew) throw err(SessionWireRejection.STALE, `the request's time is ${Math.round((now - req.time) / 1000)} s away from this peer's clock`)
    if (this.#records.has(id)) throw err(SessionWireRejection.DUPLICATE, 'this session was already opened')
    const record = readOffer(this.#state(), req.offer)
    if (record === undefined) throw err(SessionWireRejection.OFFER_UNKNOWN, 'no such offer on this provider\'s ledger')
    if (record.provider !== this.did || !isOfferActive(record, now)) throw err(SessionWireRejection.OFFER_INACTIVE, 'the offer is withdrawn or expired')
    if (req.rev !== record.rev) throw err(SessionWireRejection.OFFER_REVISION, `the offer is at revision ${record.rev}, not ${req.rev}: look it up again`)
    const found = sessionTermsOf(record, req.rev)
    if (found === null) throw err(SessionWireRejection.OFFER_REVISION, 'unknown revision')
    const terms = found.terms
    if (this.#activeOn(record.id) >= record.body.capacity) throw err(SessionWireRejection.CAPACITY, `the offer serves ${record.body.capacity} users already`)
    // V13: serve only against the payer's confirmed deposit for this session, big and long enough
    const funded = checkSessionDeposit(this.#state(), { session: id, payer: req.payer, provider: this.did, terms, rounds: open.rounds, now, unitMs: this.#rt.timing.unitMs })
    if (!funded.ok) throw err(funded.code, funded.message)
    const deposit = funded.deposit
    await this.#checkPolicy(record, req.payer, open.credential, now)
    let hotspot: Uint8Array | undefined
    let target: Did | null = null
    if (record.body.kind === 'relay') {
      if (open.target === undefined || open.target === req.payer || open.target === this.did) throw err(SessionWireRejection.TARGET, 'a relay session needs a target other than the payer and the provider')
      target = open.target
    } else if (record.body.kind === 'hotspot') {
      let secret
      try {
        secret = await this.#hotspotSecret()
      } catch (e) {
        throw err(SessionWireRejection.UNAVAILABLE, `the hotspot credentials cannot be read: ${(e as Error).message}`)
      }
      if (secret === null) throw err(SessionWireRejection.UNAVAILABLE, 'this provider has not set its hotspot credentials')
      hotspot = sealHotspotCredentials({ providerSeed: this.#o.seed(), payer: req.payer, session: id, secret, at: now, random: this.#random })
    } else {
      throw err(SessionWireRejection.UNAVAILABLE, `this peer cannot deliver ${record.body.kind} sessions`)
    }
    // checked again with nothing awaited between the check and the record: concurrent opens
    // cannot both take the last slot, nor open one session twice
    if (this.#closed) throw err(SessionWireRejection.UNAVAILABLE, 'this peer is shutting down')
    if (this.#records.has(id)) throw err(SessionWireRejection.DUPLICATE, 'this session was already opened')
    if (this.#activeOn(record.id) >= record.body.capacity) throw err(SessionWireRejection.CAPACITY, `the offer serves ${record.body.capacity} users already`)
    const rec: StoredSession = {
      id,
      role: 'provider',
      kind: record.body.kind,
      offer: record.id,
      rev: req.rev,
      title: record.body.title,
      provider: this.did,
      payer: req.payer,
      target,
      unit: terms.unit,
      price: terms.price,
      roundSize: terms.roundSize,
      trial: terms.trial,
      maxRounds: funded.rounds,
      request: encodeSignedSessionRequest(req),
      ...newSessionProgress(),
      secret: null,
      openedAt: now,
      updatedAt: now,
      endedAt: null,
      endReason: null
    }
    this.#records.set(id, rec)
    await this.#persist(id)
    this.#changed()
    const hooks: ProviderHooks = {
      // C9: one settlement per deposit, so only the closing one is posted (F6 intermediate
      // settlements would close the deposit early)
      settle: async (voucher, close) => close ? await this.#settle(id, req, voucher, deposit.id) : null,
      changed: (s) => { this.#providerChanged(s, false) },
      rejected: (s, code, _message, late) => {
        this.#providerChanged(s, true)
        if (!late) this.#o.net?.reportMisbehaviour(remote.peerId, code)
      },
      ended: (s) => {
        if (deadlineTimer !== null) this.#timers.clearTimeout(deadlineTimer)
        this.#providerChanged(s, true)
        this.#providers.delete(s.id)
        this.#relayClaimed.delete(s.id)
        this.#sessionEnded(s.id)
      }
    }
    // C9: stop in time to settle before the deposit's deadline
    const stopIn = deposit.record.deadline - MIN_SETTLE_MARGIN_MS / 2 - now
    const deadlineTimer: unknown = this.#timers.setTimeout(() => { this.#providers.get(id)?.stop('provider') }, Math.max(0, stopIn))
    return { terms, maxRounds: funded.rounds, settleEvery: this.#settleEvery, ...(hotspot !== undefined ? { hotspot } : {}), hooks }
  }

  async #checkPolicy (record: OfferRecord, payer: Did, credential: string | undefined, now: number): Promise<void> {
    const policy = record.body.policy
    if ('anyone' in policy.mayBuy) return
    const claims: CredentialClaims[] = []
    if (credential !== undefined && this.#o.verifyCredential !== undefined) {
      // a credential revoked on the ledger is not presented at all (SPEC P3)
      const anchor = this.#state().get('anchor', toHex(sha256(new TextEncoder().encode(credential)))) as { revokedIn?: unknown } | undefined
      if (anchor?.revokedIn == null) {
        const c = await this.#o.verifyCredential(credential).catch(() => null)
        if (c !== null) claims.push(c)
      }
    }
    const check = checkBuyer(policy, payer, claims, now)
    if (!check.ok) throw err(check.code, check.message)
  }

  #providerChanged (s: ProviderSession, urgent: boolean): void {
    const rec = this.#records.get(s.id)
    if (rec === undefined) return
    const st = s.state
    const voucher = st.voucher === null ? null : this.#voucherBytesOf(st.voucher)
    const ended = st.phase === 'stopped'
    const vouchersChanged = s.vouchersAccepted !== rec.vouchers
    this.#touch(s.id, {
      round: st.round,
      units: st.delivered,
      vouchers: s.vouchersAccepted,
      voucher,
      voucherRound: st.cursor?.round ?? 0,
      committed: st.cursor?.cumulative ?? 0,
      rejected: s.rejected,
      state: ended ? 'ended' : 'active',
      ...(ended && rec.state !== 'ended' ? { endedAt: this.#now(), endReason: s.endReason ?? 'error' } : {})
    }, urgent || vouchersChanged || (ended && rec.state !== 'ended'))
  }

  /**
   * Posts `voucher` in the session's one closing `session.settle`, drawn from `deposit` (C9),
   * with the request, and payerChain when the deposit is on another chain.
   */
  async #settle (id: string, request: SignedSessionRequest, voucher: SignedVoucher, deposit: string): Promise<string | null> {
    const engine = this.#o.ledger.engine
    const payerChain = engine.member(request.payer)?.chain
    const ownChain = engine.member(this.did)?.chain
    const close = true
    const tx: Record<string, unknown> = { type: 'session.settle', deposit, voucher: voucherMap(voucher), request: requestMap(request), close }
    if (payerChain !== undefined && ownChain !== undefined && payerChain !== ownChain) tx.payerChain = payerChain
    let txId: string
    try {
      txId = `${await this.#o.ledger.submit([asTx(tx)])}/0`
    } catch (e) {
      this.#log(`settlement of ${id.slice(0, 16)}… round ${voucher.round} failed: ${(e as Error).message}`)
      return null
    }
    const rec = this.#records.get(id)
    if (rec !== undefined) {
      this.#touch(id, { settleTxs: [...rec.settleTxs, txId], settledRound: Math.max(rec.settledRound, voucher.round), closePosted: rec.closePosted || close }, true)
    }
    return txId
  }

  /** After a reload: post the closing settlement a session left behind (unless the ledger has it). */
  async #settleLeftover (rec: StoredSession): Promise<void> {
    try {
      const onLedger = readSession(this.#state(), rec.id as SessionId)
      if (onLedger?.closed === true) {
        this.#touch(rec.id, { closePosted: true }, true)
        return
      }
      const voucher = decodeSignedVoucher(rec.voucher as Uint8Array)
      const request = decodeSignedSessionRequest(rec.request)
      const deposit = sessionDeposits(this.#state(), { session: rec.id, payer: rec.payer, provider: this.did })[0]
      if (deposit === undefined) {
        this.#log(`closing settlement of ${rec.id.slice(0, 16)}…: its deposit is closed or gone`)
        return
      }
      await this.#settle(rec.id, request, voucher, deposit.id)
    } catch (e) {
      this.#log(`closing settlement of ${rec.id.slice(0, 16)}… failed: ${(e as Error).message}`)
    }
  }

  #relaySession (session: string, payer: Did): { gate: ProviderSession, target: Did, window: number } {
    const s = this.#providers.get(session)
    const rec = this.#records.get(session)
    if (s === undefined || rec === undefined || s.stopped || s.payer !== payer || rec.kind !== 'relay' || rec.target === null) {
      throw new RelayError(RelayRejection.NO_SESSION, 'no running relay session of that id for this payer')
    }
    if (this.#relayClaimed.has(session)) throw new RelayError(RelayRejection.BUSY, 'this session already has its relay stream')
    this.#relayClaimed.add(session)
    return { gate: s, target: rec.target, window: relayWindowFor(s.terms.roundSize) }
  }

  // ---- payer side ----

  /**
   * V11: locks `amount` for `session` with `provider` and waits until the lock confirms (the
   * provider serves only then). Resolves to the lock's txId; throws when it is rejected or does
   * not confirm within `depositWaitMs`.
   */
  async #lockDeposit (provider: Did, session: string, amount: number, deadline: number, signal?: AbortSignal): Promise<string> {
    const block = await this.#o.ledger.submit([asTx({ type: 'deposit.lock', provider, amount, deadline, ref: session })])
    const txId = `${block}/0`
    const until = this.#now() + (this.#o.depositWaitMs ?? 120_000)
    for (;;) {
      const status = this.#o.ledger.engine.status(txId)
      if (status === 'confirmed') return txId
      if (status === 'rejected') throw err(SessionWireRejection.FUNDS, 'the ledger rejected the session\'s deposit')
      if (signal?.aborted === true) throw err('ERR_SESSION_ABORTED', 'the purchase was cancelled while its deposit confirmed (it is refunded after its deadline)')
      if (this.#now() > until) throw err('ERR_SESSION_DEPOSIT_TIMEOUT', 'the session\'s deposit did not confirm in time (it is refunded after its deadline)')
      await new Promise<void>((resolve) => { this.#timers.setTimeout(resolve, 200) })
    }
  }

  /** V14: refunds this payer's deposits whose deadline passed with no settlement. */
  async refundExpired (): Promise<string[]> {
    const out: string[] = []
    // the refund's block time must be after the deadline: wait out the clock skew allowance
    for (const d of expiredDeposits(this.#state(), this.did, this.#now() - 1000)) {
      if (this.#refunding.has(d.id)) continue
      this.#refunding.add(d.id)
      try {
        out.push(`${await this.#o.ledger.submit([asTx({ type: 'deposit.refund', deposit: d.id })])}/0`)
        this.#log(`refund of deposit ${d.id.slice(0, 16)}… (${d.record.amount} credits) posted`)
      } catch (e) {
        this.#refunding.delete(d.id)
        this.#log(`refund of deposit ${d.id.slice(0, 16)}… failed: ${(e as Error).message}`)
      }
    }
    return out
  }

  #sweepRefunds (): void {
    if (this.#closed) return
    this.refundExpired().catch((e: unknown) => { this.#log(`refund sweep failed: ${(e as Error).message}`) }).finally(() => {
      if (!this.#closed) this.#sweepTimer = this.#timers.setTimeout(() => { this.#sweepRefunds() }, this.#o.refundSweepMs ?? 60_000)
    })
  }

  async buy (offerId: string, rounds: number, opts: BuyOptions = {}): Promise<SessionHandle> {
    const net = this.#o.net
    const relay = this.#relay
    if (net === null || !this.#started || this.#closed) throw new MarketNotReadyError('the market is not connected to the mesh')
    if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > MAX_ROUND) throw new InvalidInputError(`rounds must be a whole number from 1 to ${MAX_ROUND}`, 'ERR_BAD_ROUNDS')
    const now = this.#now()
    const record = readOffer(this.#state(), offerId)
    if (record === undefined) throw err(SessionWireRejection.OFFER_UNKNOWN, 'no such offer on this peer\'s ledger (a new one may not be confirmed yet)')
    if (!isOfferActive(record, now)) throw err(SessionWireRejection.OFFER_INACTIVE, 'the offer is withdrawn or expired')
    if (record.provider === this.did) throw err('ERR_SESSION_SELF', 'this is your own offer')
    const found = sessionTermsOf(record, record.rev)
    if (found === null) throw err(SessionWireRejection.OFFER_REVISION, 'unknown revision')
    const terms: SessionTerms = found.terms
    let target: Did | undefined
    if (record.body.kind === 'relay') {
      if (opts.target === undefined || !isDid(opts.target)) throw err(SessionWireRejection.TARGET, 'a relay session needs the DID of the peer to reach (target)')
      if (opts.target === this.did || opts.target === record.provider) throw err(SessionWireRejection.TARGET, 'the target must be another peer than you and the provider')
      target = opts.target
    }
    const cost = depositAmount(terms, rounds)
    // running sessions' deposits are debited already: the balance is what is spendable
    const spendable = this.#o.ledger.balance(this.did)
    if (cost > spendable) throw err(SessionWireRejection.FUNDS, `${rounds} rounds cost ${cost} credits; ${Math.max(0, spendable)} are available`)
    let credential = opts.credential
    if (!('anyone' in record.body.policy.mayBuy) && credential === undefined) {
      credential = (await this.#o.credentialFor?.(record.body.policy.mayBuy)) ?? undefined
      if (credential === undefined) throw err(BuyerRejection.NO_CREDENTIAL, `this offer needs a "${record.body.policy.mayBuy.credentialType}" credential, and the wallet has none`)
    }
    const request = signSessionRequest(this.#o.seed(), { v: 1, offer: record.id as OfferId, rev: record.rev, provider: record.provider, payer: this.did, nonce: randomNonce(this.#random), time: Math.floor(now) })
    const id = sessionIdOf(request)
    // V11/V12: lock rounds × price for this session and wait for it to confirm; the provider
    // then serves the first trial slice at once, covered by this deposit
    await this.#lockDeposit(record.provider, id, cost, depositDeadline(terms, rounds, this.#now(), this.#rt.timing.unitMs), opts.signal)
    const open: OpenFrame = {
      t: 'open',
      request,
      rounds,
      ...(target !== undefined ? { target } : {}),
      ...(credential !== undefined ? { credential } : {})
    }
    const stream = await net.dialProtocol(record.provider, SESSION_PROTOCOL, { signal: opts.signal })
    const { accepted, channel } = await openSessionStream(stream, open, this.#rt)

    let credentials: HotspotCredentials | null = null
    if (record.body.kind === 'hotspot') {
      try {
        if (accepted.hotspot === undefined) throw new HotspotError(HotspotRejection.ENVELOPE, 'the provider sent no credentials')
        credentials = openHotspotCredentials(accepted.hotspot, this.#o.seed(), { provider: record.provider, session: id })
      } catch (e) {
        // stop at once: nothing was used, so no voucher was signed
        const dead = new PayerSession(channel, { ...this.#rt, id, request, terms, maxRounds: rounds, seed: this.#o.seed, hooks: { changed: () => {}, ended: () => {} } })
        dead.stop()
        throw e
      }
    }
    const rec: StoredSession = {
      id,
      role: 'payer',
      kind: record.body.kind,
      offer: record.id,
      rev: record.rev,
      title: record.body.title,
      provider: record.provider,
      payer: this.did,
      target: target ?? null,
      unit: terms.unit,
      price: terms.price,
      roundSize: terms.roundSize,
      trial: terms.trial,
      maxRounds: rounds,
      request: encodeSignedSessionRequest(request),
      ...newSessionProgress(),
      secret: accepted.hotspot ?? null,
      openedAt: now,
      updatedAt: now,
      endedAt: null,
      endReason: null
    }
    this.#records.set(id, rec)
    await this.#persist(id)
    const session = new PayerSession(channel, {
      ...this.#rt,
      id,
      request,
      terms,
      maxRounds: rounds,
      maxCredits: cost,
      seed: this.#o.seed,
      hooks: {
        changed: (s) => { this.#payerChanged(s, false) },
        ended: (s) => {
          this.#payerChanged(s, true)
          this.#sessionEnded(s.id)
        }
      }
    })
    session.start()
    let relayChannel: RelayChannel | null = null
    if (target !== undefined && relay !== null) {
      try {
        relayChannel = await relay.open(record.provider, target, id, session, { signal: opts.signal })
      } catch (e) {
        session.stop()
        throw e
      }
    }
    const handle = this.#payerHandle(id, session, relayChannel, credentials)
    this.#payers.set(id, { session, relay: relayChannel, credentials, handle })
    this.#changed()
    return handle
  }

  #payerChanged (s: PayerSession, urgent: boolean): void {
    const rec = this.#records.get(s.id)
    if (rec === undefined) return
    const st = s.state
    const newest = s.newestVoucher
    const ended = st.phase === 'stopped' && s.endReason !== null
    const reason: EndReason | null = s.endReason
    this.#touch(s.id, {
      round: s.unitsUsed === 0 ? 0 : Math.ceil(s.unitsUsed / s.terms.roundSize),
      units: s.unitsUsed,
      vouchers: s.vouchersSigned,
      voucher: newest === null ? null : this.#voucherBytesOf(newest),
      voucherRound: newest?.round ?? 0,
      committed: st.committed,
      rejected: s.rejected,
      settleTxs: s.settleTxs,
      state: ended ? 'ended' : 'active',
      ...(ended && rec.state !== 'ended' ? { endedAt: this.#now(), endReason: reason ?? 'error' } : {})
    }, urgent || s.vouchersSigned !== rec.vouchers || (ended && rec.state !== 'ended'))
  }

  #payerHandle (id: string, session: PayerSession, relay: RelayChannel | null, credentials: HotspotCredentials | null): SessionHandle {
    const view = (): SessionView => this.#view(this.#records.get(id) as StoredSession)
    const ended = this.#waitEnded(id)
    const stop = async (): Promise<SessionView> => {
      if (relay !== null && !session.stopped) {
        // let what was written get through the provider before the session ends
        await this.#within(relay.end().then(async () => { await relay.flushed() }), STOP_WAIT_MS)
      }
      session.stop()
      return await ended
    }
    return {
      id,
      role: 'payer',
      get state () { return view().state },
      get rounds () { return view().round },
      get unitsUsed () { return view().unitsUsed },
      get vouchersSigned () { return view().vouchers },
      get paid () { return view().paid },
      get settled () { return view().settled },
      credentials,
      relay,
      view,
      stop,
      ended
    }
  }
}

export { SessionEndedError }
