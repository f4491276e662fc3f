/**
 * Checkpoints of a running peer (SPEC.md S18–S22, issue 10 "join from a checkpoint",
 * "bounded memory"), beside the ledger service:
 * - Signing duty: at each grid time `at` that is ripe (S18), a validator computes the cut's
 *   body from its engine, signs it and gossips `{at, body hash, sig}`; every peer collects the
 *   signatures that verify over the body it computed itself, and once they are more than two
 *   thirds of the validator set it stores the package (checkpoint store, S19).
 * - Pruning: with a newer package stored, the engine is rebuilt from it plus the stored tail
 *   (`openFromCheckpoint`), so memory holds the live part of the DAG, not its age; the ledger
 *   store keeps the history to serve peers. Start-up reads only the newest package + tail.
 * - Serving and joining (S20): `/alliance/checkpoint/1` answers which package this peer holds
 *   and sends it; a fresh peer (nothing stored) asks its first direct peers, trusts a package
 *   only once its signatures and state hash check (anything else is counted against the
 *   sender), starts its engine from it and syncs the tail from the server's `tailFrom`.
 */
import { sha256 } from '../core/codec.ts'
import { toHex } from '../core/bytes.ts'
import type { Did } from '../core/identity.ts'
import { AllianceError } from '../core/errors.ts'
import { peerIdStringFromDid, publicKeyFromDid, verify } from '../core/identity.ts'
import {
  CheckpointError, blockIdOf, checkpointCutAt, checkpointSigningBytes, decodeCheckpointPackage, encodeCheckpointPackage, engineState, joinFromCheckpoint,
  isCutTime, joinedFrom, latestCutTime, packageOfCut, quorumOfSet, signCheckpoint
} from '../core/ledger/index.ts'
import type { BlockId, CheckpointBody, CheckpointCut, CheckpointPackage, LedgerContext, LedgerEngine } from '../core/ledger/index.ts'
import { LedgerStoreError, LedgerStoreErrorCode } from '../store/ledger.ts'
import type { LedgerStore } from '../store/ledger.ts'
import { loadLedger, openFromCheckpoint } from '../store/ledger-loader.ts'
import { DEFAULT_DISK_HORIZON, pruneToHorizon } from './ledger-horizon.ts'
import type { CheckpointMeta, CheckpointStore } from '../store/checkpoints.ts'
import {
  CHECKPOINT_MAX_INBOUND_STREAMS, CHECKPOINT_PROTOCOL, CheckpointClient, CheckpointWireCode, checkpointSigTopic, decodeCheckpointSig, encodeCheckpointSig,
  serveCheckpoint
} from '../net/checkpoint-protocol.ts'
import type { CheckpointInfo, CheckpointSigMessage } from '../net/checkpoint-protocol.ts'
import type { MessageStream } from '@libp2p/interface'
import { defaultStateHasher } from './state-hash.ts'
import type { StateHasher } from './state-hash.ts'

/** The part of the mesh this module uses (the ledger service's `LedgerNet` has it). */
export interface CheckpointNet {
  publish: (topic: string, data: Uint8Array) => Promise<number>
  subscribe: (topic: string, handler: (data: Uint8Array, from: Did) => void | Promise<void>) => () => void
  handle: (protocol: string, handler: (stream: MessageStream & { close: (o?: { signal?: AbortSignal }) => Promise<void> }, ctx: { did: Did, peerId: string }) => void | Promise<void>, opts?: { maxInboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dialProtocol: (did: Did, protocol: string, opts?: { signal?: AbortSignal }) => Promise<MessageStream>
  reportMisbehaviour: (peerId: string, code: string) => void
}

/** The part of the ledger service this module drives. */
export interface CheckpointHost {
  readonly engine: LedgerEngine
  /** Swaps the engine (a join or a prune); the caller made sure nothing is lost. */
  replaceEngine: (engine: LedgerEngine) => void
  /** Resolves once every queued store write is done. */
  whenWritten: () => Promise<void>
}

export interface CheckpointServiceOptions {
  readonly ctx: LedgerContext
  readonly did: Did
  readonly seed: () => Uint8Array
  readonly store: LedgerStore
  readonly checkpoints: CheckpointStore
  readonly now?: () => number
  /** Grid of cut times (S18). */
  readonly intervalMs?: number
  /** A cut is made this long after its time (blocks up to it have confirmed everywhere). */
  readonly ripeMs?: number
  /** Rebuild the engine from each newer package (S22). */
  readonly prune?: boolean
  /** A cut is signed only when it holds at least this many blocks more than the package before it (S18). */
  readonly minBlocks?: number
  /** Stored blocks kept below the oldest kept package's tail (S40); Infinity keeps all. */
  readonly diskHorizon?: number
  readonly tickMs?: number
  /** Hashes a downloaded package's state (S31); default Web Workers in a tab, the calling thread elsewhere. */
  readonly hasher?: StateHasher
  readonly log?: (line: string) => void
}

/** Default cut grid: every 10 minutes. */
export const CHECKPOINT_INTERVAL_MS = 10 * 60_000
/** Default S18 step: a package costs a pass over the engine and megabytes; fewer new blocks are not worth one. */
export const CHECKPOINT_MIN_BLOCKS = 1000
/** A served package stays in memory this long after it was first read (its chunks come one stream each). */
const SERVED_CACHE_MS = 30_000
/** Recomputing a cut that others signed differently: at most this often (it costs a pass over the engine). */
const RECOMPUTE_MS = 5_000

const bodyHash = (body: CheckpointBody): string => toHex(sha256(checkpointSigningBytes(body)))

/** A pending foreign signature (gossip): what it claims to sign. */
interface HeldSig { readonly body: string, readonly sig: Uint8Array }

/** What open() made: the engine and the package it rests on, if any. */
export interface OpenedLedger {
  readonly engine: LedgerEngine
  readonly base: { meta: CheckpointMeta, pkg: CheckpointPackage } | null
}

/**
 * S22 start-up: the newest stored package plus the stored tail after it (never the history
 * below it), else the snapshot path (L38). A package that no longer verifies is skipped.
 */
export async function openLedgerWithCheckpoints (store: LedgerStore, checkpoints: CheckpointStore, ctx: LedgerContext, opts: { now: number, onProgress?: (loaded: number, total: number) => void, log?: (line: string) => void, hasher?: StateHasher }): Promise<OpenedLedger> {
  const kept = await checkpoints.list().catch((err: unknown) => { opts.log?.(`checkpoint store: ${(err as Error).message}`); return [] })
  const hasher = opts.hasher ?? defaultStateHasher()
  // newest first; an older kept one when the newest no longer verifies (S40: the history below may be gone)
  for (const meta of [...kept].reverse()) {
    const stored = await checkpoints.get(meta.at).catch((err: unknown) => { opts.log?.(`checkpoint store: ${(err as Error).message}`); return undefined })
    if (stored == null) continue
    try {
      // S31: the state's LtHash in workers while this thread decodes
      const hashing = hasher.offThread ? hasher.commitment(stored.bytes) : null
      hashing?.catch(() => {})
      const pkg = decodeCheckpointPackage(stored.bytes)
      const stateCommitment = await hashing?.catch(() => undefined)
      const loaded = await openFromCheckpoint(store, ctx, pkg, { now: opts.now, tailFrom: stored.meta.tailFrom, onProgress: opts.onProgress, ...(stateCommitment != null ? { stateCommitment } : {}) })
      return { engine: loaded.engine, base: { meta: stored.meta, pkg } }
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err
      opts.log?.(`stored checkpoint at ${new Date(meta.at).toISOString()} refused (${err.code})`)
    }
  }
  const first = await store.firstPosition()
  if (first > 0) throw new LedgerStoreError(LedgerStoreErrorCode.PRUNED, `the stored history starts at position ${first} (pruned, S40) and no stored checkpoint opens`)
  return { engine: (await loadLedger(store, ctx, { now: opts.now, onProgress: opts.onProgress })).engine, base: null }
}

export class CheckpointService {
  private readonly o: Required<Omit<CheckpointServiceOptions, 'log'>> & Pick<CheckpointServiceOptions, 'log'>
  private net: CheckpointNet | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  private unsubscribe: (() => void) | null = null
  private base: { meta: CheckpointMeta, bytes: Map<BlockId, Uint8Array> } | null = null
  /** The cut being signed: this peer's body for the newest ripe time, and the valid signatures over it. */
  private cut: { c: CheckpointCut, hash: string, made: number, sigs: Map<Did, Uint8Array> } | null = null
  /** Foreign signatures by cut time (only the newest time is kept), by signer. */
  private held = new Map<number, Map<Did, HeldSig>>()
  private signed = new Map<number, string>()
  private busy = false
  private closed = false
  /** Peers whose package was refused: not asked again this session. */
  private readonly refused = new Set<string>()
  private joining: Promise<void> | null = null

  constructor (private readonly host: CheckpointHost, opts: CheckpointServiceOptions, opened: OpenedLedger['base'] = null) {
    const g = opts.ctx.genesis
    this.o = {
      now: () => Date.now(),
      intervalMs: CHECKPOINT_INTERVAL_MS,
      ripeMs: g.maxParentAgeMs + g.maxClockSkewMs + 60_000,
      prune: true,
      minBlocks: CHECKPOINT_MIN_BLOCKS,
      diskHorizon: DEFAULT_DISK_HORIZON,
      tickMs: 2_000,
      hasher: defaultStateHasher(),
      ...opts
    }
    if (opened != null) this.base = { meta: opened.meta, bytes: retainedBytes(opened.pkg) }
  }

  /** The newest package held (made here or joined from). */
  newest (): CheckpointMeta | null { return this.base?.meta ?? null }

  async start (net: CheckpointNet | null): Promise<void> {
    this.net = net
    if (net != null) {
      this.unsubscribe = net.subscribe(checkpointSigTopic(this.o.ctx.allianceId), (data, from) => { this.onSig(data, from) })
      await net.handle(CHECKPOINT_PROTOCOL, async (stream) => {
        await serveCheckpoint(stream, { info: async () => await this.info(), bytes: async (at) => await this.packageBytes(at) })
      }, { maxInboundStreams: CHECKPOINT_MAX_INBOUND_STREAMS })
    }
    this.timer = setInterval(() => { void this.tick() }, this.o.tickMs)
    void this.tick()
    // a package stored in an earlier run may have a horizon due (S40)
    if (this.base != null) void this.pruneDisk()
  }

  /** S40: the store forgets history past the horizon below the kept packages' tails. */
  private async pruneDisk (): Promise<void> {
    try {
      await this.host.whenWritten()
      const first = await pruneToHorizon(this.o.store, this.o.checkpoints, this.o.diskHorizon)
      if (first != null) this.o.log?.(`stored history below position ${first} forgotten (horizon ${this.o.diskHorizon} blocks)`)
    } catch (err) {
      if (!this.closed) this.o.log?.(`could not prune stored history: ${(err as Error).message}`)
    }
  }

  async stop (): Promise<void> {
    this.closed = true
    if (this.timer != null) clearInterval(this.timer)
    this.unsubscribe?.()
    await this.net?.unhandle(CHECKPOINT_PROTOCOL).catch(() => {})
    await this.joining?.catch(() => {})
  }

  /** What is served: the newest stored package (the store is this peer's own; packages enter it only verified or made here). */
  private async info (): Promise<CheckpointInfo | null> {
    const m = await this.o.checkpoints.newestMeta()
    return m == null ? null : { at: m.at, height: m.height, time: m.time, state: m.state, body: m.body, tailFrom: m.tailFrom, bytes: m.bytes }
  }

  /** The package being served, read once for all its chunks (S30: a joiner asks one chunk per stream). */
  private served: { at: number, bytes: Promise<Uint8Array | null>, until: number } | null = null

  private async packageBytes (at: number): Promise<Uint8Array | null> {
    const now = this.o.now()
    if (this.served == null || this.served.at !== at || this.served.until < now) {
      const bytes = this.o.checkpoints.newest().then(n => n?.meta.at === at ? n.bytes : null)
      this.served = { at, bytes, until: now + SERVED_CACHE_MS }
      bytes.catch(() => { this.served = null })
    }
    return await this.served.bytes
  }

  // ---- signing duty (S18, S21) ----

  /** One step of the duty; runs one at a time. Exposed for tests. */
  async tick (): Promise<void> {
    if (this.closed) return
    // a signature that completes the quorum while a step runs must not wait for the next tick
    if (this.busy) { this.again = true; return }
    this.busy = true
    try {
      do {
        this.again = false
        await this.step()
      } while (this.again && !this.closed)
    } catch (err) {
      this.o.log?.(`checkpoint duty: ${(err as Error).message}`)
    } finally {
      this.busy = false
    }
  }

  private again = false

  private async step (): Promise<void> {
    // gossip is lost for peers that were not subscribed yet: a validator says its newest
    // signature again every few ticks, so a peer that missed it still reaches the quorum
    const last = this.lastSig
    if (last != null && this.o.now() - last.sentAt >= 5 * this.o.tickMs) {
      last.sentAt = this.o.now()
      await this.publishSig(last.msg)
    }
    // a cut that reached the quorum is stored even when the grid has moved on meanwhile
    if (this.cut != null && this.cut.c.at > (this.base?.meta.at ?? 0) && this.cut.sigs.size >= this.quorum()) { await this.finish(this.cut); return }
    const engine = this.host.engine
    if (engine.epoch().n > 0) return // S17: not after a validator change yet
    const at = latestCutTime(this.o.ctx.genesis.time, this.o.intervalMs, this.o.now() - this.o.ripeMs)
    if (at == null || at <= (this.base?.meta.at ?? 0)) return
    const validator = engine.isValidator(this.o.did)
    const foreign = this.held.get(at)
    if (!validator && foreign == null) return // others' signatures come first
    const now = this.o.now()
    const stale = this.cut == null || this.cut.c.at !== at ||
      (now - this.cut.made >= RECOMPUTE_MS && [...(foreign?.values() ?? [])].some(s => s.body !== this.cut?.hash) && this.cut.sigs.size < this.quorum())
    if (stale) {
      const c = checkpointCutAt(engine, at)
      if (c == null) return
      const hash = bodyHash(c.body)
      const sigs = this.cut?.c.at === at && this.cut.hash === hash ? this.cut.sigs : new Map<Did, Uint8Array>()
      this.cut = { c, hash, made: now, sigs }
    }
    const cut = this.cut
    if (cut == null) return
    // deterministic (a function of the body): every honest peer skips the same cuts
    if (cut.c.body.height - (this.base?.meta.height ?? 0) < this.o.minBlocks) return
    if (validator && this.signed.get(at) !== cut.hash) {
      let seed: Uint8Array | null = null
      try { seed = this.o.seed() } catch { /* locked: nothing to sign with */ }
      if (seed != null) {
        const [, sig] = signCheckpoint(cut.c.body, this.o.did, seed)
        cut.sigs.set(this.o.did, sig)
        this.signed.set(at, cut.hash)
        this.lastSig = { msg: { at, body: cut.hash, sig }, sentAt: this.o.now() }
        await this.publishSig(this.lastSig.msg)
      }
    }
    this.collect(at)
    if (cut.sigs.size >= this.quorum()) await this.finish(cut)
  }

  private lastSig: { msg: CheckpointSigMessage, sentAt: number } | null = null

  private async publishSig (msg: CheckpointSigMessage): Promise<void> {
    await this.net?.publish(checkpointSigTopic(this.o.ctx.allianceId), encodeCheckpointSig(msg)).catch((err: unknown) => {
      this.o.log?.(`checkpoint signature gossip failed: ${(err as Error).message}`)
    })
  }

  private quorum (): number {
    return quorumOfSet(this.o.ctx.genesis.founders.length)
  }

  /** Moves held signatures over this peer's body into the cut's set. */
  private collect (at: number): void {
    const cut = this.cut
    const held = this.held.get(at)
    if (cut == null || cut.c.at !== at || held == null) return
    const bytes = checkpointSigningBytes(cut.c.body)
    for (const [did, s] of held) {
      if (s.body !== cut.hash || cut.sigs.has(did)) continue
      held.delete(did)
      if (verify(publicKeyFromDid(did), bytes, s.sig)) cut.sigs.set(did, s.sig)
      else this.blame(did, CheckpointWireCode.BAD_SIG)
    }
  }

  private onSig (data: Uint8Array, from: Did): void {
    try {
      const m = decodeCheckpointSig(data)
      if (!this.o.ctx.genesis.founders.some(f => f.did === from)) throw new AllianceError(CheckpointWireCode.BAD_SIG, 'a checkpoint signature from a non-validator')
      if (!isCutTime(this.o.ctx.genesis.time, this.o.intervalMs, m.at)) throw new AllianceError(CheckpointWireCode.BAD_SIG, 'a checkpoint signature off the grid')
      // a cut not ripe yet here (clocks differ) or older than what we hold: kept or dropped, no fault
      if (m.at <= (this.base?.meta.at ?? 0) || m.at > this.o.now() + this.o.ctx.genesis.maxClockSkewMs) return
      // bounded: signatures of the newest cut time only, one per validator
      for (const at of this.held.keys()) if (at < m.at) this.held.delete(at)
      if ([...this.held.keys()].some(at => at > m.at)) return
      const held = this.held.get(m.at) ?? new Map<Did, HeldSig>()
      held.set(from, { body: m.body, sig: m.sig })
      this.held.set(m.at, held)
      this.collect(m.at)
      if (this.cut?.c.at !== m.at || (this.cut.sigs.size >= this.quorum())) void this.tick()
    } catch (err) {
      this.blame(from, err instanceof AllianceError ? err.code : CheckpointWireCode.BAD_SIG)
    }
  }

  private blame (did: Did, code: string): void {
    try { this.net?.reportMisbehaviour(peerIdStringFromDid(did), code) } catch { /* not a did:key */ }
  }

  /** Quorum reached: store the package, then prune to it (S19, S22). */
  private async finish (cut: { c: CheckpointCut, hash: string, sigs: Map<Did, Uint8Array> }): Promise<void> {
    const ids = cut.c.body.retained.filter(id => this.base?.bytes.has(id) !== true)
    const fromStore = await this.o.store.getBlocksBytes(ids)
    const have = new Map<BlockId, Uint8Array>(this.base?.bytes ?? [])
    ids.forEach((id, i) => { const b = fromStore[i]; if (b != null) have.set(id, b) })
    const pkg = packageOfCut(cut.c, [...cut.sigs].sort((a, b) => (a[0] < b[0] ? -1 : 1)), id => have.get(id))
    const bytes = encodeCheckpointPackage(pkg)
    const tailFrom = await this.tailFrom(cut.c)
    const meta: CheckpointMeta = { alliance: this.o.ctx.allianceId, at: cut.c.at, height: cut.c.body.height, time: cut.c.body.time, state: cut.c.body.state, body: cut.hash, tailFrom, bytes: bytes.byteLength }
    await this.o.checkpoints.put({ meta, bytes })
    this.served = null
    this.o.log?.(`checkpoint at ${new Date(meta.at).toISOString()}: ${meta.height} blocks, ${cut.sigs.size} signatures, ${(meta.bytes / 1024).toFixed(0)} KiB`)
    this.cut = null
    this.held.delete(cut.c.at)
    if (this.o.prune) {
      await this.pruneTo(pkg, meta)
      await this.pruneDisk()
    } else {
      this.base = { meta, bytes: retainedBytes(pkg) }
    }
  }

  /**
   * The first position in this peer's store of a block outside the cut: from the previous
   * package's tail on (everything before it was in that cut, which this one contains).
   * Conservative: a stored block the engine no longer holds (pruned below a cut) ends it.
   */
  private async tailFrom (c: CheckpointCut): Promise<number> {
    let at = this.base?.meta.tailFrom ?? 0
    for (;;) {
      const ids = await this.o.store.blockIdsFrom(at, 2000)
      const i = ids.findIndex(id => !c.members.has(id))
      if (i >= 0) return at + i
      if (ids.length < 2000) return at + ids.length
      at += ids.length
    }
  }

  /**
   * S22: the engine from `pkg` plus the stored tail, swapped in only if it holds everything
   * the old engine held outside the cut and reaches the same state digest; blocks that came
   * in while the tail was read make it try again.
   */
  private async pruneTo (pkg: CheckpointPackage, meta: CheckpointMeta): Promise<void> {
    for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
      const old = this.host.engine
      const mark = `${old.stats().blocks}/${old.stats().orphans}`
      await this.host.whenWritten()
      const { engine } = await openFromCheckpoint(this.o.store, this.o.ctx, pkg, { now: this.o.now(), tailFrom: meta.tailFrom })
      if (this.host.engine !== old || `${old.stats().blocks}/${old.stats().orphans}` !== mark) continue
      if (engineState(engine).digest() !== engineState(old).digest()) {
        this.o.log?.('pruned engine disagrees on the state digest: kept the full one')
        this.base = { meta, bytes: retainedBytes(pkg) }
        return
      }
      this.host.replaceEngine(engine)
      this.base = { meta, bytes: retainedBytes(pkg) }
      return
    }
    this.base = { meta, bytes: retainedBytes(pkg) }
  }

  // ---- joining (S20) ----

  /**
   * Before a sync with a new peer: where in its storage order to start. A fresh peer first
   * joins from the peer's package (once verified); a peer holding the same package as ours
   * is synced from its tail. Null: from the start (no checkpoint in common).
   */
  async syncFrom (did: Did, peerId: string): Promise<number | null> {
    if (this.closed || this.net == null || this.refused.has(peerId)) return null
    const net = this.net
    const client = new CheckpointClient(async (signal) => await net.dialProtocol(did, CHECKPOINT_PROTOCOL, { signal }))
    let info: CheckpointInfo | null
    try {
      info = await client.info()
    } catch (err) {
      if (err instanceof AllianceError) this.refuse(peerId, err.code)
      return null
    }
    if (info == null) return null
    if (info.body === this.base?.meta.body) return info.tailFrom
    if (!await this.isFresh()) return null
    if (this.joining != null) { await this.joining.catch(() => {}); return this.base?.meta.body === info.body ? info.tailFrom : null }
    const run = this.join(client, info, peerId)
    this.joining = run
    try {
      await run
    } finally {
      this.joining = null
    }
    return this.base?.meta.body === info.body ? info.tailFrom : null
  }

  /** Nothing stored and nothing in the engine: a join replaces nothing. */
  private async isFresh (): Promise<boolean> {
    return this.base == null && this.host.engine.stats().blocks === 0 && await this.o.store.blockCount() === 0
  }

  private async join (client: CheckpointClient, info: CheckpointInfo, peerId: string): Promise<void> {
    const t0 = Date.now()
    let bytes: Uint8Array | null
    try {
      bytes = await client.download(info)
    } catch (err) {
      if (err instanceof AllianceError) this.refuse(peerId, err.code)
      else this.o.log?.(`checkpoint download from ${peerId} failed: ${(err as Error).message}`)
      return
    }
    if (bytes == null) return
    const t1 = Date.now()
    // S31: the state's LtHash runs in workers while this thread decodes and checks the rest;
    // a package refused for its signatures wastes at most that one hash (its peer is not asked again)
    const hashing = this.o.hasher.offThread ? this.o.hasher.commitment(bytes) : null
    hashing?.catch(() => {})
    let engine: LedgerEngine
    let pkg: CheckpointPackage
    let decoded = t1
    let hashed = t1
    try {
      pkg = decodeCheckpointPackage(bytes)
      decoded = Date.now()
      const stateCommitment = hashing != null ? await hashing : undefined
      hashed = Date.now()
      engine = joinFromCheckpoint(this.o.ctx, pkg, { now: this.o.now(), ...(stateCommitment != null ? { stateCommitment } : {}) })
    } catch (err) {
      this.refuse(peerId, err instanceof AllianceError ? err.code : CheckpointWireCode.BAD)
      return
    }
    const t2 = Date.now()
    const body = joinedFrom(engine) as CheckpointBody
    const hash = bodyHash(body)
    if (hash !== info.body || body.height !== info.height) { this.refuse(peerId, CheckpointWireCode.BAD); return }
    // the join is the only time the engine is replaced while nothing is stored: check again
    if (!await this.isFresh()) return
    const meta: CheckpointMeta = { alliance: this.o.ctx.allianceId, at: info.at, height: body.height, time: body.time, state: body.state, body: hash, tailFrom: 0, bytes: bytes.byteLength }
    await this.o.checkpoints.put({ meta, bytes })
    this.served = null
    this.base = { meta, bytes: retainedBytes(pkg) }
    this.host.replaceEngine(engine)
    this.o.log?.(`joined from a checkpoint of ${body.height} blocks (${(bytes.byteLength / 1024).toFixed(0)} KiB) from ${peerId}: download ${t1 - t0} ms, verify and build ${t2 - t1} ms (decode ${decoded - t1}, then waiting for the state hash ${hashed - decoded}, join ${t2 - hashed}), store ${Date.now() - t2} ms`)
  }

  private refuse (peerId: string, code: string): void {
    this.refused.add(peerId)
    this.o.log?.(`checkpoint from ${peerId} refused: ${code}`)
    this.net?.reportMisbehaviour(peerId, code)
  }
}

/** The base's retained blocks by id: the next package names many of them again. */
function retainedBytes (pkg: CheckpointPackage): Map<BlockId, Uint8Array> {
  return new Map(pkg.retained.map(b => [blockIdOf(b) as BlockId, b]))
}
