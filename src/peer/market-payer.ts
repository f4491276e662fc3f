/**
 * The payer side of one peer's market (split out of market-service.ts): buys a session —
 * locks rounds × price in a `deposit.lock` and waits for it to confirm (V11), opens the
 * session, signs a voucher per round, opens the hotspot credentials or the relay channel —
 * and refunds its deposits whose deadline passed unsettled (V14).
 */

import { InvalidInputError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { BuyerRejection } from '../core/contracts/policy.ts'
import { isOfferActive, sessionTermsOf } from '../core/market/offer.ts'
import { readOffer } from '../core/market/apply.ts'
import { depositAmount, depositDeadline, expiredDeposits } from '../core/market/deposits.ts'
import { sessionIdOf, signSessionRequest } from '../core/session/request.ts'
import { MAX_ROUND } from '../core/session/terms.ts'
import type { OfferId, SessionTerms } from '../core/session/terms.ts'
import { openSessionStream, PayerSession, SESSION_PROTOCOL } from '../net/session-protocol.ts'
import type { EndReason } from '../net/session-protocol.ts'
import { SessionWireRejection } from '../net/session-wire.ts'
import type { OpenFrame } from '../net/session-wire.ts'
import { HotspotError, HotspotRejection, openHotspotCredentials } from '../net/session-hotspot.ts'
import type { HotspotCredentials } from '../net/session-hotspot.ts'
import type { RelayChannel } from '../net/relay-service.ts'
import type { StoredSession } from '../store/sessions.ts'
import type { BuyOptions, SessionHandle, SessionView } from './market-api.ts'
import type { MarketCore } from './market-core.ts'
import { asTx, err, MarketNotReadyError, newSessionRecord, randomNonce, sessionHandle, STOP_WAIT_MS } from './market-core.ts'

export class PayerSide {
  #sweepTimer: unknown = null
  readonly #refunding = new Set<string>()

  constructor (private readonly c: MarketCore) {}

  /** Stops the refund sweep. */
  stopSweep (): void {
    if (this.#sweepTimer !== null) this.c.timers.clearTimeout(this.#sweepTimer)
  }

  /**
   * V11: locks `amount` for `session` with `provider` and waits until the lock confirms (the
   * provider serves only then). Resolves to the lock's txId; throws when it is rejected or does
   * not confirm within `depositWaitMs`.
   */
  async #lockDeposit (provider: Did, session: string, amount: number, deadline: number, signal?: AbortSignal): Promise<string> {
    const block = await this.c.o.ledger.submit([asTx({ type: 'deposit.lock', provider, amount, deadline, ref: session })])
    const txId = `${block}/0`
    const until = this.c.now() + (this.c.o.depositWaitMs ?? 120_000)
    for (;;) {
      const status = this.c.o.ledger.engine.status(txId)
      if (status === 'confirmed') return txId
      if (status === 'rejected') throw err(SessionWireRejection.FUNDS, 'the ledger rejected the session\'s deposit')
      if (signal?.aborted === true) throw err('ERR_SESSION_ABORTED', 'the purchase was cancelled while its deposit confirmed (it is refunded after its deadline)')
      if (this.c.now() > until) throw err('ERR_SESSION_DEPOSIT_TIMEOUT', 'the session\'s deposit did not confirm in time (it is refunded after its deadline)')
      await new Promise<void>((resolve) => { this.c.timers.setTimeout(resolve, 200) })
    }
  }

  /** V14: refunds this payer's deposits whose deadline passed with no settlement. */
  async refundExpired (): Promise<string[]> {
    const out: string[] = []
    // the refund's block time must be after the deadline: wait out the clock skew allowance
    for (const d of expiredDeposits(this.c.state(), this.c.did, this.c.now() - 1000)) {
      if (this.#refunding.has(d.id)) continue
      this.#refunding.add(d.id)
      try {
        out.push(`${await this.c.o.ledger.submit([asTx({ type: 'deposit.refund', deposit: d.id })])}/0`)
        this.c.log(`refund of deposit ${d.id.slice(0, 16)}… (${d.record.amount} credits) posted`)
      } catch (e) {
        this.#refunding.delete(d.id)
        this.c.log(`refund of deposit ${d.id.slice(0, 16)}… failed: ${(e as Error).message}`)
      }
    }
    return out
  }

  sweepRefunds (): void {
    if (this.c.closed) return
    this.refundExpired().catch((e: unknown) => { this.c.log(`refund sweep failed: ${(e as Error).message}`) }).finally(() => {
      if (!this.c.closed) this.#sweepTimer = this.c.timers.setTimeout(() => { this.sweepRefunds() }, this.c.o.refundSweepMs ?? 60_000)
    })
  }

  async buy (offerId: string, rounds: number, opts: BuyOptions = {}): Promise<SessionHandle> {
    const net = this.c.o.net
    const relay = this.c.relay
    if (net === null || !this.c.started || this.c.closed) throw new MarketNotReadyError('the market is not connected to the mesh')
    if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > MAX_ROUND) throw new InvalidInputError(`rounds must be a whole number from 1 to ${MAX_ROUND}`, 'ERR_BAD_ROUNDS')
    const now = this.c.now()
    const record = readOffer(this.c.state(), offerId)
    if (record === undefined) throw err(SessionWireRejection.OFFER_UNKNOWN, 'no such offer on this peer\'s ledger (a new one may not be confirmed yet)')
    if (!isOfferActive(record, now)) throw err(SessionWireRejection.OFFER_INACTIVE, 'the offer is withdrawn or expired')
    if (record.provider === this.c.did) throw err('ERR_SESSION_SELF', 'this is your own offer')
    const found = sessionTermsOf(record, record.rev)
    if (found === null) throw err(SessionWireRejection.OFFER_REVISION, 'unknown revision')
    const terms: SessionTerms = found.terms
    let target: Did | undefined
    if (record.body.kind === 'relay') {
      if (opts.target === undefined || !isDid(opts.target)) throw err(SessionWireRejection.TARGET, 'a relay session needs the DID of the peer to reach (target)')
      if (opts.target === this.c.did || opts.target === record.provider) throw err(SessionWireRejection.TARGET, 'the target must be another peer than you and the provider')
      target = opts.target
    }
    const cost = depositAmount(terms, rounds)
    // running sessions' deposits are debited already: the balance is what is spendable
    const spendable = this.c.o.ledger.balance(this.c.did)
    if (cost > spendable) throw err(SessionWireRejection.FUNDS, `${rounds} rounds cost ${cost} credits; ${Math.max(0, spendable)} are available`)
    let credential = opts.credential
    if (!('anyone' in record.body.policy.mayBuy) && credential === undefined) {
      credential = (await this.c.o.credentialFor?.(record.body.policy.mayBuy)) ?? undefined
      if (credential === undefined) throw err(BuyerRejection.NO_CREDENTIAL, `this offer needs a "${record.body.policy.mayBuy.credentialType}" credential, and the wallet has none`)
    }
    const request = signSessionRequest(this.c.o.seed(), { v: 1, offer: record.id as OfferId, rev: record.rev, provider: record.provider, payer: this.c.did, nonce: randomNonce(this.c.random), time: Math.floor(now) })
    const id = sessionIdOf(request)
    // V11/V12: lock rounds × price for this session and wait for it to confirm; the provider
    // then serves the first trial slice at once, covered by this deposit
    await this.#lockDeposit(record.provider, id, cost, depositDeadline(terms, rounds, this.c.now(), this.c.rt.timing.unitMs), opts.signal)
    const open: OpenFrame = {
      t: 'open',
      request,
      rounds,
      ...(target !== undefined ? { target } : {}),
      ...(credential !== undefined ? { credential } : {})
    }
    const stream = await net.dialProtocol(record.provider, SESSION_PROTOCOL, { signal: opts.signal })
    const { accepted, channel } = await openSessionStream(stream, open, this.c.rt)

    let credentials: HotspotCredentials | null = null
    if (record.body.kind === 'hotspot') {
      try {
        if (accepted.hotspot === undefined) throw new HotspotError(HotspotRejection.ENVELOPE, 'the provider sent no credentials')
        credentials = openHotspotCredentials(accepted.hotspot, this.c.o.seed(), { provider: record.provider, session: id })
      } catch (e) {
        // stop at once: nothing was used, so no voucher was signed
        const dead = new PayerSession(channel, { ...this.c.rt, id, request, terms, maxRounds: rounds, seed: this.c.o.seed, hooks: { changed: () => {}, ended: () => {} } })
        dead.stop()
        throw e
      }
    }
    const rec = newSessionRecord({ id, role: 'payer', offer: record, rev: record.rev, payer: this.c.did, target: target ?? null, terms, maxRounds: rounds, request, secret: accepted.hotspot ?? null, now })
    this.c.records.set(id, rec)
    await this.c.persist(id)
    const session = new PayerSession(channel, {
      ...this.c.rt,
      id,
      request,
      terms,
      maxRounds: rounds,
      maxCredits: cost,
      seed: this.c.o.seed,
      hooks: {
        changed: (s) => { this.#payerChanged(s, false) },
        ended: (s) => {
          this.#payerChanged(s, true)
          this.c.sessionEnded(s.id)
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
    this.c.payers.set(id, { session, relay: relayChannel, credentials, handle })
    this.c.changed()
    return handle
  }

  #payerChanged (s: PayerSession, urgent: boolean): void {
    const rec = this.c.records.get(s.id)
    if (rec === undefined) return
    const st = s.state
    const newest = s.newestVoucher
    const ended = st.phase === 'stopped' && s.endReason !== null
    const reason: EndReason | null = s.endReason
    this.c.touch(s.id, {
      round: s.unitsUsed === 0 ? 0 : Math.ceil(s.unitsUsed / s.terms.roundSize),
      units: s.unitsUsed,
      vouchers: s.vouchersSigned,
      voucher: newest === null ? null : this.c.voucherBytesOf(newest),
      voucherRound: newest?.round ?? 0,
      committed: st.committed,
      rejected: s.rejected,
      settleTxs: s.settleTxs,
      state: ended ? 'ended' : 'active',
      ...(ended && rec.state !== 'ended' ? { endedAt: this.c.now(), endReason: reason ?? 'error' } : {})
    }, urgent || s.vouchersSigned !== rec.vouchers || (ended && rec.state !== 'ended'))
  }

  #payerHandle (id: string, session: PayerSession, relay: RelayChannel | null, credentials: HotspotCredentials | null): SessionHandle {
    const view = (): SessionView => this.c.view(this.c.records.get(id) as StoredSession)
    const ended = this.c.waitEnded(id)
    const stop = async (): Promise<SessionView> => {
      if (relay !== null && !session.stopped) {
        // let what was written get through the provider before the session ends
        await this.c.within(relay.end().then(async () => { await relay.flushed() }), STOP_WAIT_MS)
      }
      session.stop()
      return await ended
    }
    return sessionHandle(id, 'payer', view, { credentials, relay, stop, ended })
  }
}
