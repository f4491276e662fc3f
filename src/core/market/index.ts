/**
 * The service market (white paper 4.3.3, 5.2): offers and requests as ledger transactions
 * (SPEC M1–M8, M11), the registry index (SPEC M9) and the adapter into the ledger's
 * transaction registry (SPEC M10). Pure.
 */
export * from './errors.ts'
export * from './kinds.ts'
export * from './geohash.ts'
export * from './offer.ts'
export * from './bounty.ts'
export * from './apply.ts'
export * from './registry.ts'
export * from './ledger-adapter.ts'
export * from './deposits.ts'
