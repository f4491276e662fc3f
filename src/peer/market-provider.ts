/**
 * The provider side of one peer's market (split out of market-service.ts): admits a session
 * after checking the offer (active, this revision, capacity), the owner's block list, the
 * payer's confirmed deposit for this session (SPEC V13) and the offer's rights policy (a
 * presented JWT credential is verified, revoked ones dropped), serves it, and posts the newest
 * voucher in one closing `session.settle` drawn from the deposit (C9), also after a reload.
 */
import type { Stream } from '@libp2p/interface'
import { toHex } from '../core/bytes.ts'
import { sha256 } from '../core/codec.ts'
import type { Did } from '../core/identity.ts'
import { checkBuyer } from '../core/contracts/policy.ts'
import type { CredentialClaims } from '../core/contracts/policy.ts'
import { readSession } from '../core/contracts/settlement.ts'
import { isOfferActive, sessionTermsOf } from '../core/market/offer.ts'
import type { OfferRecord } from '../core/market/offer.ts'
import { readOffer } from '../core/market/apply.ts'
import { checkSessionDeposit, MIN_SETTLE_MARGIN_MS, sessionDeposits } from '../core/market/deposits.ts'
import { decodeSignedSessionRequest } from '../core/session/request.ts'
import type { SignedSessionRequest } from '../core/session/request.ts'
import type { SessionId } from '../core/session/terms.ts'
import { decodeSignedVoucher } from '../core/session/voucher.ts'
import type { SignedVoucher } from '../core/session/voucher.ts'
import { serveSessionStream } from '../net/session-protocol.ts'
import type { ProviderAdmission, ProviderHooks, ProviderSession, RemotePeer } from '../net/session-protocol.ts'
import { requestMap, SessionWireRejection, voucherMap } from '../net/session-wire.ts'
import type { OpenFrame } from '../net/session-wire.ts'
import { sealHotspotCredentials } from '../net/session-hotspot.ts'
import { RelayError, RelayRejection, relayWindowFor } from '../net/relay-service.ts'
import type { StoredSession } from '../store/sessions.ts'
import type { MarketCore } from './market-core.ts'
import { asTx, err, newSessionRecord } from './market-core.ts'

export class ProviderSide {
  constructor (private readonly c: MarketCore) {}

  async serve (stream: Stream, ctx: { did: Did, peerId: string }): Promise<void> {
    const net = this.c.o.net
    await serveSessionStream(stream, { did: ctx.did, peerId: ctx.peerId }, {
      admit: async (open, id, remote) => await this.#admit(open, id, remote),
      started: (session) => { this.c.providers.set(session.id, session) },
      misbehaved: (remote, code) => { net?.reportMisbehaviour(remote.peerId, code) }
    }, this.c.rt)
  }

  readonly #blockedPayers = new Set<string>()

  /** DIDs this provider refuses to serve from now on (sessions already running go on). */
  setBlockedPayers (dids: readonly string[]): void {
    this.#blockedPayers.clear()
    for (const d of dids) this.#blockedPayers.add(d)
  }

  /** The provider's checks before serving (white paper 5.6.1 step 2; SPEC P3). */
  async #admit (open: OpenFrame, id: SessionId, remote: RemotePeer): Promise<ProviderAdmission> {
    if (this.c.closed) throw err(SessionWireRejection.UNAVAILABLE, 'this peer is shutting down')
    const req = open.request
    const now = this.c.now()
    if (req.provider !== this.c.did) throw err(SessionWireRejection.WRONG_PROVIDER, 'the request names another provider')
    // The owner's block list (issue 11 owner controls): refused before anything is looked up.
    if (this.#blockedPayers.has(req.payer)) throw err(SessionWireRejection.UNAVAILABLE, 'this provider does not serve this DID')
    const skew = this.c.o.maxRequestSkewMs ?? 5 * 60_000
    if (Math.abs(now - req.time) > skew) throw err(SessionWireRejection.STALE, `the request's time is ${Math.round((now - req.time) / 1000)} s away from this peer's clock`)
    if (this.c.records.has(id)) throw err(SessionWireRejection.DUPLICATE, 'this session was already opened')
    const record = readOffer(this.c.state(), req.offer)
    if (record === undefined) throw err(SessionWireRejection.OFFER_UNKNOWN, 'no such offer on this provider\'s ledger')
    if (record.provider !== this.c.did || !isOfferActive(record, now)) throw err(SessionWireRejection.OFFER_INACTIVE, 'the offer is withdrawn or expired')
    if (req.rev !== record.rev) throw err(SessionWireRejection.OFFER_REVISION, `the offer is at revision ${record.rev}, not ${req.rev}: look it up again`)
    const found = sessionTermsOf(record, req.rev)
    if (found === null) throw err(SessionWireRejection.OFFER_REVISION, 'unknown revision')
    const terms = found.terms
    if (this.c.activeOn(record.id) >= record.body.capacity) throw err(SessionWireRejection.CAPACITY, `the offer serves ${record.body.capacity} users already`)
    // V13: serve only against the payer's confirmed deposit for this session, big and long enough
    const funded = checkSessionDeposit(this.c.state(), { session: id, payer: req.payer, provider: this.c.did, terms, rounds: open.rounds, now, unitMs: this.c.rt.timing.unitMs })
    if (!funded.ok) throw err(funded.code, funded.message)
    const deposit = funded.deposit
    await this.#checkPolicy(record, req.payer, open.credential, now)
    let hotspot: Uint8Array | undefined
    let target: Did | null = null
    if (record.body.kind === 'relay') {
      if (open.target === undefined || open.target === req.payer || open.target === this.c.did) throw err(SessionWireRejection.TARGET, 'a relay session needs a target other than the payer and the provider')
      target = open.target
    } else if (record.body.kind === 'hotspot') {
      let secret
      try {
        secret = await this.c.hotspotSecret()
      } catch (e) {
        throw err(SessionWireRejection.UNAVAILABLE, `the hotspot credentials cannot be read: ${(e as Error).message}`)
      }
      if (secret === null) throw err(SessionWireRejection.UNAVAILABLE, 'this provider has not set its hotspot credentials')
      hotspot = sealHotspotCredentials({ providerSeed: this.c.o.seed(), payer: req.payer, session: id, secret, at: now, random: this.c.random })
    } else {
      throw err(SessionWireRejection.UNAVAILABLE, `this peer cannot deliver ${record.body.kind} sessions`)
    }
    // checked again with nothing awaited between the check and the record: concurrent opens
    // cannot both take the last slot, nor open one session twice
    if (this.c.closed) throw err(SessionWireRejection.UNAVAILABLE, 'this peer is shutting down')
    if (this.c.records.has(id)) throw err(SessionWireRejection.DUPLICATE, 'this session was already opened')
    if (this.c.activeOn(record.id) >= record.body.capacity) throw err(SessionWireRejection.CAPACITY, `the offer serves ${record.body.capacity} users already`)
    const rec = newSessionRecord({ id, role: 'provider', offer: record, rev: req.rev, payer: req.payer, target, terms, maxRounds: funded.rounds, request: req, secret: null, now })
    this.c.records.set(id, rec)
    await this.c.persist(id)
    this.c.changed()
    const hooks: ProviderHooks = {
      // C9: one settlement per deposit, so only the closing one is posted (F6 intermediate
      // settlements would close the deposit early)
      settle: async (voucher, close) => close ? await this.#settle(id, req, voucher, deposit.id) : null,
      changed: (s) => { this.#providerChanged(s, false) },
      rejected: (s, code, _message, late) => {
        this.#providerChanged(s, true)
        if (!late) this.c.o.net?.reportMisbehaviour(remote.peerId, code)
      },
      ended: (s) => {
        if (deadlineTimer !== null) this.c.timers.clearTimeout(deadlineTimer)
        this.#providerChanged(s, true)
        this.c.providers.delete(s.id)
        this.c.relayClaimed.delete(s.id)
        this.c.sessionEnded(s.id)
      }
    }
    // C9: stop in time to settle before the deposit's deadline
    const stopIn = deposit.record.deadline - MIN_SETTLE_MARGIN_MS / 2 - now
    const deadlineTimer: unknown = this.c.timers.setTimeout(() => { this.c.providers.get(id)?.stop('provider') }, Math.max(0, stopIn))
    return { terms, maxRounds: funded.rounds, settleEvery: this.c.settleEvery, ...(hotspot !== undefined ? { hotspot } : {}), hooks }
  }

  async #checkPolicy (record: OfferRecord, payer: Did, credential: string | undefined, now: number): Promise<void> {
    const policy = record.body.policy
    if ('anyone' in policy.mayBuy) return
    const claims: CredentialClaims[] = []
    if (credential !== undefined && this.c.o.verifyCredential !== undefined) {
      // a credential revoked on the ledger is not presented at all (SPEC P3)
      const anchor = this.c.state().get('anchor', toHex(sha256(new TextEncoder().encode(credential)))) as { revokedIn?: unknown } | undefined
      if (anchor?.revokedIn == null) {
        const c = await this.c.o.verifyCredential(credential).catch(() => null)
        if (c !== null) claims.push(c)
      }
    }
    const check = checkBuyer(policy, payer, claims, now)
    if (!check.ok) throw err(check.code, check.message)
  }

  #providerChanged (s: ProviderSession, urgent: boolean): void {
    const rec = this.c.records.get(s.id)
    if (rec === undefined) return
    const st = s.state
    const voucher = st.voucher === null ? null : this.c.voucherBytesOf(st.voucher)
    const ended = st.phase === 'stopped'
    const vouchersChanged = s.vouchersAccepted !== rec.vouchers
    this.c.touch(s.id, {
      round: st.round,
      units: st.delivered,
      vouchers: s.vouchersAccepted,
      voucher,
      voucherRound: st.cursor?.round ?? 0,
      committed: st.cursor?.cumulative ?? 0,
      rejected: s.rejected,
      state: ended ? 'ended' : 'active',
      ...(ended && rec.state !== 'ended' ? { endedAt: this.c.now(), endReason: s.endReason ?? 'error' } : {})
    }, urgent || vouchersChanged || (ended && rec.state !== 'ended'))
  }

  /**
   * Posts `voucher` in the session's one closing `session.settle`, drawn from `deposit` (C9),
   * with the request, and payerChain when the deposit is on another chain.
   */
  async #settle (id: string, request: SignedSessionRequest, voucher: SignedVoucher, deposit: string): Promise<string | null> {
    const engine = this.c.o.ledger.engine
    const payerChain = engine.member(request.payer)?.chain
    const ownChain = engine.member(this.c.did)?.chain
    const close = true
    const tx: Record<string, unknown> = { type: 'session.settle', deposit, voucher: voucherMap(voucher), request: requestMap(request), close }
    if (payerChain !== undefined && ownChain !== undefined && payerChain !== ownChain) tx.payerChain = payerChain
    let txId: string
    try {
      txId = `${await this.c.o.ledger.submit([asTx(tx)])}/0`
    } catch (e) {
      this.c.log(`settlement of ${id.slice(0, 16)}… round ${voucher.round} failed: ${(e as Error).message}`)
      return null
    }
    const rec = this.c.records.get(id)
    if (rec !== undefined) {
      this.c.touch(id, { settleTxs: [...rec.settleTxs, txId], settledRound: Math.max(rec.settledRound, voucher.round), closePosted: rec.closePosted || close }, true)
    }
    return txId
  }

  /** After a reload: post the closing settlement a session left behind (unless the ledger has it). */
  async settleLeftover (rec: StoredSession): Promise<void> {
    try {
      const onLedger = readSession(this.c.state(), rec.id as SessionId)
      if (onLedger?.closed === true) {
        this.c.touch(rec.id, { closePosted: true }, true)
        return
      }
      const voucher = decodeSignedVoucher(rec.voucher as Uint8Array)
      const request = decodeSignedSessionRequest(rec.request)
      const deposit = sessionDeposits(this.c.state(), { session: rec.id, payer: rec.payer, provider: this.c.did })[0]
      if (deposit === undefined) {
        this.c.log(`closing settlement of ${rec.id.slice(0, 16)}…: its deposit is closed or gone`)
        return
      }
      await this.#settle(rec.id, request, voucher, deposit.id)
    } catch (e) {
      this.c.log(`closing settlement of ${rec.id.slice(0, 16)}… failed: ${(e as Error).message}`)
    }
  }

  relaySession (session: string, payer: Did): { gate: ProviderSession, target: Did, window: number } {
    const s = this.c.providers.get(session)
    const rec = this.c.records.get(session)
    if (s === undefined || rec === undefined || s.stopped || s.payer !== payer || rec.kind !== 'relay' || rec.target === null) {
      throw new RelayError(RelayRejection.NO_SESSION, 'no running relay session of that id for this payer')
    }
    if (this.c.relayClaimed.has(session)) throw new RelayError(RelayRejection.BUSY, 'this session already has its relay stream')
    this.c.relayClaimed.add(session)
    return { gate: s, target: rec.target, window: relayWindowFor(s.terms.roundSize) }
  }
}
