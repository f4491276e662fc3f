/**
 * A true history (issue 11): every ledger transaction that changes this peer's balance or
 * concerns it, as a row in words — transfer in/out, credits received (with the payer's name),
 * session paid/earned with its rounds, deposit locked/returned, admission, ratings, offers —
 * with its amount and status from the moment its block exists (pending included), its block
 * and its confirmations (SPEC U7).
 *
 * This is the one mapper: the ledger service only keeps the raw entries that concern this
 * peer (`concernsMe` says which) and hands them over with fresh statuses; `mapHistory` is pure
 * (entries + a claim lookup in, rows out). What each transaction type means is one small table
 * (`HISTORY_RULES`), a line or a few per type.
 *
 * Amounts are changes of my balance, so that the confirmed rows add up to it: a payment to me
 * counts once, when my wallet receives it (`receive`); until then the payer's transfer shows
 * as incoming. A session's payment is drawn from the deposit locked for it: the payer's row
 * shows what it paid (the same amount as the provider's row) marked `fromDeposit`, since the
 * balance moved when the deposit was locked and moves back by what is returned.
 */
import type { Did } from '../core/identity.ts'
import type { ClaimRecord } from '../core/ledger/tx.ts'
import type { Tx, TxStatus } from '../core/ledger/types.ts'
import type { LedgerApi, LedgerTxEntry } from './ledger-api.ts'

export type HistoryKind =
  | 'transfer-out' | 'transfer-in'
  | 'session-paid' | 'session-earned'
  | 'deposit-locked' | 'deposit-returned'
  | 'admission' | 'joined' | 'admitted'
  | 'rating-given' | 'rating-received'
  | 'offer-published' | 'offer-updated' | 'offer-withdrawn'
  | 'request-posted' | 'request-withdrawn'
  | 'credential-anchored' | 'credential-revoked'
  | 'other'

/** One transaction as the ledger holds it, with its block's facts (the ledger's raw entry). */
export type HistoryTx = LedgerTxEntry

export interface HistoryRow {
  /** Unique per row (a `receive` of several payments makes one row each). */
  readonly id: string
  readonly txId: string
  readonly blockId: string
  readonly kind: HistoryKind
  /** Signed change of my balance this row stands for (+ in, − out), null when none. */
  readonly amount: number | null
  /** The amount came out of a deposit locked earlier (the balance moved then, not now). */
  readonly fromDeposit: boolean
  /**
   * 'incoming': paid to me and confirmed on the payer's side, not in my balance until my
   * wallet receives it (the row stays pending until then).
   */
  readonly stage: 'incoming' | null
  readonly counterparty: Did | null
  readonly status: TxStatus
  readonly reason: string | null
  readonly time: number
  /** Approvals so far and approvals needed to confirm. */
  readonly confirmations: number
  readonly needed: number
  readonly session: string | null
  readonly rounds: number | null
  /** Rating score (1–5) for rating rows. */
  readonly score: number | null
  readonly type: string
  /** For a payment received: the transaction that paid it. */
  readonly paidBy: string | null
}

export interface HistoryContext {
  readonly me: Did
  /** Credits an admission brings (the genesis grant; 0 since joining gives none, L27). */
  readonly grant: number
  /** Approvals a block needs (the genesis threshold). */
  readonly threshold: number
  /** A claim (credits left for someone by a confirmed transaction), by key, when known. */
  readonly claim?: (key: string) => ClaimRecord | undefined
}

/** What a rule may know beyond the transaction. */
interface RuleState {
  /** Credits the non-rejected settlements seen so far moved, per session. */
  readonly settled: Map<string, number>
  /** The two sides of every session seen in a settlement. */
  readonly parties: Map<string, { payer: Did, provider: Did }>
  /** Every entry by txId (a refund or settlement reads its deposit's lock). */
  readonly byId: Map<string, HistoryTx>
  /** Claim keys my non-rejected `receive`s take. */
  readonly received: Set<string>
  /** One of my `member.join`s is not rejected (a retried join then shows once). */
  joined: boolean
}

type RowPart = Pick<HistoryRow, 'kind' | 'amount' | 'counterparty'> & Partial<Pick<HistoryRow, 'session' | 'rounds' | 'score' | 'fromDeposit' | 'stage' | 'status' | 'paidBy'>>
type Rule = (t: HistoryTx, ctx: HistoryContext, state: RuleState) => RowPart | readonly RowPart[] | null

function rec (v: unknown): Record<string, unknown> {
  return v != null && typeof v === 'object' && !(v instanceof Uint8Array) ? v as Record<string, unknown> : {}
}
const num = (v: unknown): number | null => typeof v === 'number' && Number.isFinite(v) ? v : null
const str = (v: unknown): string | null => typeof v === 'string' ? v : null
const did = (v: unknown): Did | null => str(v) as Did | null

const mine = (kind: HistoryKind): Rule => (t, ctx) => t.issuer === ctx.me ? { kind, amount: null, counterparty: null } : null

/** The paying transaction of a claim key (`txId` or `txId:n`). */
const claimTxId = (key: string): string => key.includes(':') ? key.slice(0, key.lastIndexOf(':')) : key

/** The claim `key` as the state has it, or as the paying transfer says (before it is applied here). */
function claimFor (key: string, ctx: HistoryContext, state: RuleState): ClaimRecord | null {
  const c = ctx.claim?.(key)
  if (c != null) return c
  const paying = state.byId.get(key)
  if (paying?.tx.type === 'transfer') {
    const amount = num(paying.tx.amount)
    const to = did(paying.tx.to)
    if (amount != null && to != null) return { from: paying.issuer, to, toChain: '', amount, kind: 'transfer' }
  }
  return null
}

/** One received claim in words: a transfer in, a share of a session, or a deposit's remainder. */
function receivedPart (key: string, ctx: HistoryContext, state: RuleState): RowPart {
  const c = claimFor(key, ctx, state)
  const paidBy = claimTxId(key)
  if (c == null) return { kind: 'transfer-in', amount: null, counterparty: null, paidBy }
  if (c.kind === 'refund') {
    const v = rec(state.byId.get(paidBy)?.tx.voucher)
    return { kind: 'deposit-returned', amount: c.amount, counterparty: did(v.provider), session: str(v.session), paidBy }
  }
  if (c.kind === 'settle') return { kind: 'session-earned', amount: c.amount, counterparty: c.from, paidBy }
  return { kind: 'transfer-in', amount: c.amount, counterparty: c.from, paidBy }
}

/**
 * The table: transaction type → what it means for me, or null when it does not concern me.
 * Amounts are what the transaction moves (exact once confirmed, what it asks before); a
 * rejected row says so in its status.
 */
export const HISTORY_RULES: Record<string, Rule> = {
  transfer: (t, ctx, state) => {
    const to = did(t.tx.to)
    const amount = num(t.tx.amount)
    if (t.issuer === ctx.me) return { kind: 'transfer-out', amount: amount != null ? -amount : null, counterparty: to }
    if (to !== ctx.me || state.received.has(t.txId)) return null // once received, the receive row stands for it
    // in my balance only once received: pending until then, even when the payer's side confirmed
    return { kind: 'transfer-in', amount, counterparty: t.issuer, paidBy: t.txId, ...(t.status === 'confirmed' ? { status: 'pending' as const, stage: 'incoming' as const } : {}) }
  },
  receive: (t, ctx, state) => {
    if (t.issuer !== ctx.me) return null
    const keys = Array.isArray(t.tx.claims) ? t.tx.claims.filter((k): k is string => typeof k === 'string') : []
    return keys.map((k) => receivedPart(k, ctx, state))
  },
  'deposit.lock': (t, ctx) => {
    if (t.issuer !== ctx.me) return null
    const amount = num(t.tx.amount)
    return { kind: 'deposit-locked', amount: amount != null ? -amount : null, counterparty: did(t.tx.provider), session: str(t.tx.ref) }
  },
  'deposit.refund': (t, ctx, state) => {
    if (t.issuer !== ctx.me) return null
    const lock = state.byId.get(str(t.tx.deposit) ?? '')
    return { kind: 'deposit-returned', amount: num(lock?.tx.amount), counterparty: did(lock?.tx.provider), session: str(lock?.tx.ref) }
  },
  'member.join': (t, ctx, state) => t.issuer !== ctx.me || (t.status === 'rejected' && state.joined) ? null : { kind: 'joined', amount: null, counterparty: null },
  'member.admit': (t, ctx) => {
    const member = did(t.tx.member) ?? t.issuer
    if (member === ctx.me) return { kind: 'admission', amount: ctx.grant !== 0 ? ctx.grant : null, counterparty: t.issuer }
    return t.issuer === ctx.me ? { kind: 'admitted', amount: null, counterparty: member } : null
  },
  'session.settle': (t, ctx, state) => {
    const v = rec(t.tx.voucher)
    const session = str(v.session); const payer = did(v.payer); const provider = did(v.provider)
    const cumulative = num(v.cumulative)
    if (session == null || payer == null || provider == null || cumulative == null) return null
    state.parties.set(session, { payer, provider })
    const before = state.settled.get(session) ?? 0
    const deposit = num(state.byId.get(str(t.tx.deposit) ?? '')?.tx.amount)
    // before it confirms: what the voucher adds, at most the deposit (C4)
    let paid = Math.max(0, cumulative - before)
    if (deposit != null) paid = Math.min(paid, deposit)
    let toOthers = 0
    if (t.status === 'confirmed' && deposit != null && ctx.claim != null) {
      // confirmed: exactly the deposit less its returned remainder; shares of other holders are claims
      let refund = 0
      for (let n = 0; n < 64; n++) {
        const c = ctx.claim(`${t.txId}:${n}`)
        if (c == null) break
        if (c.kind === 'refund') refund += c.amount; else toOthers += c.amount
      }
      paid = deposit - refund
    }
    if (t.status !== 'rejected') state.settled.set(session, before + paid)
    const rounds = num(v.round)
    if (payer === ctx.me) return { kind: 'session-paid', amount: -paid, fromDeposit: true, counterparty: provider, session, rounds }
    if (provider === ctx.me) return { kind: 'session-earned', amount: paid - toOthers, counterparty: payer, session, rounds }
    return null
  },
  rate: (t, ctx, state) => {
    const session = str(t.tx.session)
    const score = num(t.tx.score)
    const sides = session != null ? state.parties.get(session) : undefined
    if (t.issuer === ctx.me) {
      const other = sides == null ? null : sides.payer === ctx.me ? sides.provider : sides.payer
      return { kind: 'rating-given', amount: null, counterparty: other, session, score }
    }
    if (sides != null && (sides.payer === ctx.me || sides.provider === ctx.me)) return { kind: 'rating-received', amount: null, counterparty: t.issuer, session, score }
    return null
  },
  'offer.publish': mine('offer-published'),
  'offer.update': mine('offer-updated'),
  'offer.withdraw': mine('offer-withdrawn'),
  'request.publish': mine('request-posted'),
  'request.withdraw': mine('request-withdrawn'),
  'credential.anchor': mine('credential-anchored'),
  'credential.revoke': mine('credential-revoked')
}

/** Adds or replaces the meaning of a transaction type (new ledger types). */
export function registerHistoryRule (type: string, rule: Rule): void {
  HISTORY_RULES[type] = rule
}

/**
 * Whether a transaction belongs in `me`'s history (what the ledger service keeps): mine,
 * naming me in a top-level field (to, member, provider…), a settlement of a session of mine
 * (the payer is inside the voucher), or a rating of one (`mySessions`, filled here from the
 * settlements seen, which a rating always comes after: it depends on one, R3).
 */
export function concernsMe (issuer: Did, tx: Tx, me: Did, mySessions: Set<string>): boolean {
  if (tx.type === 'session.settle') {
    const v = rec(tx.voucher)
    const session = str(v.session)
    if (v.payer !== me && v.provider !== me) return false
    if (session != null) mySessions.add(session)
    return true
  }
  if (issuer === me) return true
  if (tx.type === 'rate') return mySessions.has(str(tx.session) ?? '')
  return Object.values(tx).some((v) => v === me)
}

/**
 * Rows for `me`, newest first. `txs` may come in any order: they are replayed oldest first
 * (time, depth, id) so that a settlement's amount is what it adds to the session's earlier ones.
 */
export function mapHistory (txs: readonly HistoryTx[], ctx: HistoryContext, limit = 100): HistoryRow[] {
  const ordered = [...txs].sort((a, b) => a.time - b.time || a.depth - b.depth || (a.txId < b.txId ? -1 : a.txId > b.txId ? 1 : 0))
  const state: RuleState = { settled: new Map(), parties: new Map(), byId: new Map(), received: new Set(), joined: false }
  for (const t of ordered) {
    state.byId.set(t.txId, t)
    if (t.tx.type === 'member.join' && t.issuer === ctx.me && t.status !== 'rejected') state.joined = true
    if (t.tx.type === 'receive' && t.issuer === ctx.me && t.status !== 'rejected' && Array.isArray(t.tx.claims)) {
      for (const k of t.tx.claims) if (typeof k === 'string') state.received.add(k)
    }
  }
  const rows: HistoryRow[] = []
  // Ratings may name a session whose settlement comes later in this order: settle first.
  for (const pass of ['session.settle', 'rest'] as const) {
    for (const t of ordered) {
      if ((pass === 'session.settle') !== (t.tx.type === 'session.settle')) continue
      const rule = HISTORY_RULES[t.tx.type]
      const out = rule != null ? rule(t, ctx, state) : (t.issuer === ctx.me ? { kind: 'other' as const, amount: null, counterparty: null } : null)
      if (out == null) continue
      const parts: readonly RowPart[] = Array.isArray(out) ? out : [out as RowPart]
      parts.forEach((part, i) => {
        rows.push({
          id: parts.length > 1 ? `${t.txId}#${i}` : t.txId,
          txId: t.txId,
          blockId: t.blockId,
          type: t.tx.type,
          status: t.status,
          reason: t.reason ?? null,
          time: t.time,
          confirmations: Math.min(t.weight, ctx.threshold),
          needed: ctx.threshold,
          session: null,
          rounds: null,
          score: null,
          fromDeposit: false,
          stage: null,
          paidBy: null,
          ...part
        })
      })
    }
  }
  return rows.sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1)).slice(0, limit)
}

/** Words for a row: "Sent to Bob", "Paid Alice for 3 rounds", … (`name` gives the names). */
export function describeRow (row: HistoryRow, name: (did: Did) => string): string {
  const who = row.counterparty != null ? name(row.counterparty) : 'someone'
  const rounds = row.rounds != null ? ` (${row.rounds} round${row.rounds === 1 ? '' : 's'})` : ''
  switch (row.kind) {
    case 'transfer-out': return `Sent to ${who}`
    case 'transfer-in': return row.stage === 'incoming' || row.paidBy === row.txId ? `Incoming from ${who}` : `Received from ${who}`
    case 'session-paid': return `Paid ${who} for a session${rounds}`
    case 'session-earned': return `Earned from ${who}'s session${rounds}`
    case 'deposit-locked': return `Deposit locked for a session with ${who}`
    case 'deposit-returned': return `Deposit returned from the session with ${who}`
    case 'admission': return row.counterparty != null ? `Admitted to the alliance by ${who}` : 'Admitted to the alliance'
    case 'joined': return 'Joined the alliance'
    case 'admitted': return `Admitted ${who} to the alliance`
    case 'rating-given': return `Rated ${who} ${row.score ?? ''}★`.trim()
    case 'rating-received': return `${who} rated you ${row.score ?? ''}★`.trim()
    case 'offer-published': return 'Published an offer'
    case 'offer-updated': return 'Updated an offer'
    case 'offer-withdrawn': return 'Withdrew an offer'
    case 'request-posted': return 'Posted a request'
    case 'request-withdrawn': return 'Withdrew a request'
    case 'credential-anchored': return 'Anchored a credential'
    case 'credential-revoked': return 'Revoked a credential'
    default: return `Ledger entry (${row.type})`
  }
}

/**
 * This peer's history rows from its ledger: the raw entries the ledger keeps for it (fresh
 * statuses and weights) and its claims (exact amounts of confirmed payments).
 */
export function historyRows (ledger: LedgerApi, me: Did, limit = 100): HistoryRow[] {
  // joining gives no credits (L27): an admission moves nothing
  const ctx: HistoryContext = { me, grant: 0, threshold: ledger.quorum(), claim: (key) => ledger.claim(key) }
  return mapHistory(ledger.historyEntries(), ctx, limit)
}
