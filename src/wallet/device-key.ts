/**
 * Where the device key lives: the non-extractable AES-GCM CryptoKey that protects a profile's
 * private keys until the user sets a passphrase. The product keeps the CryptoKey object itself
 * in the profile's IndexedDB database (browsers store CryptoKeys by structured clone without
 * ever exposing the key bytes). A port, so tests or a future platform keystore can supply
 * their own; an in-memory one is here for tests.
 */
import type { WalletDb } from './db.ts'
import { run } from './db.ts'

export interface DeviceKeyStore {
  /** The stored key, or undefined when there is none (never made, or site data cleared). */
  load(): Promise<CryptoKey | undefined>
  save(key: CryptoKey): Promise<void>
  delete(): Promise<void>
}

/** The product store: record 'key' of the `device` object store in the wallet database. */
export class IdbDeviceKeyStore implements DeviceKeyStore {
  readonly #db: WalletDb
  constructor (db: WalletDb) {
    this.#db = db
  }

  async load (): Promise<CryptoKey | undefined> {
    return await run(this.#db, ['device'], 'readonly', async (tx) => await tx.objectStore('device').get('key'))
  }

  async save (key: CryptoKey): Promise<void> {
    await run(this.#db, ['device'], 'readwrite', async (tx) => { await tx.objectStore('device').put(key, 'key') })
  }

  async delete (): Promise<void> {
    await run(this.#db, ['device'], 'readwrite', async (tx) => { await tx.objectStore('device').delete('key') })
  }
}

/** Keeps the key in memory only: for tests, or platforms where CryptoKeys cannot be stored. */
export class MemoryDeviceKeyStore implements DeviceKeyStore {
  #key: CryptoKey | undefined
  async load (): Promise<CryptoKey | undefined> { return this.#key }
  async save (key: CryptoKey): Promise<void> { this.#key = key }
  async delete (): Promise<void> { this.#key = undefined }
}
