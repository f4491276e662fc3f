/**
 * The wallet's IndexedDB database, one per profile: `alliance/${profile}/wallet`. Versioned
 * schema with an upgrade function; every access goes through `run()`, which turns failures of
 * the request, the transaction (quota errors only show there) and its abort into a
 * WalletStorageError and aborts the batch so it is all or nothing. Private keys are only ever
 * stored sealed (see cipher.ts); the rest (DID, public keys, credentials) is public and in clear.
 */
import { parseProfileName } from '../core/profile.ts'
import { wrap } from 'idb'
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import type { IIdentifier, IKey, TKeyType } from '@veramo/core'
import { AllianceError } from '../core/errors.ts'
import { WalletStorageError } from './errors.ts'
import { SALT_BYTES } from './cipher.ts'
import type { StoredCredential } from './types.ts'

export const DB_VERSION = 1

/** Which key wraps the private keys now. `check` is a sealed known value (see cipher.ts). */
export type VaultRecord =
  | { readonly mode: 'device', readonly check: Uint8Array }
  | { readonly mode: 'passphrase', readonly check: Uint8Array, readonly salt: Uint8Array, readonly iterations: number }

/** Public facts of the profile's identity, written last when the DID is created. */
export interface ProfileRecord {
  readonly did: string
  readonly kid: string
  readonly createdAt: string
  readonly backedUp: boolean
}

/** A Veramo private key as stored: the key material only as AES-GCM ciphertext (hex). */
export interface SealedPrivateKey {
  readonly alias: string
  readonly type: TKeyType
  readonly sealed: string
}

export interface WalletSchema extends DBSchema {
  /** 'vault' holds a VaultRecord, 'profile' a ProfileRecord. */
  meta: { key: 'vault' | 'profile', value: VaultRecord | ProfileRecord }
  keys: { key: string, value: IKey }
  privateKeys: { key: string, value: SealedPrivateKey }
  dids: { key: string, value: IIdentifier, indexes: { alias: string } }
  credentials: { key: string, value: StoredCredential, indexes: { issuedAt: string } }
  device: { key: 'key', value: CryptoKey }
}

export type WalletDb = IDBPDatabase<WalletSchema>
export type WalletStore = StoreNames<WalletSchema>
export const ALL_STORES: WalletStore[] = ['meta', 'keys', 'privateKeys', 'dids', 'credentials', 'device']

/** Profile names become part of the database name; keep them to a safe alphabet. */
export function assertProfile (profile: string): void {
  parseProfileName(profile)
}

export function walletDbName (profile: string): string {
  assertProfile(profile)
  return `alliance/${profile}/wallet`
}

function defaultFactory (): IDBFactory {
  const factory = globalThis.indexedDB
  if (factory == null) throw new WalletStorageError('IndexedDB is not available here')
  return factory
}

/** Each case moves the schema one version forward, so any older database catches up. */
function upgrade (db: WalletDb, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('meta')
    db.createObjectStore('keys', { keyPath: 'kid' })
    db.createObjectStore('privateKeys', { keyPath: 'alias' })
    db.createObjectStore('dids', { keyPath: 'did' }).createIndex('alias', 'alias')
    db.createObjectStore('credentials', { keyPath: 'id' }).createIndex('issuedAt', 'issuedAt')
    db.createObjectStore('device')
  }
}

/**
 * Opens (and creates or upgrades) the database through the given factory. idb's `openDB` only
 * uses the global `indexedDB`, so this does the same steps with an injectable factory.
 */
export async function openWalletDb (profile: string, idbFactory?: IDBFactory): Promise<WalletDb> {
  const name = walletDbName(profile)
  let request: IDBOpenDBRequest
  try {
    request = (idbFactory ?? defaultFactory()).open(name, DB_VERSION)
  } catch (err) {
    throw new WalletStorageError(`cannot open ${name}: ${(err as Error).message}`, { cause: err })
  }
  request.addEventListener('upgradeneeded', (event) => {
    upgrade(wrap(request.result) as WalletDb, event.oldVersion)
  })
  let db: WalletDb
  try {
    db = await (wrap(request) as Promise<WalletDb>)
  } catch (err) {
    throw new WalletStorageError(`cannot open ${name}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
  // Another tab upgrading or deleting this database (deleteProfileData) must not wait on us.
  db.addEventListener('versionchange', () => { db.close() })
  return db
}

/**
 * Runs `fn` in one transaction and waits for it to commit. Any failure aborts the whole batch
 * and comes out as WalletStorageError (typed wallet errors thrown by `fn` pass through).
 */
export async function run<S extends WalletStore[], M extends IDBTransactionMode, T> (
  db: WalletDb,
  stores: S,
  mode: M,
  fn: (tx: IDBPTransaction<WalletSchema, S, M>) => Promise<T>
): Promise<T> {
  let tx: IDBPTransaction<WalletSchema, S, M>
  try {
    tx = db.transaction(stores, mode)
  } catch (err) {
    throw storageError(err)
  }
  try {
    const result = await fn(tx)
    await tx.done
    return result
  } catch (err) {
    try { tx.abort() } catch { /* already finished or aborted */ }
    // the done promise rejects on abort; nobody else listens to it
    tx.done.catch(() => {})
    throw storageError(err)
  }
}

function storageError (err: unknown): Error {
  if (err instanceof AllianceError) return err
  const e = err as { name?: string, message?: string } | null
  const what = e?.name === 'QuotaExceededError' ? 'storage is full' : (e?.message ?? String(err))
  return new WalletStorageError(`IndexedDB: ${what}`, { cause: err })
}

/** Stored records are checked like input: a damaged database must fail clearly, not oddly. */
function checkVault (value: unknown): VaultRecord | undefined {
  if (value === undefined) return undefined
  const v = value as Partial<VaultRecord & { salt: unknown, iterations: unknown }>
  const ok = v.check instanceof Uint8Array && (
    v.mode === 'device' ||
    (v.mode === 'passphrase' && v.salt instanceof Uint8Array && v.salt.length === SALT_BYTES && Number.isSafeInteger(v.iterations))
  )
  if (!ok) throw new WalletStorageError('the stored key record is damaged')
  return value as VaultRecord
}

function checkProfile (value: unknown): ProfileRecord | undefined {
  if (value === undefined) return undefined
  const p = value as Partial<ProfileRecord>
  if (typeof p.did !== 'string' || typeof p.kid !== 'string' || typeof p.createdAt !== 'string' || typeof p.backedUp !== 'boolean') {
    throw new WalletStorageError('the stored profile record is damaged')
  }
  return value as ProfileRecord
}

export async function readMeta (db: WalletDb): Promise<{ vault?: VaultRecord, profile?: ProfileRecord }> {
  const [vault, profile] = await run(db, ['meta'], 'readonly', async (tx) => {
    const store = tx.objectStore('meta')
    return await Promise.all([store.get('vault'), store.get('profile')])
  })
  return { vault: checkVault(vault), profile: checkProfile(profile) }
}

export async function writeMeta (db: WalletDb, key: 'vault' | 'profile', value: VaultRecord | ProfileRecord): Promise<void> {
  await run(db, ['meta'], 'readwrite', async (tx) => { await tx.objectStore('meta').put(value, key) })
}

/** Deletes every wallet record of a profile (its DID, keys, device key and credentials). */
export async function deleteProfileData (profile: string, idbFactory?: IDBFactory): Promise<void> {
  const name = walletDbName(profile)
  const factory = idbFactory ?? defaultFactory()
  await new Promise<void>((resolve, reject) => {
    let request: IDBOpenDBRequest
    try {
      request = factory.deleteDatabase(name)
    } catch (err) {
      reject(new WalletStorageError(`cannot delete ${name}`, { cause: err }))
      return
    }
    request.onsuccess = () => { resolve() }
    request.onerror = () => { reject(new WalletStorageError(`cannot delete ${name}: ${request.error?.message ?? 'unknown error'}`, { cause: request.error })) }
    // 'blocked' only means other connections are still open; they close on versionchange and
    // the deletion then completes, so it is not an error.
  })
}
