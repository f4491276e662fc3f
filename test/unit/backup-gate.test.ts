// Backup before credits (SPEC U12): the ledger gets no key to sign with until a backup exists.
import { describe, expect, it } from 'vitest'
import { BackupRequiredError, ledgerSeed } from '../../src/peer/backup-gate.ts'

describe('backup gate', () => {
  it('[U12] the ledger\'s seed is refused with ERR_BACKUP_REQUIRED until the backup is made, then given', () => {
    const seed = new Uint8Array(32).fill(7)
    const wallet = { backedUp: false, seed: () => seed }
    const sign = ledgerSeed(wallet)
    expect(() => sign()).toThrow(BackupRequiredError)
    try { sign() } catch (err) { expect((err as BackupRequiredError).code).toBe('ERR_BACKUP_REQUIRED') }
    wallet.backedUp = true
    expect(sign()).toBe(seed)
  })

  it('[U12] a locked wallet still says locked (its own error), once backed up', () => {
    const sign = ledgerSeed({ backedUp: true, seed: () => { throw new Error('locked') } })
    expect(() => sign()).toThrow('locked')
  })
})
