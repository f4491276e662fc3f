/**
 * Ledger peers over the real mesh, for the ledger integration test and the ledger benches: an
 * AllianceNet (real relay, WebRTC through node-datachannel) plus a LedgerService on an
 * in-memory store with the in-thread miner; and crafted invalid blocks, each breaking one
 * rule (SPEC.md L5–L14), built with the core's `prepareBlock`/`sealBlock` plus mutations.
 */
import { randomBytes } from '@noble/hashes/utils.js'
import { encode } from '../../src/core/codec.ts'
import { didFromPublicKey, generateKeyPair, libp2pPrivateKey, sign } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import {
  LedgerErrorCode, foundGenesis, blockIdOf, checkPow, createLedgerContext, encodeBlock, mineSync, powHeaderOf,
  prepareBlock, sealBlock, signingBytes
} from '../../src/core/ledger/index.ts'
import type { BlockCore, BlockId, LedgerContext, Tx } from '../../src/core/ledger/index.ts'
import { createAllianceNet } from '../../src/net/node.ts'
import type { AllianceNet, AllianceNetOptions } from '../../src/net/node.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import type { LedgerServiceOptions } from '../../src/peer/ledger-service.ts'
import { inThreadMiner } from '../../src/peer/miner.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import type { MemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { logger } from './helpers.ts'

export interface LedgerPeer {
  readonly name: string
  readonly seed: Uint8Array
  readonly did: Did
  readonly net: AllianceNet
  readonly store: MemoryLedgerStore
  readonly ledger: LedgerService
  /** Stops the ledger, then the net (idempotent). */
  stop: () => Promise<void>
}

export interface LedgerPeerOptions {
  ctx: LedgerContext
  relays: string[]
  seed?: Uint8Array
  net?: Partial<AllianceNetOptions>
  ledger?: Partial<Omit<LedgerServiceOptions, 'ctx' | 'store' | 'did' | 'seed'>>
  /** A store to open (e.g. pre-filled); default a new in-memory one. */
  store?: MemoryLedgerStore
}

/** An AllianceNet with the same settings as `startPeers` (helpers.ts), but a known seed. */
export async function startNet (name: string, relays: string[], seed: Uint8Array, extra: Partial<AllianceNetOptions> = {}, beforeStart?: (net: AllianceNet) => Promise<void>): Promise<AllianceNet> {
  const net = await createAllianceNet({
    privateKey: libp2pPrivateKey(seed),
    relays,
    discoveryIntervalMs: 3_000,
    log: logger(name),
    ...extra
  })
  await beforeStart?.(net)
  await net.start()
  return net
}

/** A peer with a ledger: net started, ledger opened and started on it. */
export async function startLedgerPeer (name: string, opts: LedgerPeerOptions): Promise<LedgerPeer> {
  const seed = opts.seed ?? randomBytes(32)
  const did = didFromPublicKey(generateKeyPair(seed).publicKey)
  const store = opts.store ?? createMemoryLedgerStore()
  const net = await startNet(name, opts.relays, seed, opts.net)
  const log = logger(`${name}/ledger`)
  let ledger: LedgerService
  try {
    ledger = await LedgerService.open({ ctx: opts.ctx, store, did, seed: () => seed, miner: inThreadMiner, log, ...opts.ledger })
    await ledger.start(net)
  } catch (err) {
    await net.stop()
    throw err
  }
  let stopped = false
  return {
    name,
    seed,
    did,
    net,
    store,
    ledger,
    stop: async () => {
      if (stopped) return
      stopped = true
      await ledger.stop().catch(() => {})
      await net.stop().catch(() => {})
    }
  }
}

export async function stopLedgerPeers (peers: Array<{ stop: () => Promise<void> } | undefined>): Promise<void> {
  await Promise.allSettled(peers.map(async p => { await p?.stop() }))
}

/** Same stateHash, and this many members, on every peer. */
export function sameState (peers: LedgerPeer[]): string | null {
  const hashes = new Set(peers.map(p => p.ledger.stats().stateHash))
  return hashes.size === 1 ? [...hashes][0] : null
}

/** Ids of the confirmed blocks that carry transactions (empty witness blocks left out). */
export function confirmedTxBlocks (p: LedgerPeer): string[] {
  return p.ledger.engine.confirmedIds().filter(id => (p.ledger.engine.blockInfo(id)?.txs.length ?? 0) > 0).sort()
}

// ---- invalid blocks ------------------------------------------------------------------------

export interface CraftedBlock {
  /** The rejection code a receiver must give it. */
  readonly code: string
  readonly id: BlockId
  readonly bytes: Uint8Array
}

/** A nonce that does NOT reach `difficulty` for `header`. */
function failingNonce (header: Uint8Array, difficulty: number): number {
  let n = 0
  while (checkPow(header, n, difficulty)) n++
  return n
}

function crafted (code: string, bytes: Uint8Array): CraftedBlock {
  return { code, id: blockIdOf(bytes), bytes }
}

/** Another alliance of one random validator: blocks of it are ERR_WRONG_ALLIANCE here. */
let foreign: LedgerContext | null = null
function foreignAlliance (): LedgerContext {
  const founder = didFromPublicKey(generateKeyPair(randomBytes(32)).publicKey)
  foreign ??= createLedgerContext(foundGenesis({ name: 'some other alliance', chains: ['home'], founders: [{ did: founder, chain: 'home' }], difficulty: 8, time: 1735689600000 }))
  return foreign
}

/**
 * An invalid block of kind `kind`, by the key `seed`, unique by `n` (block time and payload
 * vary with it, so every block has its own id and gossip message id). Blocks approve the
 * genesis twice at seq 1, which is valid (L12): each breaks exactly the rule named.
 */
export function craftInvalidBlock (ctx: LedgerContext, seed: Uint8Array, kind: InvalidKind, n: number, now: number): CraftedBlock {
  const issuer = didFromPublicKey(generateKeyPair(seed).publicKey)
  const G = ctx.allianceId as BlockId
  // each opens with a join (naming no real admission), so the bare-header check (L18) lets it on to the rule it breaks
  const join: Tx = { type: 'member.join', admits: [`${G}/0`] }
  const base = { genesis: ctx, issuer, chain: ctx.genesis.chains[0], seq: 1, prev: null, parents: [G, G] as const, time: now - 1000 + (n % 500), txs: [join] }
  switch (kind) {
    case 'bad-signature': {
      // a valid block whose signature is then flipped in one bit (L10)
      const p = prepareBlock(base)
      const b = sealBlock(ctx, p, mineSync(p.header, p.difficulty), seed).block
      const sig = b.sig.slice()
      sig[n % 64] ^= 0x01
      return crafted(LedgerErrorCode.BAD_SIGNATURE, encodeBlock({ ...b, sig }))
    }
    case 'low-pow': {
      // correctly signed, but the nonce does not reach the difficulty (L9)
      const p = prepareBlock(base)
      const unsigned = { ...p.core, nonce: failingNonce(p.header, p.difficulty) }
      return crafted(LedgerErrorCode.BAD_POW, encodeBlock({ ...unsigned, sig: sign(seed, signingBytes(unsigned)) }))
    }
    case 'future-time': {
      // valid in every other way, one hour ahead of the receiver's clock (L13)
      const p = prepareBlock({ ...base, time: now + 3_600_000 + n })
      return crafted(LedgerErrorCode.FUTURE_TIME, sealBlock(ctx, p, mineSync(p.header, p.difficulty), seed).bytes)
    }
    case 'malformed': {
      // a map that is not a block (L5)
      return crafted(LedgerErrorCode.MALFORMED, encode({ v: 1, hello: 'not a block', n }))
    }
    case 'malformed-extra-field': {
      // a correctly mined and signed block with one field too many (L5)
      const p = prepareBlock(base)
      const b = sealBlock(ctx, p, mineSync(p.header, p.difficulty), seed).block
      return crafted(LedgerErrorCode.MALFORMED, encode({ ...b, extra: n }))
    }
    case 'wrong-alliance': {
      // a valid block of another alliance (L8)
      const other = foreignAlliance()
      const oG = other.allianceId as BlockId
      const p = prepareBlock({ ...base, genesis: other, parents: [oG, oG] })
      return crafted(LedgerErrorCode.WRONG_ALLIANCE, sealBlock(other, p, mineSync(p.header, p.difficulty), seed).bytes)
    }
    case 'unknown-tx': {
      // prepareBlock refuses an unregistered type, so this one is built by hand (L14)
      const core: BlockCore = { ...prepareBlock(base).core, txs: [join, { type: 'mint', amount: 1_000_000 + n }] }
      const unsigned = { ...core, nonce: mineSync(powHeaderOf(core), core.difficulty) }
      return crafted(LedgerErrorCode.UNKNOWN_TX, encodeBlock({ ...unsigned, sig: sign(seed, signingBytes(unsigned)) }))
    }
    case 'too-large': {
      // over 64 KiB: refused before decoding (L7)
      const bytes = new Uint8Array(64 * 1024 + 64)
      bytes.set(encode({ n }))
      return crafted(LedgerErrorCode.TOO_LARGE, bytes)
    }
  }
}

export const INVALID_KINDS = ['bad-signature', 'low-pow', 'future-time', 'malformed', 'malformed-extra-field', 'wrong-alliance', 'unknown-tx', 'too-large'] as const
export type InvalidKind = typeof INVALID_KINDS[number]
