/**
 * Handing a credential to its subject over the encrypted DM channel (issue 11: credentials as
 * a person uses them): the DM text is a prefix and the JWT. The receiver verifies it before
 * keeping it; nothing here trusts the sender beyond the DM's authenticated DID.
 */
export const CREDENTIAL_PREFIX = 'alliance/credential/1 '
/** A JWT VC of ours is ~1 KB; far below the 64 KiB DM frame. */
const MAX_JWT = 16_384

export function credentialText (jwt: string): string {
  return `${CREDENTIAL_PREFIX}${jwt.trim()}`
}

/** The JWT in a credential DM, or null for any other text. */
export function parseCredentialText (text: string): string | null {
  if (!text.startsWith(CREDENTIAL_PREFIX)) return null
  const jwt = text.slice(CREDENTIAL_PREFIX.length).trim()
  return jwt.length > 0 && jwt.length <= MAX_JWT && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(jwt) ? jwt : null
}
