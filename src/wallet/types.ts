/**
 * Plain data types of the wallet's public API. No runtime code, so the UI can import them
 * without loading Veramo.
 */

/** A JWT verifiable credential kept in the wallet, with its fields decoded for display. */
export interface StoredCredential {
  /** Hex SHA-256 of the JWT text: stable, and the value a ledger anchor would carry. */
  readonly id: string
  readonly jwt: string
  readonly issuer: string
  readonly subject: string
  /** The credential's own type (the one besides `VerifiableCredential`). */
  readonly type: string
  /** ISO 8601. */
  readonly issuedAt: string
  readonly expiresAt?: string
  /** credentialSubject without its `id`. */
  readonly claims: Record<string, unknown>
}

export type CredentialStatus = 'valid' | 'tampered' | 'expired' | 'not-yet-valid' | 'malformed'

/** Outcome of checking a credential; `reason` is a sentence for people. */
export interface CredentialCheck {
  readonly status: CredentialStatus
  readonly issuer?: string
  readonly subject?: string
  readonly type?: string
  readonly expiresAt?: string
  readonly reason: string
}
