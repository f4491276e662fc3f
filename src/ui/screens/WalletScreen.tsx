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
import { ShareButton } from '../components/QrScan.tsx'
import { useContacts, useNav } from '../ux-context.ts'
import { contactLink } from '../../peer/names.ts'
import { MyName } from './PeersScreen.tsx'

export function WalletScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const book = useContacts()
  const nav = useNav()
  const [showQr, setShowQr] = useState(false)
  const link = contactLink(location.href, runtime.did, book.selfName)
  const ledger = runtime.ledger()
  const joined = ledger?.isMember() ?? false
  return (
    <div className='screen'>
      <StorageNote />
      {(book.selfName == null || !runtime.wallet.backedUp || !joined) && (
        <section className='card' data-testid='onboarding'>
          <h2>Getting started</h2>
          <ol className='steps'>
            <li className={book.selfName != null ? 'done' : ''}>{book.selfName != null ? `You are “${book.selfName}”.` : 'Name yourself below: peers see it beside your fingerprint (as unverified).'}</li>
            <li className={runtime.wallet.backedUp ? 'done' : ''}>{runtime.wallet.backedUp
              ? 'Backup made.'
              : <>Make a backup <b>before you hold credits</b> (required): if this browser's data is lost, so is this identity and its credits. <button type='button' className='link' onClick={() => nav.go('wallet', { backup: true })}>Back up now</button></>}</li>
            <li className={joined ? 'done' : ''}>{joined
              ? 'You are a member of the alliance.'
              : !runtime.wallet.backedUp && runtime.alliance() != null
                  ? 'Joining starts once your backup is made: until then this wallet does not ask to join, so no one can pay it.'
                  : <>Joining the alliance: your admission needs the approval of 3 different members, so at least 2 other peers must be online. <button type='button' className='link' onClick={() => nav.go('ledger')}>See progress</button></>}</li>
          </ol>
        </section>
      )}
      {book.selfName == null && <MyName />}
      <section className='card'>
        <h2>Identity</h2>
        <p className='muted'>Profile <b data-testid='profile'>{runtime.profile}</b></p>
        <label className='field-label'>DID</label>
        <div className='mono break' data-testid='did'>{runtime.did}</div>
        <div className='row'>
          <CopyButton text={runtime.did} label='Copy DID' />
          <button type='button' className='small' onClick={() => setShowQr(!showQr)}>{showQr ? 'Hide QR' : 'Show QR'}</button>
          <ShareButton title='My alliance contact' text={`Add me${book.selfName != null ? ` (${book.selfName})` : ''} as a contact`} url={link} label='Share contact link' />
        </div>
        {showQr && <div className='center'><Qr text={link} label='QR code of my contact link (DID and name)' /></div>}
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
