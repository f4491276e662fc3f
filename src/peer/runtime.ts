/**
 * The peer runtime: one object per tab that wires the wallet, the mesh and the ledger of one
 * profile together and tells the UI when anything changed. The UI (and the test facade) talk
 * only to this object; they never touch Veramo, libp2p or IndexedDB.
 *
 * Change notification is a version counter plus listeners, so React can read it through
 * useSyncExternalStore without copying state.
 */
import type { Wallet } from '../wallet/index.ts'

export type Phase = 'locked' | 'ready'

export interface RuntimeOptions {
  profile: string
  relays: string[]
}

export class PeerRuntime {
  readonly profile: string
  readonly wallet: Wallet
  relays: string[]
  private readonly listeners = new Set<() => void>()
  private versionCounter = 0
  private lastError: string | null = null

  private constructor (opts: RuntimeOptions, wallet: Wallet) {
    this.profile = opts.profile
    this.relays = opts.relays
    this.wallet = wallet
  }

  static async open (opts: RuntimeOptions): Promise<PeerRuntime> {
    // Veramo is large: load it as its own chunk so the shell paints first.
    const { Wallet } = await import('../wallet/index.ts')
    const wallet = await Wallet.open({ profile: opts.profile })
    const runtime = new PeerRuntime(opts, wallet)
    await runtime.afterUnlockChange()
    return runtime
  }

  get version (): number { return this.versionCounter }
  get phase (): Phase { return this.wallet.locked ? 'locked' : 'ready' }
  get did (): string { return this.wallet.did }
  get peerId (): string { return this.wallet.peerId }
  get error (): string | null { return this.lastError }

  subscribe (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  protected changed (): void {
    this.versionCounter++
    for (const l of this.listeners) {
      try { l() } catch (err) { console.error('runtime listener failed', err) }
    }
  }

  reportError (message: string | null): void {
    this.lastError = message
    this.changed()
  }

  async unlock (passphrase: string): Promise<void> {
    await this.wallet.unlock(passphrase)
    await this.afterUnlockChange()
  }

  async lock (): Promise<void> {
    this.wallet.lock()
    await this.afterUnlockChange()
  }

  /** Runs a wallet action and tells the UI, whatever the outcome. */
  async act<T> (action: (wallet: Wallet) => Promise<T>): Promise<T> {
    try {
      return await action(this.wallet)
    } finally {
      this.changed()
    }
  }

  private async afterUnlockChange (): Promise<void> {
    this.changed()
  }

  async close (): Promise<void> {
    this.wallet.close()
  }
}
