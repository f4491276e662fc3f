/**
 * The peer runtime: one object per tab that wires the wallet, the mesh and the ledger of one
 * profile together and tells the UI when anything changed. The UI (and the test facade) talk
 * only to this object; they never touch Veramo, libp2p or IndexedDB.
 *
 * The mesh needs the private key, so it runs only while the wallet is unlocked: locking stops
 * it (the key leaves memory), unlocking starts it again.
 *
 * Change notification is a version counter plus listeners, so React can read it through
 * useSyncExternalStore without copying state.
 */
import type { Wallet } from '../wallet/index.ts'
import type { AllianceNet, PeerView, RelayView, DmMessage } from '../net/index.ts'
import { libp2pPrivateKey, parseDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { AllianceError } from '../core/errors.ts'
import { fetchServedConfig, saveRelays, servedIceServers } from './config.ts'
import { RtcBudget } from '../net/rtc-budget.ts'
import type { KeyValue } from './profiles.ts'
import type { LedgerApi } from './ledger-api.ts'
import { ledgerSeed } from './backup-gate.ts'
import type { LedgerService } from './ledger-service.ts'
import type { Miner } from './miner.ts'
import type { MarketApi } from './market-api.ts'
import type { MarketService } from './market-service.ts'
import { choiceFromInvitation, saveAlliance } from './alliance-choice.ts'
import type { AllianceChoice } from './alliance-choice.ts'
import { foundGenesis } from '../core/ledger/index.ts'

export type Phase = 'locked' | 'ready'

export interface RuntimeOptions {
  profile: string
  relays: string[]
  /** Where settings (relay list) are kept; the browser passes localStorage. */
  settings: KeyValue
  /** Options for the wallet (tests pass fake IndexedDB and low iteration counts). */
  wallet?: { idbFactory?: IDBFactory, pbkdf2Iterations?: number, allowInsecureIterationsForTests?: boolean }
  /** Options for the mesh. */
  net?: { targetDirect?: number, iceServers?: RTCIceServer[] | (() => Promise<RTCIceServer[]>), rtcBudgetLimit?: number }
  /** Proof-of-work miner; default a Web Worker in the browser, in-thread elsewhere. */
  miner?: Miner
  /** The alliance this profile belongs to (alliance-choice.ts); null: it founds or joins one first. */
  alliance?: AllianceChoice | null
  /** Relays a `?relay=` link asks for instead of the saved ones, until the user decides (N15). */
  relayProposal?: string[] | null
  /** Admit everyone who asks, as a validator (the demo operator). */
  openDesk?: boolean
  /** A name this peer gives itself (unverified), in join requests and invitations. */
  name?: string
  log?: (line: string) => void
}

export interface SentMessage { to: Did, text: string, at: number }

/** What the network banner shows. */
export interface NetworkStatus {
  /** The browser says it has no network (navigator.onLine). */
  offline: boolean
  /** No more RTCPeerConnections in this tab: the user must close and reopen the app. */
  rtcBudgetSpent: boolean
}

/** The page is plain http on a non-localhost address: WebCrypto, service workers and installation are off. */
export class InsecureContextError extends AllianceError {
  constructor () {
    super('ERR_INSECURE_CONTEXT', 'This page was opened over plain http, where the browser turns off the cryptography the wallet needs. Open its https address instead (in LAN mode, the https URL that `npm run start:lan` prints).')
  }
}

/** sessionStorage key of the RTCPeerConnections this tab created (a reload keeps Chromium's count). */
const RTC_USED_KEY = 'alliance:rtc-used'

export class NetNotRunningError extends AllianceError {
  constructor () { super('ERR_NOT_CONNECTED', 'the mesh is not running (is the wallet locked?)') }
}

export class PeerRuntime {
  readonly profile: string
  readonly wallet: Wallet
  relays: string[]
  private readonly opts: RuntimeOptions
  private net: AllianceNet | null = null
  private ledgerService: LedgerService | null = null
  private ledgerStore: { close: () => Promise<void> } | null = null
  private marketService: MarketService | null = null
  private sessionsStore: { close: () => Promise<void> } | null = null
  private netStarting: Promise<void> | null = null
  private readonly sent: SentMessage[] = []
  private readonly listeners = new Set<() => void>()
  private versionCounter = 0
  private lastError: string | null = null
  private unsubscribers: Array<() => void> = []
  private choice: AllianceChoice | null
  private readonly rtcBudget: RtcBudget
  private offline = false
  private proposedRelays: string[] | null
  private readonly onOnline = (): void => {
    this.offline = false
    this.net?.reconnectNow()
    // opened offline, the served config (and so the relay list) could not be read: read it now
    if (this.relays.length === 0) {
      fetchServedConfig().then((cfg) => {
        if (cfg == null || cfg.relays.length === 0 || this.relays.length > 0) return
        this.relays = cfg.relays
        this.net?.setRelays(cfg.relays)
        this.changed()
      }).catch((err: unknown) => { this.opts.log?.(`runtime: config fetch after going online failed: ${(err as Error).message}`) })
    }
    this.changed()
  }
  private readonly onOffline = (): void => { this.offline = true; this.changed() }

  private constructor (opts: RuntimeOptions, wallet: Wallet) {
    this.opts = opts
    this.choice = opts.alliance ?? null
    this.profile = opts.profile
    this.relays = opts.relays
    this.proposedRelays = opts.relayProposal ?? null
    this.wallet = wallet
    const tabStore = typeof sessionStorage !== 'undefined' ? sessionStorage : null
    const used = Number(tabStore?.getItem(RTC_USED_KEY) ?? 0)
    this.rtcBudget = new RtcBudget({
      limit: opts.net?.rtcBudgetLimit,
      used: Number.isInteger(used) && used >= 0 ? used : 0,
      onChange: (state) => {
        try { tabStore?.setItem(RTC_USED_KEY, String(state.used)) } catch { /* storage full: the count still holds for this page */ }
        this.changed()
      }
    })
    if (typeof window !== 'undefined') {
      this.offline = navigator.onLine === false
      window.addEventListener('online', this.onOnline)
      window.addEventListener('offline', this.onOffline)
    }
  }

  static async open (opts: RuntimeOptions): Promise<PeerRuntime> {
    if (globalThis.isSecureContext === false) throw new InsecureContextError()
    // Veramo is large: load it as its own chunk so the shell paints first.
    const { Wallet } = await import('../wallet/index.ts')
    const wallet = await Wallet.open({ profile: opts.profile, ...opts.wallet })
    const runtime = new PeerRuntime(opts, wallet)
    await runtime.afterUnlockChange()
    return runtime
  }

  get version (): number { return this.versionCounter }
  get phase (): Phase { return this.wallet.locked ? 'locked' : 'ready' }
  get did (): Did { return this.wallet.did }
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

  // ---- mesh ----

  peers (): PeerView[] { return this.net?.peers() ?? [] }
  networkStatus (): NetworkStatus { return { offline: this.offline, rtcBudgetSpent: this.rtcBudget.state().spent } }
  relayStates (): RelayView[] {
    return this.net?.relays() ?? this.relays.map((addr) => ({ addr, state: 'connecting' as const, since: 0 }))
  }

  /** Received messages and the ones this tab sent, oldest first. */
  messages (): DmMessage[] {
    const received = this.net?.inbox() ?? []
    const mine = this.sent.map((m) => ({ from: this.did, text: m.text, at: m.at }))
    return [...received, ...mine].sort((a, b) => a.at - b.at)
  }

  async sendMessage (to: string, text: string): Promise<void> {
    const did = parseDid(to.trim())
    if (this.net == null) throw new NetNotRunningError()
    await this.net.sendDm(did, text)
    this.sent.push({ to: did, text, at: Date.now() })
    if (this.sent.length > 100) this.sent.shift()
    this.changed()
  }

  /** Relays a link asks to use instead of the saved ones, or null (config.ts relayProposal). */
  relayProposal (): readonly string[] | null { return this.proposedRelays }

  /** The user's answer to the link's relays: use (and save) them, or keep the saved ones. */
  answerRelayProposal (use: boolean): void {
    const proposal = this.proposedRelays
    this.proposedRelays = null
    if (use && proposal != null) this.setRelays([...proposal])
    else this.changed()
  }

  setRelays (relays: string[]): void {
    this.relays = relays
    saveRelays(this.profile, relays, this.opts.settings)
    this.net?.setRelays(relays)
    this.changed()
  }

  /** The running mesh, for the ledger and market services wired by this runtime. */
  mesh (): AllianceNet | null { return this.net }

  // ---- ledger ----

  /** This peer's ledger, once opened (it runs while the wallet is unlocked). */
  ledger (): LedgerApi | null { return this.ledgerService }

  /** The alliance of this profile, or null while it has none (the UI offers to found or join). */
  alliance (): AllianceChoice | null { return this.choice }

  /**
   * Founds a new alliance with this peer as its first validator (SPEC A2), and opens its
   * ledger. The founder holds the supply (genesis allocation) and invites others.
   */
  async foundAlliance (input: { name: string, chains: readonly string[], chain: string, admission?: 'invite' | 'vote' | 'credential', credentialIssuers?: readonly string[], allocation?: number }): Promise<AllianceChoice> {
    if (this.ledgerService != null) throw new AllianceError('ERR_HAS_ALLIANCE', 'this profile already belongs to an alliance')
    const issuers = input.credentialIssuers?.map((d) => parseDid(d))
    const genesis = foundGenesis({ name: input.name, chains: input.chains, founders: [{ did: this.did, chain: input.chain }], admission: input.admission, credentialIssuers: issuers, allocation: input.allocation, time: Date.now() })
    this.choice = saveAlliance(this.profile, this.opts.settings, { genesis, token: null, relays: [], source: 'founded' })
    await this.startLedger()
    this.changed()
    return this.choice
  }

  /** Joins by an invitation link or its text: saves the alliance and asks its validators. */
  async joinInvitation (text: string): Promise<AllianceChoice> {
    if (this.ledgerService != null) throw new AllianceError('ERR_HAS_ALLIANCE', 'this profile already belongs to an alliance')
    this.choice = saveAlliance(this.profile, this.opts.settings, choiceFromInvitation(text))
    await this.startLedger()
    this.changed()
    return this.choice
  }

  private async startLedger (): Promise<void> {
    if (this.ledgerService != null || this.wallet.locked || this.choice == null) return
    const [{ LedgerService }, { openIdbLedgerStore }, { openIdbCheckpointStore }, { allianceContext }, miners] = await Promise.all([
      import('./ledger-service.ts'), import('../store/ledger-idb.ts'), import('../store/checkpoints-idb.ts'), import('./alliance.ts'), import('./miner.ts')
    ])
    const choice = this.choice
    const store = await openIdbLedgerStore(this.profile, { indexedDB: this.opts.wallet?.idbFactory, alliance: choice.allianceId })
    // S19-S22: signed checkpoint packages (join from one, prune to each), a database of their own
    const checkpoints = await openIdbCheckpointStore(this.profile, { indexedDB: this.opts.wallet?.idbFactory, alliance: choice.allianceId })
    const miner = this.opts.miner ?? (typeof Worker !== 'undefined' && typeof window !== 'undefined' ? miners.browserMiner() : miners.inThreadMiner)
    const service = await LedgerService.open({
      ctx: allianceContext(choice.genesis),
      store,
      checkpoints,
      invitation: choice.token,
      openDesk: this.opts.openDesk ?? false,
      name: this.opts.name ?? this.profile,
      did: this.did,
      // U12: no ledger block (join request, receive, payment) before a backup exists
      seed: ledgerSeed(this.wallet),
      miner,
      // L51: a credential alliance admits by a membership credential the wallet holds
      credentials: async () => (await this.wallet.listCredentials()).map((c) => c.jwt),
      onChange: () => this.changed(),
      log: this.opts.log
    })
    await service.start(this.net)
    this.ledgerService = service
    this.ledgerStore = { close: async () => { await store.close(); await checkpoints.close() } }
    await this.startMarket(service)
  }

  // ---- market ----

  /** This peer's market, once the ledger has opened. */
  market (): MarketApi | null { return this.marketService }

  private async startMarket (ledger: LedgerService): Promise<void> {
    const [{ MarketService, seedSecretCipher, walletCredentialVerifier, walletCredentialPicker }, { openIdbSessionsStore }] = await Promise.all([
      import('./market-service.ts'), import('../store/sessions-idb.ts')
    ])
    const sessionsStore = await openIdbSessionsStore(this.profile, { indexedDB: this.opts.wallet?.idbFactory })
    const wallet = this.wallet
    const market = new MarketService({
      did: this.did,
      seed: () => wallet.seed(),
      ledger,
      net: this.net,
      sessionsStore,
      cipher: seedSecretCipher(() => wallet.seed()),
      verifyCredential: walletCredentialVerifier(wallet),
      credentialFor: walletCredentialPicker(wallet, this.did),
      log: this.opts.log,
      onChange: () => this.changed()
    })
    await market.start()
    this.marketService = market
    this.sessionsStore = sessionsStore
  }

  private async stopMarket (): Promise<void> {
    const market = this.marketService
    this.marketService = null
    await market?.stop()
    await this.sessionsStore?.close()
    this.sessionsStore = null
  }

  private async stopLedger (): Promise<void> {
    await this.stopMarket()
    const service = this.ledgerService
    this.ledgerService = null
    await service?.stop()
    await this.ledgerStore?.close()
    this.ledgerStore = null
  }

  private async startNet (): Promise<void> {
    if (this.net != null || this.wallet.locked) return
    const { createAllianceNet } = await import('../net/index.ts')
    const net = await createAllianceNet({
      privateKey: libp2pPrivateKey(this.wallet.seed()),
      relays: this.relays,
      targetDirect: this.opts.net?.targetDirect,
      // browsers take STUN/TURN from the served config (TURN credentials are short-lived)
      iceServers: this.opts.net?.iceServers ?? (typeof window !== 'undefined' ? servedIceServers(fetchServedConfig) : undefined),
      rtcBudget: this.rtcBudget,
      log: this.opts.log
    })
    this.unsubscribers.push(net.on('change', () => this.changed()), net.on('dm', () => this.changed()))
    await net.start()
    this.net = net
  }

  private async stopNet (): Promise<void> {
    for (const u of this.unsubscribers) u()
    this.unsubscribers = []
    const net = this.net
    this.net = null
    await net?.stop()
  }

  private async afterUnlockChange (): Promise<void> {
    if (this.wallet.locked) {
      await this.netStarting
      await this.stopLedger()
      await this.stopNet()
    } else {
      // The mesh failing (no relay reachable, offline) must not keep the wallet or the
      // ledger from opening: the ledger then runs alone and syncs once peers are back.
      this.netStarting ??= this.startNet()
        .catch((err: unknown) => { this.reportError(`The mesh could not start: ${(err as Error).message}`) })
        .then(async () => { await this.startLedger() })
        .catch((err: unknown) => { this.reportError(`The ledger could not open: ${(err as Error).message}`) })
        .finally(() => { this.netStarting = null; this.changed() })
    }
    this.changed()
  }

  async close (): Promise<void> {
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.onOnline)
      window.removeEventListener('offline', this.onOffline)
    }
    await this.netStarting
    await this.stopLedger()
    await this.stopNet()
    this.wallet.close()
  }
}

