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
  ERR_OVERSPEND: 'There are not enough credits for that.'
}

export function describeError (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code in WORDS) return WORDS[code]
  if (err instanceof Error) return err.message
  return String(err)
}
