/**
 * What a wallet without a backup waits for (SPEC U12): it does not ask to join, receive or pay
 * until a backup exists, and says so where the balance and joining show, with a button that
 * opens the backup form.
 */
import { useRuntime } from '../runtime-context.ts'
import { useNav } from '../ux-context.ts'
import type { PeerRuntime } from '../../peer/runtime.ts'

/** Whether this wallet still needs its backup before the ledger acts for it. */
export function backupNeeded (runtime: PeerRuntime): boolean {
  return !runtime.wallet.backedUp && runtime.alliance() != null
}

export function BackupNeeded (): React.JSX.Element | null {
  const runtime = useRuntime()
  const nav = useNav()
  if (!backupNeeded(runtime)) return null
  const ledger = runtime.ledger()
  const waiting = ledger?.incoming() ?? 0
  const member = ledger?.isMember() ?? false
  return (
    <div className='banner warn stack' role='status' data-testid='backup-required'>
      <p>
        {member
          ? <>Back up this wallet to receive {waiting > 0 ? <b>the {waiting} credits waiting for you</b> : 'the credits paid to you'} and to pay{ledger?.isValidator() === true ? ', admit and approve as a validator' : ''}. What is paid to you waits on the ledger for your DID: nothing is lost meanwhile.</>
          : <>Joining waits for your backup. Until you make one, this wallet does not ask to join, so no one can pay it and nothing can be lost with this browser's data.</>}
      </p>
      <button type='button' onClick={() => nav.go('wallet', { backup: true })}>Back up now</button>
    </div>
  )
}
