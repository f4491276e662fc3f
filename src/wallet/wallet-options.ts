/**
 * The options a wallet opens with, checked and resolved once (`resolveOptions`): profile name,
 * IndexedDB, PBKDF2 iterations (never fewer than 300,000 outside tests), clock and device-key
 * store.
 */
import { assertIterations, DEFAULT_PBKDF2_ITERATIONS } from './cipher.ts'
import { assertProfile } from './db.ts'
import type { DeviceKeyStore } from './device-key.ts'

export interface WalletOptions {
  profile: string
  /** IndexedDB to use; the global `indexedDB` by default (tests pass a fresh fake one). */
  idbFactory?: IDBFactory
  /** PBKDF2 iterations for new passphrase keys and backups; default 600,000, at least 300,000. */
  pbkdf2Iterations?: number
  /** Clock for issuance and expiry; `new Date()` by default. */
  now?: () => Date
  /** Where the device key lives; by default the CryptoKey itself in the profile's database. */
  deviceKeys?: DeviceKeyStore
  /** Tests only: accept fewer than 300,000 PBKDF2 iterations (here and in backups). */
  allowInsecureIterationsForTests?: boolean
}

/** The options after `resolveOptions`: defaults filled in, every value checked. */
export interface Resolved {
  readonly profile: string
  readonly idbFactory?: IDBFactory
  readonly iterations: number
  readonly allowInsecure: boolean
  readonly now: () => Date
  readonly deviceKeys?: DeviceKeyStore
}

export function resolveOptions (opts: WalletOptions): Resolved {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('wallet options are required')
  assertProfile(opts.profile)
  const allowInsecure = opts.allowInsecureIterationsForTests === true
  const iterations = opts.pbkdf2Iterations ?? DEFAULT_PBKDF2_ITERATIONS
  assertIterations(iterations, allowInsecure)
  if (opts.now !== undefined && typeof opts.now !== 'function') throw new TypeError('now must be a function')
  return {
    profile: opts.profile,
    idbFactory: opts.idbFactory,
    iterations,
    allowInsecure,
    now: opts.now ?? (() => new Date()),
    deviceKeys: opts.deviceKeys
  }
}
