/**
 * Public surface of the DID wallet. Importing this module is cheap (no Veramo): Veramo loads
 * in its own chunk when Wallet.open or Wallet.restore runs.
 */
export { Wallet } from './wallet.ts'
export type { WalletOptions, IssueCredentialArgs } from './wallet.ts'
export type { WalletAgent } from './agent.ts'
export type { StoredCredential, CredentialCheck, CredentialStatus } from './types.ts'
export type { DeviceKeyStore } from './device-key.ts'
export { MemoryDeviceKeyStore } from './device-key.ts'
export { deleteProfileData, walletDbName } from './db.ts'
export { DEFAULT_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS, MIN_PASSPHRASE_LENGTH } from './cipher.ts'
export { BACKUP_FORMAT, BACKUP_VERSION } from './backup.ts'
export type { BackupFile } from './backup.ts'
export {
  WrongPassphraseError, WalletLockedError, WalletClosedError, DecryptError, DeviceKeyMissingError,
  WeakPassphraseError, WeakKdfError, PassphraseAlreadySetError, NoPassphraseError, ProfileNotEmptyError,
  BadBackupError, InvalidCredentialError, WalletStorageError
} from './errors.ts'
