/**
 * Backup before credits (SPEC U12, issue 11): a wallet whose only copy of its key is this
 * browser's storage must not be paid, since clearing that storage would lose the credits for
 * good. So until a backup is made (or the wallet was restored from one), the ledger gets no
 * key to sign with: it asks no validator to admit it (no one can pay a non-member), and a
 * member whose wallet predates the rule neither receives what it was paid (the claims wait
 * for its DID on the ledger, nothing is lost) nor spends. Once the backup exists, the
 * ledger's next tick (about 1.5 s) asks to join or receives, with no other step.
 */
import { AllianceError } from '../core/errors.ts'

export class BackupRequiredError extends AllianceError {
  constructor () {
    super('ERR_BACKUP_REQUIRED', 'make a backup of this wallet first: until then it does not join, receive or pay, so nothing can be lost with this browser\'s data')
  }
}

/** The part of the wallet the gate reads. */
export interface BackupState {
  readonly backedUp: boolean
  seed: () => Uint8Array
}

/** The seed for signing ledger blocks, refused (BackupRequiredError) while no backup exists. */
export function ledgerSeed (wallet: BackupState): () => Uint8Array {
  return () => {
    if (!wallet.backedUp) throw new BackupRequiredError()
    return wallet.seed()
  }
}
