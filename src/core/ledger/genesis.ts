/**
 * The genesis: an alliance is the CID of its genesis block, which fixes its chains, its
 * proof-of-work difficulty, its validators (the founders) and so its quorum, its cross-chain
 * rule, its supply (each founder's allocation), its admission rule and its quotas.
 * `parseGenesis` checks an untrusted genesis; `foundGenesis` makes a new one. Its `v` is also
 * the version of the state rules (L52): `forgetsClosed` says which.
 */
import { cidOfBytes, encode, decode } from '../codec.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { CHAIN_NAME, expectDid, expectInt, expectRecord, expectString } from './check.ts'
import type { Did } from '../identity.ts'
import type { AllianceId, Founder, Genesis, StateRules } from './types.ts'

/**
 * The state rules `foundGenesis` uses unless told (L52). Still 2: the wallet's history reads a
 * settled session's remainder from its claim, which v3 deletes once received (the e2e market
 * and wallet tests catch it), so v3 is opt-in until the history reads amounts from the
 * transactions themselves.
 */
export const STATE_RULES_NEW: StateRules = 2

/**
 * L52: true when the alliance's state forgets closed objects (a received claim, a settled or
 * refunded escrow); false for v2 alliances, which replay exactly as before.
 */
export function forgetsClosed (genesis: Genesis): boolean {
  return genesis.v >= 3
}

/** Limits of a genesis; beyond them a peer could be made to allocate or loop without bound. */
export const GENESIS_LIMITS = {
  maxChains: 16,
  /** Validators: weights are bitsets over them, so a block's weight is at most 32 words. */
  maxFounders: 1024,
  maxDifficulty: 32,
  /** Per founder; founders × allocation stays below 2^53, so every sum of balances is exact. */
  maxAllocation: 2 ** 40,
  maxClockSkewMs: 24 * 3600 * 1000,
  maxIntervalMs: 3600 * 1000,
  maxParentAgeMs: 7 * 24 * 3600 * 1000,
  maxBytes: 64 * 1024
} as const

const GENESIS_KEYS = ['v', 'kind', 'name', 'chains', 'difficulty', 'crossChainApprovals', 'allocation', 'admission', 'admitVotes', 'founders', 'minBlockIntervalMs', 'bytesPerSecond', 'maxParentAgeMs', 'maxClockSkewMs', 'time'] as const

/** Checks an untrusted value as a genesis and returns it typed; throws LedgerError(ERR_MALFORMED). */
export function parseGenesis (value: unknown): Genesis {
  const g = expectRecord(value, 'genesis', GENESIS_KEYS, ['credentialIssuers'])
  if (g.v !== 2 && g.v !== 3) fail(LedgerErrorCode.MALFORMED, 'genesis.v must be 2 or 3')
  if (g.kind !== 'alliance-genesis') fail(LedgerErrorCode.MALFORMED, 'genesis.kind must be "alliance-genesis"')
  const name = expectString(g.name, 'genesis.name', 64)
  if (!Array.isArray(g.chains) || g.chains.length < 1 || g.chains.length > GENESIS_LIMITS.maxChains) {
    fail(LedgerErrorCode.MALFORMED, `genesis.chains must list 1..${GENESIS_LIMITS.maxChains} chains`)
  }
  const chains = g.chains.map((c, i) => expectString(c, `genesis.chains[${i}]`, 32, LedgerErrorCode.MALFORMED, CHAIN_NAME))
  if (new Set(chains).size !== chains.length) fail(LedgerErrorCode.MALFORMED, 'genesis.chains has duplicates')
  const difficulty = expectInt(g.difficulty, 'genesis.difficulty', 0, GENESIS_LIMITS.maxDifficulty)
  if (!Array.isArray(g.founders) || g.founders.length < 1 || g.founders.length > GENESIS_LIMITS.maxFounders) {
    fail(LedgerErrorCode.MALFORMED, `genesis.founders must list 1..${GENESIS_LIMITS.maxFounders} validators`)
  }
  const founders: Founder[] = g.founders.map((f, i) => {
    const r = expectRecord(f, `genesis.founders[${i}]`, ['did', 'chain'])
    const chain = expectString(r.chain, `genesis.founders[${i}].chain`, 32)
    if (!chains.includes(chain)) fail(LedgerErrorCode.MALFORMED, `genesis.founders[${i}].chain is not a genesis chain`)
    return { did: expectDid(r.did, `genesis.founders[${i}].did`), chain }
  })
  if (new Set(founders.map(f => f.did)).size !== founders.length) fail(LedgerErrorCode.MALFORMED, 'genesis.founders has duplicates')
  const crossChainApprovals = expectInt(g.crossChainApprovals, 'genesis.crossChainApprovals', 0, GENESIS_LIMITS.maxFounders)
  // the cross-chain rule must be satisfiable by the validators of the other chains
  for (const c of chains) {
    const others = founders.filter(f => f.chain !== c).length
    if (crossChainApprovals > others && chains.length > 1 && others > 0) {
      fail(LedgerErrorCode.MALFORMED, `genesis.crossChainApprovals ${crossChainApprovals} exceeds the ${others} validators outside chain ${c}`)
    }
  }
  const allocation = expectInt(g.allocation, 'genesis.allocation', 0, GENESIS_LIMITS.maxAllocation)
  if (allocation * founders.length > Number.MAX_SAFE_INTEGER) fail(LedgerErrorCode.MALFORMED, 'genesis supply is over 2^53')
  if (g.admission !== 'invite' && g.admission !== 'vote' && g.admission !== 'credential') fail(LedgerErrorCode.MALFORMED, 'genesis.admission must be "invite", "vote" or "credential"')
  let credentialIssuers: Did[] | undefined
  if (g.admission === 'credential') {
    if (!Array.isArray(g.credentialIssuers) || g.credentialIssuers.length < 1 || g.credentialIssuers.length > 16) fail(LedgerErrorCode.MALFORMED, 'genesis.credentialIssuers must list 1..16 issuers')
    credentialIssuers = (g.credentialIssuers as unknown[]).map((d, i) => expectDid(d, `genesis.credentialIssuers[${i}]`))
  } else if (g.credentialIssuers !== undefined) fail(LedgerErrorCode.MALFORMED, 'genesis.credentialIssuers is only for admission "credential"')
  const admitVotes = expectInt(g.admitVotes, 'genesis.admitVotes', 1, founders.length)
  if (g.admission !== 'vote' && admitVotes !== 1) fail(LedgerErrorCode.MALFORMED, 'with admission "invite" admitVotes is 1')
  const minBlockIntervalMs = expectInt(g.minBlockIntervalMs, 'genesis.minBlockIntervalMs', 0, GENESIS_LIMITS.maxIntervalMs)
  const bytesPerSecond = expectInt(g.bytesPerSecond, 'genesis.bytesPerSecond', 1, 2 ** 32)
  const maxParentAgeMs = expectInt(g.maxParentAgeMs, 'genesis.maxParentAgeMs', 1, GENESIS_LIMITS.maxParentAgeMs)
  const maxClockSkewMs = expectInt(g.maxClockSkewMs, 'genesis.maxClockSkewMs', 0, GENESIS_LIMITS.maxClockSkewMs)
  const time = expectInt(g.time, 'genesis.time', 0, Number.MAX_SAFE_INTEGER)
  return {
    v: g.v, kind: 'alliance-genesis', name, chains, difficulty, crossChainApprovals, allocation, admission: g.admission, admitVotes,
    founders, minBlockIntervalMs, bytesPerSecond, maxParentAgeMs, maxClockSkewMs, time, ...(credentialIssuers == null ? {} : { credentialIssuers })
  }
}

/** Validators needed to confirm: strictly more than two thirds of them (L23). */
export function quorumOf (genesis: Genesis): number {
  return Math.floor((2 * genesis.founders.length) / 3) + 1
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

/** Parameters every new alliance starts from (the founding form in the app fills in the rest). */
export const ALLIANCE_DEFAULTS = {
  difficulty: 13,
  allocation: 1_000_000,
  minBlockIntervalMs: 100,
  bytesPerSecond: 64 * 1024,
  maxParentAgeMs: 10 * 60 * 1000,
  maxClockSkewMs: 5 * 60 * 1000
} as const

export interface FoundingInput {
  readonly name: string
  readonly chains: readonly string[]
  readonly founders: readonly Founder[]
  readonly admission?: Genesis['admission']
  readonly admitVotes?: number
  /** With admission 'credential': whose membership credentials admit (L51). */
  readonly credentialIssuers?: readonly Did[]
  readonly crossChainApprovals?: number
  readonly allocation?: number
  readonly difficulty?: number
  readonly time: number
  /** The state rules (L52); STATE_RULES_NEW when absent. */
  readonly stateRules?: StateRules
}

/**
 * A genesis for a new alliance (founded in the app, or the demo operator's): its founders are
 * its validators and hold the supply. Difficulty 13 bits costs about 8,000 sha-256 attempts:
 * ~10 ms in Node, tens of ms on a phone (SPEC.md figures).
 */
export function foundGenesis (input: FoundingInput): Genesis {
  const others = (c: string): number => input.founders.filter(f => f.chain !== c).length
  const cross = input.crossChainApprovals ?? (input.chains.every(c => others(c) > 0) ? 1 : 0)
  return parseGenesis({
    v: input.stateRules ?? STATE_RULES_NEW,
    kind: 'alliance-genesis',
    name: input.name,
    chains: [...input.chains],
    difficulty: input.difficulty ?? ALLIANCE_DEFAULTS.difficulty,
    crossChainApprovals: cross,
    allocation: input.allocation ?? ALLIANCE_DEFAULTS.allocation,
    admission: input.admission ?? 'invite',
    admitVotes: input.admission === 'vote' ? (input.admitVotes ?? Math.floor(input.founders.length / 2) + 1) : 1,
    founders: input.founders.map(f => ({ did: f.did, chain: f.chain })),
    ...(input.admission === 'credential' ? { credentialIssuers: [...(input.credentialIssuers ?? [])] } : {}),
    minBlockIntervalMs: ALLIANCE_DEFAULTS.minBlockIntervalMs,
    bytesPerSecond: ALLIANCE_DEFAULTS.bytesPerSecond,
    maxParentAgeMs: ALLIANCE_DEFAULTS.maxParentAgeMs,
    maxClockSkewMs: ALLIANCE_DEFAULTS.maxClockSkewMs,
    time: input.time
  })
}
