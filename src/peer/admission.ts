/**
 * Getting into the alliance, and letting others in (SPEC A1–A5, L27, L39), for one peer.
 * - A peer that is not a member gossips a join request on the alliance's admission topic
 *   (with its invitation token, if it came by invitation) until validators' admissions of it
 *   confirm, then issues its first block: the `member.join` naming them.
 * - A validator admits, in one block per tick, the requesters holding its own unexpired
 *   invitation (or everyone, when its owner runs an open desk, like the demo operator), and
 *   keeps the others for its owner to admit or decline. A request changes nothing on the
 *   ledger by itself; malformed ones are counted against their sender.
 */
import type { Did } from '../core/identity.ts'
import { checkToken, createInvitation, decodeJoinRequest, encodeJoinRequest, invitationToText, InvitationError } from '../core/invitation.ts'
import type { InvitationToken, JoinRequest } from '../core/invitation.ts'
import type { BlockId, LedgerContext, LedgerEngine, Tx } from '../core/ledger/index.ts'
import { toHex } from '../core/bytes.ts'
import { checkMembershipCredential } from '../core/ledger/membership-credential.ts'
import { chainForNewMember } from './alliance.ts'

export function admissionTopic (ctx: LedgerContext): string {
  return `alliance/${ctx.allianceId}/admission/1`
}

/** What the UI says while a peer is not a member yet. */
export type AdmissionState =
  | { readonly kind: 'member', readonly chain: string }
  | { readonly kind: 'validator', readonly chain: string }
  /** Asking; `admitted` of `needed` validators' admissions confirmed so far. */
  | { readonly kind: 'waiting', readonly admitted: number, readonly needed: number, readonly pending: number, readonly validators: number }
  /** Admitted: its join block is being made or confirmed. */
  | { readonly kind: 'joining' }
  /** A credential alliance (L51): waiting for a membership credential from one of `issuers`. */
  | { readonly kind: 'needs-credential', readonly issuers: readonly Did[] }

export interface JoinRequestView {
  readonly did: Did
  readonly chain: string
  readonly name: string
  readonly invited: boolean
  readonly at: number
}

export interface AdmissionPorts {
  readonly ctx: LedgerContext
  readonly engine: LedgerEngine
  readonly did: Did
  readonly now: () => number
  readonly seed: () => Uint8Array
  readonly submit: (txs: Tx[]) => Promise<BlockId>
  readonly publish: ((topic: string, data: Uint8Array) => Promise<number>) | null
  readonly random: () => number
  readonly log?: (line: string) => void
  /** The invitation this peer came with. */
  readonly token: InvitationToken | null
  /** Admit every requester (an operator's open desk, e.g. the demo's). */
  readonly openDesk: boolean
  /**
   * Credits this validator pays each member it admits, out of its own balance (a grant an
   * admission carries: issue 8 allows it, supply is unchanged). 0: none.
   */
  readonly welcome: number
  readonly name: string
  /** The credential JWTs the wallet holds (L51). */
  readonly credentials: () => Promise<readonly string[]>
}

/** Requests kept at most for the owner to decide (oldest dropped): bounds what strangers cost. */
const MAX_REQUESTS = 256
/** A join request is gossiped again this often while no admission has come. */
const REQUEST_EVERY_MS = 4000

export class AdmissionDesk {
  private readonly requests = new Map<Did, JoinRequestView>()
  private readonly toAdmit = new Map<Did, string>()
  private lastRequest = 0
  private joining: Promise<unknown> | null = null
  private admitting: Promise<unknown> | null = null

  constructor (private readonly p: AdmissionPorts) {}

  get isValidator (): boolean { return this.p.engine.isValidator(this.p.did) }

  state (): AdmissionState {
    const e = this.p.engine
    const m = e.member(this.p.did)
    if (this.isValidator && m != null) return { kind: 'validator', chain: m.chain }
    if (m != null) return { kind: 'member', chain: m.chain }
    if (this.joining != null || e.pendingOf(this.p.did).length > 0) return { kind: 'joining' }
    if (this.p.ctx.genesis.admission === 'credential') return { kind: 'needs-credential', issuers: this.p.ctx.genesis.credentialIssuers ?? [] }
    const admissions = e.admissionsOf(this.p.did)
    const confirmed = new Set(admissions.filter(a => a.status === 'confirmed').map(a => a.validator))
    const pending = admissions.filter(a => a.status === 'pending').length
    return { kind: 'waiting', admitted: confirmed.size, needed: this.p.ctx.genesis.admitVotes, pending, validators: e.validators().length }
  }

  /** Requests waiting for this validator's owner, newest first. */
  pendingRequests (): JoinRequestView[] {
    return [...this.requests.values()].filter(r => this.p.engine.member(r.did) == null && !this.hasMyAdmission(r.did)).sort((a, b) => b.at - a.at)
  }

  /** Called by the gossip handler; throws InvitationError on a malformed request (the caller reports the sender). */
  onRequest (data: Uint8Array, from: Did): void {
    const req = decodeJoinRequest(data)
    if (!this.isValidator || req.alliance !== this.p.ctx.allianceId) return
    if (!this.p.ctx.genesis.chains.includes(req.chain)) throw new InvitationError('ERR_BAD_INVITATION', 'a join request for an unknown chain')
    if (this.p.engine.member(from) != null || this.p.engine.isValidator(from) || this.hasMyAdmission(from)) return
    let invited = false
    if (req.token != null && req.token.inviter === this.p.did) {
      checkToken(req.token, this.p.ctx.genesis, this.p.now(), this.p.engine.validators())
      invited = true
    }
    if (invited || this.p.openDesk) {
      this.toAdmit.set(from, req.chain)
      return
    }
    this.requests.delete(from)
    this.requests.set(from, { did: from, chain: req.chain, name: req.name, invited, at: this.p.now() })
    while (this.requests.size > MAX_REQUESTS) this.requests.delete(this.requests.keys().next().value as Did)
  }

  /** The owner admits a requester (or any DID, e.g. from a QR code). */
  async admit (did: Did, chain?: string): Promise<string> {
    if (!this.isValidator) throw new InvitationError('ERR_INVITER_NOT_VALIDATOR', 'only a validator admits members')
    const c = chain ?? this.requests.get(did)?.chain ?? chainForNewMember(this.p.ctx, did)
    this.requests.delete(did)
    const id = await this.p.submit([{ type: 'member.admit', member: did, chain: c }])
    return `${id}/0`
  }

  decline (did: Did): void {
    this.requests.delete(did)
  }

  /** A signed invitation of this validator, as text for a link or a QR code. */
  invite (opts: { validForMs: number, relays: readonly string[], from?: string }): string {
    if (!this.isValidator) throw new InvitationError('ERR_INVITER_NOT_VALIDATOR', 'only a validator invites')
    const nonce = toHex(Uint8Array.from({ length: 8 }, () => Math.floor(this.p.random() * 256)))
    return invitationToText(createInvitation({ genesis: this.p.ctx.genesis, seed: this.p.seed(), expires: this.p.now() + opts.validForMs, nonce, relays: opts.relays, from: opts.from ?? this.p.name }))
  }

  /** One step, from the service's witness tick. Returns true when it issued or asked something. */
  tick (): boolean {
    if (this.isValidator) return this.admitQueued()
    if (this.p.engine.member(this.p.did) != null || this.joining != null) return false
    if (this.p.ctx.genesis.admission === 'credential') return this.joinByCredential()
    const join = this.joinTx()
    if (join != null) {
      this.joining = this.p.submit([join])
        .catch((err: unknown) => { this.p.log?.(`join failed: ${(err as Error).message}`) })
        .finally(() => { this.joining = null })
      return true
    }
    if (this.p.engine.pendingOf(this.p.did).length > 0) return false
    const now = this.p.now()
    if (this.p.publish == null || now - this.lastRequest < REQUEST_EVERY_MS) return false
    this.lastRequest = now
    const req: JoinRequest = { v: 1, alliance: this.p.ctx.allianceId, chain: chainForNewMember(this.p.ctx, this.p.did), name: this.p.name, token: this.p.token }
    this.p.publish(admissionTopic(this.p.ctx), encodeJoinRequest(req)).catch((err: unknown) => { this.p.log?.(`join request not sent: ${(err as Error).message}`) })
    return true
  }

  /**
   * L51: in a credential alliance, join with the first credential the wallet holds that admits
   * this peer now (checked as every peer will check it); nothing is sent without one.
   */
  private joinByCredential (): boolean {
    if (this.p.engine.pendingOf(this.p.did).length > 0) return false
    const chain = chainForNewMember(this.p.ctx, this.p.did)
    this.joining = this.p.credentials().then(async (jwts) => {
      const now = this.p.now()
      const jwt = jwts.find((j) => {
        try { checkMembershipCredential(j, this.p.ctx.genesis, this.p.did, chain, now); return true } catch { return false }
      })
      if (jwt != null) await this.p.submit([{ type: 'member.join', admits: [], credential: jwt }])
    }).catch((err: unknown) => { this.p.log?.(`join by credential failed: ${(err as Error).message}`) })
      .finally(() => { this.joining = null })
    return false
  }

  /** The join, once enough validators' admissions to one chain are confirmed. */
  private joinTx (): Tx | null {
    const byChain = new Map<string, Map<Did, string>>()
    for (const a of this.p.engine.admissionsOf(this.p.did)) {
      if (a.status !== 'confirmed') continue
      const m = byChain.get(a.chain) ?? new Map<Did, string>()
      if (!m.has(a.validator)) m.set(a.validator, a.txId)
      byChain.set(a.chain, m)
    }
    for (const m of byChain.values()) {
      if (m.size >= this.p.ctx.genesis.admitVotes) return { type: 'member.join', admits: [...m.values()].slice(0, this.p.ctx.genesis.admitVotes) }
    }
    return null
  }

  private hasMyAdmission (did: Did): boolean {
    return this.p.engine.admissionsOf(did).some(a => a.validator === this.p.did && a.status !== 'rejected')
  }

  private admitQueued (): boolean {
    if (this.admitting != null || this.toAdmit.size === 0) return false
    const batch = [...this.toAdmit].slice(0, 32)
    for (const [member] of batch) this.toAdmit.delete(member)
    const txs: Tx[] = batch.map(([member, chain]) => ({ type: 'member.admit', member, chain }))
    // the welcome credits ride in the same block, while the balance lasts (a claim the member receives)
    let left = this.p.engine.balance(this.p.did)
    for (const [member, chain] of batch) {
      if (this.p.welcome <= 0 || left < this.p.welcome) break
      left -= this.p.welcome
      txs.push({ type: 'transfer', to: member, amount: this.p.welcome, toChain: chain })
    }
    this.admitting = this.p.submit(txs)
      .catch((err: unknown) => { this.p.log?.(`admissions failed: ${(err as Error).message}`) })
      .finally(() => { this.admitting = null })
    return true
  }
}
