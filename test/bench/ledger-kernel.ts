/**
 * Ledger bench kernels that run the same in Node and (bundled) in Chromium: a realistic DAG
 * generator (adapted from test/fixtures/ledger-bench.ts), validate + store throughput through
 * the engine and a `LedgerStore`, the raw Ed25519 verify rate over the same blocks' signing
 * bytes, proof-of-work timing through any `Miner`, and filling a store the way a peer would
 * have (validated blocks, batches, a checkpoint). No Node or DOM imports.
 */
import { decode, encode } from '../../src/core/codec.ts'
import { checkPow } from '../../src/core/ledger/pow.ts'
import { describeBlock } from '../../src/store/ledger.ts'
import type { VerifyPool } from '../../src/peer/verify-pool.ts'
import { didFromPublicKey, generateKeyPair, publicKeyFromDid, verify } from '../../src/core/identity.ts'
import {
  LedgerEngine, blockIdOf, createBlock, mine, powHeaderOf, signingBytes, validateBlockBytes
} from '../../src/core/ledger/index.ts'
import type { BlockCore, BlockId, LedgerContext, Tx, ValidatedBlock } from '../../src/core/ledger/index.ts'
import type { LedgerStore } from '../../src/store/ledger.ts'
import { persistBatch, writeCheckpoint } from '../../src/store/ledger-loader.ts'
import type { Miner } from '../../src/peer/miner.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import { key, prng } from '../fixtures/ledger-helpers.ts'

export interface DagOptions {
  /** Distinct issuers taking turns: the bench alliance's validators (test/fixtures/bench-alliance.ts). */
  issuers: number
  /** Sign (and mine at the alliance's difficulty); false: a zero signature, for the trusted path only. */
  sign: boolean
  /** With `sign`: only blocks from this index on are signed (a checkpoint's tail; the rest stand in, trusted). */
  signFrom?: number
  /** First key number (test/fixtures `key(n)`). */
  keyBase?: number
  seed?: number
  onProgress?: (done: number) => void
  /**
   * Each block also receives the claims paid to its issuer at least 3 rounds earlier (L28), so
   * claims close and a checkpoint's retained set stays small (S16); off by default (the
   * cached 10,000-block file and the older figures were made without).
   */
  receive?: boolean
}

/**
 * `count` blocks of a realistic DAG: issuers in turn, each approving two random recent blocks
 * of others, each block after an issuer's admission carrying a small transfer to the next
 * issuer (so balances stay positive). Block times are the genesis time + n ms.
 */
export function makeDag (ctx: LedgerContext, count: number, opts: DagOptions): ValidatedBlock[] {
  const G = ctx.allianceId as BlockId
  const rand = prng(opts.seed ?? 42)
  const keys = Array.from({ length: opts.issuers }, (_, i) => key((opts.keyBase ?? 200) + i))
  const chains = ctx.genesis.chains
  const heads: Array<{ id: BlockId, seq: number } | null> = keys.map(() => null)
  const blocks: ValidatedBlock[] = []
  const zeroSig = new Uint8Array(64)
  const owed: Array<Array<{ key: string, at: number }>> = keys.map(() => [])
  for (let n = 0; n < count; n++) {
    const i = n % keys.length
    const recent = blocks.slice(-2 * keys.length).filter(b => b.block.issuer !== keys[i].did)
    const p0 = recent.length > 0 ? recent[Math.floor(rand() * recent.length)].id : G
    let p1 = recent.length > 1 ? recent[Math.floor(rand() * recent.length)].id : G
    if (p1 === p0 && p0 !== G) p1 = recent.find(b => b.id !== p0)?.id ?? G
    const head = heads[i]
    const next = (i + 1) % keys.length
    const txs: Tx[] = head == null
      ? [{ type: 'credential.anchor', hash: (i + 1).toString(16).padStart(64, '0') }]
      : [{ type: 'transfer', to: keys[next].did, amount: 1 + Math.floor(rand() * 2), toChain: chains[next % chains.length] }]
    if (opts.receive === true && head != null) {
      const due = owed[i].filter(c => c.at <= n - 3 * keys.length).slice(0, 64)
      if (due.length > 0) {
        txs.push({ type: 'receive', claims: due.map(c => c.key) })
        owed[i] = owed[i].slice(due.length)
      }
    }
    const input = { seed: keys[i].seed, genesis: ctx, chain: chains[i % chains.length], seq: (head?.seq ?? 0) + 1, prev: head?.id ?? null, parents: [p0, p1] as [BlockId, BlockId], time: ctx.genesis.time + 1 + n * 200, txs }
    let v: ValidatedBlock
    if (opts.sign && n >= (opts.signFrom ?? 0)) {
      v = createBlock(input)
    } else {
      const core: BlockCore = { v: 1, alliance: ctx.allianceId, chain: input.chain, issuer: keys[i].did, seq: input.seq, prev: input.prev, parents: input.parents, time: input.time, txs, difficulty: ctx.genesis.difficulty }
      const r = mine(powHeaderOf(core), core.difficulty)
      const block = { ...core, nonce: r.found ? r.nonce : 0, sig: zeroSig }
      const bytes = encode(block)
      v = { id: blockIdOf(bytes), bytes, block, crossChain: false }
    }
    heads[i] = { id: v.id, seq: v.block.seq }
    if (head != null) owed[next].push({ key: `${v.id}/0`, at: n })
    blocks.push(v)
    if (opts.onProgress != null && (n + 1) % 500 === 0) opts.onProgress(n + 1)
  }
  return blocks
}

/** A list of block bytes as one dag-cbor file `{v: 1, alliance, blocks}`. */
export function encodeBlockFile (alliance: string, blocks: readonly Uint8Array[]): Uint8Array {
  return encode({ v: 1, alliance, blocks })
}

export function decodeBlockFile (bytes: Uint8Array, alliance: string): Uint8Array[] {
  const v = decode<{ v?: unknown, alliance?: unknown, blocks?: unknown }>(bytes, 64 * 1024 * 1024)
  if (v?.v !== 1 || v.alliance !== alliance || !Array.isArray(v.blocks) || !v.blocks.every(b => b instanceof Uint8Array)) {
    throw new Error('not a block file of this alliance')
  }
  return v.blocks as Uint8Array[]
}

/** Raw Ed25519 verifications per second over the signing bytes of `blocks` (noble). */
export function verifyRate (ctx: LedgerContext, blocks: readonly Uint8Array[]): number {
  const msgs = blocks.map(b => {
    const v = validateBlockBytes(b, ctx, { now: Number.MAX_SAFE_INTEGER, trusted: true }).block
    const { sig, ...unsigned } = v
    return { pub: publicKeyFromDid(v.issuer), msg: signingBytes(unsigned), sig }
  })
  const t0 = performance.now()
  for (const m of msgs) if (!verify(m.pub, m.msg, m.sig)) throw new Error('a bench block does not verify')
  return msgs.length / ((performance.now() - t0) / 1000)
}

export interface IngestFigures { blocks: number, ms: number, perSecond: number, confirmed: number, stored: number }

/**
 * Untrusted blocks through the engine alone (every signature checked by @noble in
 * `validateBlockBytes`), each batch then stored in one transaction (`persistBatch`).
 */
export async function engineValidateAndStore (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { batch?: number, now: number }): Promise<IngestFigures> {
  const engine = new LedgerEngine(ctx)
  const batch = opts.batch ?? 256
  const t0 = performance.now()
  for (let i = 0; i < blocks.length; i += batch) {
    const r = engine.addMany(blocks.slice(i, i + batch), { now: opts.now })
    const bad = r.results.find(x => x.kind === 'rejected')
    if (bad != null && bad.kind === 'rejected') throw new Error(`bench block rejected: ${bad.error.code} ${bad.error.message}`)
    await persistBatch(store, r)
  }
  const ms = performance.now() - t0
  return { blocks: blocks.length, ms, perSecond: blocks.length / (ms / 1000), confirmed: engine.stats().confirmed, stored: await store.blockCount() }
}

/**
 * Untrusted blocks as a peer takes them from sync: `LedgerService.ingest` per batch (the
 * signatures verified in bulk through WebCrypto where it has Ed25519, then the engine, then
 * one store transaction per batch, history index and checkpoints included).
 */
export async function serviceValidateAndStore (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { batch?: number, now: number }): Promise<IngestFigures> {
  const seed = crypto.getRandomValues(new Uint8Array(32))
  const did = didFromPublicKey(generateKeyPair(seed).publicKey)
  const noMining: Miner = async () => { throw new Error('this bench makes no blocks') }
  const service = await LedgerService.open({ ctx, store, did, seed: () => seed, miner: noMining, now: () => opts.now })
  const batch = opts.batch ?? 256
  try {
    const t0 = performance.now()
    for (let i = 0; i < blocks.length; i += batch) await service.ingest(blocks.slice(i, i + batch))
    const ms = performance.now() - t0
    const rejected = service.stats().rejectedInputs
    if (Object.keys(rejected).length > 0) throw new Error(`bench blocks rejected: ${JSON.stringify(rejected)}`)
    return { blocks: blocks.length, ms, perSecond: blocks.length / (ms / 1000), confirmed: service.stats().confirmed, stored: await store.blockCount() }
  } finally {
    await service.stop()
  }
}

/**
 * Untrusted blocks as sync feeds them: `LedgerService.pull` from an in-process peer that
 * lists and serves `blocks` (no network): the sync pipeline with several replies of 256 in
 * the verify pool while earlier ones go through the engine and the store.
 */
export async function servicePull (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { now: number }): Promise<IngestFigures> {
  const seed = crypto.getRandomValues(new Uint8Array(32))
  const did = didFromPublicKey(generateKeyPair(seed).publicKey)
  const noMining: Miner = async () => { throw new Error('this bench makes no blocks') }
  const ids = blocks.map(b => blockIdOf(b))
  const byId = new Map(ids.map((id, i) => [id as string, blocks[i]]))
  const peer = {
    inventory: async (from: number, limit = 2000) => ({ ids: ids.slice(from, from + limit), next: from + limit < ids.length ? from + limit : null, total: ids.length }),
    getBlocks: async (want: string[]) => want.map(id => byId.get(id)).filter((b): b is Uint8Array => b != null)
  }
  const service = await LedgerService.open({ ctx, store, did, seed: () => seed, miner: noMining, now: () => opts.now })
  try {
    const t0 = performance.now()
    const r = await service.pull(peer)
    const ms = performance.now() - t0
    const rejected = service.stats().rejectedInputs
    if (!r.complete || Object.keys(rejected).length > 0) throw new Error(`bench pull incomplete or rejected: ${JSON.stringify(rejected)}`)
    return { blocks: blocks.length, ms, perSecond: blocks.length / (ms / 1000), confirmed: service.stats().confirmed, stored: await store.blockCount() }
  } finally {
    await service.stop()
  }
}

/**
 * Fills `store` with `blocks` as the peer that validated them would have stored them: engine
 * batches (trusted: they are ours), one transaction per batch, a checkpoint every
 * `checkpointEvery` blocks (the service's default is 1,000). Returns the engine.
 */
export async function fillStore (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { now: number, batch?: number, checkpointEvery?: number, checkpointAt?: number }): Promise<LedgerEngine> {
  const engine = new LedgerEngine(ctx)
  const batch = opts.batch ?? 500
  let lastCheckpoint = 0
  for (let i = 0; i < blocks.length; i += batch) {
    const r = engine.addMany(blocks.slice(i, i + batch), { now: opts.now, trusted: true })
    await persistBatch(store, r)
    const count = engine.stats().blocks
    const due = opts.checkpointAt != null ? (count === opts.checkpointAt) : (opts.checkpointEvery != null && count - lastCheckpoint >= opts.checkpointEvery)
    if (due) {
      lastCheckpoint = count
      await writeCheckpoint(store, engine)
    }
  }
  return engine
}

export interface Distribution { n: number, median: number, p95: number, mean: number, max: number }

export function distribution (xs: readonly number[]): Distribution {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  const median = s.length % 2 === 1 ? s[s.length >> 1] : (s[(s.length >> 1) - 1] + s[s.length >> 1]) / 2
  return { n: s.length, median, p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s[s.length - 1] }
}

/** Milliseconds per block of `miner` at `difficulty`, over `n` fresh random headers. */
export async function powTimes (miner: Miner, difficulty: number, n: number): Promise<Distribution> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const header = crypto.getRandomValues(new Uint8Array(32))
    const t0 = performance.now()
    await miner(header, difficulty)
    times.push(performance.now() - t0)
  }
  return distribution(times)
}

export interface IngestSplit {
  blocks: number
  /** Stateless checks without the signature (decode, shape, canonical form, PoW, id): `validateBlockBytes(…, signatureChecked)`. */
  statelessMs: number
  /** `verifyBlockSignatures` (bulk WebCrypto) on the calling thread. */
  signatureMs: number
  /** `engine.addValidated` of the pre-validated blocks (contextual checks, insert, weights, confirmation, replay). */
  engineMs: number
  /** `persistBatch` into `store` (one transaction per batch). */
  storeMs: number
}

/**
 * Where validate + store spends its time: the same batches, each phase timed on its own
 * (the phases run one after the other, as the service runs them).
 */
export async function ingestSplit (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { batch?: number, now: number, verify: (b: readonly Uint8Array[]) => Promise<unknown> }): Promise<IngestSplit> {
  const engine = new LedgerEngine(ctx)
  const batch = opts.batch ?? 256
  const split = { blocks: blocks.length, statelessMs: 0, signatureMs: 0, engineMs: 0, storeMs: 0 }
  for (let i = 0; i < blocks.length; i += batch) {
    const part = blocks.slice(i, i + batch)
    let t = performance.now()
    await opts.verify(part)
    split.signatureMs += performance.now() - t
    t = performance.now()
    const validated = part.map(b => validateBlockBytes(b, ctx, { now: opts.now, signatureChecked: true }))
    split.statelessMs += performance.now() - t
    t = performance.now()
    const r = engine.addValidated(validated)
    split.engineMs += performance.now() - t
    const bad = r.results.find(x => x.kind === 'rejected')
    if (bad != null && bad.kind === 'rejected') throw new Error(`bench block rejected: ${bad.error.code} ${bad.error.message}`)
    t = performance.now()
    await persistBatch(store, r)
    split.storeMs += performance.now() - t
  }
  return split
}

export interface ServiceSplit {
  blocks: number
  /** Per phase, ms summed over all blocks (phases measured one by one on the page's thread, unless said). */
  decodeMs: number
  /** blockIdOf: the CID's sha-256 over the bytes. */
  cidMs: number
  /** encode(decoded) compared with the bytes (canonical form). */
  canonicalMs: number
  /** powHeaderOf + checkPow. */
  powMs: number
  /** validateBlockBytes(signatureChecked): decode + shape + cid + canonical + pow together. */
  statelessMs: number
  /** verifyBlockSignatures on this thread (decode + signing bytes + WebCrypto). */
  signatureMs: number
  /** pool.check wall time (workers: post, signatures + stateless there, clone back). */
  poolMs: number
  /** structuredClone of the pool's outcomes (one side of the copy to and from the worker). */
  cloneMs: number
  /** engine.addValidated. */
  engineMs: number
  /** describeBlock: the store decoding each block again for its index fields. */
  describeMs: number
  /** persistBatch: the store write, one transaction per batch. */
  storeMs: number
  /** writeCheckpoint every `checkpointEvery` blocks (as the service does). */
  checkpointMs: number
  /** Blocks the pool passed whole (the rest only by signature: the page re-checks the stateless rules). */
  poolWhole: number
}

/**
 * Where the service path spends its time per block, phase by phase over the same batches
 * (issue 10): every stateless sub-step on its own, the pool round trip, the engine, the store.
 */
export async function serviceSplit (ctx: LedgerContext, blocks: readonly Uint8Array[], store: LedgerStore, opts: { batch?: number, now: number, pool: VerifyPool, verify: (b: readonly Uint8Array[]) => Promise<unknown>, checkpointEvery?: number }): Promise<ServiceSplit> {
  const engine = new LedgerEngine(ctx)
  const batch = opts.batch ?? 256
  const every = opts.checkpointEvery ?? 1000
  let lastCheckpoint = 0
  const s: ServiceSplit = { blocks: blocks.length, decodeMs: 0, cidMs: 0, canonicalMs: 0, powMs: 0, statelessMs: 0, signatureMs: 0, poolMs: 0, cloneMs: 0, engineMs: 0, describeMs: 0, storeMs: 0, checkpointMs: 0, poolWhole: 0 }
  const time = <T>(key: keyof Omit<ServiceSplit, 'blocks' | 'poolWhole'>, fn: () => T): T => { const t = performance.now(); const r = fn(); s[key] += performance.now() - t; return r }
  const timeAsync = async <T>(key: keyof Omit<ServiceSplit, 'blocks' | 'poolWhole'>, fn: () => Promise<T>): Promise<T> => { const t = performance.now(); const r = await fn(); s[key] += performance.now() - t; return r }
  for (let i = 0; i < blocks.length; i += batch) {
    const part = blocks.slice(i, i + batch)
    const decoded = time('decodeMs', () => part.map(b => decode<Record<string, unknown>>(b)))
    time('cidMs', () => part.map(b => blockIdOf(b)))
    time('canonicalMs', () => decoded.map(d => encode(d)))
    time('powMs', () => decoded.map(d => checkPow(powHeaderOf(d as unknown as BlockCore), d.nonce as number, d.difficulty as number)))
    const validated = time('statelessMs', () => part.map(b => validateBlockBytes(b, ctx, { now: opts.now, signatureChecked: true })))
    await timeAsync('signatureMs', async () => await opts.verify(part))
    const verdicts = await timeAsync('poolMs', async () => await opts.pool.check(ctx, part, opts.now))
    if (verdicts.some(v => v == null)) throw new Error('the pool did not pass every bench block')
    s.poolWhole += verdicts.filter(v => v !== 'sig').length
    time('cloneMs', () => structuredClone(validated.map(v => ({ id: v.id, block: v.block, crossChain: v.crossChain }))))
    const r = time('engineMs', () => engine.addValidated(validated))
    const bad = r.results.find(x => x.kind === 'rejected')
    if (bad != null && bad.kind === 'rejected') throw new Error(`bench block rejected: ${bad.error.code} ${bad.error.message}`)
    time('describeMs', () => r.inserted.map(b => describeBlock(b, -1)))
    await timeAsync('storeMs', async () => { await persistBatch(store, r) })
    const count = engine.stats().blocks
    if (count - lastCheckpoint >= every) {
      lastCheckpoint = count
      await timeAsync('checkpointMs', async () => { await writeCheckpoint(store, engine) })
    }
  }
  return s
}
