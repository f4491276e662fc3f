/** Turns typed errors into sentences a person understands; unknown errors keep their message. */
const WORDS: Record<string, string> = {
  ERR_WRONG_PASSPHRASE: 'That passphrase is not right. Nothing was changed.',
  ERR_WEAK_PASSPHRASE: 'Choose a passphrase of at least 8 characters.',
  ERR_LOCKED: 'The wallet is locked. Unlock it with your passphrase first.',
  ERR_DECRYPT: 'The stored data could not be decrypted: it may have been damaged.',
  ERR_PROFILE_NOT_EMPTY: 'That profile already has an identity. Restore into a new profile name.',
  ERR_BAD_BACKUP: 'That file is not an alliance-net backup.',
  ERR_BAD_DID: 'That is not a valid did:key of an Ed25519 key.',
  ERR_BAD_PROFILE: 'A profile name is 1–32 letters, digits, "-" or "_".',
  ERR_NOT_CONNECTED: 'That peer is not connected directly right now.',
  ERR_OVERSPEND: 'There are not enough credits for that.',
  ERR_WEAK_KDF: 'This file or setting uses too weak a key derivation to be safe.',
  ERR_DEVICE_KEY_MISSING: 'This browser lost the key that protected this wallet. Restore it from a backup.',
  ERR_INVALID_CREDENTIAL: 'That credential is not valid.',
  ERR_PASSPHRASE_SET: 'A passphrase is already set: change it instead.',
  ERR_NO_PASSPHRASE: 'No passphrase is set.',
  ERR_STORAGE: 'The browser refused to store data (is storage full or blocked?).',
  ERR_CLOSED: 'This wallet was closed, for example by another tab. Reload the page.',
  ERR_CONTACT_INVALID: 'A name is 1–40 characters, without control or direction characters.',
  ERR_BAD_AMOUNT: 'The amount must be a whole number of credits above 0.',
  ERR_SELF: 'That is your own DID: sending to yourself does nothing.',
  ERR_BACKUP_REQUIRED: 'Make a backup of this wallet first (Wallet, Backup): until then it does not join, receive or pay.',
  ERR_NOT_READY: 'This part is still opening (or the wallet is locked). Try again in a moment.',
  ERR_SESSION_CAPACITY: 'That offer has as many guests as it takes right now. Try again later or pick another.',
  ERR_SESSION_FUNDS: 'You do not hold the price of one round.',
  ERR_SESSION_UNAVAILABLE: 'The provider cannot serve this now (offline, no Wi-Fi saved, or it does not serve you).',
  ERR_SESSION_TIMEOUT: 'The provider did not answer in time: it may be offline. Try again.',
  ERR_SESSION_OFFER_INACTIVE: 'That offer was withdrawn or has expired.',
  ERR_NO_WEBCRYPTO: 'This page needs a secure context (https or localhost) for its cryptography.'
}

export function describeError (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code in WORDS) return WORDS[code]
  if (err instanceof Error) return err.message
  return String(err)
}
