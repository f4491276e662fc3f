// The at-rest cryptography: AES-GCM sealing bound to its purpose, PBKDF2 keys, the iteration
// floor, the passphrase rule, and the shared DeviceKeyStore suite (memory and IndexedDB).
import { describe, expect, it } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import {
  assertIterations, assertStrongPassphrase, derivePassphraseKey, generateDeviceKey, keyPassesCheck, makeCheck,
  open, openText, seal, sealText, secretAad, utf8, MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS
} from '../../src/wallet/cipher.ts'
import { openWalletDb } from '../../src/wallet/db.ts'
import { MemoryDeviceKeyStore } from '../../src/wallet/index.ts'
import { IdbDeviceKeyStore } from '../../src/wallet/device-key.ts'
import type { DeviceKeyStore } from '../../src/wallet/index.ts'

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

async function asyncCodeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('sealing', () => {
  it('round-trips, uses a fresh IV each time, and refuses other purposes, other keys and flipped bits', async () => {
    const key = await generateDeviceKey()
    const aad = secretAad('private-key', 'k1')
    const a = await sealText(key, 'secret text', aad)
    const b = await sealText(key, 'secret text', aad)
    expect(a).not.toBe(b)
    expect(await openText(key, a, aad)).toBe('secret text')
    expect(await asyncCodeOf(openText(key, a, secretAad('private-key', 'k2')))).toBe('ERR_DECRYPT')
    expect(await asyncCodeOf(openText(await generateDeviceKey(), a, aad))).toBe('ERR_DECRYPT')
    const flipped = a.slice(0, 30) + (a[30] === 'f' ? 'e' : 'f') + a.slice(31)
    expect(await asyncCodeOf(openText(key, flipped, aad))).toBe('ERR_DECRYPT')
    expect(await asyncCodeOf(openText(key, 'zz', aad))).toBe('ERR_DECRYPT')
    expect(await asyncCodeOf(open(key, new Uint8Array(5), aad))).toBe('ERR_DECRYPT')
    const sealed = await seal(key, utf8('x'), aad)
    expect(sealed.length).toBe(12 + 1 + 16)
  })

  it('keys are non-extractable', async () => {
    const device = await generateDeviceKey()
    const derived = await derivePassphraseKey('correct horse battery', new Uint8Array(16), 1000)
    for (const k of [device, derived]) {
      expect(k.extractable).toBe(false)
      await expect(crypto.subtle.exportKey('raw', k)).rejects.toThrow()
    }
  })

  it('PBKDF2: same passphrase and salt give the same key, also across Unicode normal forms; others fail the check', async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16))
    const composed = 'caf\u00e9 au lait 2024'
    const decomposed = 'cafe\u0301 au lait 2024'
    expect(composed).not.toBe(decomposed)
    const check = await makeCheck(await derivePassphraseKey(composed, salt, 1000))
    expect(await keyPassesCheck(await derivePassphraseKey(decomposed, salt, 1000), check)).toBe(true)
    expect(await keyPassesCheck(await derivePassphraseKey(composed, salt, 1001), check)).toBe(false)
    expect(await keyPassesCheck(await derivePassphraseKey('cafe au lait 2024', salt, 1000), check)).toBe(false)
    expect(await keyPassesCheck(await derivePassphraseKey(composed, new Uint8Array(16), 1000), check)).toBe(false)
    await expect(derivePassphraseKey(composed, new Uint8Array(8), 1000)).rejects.toThrow(RangeError)
  })

  it('iteration floor and ceiling', () => {
    expect(codeOf(() => assertIterations(MIN_PBKDF2_ITERATIONS - 1, false))).toBe('ERR_WEAK_KDF')
    expect(codeOf(() => assertIterations(MIN_PBKDF2_ITERATIONS, false))).toBeUndefined()
    expect(codeOf(() => assertIterations(1000, true))).toBeUndefined()
    expect(codeOf(() => assertIterations(0, true))).toBe('ERR_WEAK_KDF')
    expect(codeOf(() => assertIterations(MAX_PBKDF2_ITERATIONS + 1, true))).toBe('ERR_WEAK_KDF')
    expect(codeOf(() => assertIterations(Number.NaN, true))).toBe('ERR_WEAK_KDF')
  })

  it('a new passphrase needs 8 characters (code points, not UTF-16 units)', () => {
    expect(codeOf(() => assertStrongPassphrase('1234567'))).toBe('ERR_WEAK_PASSPHRASE')
    expect(codeOf(() => assertStrongPassphrase('12345678'))).toBeUndefined()
    expect(codeOf(() => assertStrongPassphrase('🔑🔑🔑🔑'))).toBe('ERR_WEAK_PASSPHRASE')
    expect(codeOf(() => assertStrongPassphrase('x'.repeat(1025)))).toBe('ERR_WEAK_PASSPHRASE')
  })
})

/** The one acceptance suite every DeviceKeyStore implementation must pass. */
function runDeviceKeyStoreTests (name: string, setup: () => Promise<{ store: DeviceKeyStore, reopen: () => Promise<DeviceKeyStore> }>): void {
  describe(`DeviceKeyStore: ${name}`, () => {
    it('starts empty, keeps a usable CryptoKey across reopen, and deletes it', async () => {
      const { store, reopen } = await setup()
      expect(await store.load()).toBeUndefined()
      const key = await generateDeviceKey()
      const check = await makeCheck(key)
      await store.save(key)
      const loaded = await (await reopen()).load()
      expect(loaded).toBeInstanceOf(CryptoKey)
      expect(loaded?.extractable).toBe(false)
      expect(await keyPassesCheck(loaded as CryptoKey, check)).toBe(true)
      await store.delete()
      expect(await (await reopen()).load()).toBeUndefined()
    })
  })
}

runDeviceKeyStoreTests('memory', async () => {
  const store = new MemoryDeviceKeyStore()
  return { store, reopen: async () => store }
})

runDeviceKeyStoreTests('IndexedDB (structured clone of the CryptoKey)', async () => {
  const factory = new IDBFactory()
  const store = new IdbDeviceKeyStore(await openWalletDb('dk', factory))
  return { store, reopen: async () => new IdbDeviceKeyStore(await openWalletDb('dk', factory)) }
})
