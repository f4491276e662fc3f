// The encrypted backup file: export, restore into a fresh profile (same DID, PeerId, seed,
// credentials), wrong passphrase, non-empty profile, and files that are damaged or not ours.
import { describe, expect, it } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import { Wallet, walletDbName } from '../../src/wallet/index.ts'
import type { BackupFile } from '../../src/wallet/index.ts'
import { fromBase64url, toBase64url, toHex } from '../../src/core/bytes.ts'
import { TEST_ITERATIONS, dumpDatabase, findSecret, testOptions } from '../fixtures/wallet-helpers.ts'

const PASS = 'correct horse battery'
const BACKUP_PASS = 'a different backup passphrase'

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

async function aliceWithCredentials (): Promise<{ alice: Wallet, backup: string, seed: string }> {
  const alice = await Wallet.open(testOptions('alice'))
  const bob = await Wallet.open(testOptions('bob'))
  await alice.issueCredential({ subject: alice.did, type: 'AllianceMembership', claims: { alliance: 'north' } })
  await alice.saveCredential((await bob.issueCredential({ subject: alice.did, type: 'HotspotOperator' })).jwt)
  bob.close()
  const backup = await alice.exportBackup(BACKUP_PASS)
  return { alice, backup, seed: toHex(alice.seed()) }
}

describe('backup', () => {
  it('has the documented shape and no secret in clear', async () => {
    const { alice, backup, seed } = await aliceWithCredentials()
    const file = JSON.parse(backup) as BackupFile
    expect(Object.keys(file).sort()).toEqual(['ciphertext', 'format', 'iv', 'kdf', 'version'])
    expect(file).toMatchObject({ format: 'alliance-net-backup', version: 1, kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: TEST_ITERATIONS } })
    expect(fromBase64url(file.kdf.salt)).toHaveLength(16)
    expect(fromBase64url(file.iv)).toHaveLength(12)
    expect(findSecret([{ store: 'backup', key: 'file', value: backup }], alice.seed())).toEqual([])
    expect(backup).not.toContain(alice.did)
    expect(seed).toHaveLength(64)
    alice.close()
  })

  it('round trip into a fresh profile gives the same DID, PeerId, key and credentials', async () => {
    const { alice, backup, seed } = await aliceWithCredentials()
    const credentials = await alice.listCredentials()
    expect(credentials).toHaveLength(2)

    const restored = await Wallet.restore({ ...testOptions('alice-restored'), backup, passphrase: BACKUP_PASS })
    expect(restored.did).toBe(alice.did)
    expect(restored.peerId).toBe(alice.peerId)
    expect(toHex(restored.seed())).toBe(seed)
    expect(await restored.listCredentials()).toEqual(credentials)
    expect(restored.backedUp).toBe(true)
    expect(restored.hasPassphrase).toBe(false)
    // the restored key signs as the original: a credential it issues verifies at alice's
    const c = await restored.issueCredential({ subject: alice.did, type: 'AllianceMembership' })
    expect(c.issuer).toBe(alice.did)
    expect((await alice.verifyCredential(c.jwt)).status).toBe('valid')
    alice.close(); restored.close()
  })

  it('the restored profile is stored like a new one: device key, nothing in clear, reopens the same', async () => {
    const { alice, backup } = await aliceWithCredentials()
    const opts = testOptions('restored')
    const restored = await Wallet.restore({ ...opts, backup, passphrase: BACKUP_PASS })
    const seed = restored.seed()
    restored.close()
    expect(findSecret(await dumpDatabase(opts.idbFactory, walletDbName('restored')), seed)).toEqual([])
    const again = await Wallet.open(opts)
    expect(again.did).toBe(alice.did)
    expect(again.backedUp).toBe(true)
    expect(await again.listCredentials()).toHaveLength(2)
    again.close(); alice.close()
  })

  it('marks the wallet backed up, persistently; a weak backup passphrase or a locked wallet exports nothing', async () => {
    const opts = testOptions()
    const w = await Wallet.open(opts)
    expect(await codeOf(w.exportBackup('short'))).toBe('ERR_WEAK_PASSPHRASE')
    expect(w.backedUp).toBe(false)
    await w.setPassphrase(PASS)
    w.lock()
    expect(await codeOf(w.exportBackup(BACKUP_PASS))).toBe('ERR_LOCKED')
    expect(w.backedUp).toBe(false)
    await w.unlock(PASS)
    await w.exportBackup(BACKUP_PASS)
    expect(w.backedUp).toBe(true)
    w.close()
    const again = await Wallet.open(opts)
    expect(again.backedUp).toBe(true)
    again.close()
  })

  it('restore with the wrong passphrase fails with ERR_WRONG_PASSPHRASE and leaves the profile empty', async () => {
    const { alice, backup } = await aliceWithCredentials()
    const opts = testOptions('fresh')
    expect(await codeOf(Wallet.restore({ ...opts, backup, passphrase: 'not the passphrase' }))).toBe('ERR_WRONG_PASSPHRASE')
    expect((await dumpDatabase(opts.idbFactory, walletDbName('fresh'))).filter((r) => r.store === 'dids' || r.store === 'privateKeys')).toEqual([])
    const restored = await Wallet.restore({ ...opts, backup, passphrase: BACKUP_PASS })
    expect(restored.did).toBe(alice.did)
    alice.close(); restored.close()
  })

  it('refuses to restore into a profile that already has a DID, and leaves that DID alone', async () => {
    const { alice, backup } = await aliceWithCredentials()
    const opts = testOptions('taken')
    const existing = await Wallet.open(opts)
    const did = existing.did
    existing.close()
    expect(await codeOf(Wallet.restore({ ...opts, backup, passphrase: BACKUP_PASS }))).toBe('ERR_PROFILE_NOT_EMPTY')
    const again = await Wallet.open(opts)
    expect(again.did).toBe(did)
    expect(again.did).not.toBe(alice.did)
    again.close(); alice.close()
  })

  it('a product wallet refuses a backup made with fewer than 300,000 iterations', async () => {
    const { alice, backup } = await aliceWithCredentials()
    expect(await codeOf(Wallet.restore({ profile: 'p', idbFactory: new IDBFactory(), backup, passphrase: BACKUP_PASS }))).toBe('ERR_WEAK_KDF')
    alice.close()
  })

  it('refuses files that are not ours or were edited', async () => {
    const { alice, backup } = await aliceWithCredentials()
    const file = JSON.parse(backup) as BackupFile
    const edit = (patch: Record<string, unknown>): string => JSON.stringify({ ...file, ...patch })
    const ct = fromBase64url(file.ciphertext)
    ct[0] ^= 1
    const cases: Array<[string, string]> = [
      ['not json', 'ERR_BAD_BACKUP'],
      [JSON.stringify({ hello: 1 }), 'ERR_BAD_BACKUP'],
      [edit({ version: 2 }), 'ERR_BAD_BACKUP'],
      [edit({ kdf: { ...file.kdf, hash: 'SHA-1' } }), 'ERR_BAD_BACKUP'],
      [edit({ iv: toBase64url(new Uint8Array(8)) }), 'ERR_BAD_BACKUP'],
      [edit({ ciphertext: undefined }), 'ERR_BAD_BACKUP'],
      // the header is authenticated: a changed iteration count or salt does not decrypt
      [edit({ kdf: { ...file.kdf, iterations: TEST_ITERATIONS + 1 } }), 'ERR_WRONG_PASSPHRASE'],
      [edit({ ciphertext: toBase64url(ct) }), 'ERR_WRONG_PASSPHRASE'],
      [edit({ kdf: { ...file.kdf, iterations: 1e12 } }), 'ERR_WEAK_KDF']
    ]
    for (const [text, code] of cases) {
      expect(await codeOf(Wallet.restore({ ...testOptions('x'), backup: text, passphrase: BACKUP_PASS })), text.slice(0, 60)).toBe(code)
    }
    alice.close()
  })
})
