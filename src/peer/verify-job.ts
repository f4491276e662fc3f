/**
 * The stateless half of block validation as one job over many blocks, for the verify pool
 * (`verify-pool.ts`): the signature by WebCrypto Ed25519 (bulk, strict RFC 8032 as
 * `bulk-verify.ts`), then, when the job asks for it, every other stateless rule
 * (`validateBlockBytes` with the signature taken as checked: decode, shape, canonical form,
 * PoW, id). It runs the same inside a Web Worker and in the calling thread (Node, or where
 * Workers are missing). A block it cannot pass comes back as `null`: the engine then checks
 * it itself and gives the typed rejection, so a bad block is refused for the same reason and
 * counted the same way whichever thread looked at it first.
 */
import { createLedgerContext, defaultTxRegistry, validateBlockBytes } from '../core/ledger/index.ts'
import type { Block, Genesis, LedgerContext, ValidatedBlock } from '../core/ledger/index.ts'
import { signatureChecker, verifyBlockSignatures } from './bulk-verify.ts'
import { appTxRegistry } from './alliance.ts'
import { signingBytesOf } from './signing-bytes.ts'

/** The registries a job can name (a worker rebuilds them; functions do not cross postMessage). */
export type JobRegistry = 'default' | 'app'

export interface VerifyJob {
  readonly id: number
  /** The alliance's genesis (plain data); the job validates with the default tx registry. */
  readonly genesis: Genesis
  /** `genesisId(genesis)`, checked against the job's own context. */
  readonly allianceId: string
  /** The clock of the caller, in ms (future-time rule, L13). */
  readonly now: number
  readonly blocks: readonly Uint8Array[]
  /** The registry of every stateless rule; `null`: only the signature (the caller's context has a registry of its own). */
  readonly registry: JobRegistry | null
}

/** Per block: passed (with the decoded block when `full`), or `null` for the engine to judge. */
export type VerifyOutcome = { readonly id: string, readonly block: Block, readonly crossChain: boolean } | { readonly sig: true } | null

export type VerifyJobReply =
  | { readonly id: number, readonly outcomes: VerifyOutcome[] }
  | { readonly id: number, readonly error: string }

/** The job's context, rebuilt from its genesis each job (a parse and a hash: nothing beside 64+ blocks). */
function contextOf (genesis: Genesis, allianceId: string, registry: JobRegistry): LedgerContext {
  const ctx = createLedgerContext(genesis, registry === 'app' ? appTxRegistry() : defaultTxRegistry)
  // a genesis that does not hash to the id asked for would validate against another alliance
  if (ctx.allianceId !== allianceId) throw new Error('the job\'s genesis is not its alliance\'s')
  return ctx
}

export async function runVerifyJob (job: VerifyJob): Promise<VerifyJobReply> {
  try {
    if (job.registry == null) {
      const sigs = await verifyBlockSignatures(job.blocks)
      return { id: job.id, outcomes: sigs.map((v): VerifyOutcome => v === 'valid' ? { sig: true } : null) }
    }
    // per block: every stateless rule (one decode), then its signature handed to the
    // crypto at once over the signing bytes cut out of the checked bytes (signing-bytes.ts),
    // so WebCrypto (its own thread in Chromium) verifies block i while this thread checks
    // block i + 1; the job used to check all the rules first and only then start the
    // signatures, the two phases one after the other (P11)
    const ctx = contextOf(job.genesis, job.allianceId, job.registry)
    const check = await signatureChecker()
    const pending = job.blocks.map((bytes) => {
      let v: ValidatedBlock
      try {
        v = validateBlockBytes(bytes, ctx, { now: job.now, signatureChecked: true })
      } catch {
        return null // the engine's own check gives the typed reason
      }
      return { v, sig: check == null ? 'unknown' : check({ issuer: v.block.issuer, message: signingBytesOf(v.bytes, v.block), sig: v.block.sig }) }
    })
    const sigs = await Promise.all(pending.map(p => p?.sig))
    const outcomes = pending.map((p, i): VerifyOutcome => p == null || sigs[i] !== 'valid' ? null : { id: p.v.id, block: p.v.block, crossChain: p.v.crossChain })
    return { id: job.id, outcomes }
  } catch (err) {
    return { id: job.id, error: (err as Error).message ?? String(err) }
  }
}
