/**
 * Session persistence (issue 5, "both sides' views … are kept in IndexedDB and survive a
 * reload"): the `SessionsStore` interface, the record it keeps per session and side, and the
 * in-memory implementation. The IndexedDB one (`sessions-idb.ts`) has the same interface; both
 * pass one acceptance suite (test/unit/sessions-store.test.ts).
 *
 * A record holds what is needed to show a session after a reload and to settle it later: the
 * payer's signed request and newest signed voucher (as canonical bytes, so they can be posted
 * in a `session.settle` as they are), the terms, and the counters. Records are validated on
 * the way in and out, so a damaged database shows up as a typed error, not as a crash later.
 * A few small settings (the encrypted hotspot secret) live beside them.
 */
import { AllianceError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'

export const SessionsStoreErrorCode = {
  /** IndexedDB failed (request, transaction or open). */
  STORE: 'ERR_SESSIONS_STORE',
  /** The browser's storage quota is used up. */
  QUOTA: 'ERR_SESSIONS_QUOTA',
  /** The store was closed (or another tab upgraded the database). */
  CLOSED: 'ERR_SESSIONS_CLOSED',
  /** A record that is not a session record (bad input, or a damaged database). */
  BAD_RECORD: 'ERR_SESSIONS_BAD_RECORD'
} as const
export type SessionsStoreErrorCode = typeof SessionsStoreErrorCode[keyof typeof SessionsStoreErrorCode]

export class SessionsStoreError extends AllianceError {
  declare readonly code: SessionsStoreErrorCode
  constructor (code: SessionsStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

export type SessionRole = 'payer' | 'provider'
export type SessionState = 'opening' | 'active' | 'ended'
/**
 * Why a session ended: the machines' reasons (SPEC F7), plus `peer-gone` (the other side's
 * stream closed or went silent), `interrupted` (this tab closed mid-session; found on reopen),
 * `rejected` (the provider refused to open it) and `error`.
 */
export type SessionEndReason =
  | 'no-voucher' | 'completed' | 'budget' | 'stopped-by-payer' | 'stopped-by-provider'
  | 'peer-gone' | 'interrupted' | 'rejected' | 'error'
export const SESSION_END_REASONS: readonly SessionEndReason[] = [
  'no-voucher', 'completed', 'budget', 'stopped-by-payer', 'stopped-by-provider', 'peer-gone', 'interrupted', 'rejected', 'error'
]

export interface StoredSession {
  /** Session id: CID of the payer's signed request. */
  readonly id: string
  readonly role: SessionRole
  readonly kind: string
  readonly offer: string
  readonly rev: number
  readonly title: string
  readonly provider: Did
  readonly payer: Did
  /** Relay sessions: the peer the provider forwards to. */
  readonly target: Did | null
  readonly unit: 'seconds' | 'bytes'
  readonly price: number
  readonly roundSize: number
  readonly trial: number
  /** Rounds bought (payer) or asked for (provider); null = until someone stops. */
  readonly maxRounds: number | null
  /** `encodeSignedSessionRequest` bytes. */
  readonly request: Uint8Array
  readonly state: SessionState
  /** Round being served or received, 1-based; 0 before the first unit. */
  readonly round: number
  /** Units delivered (provider) or received (payer). */
  readonly units: number
  /** Vouchers signed (payer) or accepted (provider). */
  readonly vouchers: number
  /** Newest signed voucher, `encodeSignedVoucher` bytes; null before the first. */
  readonly voucher: Uint8Array | null
  readonly voucherRound: number
  /** Credits the newest voucher commits (cumulative). */
  readonly committed: number
  /** Credits moved on the ledger for this session, as last seen. */
  readonly settled: number
  /** Transaction ids of the settlements posted (provider). */
  readonly settleTxs: readonly string[]
  /** Round of the newest voucher posted in a settlement (provider); 0 = none. */
  readonly settledRound: number
  /** A closing settlement was posted (provider). */
  readonly closePosted: boolean
  /** Vouchers rejected, by code (provider: received; payer: reported back). */
  readonly rejected: Readonly<Record<string, number>>
  /** Hotspot sessions (payer): the credentials envelope, encrypted to the payer's DID. */
  readonly secret: Uint8Array | null
  readonly openedAt: number
  readonly updatedAt: number
  readonly endedAt: number | null
  readonly endReason: SessionEndReason | null
}

export interface SessionsStore {
  /** Inserts or replaces a record (one transaction). */
  put: (session: StoredSession) => Promise<void>
  get: (id: string) => Promise<StoredSession | undefined>
  /** Every record, oldest opened first. */
  list: () => Promise<StoredSession[]>
  delete: (id: string) => Promise<void>
  getSetting: (key: string) => Promise<Uint8Array | undefined>
  putSetting: (key: string, value: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

const MAX_ID = 128
const MAX_TEXT = 256
const MAX_BLOB = 64 * 1024
const MAX_SETTING_KEY = 64
const MAX_SETTLE_TXS = 10_000

const FIELDS = [
  'id', 'role', 'kind', 'offer', 'rev', 'title', 'provider', 'payer', 'target', 'unit', 'price', 'roundSize', 'trial', 'maxRounds',
  'request', 'state', 'round', 'units', 'vouchers', 'voucher', 'voucherRound', 'committed', 'settled', 'settleTxs', 'settledRound',
  'closePosted', 'rejected', 'secret', 'openedAt', 'updatedAt', 'endedAt', 'endReason'
] as const

function bad (message: string): never {
  throw new SessionsStoreError(SessionsStoreErrorCode.BAD_RECORD, `session record: ${message}`)
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max
const isBlob = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.byteLength <= MAX_BLOB

/**
 * Checks a record (from a caller or from the database) and returns a clean copy with only
 * the known fields; throws SessionsStoreError(ERR_SESSIONS_BAD_RECORD).
 */
export function checkStoredSession (value: unknown): StoredSession {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('not an object')
  const r = value as Record<string, unknown>
  for (const k of FIELDS) if (!Object.prototype.hasOwnProperty.call(r, k)) bad(`missing field ${k}`)
  if (!isText(r.id, MAX_ID)) bad('id must be a session id')
  if (r.role !== 'payer' && r.role !== 'provider') bad('role must be payer or provider')
  if (!isText(r.kind, 32)) bad('kind must be a kind name')
  if (!isText(r.offer, MAX_ID)) bad('offer must be an offer id')
  if (!isText(r.title, MAX_TEXT)) bad('title must be text')
  if (!isDid(r.provider) || !isDid(r.payer)) bad('provider and payer must be DIDs')
  if (r.target !== null && !isDid(r.target)) bad('target must be a DID or null')
  if (r.unit !== 'seconds' && r.unit !== 'bytes') bad('unit must be seconds or bytes')
  for (const k of ['rev', 'price', 'roundSize', 'trial', 'round', 'units', 'vouchers', 'voucherRound', 'committed', 'settled', 'settledRound', 'openedAt', 'updatedAt'] as const) {
    if (!isCount(r[k])) bad(`${k} must be a non-negative integer`)
  }
  if (r.maxRounds !== null && !(isCount(r.maxRounds) && r.maxRounds >= 1)) bad('maxRounds must be a positive integer or null')
  if (!isBlob(r.request)) bad('request must be bytes')
  if (r.voucher !== null && !isBlob(r.voucher)) bad('voucher must be bytes or null')
  if (r.secret !== null && !isBlob(r.secret)) bad('secret must be bytes or null')
  if (r.state !== 'opening' && r.state !== 'active' && r.state !== 'ended') bad('state must be opening, active or ended')
  if (!Array.isArray(r.settleTxs) || r.settleTxs.length > MAX_SETTLE_TXS || !r.settleTxs.every((t) => isText(t, 2 * MAX_ID))) bad('settleTxs must be a list of transaction ids')
  if (typeof r.closePosted !== 'boolean') bad('closePosted must be a boolean')
  const rejected: Record<string, number> = {}
  if (r.rejected === null || typeof r.rejected !== 'object' || Array.isArray(r.rejected)) bad('rejected must be a map of counts')
  for (const [code, n] of Object.entries(r.rejected as Record<string, unknown>)) {
    if (!isText(code, 64) || !isCount(n)) bad('rejected must map codes to counts')
    rejected[code] = n
  }
  if (r.endedAt !== null && !isCount(r.endedAt)) bad('endedAt must be a time or null')
  if (r.endReason !== null && !(SESSION_END_REASONS as readonly unknown[]).includes(r.endReason)) bad('endReason is not a known reason')
  return {
    id: r.id,
    role: r.role,
    kind: r.kind,
    offer: r.offer,
    rev: r.rev as number,
    title: r.title,
    provider: r.provider,
    payer: r.payer,
    target: r.target as Did | null,
    unit: r.unit,
    price: r.price as number,
    roundSize: r.roundSize as number,
    trial: r.trial as number,
    maxRounds: r.maxRounds as number | null,
    request: r.request.slice(),
    state: r.state,
    round: r.round as number,
    units: r.units as number,
    vouchers: r.vouchers as number,
    voucher: r.voucher === null ? null : (r.voucher as Uint8Array).slice(),
    voucherRound: r.voucherRound as number,
    committed: r.committed as number,
    settled: r.settled as number,
    settleTxs: [...(r.settleTxs as string[])],
    settledRound: r.settledRound as number,
    closePosted: r.closePosted,
    rejected,
    secret: r.secret === null ? null : (r.secret as Uint8Array).slice(),
    openedAt: r.openedAt as number,
    updatedAt: r.updatedAt as number,
    endedAt: r.endedAt as number | null,
    endReason: r.endReason as SessionEndReason | null
  }
}

export function checkSettingKey (key: unknown): string {
  if (!isText(key, MAX_SETTING_KEY)) throw new SessionsStoreError(SessionsStoreErrorCode.BAD_RECORD, `setting key must be 1..${MAX_SETTING_KEY} characters`)
  return key
}

export function checkSettingValue (value: unknown): Uint8Array {
  if (!isBlob(value)) throw new SessionsStoreError(SessionsStoreErrorCode.BAD_RECORD, `a setting is at most ${MAX_BLOB} bytes`)
  return value.slice()
}

function byOpened (a: StoredSession, b: StoredSession): number {
  return a.openedAt - b.openedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

export function sortSessions (list: StoredSession[]): StoredSession[] {
  return list.sort(byOpened)
}

/** The same interface in memory, for tests and for a peer without IndexedDB. */
export class MemorySessionsStore implements SessionsStore {
  readonly #sessions = new Map<string, StoredSession>()
  readonly #settings = new Map<string, Uint8Array>()
  #closed = false

  #open (): void {
    if (this.#closed) throw new SessionsStoreError(SessionsStoreErrorCode.CLOSED, 'the sessions store is closed')
  }

  async put (session: StoredSession): Promise<void> {
    this.#open()
    const clean = checkStoredSession(session)
    this.#sessions.set(clean.id, clean)
  }

  async get (id: string): Promise<StoredSession | undefined> {
    this.#open()
    const r = this.#sessions.get(id)
    return r === undefined ? undefined : checkStoredSession(r)
  }

  async list (): Promise<StoredSession[]> {
    this.#open()
    return sortSessions([...this.#sessions.values()].map(checkStoredSession))
  }

  async delete (id: string): Promise<void> {
    this.#open()
    this.#sessions.delete(id)
  }

  async getSetting (key: string): Promise<Uint8Array | undefined> {
    this.#open()
    return this.#settings.get(checkSettingKey(key))?.slice()
  }

  async putSetting (key: string, value: Uint8Array): Promise<void> {
    this.#open()
    this.#settings.set(checkSettingKey(key), checkSettingValue(value))
  }

  async close (): Promise<void> {
    this.#closed = true
  }
}
