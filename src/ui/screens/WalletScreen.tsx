/**
 * The wallet screen: this peer's identity (DID with copy and QR, PeerId), credentials (issue,
 * view, verify, paste-to-verify), passphrase settings, and encrypted backup and restore.
 */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { describeError } from '../errors.ts'
import { Qr } from '../components/Qr.tsx'
import { CopyButton } from '../components/Copy.tsx'
import { Credentials } from './Credentials.tsx'
import { Security } from './Security.tsx'
import { Backup } from './Backup.tsx'
import { StorageNote } from '../components/StorageNote.tsx'

export function WalletScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const [showQr, setShowQr] = useState(false)
  return (
    <div className='screen'>
      <StorageNote />
      {!runtime.wallet.backedUp && (
        <div className='banner warn' role='status'>
          No backup yet. If this browser's data is lost, so is this identity: <a href='#backup'>make a backup</a>.
        </div>
      )}
      <section className='card'>
        <h2>Identity</h2>
        <p className='muted'>Profile <b data-testid='profile'>{runtime.profile}</b></p>
        <label className='field-label'>DID</label>
        <div className='mono break' data-testid='did'>{runtime.did}</div>
        <div className='row'>
          <CopyButton text={runtime.did} label='Copy DID' />
          <button type='button' className='small' onClick={() => setShowQr(!showQr)}>{showQr ? 'Hide QR' : 'Show QR'}</button>
        </div>
        {showQr && <div className='center'><Qr text={runtime.did} label='QR code of this DID' /></div>}
        <label className='field-label'>PeerId (same key)</label>
        <div className='mono break' data-testid='peer-id'>{runtime.peerId}</div>
      </section>
      <Credentials />
      <Security />
      <Backup />
    </div>
  )
}

export function ErrorText ({ error }: { error: unknown }): React.JSX.Element | null {
  if (error == null) return null
  return <p className='error' role='alert'>{describeError(error)}</p>
}
