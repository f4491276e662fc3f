/**
 * Blocks: encoding, stateless validation and creation. A block is canonical dag-cbor; its id
 * is the CID of its bytes. Proof-of-work comes first (over the block without nonce and
 * signature, see pow.ts), then the issuer signs the block with its nonce. Stateless
 * validation (`validateBlockBytes`) checks everything that does not need other blocks: size,
 * shape, alliance, chain, founders' chains, transaction shapes, time skew, proof-of-work and
 * signature, cheapest first. It is pure and may run in a Worker. Checks against other blocks
 * (prev, parents, duplicates) are the engine's.
 */
import { cidOfBytes, decode, encode, sha256 } from '../codec.ts'
import { didFromPublicKey, generateKeyPair, publicKeyFromDid, sign, verify, SIGNATURE_BYTES } from '../identity.ts'
import type { Did } from '../identity.ts'
import { equalBytes, concatBytes } from '../bytes.ts'
import { fail, LedgerError, LedgerErrorCode } from './errors.ts'
import { expectBlockId, expectDid, expectInt, expectRecord, isRecord, notePassedBlockId } from './check.ts'
import { coreBytesOf, unsignedBytesOf } from './block-layout.ts'
import { genesisId, parseGenesis } from './genesis.ts'
import { checkPow, mineSync, POW_HEADER_BYTES } from './pow.ts'
import { defaultTxRegistry } from './tx.ts'
import type { TxCheckContext, TxRegistry } from './tx.ts'
import type { AllianceId, Block, BlockCore, BlockId, Genesis, Tx, UnsignedBlock } from './types.ts'

const E = LedgerErrorCode

export const BLOCK_LIMITS = {
  /** Encoded block. Bounds what one peer can make another decode, hash and keep. */
  maxBytes: 64 * 1024,
  /** Transactions per block. Bounds replay work per block. */
  maxTxs: 64
} as const

/** Signatures of blocks are domain-separated from every other use of the same Ed25519 key. */
export const BLOCK_SIG_DOMAIN: Uint8Array = new TextEncoder().encode('alliance-net/block/v1\n')

const BLOCK_KEYS = ['v', 'alliance', 'chain', 'issuer', 'seq', 'prev', 'parents', 'time', 'txs', 'difficulty', 'nonce', 'sig'] as const

/**
 * The validation context of one alliance, computed once: genesis, its id, founders' chains and
 * the transaction registry. Every peer of the alliance must use an equal registry.
 */
export interface LedgerContext {
  readonly genesis: Genesis
  readonly allianceId: AllianceId
  readonly registry: TxRegistry
  readonly founderChains: ReadonlyMap<string, string>
}

export function createLedgerContext (genesis: Genesis, registry: TxRegistry = defaultTxRegistry): LedgerContext {
  const g = parseGenesis(genesis)
  return {
    genesis: g,
    allianceId: genesisId(g),
    registry,
    founderChains: new Map(g.founders.map(f => [f.did as string, f.chain]))
  }
}

/** A block that passed stateless validation (or was just created). */
export interface ValidatedBlock {
  readonly id: BlockId
  readonly bytes: Uint8Array
  readonly block: Block
  /** Has a transaction that needs cross-chain approvals. */
  readonly crossChain: boolean
}

export function blockIdOf (bytes: Uint8Array): BlockId {
  const id = cidOfBytes(bytes).toString()
  // canonical CIDv1 dag-cbor sha2-256 by construction: a block naming it as a parent skips the parse (P10)
  notePassedBlockId(id)
  return id as BlockId
}

export function encodeBlock (block: Block): Uint8Array {
  return encode(block)
}

function withoutSig (block: UnsignedBlock | Block): UnsignedBlock {
  return {
    v: block.v, alliance: block.alliance, chain: block.chain, issuer: block.issuer, seq: block.seq,
    prev: block.prev, parents: block.parents, time: block.time, txs: block.txs,
    difficulty: block.difficulty, nonce: block.nonce
  }
}

function coreOf (block: BlockCore): BlockCore {
  return {
    v: block.v, alliance: block.alliance, chain: block.chain, issuer: block.issuer, seq: block.seq,
    prev: block.prev, parents: block.parents, time: block.time, txs: block.txs, difficulty: block.difficulty
  }
}

/** PoW header: sha-256 of the encoding of the block without nonce and signature. */
export function powHeaderOf (block: BlockCore): Uint8Array {
  return sha256(encode(coreOf(block)))
}

/** The bytes the issuer signs: domain tag || encoding of the block without `sig`. */
export function signingBytes (block: UnsignedBlock): Uint8Array {
  return concatBytes(BLOCK_SIG_DOMAIN, encode(withoutSig(block)))
}

/**
 * `signingBytes(block)` for `bytes` that are `encode(block)` (the caller checked the
 * canonical form), cut out of the bytes instead of encoding again (P5, block-layout.ts).
 */
export function signingBytesOfChecked (bytes: Uint8Array, block: Block): Uint8Array {
  return unsignedBytesOf(bytes, BLOCK_SIG_DOMAIN) ?? signingBytes(block)
}

interface ShapeOptions {
  /** Receiver's clock; blocks beyond now + maxClockSkewMs are refused (not for trusted input). */
  readonly now?: number
}

/**
 * Checks the shape and the stateless rules of a decoded value (all but PoW and signature).
 * Returns the typed block with transactions as their types decoded them.
 */
function checkShape (value: unknown, ctx: LedgerContext, opts: ShapeOptions): { block: Block, crossChain: boolean } {
  const b = expectRecord(value, 'block', BLOCK_KEYS)
  if (b.v !== 1) fail(E.MALFORMED, 'block.v must be 1')
  if (typeof b.alliance !== 'string') fail(E.MALFORMED, 'block.alliance must be a string')
  if (b.alliance !== ctx.allianceId) fail(E.WRONG_ALLIANCE, `block is for alliance ${b.alliance.slice(0, 64)}`)
  if (typeof b.chain !== 'string' || b.chain.length > 32) fail(E.MALFORMED, 'block.chain must be a short string')
  if (!ctx.genesis.chains.includes(b.chain)) fail(E.UNKNOWN_CHAIN, `chain "${b.chain}" is not in the genesis`)
  const issuer = expectDid(b.issuer, 'block.issuer')
  const founderChain = ctx.founderChains.get(issuer)
  if (founderChain != null && founderChain !== b.chain) fail(E.UNKNOWN_CHAIN, `founder ${issuer.slice(0, 24)}… issues on chain ${founderChain} only`)
  const seq = expectInt(b.seq, 'block.seq', 1, Number.MAX_SAFE_INTEGER)
  const prev = b.prev === null ? null : expectBlockId(b.prev, 'block.prev')
  if ((seq === 1) !== (prev === null)) fail(E.BAD_PREV, seq === 1 ? 'block at seq 1 must have prev null' : 'block after seq 1 needs prev')
  if (!Array.isArray(b.parents)) fail(E.MALFORMED, 'block.parents must be a list')
  if (b.parents.length !== 2) fail(E.BAD_PARENTS, 'a block approves exactly two parents')
  const parents = [expectBlockId(b.parents[0], 'block.parents[0]'), expectBlockId(b.parents[1], 'block.parents[1]')] as const
  if (parents[0] === parents[1] && parents[0] !== ctx.allianceId) fail(E.BAD_PARENTS, 'the two parents must differ (unless both are the genesis)')
  const time = expectInt(b.time, 'block.time', 0, Number.MAX_SAFE_INTEGER)
  if (time < ctx.genesis.time) fail(E.BAD_PARENTS, 'block is older than the genesis')
  if (opts.now != null && time > opts.now + ctx.genesis.maxClockSkewMs) fail(E.FUTURE_TIME, `block time is ${time - opts.now} ms ahead`)
  if (!Array.isArray(b.txs)) fail(E.MALFORMED, 'block.txs must be a list')
  if (b.txs.length > BLOCK_LIMITS.maxTxs) fail(E.TOO_LARGE, `a block holds at most ${BLOCK_LIMITS.maxTxs} transactions`)
  const difficulty = expectInt(b.difficulty, 'block.difficulty', 0, 256)
  if (difficulty !== ctx.genesis.difficulty) fail(E.BAD_POW, `difficulty must be ${ctx.genesis.difficulty}`)
  const nonce = expectInt(b.nonce, 'block.nonce', 0, Number.MAX_SAFE_INTEGER)
  if (!(b.sig instanceof Uint8Array) || b.sig.length !== SIGNATURE_BYTES) fail(E.MALFORMED, `block.sig must be ${SIGNATURE_BYTES} bytes`)
  const txCtx: TxCheckContext = { genesis: ctx.genesis, issuer, chain: b.chain }
  const txs: Tx[] = []
  let crossChain = false
  for (let i = 0; i < b.txs.length; i++) {
    const tx = ctx.registry.decodeTx(b.txs[i], txCtx, i)
    txs.push(tx)
    if (ctx.registry.isCrossChain(tx, txCtx)) crossChain = true
  }
  const block: Block = { v: 1, alliance: ctx.allianceId, chain: b.chain, issuer, seq, prev, parents, time, txs, difficulty, nonce, sig: b.sig }
  return { block, crossChain }
}

export interface ValidateOptions {
  /** Receiver's clock in ms (core takes time as a parameter). */
  readonly now: number
  /**
   * Blocks read back from this peer's own store were validated when stored: skip the
   * signature (the costly part) and the clock check. Never for bytes from the network.
   */
  readonly trusted?: boolean
  /**
   * The caller verified the signature itself, in bulk with WebCrypto (several times faster
   * than a synchronous check here). Every other rule, the clock included, still applies.
   */
  readonly signatureChecked?: boolean
  /** The id if the caller computed it already (`blockIdOf(bytes)`); saves hashing twice. */
  readonly id?: BlockId
  /**
   * A check of who may issue, run on the decoded header before the transactions are decoded
   * and the signature checked (L18): the engine refuses a stranger's block there for ~0.4 ms
   * instead of ~10 ms. Throws (a LedgerError) to refuse.
   */
  readonly admitIssuer?: (issuer: string, seq: number, firstTxType: unknown) => void
}

/**
 * Stateless validation of untrusted bytes. Throws LedgerError with ERR_TOO_LARGE,
 * ERR_MALFORMED, ERR_WRONG_ALLIANCE, ERR_UNKNOWN_CHAIN, ERR_BAD_PREV, ERR_BAD_PARENTS,
 * ERR_FUTURE_TIME, ERR_UNKNOWN_TX, ERR_BAD_TX, ERR_BAD_POW or ERR_BAD_SIGNATURE.
 */
export function validateBlockBytes (bytes: Uint8Array, ctx: LedgerContext, opts: ValidateOptions): ValidatedBlock {
  if (!(bytes instanceof Uint8Array)) fail(E.MALFORMED, 'a block must be bytes')
  if (bytes.byteLength > BLOCK_LIMITS.maxBytes) fail(E.TOO_LARGE, `block of ${bytes.byteLength} bytes is over ${BLOCK_LIMITS.maxBytes}`)
  let value: unknown
  try {
    value = decode(bytes, BLOCK_LIMITS.maxBytes)
  } catch (err) {
    throw new LedgerError(E.MALFORMED, `block does not decode: ${(err as Error).message}`, { cause: err })
  }
  if (opts.admitIssuer != null && isRecord(value) && value.alliance === ctx.allianceId && typeof value.issuer === 'string' && typeof value.seq === 'number') {
    const txs = value.txs
    const first = Array.isArray(txs) && isRecord(txs[0]) ? txs[0].type : undefined
    opts.admitIssuer(value.issuer, value.seq, first)
  }
  const { block, crossChain } = checkShape(value, ctx, { now: opts.trusted === true ? undefined : opts.now })
  const id = opts.id ?? blockIdOf(bytes)
  if (!equalBytes(encode(block), bytes)) fail(E.MALFORMED, 'block is not in canonical form')
  // the bytes are encode(block) now: the PoW header's and the signature's encodings are cut
  // out of them instead of encoding the block twice more (P10, block-layout.ts)
  const core = coreBytesOf(bytes, block) ?? encode(coreOf(block))
  if (!checkPow(sha256(core), block.nonce, block.difficulty)) fail(E.BAD_POW, 'proof-of-work does not reach the difficulty')
  if (opts.trusted !== true && opts.signatureChecked !== true && !verify(publicKeyFromDid(block.issuer), signingBytesOfChecked(bytes, block), block.sig)) {
    fail(E.BAD_SIGNATURE, 'block signature does not verify')
  }
  return { id, bytes, block, crossChain }
}

// ---------------------------------------------------------------------------------------------
// Creation.

const contexts = new WeakMap<Genesis, LedgerContext>()

/** The context of a genesis with the default registry, computed once per genesis object. */
export function ledgerContextOf (genesis: Genesis | LedgerContext): LedgerContext {
  if ('allianceId' in genesis) return genesis
  let ctx = contexts.get(genesis)
  if (ctx == null) { ctx = createLedgerContext(genesis); contexts.set(genesis, ctx) }
  return ctx
}

export interface BlockInput {
  /** The issuer's 32-byte Ed25519 seed; the issuer is its did:key. */
  readonly seed: Uint8Array
  /** The alliance: its genesis (default registry) or a context (own registry). */
  readonly genesis: Genesis | LedgerContext
  readonly chain: string
  readonly seq: number
  readonly prev: BlockId | null
  readonly parents: readonly [BlockId, BlockId]
  readonly time: number
  readonly txs: readonly Tx[]
}

/** Finds a nonce for a PoW header; synchronous (tests, Node) or in a Worker (browser). */
export type PowFn = (header: Uint8Array, difficulty: number) => number
export type AsyncPowFn = (header: Uint8Array, difficulty: number) => Promise<number>

export interface PreparedBlock {
  readonly core: BlockCore
  /** What to mine: 32 bytes, see pow.ts. */
  readonly header: Uint8Array
  readonly difficulty: number
}

/**
 * Step 1 of creation: the block without nonce and signature, and its PoW header. Applies the
 * receiver's stateless rules, so a bad input throws here (LedgerError) rather than later.
 */
export function prepareBlock (input: Omit<BlockInput, 'seed'> & { readonly issuer: Did }): PreparedBlock {
  const ctx = ledgerContextOf(input.genesis)
  const core: BlockCore = {
    v: 1,
    alliance: ctx.allianceId,
    chain: input.chain,
    issuer: input.issuer,
    seq: input.seq,
    prev: input.prev,
    parents: [input.parents[0], input.parents[1]],
    time: input.time,
    txs: [...input.txs],
    difficulty: ctx.genesis.difficulty
  }
  const checked = checkShape({ ...core, nonce: 0, sig: new Uint8Array(SIGNATURE_BYTES) }, ctx, {})
  const full: BlockCore = { ...core, txs: checked.block.txs }
  return { core: full, header: powHeaderOf(full), difficulty: full.difficulty }
}

/** Step 2: sign with the nonce found. Throws if the nonce does not reach the difficulty. */
export function sealBlock (genesis: Genesis | LedgerContext, prepared: PreparedBlock, nonce: number, seed: Uint8Array): ValidatedBlock {
  const ctx = ledgerContextOf(genesis)
  if (prepared.header.length !== POW_HEADER_BYTES) throw new RangeError('bad PoW header')
  if (!checkPow(prepared.header, nonce, prepared.difficulty)) throw new LedgerError(E.BAD_POW, 'nonce does not reach the difficulty')
  const keys = generateKeyPair(seed)
  if (didFromPublicKey(keys.publicKey) !== prepared.core.issuer) throw new TypeError('seed does not belong to the block issuer')
  const unsigned: UnsignedBlock = { ...prepared.core, nonce }
  const block: Block = { ...unsigned, sig: sign(seed, signingBytes(unsigned)) }
  const bytes = encodeBlock(block)
  if (bytes.byteLength > BLOCK_LIMITS.maxBytes) throw new LedgerError(E.TOO_LARGE, `block of ${bytes.byteLength} bytes is over ${BLOCK_LIMITS.maxBytes}`)
  const txCtx: TxCheckContext = { genesis: ctx.genesis, issuer: block.issuer, chain: block.chain }
  const crossChain = block.txs.some(tx => ctx.registry.isCrossChain(tx, txCtx))
  return { id: blockIdOf(bytes), bytes, block, crossChain }
}

const defaultPow: PowFn = (header, difficulty) => mineSync(header, difficulty)

function issuerOf (seed: Uint8Array): Did {
  return didFromPublicKey(generateKeyPair(seed).publicKey)
}

/** Prepares, mines (with `pow`; default: synchronous mining in this thread) and signs a block. */
export function createBlock (input: BlockInput, pow: PowFn = defaultPow): ValidatedBlock {
  const prepared = prepareBlock({ ...input, issuer: issuerOf(input.seed) })
  return sealBlock(input.genesis, prepared, pow(prepared.header, prepared.difficulty), input.seed)
}

/** As `createBlock`, with the PoW done elsewhere (a Worker mining in chunks with progress). */
export async function createBlockAsync (input: BlockInput, pow: AsyncPowFn): Promise<ValidatedBlock> {
  const prepared = prepareBlock({ ...input, issuer: issuerOf(input.seed) })
  return sealBlock(input.genesis, prepared, await pow(prepared.header, prepared.difficulty), input.seed)
}
