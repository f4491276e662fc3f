/** Shown while the wallet is locked: the DID is public, the keys wait for the passphrase. */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './WalletScreen.tsx'
import { shortDid } from '../../core/identity.ts'

export function UnlockScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const [pass, setPass] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true); setError(null)
    try { await runtime.unlock(pass) } catch (err) { setError(err); setPass('') } finally { setBusy(false) }
  }
  return (
    <main className='splash' data-testid='locked'>
      <h1>Alliance</h1>
      <p>Profile <b>{runtime.profile}</b> is locked.</p>
      <p className='mono muted' data-testid='did'>{shortDid(runtime.did)}</p>
      <form className='stack' onSubmit={(e) => { void submit(e) }}>
        <input type='password' autoFocus autoComplete='current-password' placeholder='Passphrase' value={pass} onChange={(e) => setPass(e.target.value)} aria-label='passphrase' />
        <button disabled={busy || pass.length === 0}>{busy ? 'Unlocking…' : 'Unlock'}</button>
      </form>
      <ErrorText error={error} />
    </main>
  )
}
