/**
 * The ledger of one peer, live: the pure engine, its store, the mesh and the miner put
 * together (SPEC.md S1–S9).
 * - Own blocks: a template from the engine, proof-of-work off the main thread, signed with
 *   the wallet's key, stored, then gossiped on the alliance's blocks topic. One at a time,
 *   since each takes the previous one as `prev`.
 * - Witnessing: a validator approves pending blocks that carry transactions, one issuer at a
 *   time, with an empty block, until they confirm (only validators carry weight, SPEC L20);
 *   a member re-approves its own stale blocks. No user ever presses "promote" (IOTA lesson).
 * - Admission (admission.ts): a non-member asks validators to admit it and joins once they
 *   have; a validator admits its invitees. A member receives the credits paid to it (claims,
 *   L28) on its own, in its own chain.
 * - Incoming blocks (gossip or sync) go through the engine in batches; rejections are counted
 *   by code and reported against the sending peer, which the mesh hangs up on when they
 *   pile up; nothing stored changes on a rejection.
 * - Sync (ledger-sync.ts): with every new direct peer, and every 30 s with one of them, fetch
 *   the block ids it has that we lack, in its storage order, then the blocks in batches (one
 *   store transaction per batch). Orphans parked from gossip fetch their missing parents at once.
 */
import type { MessageStream } from '@libp2p/interface'
import type { Did } from '../core/identity.ts'
import { parseDid, peerIdStringFromDid } from '../core/identity.ts'
import { AllianceError, InvalidInputError } from '../core/errors.ts'
import {
  LedgerEngine, claimOf, prepareBlock, sealBlock, LedgerError, LedgerErrorCode, MAX_AMOUNT
} from '../core/ledger/index.ts'
import type { BatchResult, BlockId, BlockInfo, ClaimRecord, DoubleVote, LedgerContext, Tx, TxStatus, Equivocation, LedgerStats } from '../core/ledger/index.ts'
import type { LedgerStore } from '../store/ledger.ts'
import { loadLedger, persistBatches, writeCheckpoint } from '../store/ledger-loader.ts'
import type { PipelineResult, SyncPeer } from '../net/sync-pipeline.ts'
import type { Miner } from './miner.ts'
import { addUntrustedBlocks, applyVerdicts } from './bulk-ingest.ts'
import { defaultVerifyPool } from './verify-pool.ts'
import type { PoolVerdict } from './verify-pool.ts'
import { LedgerSync, SYNC_SNAPSHOT_MAX_LAG } from './ledger-sync.ts'
import type { LedgerApi, LedgerProgress, LedgerTxEntry, ValidatorChangeView, ValidatorProposal } from './ledger-api.ts'
import { concernsMe } from './history.ts'
import { blocksTopic, chainForNewMember } from './alliance.ts'
import { AdmissionDesk, admissionTopic } from './admission.ts'
import type { AdmissionState, JoinRequestView } from './admission.ts'
import type { InvitationToken } from '../core/invitation.ts'
import type { CheckpointStore } from '../store/checkpoints.ts'
import { CheckpointService, openLedgerWithCheckpoints } from './checkpoint-service.ts'
import { SNAPSHOT_IDLE_MS, SNAPSHOT_MAX_LAG, SnapshotTiming } from './snapshot-timing.ts'
import type { OpenedLedger } from './checkpoint-service.ts'

/** The part of the mesh the ledger uses (AllianceNet has it; tests may pass their own). */
export interface LedgerNet {
  publish: (topic: string, data: Uint8Array) => Promise<number>
  /**
   * The handler runs before the message is forwarded (N11): throwing an AllianceError rejects it
   * (a strike against its author and forwarder), `'ignore'` drops it without blame.
   */
  subscribe: (topic: string, handler: (data: Uint8Array, from: Did) => void | 'accept' | 'ignore' | Promise<void | 'accept' | 'ignore'>) => () => void
  /** A handler that throws an AllianceError counts as a rejected frame from that peer (the net reports it). */
  handle: (protocol: string, handler: (stream: MessageStream & { close: (o?: { signal?: AbortSignal }) => Promise<void> }, ctx: { did: Did, peerId: string }) => void | Promise<void>, opts?: { maxInboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dialProtocol: (did: Did, protocol: string, opts?: { signal?: AbortSignal }) => Promise<MessageStream>
  peers: () => Array<{ did: Did, peerId: string, kind: 'direct' | 'relayed' }>
  reportMisbehaviour: (peerId: string, code: string) => void
  on: (type: 'change', listener: () => void) => () => void
}

export interface LedgerServiceOptions {
  ctx: LedgerContext
  store: LedgerStore
  did: Did
  /** The wallet's seed, read each time a block is signed (throws while locked). */
  seed: () => Uint8Array
  miner: Miner
  now?: () => number
  random?: () => number
  onChange?: () => void
  log?: (line: string) => void
  /** Write a checkpoint every this many new blocks. */
  checkpointEvery?: number
  /** How often to look for blocks that need this peer's approval, and for stale own blocks. */
  witnessIntervalMs?: number
  /** Anti-entropy sync period. */
  syncIntervalMs?: number
  /** The invitation this peer joined with (its token goes into its join requests). */
  invitation?: InvitationToken | null
  /** As a validator, admit everyone who asks (the demo operator's open desk). */
  openDesk?: boolean
  /** As a validator, credits to pay each member it admits, from its own balance. */
  welcome?: number
  /** A name this peer gives itself in join requests and invitations (unverified). */
  name?: string
  /** The credential JWTs this wallet holds (a credential alliance admits by one, L51). */
  credentials?: () => Promise<readonly string[]>
  /** Signed checkpoint packages (S18–S22, checkpoint-service.ts): join, prune, serve. Without it, none. */
  checkpoints?: CheckpointStore
  /** The checkpoint cut grid and delay (checkpoint-service.ts defaults) and whether to prune to each package. */
  checkpointIntervalMs?: number
  checkpointRipeMs?: number
  checkpointMinBlocks?: number
  prune?: boolean
  /** Stored blocks kept below the kept packages' tails (S40, ledger-horizon.ts); Infinity keeps all. */
  diskHorizon?: number
}

export class LedgerClosedError extends AllianceError {
  constructor () { super('ERR_CLOSED', 'the ledger is closed') }
}

function mergeBatches (parts: BatchResult[]): BatchResult {
  return {
    results: parts.flatMap((p) => p.results),
    inserted: parts.flatMap((p) => p.inserted),
    parked: parts.flatMap((p) => p.parked),
    dropped: parts.flatMap((p) => p.dropped),
    confirmed: parts.flatMap((p) => p.confirmed),
    rejected: parts.flatMap((p) => p.rejected),
    reverted: parts.flatMap((p) => p.reverted)
  }
}

const HISTORY_MAX = 500
const RECENT_MAX = 400

export class LedgerService implements LedgerApi {
  /** Replaced only by a checkpoint join or prune (`replaceEngine`). */
  engine: LedgerEngine
  private readonly o: Required<Omit<LedgerServiceOptions, 'onChange' | 'log' | 'checkpoints' | 'checkpointIntervalMs' | 'checkpointRipeMs' | 'checkpointMinBlocks' | 'prune' | 'diskHorizon'>> & Pick<LedgerServiceOptions, 'onChange' | 'log' | 'checkpoints' | 'checkpointIntervalMs' | 'checkpointRipeMs' | 'checkpointMinBlocks' | 'prune' | 'diskHorizon'>
  /** Checkpoints (S18–S22), when the service has a checkpoint store. */
  readonly checkpoints: CheckpointService | null
  private readonly desk: AdmissionDesk
  private net: LedgerNet | null = null
  private unsubscribe: Array<() => void> = []
  private timers: Array<ReturnType<typeof setInterval>> = []
  /** Serializes own block production and store writes (store order = engine order). */
  private producing: Promise<unknown> = Promise.resolve()
  private writing: Promise<unknown> = Promise.resolve()
  private powProgress: number | null = null
  private readonly rejectedInputs: Record<string, number> = {}
  /** The transactions that concern this peer (history.ts maps them into rows): txId → block time. */
  private readonly historyIndex = new Map<string, number>()
  private readonly mySessions = new Set<string>()
  private readonly recent: BlockId[] = []
  /** Whom to sync with and when, serving sync, orphan fetches (ledger-sync.ts). */
  private readonly sync: LedgerSync
  /** When the full snapshot is written (P9, S25); made once the ledger is open. */
  private snapshots: SnapshotTiming | null = null
  private lastOwnBlockAt = 0
  private closed = false
  private receiving = false

  private constructor (engine: LedgerEngine, opts: LedgerServiceOptions, base: OpenedLedger['base'] = null) {
    this.engine = engine
    this.o = {
      now: () => Date.now(),
      random: Math.random,
      checkpointEvery: 1000,
      witnessIntervalMs: 1500,
      syncIntervalMs: 30_000,
      invitation: null,
      openDesk: false,
      welcome: 0,
      name: '',
      credentials: async () => [],
      ...opts
    }
    this.desk = this.makeDesk(null)
    const engineOf = (): LedgerEngine => this.engine
    const checkpointsOf = (): CheckpointService | null => this.checkpoints
    this.sync = new LedgerSync({
      // read at each use: a checkpoint join or prune replaces the engine
      get engine () { return engineOf() },
      ctx: opts.ctx,
      store: opts.store,
      get checkpoints () { return checkpointsOf() },
      now: this.o.now,
      random: this.o.random,
      closed: () => this.closed,
      ingest: async (blocks, from, peerId, verdicts) => await this.ingest(blocks, from, peerId, verdicts),
      changed: () => { this.changed() },
      idle: () => { this.syncIdle() },
      log: opts.log
    }, this.o.syncIntervalMs)
    this.checkpoints = opts.checkpoints == null
      ? null
      : new CheckpointService(this, {
        ctx: opts.ctx, did: opts.did, seed: opts.seed, store: opts.store, checkpoints: opts.checkpoints, now: this.o.now, log: opts.log,
        ...(opts.checkpointIntervalMs != null ? { intervalMs: opts.checkpointIntervalMs } : {}),
        ...(opts.checkpointRipeMs != null ? { ripeMs: opts.checkpointRipeMs } : {}),
        ...(opts.checkpointMinBlocks != null ? { minBlocks: opts.checkpointMinBlocks } : {}),
        ...(opts.prune != null ? { prune: opts.prune } : {}),
        ...(opts.diskHorizon != null ? { diskHorizon: opts.diskHorizon } : {})
      }, base)
  }

  /** S20, S22: a checkpoint join or prune swaps the engine; everything reads `this.engine` afresh. */
  replaceEngine (engine: LedgerEngine): void {
    this.engine = engine
    this.stateHashCache = null
    this.changed()
  }

  /** Resolves once every queued store write is done. */
  async whenWritten (): Promise<void> {
    await this.writing
  }

  private makeDesk (net: LedgerNet | null): AdmissionDesk {
    const engineOf = (): LedgerEngine => this.engine
    return new AdmissionDesk({
      ctx: this.o.ctx,
      // read at each use: a checkpoint join or prune replaces the engine
      get engine () { return engineOf() },
      did: this.o.did,
      now: this.o.now,
      seed: this.o.seed,
      random: this.o.random,
      submit: async (txs) => await this.submit(txs),
      publish: net == null ? null : async (topic, data) => await net.publish(topic, data),
      log: this.o.log,
      token: this.o.invitation,
      openDesk: this.o.openDesk,
      welcome: this.o.welcome,
      name: this.o.name,
      credentials: this.o.credentials
    })
  }

  static async open (opts: LedgerServiceOptions & { onLoadProgress?: (loaded: number, total: number) => void }): Promise<LedgerService> {
    const now = opts.now ?? (() => Date.now())
    // S22: with checkpoints, the newest package plus the stored tail only
    const loaded: OpenedLedger = opts.checkpoints != null
      ? await openLedgerWithCheckpoints(opts.store, opts.checkpoints, opts.ctx, { now: now(), onProgress: opts.onLoadProgress, log: opts.log })
      : { engine: (await loadLedger(opts.store, opts.ctx, { now: now(), onProgress: opts.onLoadProgress })).engine, base: null }
    const service = new LedgerService(loaded.engine, opts, loaded.base)
    service.snapshots = service.snapshotTiming(loaded.engine.stats().blocks)
    const ids = loaded.engine.blockIds()
    service.recent.push(...ids.slice(-RECENT_MAX))
    for (const id of ids) service.indexHistory(id)
    return service
  }

  get allianceId (): string { return this.engine.allianceId }
  get ctx (): LedgerContext { return this.o.ctx }
  get did (): Did { return this.o.did }

  // ---- LedgerApi ----

  balance (did?: string): number { return this.engine.balance(did ?? this.o.did) }
  isMember (did?: string): boolean { return this.engine.member(did ?? this.o.did) != null }
  isValidator (did?: string): boolean { return this.engine.isValidator(did ?? this.o.did) }
  validators (): Did[] { return this.engine.validators() }
  members (): Did[] { return this.engine.members() }
  admission (): AdmissionState { return this.deskOf().state() }
  joinRequests (): JoinRequestView[] { return this.deskOf().pendingRequests() }
  async admit (did: string, chain?: string): Promise<string> { return await this.deskOf().admit(parseDid(did), chain) }
  decline (did: string): void { this.deskOf().decline(parseDid(did)) }
  invite (opts: { validForMs: number, relays: readonly string[], from?: string }): string { return this.deskOf().invite(opts) }
  epoch (): { readonly n: number, readonly validators: readonly Did[], readonly quorum: number } { return this.engine.epoch() }
  validatorProposals (): ValidatorProposal[] { return this.engine.validatorProposals() }
  validatorChanges (): ValidatorChangeView[] { return this.engine.validatorChanges() }

  /**
   * This validator's vote to add a member as a validator or remove one (L46); resolves to the
   * vote's transaction id. The change happens when a quorum of the current set voted alike.
   */
  async voteValidator (action: 'add' | 'remove', did: string): Promise<string> {
    const target = parseDid(did)
    if (!this.isValidator()) throw new LedgerError(LedgerErrorCode.BAD_TX, 'only a validator votes on validators')
    const chain = action === 'add' ? this.engine.member(target)?.chain : this.engine.validatorChain(target)
    if (action === 'add' && this.engine.isValidator(target)) throw new InvalidInputError('already a validator', 'ERR_ALREADY_VALIDATOR')
    if (chain == null) throw new InvalidInputError(action === 'add' ? 'only a member can become a validator' : 'not a validator', 'ERR_NOT_ELIGIBLE')
    const id = await this.submit([{ type: 'validator.vote', action, did: target, chain, epoch: this.engine.epoch().n }])
    return `${id}/0`
  }
  /** Credits paid to this peer that its chain has not received yet. */
  incoming (): number { return this.engine.claimsFor(this.o.did).reduce((sum, c) => sum + c.claim.amount, 0) }
  doubleVotes (): DoubleVote[] { return this.engine.doubleVotes() }
  status (txId: string): TxStatus | 'unknown' { return this.engine.status(txId) ?? 'unknown' }
  equivocations (): Equivocation[] { return this.engine.equivocations() }
  progress (): LedgerProgress { return { pow: this.powProgress, sync: this.sync.progress } }

  stats (): LedgerStats & { stateHash: string, rejectedInputs: Record<string, number> } {
    const stats = this.engine.stats()
    // stateHash() hashes the whole state: recompute only when the applied state moved.
    const key = `${stats.applied}/${stats.fullReplays}/${stats.confirmed}`
    if (this.stateHashCache?.key !== key) this.stateHashCache = { key, hash: this.engine.stateHash() }
    return { ...stats, stateHash: this.stateHashCache.hash, rejectedInputs: { ...this.rejectedInputs } }
  }

  private stateHashCache: { key: string, hash: string } | null = null

  historyEntries (): LedgerTxEntry[] {
    const out: LedgerTxEntry[] = []
    for (const txId of this.historyIndex.keys()) {
      const blockId = txId.slice(0, txId.lastIndexOf('/'))
      const b = this.engine.blockInfo(blockId)
      const tx = b?.txs[Number(txId.slice(txId.lastIndexOf('/') + 1))]
      if (b == null || b.issuer == null || tx == null) continue
      const r = this.engine.txResult(txId)
      out.push({ txId, blockId, issuer: b.issuer, time: b.time, depth: b.depth, tx, status: r?.status ?? 'pending', ...(r?.reason != null ? { reason: r.reason } : {}), weight: b.weight })
    }
    return out
  }

  claim (key: string): ClaimRecord | undefined { return claimOf(this.engine.stateView, key) }
  quorum (): number { return this.engine.quorum }

  recentBlocks (limit: number): BlockInfo[] {
    return this.recent.slice(-limit).map((id) => this.engine.blockInfo(id)).filter((b): b is BlockInfo => b != null)
  }

  async transfer (to: string, amount: number): Promise<string> {
    const recipient = parseDid(to)
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_AMOUNT) throw new InvalidInputError('the amount must be a positive whole number of credits', 'ERR_BAD_AMOUNT')
    if (recipient === this.o.did) throw new InvalidInputError('a transfer to oneself does nothing', 'ERR_SELF')
    const member = this.engine.member(recipient)
    if (member == null) throw new LedgerError(LedgerErrorCode.BAD_TX, 'the recipient is not a member of the alliance (yet)')
    if (amount > this.spendable()) throw new LedgerError(LedgerErrorCode.OVERSPEND, `only ${this.spendable()} credits are spendable`)
    const id = await this.submit([{ type: 'transfer', to: recipient, amount, toChain: member.chain }])
    return `${id}/0`
  }

  /** Confirmed balance minus what this peer's pending transfers and deposits already spend. */
  spendable (): number {
    let pending = 0
    for (const h of this.historyEntries()) {
      if (h.issuer === this.o.did && (h.tx.type === 'transfer' || h.tx.type === 'deposit.lock') && h.status === 'pending') pending += typeof h.tx.amount === 'number' ? h.tx.amount : 0
    }
    return this.balance() - pending
  }

  async syncNow (): Promise<void> {
    await this.sync.syncNow()
  }

  /** Fetches everything `did` has that this peer lacks (ledger-sync.ts). */
  async syncWith (did: Did, peerId: string): Promise<void> {
    await this.sync.syncWith(did, peerId)
  }

  /** Everything `peer` lists from `from` that this peer lacks, through the sync pipeline (ledger-sync.ts). */
  async pull (peer: SyncPeer, from = 0, did?: Did, peerId?: string): Promise<PipelineResult> {
    return await this.sync.pull(peer, from, did, peerId)
  }

  // ---- life cycle ----

  private liveDesk: AdmissionDesk | null = null
  private deskOf (): AdmissionDesk { return this.liveDesk ?? this.desk }

  async start (net: LedgerNet | null): Promise<void> {
    this.net = net
    this.liveDesk = this.makeDesk(net)
    if (net != null) {
      this.unsubscribe.push(net.subscribe(blocksTopic(this.o.ctx), async (data, from) => await this.onGossip(data, from)))
      this.unsubscribe.push(net.subscribe(admissionTopic(this.o.ctx), (data, from) => { this.onJoinRequest(data, from) }))
    }
    this.timers.push(setInterval(() => { this.witness() }, this.o.witnessIntervalMs))
    await this.checkpoints?.start(net)
    this.witness()
    if (net != null) await this.sync.start(net)
  }

  async stop (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.snapshots?.stop()
    for (const t of this.timers) clearInterval(t)
    for (const u of this.unsubscribe) u()
    this.timers = []
    this.unsubscribe = []
    await this.sync.stop()
    await this.checkpoints?.stop()
    await this.producing.catch(() => {})
    await this.writing.catch(() => {})
  }

  // ---- own blocks ----

  /** Makes, stores and gossips one block of this peer with `txs`; resolves to its id. */
  async submit (txs: Tx[], opts: { parents?: [BlockId, BlockId] } = {}): Promise<BlockId> {
    const run = this.producing.then(async () => await this.produce(txs, opts))
    this.producing = run.catch(() => {})
    return await run
  }

  private async produce (txs: Tx[], opts: { parents?: [BlockId, BlockId] }): Promise<BlockId> {
    if (this.closed) throw new LedgerClosedError()
    const seed = this.o.seed()
    const tpl = this.engine.template(this.o.did, this.o.random, this.o.now())
    const parents = opts.parents != null && opts.parents.every((p) => this.engine.has(p)) ? opts.parents : tpl.parents
    let time = tpl.time
    for (const p of parents) time = Math.max(time, this.engine.blockInfo(p)?.time ?? 0)
    const chain = tpl.chain ?? this.joinChain(txs) ?? chainForNewMember(this.o.ctx, this.o.did)
    const prepared = prepareBlock({ genesis: this.o.ctx, issuer: this.o.did, chain, seq: tpl.seq, prev: tpl.prev, parents, time, txs })
    this.powProgress = 0
    this.changed()
    let nonce: number
    try {
      nonce = await this.o.miner(prepared.header, prepared.difficulty, { onProgress: (f) => { this.powProgress = f; this.changed() } })
    } finally {
      this.powProgress = null
    }
    if (this.closed) throw new LedgerClosedError()
    const block = sealBlock(this.o.ctx, prepared, nonce, seed)
    const result = this.engine.addValidated([block])
    const first = result.results[0]
    if (first?.kind === 'rejected') throw first.error
    await this.afterBatch(result)
    this.lastOwnBlockAt = this.o.now()
    if (this.net != null) {
      await this.net.publish(blocksTopic(this.o.ctx), block.bytes).catch((err: unknown) => {
        // Nobody subscribed yet is normal for a lone peer: sync delivers the block later.
        this.o.log?.(`gossip of ${block.id} failed: ${(err as Error).message}`)
      })
    }
    return block.id
  }

  /** A first block's chain: the one its join's admissions name. */
  private joinChain (txs: readonly Tx[]): string | null {
    const join = txs[0]
    if (join?.type !== 'member.join' || !Array.isArray(join.admits)) return null
    const first = this.engine.admissionsOf(this.o.did).find(a => (join.admits as unknown[]).includes(a.txId))
    return first?.chain ?? null
  }

  /** A malformed request is rethrown typed: the net rejects it unforwarded and strikes its sender (N11). */
  private onJoinRequest (data: Uint8Array, from: Did): void {
    try {
      this.deskOf().onRequest(data, from)
    } catch (err) {
      const typed = err instanceof AllianceError ? err : new AllianceError('ERR_BAD_INVITATION', (err as Error)?.message ?? String(err))
      this.rejectedInputs[typed.code] = (this.rejectedInputs[typed.code] ?? 0) + 1
      throw typed
    }
  }

  /**
   * One duty per tick, the first that applies: admission (asking, joining, or as a validator
   * admitting), receiving confirmed claims, witnessing (validators approve pending blocks that
   * carry transactions, one issuer at a time; empty blocks never ask for approval, so
   * witnessing does not feed itself), re-approving own stale blocks.
   */
  private witness (): void {
    if (this.closed || this.powProgress != null) return
    try { this.o.seed() } catch { return } // locked: nothing to sign with
    const now = this.o.now()
    if (now - this.lastOwnBlockAt < this.o.witnessIntervalMs) return
    if (this.deskOf().tick()) return
    if (!this.isMember()) return
    if (this.receiveClaims()) return
    // a removed validator still witnesses blocks judged by the epochs it was a validator in (L49)
    if (this.engine.wasValidator(this.o.did)) {
      const target = this.engine.awaitingApproval(this.o.did, now)[0]
      if (target != null) {
        const [a, b] = this.engine.selectTips(this.o.random, { issuer: this.o.did, now })
        const other = a !== target ? a : b
        const parents: [BlockId, BlockId] = [target, other !== target ? other : this.o.ctx.allianceId]
        this.submit([], { parents }).catch((err: unknown) => { this.o.log?.(`witness block failed: ${(err as Error).message}`) })
        return
      }
    }
    if (this.engine.promotionDue(this.o.did, now, 20_000) && this.sync.directPeers().length > 0) {
      this.submit([]).catch((err: unknown) => { this.o.log?.(`promotion failed: ${(err as Error).message}`) })
    }
  }

  /** Takes the confirmed credits paid to this peer into its own chain (L28): no user action. */
  private receiveClaims (): boolean {
    if (this.receiving) return false
    const claims = this.engine.claimsFor(this.o.did).map(c => c.key)
    if (claims.length === 0) return false
    const pending = new Set<string>()
    for (const id of this.engine.pendingOf(this.o.did)) {
      for (const tx of this.engine.blockInfo(id)?.txs ?? []) if (tx.type === 'receive' && Array.isArray(tx.claims)) for (const c of tx.claims) pending.add(c as string)
    }
    const fresh = claims.filter(c => !pending.has(c)).slice(0, 64)
    if (fresh.length === 0) return false
    this.receiving = true
    this.submit([{ type: 'receive', claims: fresh }])
      .catch((err: unknown) => { this.o.log?.(`receive failed: ${(err as Error).message}`) })
      .finally(() => { this.receiving = false })
    return true
  }

  // ---- incoming ----

  /**
   * A gossiped block, judged before gossipsub forwards it (N11). A block that breaks a rule
   * every honest peer checks the same way is rethrown: the net strikes its author (S6, even
   * when not our peer) and whoever forwarded it. One we cannot judge yet (a clock ahead of
   * ours, an issuer whose admission we have not seen) or already hold is not forwarded and
   * nobody is blamed; an orphan is forwarded (others may hold its parents).
   */
  private async onGossip (data: Uint8Array, from: Did): Promise<'accept' | 'ignore'> {
    let result: BatchResult
    try {
      result = await this.ingest([data], from, this.peerIdOf(from), undefined, { report: false })
    } catch (err) {
      // a local failure (the store refused a write) must not be blamed on the author
      this.o.log?.(`could not take a gossiped block: ${(err as Error).message}`)
      return 'ignore'
    }
    const r = result.results[0]
    if (r == null || r.kind !== 'rejected') return 'accept'
    const code = r.error.code
    if (code === LedgerErrorCode.DUPLICATE || code === LedgerErrorCode.FUTURE_TIME) return 'ignore'
    if (code === LedgerErrorCode.NOT_MEMBER) {
      // the author knows whether it was admitted; a forwarder may hold an admission we lack
      const author = authorPeerId(from)
      if (author != null) this.net?.reportMisbehaviour(author, code)
      return 'ignore'
    }
    throw r.error
  }

  /**
   * Adds untrusted blocks from a peer. Rejections are counted by code and reported against
   * the peer (S6); a block from a clock ahead of ours (ERR_FUTURE_TIME) is counted but not
   * held against the peer, since it becomes acceptable later (L13).
   */
  async ingest (blocks: Uint8Array[], from?: Did, peerId?: string, verdicts?: readonly PoolVerdict[], opts: { report?: boolean } = {}): Promise<BatchResult> {
    // Each part's store write is queued as soon as the engine took it, in engine order
    // (afterBatch chains it synchronously), so no other batch can slip between them, and a
    // streamed batch's first runs are written while the pool checks the later ones (P8).
    const writes: Array<Promise<void>> = []
    const queue = (done: readonly BatchResult[]): void => {
      for (const part of done) { const w = this.afterBatch(part); w.catch(() => {}); writes.push(w) }
    }
    // with the verdicts at hand (sync prepared them), the engine takes the blocks right now,
    // in call order, before anything is awaited
    const prepared = verdicts != null && verdicts.length === blocks.length
    const parts = prepared ? applyVerdicts(this.engine, blocks, verdicts, this.o.now()) : await this.addUntrusted(blocks, queue)
    if (prepared) queue(parts)
    const result = mergeBatches(parts)
    for (const r of result.results) {
      if (r.kind !== 'rejected') continue
      if (r.error.code === LedgerErrorCode.DUPLICATE) continue
      this.rejectedInputs[r.error.code] = (this.rejectedInputs[r.error.code] ?? 0) + 1
      if (peerId != null && opts.report !== false && r.error.code !== LedgerErrorCode.FUTURE_TIME) this.net?.reportMisbehaviour(peerId, r.error.code)
    }
    await Promise.all(writes)
    if (result.parked.length > 0 && from != null && peerId != null && this.peerIdOf(from) === peerId) {
      // ask the author for the missing parents (one fetch per peer at a time, see below)
      this.sync.fetchMissingSoon(from, peerId)
    }
    return result
  }

  /** Validates and adds untrusted blocks: the stateless rules in the verify pool (bulk-ingest.ts). */
  private async addUntrusted (blocks: Uint8Array[], onRun: (results: readonly BatchResult[]) => void): Promise<BatchResult[]> {
    return await addUntrustedBlocks(this.engine, this.o.ctx, defaultVerifyPool(), blocks, this.o.now(), onRun)
  }

  private async afterBatch (result: BatchResult): Promise<void> {
    for (const b of result.inserted) {
      this.recent.push(b.id)
      this.indexHistory(b.id)
    }
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX)
    await this.persist(result)
    if (result.inserted.length > 0 || result.confirmed.length > 0 || result.rejected.length > 0) this.changed()
  }

  /**
   * Queues `result` for the store in engine order and resolves once it is written. Batches
   * that queue up while a write runs go together in the next one (a group commit): a sync
   * applying replies faster than IndexedDB commits pays one transaction per write, not one
   * per reply, and never awaits anything per block.
   */
  private async persist (result: BatchResult): Promise<void> {
    if (result.inserted.length === 0 && result.parked.length === 0 && result.dropped.length === 0) return
    let group = this.pendingWrite
    if (group == null) {
      const results: BatchResult[] = []
      const done = this.writing.then(async () => {
        this.pendingWrite = null
        await persistBatches(this.o.store, results)
        // P9, S25: due snapshots wait for idle writes and for the end of every sync (a full
        // snapshot re-encodes the whole state: a 10,000-block catch-up wrote ten of them)
        await this.snapshots?.afterWrite()
      })
      group = { results, done }
      this.pendingWrite = group
      this.writing = done.catch((err: unknown) => { this.o.log?.(`ledger write failed: ${(err as Error).message}`) })
    }
    group.results.push(result)
    await group.done
  }

  /** Every sync ended: the snapshot deferred meanwhile is queued behind the writes now (S25). */
  private syncIdle (): void {
    if (!this.closed) this.snapshots?.idle()
  }

  /** P9: full snapshots off the hot path (snapshot-timing.ts), behind the queued writes. */
  private snapshotTiming (at: number): SnapshotTiming {
    const sync = this.sync
    const every = this.o.checkpointEvery
    return new SnapshotTiming({
      every,
      // S42: a running sync forces its snapshot only at SYNC_SNAPSHOT_MAX_LAG × every (read at each write)
      get maxLag () { return (sync.busy() ? SYNC_SNAPSHOT_MAX_LAG : SNAPSHOT_MAX_LAG) * every },
      idleMs: SNAPSHOT_IDLE_MS,
      // full snapshots only until signed checkpoints take over (S22): a snapshot of a pruned engine is not one of the ledger
      write: async () => { if (this.checkpoints?.newest() == null) await writeCheckpoint(this.o.store, this.engine) },
      enqueue: async (task) => { const run = this.writing.then(task); this.writing = run.catch(() => {}); await run },
      busy: () => this.pendingWrite != null || this.sync.busy(),
      blocks: () => this.engine.stats().blocks,
      log: this.o.log
    }, at)
  }

  /** The write that has not started yet, which new batches join. */
  private pendingWrite: { results: BatchResult[], done: Promise<void> } | null = null

  private indexHistory (id: BlockId): void {
    const b = this.engine.blockInfo(id)
    if (b == null || b.issuer == null) return
    const issuer = b.issuer
    b.txs.forEach((tx, index) => {
      if (concernsMe(issuer, tx, this.o.did, this.mySessions)) this.historyIndex.set(`${id}/${index}`, b.time)
    })
    if (this.historyIndex.size > HISTORY_MAX) {
      const oldest = [...this.historyIndex.entries()].sort((x, y) => x[1] - y[1]).slice(0, this.historyIndex.size - HISTORY_MAX)
      for (const [txId] of oldest) this.historyIndex.delete(txId)
    }
  }

  private peerIdOf (did: Did): string | undefined {
    return this.net?.peers().find((p) => p.did === did)?.peerId
  }

  private changed (): void {
    this.o.onChange?.()
  }
}

function authorPeerId (did: Did): string | undefined {
  try {
    return peerIdStringFromDid(did)
  } catch {
    return undefined // not a did:key: nobody to hold it against (the net layer names peers by key)
  }
}
