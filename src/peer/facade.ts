/**
 * `window.alliance`: the small, stable test and debug facade that automated browser tests
 * drive. See src/peer/README.md for the contract. It reads from the runtime and never
 * exposes private keys.
 */
import type { PeerRuntime } from './runtime.ts'
import type { LedgerApi } from './ledger-api.ts'
import type { MarketApi } from './market-api.ts'
import { AllianceError } from '../core/errors.ts'
import { historyRows } from './history.ts'
import type { HistoryRow } from './history.ts'

function ledgerOf (runtime: PeerRuntime): LedgerApi {
  const ledger = runtime.ledger()
  if (ledger == null) throw new AllianceError('ERR_NOT_READY', 'the ledger is not open yet (is the wallet locked?)')
  return ledger
}

export interface AllianceFacade {
  readonly profile: string
  readonly did: string
  readonly peerId: string
  readonly locked: boolean
  unlock: (passphrase: string) => Promise<void>
  lock: () => Promise<void>
  /** Whether a backup was made (or restored from): the ledger acts only then (SPEC U12). */
  readonly backedUp: boolean
  /** Makes an encrypted backup under `passphrase` (the file is dropped: tests only need the fact). */
  backup: (passphrase: string) => Promise<void>
  /** Connected and discovered peers with their connection kind ('direct' WebRTC or 'relayed'). */
  peers: () => Array<{ did: string, peerId: string, kind: 'direct' | 'relayed', rttMs?: number }>
  /** Relays and their state ('connecting' | 'connected' | 'reserved' | 'reconnecting'). */
  relays: () => Array<{ addr: string, state: string }>
  /** Sends an end-to-end encrypted direct message over a direct connection. */
  send: (did: string, text: string) => Promise<void>
  /** Messages received (and sent) by this tab, oldest first. */
  messages: () => Array<{ from: string, text: string, at: number }>
  /** This peer's ledger; methods throw ERR_NOT_READY until it has opened. */
  ledger: {
    balance: (did?: string) => number
    transfer: (did: string, amount: number) => Promise<string>
    status: (txId: string) => 'pending' | 'confirmed' | 'rejected' | 'unknown'
    stats: () => { blocks: number, tips: number, confirmed: number, pending: number, members: number, stateHash: string, rejectedInputs: Record<string, number> }
    ready: () => boolean
    /** This peer's history in words (both sides of transfers and sessions), newest first. */
    history: (limit?: number) => HistoryRow[]
    isMember: (did?: string) => boolean
    isValidator: (did?: string) => boolean
    admission: () => { kind: string }
  }
  /** The alliance of this profile (SPEC A1–A5). */
  alliance: {
    /** Its id, or null while the profile has none. */
    id: () => string | null
    found: (name: string, chain?: string) => Promise<string>
    join: (invitation: string) => Promise<string>
    /** An invitation link of this validator. */
    invite: () => string
    joinRequests: () => Array<{ did: string, chain: string, name: string }>
    admit: (did: string) => Promise<string>
    /** The latest validator epoch (L47). */
    epoch: () => { n: number, validators: string[], quorum: number }
    /** Open validator proposals with their voters (L46). */
    proposals: () => Array<{ action: 'add' | 'remove', did: string, voters: string[], quorum: number }>
    /** This validator's vote to add a member or remove a validator. */
    vote: (action: 'add' | 'remove', did: string) => Promise<string>
  }
  /** This peer's market (see src/peer/market-api.ts); methods throw ERR_NOT_READY until it opened. */
  market: {
    ready: () => boolean
    publish: MarketApi['publish']
    withdraw: MarketApi['withdraw']
    offers: MarketApi['offers']
    buy: MarketApi['buy']
    sessions: MarketApi['sessions']
    session: MarketApi['session']
    stopSession: MarketApi['stopSession']
    setHotspotSecret: MarketApi['setHotspotSecret']
    reputation: MarketApi['reputation']
    onRelayedStream: MarketApi['onRelayedStream']
  }
}

export function createFacade (runtime: PeerRuntime): AllianceFacade {
  return {
    profile: runtime.profile,
    did: runtime.did,
    peerId: runtime.peerId,
    get locked () { return runtime.phase === 'locked' },
    unlock: async (p) => { await runtime.unlock(p) },
    lock: async () => { await runtime.lock() },
    get backedUp () { return runtime.wallet.backedUp },
    backup: async (passphrase) => { await runtime.act(async (w) => await w.exportBackup(passphrase)) },
    peers: () => runtime.peers().map(({ did, peerId, kind, rttMs }) => ({ did, peerId, kind, rttMs })),
    relays: () => runtime.relayStates().map(({ addr, state }) => ({ addr, state })),
    send: async (did, text) => { await runtime.sendMessage(did, text) },
    messages: () => runtime.messages().map(({ from, text, at }) => ({ from, text, at })),
    ledger: {
      balance: (did) => ledgerOf(runtime).balance(did),
      transfer: async (did, amount) => await ledgerOf(runtime).transfer(did, amount),
      status: (txId) => ledgerOf(runtime).status(txId),
      stats: () => {
        const s = ledgerOf(runtime).stats()
        return { blocks: s.blocks, tips: s.tips, confirmed: s.confirmed, pending: s.pending, members: s.members, stateHash: s.stateHash, rejectedInputs: s.rejectedInputs }
      },
      ready: () => runtime.ledger() != null,
      history: (limit) => historyRows(ledgerOf(runtime), runtime.did, limit),
      isMember: (did) => ledgerOf(runtime).isMember(did),
      isValidator: (did) => ledgerOf(runtime).isValidator(did),
      admission: () => ({ ...ledgerOf(runtime).admission() })
    },
    alliance: {
      id: () => runtime.alliance()?.allianceId ?? null,
      found: async (name, chain) => (await runtime.foundAlliance({ name, chains: ['home', 'business', 'operator'], chain: chain ?? 'operator' })).allianceId,
      join: async (invitation) => (await runtime.joinInvitation(invitation)).allianceId,
      invite: () => `${location.origin}${location.pathname}?invite=${ledgerOf(runtime).invite({ validForMs: 7 * 24 * 3600 * 1000, relays: runtime.relays })}`,
      joinRequests: () => ledgerOf(runtime).joinRequests().map(({ did, chain, name }) => ({ did, chain, name })),
      admit: async (did) => await ledgerOf(runtime).admit(did),
      epoch: () => { const e = ledgerOf(runtime).epoch(); return { n: e.n, validators: [...e.validators], quorum: e.quorum } },
      proposals: () => ledgerOf(runtime).validatorProposals().map(({ action, did, voters, quorum }) => ({ action, did, voters: [...voters], quorum })),
      vote: async (action, did) => await ledgerOf(runtime).voteValidator(action, did)
    },
    market: {
      ready: () => runtime.market() != null,
      publish: async (offer) => await marketOf(runtime).publish(offer),
      withdraw: async (id) => await marketOf(runtime).withdraw(id),
      offers: (query) => marketOf(runtime).offers(query),
      buy: async (id, rounds, opts) => await marketOf(runtime).buy(id, rounds, opts),
      sessions: () => marketOf(runtime).sessions(),
      session: (id) => marketOf(runtime).session(id),
      stopSession: async (id) => { await marketOf(runtime).stopSession(id) },
      setHotspotSecret: async (secret) => { await marketOf(runtime).setHotspotSecret(secret) },
      reputation: (did) => marketOf(runtime).reputation(did),
      onRelayedStream: (handler) => marketOf(runtime).onRelayedStream(handler)
    }
  }
}

function marketOf (runtime: PeerRuntime): MarketApi {
  const market = runtime.market()
  if (market == null) throw new AllianceError('ERR_NOT_READY', 'the market is not open yet (is the wallet locked?)')
  return market
}

declare global {
  interface Window { alliance?: AllianceFacade }
}

export function installFacade (runtime: PeerRuntime): void {
  window.alliance = createFacade(runtime)
}
