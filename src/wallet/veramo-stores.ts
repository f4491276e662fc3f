/**
 * IndexedDB stores for Veramo's KeyManager, kms-local and DIDManager, and the WebCrypto secret
 * box that seals private keys. Loaded only through agent.ts (a dynamic import), since the
 * Veramo base classes pull in the heavy part of Veramo.
 *
 * Guarantees: private key material reaches IndexedDB only as AES-GCM ciphertext bound to its
 * alias; records are never decrypted in place (reads return fresh objects), and public records
 * are stripped of any `privateKeyHex` a caller might pass along.
 */
import { AbstractKeyStore, AbstractPrivateKeyStore, AbstractSecretBox } from '@veramo/key-manager'
import type { ImportablePrivateKey, ManagedPrivateKey } from '@veramo/key-manager'
import { AbstractDIDStore } from '@veramo/did-manager'
import type { IIdentifier, IKey, ManagedKeyInfo } from '@veramo/core'
import { openText, PRIVATE_KEY_PURPOSE, sealText, secretAad } from './cipher.ts'
import type { KeyHolder } from './cipher.ts'
import { run } from './db.ts'
import type { SealedPrivateKey, WalletDb } from './db.ts'
import { WalletLockedError } from './errors.ts'

export { PRIVATE_KEY_PURPOSE }

/**
 * Veramo's secret box slot, on AES-GCM with whatever key the holder has now (device key or
 * passphrase key). `slot` (optional, so the Veramo shape still fits) names the record the text
 * belongs to and goes into the associated data.
 */
export class WebCryptoSecretBox extends AbstractSecretBox {
  readonly #holder: KeyHolder
  readonly #purpose: string
  constructor (holder: KeyHolder, purpose: string) {
    super()
    this.#holder = holder
    this.#purpose = purpose
  }

  #key (): CryptoKey {
    if (this.#holder.key == null) throw new WalletLockedError()
    return this.#holder.key
  }

  async encrypt (message: string, slot = ''): Promise<string> {
    return await sealText(this.#key(), message, secretAad(this.#purpose, slot))
  }

  async decrypt (encryptedMessageHex: string, slot = ''): Promise<string> {
    return await openText(this.#key(), encryptedMessageHex, secretAad(this.#purpose, slot))
  }
}

const KEY_HEX = /^(?:[0-9a-fA-F]{2})+$/

export class IdbPrivateKeyStore extends AbstractPrivateKeyStore {
  readonly #db: WalletDb
  readonly #box: WebCryptoSecretBox
  constructor (db: WalletDb, box: WebCryptoSecretBox) {
    super()
    this.#db = db
    this.#box = box
  }

  async #unseal (record: SealedPrivateKey): Promise<ManagedPrivateKey> {
    return { alias: record.alias, type: record.type, privateKeyHex: await this.#box.decrypt(record.sealed, record.alias) }
  }

  async importKey (args: ImportablePrivateKey): Promise<ManagedPrivateKey> {
    if (typeof args.privateKeyHex !== 'string' || !KEY_HEX.test(args.privateKeyHex)) throw new Error('invalid_argument: privateKeyHex must be hex')
    const alias = args.alias ?? globalThis.crypto.randomUUID()
    const privateKeyHex = args.privateKeyHex.toLowerCase()
    const existing = await run(this.#db, ['privateKeys'], 'readonly', async (tx) => await tx.objectStore('privateKeys').get(alias))
    if (existing != null) {
      const current = await this.#unseal(existing)
      if (current.privateKeyHex !== privateKeyHex) throw new Error('key_already_exists: key exists with different data, please use a different alias')
      return current
    }
    // sealed before the transaction opens: an IDB transaction does not survive awaiting WebCrypto
    const sealed = await this.#box.encrypt(privateKeyHex, alias)
    await run(this.#db, ['privateKeys'], 'readwrite', async (tx) => {
      await tx.objectStore('privateKeys').put({ alias, type: args.type, sealed })
    })
    return { alias, type: args.type, privateKeyHex }
  }

  async getKey ({ alias }: { alias: string }): Promise<ManagedPrivateKey> {
    const record = await run(this.#db, ['privateKeys'], 'readonly', async (tx) => await tx.objectStore('privateKeys').get(alias))
    if (record == null) throw new Error(`not_found: PrivateKey not found for alias=${alias}`)
    return await this.#unseal(record)
  }

  async deleteKey ({ alias }: { alias: string }): Promise<boolean> {
    await run(this.#db, ['privateKeys'], 'readwrite', async (tx) => { await tx.objectStore('privateKeys').delete(alias) })
    return true
  }

  async listKeys (_args: object): Promise<ManagedPrivateKey[]> {
    const records = await run(this.#db, ['privateKeys'], 'readonly', async (tx) => await tx.objectStore('privateKeys').getAll())
    return await Promise.all(records.map(async (r) => await this.#unseal(r)))
  }
}

function publicOnly (key: Partial<IKey>): IKey {
  const { privateKeyHex: _drop, ...rest } = key
  return rest as IKey
}

export class IdbKeyStore extends AbstractKeyStore {
  readonly #db: WalletDb
  constructor (db: WalletDb) {
    super()
    this.#db = db
  }

  async importKey (args: Partial<IKey>): Promise<boolean> {
    if (typeof args.kid !== 'string' || typeof args.kms !== 'string' || typeof args.type !== 'string' || typeof args.publicKeyHex !== 'string') {
      throw new Error('invalid_argument: a key needs kid, kms, type and publicKeyHex')
    }
    const key = publicOnly(args)
    await run(this.#db, ['keys'], 'readwrite', async (tx) => { await tx.objectStore('keys').put(key) })
    return true
  }

  async getKey ({ kid }: { kid: string }): Promise<IKey> {
    const key = await run(this.#db, ['keys'], 'readonly', async (tx) => await tx.objectStore('keys').get(kid))
    if (key == null) throw new Error(`not_found: Key not found for kid=${kid}`)
    return key
  }

  async deleteKey ({ kid }: { kid: string }): Promise<boolean> {
    await run(this.#db, ['keys'], 'readwrite', async (tx) => { await tx.objectStore('keys').delete(kid) })
    return true
  }

  async listKeys (_args: object): Promise<ManagedKeyInfo[]> {
    return await run(this.#db, ['keys'], 'readonly', async (tx) => await tx.objectStore('keys').getAll())
  }
}

export class IdbDIDStore extends AbstractDIDStore {
  readonly #db: WalletDb
  constructor (db: WalletDb) {
    super()
    this.#db = db
  }

  async importDID (args: IIdentifier): Promise<boolean> {
    const identifier: IIdentifier = { ...args, keys: args.keys.map(publicOnly), services: args.services ?? [] }
    await run(this.#db, ['dids'], 'readwrite', async (tx) => { await tx.objectStore('dids').put(identifier) })
    return true
  }

  async getDID (args: { did?: string, alias?: string }): Promise<IIdentifier> {
    const found = await run(this.#db, ['dids'], 'readonly', async (tx) => {
      if (typeof args.did === 'string' && args.alias === undefined) return await tx.objectStore('dids').get(args.did)
      if (typeof args.alias === 'string' && args.did === undefined) return await tx.objectStore('dids').index('alias').get(args.alias)
      throw new Error('invalid_argument: Get requires did or alias')
    })
    if (found == null) throw new Error(`not_found: IIdentifier not found with ${args.did !== undefined ? `did=${args.did}` : `alias=${String(args.alias)}`}`)
    return found
  }

  async deleteDID ({ did }: { did: string }): Promise<boolean> {
    await run(this.#db, ['dids'], 'readwrite', async (tx) => { await tx.objectStore('dids').delete(did) })
    return true
  }

  async listDIDs (args: { alias?: string, provider?: string }): Promise<IIdentifier[]> {
    const all = await run(this.#db, ['dids'], 'readonly', async (tx) => await tx.objectStore('dids').getAll())
    return all.filter((i) => (args.alias === undefined || i.alias === args.alias) && (args.provider === undefined || i.provider === args.provider))
  }
}
