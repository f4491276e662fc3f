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
 * The parts live in their own modules, all holding one MarketCore (market-core.ts: options,
 * session records and their persistence, events): market-offers.ts, market-provider.ts,
 * market-payer.ts, and market-secrets.ts (cipher and credential adapters, re-exported here).
 */

import { InvalidInputError } from '../core/errors.ts'
import type { Did } from '../core/identity.ts'
import type { Reputation } from '../core/contracts/reputation.ts'
import { SESSION_PROTOCOL, SessionEndedError } from '../net/session-protocol.ts'
import { encodeHotspotSecret, openHotspotCredentials, parseHotspotSecret } from '../net/session-hotspot.ts'
import type { HotspotCredentials, WifiSecurity } from '../net/session-hotspot.ts'
import { RelayService } from '../net/relay-service.ts'
import type { RelayedStream } from '../net/relay-service.ts'
import type { StoredSession } from '../store/sessions.ts'
import type { BuyOptions, MarketApi, MarketEvent, OfferInput, OfferQueryInput, OfferView, RequestInput, RequestView, SessionHandle, SessionView } from './market-api.ts'
import { HOTSPOT_SETTING, MarketCore, MarketNotReadyError, sessionHandle, STOP_WAIT_MS } from './market-core.ts'
import type { MarketServiceOptions } from './market-core.ts'
import { MarketOffers } from './market-offers.ts'
import { ProviderSide } from './market-provider.ts'
import { PayerSide } from './market-payer.ts'

export type { MarketLedger, MarketNet, MarketServiceOptions } from './market-core.ts'
export { MarketNotReadyError }
export type { CredentialWallet, SecretCipher } from './market-secrets.ts'
export { seedSecretCipher, walletCredentialPicker, walletCredentialVerifier } from './market-secrets.ts'

export class MarketService implements MarketApi {
  readonly did: Did
  /** What the parts share (market-core.ts). */
  private readonly c: MarketCore
  readonly #offers: MarketOffers
  readonly #provider: ProviderSide
  readonly #payer: PayerSide

  constructor (opts: MarketServiceOptions) {
    this.c = new MarketCore(opts)
    this.did = this.c.did
    this.#offers = new MarketOffers(this.c)
    this.#provider = new ProviderSide(this.c)
    this.#payer = new PayerSide(this.c)
  }

  // ---- life cycle ----

  /** Loads the stored sessions (ending those a closed tab left running) and starts serving. */
  async start (): Promise<void> {
    if (this.c.started) return
    this.c.started = true
    const now = this.c.now()
    for (const stored of await this.c.o.sessionsStore.list()) {
      let rec = stored
      if (rec.state !== 'ended') {
        rec = { ...rec, state: 'ended', endReason: 'interrupted', endedAt: now, updatedAt: now }
        this.c.records.set(rec.id, rec)
        await this.c.persist(rec.id)
      } else {
        this.c.records.set(rec.id, rec)
      }
      if (rec.role === 'provider' && rec.voucher !== null && !rec.closePosted) this.c.background.add(this.#provider.settleLeftover(rec))
    }
    const net = this.c.o.net
    if (net !== null) {
      await net.handle(SESSION_PROTOCOL, async (stream, ctx) => { await this.#provider.serve(stream, ctx) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
      this.c.relay = new RelayService({
        net,
        host: {
          relaySession: (session, payer) => this.#provider.relaySession(session, payer),
          released: (session) => { this.c.relayClaimed.delete(session) },
          misbehaved: (remote, code) => { net.reportMisbehaviour(remote.peerId, code) }
        },
        log: this.c.o.log
      })
      await this.c.relay.start()
    }
    this.#payer.sweepRefunds()
    this.c.changed()
  }

  /** Stops every running session (a provider settles what is owed), then stops serving. */
  async stop (): Promise<void> {
    if (this.c.closed) return
    this.c.closed = true
    this.#payer.stopSweep()
    const net = this.c.o.net
    if (net !== null && this.c.started) await net.unhandle(SESSION_PROTOCOL).catch(() => {})
    const providers = [...this.c.providers.values()]
    for (const p of providers) p.stop('provider')
    for (const e of this.c.payers.values()) e.session.stop()
    // the closing settlements are handed to the ledger before it stops (bounded)
    await this.c.within(Promise.allSettled(providers.map(async (p) => { await p.settled() })), STOP_WAIT_MS)
    await this.c.relay?.stop()
    await Promise.allSettled([...this.c.background])
    await this.flush()
    this.c.clearTimers()
  }
  /** Writes every changed session record now. */
  async flush (): Promise<void> { await this.c.flush() }

  on (event: MarketEvent, listener: (sessionId?: string) => void): () => void { return this.c.on(event, listener) }

  // ---- offers, requests, reputation (market-offers.ts) ----

  async publish (input: OfferInput): Promise<string> { return await this.#offers.publish(input) }
  async withdraw (offerId: string): Promise<string> { return await this.#offers.withdraw(offerId) }
  offers (query: OfferQueryInput = {}): OfferView[] { return this.#offers.offers(query) }
  offer (offerId: string): OfferView | null { return this.#offers.offer(offerId) }
  async postRequest (input: RequestInput): Promise<string> { return await this.#offers.postRequest(input) }
  async withdrawRequest (requestId: string): Promise<string> { return await this.#offers.withdrawRequest(requestId) }
  requests (kind?: string): RequestView[] { return this.#offers.requests(kind) }
  reputation (did: Did): Reputation { return this.#offers.reputation(did) }
  async rate (sessionId: string, score: number): Promise<string> { return await this.#offers.rate(sessionId, score) }

  // ---- sessions (market-provider.ts, market-payer.ts) ----

  /** DIDs this provider refuses to serve from now on (sessions already running go on). */
  setBlockedPayers (dids: readonly string[]): void { this.#provider.setBlockedPayers(dids) }
  async buy (offerId: string, rounds: number, opts: BuyOptions = {}): Promise<SessionHandle> { return await this.#payer.buy(offerId, rounds, opts) }
  /** V14: refunds this payer's deposits whose deadline passed with no settlement. */
  async refundExpired (): Promise<string[]> { return await this.#payer.refundExpired() }

  // ---- hotspot credentials ----

  async setHotspotSecret (secret: { ssid: string, security: WifiSecurity, password: string }): Promise<void> {
    const clean = parseHotspotSecret(secret)
    await this.c.o.sessionsStore.putSetting(HOTSPOT_SETTING, await this.c.cipher.encrypt(encodeHotspotSecret(clean)))
    this.c.changed()
  }

  async hotspotNetwork (): Promise<{ ssid: string, security: WifiSecurity } | null> {
    const s = await this.c.hotspotSecret()
    return s === null ? null : { ssid: s.ssid, security: s.security }
  }

  // ---- relayed streams (target side) ----

  onRelayedStream (handler: (stream: RelayedStream) => void): () => void {
    if (this.c.relay === null) throw new MarketNotReadyError('the market is not connected to the mesh')
    return this.c.relay.onRelayedStream(handler)
  }

  relayStats (): { relays: number, forwarded: number, delivered: number } {
    return this.c.relay?.stats() ?? { relays: 0, forwarded: 0, delivered: 0 }
  }

  // ---- sessions: views ----

  sessions (): SessionView[] {
    return [...this.c.records.values()].map((r) => this.c.view(r)).sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? -1 : 1))
  }

  session (id: string): SessionHandle | null {
    return this.c.payers.get(id)?.handle ?? (this.c.records.has(id) ? this.#storedHandle(id) : null)
  }

  async stopSession (id: string): Promise<void> {
    const payer = this.c.payers.get(id)
    if (payer !== undefined) { await payer.handle.stop(); return }
    const provider = this.c.providers.get(id)
    if (provider !== undefined) {
      provider.stop('provider')
      await this.c.waitEnded(id)
      return
    }
    if (!this.c.records.has(id)) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
  }

  #storedHandle (id: string): SessionHandle {
    const view = (): SessionView => {
      const rec = this.c.records.get(id)
      if (rec === undefined) throw new InvalidInputError('no such session', 'ERR_SESSION_UNKNOWN')
      return this.c.view(rec)
    }
    const rec = this.c.records.get(id) as StoredSession
    let credentials: HotspotCredentials | null = null
    if (rec.role === 'payer' && rec.secret !== null) {
      try { credentials = openHotspotCredentials(rec.secret, this.c.o.seed(), { provider: rec.provider, session: id }) } catch { credentials = null }
    }
    return sessionHandle(id, rec.role, view, { credentials, relay: null, stop: async () => { await this.stopSession(id); return view() }, ended: this.c.waitEnded(id) })
  }
}

export { SessionEndedError }
