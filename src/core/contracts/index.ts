/**
 * Contracts (white paper 5.3): rights policies and buyer checks (SPEC P1–P3), the income split,
 * the settlement contract (SPEC C1–C8), ratings and reputation (SPEC R1–R3), and the key/value
 * store interface they keep state in. Pure and deterministic.
 */
export * from './errors.ts'
export * from './kv.ts'
export * from './policy.ts'
export * from './split.ts'
export * from './settlement.ts'
export * from './rating.ts'
export * from './reputation.ts'
