// Wallet lifecycle: identity, one key for DID/PeerId/Veramo, passphrase protection, at-rest
// encryption (no private key bytes in IndexedDB), tamper handling and profile data deletion.
import { describe, expect, it } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet, MemoryDeviceKeyStore, deleteProfileData, walletDbName, DEFAULT_PBKDF2_ITERATIONS } from '../../src/wallet/index.ts'
import { sealBackup } from '../../src/wallet/backup.ts'
import { openWalletDb } from '../../src/wallet/db.ts'
import { IdbDeviceKeyStore } from '../../src/wallet/device-key.ts'
import { IdbPrivateKeyStore, PRIVATE_KEY_PURPOSE, WebCryptoSecretBox } from '../../src/wallet/veramo-stores.ts'
import { fromBase64url, fromHex, toHex } from '../../src/core/bytes.ts'
import { didFromPeerId, didFromPublicKey, keyPairFromSeed, libp2pPrivateKey, peerIdStringFromDid, sign, verify } from '../../src/core/identity.ts'
import { TEST_ITERATIONS, dumpDatabase, editRecord, findSecret, storedCryptoKeys, testOptions } from '../fixtures/wallet-helpers.ts'
import vectors from '../fixtures/ed25519-did-key-vectors.json' with { type: 'json' }

const PASS = 'correct horse battery'

async function veramoSign (wallet: Wallet, data: Uint8Array): Promise<Uint8Array> {
  const identifier = await wallet.agent.didManagerGet({ did: wallet.did })
  const sig = await wallet.agent.keyManagerSign({ keyRef: identifier.controllerKeyId ?? '', data: toHex(data), encoding: 'base16', algorithm: 'EdDSA' })
  return fromBase64url(sig)
}

async function codeOf (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    if (typeof p === 'function') p(); else await p
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('identity', () => {
  it('creates an Ed25519 did:key on first open and loads the same one on reopen', async () => {
    const opts = testOptions()
    const first = await Wallet.open(opts)
    expect(first.did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    expect(first.locked).toBe(false)
    expect(first.hasPassphrase).toBe(false)
    expect(first.backedUp).toBe(false)
    const seed = first.seed()
    expect(seed).toHaveLength(32)
    first.close()

    const again = await Wallet.open(opts)
    expect(again.did).toBe(first.did)
    expect(again.peerId).toBe(first.peerId)
    expect(toHex(again.seed())).toBe(toHex(seed))
    again.close()

    const other = await Wallet.open({ ...opts, profile: 'bob' })
    expect(other.did).not.toBe(first.did)
    other.close()
  })

  it('DID and PeerId are two encodings of the seed\'s key', async () => {
    const wallet = await Wallet.open(testOptions())
    const seed = wallet.seed()
    expect(didFromPublicKey(keyPairFromSeed(seed).publicKey)).toBe(wallet.did)
    expect(peerIdFromPrivateKey(libp2pPrivateKey(seed)).toString()).toBe(wallet.peerId)
    expect(wallet.peerId).toBe(peerIdStringFromDid(wallet.did))
    expect(didFromPeerId(wallet.peerId)).toBe(wallet.did)
    expect(wallet.peerId).toMatch(/^12D3KooW/)
    wallet.close()
  })

  it('Veramo\'s keyManagerSign and core sign(seed) give identical Ed25519 signatures', async () => {
    const wallet = await Wallet.open(testOptions())
    const data = crypto.getRandomValues(new Uint8Array(100))
    const viaVeramo = await veramoSign(wallet, data)
    const viaCore = sign(wallet.seed(), data)
    expect(toHex(viaVeramo)).toBe(toHex(viaCore))
    expect(verify(keyPairFromSeed(wallet.seed()).publicKey, data, viaVeramo)).toBe(true)
    wallet.close()
  })

  it.each(vectors.vectors)('matches the RFC 8032 / did:key known answers for seed $seed', async (v) => {
    const backup = await sealBackup({ did: v.did, seed: fromHex(v.seed), createdAt: '2020-01-01T00:00:00.000Z', credentials: [] }, PASS, TEST_ITERATIONS)
    const wallet = await Wallet.restore({ ...testOptions(), backup, passphrase: PASS })
    expect(wallet.did).toBe(v.did)
    expect(wallet.peerId).toBe(v.peerId)
    expect(toHex(await veramoSign(wallet, fromHex(v.message)))).toBe(v.signature)
    wallet.close()
  })

  it('resolves its own DID document with Veramo\'s did:key resolver, including the X25519 agreement key', async () => {
    const wallet = await Wallet.open(testOptions())
    const { didDocument } = await wallet.agent.resolveDid({ didUrl: wallet.did })
    expect(didDocument?.id).toBe(wallet.did)
    expect(didDocument?.keyAgreement).toHaveLength(1)
    expect(String(didDocument?.keyAgreement?.[0])).toMatch(/#z6LS/)
    wallet.close()
  })

  it('two opens racing on a fresh profile end up with one DID', async () => {
    const opts = testOptions()
    const [a, b] = await Promise.all([Wallet.open(opts), Wallet.open(opts)])
    expect(a.did).toBe(b.did)
    const dids = (await dumpDatabase(opts.idbFactory, walletDbName('alice'))).filter((r) => r.store === 'dids')
    expect(dids).toHaveLength(1)
    a.close(); b.close()
  })

  it('rejects profile names that are not safe database name parts', async () => {
    expect(await codeOf(Wallet.open(testOptions('../x')))).toBe('ERR_BAD_PROFILE')
    expect(await codeOf(Wallet.open(testOptions('')))).toBe('ERR_BAD_PROFILE')
  })

  it('close() wipes the seed and refuses further use', async () => {
    const wallet = await Wallet.open(testOptions())
    wallet.close()
    expect(wallet.locked).toBe(true)
    expect(await codeOf(() => wallet.seed())).toBe('ERR_CLOSED')
    expect(await codeOf(wallet.listCredentials())).toBe('ERR_CLOSED')
  })
})

describe('passphrase', () => {
  it('after setPassphrase a reopened wallet is locked; a wrong passphrase is refused and the right one opens it', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = toHex(w.seed())
    await w.setPassphrase(PASS)
    expect(w.hasPassphrase).toBe(true)
    expect(w.locked).toBe(false)
    w.close()

    const locked = await Wallet.open(opts)
    expect(locked.locked).toBe(true)
    expect(locked.hasPassphrase).toBe(true)
    expect(locked.did).toBe(w.did)
    expect(locked.peerId).toBe(w.peerId)
    expect(await codeOf(() => locked.seed())).toBe('ERR_LOCKED')
    expect(await codeOf(locked.issueCredential({ subject: locked.did, type: 'AllianceMembership' }))).toBe('ERR_LOCKED')
    expect(await codeOf(locked.exportBackup(PASS))).toBe('ERR_LOCKED')

    expect(await codeOf(locked.unlock('not the passphrase'))).toBe('ERR_WRONG_PASSPHRASE')
    expect(locked.locked).toBe(true)
    expect(await codeOf(() => locked.seed())).toBe('ERR_LOCKED')

    await locked.unlock(PASS)
    expect(locked.locked).toBe(false)
    expect(toHex(locked.seed())).toBe(seed)
    locked.close()
  })

  it('lock() forgets the seed; without a passphrase it does nothing', async () => {
    const w = await Wallet.open(testOptions())
    w.lock()
    expect(w.locked).toBe(false)
    await w.setPassphrase(PASS)
    w.lock()
    expect(w.locked).toBe(true)
    expect(await codeOf(() => w.seed())).toBe('ERR_LOCKED')
    await w.unlock(PASS)
    expect(w.seed()).toHaveLength(32)
    w.close()
  })

  it('refuses a passphrase under 8 characters and leaves the device key in charge', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    expect(await codeOf(w.setPassphrase('short'))).toBe('ERR_WEAK_PASSPHRASE')
    expect(w.hasPassphrase).toBe(false)
    w.close()
    const again = await Wallet.open(opts)
    expect(again.locked).toBe(false)
    again.close()
  })

  it('refuses setPassphrase twice (that is changePassphrase), and change/remove without one', async () => {
    const w = await Wallet.open(testOptions())
    expect(await codeOf(w.changePassphrase(PASS, 'another passphrase'))).toBe('ERR_NO_PASSPHRASE')
    expect(await codeOf(w.removePassphrase(PASS))).toBe('ERR_NO_PASSPHRASE')
    await w.setPassphrase(PASS)
    expect(await codeOf(w.setPassphrase('another passphrase'))).toBe('ERR_PASSPHRASE_SET')
    w.close()
  })

  it('changePassphrase: a wrong old one changes nothing; afterwards only the new one opens', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = toHex(w.seed())
    await w.setPassphrase(PASS)
    expect(await codeOf(w.changePassphrase('wrong passphrase', 'the new passphrase'))).toBe('ERR_WRONG_PASSPHRASE')
    expect(await codeOf(w.changePassphrase(PASS, 'short'))).toBe('ERR_WEAK_PASSPHRASE')
    await w.changePassphrase(PASS, 'the new passphrase')
    // still usable in this session: Veramo signs with the re-sealed key
    expect(toHex(await veramoSign(w, new Uint8Array([1])))).toBe(toHex(sign(w.seed(), new Uint8Array([1]))))
    w.close()

    const again = await Wallet.open(opts)
    expect(await codeOf(again.unlock(PASS))).toBe('ERR_WRONG_PASSPHRASE')
    await again.unlock('the new passphrase')
    expect(toHex(again.seed())).toBe(seed)
    again.lock()
    // changing while locked keeps it locked
    await again.changePassphrase('the new passphrase', 'a third passphrase')
    expect(again.locked).toBe(true)
    await again.unlock('a third passphrase')
    expect(toHex(again.seed())).toBe(seed)
    again.close()
  })

  it('removePassphrase goes back to the device key: reopens unlocked with the same key', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = toHex(w.seed())
    await w.setPassphrase(PASS)
    w.lock()
    expect(await codeOf(w.removePassphrase('wrong passphrase'))).toBe('ERR_WRONG_PASSPHRASE')
    expect(w.hasPassphrase).toBe(true)
    await w.removePassphrase(PASS)
    expect(w.hasPassphrase).toBe(false)
    expect(w.locked).toBe(false)
    expect(toHex(w.seed())).toBe(seed)
    w.close()

    const again = await Wallet.open(opts)
    expect(again.locked).toBe(false)
    expect(toHex(again.seed())).toBe(seed)
    again.close()
  })

  it('a second instance of the profile (another tab) follows a passphrase set by the first', async () => {
    const opts = testOptions()
    const a = await Wallet.open(opts)
    const b = await Wallet.open(opts)
    await a.setPassphrase(PASS)
    expect(await codeOf(b.setPassphrase('another passphrase'))).toBe('ERR_PASSPHRASE_SET')
    expect(b.hasPassphrase).toBe(true)
    b.lock()
    expect(await codeOf(b.unlock('another passphrase'))).toBe('ERR_WRONG_PASSPHRASE')
    await b.unlock(PASS)
    expect(toHex(b.seed())).toBe(toHex(a.seed()))
    a.close(); b.close()
  })

  it('refuses fewer than 300,000 PBKDF2 iterations unless the explicit test flag is set', async () => {
    const factory = testOptions().idbFactory
    expect(await codeOf(Wallet.open({ profile: 'p', idbFactory: factory, pbkdf2Iterations: TEST_ITERATIONS }))).toBe('ERR_WEAK_KDF')
    expect(await codeOf(Wallet.open({ profile: 'p', idbFactory: factory, pbkdf2Iterations: 299_999 }))).toBe('ERR_WEAK_KDF')
    expect(await codeOf(Wallet.open({ profile: 'p', idbFactory: factory, pbkdf2Iterations: 1.5, allowInsecureIterationsForTests: true }))).toBe('ERR_WEAK_KDF')
    const ok = await Wallet.open({ profile: 'p', idbFactory: factory, pbkdf2Iterations: 300_000 })
    expect(ok.did).toMatch(/^did:key:/)
    ok.close()
  })

  it('uses 600,000 iterations by default, and a product wallet will not unlock a vault under the floor', async () => {
    const opts = testOptions()
    const w = await Wallet.open({ profile: 'prod', idbFactory: opts.idbFactory })
    await w.setPassphrase(PASS)
    w.close()
    const vault = (await dumpDatabase(opts.idbFactory, walletDbName('prod'))).find((r) => r.store === 'meta' && r.key === 'vault')?.value as { iterations: number, salt: Uint8Array }
    expect(vault.iterations).toBe(DEFAULT_PBKDF2_ITERATIONS)
    expect(vault.salt).toHaveLength(16)

    const weak = await Wallet.open(opts)
    await weak.setPassphrase(PASS)
    weak.close()
    const product = await Wallet.open({ profile: 'alice', idbFactory: opts.idbFactory })
    expect(await codeOf(product.unlock(PASS))).toBe('ERR_WEAK_KDF')
    expect(product.locked).toBe(true)
    product.close()
  })
})

describe('at rest', () => {
  it('no private key bytes appear in clear in any IndexedDB record, with the device key or a passphrase', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = w.seed()
    const full = new Uint8Array([...seed, ...keyPairFromSeed(seed).publicKey])
    await w.issueCredential({ subject: w.did, type: 'AllianceMembership', claims: { alliance: 'north' } })
    await w.exportBackup(PASS)

    const name = walletDbName('alice')
    let records = await dumpDatabase(opts.idbFactory, name)
    // positive control: the scanner does find what is there (the public key is stored on purpose)
    expect(findSecret(records, keyPairFromSeed(seed).publicKey).length).toBeGreaterThan(0)
    expect(findSecret(records, seed)).toEqual([])
    expect(findSecret(records, full)).toEqual([])
    const keys = storedCryptoKeys(records)
    expect(keys).toHaveLength(1)
    expect(keys[0].extractable).toBe(false)
    await expect(crypto.subtle.exportKey('raw', keys[0])).rejects.toThrow()

    await w.setPassphrase(PASS)
    records = await dumpDatabase(opts.idbFactory, name)
    expect(records.some((r) => r.store === 'privateKeys')).toBe(true)
    expect(findSecret(records, seed)).toEqual([])
    // the device key is gone once nothing is sealed under it
    expect(storedCryptoKeys(records)).toHaveLength(0)
    w.close()
  })

  it('tampered private key ciphertext (device key) gives ERR_DECRYPT and loses nothing', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = toHex(w.seed())
    await w.issueCredential({ subject: w.did, type: 'AllianceMembership' })
    w.close()
    const name = walletDbName('alice')
    const before = await dumpDatabase(opts.idbFactory, name)
    const record = before.find((r) => r.store === 'privateKeys')
    expect(record).toBeDefined()
    const original = record?.value as { sealed: string }
    const flipped = original.sealed.slice(0, 40) + (original.sealed[40] === '0' ? '1' : '0') + original.sealed.slice(41)
    await editRecord(opts.idbFactory, name, 'privateKeys', record?.key ?? '', (v) => ({ ...(v as object), sealed: flipped }))

    expect(await codeOf(Wallet.open(opts))).toBe('ERR_DECRYPT')
    const after = await dumpDatabase(opts.idbFactory, name)
    expect(after.map((r) => `${r.store}/${String(r.key)}`)).toEqual(before.map((r) => `${r.store}/${String(r.key)}`))

    await editRecord(opts.idbFactory, name, 'privateKeys', record?.key ?? '', () => original)
    const repaired = await Wallet.open(opts)
    expect(toHex(repaired.seed())).toBe(seed)
    expect(await repaired.listCredentials()).toHaveLength(1)
    repaired.close()
  })

  it('tampered ciphertext under a passphrase: unlock says ERR_DECRYPT, stays locked, and a passphrase change touches nothing', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const seed = toHex(w.seed())
    await w.setPassphrase(PASS)
    w.close()
    const name = walletDbName('alice')
    const record = (await dumpDatabase(opts.idbFactory, name)).find((r) => r.store === 'privateKeys')
    const original = record?.value as { sealed: string }
    await editRecord(opts.idbFactory, name, 'privateKeys', record?.key ?? '', (v) => ({ ...(v as object), sealed: original.sealed.slice(0, -2) + (original.sealed.endsWith('00') ? '01' : '00') }))

    const locked = await Wallet.open(opts)
    expect(await codeOf(locked.unlock(PASS))).toBe('ERR_DECRYPT')
    expect(locked.locked).toBe(true)
    expect(await codeOf(locked.changePassphrase(PASS, 'another passphrase'))).toBe('ERR_DECRYPT')
    locked.close()

    await editRecord(opts.idbFactory, name, 'privateKeys', record?.key ?? '', () => original)
    const repaired = await Wallet.open(opts)
    await repaired.unlock(PASS)
    expect(toHex(repaired.seed())).toBe(seed)
    repaired.close()
  })

  it('a sealed key copied to another alias does not open there (ciphertext is bound to its record)', async () => {
    const opts = testOptions()
    ;(await Wallet.open(opts)).close()
    const name = walletDbName('alice')
    const record = (await dumpDatabase(opts.idbFactory, name)).find((r) => r.store === 'privateKeys')
    const value = record?.value as { alias: string, type: string, sealed: string }
    await editRecord(opts.idbFactory, name, 'privateKeys', 'other-alias', () => ({ ...value, alias: 'other-alias' }))

    const db = await openWalletDb('alice', opts.idbFactory)
    const holder = { key: await new IdbDeviceKeyStore(db).load() ?? null }
    const store = new IdbPrivateKeyStore(db, new WebCryptoSecretBox(holder, PRIVATE_KEY_PURPOSE))
    expect((await store.getKey({ alias: value.alias })).privateKeyHex).toHaveLength(128)
    expect(await codeOf(store.getKey({ alias: 'other-alias' }))).toBe('ERR_DECRYPT')
    holder.key = null
    expect(await codeOf(store.getKey({ alias: value.alias }))).toBe('ERR_LOCKED')
    db.close()
  })
})

describe('device key port', () => {
  it('an injected device key store keeps the key out of IndexedDB; without it the wallet cannot open', async () => {
    const deviceKeys = new MemoryDeviceKeyStore()
    const opts = testOptions('alice', { deviceKeys })
    const w = await Wallet.open(opts)
    const did = w.did
    w.close()
    expect(storedCryptoKeys(await dumpDatabase(opts.idbFactory, walletDbName('alice')))).toHaveLength(0)
    expect(await deviceKeys.load()).toBeInstanceOf(CryptoKey)

    const again = await Wallet.open(opts)
    expect(again.did).toBe(did)
    again.close()
    expect(await codeOf(Wallet.open({ ...opts, deviceKeys: new MemoryDeviceKeyStore() }))).toBe('ERR_DEVICE_KEY_MISSING')
  })

  it('a different device key is refused with ERR_DECRYPT before any secret is touched', async () => {
    const deviceKeys = new MemoryDeviceKeyStore()
    const opts = testOptions('alice', { deviceKeys })
    ;(await Wallet.open(opts)).close()
    const stranger = new MemoryDeviceKeyStore()
    await stranger.save(await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']))
    expect(await codeOf(Wallet.open({ ...opts, deviceKeys: stranger }))).toBe('ERR_DECRYPT')
  })
})

describe('deleteProfileData', () => {
  it('removes the profile\'s wallet (even while open); the next open makes a new DID', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    const did = w.did
    await deleteProfileData('alice', opts.idbFactory)
    const dbs = await opts.idbFactory.databases()
    expect(dbs.map((d) => d.name)).not.toContain(walletDbName('alice'))
    // the open instance was told (versionchange) and wiped its secrets
    expect(w.locked).toBe(true)
    expect(await codeOf(() => w.seed())).toBe('ERR_CLOSED')
    const fresh = await Wallet.open(opts)
    expect(fresh.did).not.toBe(did)
    fresh.close()
  })
})
