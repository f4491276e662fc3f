/**
 * What the parts of one peer's market share (split out of market-service.ts): the options and
 * the clock, the session records of both sides with their persistence (the sessions store)
 * and views, change events, and the ledger state. The parts — offers (market-offers.ts), the
 * provider side (market-provider.ts), the payer side (market-payer.ts) — each hold this core;
 * MarketService (market-service.ts) puts them together behind MarketApi. Members are public
 * to those modules only: nothing outside src/peer/market-*.ts uses this class.
 */

import { AllianceError, InvalidInputError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import type { BlockId, Equivocation, LedgerStats, StateReader, Tx, TxStatus } from '../core/ledger/index.ts'
import type { MemberRecord } from '../core/ledger/tx.ts'
import type { CredentialClaims, MayBuy } from '../core/contracts/policy.ts'
import { readSession } from '../core/contracts/settlement.ts'
import { defaultKinds } from '../core/market/kinds.ts'
import type { KindRegistry } from '../core/market/kinds.ts'
import type { SessionId, SessionTerms } from '../core/session/terms.ts'
import type { OfferRecord } from '../core/market/offer.ts'
import { encodeSignedSessionRequest } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import { encodeSignedVoucher } from '../core/session/voucher.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { DEFAULT_SESSION_TIMING, PayerSession, systemTimers } from '../net/session-protocol.ts'
import type { ProviderSession, SessionRuntime, SessionTiming, Timers } from '../net/session-protocol.ts'
import { SessionProtocolError } from '../net/session-wire.ts'
import { decodeHotspotSecret } from '../net/session-hotspot.ts'
import type { HotspotCredentials, WifiSecurity } from '../net/session-hotspot.ts'
import { RelayService } from '../net/relay-service.ts'
import type { RelayChannel, RelayNet } from '../net/relay-service.ts'
import type { SessionsStore, StoredSession } from '../store/sessions.ts'
import type { MarketEvent, SessionHandle, SessionView } from './market-api.ts'
import { seedSecretCipher } from './market-secrets.ts'
import type { SecretCipher } from './market-secrets.ts'

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

/** A new session's record, on either side: the offer, its terms, who pays, no progress yet. */
export function newSessionRecord (s: {
  id: string
  role: StoredSession['role']
  offer: OfferRecord
  rev: number
  payer: Did
  target: Did | null
  terms: SessionTerms
  maxRounds: number
  request: SignedSessionRequest
  secret: Uint8Array | null
  now: number
}): StoredSession {
  return {
    id: s.id,
    role: s.role,
    kind: s.offer.body.kind,
    offer: s.offer.id,
    rev: s.rev,
    title: s.offer.body.title,
    provider: s.offer.provider,
    payer: s.payer,
    target: s.target,
    unit: s.terms.unit,
    price: s.terms.price,
    roundSize: s.terms.roundSize,
    trial: s.terms.trial,
    maxRounds: s.maxRounds,
    request: encodeSignedSessionRequest(s.request),
    ...newSessionProgress(),
    secret: s.secret,
    openedAt: s.now,
    updatedAt: s.now,
    endedAt: null,
    endReason: null
  }
}

/** What a session handle reads live from its view, with what each side adds. */
export function sessionHandle (id: string, role: StoredSession['role'], view: () => SessionView, rest: Pick<SessionHandle, 'credentials' | 'relay' | 'stop' | 'ended'>): SessionHandle {
  return {
    id,
    role,
    get state () { return view().state },
    get rounds () { return view().round },
    get unitsUsed () { return view().unitsUsed },
    get vouchersSigned () { return view().vouchers },
    get paid () { return view().paid },
    get settled () { return view().settled },
    view,
    ...rest
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

export const HOTSPOT_SETTING = 'hotspot'
export const DAY_MS = 24 * 3600 * 1000
export const DEFAULT_OFFER_TTL_MS = 30 * DAY_MS
export const STOP_WAIT_MS = 5_000

export class MarketNotReadyError extends AllianceError {
  constructor (message: string, code = 'ERR_NOT_CONNECTED') { super(code, message) }
}

export interface PayerEntry {
  readonly session: PayerSession
  readonly relay: RelayChannel | null
  readonly credentials: HotspotCredentials | null
  readonly handle: SessionHandle
}

export function randomNonce (random: (n: number) => Uint8Array): number {
  const b = random(6)
  return b.reduce((n, x) => n * 256 + x, 0)
}

export function err (code: string, message: string): SessionProtocolError {
  return new SessionProtocolError(code, message)
}

export function asTx (value: object): Tx {
  return value as unknown as Tx
}

export class MarketCore {
  readonly did: Did
  readonly o: MarketServiceOptions
  readonly kinds: KindRegistry
  readonly now: () => number
  readonly timers: Timers
  readonly random: (n: number) => Uint8Array
  readonly rt: SessionRuntime
  readonly settleEvery: number
  readonly cipher: SecretCipher
  readonly records = new Map<string, StoredSession>()
  readonly providers = new Map<string, ProviderSession>()
  readonly payers = new Map<string, PayerEntry>()
  readonly relayClaimed = new Set<string>()
  readonly #voucherBytes = new WeakMap<SignedVoucher, Uint8Array>()
  readonly #writes = new Map<string, Promise<void>>()
  readonly #dirty = new Set<string>()
  readonly #endWaiters = new Map<string, Array<(v: SessionView) => void>>()
  readonly #listeners = new Map<MarketEvent, Set<(id?: string) => void>>()
  readonly background = new Set<Promise<unknown>>()
  relay: RelayService | null = null
  #flushTimer: unknown = null
  #changeTimer: unknown = null
  #lastChange = 0
  started = false
  closed = false

  constructor (opts: MarketServiceOptions) {
    if (!isDid(opts.did)) throw new TypeError('did must be an Ed25519 did:key')
    this.o = opts
    this.did = opts.did
    this.kinds = opts.kinds ?? defaultKinds
    this.now = opts.now ?? (() => Date.now())
    this.timers = opts.timers ?? systemTimers
    this.random = opts.random ?? ((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)))
    this.rt = { timing: { ...DEFAULT_SESSION_TIMING, ...opts.timing }, timers: this.timers, now: this.now }
    this.cipher = opts.cipher ?? seedSecretCipher(opts.seed, this.random)
    this.settleEvery = opts.settleEvery ?? 4
    if (!Number.isSafeInteger(this.settleEvery) || this.settleEvery < 1) throw new RangeError('settleEvery must be a positive integer')
  }

  /** Waits for `promise` at most `ms`; never throws. */
  async within (promise: Promise<unknown>, ms: number): Promise<void> {
    let timer: unknown = null
    await Promise.race([
      promise.catch(() => {}),
      new Promise((resolve) => { timer = this.timers.setTimeout(() => { resolve(null) }, ms) })
    ])
    if (timer !== null) this.timers.clearTimeout(timer)
  }

  /** Writes every changed session record now. */
  async flush (): Promise<void> {
    const ids = [...this.#dirty]
    await Promise.allSettled(ids.map(async (id) => { await this.persist(id) }))
    await Promise.allSettled([...this.#writes.values()])
  }

  // ---- events ----

  on (event: MarketEvent, listener: (sessionId?: string) => void): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) { set = new Set(); this.#listeners.set(event, set) }
    set.add(listener)
    return () => { set.delete(listener) }
  }

  emit (event: MarketEvent, id?: string): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try { l(id) } catch (e) { this.log(`market listener failed: ${(e as Error).message}`) }
    }
  }

  /** Change notifications at most every 100 ms (a relay moves many chunks a second). */
  changed (): void {
    const now = this.now()
    if (now - this.#lastChange >= 100) {
      this.#lastChange = now
      this.emit('change')
      this.o.onChange?.()
      return
    }
    if (this.#changeTimer !== null) return
    this.#changeTimer = this.timers.setTimeout(() => {
      this.#changeTimer = null
      this.#lastChange = this.now()
      this.emit('change')
      this.o.onChange?.()
    }, 100)
  }

  log (line: string): void {
    this.o.log?.(`market: ${line}`)
  }

  state (): StateReader {
    return this.o.ledger.engine.stateView
  }

  requireMember (): void {
    if (this.o.ledger.engine.member(this.did) === undefined) {
      throw new AllianceError('ERR_NOT_MEMBER', 'this peer is not a member of the alliance yet: wait until its admission is confirmed')
    }
  }

  /** Sessions this peer serves on `offerId` now (admitted and not ended). */
  activeOn (offerId: string): number {
    let n = 0
    for (const r of this.records.values()) if (r.role === 'provider' && r.offer === offerId && r.state !== 'ended') n++
    return n
  }

  async hotspotSecret (): Promise<{ ssid: string, security: WifiSecurity, password: string } | null> {
    const sealed = await this.o.sessionsStore.getSetting(HOTSPOT_SETTING)
    if (sealed === undefined) return null
    return decodeHotspotSecret(await this.cipher.decrypt(sealed))
  }

  // ---- sessions: views and persistence ----

  touch (id: string, patch: Partial<StoredSession>, urgent: boolean): void {
    const before = this.records.get(id)
    if (before === undefined) return
    this.records.set(id, { ...before, ...patch, updatedAt: this.now() })
    this.#dirty.add(id)
    if (urgent) void this.persist(id)
    else if (this.#flushTimer === null) {
      this.#flushTimer = this.timers.setTimeout(() => {
        this.#flushTimer = null
        for (const d of [...this.#dirty]) void this.persist(d)
      }, this.o.persistEveryMs ?? 1000)
    }
    this.changed()
  }

  /** Writes the record of `id` after any write of it still running. */
  async persist (id: string): Promise<void> {
    this.#dirty.delete(id)
    const prev = this.#writes.get(id) ?? Promise.resolve()
    const run = prev.then(async () => {
      let rec = this.records.get(id)
      if (rec === undefined) return
      // keep the credits settled on the ledger beside the session, for a reload while offline
      const onLedger = readSession(this.state(), id as SessionId)
      if (onLedger !== undefined && onLedger.settled !== rec.settled) {
        rec = { ...rec, settled: onLedger.settled }
        this.records.set(id, rec)
      }
      await this.o.sessionsStore.put(rec)
    }).catch((e: unknown) => { this.log(`saving session ${id.slice(0, 16)}… failed: ${(e as Error).message}`) })
    this.#writes.set(id, run)
    await run
    if (this.#writes.get(id) === run) this.#writes.delete(id)
  }

  voucherBytesOf (v: SignedVoucher): Uint8Array {
    let bytes = this.#voucherBytes.get(v)
    if (bytes === undefined) { bytes = encodeSignedVoucher(v); this.#voucherBytes.set(v, bytes) }
    return bytes
  }

  view (rec: StoredSession): SessionView {
    const onLedger = readSession(this.state(), rec.id as SessionId)
    const live = this.providers.get(rec.id)
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
      remainingMs: rec.unit === 'seconds' && remainingUnits !== null ? (active ? remainingUnits * this.rt.timing.unitMs : 0) : null,
      openedAt: rec.openedAt,
      endedAt: rec.endedAt,
      endReason: rec.endReason
    }
  }

  async waitEnded (id: string): Promise<SessionView> {
    const rec = this.records.get(id)
    if (rec === undefined) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
    if (rec.state === 'ended') return this.view(rec)
    return await new Promise<SessionView>((resolve) => {
      const list = this.#endWaiters.get(id) ?? []
      list.push(resolve)
      this.#endWaiters.set(id, list)
    })
  }

  sessionEnded (id: string): void {
    const rec = this.records.get(id)
    if (rec === undefined) return
    const view = this.view(rec)
    for (const w of this.#endWaiters.get(id) ?? []) w(view)
    this.#endWaiters.delete(id)
    this.emit('session-ended', id)
    this.changed()
  }

  /** Stops the core's timers (the service's stop, once everything is written). */
  clearTimers (): void {
    if (this.#flushTimer !== null) this.timers.clearTimeout(this.#flushTimer)
    if (this.#changeTimer !== null) this.timers.clearTimeout(this.#changeTimer)
  }
}
