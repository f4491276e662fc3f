/**
 * Typed errors of the wallet. Every error extends AllianceError with a stable `code` that the
 * UI switches on (messages are for people and may change). A failed operation never leaves
 * the wallet half-changed: each of these is thrown before, or instead of, the write.
 */
import { AllianceError } from '../core/errors.ts'

/** The passphrase does not open the wallet or the backup; nothing was changed. */
export class WrongPassphraseError extends AllianceError {
  constructor (message = 'wrong passphrase', options?: { cause?: unknown }) {
    super('ERR_WRONG_PASSPHRASE', message, options)
  }
}

/** The operation needs the private key and the wallet is locked (or was closed). */
export class WalletLockedError extends AllianceError {
  constructor (message = 'the wallet is locked: unlock it with the passphrase first') {
    super('ERR_LOCKED', message)
  }
}

/** The wallet was closed; open it again. */
export class WalletClosedError extends AllianceError {
  constructor (message = 'the wallet was closed') {
    super('ERR_CLOSED', message)
  }
}

/** Stored ciphertext does not decrypt under a key that passed the check: it was altered or damaged. */
export class DecryptError extends AllianceError {
  constructor (message = 'stored data does not decrypt: it was altered or damaged', options?: { cause?: unknown }) {
    super('ERR_DECRYPT', message, options)
  }
}

/** The device key that protects this profile is gone (site data partly cleared). */
export class DeviceKeyMissingError extends AllianceError {
  constructor (message = 'the device key of this wallet is missing: restore the wallet from a backup') {
    super('ERR_DEVICE_KEY_MISSING', message)
  }
}

/** A new passphrase is too short. */
export class WeakPassphraseError extends AllianceError {
  constructor (message: string) {
    super('ERR_WEAK_PASSPHRASE', message)
  }
}

/** A PBKDF2 iteration count under the product floor (or over the sanity ceiling). */
export class WeakKdfError extends AllianceError {
  constructor (message: string) {
    super('ERR_WEAK_KDF', message)
  }
}

/** setPassphrase on a wallet that already has one (use changePassphrase). */
export class PassphraseAlreadySetError extends AllianceError {
  constructor (message = 'a passphrase is already set: change it instead') {
    super('ERR_PASSPHRASE_SET', message)
  }
}

/** changePassphrase / removePassphrase on a wallet without a passphrase. */
export class NoPassphraseError extends AllianceError {
  constructor (message = 'no passphrase is set') {
    super('ERR_NO_PASSPHRASE', message)
  }
}

/** restore() into a profile that already holds a DID. */
export class ProfileNotEmptyError extends AllianceError {
  constructor (message: string) {
    super('ERR_PROFILE_NOT_EMPTY', message)
  }
}

/** A backup file that is not ours, not this version, or whose content does not add up. */
export class BadBackupError extends AllianceError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_BAD_BACKUP', message, options)
  }
}

/** A credential that is malformed or whose signature fails, refused by saveCredential. */
export class InvalidCredentialError extends AllianceError {
  constructor (message: string) {
    super('ERR_INVALID_CREDENTIAL', message)
  }
}

/** IndexedDB failed (quota, aborted transaction, blocked upgrade, private mode). */
export class WalletStorageError extends AllianceError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_STORAGE', message, options)
  }
}
