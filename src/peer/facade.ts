/**
 * `window.alliance`: the small, stable test and debug facade that automated browser tests
 * drive. See src/peer/README.md for the contract. It reads from the runtime and never
 * exposes private keys.
 */
import type { PeerRuntime } from './runtime.ts'
import type { LedgerApi } from './ledger-api.ts'
import { AllianceError } from '../core/errors.ts'

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
      ready: () => runtime.ledger() != null
    }
  }
}

declare global {
  interface Window { alliance?: AllianceFacade }
}

export function installFacade (runtime: PeerRuntime): void {
  window.alliance = createFacade(runtime)
}
