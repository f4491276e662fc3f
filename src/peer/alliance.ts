/**
 * The alliance a profile belongs to: a genesis (founded in the app, taken from an invitation,
 * or the demo operator's served by `npm start`) with the market's transaction types. Every
 * peer must use the same registry, or they would disagree on which blocks are valid.
 */
import { createLedgerContext, createTxRegistry } from '../core/ledger/index.ts'
import type { Genesis, LedgerContext, TxRegistry } from '../core/ledger/index.ts'
import { marketTxTypeDefs } from '../core/market/ledger-adapter.ts'
import { sha256 } from '../core/codec.ts'

const contexts = new Map<string, LedgerContext>()
let appRegistry: TxRegistry | null = null

/**
 * The app's registry (built-in and market types), one object per thread: the verify pool
 * recognizes it and rebuilds the same one in its workers, so they check every stateless rule
 * and not the signature alone.
 */
export function appTxRegistry (): TxRegistry {
  appRegistry ??= createTxRegistry(marketTxTypeDefs())
  return appRegistry
}

/** The ledger context of a genesis with the app's registry (built-in and market types). */
export function allianceContext (genesis: Genesis): LedgerContext {
  const ctx = createLedgerContext(genesis, appTxRegistry())
  const known = contexts.get(ctx.allianceId)
  if (known != null) return known
  contexts.set(ctx.allianceId, ctx)
  return ctx
}

/** A new member's chain: spread members over the alliance's chains by their DID's hash. */
export function chainForNewMember (ctx: LedgerContext, did: string): string {
  const chains = ctx.genesis.chains
  return chains[sha256(new TextEncoder().encode(did))[0] % chains.length]
}

export function blocksTopic (ctx: LedgerContext): string {
  return `alliance/${ctx.allianceId}/blocks/1`
}
