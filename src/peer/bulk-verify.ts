/**
 * Verifies the signatures of many blocks at once through WebCrypto's Ed25519, which runs
 * about 6× (Chromium) to 16× (Node) faster than the synchronous @noble check the engine
 * would otherwise do per block (`npm run bench crypto`); in Node through `node:crypto`
 * directly (node-ed25519.ts: the same OpenSSL code as Node's WebCrypto, without a promise
 * and a thread hop per signature). Blocks it cannot judge (no WebCrypto Ed25519,
 * undecodable bytes) are left to the engine's full check, which also gives the typed
 * rejection of a bad signature.
 */
import { decode } from '../core/codec.ts'
import { publicKeyFromDid } from '../core/identity.ts'
import { signingBytes, BLOCK_LIMITS } from '../core/ledger/index.ts'
import type { UnsignedBlock } from '../core/ledger/index.ts'
import { nodeEd25519Verify } from './node-ed25519.ts'

export type SigVerdict = 'valid' | 'invalid' | 'unknown'

let supported: Promise<boolean> | null = null

function webCryptoEd25519 (): Promise<boolean> {
  supported ??= (async () => {
    try {
      await globalThis.crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'Ed25519' }, false, ['verify'])
      return true
    } catch {
      return false
    }
  })()
  return supported
}

/** A signature to check: the issuer's did:key, the signed bytes, the signature. */
export interface SignedMessage { readonly issuer: string, readonly message: Uint8Array, readonly sig: Uint8Array }

/**
 * Imported issuer keys, kept across calls (a verify worker checks the same few issuers' blocks
 * job after job): with the key at hand, `check` hands the signature to WebCrypto at once
 * instead of after a promise turn, so the crypto runs (on the browser's WebCrypto thread)
 * while this thread checks the next blocks' other rules. Cleared when full.
 */
const MAX_KEYS = 4096
const importedKeys = new Map<string, CryptoKey>()
const importingKeys = new Map<string, Promise<CryptoKey | null>>()

function importKey (did: string): Promise<CryptoKey | null> {
  let k = importingKeys.get(did)
  if (k == null) {
    k = Promise.resolve().then(async () => await globalThis.crypto.subtle.importKey('raw', publicKeyFromDid(did) as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])).then((key) => {
      if (importedKeys.size >= MAX_KEYS) importedKeys.clear()
      importedKeys.set(did, key)
      return key
    }, () => null).finally(() => { importingKeys.delete(did) })
    importingKeys.set(did, k)
  }
  return k
}

async function webCryptoVerify (item: SignedMessage): Promise<SigVerdict> {
  try {
    const key = importedKeys.get(item.issuer) ?? await importKey(item.issuer)
    if (key == null) return 'unknown'
    return await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, key, item.sig as Uint8Array<ArrayBuffer>, item.message as Uint8Array<ArrayBuffer>) ? 'valid' : 'invalid'
  } catch {
    return 'unknown'
  }
}

/**
 * One signature at a time, started at once (P11): Node's own Ed25519 where there is one
 * (synchronous), else WebCrypto (the promise settles when the crypto thread is done; call
 * `check` for each block as soon as it passed its other rules, await them all at the end).
 * Null when neither exists (every block is left to the engine).
 */
export async function signatureChecker (): Promise<((item: SignedMessage | null) => SigVerdict | Promise<SigVerdict>) | null> {
  const node = nodeEd25519Verify()
  if (node != null) {
    return (item) => {
      if (item == null) return 'unknown'
      const ok = node(item.issuer, item.message, item.sig)
      return ok == null ? 'unknown' : ok ? 'valid' : 'invalid'
    }
  }
  if (!(await webCryptoEd25519())) return null
  return (item) => item == null ? 'unknown' : webCryptoVerify(item)
}

/** Ed25519 over many messages at once (keys imported once per issuer). */
export async function verifySignatures (items: ReadonlyArray<SignedMessage | null>): Promise<SigVerdict[]> {
  const check = await signatureChecker()
  if (check == null) return items.map(() => 'unknown')
  return await Promise.all(items.map(check))
}

export async function verifyBlockSignatures (blocks: readonly Uint8Array[]): Promise<SigVerdict[]> {
  if (nodeEd25519Verify() == null && !(await webCryptoEd25519())) return blocks.map(() => 'unknown')
  return await verifySignatures(blocks.map((bytes): SignedMessage | null => {
    try {
      const value = decode<Record<string, unknown>>(bytes, BLOCK_LIMITS.maxBytes)
      const { sig, issuer } = value
      if (!(sig instanceof Uint8Array) || typeof issuer !== 'string') return null
      return { issuer, message: signingBytes(value as unknown as UnsignedBlock), sig }
    } catch {
      return null
    }
  }))
}
