/**
 * The DID wallet of one profile: one Ed25519 key that is both the profile's `did:key` and its
 * libp2p PeerId, held by a Veramo agent (KeyManager + kms-local, DIDManager did:key, did:key
 * resolver, JWT credentials) over IndexedDB.
 *
 * Guarantees:
 * - The private key is stored only as AES-GCM ciphertext: under a non-extractable device key
 *   until the user sets a passphrase, then under a PBKDF2-SHA-256 key of the passphrase (never
 *   fewer than 300,000 iterations outside tests).
 * - Public facts (DID, PeerId, credentials) are readable while locked; the seed is in memory
 *   only while unlocked, and lock()/close() wipe it.
 * - A wrong passphrase fails at once (encrypted check value) and changes nothing; re-encryption
 *   is one IndexedDB transaction, so a failure leaves the old state intact.
 *
 * The parts: wallet-options.ts (options), wallet-identity.ts (the DID in Veramo),
 * wallet-vault.ts (device and passphrase keys, re-sealing), wallet-issue.ts (credentials).
 */
import { generateKeyPair, parseDid, peerIdStringFromDid } from '../core/identity.ts'
import type { Did, PeerIdString } from '../core/identity.ts'
import type { AgentParts, WalletAgent } from './agent.ts'
import { openBackup, parseBackup, sealBackup } from './backup.ts'
import { assertStrongPassphrase, keyPassesCheck, makeCheck } from './cipher.ts'
import type { KeyHolder } from './cipher.ts'
import { decodeCredentialJwt } from './credentials.ts'
import { openWalletDb, readMeta, run, writeMeta } from './db.ts'
import type { ProfileRecord, VaultRecord, WalletDb } from './db.ts'
import { IdbDeviceKeyStore } from './device-key.ts'
import type { DeviceKeyStore } from './device-key.ts'
import {
  BadBackupError, DecryptError, DeviceKeyMissingError, InvalidCredentialError, NoPassphraseError, PassphraseAlreadySetError,
  ProfileNotEmptyError, WalletClosedError, WalletLockedError, WalletStorageError
} from './errors.ts'
import { withProfileLock } from './lock.ts'
import type { CredentialCheck, StoredCredential } from './types.ts'
import { resolveOptions } from './wallet-options.ts'
import type { Resolved, WalletOptions } from './wallet-options.ts'
import { createIdentity, findOwnIdentifier, loadAgent } from './wallet-identity.ts'
import { issueCredentialJwt, verifyCredentialJwt } from './wallet-issue.ts'
import type { IssueCredentialArgs } from './wallet-issue.ts'
import { ensureDeviceKey, keyOfPassphrase, newPassphraseVault, resealPrivateKeys, seedOfPrivateKey } from './wallet-vault.ts'

export type { WalletOptions } from './wallet-options.ts'
export type { IssueCredentialArgs } from './wallet-issue.ts'

/** Everything a Wallet instance is made of; built by open() and restore(). */
interface Init {
  readonly o: Resolved
  readonly db: WalletDb
  readonly parts: AgentParts
  readonly holder: KeyHolder
  readonly deviceKeys: DeviceKeyStore
  readonly profileRecord: ProfileRecord
  readonly vault: VaultRecord
}

export class Wallet {
  readonly profile: string
  /** Known even while locked: public information is stored in clear. */
  readonly did: Did
  /** The libp2p PeerId string of the same Ed25519 key. */
  readonly peerId: PeerIdString

  readonly #o: Resolved
  readonly #db: WalletDb
  readonly #parts: AgentParts
  readonly #holder: KeyHolder
  readonly #deviceKeys: DeviceKeyStore
  readonly #kid: string
  #vault: VaultRecord
  #seed: Uint8Array | null = null
  #backedUp: boolean
  #closed = false

  private constructor (init: Init) {
    this.#o = init.o
    this.#db = init.db
    this.#parts = init.parts
    this.#holder = init.holder
    this.#deviceKeys = init.deviceKeys
    this.#kid = init.profileRecord.kid
    this.#vault = init.vault
    this.#backedUp = init.profileRecord.backedUp
    this.profile = init.o.profile
    this.did = parseDid(init.profileRecord.did)
    this.peerId = peerIdStringFromDid(this.did)
    // Profile deleted or schema upgraded by another tab, or the browser dropped the connection:
    // this instance can no longer work, so it wipes its secrets rather than linger unlocked.
    init.db.addEventListener('versionchange', () => { this.close() })
    init.db.addEventListener('close', () => { this.close() })
  }

  /** First run: creates an Ed25519 did:key. Otherwise loads it; with a passphrase it opens locked. */
  static async open (opts: WalletOptions): Promise<Wallet> {
    const o = resolveOptions(opts)
    return await withProfileLock(o.profile, async () => {
      const db = await openWalletDb(o.profile, o.idbFactory)
      try {
        const holder: KeyHolder = { key: null }
        const parts = await loadAgent(db, holder)
        const deviceKeys = o.deviceKeys ?? new IdbDeviceKeyStore(db)
        let { vault, profile: profileRecord } = await readMeta(db)
        if (profileRecord === undefined) {
          const existing = await findOwnIdentifier(parts)
          if (existing === undefined) {
            ({ profileRecord, vault } = await createIdentity(db, parts, holder, deviceKeys, generateKeyPair().seed, o.now().toISOString(), false))
          } else {
            // a creation that stopped after Veramo stored the DID: adopt it
            if (existing.controllerKeyId === undefined) throw new WalletStorageError('the stored DID has no key')
            profileRecord = { did: existing.did, kid: existing.controllerKeyId, createdAt: o.now().toISOString(), backedUp: false }
            await writeMeta(db, 'profile', profileRecord)
          }
        }
        if (vault === undefined) throw new WalletStorageError('the wallet database has a DID but no key record')
        const wallet = new Wallet({ o, db, parts, holder, deviceKeys, profileRecord, vault })
        if (vault.mode === 'device') await wallet.#unlockWithDeviceKey()
        return wallet
      } catch (err) {
        db.close()
        throw err
      }
    })
  }

  /**
   * Restores a backup into a profile that has no DID yet (ERR_PROFILE_NOT_EMPTY otherwise).
   * The restored wallet is protected by a new device key (set a passphrase afterwards) and
   * counts as backed up.
   */
  static async restore (opts: WalletOptions & { backup: string, passphrase: string }): Promise<Wallet> {
    const o = resolveOptions(opts)
    const file = parseBackup(opts.backup, o.allowInsecure)
    if (typeof opts.passphrase !== 'string') throw new TypeError('passphrase must be a string')
    return await withProfileLock(o.profile, async () => {
      const db = await openWalletDb(o.profile, o.idbFactory)
      try {
        const holder: KeyHolder = { key: null }
        const parts = await loadAgent(db, holder)
        const meta = await readMeta(db)
        const existing = meta.profile?.did ?? (await findOwnIdentifier(parts))?.did
        if (existing !== undefined) throw new ProfileNotEmptyError(`profile "${o.profile}" already has the identity ${existing}`)
        const content = await openBackup(file, opts.passphrase)
        let created: { profileRecord: ProfileRecord, vault: VaultRecord, deviceKeys: DeviceKeyStore }
        try {
          let credentials: StoredCredential[]
          try {
            credentials = content.credentials.map(decodeCredentialJwt)
          } catch (err) {
            throw new BadBackupError(`a credential in the backup is damaged: ${(err as Error).message}`, { cause: err })
          }
          // credentials before the identity: a profile only counts as taken once it has a DID,
          // so if anything below fails the restore can simply be tried again
          await run(db, ['credentials'], 'readwrite', async (tx) => {
            for (const c of credentials) await tx.objectStore('credentials').put(c)
          })
          const deviceKeys = o.deviceKeys ?? new IdbDeviceKeyStore(db)
          created = { ...await createIdentity(db, parts, holder, deviceKeys, content.seed, content.createdAt, true), deviceKeys }
        } finally {
          content.seed.fill(0)
        }
        const { profileRecord, vault, deviceKeys } = created
        const wallet = new Wallet({ o, db, parts, holder, deviceKeys, profileRecord, vault })
        await wallet.#unlockWithDeviceKey()
        return wallet
      } catch (err) {
        db.close()
        throw err
      }
    })
  }

  get locked (): boolean { return this.#seed === null }
  get hasPassphrase (): boolean { return this.#vault.mode === 'passphrase' }
  /** Whether a backup was exported (or restored from) since the DID was created. */
  get backedUp (): boolean { return this.#backedUp }

  /**
   * The Veramo agent behind this wallet, for what the wallet does not wrap (DIDComm, signing
   * through keyManagerSign). Its key operations fail while the wallet is locked.
   */
  get agent (): WalletAgent {
    this.#assertOpen()
    return this.#parts.agent
  }

  /** ERR_WRONG_PASSPHRASE leaves the wallet locked. Without a passphrase there is nothing to unlock. */
  async unlock (passphrase: string): Promise<void> {
    this.#assertOpen()
    // read afresh: another tab may have changed or removed the passphrase since we opened
    const vault = await this.#currentVault()
    if (vault.mode !== 'passphrase') {
      if (this.locked) await this.#unlockWithDeviceKey()
      return
    }
    const key = await this.#keyOfPassphrase(passphrase, vault)
    if (this.locked) await this.#loadSeed(key)
  }

  /** Forgets the passphrase key and the seed. Without a passphrase the device key would reopen it at once, so it does nothing. */
  lock (): void {
    if (!this.hasPassphrase) return
    this.#forgetSecrets()
  }

  /** Re-encrypts the private key under a passphrase (ERR_WEAK_PASSPHRASE under 8 characters) and drops the device key. */
  async setPassphrase (passphrase: string): Promise<void> {
    this.#assertOpen()
    assertStrongPassphrase(passphrase)
    await withProfileLock(this.profile, async () => {
      const current = await this.#currentVault()
      if (current.mode === 'passphrase') throw new PassphraseAlreadySetError()
      const oldKey = this.#holder.key
      if (oldKey === null) throw new WalletLockedError()
      const { key, vault } = await this.#newPassphraseVault(passphrase)
      await this.#reseal(oldKey, key, vault)
      this.#vault = vault
      this.#holder.key = key
    })
    // After the commit every record is sealed under the passphrase key, so the old device key
    // opens nothing; failing to delete it is harmless.
    await this.#deviceKeys.delete().catch(() => {})
  }

  /** Works locked or unlocked, and leaves that state as it was. */
  async changePassphrase (oldPassphrase: string, newPassphrase: string): Promise<void> {
    this.#assertOpen()
    assertStrongPassphrase(newPassphrase)
    await withProfileLock(this.profile, async () => {
      const current = await this.#currentVault()
      if (current.mode !== 'passphrase') throw new NoPassphraseError()
      const oldKey = await this.#keyOfPassphrase(oldPassphrase, current)
      const { key, vault } = await this.#newPassphraseVault(newPassphrase)
      await this.#reseal(oldKey, key, vault)
      this.#vault = vault
      if (!this.locked) this.#holder.key = key
    })
  }

  /** Back to the device key; the wallet is unlocked afterwards. */
  async removePassphrase (currentPassphrase: string): Promise<void> {
    this.#assertOpen()
    await withProfileLock(this.profile, async () => {
      const current = await this.#currentVault()
      if (current.mode !== 'passphrase') throw new NoPassphraseError()
      const oldKey = await this.#keyOfPassphrase(currentPassphrase, current)
      // stored before anything is sealed under it, so a crash can never strand the key
      const deviceKey = await ensureDeviceKey(this.#deviceKeys)
      const vault: VaultRecord = { mode: 'device', check: await makeCheck(deviceKey) }
      await this.#reseal(oldKey, deviceKey, vault)
      this.#vault = vault
      if (this.locked) await this.#loadSeed(deviceKey)
      else this.#holder.key = deviceKey
    })
  }

  /** The 32-byte Ed25519 seed (a copy): for the libp2p key and ledger signatures. ERR_LOCKED while locked. */
  seed (): Uint8Array {
    this.#assertOpen()
    if (this.#seed === null) throw new WalletLockedError()
    return this.#seed.slice()
  }

  /** Issues a JWT VC signed by this DID through Veramo, and keeps it. */
  async issueCredential (args: IssueCredentialArgs): Promise<StoredCredential> {
    this.#assertUnlocked()
    const stored = await issueCredentialJwt(this.#parts.agent, this.did, args, () => this.#now())
    await this.#putCredential(stored)
    return stored
  }

  /** Checks signature (via Veramo and the did:key resolver) and dates; never throws for a bad credential. */
  async verifyCredential (jwt: string): Promise<CredentialCheck> {
    this.#assertOpen()
    return await verifyCredentialJwt(this.#parts.agent, jwt, () => this.#now())
  }

  /** Keeps a credential received from someone else; refuses tampered or malformed ones (ERR_INVALID_CREDENTIAL). */
  async saveCredential (jwt: string): Promise<StoredCredential> {
    const check = await this.verifyCredential(jwt)
    if (check.status === 'tampered' || check.status === 'malformed') throw new InvalidCredentialError(check.reason)
    const stored = decodeCredentialJwt(jwt)
    await this.#putCredential(stored)
    return stored
  }

  /** Oldest first. */
  async listCredentials (): Promise<StoredCredential[]> {
    this.#assertOpen()
    return await run(this.#db, ['credentials'], 'readonly', async (tx) => await tx.objectStore('credentials').index('issuedAt').getAll())
  }

  /** Deleting an id that is not there is not an error. */
  async deleteCredential (id: string): Promise<void> {
    this.#assertOpen()
    if (typeof id !== 'string') throw new TypeError('id must be a string')
    await run(this.#db, ['credentials'], 'readwrite', async (tx) => { await tx.objectStore('credentials').delete(id) })
  }

  /**
   * An encrypted backup (JSON text) of the seed, DID and credentials under `passphrase`
   * (independent of the wallet's own passphrase), and records that a backup exists.
   */
  async exportBackup (passphrase: string): Promise<string> {
    this.#assertUnlocked()
    assertStrongPassphrase(passphrase)
    const credentials = await this.listCredentials()
    const { profile } = await readMeta(this.#db)
    if (profile === undefined) throw new WalletStorageError('the profile record is missing')
    const seed = this.seed()
    let text: string
    try {
      text = await sealBackup({ did: this.did, seed, createdAt: profile.createdAt, credentials: credentials.map((c) => c.jwt) }, passphrase, this.#o.iterations)
    } finally {
      seed.fill(0)
    }
    await writeMeta(this.#db, 'profile', { ...profile, backedUp: true })
    this.#backedUp = true
    return text
  }

  /** Wipes the secrets from memory and closes the database; the object is unusable afterwards. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#forgetSecrets()
    this.#db.close()
  }

  #now (): Date {
    const now = this.#o.now()
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('the clock returned no valid Date')
    return now
  }

  #assertOpen (): void {
    if (this.#closed) throw new WalletClosedError()
  }

  #assertUnlocked (): void {
    this.#assertOpen()
    if (this.locked) throw new WalletLockedError()
  }

  #forgetSecrets (): void {
    this.#seed?.fill(0)
    this.#seed = null
    this.#holder.key = null
  }

  async #putCredential (credential: StoredCredential): Promise<void> {
    this.#assertOpen()
    await run(this.#db, ['credentials'], 'readwrite', async (tx) => { await tx.objectStore('credentials').put(credential) })
  }

  /** The vault as stored now (another tab may have changed it), adopted as ours. */
  async #currentVault (): Promise<VaultRecord> {
    const { vault } = await readMeta(this.#db)
    if (vault === undefined) throw new WalletStorageError('the key record is missing')
    this.#vault = vault
    return vault
  }

  async #keyOfPassphrase (passphrase: string, vault: VaultRecord & { mode: 'passphrase' }): Promise<CryptoKey> {
    return await keyOfPassphrase(passphrase, vault, this.#o.allowInsecure)
  }

  async #newPassphraseVault (passphrase: string): Promise<{ key: CryptoKey, vault: VaultRecord }> {
    return await newPassphraseVault(passphrase, this.#o.iterations)
  }

  /** Re-encrypts every private key under `newKey` with the new vault record, all or nothing (wallet-vault.ts). */
  async #reseal (oldKey: CryptoKey, newKey: CryptoKey, vault: VaultRecord): Promise<void> {
    await resealPrivateKeys(this.#db, oldKey, newKey, vault)
  }

  async #unlockWithDeviceKey (): Promise<void> {
    const key = await this.#deviceKeys.load()
    if (key === undefined) throw new DeviceKeyMissingError()
    if (!(await keyPassesCheck(key, this.#vault.check))) throw new DecryptError('the device key does not open this wallet')
    await this.#loadSeed(key)
  }

  /** Decrypts the private key through Veramo's private-key store and checks it is the DID's key. */
  async #loadSeed (key: CryptoKey): Promise<void> {
    this.#holder.key = key
    try {
      let privateKeyHex: string
      try {
        privateKeyHex = (await this.#parts.privateKeys.getKey({ alias: this.#kid })).privateKeyHex
      } catch (err) {
        if (err instanceof DecryptError || err instanceof WalletStorageError) throw err
        throw new WalletStorageError(`the private key of ${this.did} is missing`, { cause: err })
      }
      this.#seed = seedOfPrivateKey(privateKeyHex, this.did)
    } catch (err) {
      this.#holder.key = null
      throw err
    }
  }
}
