/**
 * The genesis: an alliance is the CID of its genesis block, which fixes its chains, its
 * proof-of-work difficulty, its confirmation threshold, its cross-chain rule, its grant and
 * admission rule, and its founders. `parseGenesis` checks an untrusted genesis;
 * `DEMO_GENESIS` is the alliance that ships with the app.
 */
import { cidOfBytes, encode, decode } from '../codec.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { CHAIN_NAME, expectDid, expectInt, expectRecord, expectString } from './check.ts'
import type { AllianceId, Founder, Genesis } from './types.ts'

/** Limits of a genesis; beyond them a peer could be made to allocate or loop without bound. */
export const GENESIS_LIMITS = {
  maxChains: 16,
  maxFounders: 256,
  maxDifficulty: 32,
  maxThreshold: 1024,
  /** 2^40 credits: sums of grants stay exact in a double. */
  maxGrant: 2 ** 40,
  maxClockSkewMs: 24 * 3600 * 1000,
  maxBytes: 32 * 1024
} as const

const GENESIS_KEYS = ['v', 'kind', 'name', 'chains', 'difficulty', 'threshold', 'crossChainApprovals', 'grant', 'admission', 'founders', 'maxClockSkewMs', 'time'] as const

/** Checks an untrusted value as a genesis and returns it typed; throws LedgerError(ERR_MALFORMED). */
export function parseGenesis (value: unknown): Genesis {
  const g = expectRecord(value, 'genesis', GENESIS_KEYS)
  if (g.v !== 1) fail(LedgerErrorCode.MALFORMED, 'genesis.v must be 1')
  if (g.kind !== 'alliance-genesis') fail(LedgerErrorCode.MALFORMED, 'genesis.kind must be "alliance-genesis"')
  const name = expectString(g.name, 'genesis.name', 64)
  if (!Array.isArray(g.chains) || g.chains.length < 1 || g.chains.length > GENESIS_LIMITS.maxChains) {
    fail(LedgerErrorCode.MALFORMED, `genesis.chains must list 1..${GENESIS_LIMITS.maxChains} chains`)
  }
  const chains = g.chains.map((c, i) => expectString(c, `genesis.chains[${i}]`, 32, LedgerErrorCode.MALFORMED, CHAIN_NAME))
  if (new Set(chains).size !== chains.length) fail(LedgerErrorCode.MALFORMED, 'genesis.chains has duplicates')
  const difficulty = expectInt(g.difficulty, 'genesis.difficulty', 0, GENESIS_LIMITS.maxDifficulty)
  const threshold = expectInt(g.threshold, 'genesis.threshold', 1, GENESIS_LIMITS.maxThreshold)
  const crossChainApprovals = expectInt(g.crossChainApprovals, 'genesis.crossChainApprovals', chains.length > 1 ? 1 : 0, GENESIS_LIMITS.maxThreshold)
  const grant = expectInt(g.grant, 'genesis.grant', 0, GENESIS_LIMITS.maxGrant)
  if (g.admission !== 'open' && g.admission !== 'founders') fail(LedgerErrorCode.MALFORMED, 'genesis.admission must be "open" or "founders"')
  if (!Array.isArray(g.founders) || g.founders.length > GENESIS_LIMITS.maxFounders) {
    fail(LedgerErrorCode.MALFORMED, `genesis.founders must list at most ${GENESIS_LIMITS.maxFounders} founders`)
  }
  const founders: Founder[] = g.founders.map((f, i) => {
    const r = expectRecord(f, `genesis.founders[${i}]`, ['did', 'chain'])
    const chain = expectString(r.chain, `genesis.founders[${i}].chain`, 32)
    if (!chains.includes(chain)) fail(LedgerErrorCode.MALFORMED, `genesis.founders[${i}].chain is not a genesis chain`)
    return { did: expectDid(r.did, `genesis.founders[${i}].did`), chain }
  })
  if (new Set(founders.map(f => f.did)).size !== founders.length) fail(LedgerErrorCode.MALFORMED, 'genesis.founders has duplicates')
  if (g.admission === 'founders' && founders.length < threshold) {
    fail(LedgerErrorCode.MALFORMED, 'with admission "founders" only founders carry weight: at least `threshold` founders are needed')
  }
  const maxClockSkewMs = expectInt(g.maxClockSkewMs, 'genesis.maxClockSkewMs', 0, GENESIS_LIMITS.maxClockSkewMs)
  const time = expectInt(g.time, 'genesis.time', 0, Number.MAX_SAFE_INTEGER)
  return { v: 1, kind: 'alliance-genesis', name, chains, difficulty, threshold, crossChainApprovals, grant, admission: g.admission, founders, maxClockSkewMs, time }
}

export function encodeGenesis (genesis: Genesis): Uint8Array {
  return encode(parseGenesis(genesis))
}

export function decodeGenesis (bytes: Uint8Array): Genesis {
  let value: unknown
  try {
    value = decode(bytes, GENESIS_LIMITS.maxBytes)
  } catch (err) {
    throw fail(LedgerErrorCode.MALFORMED, `genesis does not decode: ${(err as Error).message}`)
  }
  return parseGenesis(value)
}

/** The alliance id: the CID string of the encoded genesis. */
export function genesisId (genesis: Genesis): AllianceId {
  return cidOfBytes(encodeGenesis(genesis)).toString() as AllianceId
}

/**
 * The demo alliance shipped with the app. Difficulty 13 bits costs about 8,000 sha-256
 * attempts on average: ~10 ms in Node on a laptop core, tens of ms on a phone (measured
 * figures in SPEC.md). Threshold 3 suits a handful of tabs. Admission is open (demo rule L30):
 * any DID admits itself once and gets the grant; weight counts every issuer, so the demo has
 * no Sybil resistance beyond proof-of-work.
 */
export const DEMO_GENESIS: Genesis = Object.freeze({
  v: 1,
  kind: 'alliance-genesis',
  name: 'alliance-net demo',
  chains: Object.freeze(['home', 'business', 'operator']),
  difficulty: 13,
  threshold: 3,
  crossChainApprovals: 1,
  grant: 1000,
  admission: 'open',
  founders: Object.freeze([]),
  maxClockSkewMs: 5 * 60 * 1000,
  // 2025-01-01T00:00:00Z
  time: 1735689600000
}) as Genesis
