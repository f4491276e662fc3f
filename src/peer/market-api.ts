/**
 * What the UI and the facade may ask of this peer's market (issue 5): publish and withdraw
 * offers, find them (kind, distance, price, reputation), post requests, buy sessions and watch
 * both sides of them, set the hotspot credentials, read reputations. `MarketService`
 * implements it; keeping it here, small and free of libp2p/idb types, lets the UI be written
 * and tested against it alone.
 */
import type { Did } from '../core/identity.ts'
import type { Reputation } from '../core/contracts/reputation.ts'
import type { RefundRule, Share, MayBuy } from '../core/contracts/policy.ts'
import type { OfferQuery } from '../core/market/registry.ts'
import type { RoundUnit } from '../core/session/terms.ts'
import type { SessionEndReason, SessionRole, SessionState } from '../store/sessions.ts'
import type { HotspotCredentials, HotspotSecret, WifiSecurity } from '../net/session-hotspot.ts'
import type { RelayChannel, RelayedStream } from '../net/relay-service.ts'

export type { HotspotCredentials, HotspotSecret, WifiSecurity, RelayChannel, RelayedStream, SessionEndReason, SessionRole, SessionState }

/** An offer as a provider fills it in; missing fields take the defaults noted. */
export interface OfferInput {
  readonly kind: string
  readonly title: string
  /** Credits per round. */
  readonly price: number
  /** Units per round; `unit` defaults to the kind's (hotspot: seconds, relay: bytes). */
  readonly round: { readonly size: number, readonly unit?: RoundUnit }
  /** Free slice at the start of every round, in the round's unit. */
  readonly trial: number
  /** Concurrent users; default 1. */
  readonly capacity?: number
  readonly geohash?: string
  /** ms since the epoch; default 30 days from now. */
  readonly expiresAt?: number
  /** Default: anyone may buy, all income to the provider, no refunds. */
  readonly policy?: {
    readonly mayBuy?: MayBuy
    readonly shares?: readonly Share[]
    readonly refund?: RefundRule
  }
  /** Default: random. */
  readonly nonce?: number
}

/** The registry's query (kind, distance, price, reputation, provider, order, limit), plus: */
export interface OfferQueryInput extends OfferQuery {
  /** Include this peer's own offers (default true). */
  readonly includeOwn?: boolean
}

export interface OfferView {
  readonly id: string
  readonly provider: Did
  readonly kind: string
  readonly title: string
  readonly price: number
  readonly round: { readonly unit: RoundUnit, readonly size: number }
  readonly trial: number
  readonly capacity: number
  readonly geohash: string | null
  readonly expiresAt: number
  readonly rev: number
  readonly publishedAt: number
  readonly mayBuy: MayBuy
  readonly shares: readonly Share[]
  readonly refund: RefundRule
  /** Provider's reputation score (SPEC R2), 0..1. */
  readonly reputation: number
  /** Metres from `near`; null without `near` or without a location. */
  readonly distanceMeters: number | null
  readonly mine: boolean
  /** Sessions this peer serves on it now (own offers). */
  readonly activeSessions: number
}

export interface RequestInput {
  readonly kind: string
  /** A DID for relays ("relay to X"), free text otherwise. */
  readonly target: string
  readonly maxCredits: number
  readonly expiresAt?: number
  readonly title?: string
  readonly geohash?: string
  readonly nonce?: number
}

export interface RequestView {
  readonly id: string
  readonly issuer: Did
  readonly kind: string
  readonly target: string
  readonly maxCredits: number
  readonly expiresAt: number
  readonly title: string | null
  readonly geohash: string | null
  readonly publishedAt: number
  readonly mine: boolean
}

export interface BuyOptions {
  /** Relay sessions: the peer to reach through the provider. */
  readonly target?: Did
  /** A JWT credential to present when the offer requires one (default: the wallet picks). */
  readonly credential?: string
  readonly signal?: AbortSignal
}

/** One session as either side sees it. */
export interface SessionView {
  readonly id: string
  readonly role: SessionRole
  readonly kind: string
  readonly offer: string
  readonly title: string
  readonly provider: Did
  readonly payer: Did
  readonly target: Did | null
  readonly unit: RoundUnit
  readonly price: number
  readonly roundSize: number
  readonly trial: number
  /** Rounds bought (payer) or asked for (provider); null: until someone stops. */
  readonly maxRounds: number | null
  readonly state: SessionState
  /** Provider: 'trial' while the round's voucher is awaited, 'paid' once it came. */
  readonly phase: 'trial' | 'paid' | null
  /** Round being served/received (1-based); 0 before the first unit. */
  readonly round: number
  /** Units delivered (provider) or received (payer), in `unit`. */
  readonly unitsUsed: number
  /** Units used in the current round (for a progress bar per round). */
  readonly roundUnits: number
  /** Vouchers signed (payer) or accepted (provider). */
  readonly vouchers: number
  /** Credits promised by the newest voucher (what the session has cost so far). */
  readonly paid: number
  /** Credits moved on the ledger (confirmed settlements). */
  readonly settled: number
  /** Credits settled but not covered by the payer's balance (a shortfall, SPEC C4). */
  readonly unpaid: number
  readonly settleTxs: readonly string[]
  readonly rejectedVouchers: Readonly<Record<string, number>>
  /** Units left of what was bought; null without a limit. */
  readonly remainingUnits: number | null
  /** Time offers: milliseconds left of what was bought; null otherwise. */
  readonly remainingMs: number | null
  readonly openedAt: number
  readonly endedAt: number | null
  readonly endReason: SessionEndReason | null
}

export interface SessionHandle {
  readonly id: string
  readonly role: SessionRole
  readonly state: SessionState
  /** Round being received. */
  readonly rounds: number
  readonly unitsUsed: number
  readonly vouchersSigned: number
  readonly paid: number
  readonly settled: number
  /** Hotspot sessions: the decrypted credentials. */
  readonly credentials: HotspotCredentials | null
  /** Relay sessions: the stream to the target (write, iterate, end). */
  readonly relay: RelayChannel | null
  view: () => SessionView
  /** Stops after the current unit; a relay first ends its stream (bounded wait). */
  stop: () => Promise<SessionView>
  /** Resolves with the final view once the session has ended. */
  readonly ended: Promise<SessionView>
}

export type MarketEvent = 'change' | 'session-ended'

export interface MarketApi {
  /** Validates (rejecting impossible values with the core's codes), submits; resolves to the offer id. */
  publish: (offer: OfferInput) => Promise<string>
  withdraw: (offerId: string) => Promise<string>
  offers: (query?: OfferQueryInput) => OfferView[]
  offer: (offerId: string) => OfferView | null
  postRequest: (request: RequestInput) => Promise<string>
  withdrawRequest: (requestId: string) => Promise<string>
  requests: (kind?: string) => RequestView[]
  /** Opens a session for `rounds` rounds; resolves once the provider serves. */
  buy: (offerId: string, rounds: number, opts?: BuyOptions) => Promise<SessionHandle>
  /** Both roles, newest first. */
  sessions: () => SessionView[]
  session: (id: string) => SessionHandle | null
  /** Ends a session this peer serves or pays for. */
  stopSession: (id: string) => Promise<void>
  /** Rates the other side of a session on the ledger (1..5, once per side). */
  rate: (sessionId: string, score: number) => Promise<string>
  setHotspotSecret: (secret: { ssid: string, security: WifiSecurity, password: string }) => Promise<void>
  /** The hotspot network configured (never the password), or null. */
  hotspotNetwork: () => Promise<{ ssid: string, security: WifiSecurity } | null>
  reputation: (did: Did) => Reputation
  /** Relayed streams reaching this peer as a target. */
  onRelayedStream: (handler: (stream: RelayedStream) => void) => () => void
  on: (event: MarketEvent, listener: (sessionId?: string) => void) => () => void
  /** Owner control: payers refused new sessions (a block list the UI keeps). */
  setBlockedPayers: (dids: readonly string[]) => void
}
