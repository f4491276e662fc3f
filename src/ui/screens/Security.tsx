/** Passphrase settings: set, change, remove, lock. Keys are encrypted under it at rest. */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './WalletScreen.tsx'

export function Security (): React.JSX.Element {
  const runtime = useRuntime()
  const has = runtime.wallet.hasPassphrase
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const run = async (what: string, action: () => Promise<void>): Promise<void> => {
    setBusy(true); setError(null); setDone(null)
    try { await action(); setDone(what); setCurrent(''); setNext('') } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <section className='card'>
      <h2>Security</h2>
      <p className='muted'>
        {has
          ? 'Your keys are encrypted with your passphrase. You need it to unlock this wallet.'
          : 'Your keys are encrypted with a key this browser keeps. Set a passphrase so nobody with this device can use them.'}
      </p>
      <form className='stack' onSubmit={(e) => {
        e.preventDefault()
        if (has) void run('Passphrase changed.', async () => { await runtime.act(async (w) => await w.changePassphrase(current, next)) })
        else void run('Passphrase set.', async () => { await runtime.act(async (w) => await w.setPassphrase(next)) })
      }}>
        {has && <input type='password' autoComplete='current-password' placeholder='Current passphrase' value={current} onChange={(e) => setCurrent(e.target.value)} aria-label='current passphrase' />}
        <input type='password' autoComplete='new-password' placeholder={has ? 'New passphrase' : 'Passphrase (8+ characters)'} value={next} onChange={(e) => setNext(e.target.value)} aria-label='new passphrase' />
        <button disabled={busy || next.length === 0}>{has ? 'Change passphrase' : 'Set passphrase'}</button>
      </form>
      {has && (
        <div className='row'>
          <button type='button' className='secondary' disabled={busy || current.length === 0}
            onClick={() => { void run('Passphrase removed.', async () => { await runtime.act(async (w) => await w.removePassphrase(current)) }) }}>
            Remove passphrase
          </button>
          <button type='button' className='secondary' disabled={busy} onClick={() => { void runtime.lock() }}>Lock now</button>
        </div>
      )}
      {done != null && <p className='ok' role='status'>{done}</p>}
      <ErrorText error={error} />
    </section>
  )
}
