/**
 * A true history (issue 11): every ledger transaction that changes this peer's balance or
 * concerns it, as a row in words — transfer in/out, session paid/earned with its rounds,
 * deposit locked/returned, admission, ratings, offers — with its amount and status from the
 * moment its block exists (pending included), its block and its confirmations.
 *
 * `mapHistory` is pure: ledger transactions + statuses in, rows out. What each transaction type
 * means is one small table (`HISTORY_RULES`) so new types (the ledger's coming `receive`,
 * `deposit.lock`, `session.settle` by deposit, `deposit.refund`, validator votes) are a line
 * each. `LedgerHistory` feeds it from the public LedgerEngine queries (blockIds, blockInfo,
 * txResult), indexing each block once.
 */
import type { Did } from '../core/identity.ts'
import type { BlockInfo, TxResult } from '../core/ledger/engine.ts'
import type { Tx, TxStatus } from '../core/ledger/types.ts'
import type { HistoryEntry, LedgerApi } from './ledger-api.ts'

export type HistoryKind =
  | 'transfer-out' | 'transfer-in'
  | 'session-paid' | 'session-earned'
  | 'deposit-locked' | 'deposit-returned'
  | 'admission'
  | 'rating-given' | 'rating-received'
  | 'offer-published' | 'offer-updated' | 'offer-withdrawn'
  | 'request-posted' | 'request-withdrawn'
  | 'credential-anchored' | 'credential-revoked'
  | 'other'

/** One transaction as the ledger holds it, with its block's facts. */
export interface HistoryTx {
  readonly txId: string
  readonly blockId: string
  readonly issuer: Did
  readonly time: number
  readonly depth: number
  readonly tx: Tx
  readonly status: TxStatus
  readonly reason?: string
  /** Eligible distinct issuers approving the block (itself included). */
  readonly weight: number
}

export interface HistoryRow {
  readonly txId: string
  readonly blockId: string
  readonly kind: HistoryKind
  /** Signed change of my balance this row stands for (+ in, − out), null when none. */
  readonly amount: number | null
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
}

export interface HistoryContext {
  readonly me: Did
  /** Credits an admission brings (the genesis grant). */
  readonly grant: number
  /** Approvals a block needs (the genesis threshold). */
  readonly threshold: number
}

/** What a rule may know beyond the transaction: earlier settlements of the same session. */
interface RuleState {
  /** Cumulative credits of the newest non-rejected settlement seen per session. */
  readonly settled: Map<string, number>
  /** The two sides of every session seen in a settlement. */
  readonly parties: Map<string, { payer: Did, provider: Did }>
}

type RowPart = Pick<HistoryRow, 'kind' | 'amount' | 'counterparty'> & Partial<Pick<HistoryRow, 'session' | 'rounds' | 'score'>>
type Rule = (t: HistoryTx, ctx: HistoryContext, state: RuleState) => RowPart | null

function rec (v: unknown): Record<string, unknown> {
  return v != null && typeof v === 'object' && !(v instanceof Uint8Array) ? v as Record<string, unknown> : {}
}
const num = (v: unknown): number | null => typeof v === 'number' && Number.isFinite(v) ? v : null
const str = (v: unknown): string | null => typeof v === 'string' ? v : null

const mine = (kind: HistoryKind): Rule => (t, ctx) => t.issuer === ctx.me ? { kind, amount: null, counterparty: null } : null

/**
 * The table: transaction type → what it means for me, or null when it does not concern me.
 * Amounts are what the transaction asks to move; a rejected row says so in its status.
 */
export const HISTORY_RULES: Record<string, Rule> = {
  transfer: (t, ctx) => {
    const to = str(t.tx.to) as Did | null
    const amount = num(t.tx.amount)
    if (t.issuer === ctx.me) return { kind: 'transfer-out', amount: amount != null ? -amount : null, counterparty: to }
    if (to === ctx.me) return { kind: 'transfer-in', amount, counterparty: t.issuer }
    return null
  },
  'member.admit': (t, ctx) => {
    const member = str(t.tx.member) ?? t.issuer
    return member === ctx.me ? { kind: 'admission', amount: ctx.grant, counterparty: null } : null
  },
  'session.settle': (t, ctx, state) => {
    const v = rec(t.tx.voucher)
    const session = str(v.session); const payer = str(v.payer) as Did | null; const provider = str(v.provider) as Did | null
    const cumulative = num(v.cumulative)
    if (session == null || payer == null || provider == null || cumulative == null) return null
    state.parties.set(session, { payer, provider })
    const before = state.settled.get(session) ?? 0
    const moved = Math.max(0, cumulative - before)
    if (t.status !== 'rejected') state.settled.set(session, Math.max(before, cumulative))
    const rounds = num(v.round)
    if (payer === ctx.me) return { kind: 'session-paid', amount: -moved, counterparty: provider, session, rounds }
    if (provider === ctx.me) return { kind: 'session-earned', amount: moved, counterparty: payer, session, rounds }
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
 * Rows for `me`, newest first. `txs` may come in any order: they are replayed oldest first
 * (time, depth, id) so that a settlement's amount is what it adds to the session's earlier ones.
 */
export function mapHistory (txs: readonly HistoryTx[], ctx: HistoryContext, limit = 100): HistoryRow[] {
  const ordered = [...txs].sort((a, b) => a.time - b.time || a.depth - b.depth || (a.txId < b.txId ? -1 : a.txId > b.txId ? 1 : 0))
  const state: RuleState = { settled: new Map(), parties: new Map() }
  const rows: HistoryRow[] = []
  // Ratings may name a session whose settlement comes later in this order: settle first.
  for (const pass of ['session.settle', 'rest'] as const) {
    for (const t of ordered) {
      if ((pass === 'session.settle') !== (t.tx.type === 'session.settle')) continue
      const rule = HISTORY_RULES[t.tx.type]
      const part = rule != null ? rule(t, ctx, state) : (t.issuer === ctx.me ? { kind: 'other' as const, amount: null, counterparty: null } : null)
      if (part == null) continue
      rows.push({
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
        ...part
      })
    }
  }
  return rows.sort((a, b) => b.time - a.time || (a.txId < b.txId ? 1 : -1)).slice(0, limit)
}

/** Words for a row: "Sent to Bob", "Paid Alice for 3 rounds", … (`name` gives the names). */
export function describeRow (row: HistoryRow, name: (did: Did) => string): string {
  const who = row.counterparty != null ? name(row.counterparty) : 'someone'
  const rounds = row.rounds != null ? ` (${row.rounds} round${row.rounds === 1 ? '' : 's'})` : ''
  switch (row.kind) {
    case 'transfer-out': return `Sent to ${who}`
    case 'transfer-in': return `Received from ${who}`
    case 'session-paid': return `Paid ${who} for a session${rounds}`
    case 'session-earned': return `Earned from ${who}'s session${rounds}`
    case 'deposit-locked': return `Deposit locked for ${who}'s session`
    case 'deposit-returned': return `Deposit returned from ${who}'s session`
    case 'admission': return 'Joined the alliance (welcome credits)'
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

/** The public LedgerEngine queries the history needs (LedgerEngine has them). */
export interface LedgerTxSource {
  blockIds: () => readonly string[]
  blockInfo: (id: string) => BlockInfo | undefined
  txResult: (txId: string) => TxResult | undefined
}

const INDEXED_TYPES = new Set(['session.settle', 'rate'])

/**
 * Rows from a live engine. Each block is looked at once (blocks do not change); statuses,
 * weights and amounts are read fresh on every call.
 */
export class LedgerHistory {
  private readonly seen = new Set<string>()
  private readonly relevant: Array<{ blockId: string, index: number }> = []
  private scanned = 0

  constructor (private readonly source: LedgerTxSource, private readonly ctx: HistoryContext) {}

  private index (): void {
    const ids = this.source.blockIds()
    // blockIds() is in insertion order and only grows; a shorter list means a reload.
    if (ids.length < this.scanned) { this.seen.clear(); this.relevant.length = 0; this.scanned = 0 }
    for (let i = this.scanned; i < ids.length; i++) {
      const id = ids[i]
      if (this.seen.has(id)) continue
      this.seen.add(id)
      const b = this.source.blockInfo(id)
      if (b == null || b.issuer == null) continue
      b.txs.forEach((tx, index) => {
        // Mine, naming me in a top-level field (to, member, payer…), or a type whose meaning
        // depends on other transactions (settlements and ratings).
        if (b.issuer === this.ctx.me || INDEXED_TYPES.has(tx.type) || Object.values(tx).some((v) => v === this.ctx.me)) {
          this.relevant.push({ blockId: id, index })
        }
      })
    }
    this.scanned = ids.length
  }

  rows (limit = 100): HistoryRow[] {
    this.index()
    const txs: HistoryTx[] = []
    for (const { blockId, index } of this.relevant) {
      const b = this.source.blockInfo(blockId)
      if (b == null || b.issuer == null) continue
      const txId = `${blockId}/${index}`
      const r = this.source.txResult(txId)
      txs.push({ txId, blockId, issuer: b.issuer, time: b.time, depth: b.depth, tx: b.txs[index], status: r?.status ?? b.status, ...(r?.reason != null ? { reason: r.reason } : {}), weight: b.weight })
    }
    return mapHistory(txs, this.ctx, limit)
  }
}

/** Rows from the ledger API's own (narrower) history, when no engine is at hand. */
export function rowsFromEntries (entries: readonly HistoryEntry[], ctx: HistoryContext, limit = 100): HistoryRow[] {
  const txs = entries.map((h): HistoryTx => ({
    txId: h.txId,
    blockId: h.txId.split('/')[0],
    issuer: h.from,
    time: h.time,
    depth: 0,
    tx: { type: h.type, ...(h.to != null ? { to: h.to } : {}), ...(h.amount != null ? { amount: h.amount } : {}) },
    status: h.status,
    ...(h.reason != null ? { reason: h.reason } : {}),
    weight: h.status === 'confirmed' ? ctx.threshold : 0
  }))
  return mapHistory(txs, ctx, limit)
}

/** The ledger's engine if the API object exposes one (the LedgerService does). */
export function txSourceOf (ledger: LedgerApi): LedgerTxSource | null {
  const engine = (ledger as unknown as { engine?: Partial<LedgerTxSource> }).engine
  return engine != null && typeof engine.blockIds === 'function' && typeof engine.blockInfo === 'function' && typeof engine.txResult === 'function'
    ? engine as LedgerTxSource
    : null
}

const feeds = new WeakMap<LedgerApi, LedgerHistory | null>()

/**
 * This peer's history rows from whatever the ledger API offers: the engine's blocks when it
 * exposes them (both sides of every session), else the API's own entries. One feed per ledger.
 */
export function historyRows (ledger: LedgerApi, me: Did, limit = 100): HistoryRow[] {
  const engine = (ledger as unknown as { engine?: { quorum?: number } }).engine
  // joining gives no credits (L27): an admission moves nothing
  const ctx: HistoryContext = { me, grant: 0, threshold: engine?.quorum ?? 1 }
  let feed = feeds.get(ledger)
  if (feed === undefined) {
    const source = txSourceOf(ledger)
    feed = source != null ? new LedgerHistory(source, ctx) : null
    feeds.set(ledger, feed)
  }
  return feed != null ? feed.rows(limit) : rowsFromEntries(ledger.history(limit), ctx, limit)
}
