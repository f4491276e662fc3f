/** Restores a backup file into a new profile (the UI then navigates to it). */
import { parseProfileName } from './profiles.ts'

export async function restoreProfile (args: { profile: string, backup: string, passphrase: string }): Promise<string> {
  const profile = parseProfileName(args.profile)
  const { Wallet } = await import('../wallet/index.ts')
  const wallet = await Wallet.restore({ profile, backup: args.backup, passphrase: args.passphrase })
  const did = wallet.did
  wallet.close()
  return did
}
