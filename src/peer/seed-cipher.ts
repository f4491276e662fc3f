/**
 * Seals small secrets at rest (the hotspot password) under an AES-GCM key derived from the
 * wallet's seed with HKDF-SHA-256 and a purpose label. The seed itself is kept encrypted
 * (device key or passphrase), so these secrets are as safe as the keys, and a locked wallet
 * cannot open them. Sealed form: 12-byte IV || ciphertext with tag.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '../core/bytes.ts'
import { AllianceError } from '../core/errors.ts'

export interface SecretCipher {
  encrypt: (plaintext: Uint8Array) => Promise<Uint8Array>
  decrypt: (sealed: Uint8Array) => Promise<Uint8Array>
}

export class SecretDecryptError extends AllianceError {
  constructor () { super('ERR_DECRYPT', 'the stored secret could not be decrypted') }
}

export function seedCipher (seed: () => Uint8Array, purpose: string): SecretCipher {
  const key = async (): Promise<CryptoKey> => {
    const raw = hkdf(sha256, seed(), new Uint8Array(0), new TextEncoder().encode(`alliance-net/secret/${purpose}`), 32)
    return await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt', 'decrypt'])
  }
  return {
    encrypt: async (plaintext) => {
      const iv = crypto.getRandomValues(new Uint8Array(12))
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await key(), plaintext as Uint8Array<ArrayBuffer>))
      return concatBytes(iv, ct)
    },
    decrypt: async (sealed) => {
      if (sealed.length < 12 + 16) throw new SecretDecryptError()
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(0, 12) }, await key(), sealed.slice(12)))
      } catch {
        throw new SecretDecryptError()
      }
    }
  }
}
