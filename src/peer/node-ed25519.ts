/**
 * Node's own Ed25519 verify (`node:crypto`), synchronous, for the bulk signature check
 * (`bulk-verify.ts`) when it runs in Node. Node's WebCrypto Ed25519 is this same OpenSSL
 * code behind a promise and a thread-pool hop per signature: calling it directly gives the
 * same verdicts (so the same strict RFC 8032 subset of what the engine accepts) at ~2.5x
 * the rate (issue 10's profile: 139 against 345 us per signature on the loaded bench
 * machine). Found through `process.getBuiltinModule`, so the browser bundle has no import
 * of `node:crypto` and simply gets `null` (it uses WebCrypto).
 */
import { publicKeyFromDid } from '../core/identity.ts'

interface NodeKeyObject { readonly type: string }
interface NodeCrypto {
  createPublicKey: (key: { key: Uint8Array, format: 'der', type: 'spki' }) => NodeKeyObject
  verify: (algorithm: null, data: Uint8Array, key: NodeKeyObject, signature: Uint8Array) => boolean
}

/** The DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410), then the 32 key bytes. */
const SPKI_ED25519 = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
/** Issuers' keys kept imported; cleared when full (a key costs a parse to import again). */
const MAX_KEYS = 4096

export type SyncEd25519Verify = (issuer: string, message: Uint8Array, sig: Uint8Array) => boolean | null

let cached: SyncEd25519Verify | null | undefined

function nodeCrypto (): NodeCrypto | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  if (typeof proc?.getBuiltinModule !== 'function') return null
  try {
    const c = proc.getBuiltinModule('node:crypto') as Partial<NodeCrypto> | undefined
    return typeof c?.createPublicKey === 'function' && typeof c.verify === 'function' ? c as NodeCrypto : null
  } catch {
    return null
  }
}

/**
 * A synchronous Ed25519 check through `node:crypto`, or null outside Node. The check returns
 * null (not judged: the engine checks it) for an issuer whose key does not import.
 */
export function nodeEd25519Verify (): SyncEd25519Verify | null {
  if (cached !== undefined) return cached
  const c = nodeCrypto()
  if (c == null) { cached = null; return null }
  const keys = new Map<string, NodeKeyObject | null>()
  const keyOf = (did: string): NodeKeyObject | null => {
    let k = keys.get(did)
    if (k !== undefined) return k
    try {
      const der = new Uint8Array(SPKI_ED25519.length + 32)
      der.set(SPKI_ED25519)
      der.set(publicKeyFromDid(did), SPKI_ED25519.length)
      k = c.createPublicKey({ key: der, format: 'der', type: 'spki' })
    } catch {
      k = null
    }
    if (keys.size >= MAX_KEYS) keys.clear()
    keys.set(did, k)
    return k
  }
  cached = (issuer, message, sig) => {
    const key = keyOf(issuer)
    if (key == null) return null
    try {
      return c.verify(null, message, key, sig)
    } catch {
      return null
    }
  }
  return cached
}
