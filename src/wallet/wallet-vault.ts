/**
 * The wallet's key vault: which key seals the private key (the device key, or a PBKDF2 key of
 * the passphrase) and the operations on it — deriving and checking a passphrase key (a wrong
 * passphrase fails at once on the encrypted check value), making a new passphrase vault,
 * re-sealing every private key in one IndexedDB transaction, and checking that a decrypted
 * private key is really the DID's key.
 */
import { equalBytes, fromHex } from '../core/bytes.ts'
import { didFromPublicKey, keyPairFromSeed, SEED_BYTES } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import {
  assertIterations, derivePassphraseKey, generateDeviceKey, keyPassesCheck, makeCheck, openText, PRIVATE_KEY_PURPOSE,
  randomBytes, SALT_BYTES, sealText, secretAad
} from './cipher.ts'
import { run } from './db.ts'
import type { SealedPrivateKey, VaultRecord, WalletDb } from './db.ts'
import type { DeviceKeyStore } from './device-key.ts'
import { DecryptError, WrongPassphraseError } from './errors.ts'

/** The device key, made and stored first if there is none (so nothing is sealed under a key that is not kept). */
export async function ensureDeviceKey (deviceKeys: DeviceKeyStore): Promise<CryptoKey> {
  let deviceKey = await deviceKeys.load()
  if (deviceKey === undefined) {
    deviceKey = await generateDeviceKey()
    await deviceKeys.save(deviceKey)
  }
  return deviceKey
}

/** The key of `passphrase` for a passphrase vault; ERR_WRONG_PASSPHRASE if it fails the vault's check. */
export async function keyOfPassphrase (passphrase: string, vault: VaultRecord & { mode: 'passphrase' }, allowInsecure: boolean): Promise<CryptoKey> {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string')
  assertIterations(vault.iterations, allowInsecure)
  const key = await derivePassphraseKey(passphrase, vault.salt, vault.iterations)
  if (!(await keyPassesCheck(key, vault.check))) throw new WrongPassphraseError()
  return key
}

/** A fresh salt, the key of `passphrase` under it, and the vault record that checks it. */
export async function newPassphraseVault (passphrase: string, iterations: number): Promise<{ key: CryptoKey, vault: VaultRecord }> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derivePassphraseKey(passphrase, salt, iterations)
  return { key, vault: { mode: 'passphrase', salt, iterations, check: await makeCheck(key) } }
}

/**
 * Re-encrypts every private key from `oldKey` to `newKey` and writes them with the new vault
 * record in one transaction. Decryption happens first and entirely in memory, so a record
 * that fails (ERR_DECRYPT) stops everything before a single write.
 */
export async function resealPrivateKeys (db: WalletDb, oldKey: CryptoKey, newKey: CryptoKey, vault: VaultRecord): Promise<void> {
  const records = await run(db, ['privateKeys'], 'readonly', async (tx) => await tx.objectStore('privateKeys').getAll())
  const resealed: SealedPrivateKey[] = []
  for (const r of records) {
    const aad = secretAad(PRIVATE_KEY_PURPOSE, r.alias)
    resealed.push({ ...r, sealed: await sealText(newKey, await openText(oldKey, r.sealed, aad), aad) })
  }
  await run(db, ['privateKeys', 'meta'], 'readwrite', async (tx) => {
    for (const r of resealed) await tx.objectStore('privateKeys').put(r)
    await tx.objectStore('meta').put(vault, 'vault')
  })
}

/**
 * The seed in a decrypted private key (Veramo's seed || public key, or the bare seed), checked
 * to be `did`'s key: the DID is public and stored in clear, so a swapped key must not pass.
 * Wipes what it decoded on failure (ERR_DECRYPT).
 */
export function seedOfPrivateKey (privateKeyHex: string, did: Did): Uint8Array {
  const raw = fromHex(privateKeyHex)
  if (raw.length !== SEED_BYTES && raw.length !== 2 * SEED_BYTES) throw new DecryptError('the stored private key has the wrong length')
  const seed = raw.slice(0, SEED_BYTES)
  // Veramo's 64-byte layout must hold the matching public key in its second half
  const { publicKey } = keyPairFromSeed(seed)
  if (didFromPublicKey(publicKey) !== did || (raw.length === 64 && !equalBytes(raw.subarray(32), publicKey))) {
    seed.fill(0)
    raw.fill(0)
    throw new DecryptError('the stored private key does not belong to this DID')
  }
  raw.fill(0)
  return seed
}
