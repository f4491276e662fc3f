/**
 * The alliance this app joins: the demo genesis with the market's transaction types. Every
 * peer must use the same registry, or they would disagree on which blocks are valid.
 */
import { DEMO_GENESIS, createLedgerContext, createTxRegistry } from '../core/ledger/index.ts'
import type { LedgerContext } from '../core/ledger/index.ts'
import { marketTxTypeDefs } from '../core/market/ledger-adapter.ts'
import { sha256 } from '../core/codec.ts'

let demo: LedgerContext | null = null

export function demoAlliance (): LedgerContext {
  demo ??= createLedgerContext(DEMO_GENESIS, createTxRegistry(marketTxTypeDefs()))
  return demo
}

/** A new member's chain: spread members over the alliance's chains by their DID's hash. */
export function chainForNewMember (ctx: LedgerContext, did: string): string {
  const chains = ctx.genesis.chains
  return chains[sha256(new TextEncoder().encode(did))[0] % chains.length]
}

export function blocksTopic (ctx: LedgerContext): string {
  return `alliance/${ctx.allianceId}/blocks/1`
}
