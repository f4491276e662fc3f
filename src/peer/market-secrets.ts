/**
 * What the market gets from the wallet: the default cipher for the hotspot's credentials at
 * rest, and the adapters that let it verify a buyer's JWT credential and pick one of its own
 * for an offer's policy (split out of market-service.ts).
 */

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { AllianceError } from '../core/errors.ts'
import { isDid } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import type { CredentialClaims, MayBuy } from '../core/contracts/policy.ts'
import type { CredentialCheck, StoredCredential } from '../wallet/types.ts'

/** Seals small secrets at rest (the wallet's cipher: AES-GCM under the wallet's key). */
export interface SecretCipher {
  encrypt: (plaintext: Uint8Array) => Promise<Uint8Array>
  decrypt: (sealed: Uint8Array) => Promise<Uint8Array>
}

/**
 * The default cipher for secrets at rest: XChaCha20-Poly1305 under a key derived (HKDF-SHA-256)
 * from the wallet's seed, so it works only while the wallet is unlocked, like the keys, and
 * survives a passphrase change (a key wrapped by the passphrase would not). Format:
 * version byte 1 ‖ 24-byte nonce ‖ ciphertext.
 */
export function seedSecretCipher (seed: () => Uint8Array, random: (n: number) => Uint8Array = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n))): SecretCipher {
  const keyOf = (): Uint8Array => hkdf(nobleSha256, seed(), undefined, SECRET_KDF_INFO, 32)
  return {
    encrypt: async (plaintext) => {
      const nonce = random(24)
      const ct = xchacha20poly1305(keyOf(), nonce, SECRET_AAD).encrypt(plaintext)
      const out = new Uint8Array(1 + nonce.length + ct.length)
      out[0] = 1
      out.set(nonce, 1)
      out.set(ct, 25)
      return out
    },
    decrypt: async (sealed) => {
      if (sealed.length < 1 + 24 + 16 || sealed[0] !== 1) throw new AllianceError('ERR_DECRYPT', 'not a sealed secret of this version')
      try {
        return xchacha20poly1305(keyOf(), sealed.subarray(1, 25), SECRET_AAD).decrypt(sealed.subarray(25))
      } catch (e) {
        throw new AllianceError('ERR_DECRYPT', 'the secret does not open with this wallet\'s key', { cause: e })
      }
    }
  }
}

const SECRET_KDF_INFO = new TextEncoder().encode('alliance/market-secret/1 key')
const SECRET_AAD = new TextEncoder().encode('alliance/market-secret/1')

/** What the market needs of the wallet to check and pick credentials (Wallet has both). */
export interface CredentialWallet {
  verifyCredential: (jwt: string) => Promise<CredentialCheck>
  listCredentials: () => Promise<StoredCredential[]>
}

/** `verifyCredential` for MarketServiceOptions: the wallet verifies, valid ones become claims. */
export function walletCredentialVerifier (wallet: Pick<CredentialWallet, 'verifyCredential'>): (jwt: string) => Promise<CredentialClaims | null> {
  return async (jwt) => {
    const check = await wallet.verifyCredential(jwt)
    if (check.status !== 'valid' || !isDid(check.issuer) || !isDid(check.subject) || typeof check.type !== 'string') return null
    const expiresAt = check.expiresAt === undefined ? undefined : Date.parse(check.expiresAt)
    return { issuer: check.issuer, subject: check.subject, types: ['VerifiableCredential', check.type], ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}) }
  }
}

/** `credentialFor` for MarketServiceOptions: the newest stored credential about `did` that `mayBuy` accepts. */
export function walletCredentialPicker (wallet: Pick<CredentialWallet, 'listCredentials'>, did: Did, now: () => number = () => Date.now()): (mayBuy: MayBuy) => Promise<string | null> {
  return async (mayBuy) => {
    if ('anyone' in mayBuy) return null
    const t = now()
    const fits = (await wallet.listCredentials()).filter((c) =>
      c.type === mayBuy.credentialType && c.subject === did &&
      (mayBuy.issuers === undefined || mayBuy.issuers.includes(c.issuer as Did)) &&
      Date.parse(c.issuedAt) <= t && (c.expiresAt === undefined || Date.parse(c.expiresAt) > t))
    return fits.length === 0 ? null : fits[fits.length - 1].jwt
  }
}

