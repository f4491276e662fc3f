/**
 * Backup and restore. A backup is a file encrypted under a passphrase the user picks now
 * (typed twice); the wallet joins, receives and pays only once one exists (SPEC U12), and
 * "Back up now" anywhere brings the user here with the passphrase field focused. Restoring
 * creates a new profile with the same DID and credentials, then opens it.
 */
import { useEffect, useRef, useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { useNav } from '../ux-context.ts'
import { ErrorText } from './WalletScreen.tsx'
import { isProfileName } from '../../peer/profiles.ts'
import { restoreProfile } from '../../peer/restore.ts'

export function Backup (): React.JSX.Element {
  const runtime = useRuntime()
  const [pass, setPass] = useState('')
  const [again, setAgain] = useState('')
  const [file, setFile] = useState<File | null>(null)
  const [restorePass, setRestorePass] = useState('')
  const [profile, setProfile] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState<string | null>(null)
  const first = useRef<HTMLInputElement>(null)
  const nav = useNav()
  const { clearIntent } = nav
  useEffect(() => {
    if (nav.intent.backup !== true) return
    first.current?.scrollIntoView?.({ block: 'center' })
    first.current?.focus()
    clearIntent()
  }, [nav.intent.backup, clearIntent])

  const exportFile = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true); setError(null); setDone(null)
    try {
      const text = await runtime.act(async (w) => await w.exportBackup(pass))
      const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
      const a = document.createElement('a')
      a.href = url
      a.download = `alliance-${runtime.profile}-backup.json`
      a.click()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
      setPass(''); setAgain('')
      setDone(`Backup saved. Keep the file and its passphrase somewhere safe.${runtime.alliance() != null ? ' Your wallet now joins and receives on its own.' : ''}`)
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  const restore = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    if (file == null) return
    setBusy(true); setError(null); setDone(null)
    try {
      await restoreProfile({ profile, backup: await file.text(), passphrase: restorePass })
      location.assign(`${location.pathname}?peer=${encodeURIComponent(profile)}`)
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <section className='card' id='backup'>
      <h2>Backup and restore</h2>
      <form className='stack' onSubmit={(e) => { void exportFile(e) }}>
        {!runtime.wallet.backedUp && <p className='small-text'>Required before this wallet joins or holds credits: without a backup, clearing this browser's data loses them.</p>}
        <input ref={first} type='password' autoComplete='new-password' placeholder='Backup passphrase (8+)' value={pass} onChange={(e) => setPass(e.target.value)} aria-label='backup passphrase' />
        <input type='password' autoComplete='new-password' placeholder='The same passphrase again' value={again} onChange={(e) => setAgain(e.target.value)} aria-label='repeat backup passphrase' />
        {again !== '' && again !== pass && <p className='error small-text' role='alert'>The two passphrases differ: type the same one twice, so a typo cannot lock you out of the backup.</p>}
        <button disabled={busy || pass.length === 0 || pass !== again}>Download encrypted backup</button>
      </form>
      <form className='stack' onSubmit={(e) => { void restore(e) }}>
        <h3>Restore a backup into a new profile</h3>
        <input type='file' accept='application/json,.json' onChange={(e) => setFile(e.target.files?.[0] ?? null)} aria-label='backup file' />
        <input type='password' placeholder='Passphrase of the backup' value={restorePass} onChange={(e) => setRestorePass(e.target.value)} aria-label='restore passphrase' />
        <input placeholder='New profile name' value={profile} onChange={(e) => setProfile(e.target.value)} aria-label='new profile name' />
        <button disabled={busy || file == null || restorePass.length === 0 || !isProfileName(profile)}>Restore and open</button>
      </form>
      {done != null && <p className='ok' role='status'>{done}</p>}
      <ErrorText error={error} />
    </section>
  )
}
