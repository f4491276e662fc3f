/**
 * `window.alliance`: the small, stable test and debug facade that automated browser tests
 * drive. See src/peer/README.md for the contract. It reads from the runtime and never
 * exposes private keys.
 */
import type { PeerRuntime } from './runtime.ts'

export interface AllianceFacade {
  readonly profile: string
  readonly did: string
  readonly peerId: string
  readonly locked: boolean
  unlock: (passphrase: string) => Promise<void>
  lock: () => Promise<void>
}

export function createFacade (runtime: PeerRuntime): AllianceFacade {
  return {
    profile: runtime.profile,
    did: runtime.did,
    peerId: runtime.peerId,
    get locked () { return runtime.phase === 'locked' },
    unlock: async (p) => { await runtime.unlock(p) },
    lock: async () => { await runtime.lock() }
  }
}

declare global {
  interface Window { alliance?: AllianceFacade }
}

export function installFacade (runtime: PeerRuntime): void {
  window.alliance = createFacade(runtime)
}
