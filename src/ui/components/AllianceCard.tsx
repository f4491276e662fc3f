/**
 * The alliance, as a person sees it (issue 8): found one or join by an invitation when the
 * profile has none; otherwise its name, validators and members, what this peer waits for
 * ("waiting for 1 of 2 validators to admit you"), and — for a validator — invite by link or QR
 * and admit or decline the people who asked.
 */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './ErrorText.tsx'
import { Qr } from './Qr.tsx'
import { Who } from './Who.tsx'
import { ValidatorsPanel } from './ValidatorsPanel.tsx'
import type { AdmissionState } from '../../peer/admission.ts'
import { backupNeeded } from './BackupNeeded.tsx'

export function admissionText (a: AdmissionState): string {
  switch (a.kind) {
    case 'validator': return `You are a validator of this alliance (chain ${a.chain}).`
    case 'member': return `You are a member (chain ${a.chain}).`
    case 'joining': return 'Admitted: your join block is being confirmed by the validators.'
    case 'waiting': return `Waiting for ${a.needed - a.admitted} of ${a.validators} validator${a.validators === 1 ? '' : 's'} to admit you` +
      (a.pending > 0 ? ` (${a.pending} admission${a.pending === 1 ? '' : 's'} being confirmed).` : '. Your request is sent to them every few seconds; a validator admits you at once if you came with its invitation.')
    case 'needs-credential': return `This alliance admits by a membership credential from ${a.issuers.length === 1 ? 'its issuer' : `one of its ${a.issuers.length} issuers`} (${a.issuers.map((d) => d.slice(-6)).join(', ')}). Ask the issuer to send you one (Credentials); you join on your own as soon as your wallet holds it.`
  }
}

function FoundOrJoin (): React.JSX.Element {
  const runtime = useRuntime()
  const [name, setName] = useState('')
  const [chain, setChain] = useState('home')
  const [policy, setPolicy] = useState<'invite' | 'credential'>('invite')
  const [issuers, setIssuers] = useState('')
  const [invite, setInvite] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const run = (f: () => Promise<unknown>): void => {
    setBusy(true); setError(null)
    f().catch(setError).finally(() => setBusy(false))
  }
  return (
    <section className='card' data-testid='alliance-choose'>
      <h2>Join an alliance</h2>
      <p className='muted'>Paste the invitation link a validator sent you, or found a new alliance and invite others.</p>
      <label>Invitation link
        <input value={invite} onChange={(e) => setInvite(e.target.value)} placeholder='https://…?invite=…' data-testid='invite-input' />
      </label>
      <button disabled={busy || invite.trim() === ''} onClick={() => run(async () => await runtime.joinInvitation(invite))} data-testid='join-invite'>Join</button>
      <h3>Found an alliance</h3>
      <p className='muted small-text'>You become its first validator and hold its credits; members join by your invitation.</p>
      <label>Name <input value={name} onChange={(e) => setName(e.target.value)} placeholder='Our street' data-testid='found-name' /></label>
      <label>Your chain
        <select value={chain} onChange={(e) => setChain(e.target.value)}>
          <option value='home'>home</option><option value='business'>business</option><option value='operator'>operator</option>
        </select>
      </label>
      <label>Who may join
        <select value={policy} onChange={(e) => setPolicy(e.target.value === 'credential' ? 'credential' : 'invite')} data-testid='found-policy'>
          <option value='invite'>People a validator invites or admits</option>
          <option value='credential'>Holders of a membership credential from issuers I list</option>
        </select>
      </label>
      {policy === 'credential' && (
        <label>Credential issuers (DIDs, one per line; empty: you)
          <textarea value={issuers} onChange={(e) => setIssuers(e.target.value)} rows={2} data-testid='found-issuers' />
        </label>
      )}
      <button
        disabled={busy || name.trim() === ''}
        onClick={() => run(async () => {
          const listed = issuers.split(/\s+/).map((d) => d.trim()).filter((d) => d !== '')
          await runtime.foundAlliance({ name: name.trim(), chains: ['home', 'business', 'operator'], chain, admission: policy, credentialIssuers: policy === 'credential' ? (listed.length > 0 ? listed : [runtime.did]) : undefined })
        })}
        data-testid='found'
      >Found
      </button>
      <ErrorText error={error} />
    </section>
  )
}

export function AllianceCard (): React.JSX.Element | null {
  const runtime = useRuntime()
  const ledger = runtime.ledger()
  const [link, setLink] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  if (runtime.alliance() == null) return <FoundOrJoin />
  if (ledger == null) return null
  const admission = ledger.admission()
  const requests = ledger.joinRequests()
  const makeLink = (): void => {
    try {
      const text = ledger.invite({ validForMs: 7 * 24 * 3600 * 1000, relays: runtime.relays })
      setLink(`${location.origin}${location.pathname}?invite=${text}`)
    } catch (err) { setError(err) }
  }
  return (
    <section className='card' data-testid='alliance'>
      <h2>Alliance</h2>
      <p data-testid='admission'>{backupNeeded(runtime) && admission.kind === 'waiting' ? 'Waiting for your backup: no request to join is sent until you make one.' : admissionText(admission)}</p>
      <p className='muted small-text'>{ledger.validators().length} validator{ledger.validators().length === 1 ? '' : 's'} · {ledger.members().length} members</p>
      <ValidatorsPanel ledger={ledger} me={runtime.did} />
      {ledger.isValidator() && (
        <div className='stack'>
          <button onClick={makeLink} data-testid='make-invite'>Invite someone</button>
          {link != null && (
            <>
              <p className='small-text'>Send this link (valid 7 days); whoever opens it is admitted by you:</p>
              <input readOnly value={link} data-testid='invite-link' aria-label='invitation link' />
              <Qr text={link} label='invitation QR code' />
            </>
          )}
          {requests.length > 0 && <h3>Asking to join</h3>}
          {requests.map((r) => (
            <div key={r.did} className='row' data-testid='join-request'>
              <Who did={r.did} /> <span className='muted small-text'>{r.name !== '' ? `says “${r.name}”` : ''} · chain {r.chain}</span>
              <button onClick={() => { ledger.admit(r.did, r.chain).catch(setError) }}>Admit</button>
              <button onClick={() => ledger.decline(r.did)}>Decline</button>
            </div>
          ))}
        </div>
      )}
      <ErrorText error={error} />
    </section>
  )
}
