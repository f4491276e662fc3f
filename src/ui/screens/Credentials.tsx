/** Credentials: issue a JWT VC to any DID, list held ones, verify one, paste one to verify. */
import { useCallback, useEffect, useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './WalletScreen.tsx'
import type { CredentialCheck, StoredCredential } from '../../wallet/index.ts'
import { Who } from '../components/Who.tsx'
import { useContacts } from '../ux-context.ts'
import { credentialText } from '../../peer/credential-dm.ts'

const TYPES = ['AllianceMembership', 'HotspotOperator', 'RelayOperator']

export function Credentials (): React.JSX.Element {
  const runtime = useRuntime()
  const book = useContacts()
  const [list, setList] = useState<StoredCredential[]>([])
  const [subject, setSubject] = useState('')
  const [type, setType] = useState(TYPES[0])
  const [claim, setClaim] = useState('')
  const [days, setDays] = useState('365')
  const [pasted, setPasted] = useState('')
  const [check, setCheck] = useState<CredentialCheck | null>(null)
  const [open, setOpen] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const [handed, setHanded] = useState<string | null>(null)

  const reload = useCallback(() => {
    runtime.wallet.listCredentials().then(setList).catch(setError)
  }, [runtime])
  useEffect(reload, [reload])

  const issue = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true); setError(null)
    try {
      const expires = Number(days) > 0 ? new Date(Date.now() + Number(days) * 86_400_000) : undefined
      await runtime.act(async (w) => await w.issueCredential({
        subject: subject.trim() === '' ? runtime.did : subject.trim(),
        type,
        claims: claim.trim() === '' ? {} : { note: claim.trim() },
        expirationDate: expires
      }))
      setClaim('')
      reload()
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  const verify = async (jwt: string): Promise<void> => {
    setError(null)
    try { setCheck(await runtime.wallet.verifyCredential(jwt.trim())) } catch (err) { setError(err) }
  }

  const keep = async (): Promise<void> => {
    setError(null)
    try { await runtime.act(async (w) => await w.saveCredential(pasted.trim())); setPasted(''); reload() } catch (err) { setError(err) }
  }

  return (
    <section className='card'>
      <h2>Credentials</h2>
      {list.length === 0 && <p className='muted'>No credentials yet.</p>}
      <ul className='list' data-testid='credentials'>
        {list.map((c) => (
          <li key={c.id}>
            <div className='row spread'>
              <span><b>{c.type}</b> <span className='muted small-text'>from <Who did={c.issuer} fingerprint={false} /> to <Who did={c.subject} fingerprint={false} /></span></span>
              <span className='row'>
                <button type='button' className='small' onClick={() => setOpen(open === c.id ? null : c.id)}>{open === c.id ? 'Hide' : 'View'}</button>
                <button type='button' className='small' onClick={() => { void verify(c.jwt) }}>Verify</button>
                {c.issuer === runtime.did && c.subject !== runtime.did && (
                  <button type='button' className='small' onClick={() => { setError(null); runtime.sendMessage(c.subject, credentialText(c.jwt)).then(() => setHanded(c.id)).catch(setError) }}>Send to subject</button>
                )}
              </span>
            </div>
            {open === c.id && (
              <>
                <dl className='details small-text' data-testid='credential-decoded'>
                  <div><dt>Type</dt><dd>{c.type}</dd></div>
                  <div><dt>Issuer</dt><dd><Who did={c.issuer} /></dd></div>
                  <div><dt>Subject</dt><dd><Who did={c.subject} /></dd></div>
                  <div><dt>Issued</dt><dd>{new Date(c.issuedAt).toLocaleString()}</dd></div>
                  <div><dt>Expires</dt><dd>{c.expiresAt != null ? new Date(c.expiresAt).toLocaleString() : 'never'}</dd></div>
                  {Object.entries(c.claims).map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd></div>)}
                </dl>
                <textarea readOnly className='mono' rows={4} value={c.jwt} aria-label='credential JWT' />
              </>
            )}
          </li>
        ))}
      </ul>
      <form onSubmit={(e) => { void issue(e) }} className='stack'>
        <h3>Issue a credential</h3>
        {book.list().length > 0 && (
          <select value={book.get(subject.trim()) != null ? subject.trim() : ''} onChange={(e) => setSubject(e.target.value)} aria-label='subject from contacts'>
            <option value=''>Subject from my contacts…</option>
            {book.list().map((c) => <option key={c.did} value={c.did}>{c.name}</option>)}
          </select>
        )}
        <input placeholder='Subject DID (empty: myself)' value={subject} onChange={(e) => setSubject(e.target.value)} aria-label='subject DID' />
        <select value={type} onChange={(e) => setType(e.target.value)} aria-label='credential type'>
          {TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
        <input placeholder='Note (optional)' value={claim} onChange={(e) => setClaim(e.target.value)} aria-label='note' />
        <label className='row'>Valid for <input className='narrow' inputMode='numeric' value={days} onChange={(e) => setDays(e.target.value)} aria-label='valid days' /> days (0: no expiry)</label>
        <button disabled={busy}>{busy ? 'Issuing…' : 'Issue'}</button>
      </form>
      <div className='stack'>
        <h3>Verify a credential</h3>
        <textarea rows={3} placeholder='Paste a credential (JWT)' value={pasted} onChange={(e) => setPasted(e.target.value)} aria-label='credential to verify' className='mono' />
        <div className='row'>
          <button type='button' onClick={() => { void verify(pasted) }} disabled={pasted.trim() === ''}>Verify</button>
          <button type='button' onClick={() => { void keep() }} disabled={check?.status !== 'valid' || pasted.trim() === ''}>Keep it</button>
        </div>
      </div>
      {handed != null && <p className='ok small-text' role='status'>Sent, encrypted, to its subject.</p>}
      {check != null && (
        <p className={check.status === 'valid' ? 'ok' : 'error'} data-testid='verify-result' role='status'>
          <b>{check.status}</b>: {check.reason}
        </p>
      )}
      <ErrorText error={error} />
    </section>
  )
}
