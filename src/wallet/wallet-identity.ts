/**
 * The wallet's one identity in Veramo: loading the agent (in its own chunk), finding the
 * profile's DID, and creating it from a seed in a crash-safe order.
 */
import { concatBytes, toHex } from '../core/bytes.ts'
import { didFromPublicKey, keyPairFromSeed, parseDid } from '../core/identity.ts'
import type { AgentParts } from './agent.ts'
import { makeCheck } from './cipher.ts'
import type { KeyHolder } from './cipher.ts'
import { writeMeta } from './db.ts'
import type { ProfileRecord, VaultRecord, WalletDb } from './db.ts'
import type { DeviceKeyStore } from './device-key.ts'
import { WalletStorageError } from './errors.ts'
import { ensureDeviceKey } from './wallet-vault.ts'

/** Veramo alias of the profile's one DID. */
const DID_ALIAS = 'default'

export async function loadAgent (db: WalletDb, holder: KeyHolder): Promise<AgentParts> {
  // dynamic so that Veramo is a chunk of its own and only loads when a wallet opens
  const { createWalletAgent } = await import('./agent.ts')
  return createWalletAgent(db, holder)
}

/** The profile's DID as Veramo holds it, if it made one. */
export async function findOwnIdentifier (parts: AgentParts): Promise<{ did: string, controllerKeyId?: string } | undefined> {
  const found = await parts.agent.didManagerFind({ alias: DID_ALIAS })
  return found[0]
}

/**
 * Creates the profile's DID from `seed` through Veramo's DIDManager (did:key provider, key
 * imported into kms-local, sealed by the device key). Order matters for crash safety: the
 * device key and vault first, so the private key is never written without the key that opens
 * it; the profile record last, so its presence means the identity is complete.
 */
export async function createIdentity (
  db: WalletDb, parts: AgentParts, holder: KeyHolder, deviceKeys: DeviceKeyStore,
  seed: Uint8Array, createdAt: string, backedUp: boolean
): Promise<{ profileRecord: ProfileRecord, vault: VaultRecord }> {
  const deviceKey = await ensureDeviceKey(deviceKeys)
  const vault: VaultRecord = { mode: 'device', check: await makeCheck(deviceKey) }
  await writeMeta(db, 'vault', vault)
  holder.key = deviceKey
  const { publicKey } = keyPairFromSeed(seed)
  const identifier = await parts.agent.didManagerCreate({
    provider: 'did:key',
    kms: 'local',
    alias: DID_ALIAS,
    // Veramo's Ed25519 layout is seed || public key (the same as libp2p's raw private key)
    options: { keyType: 'Ed25519', privateKeyHex: toHex(concatBytes(seed, publicKey)) }
  })
  const did = parseDid(identifier.did)
  if (did !== didFromPublicKey(publicKey) || identifier.controllerKeyId === undefined) {
    throw new WalletStorageError('Veramo did not create the DID of the given key')
  }
  const profileRecord: ProfileRecord = { did, kid: identifier.controllerKeyId, createdAt, backedUp }
  await writeMeta(db, 'profile', profileRecord)
  return { profileRecord, vault }
}
