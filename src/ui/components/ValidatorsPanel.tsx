/**
 * Validators as a person sees them (issue 8, SPEC L46–L47): who validates now, what changed
 * since the founding, the open proposals with their votes ("2 of 3 votes"), and — for a
 * validator — a vote to add a member or remove a validator. A change happens on its own once a
 * quorum of the current validators voted alike; the panel says how many more are needed.
 */
import { useState } from 'react'
import { ErrorText } from './ErrorText.tsx'
import { Who } from './Who.tsx'
import type { LedgerApi } from '../../peer/ledger-api.ts'

export function ValidatorsPanel ({ ledger, me }: { ledger: LedgerApi, me: string }): React.JSX.Element {
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string[]>([])
  const epoch = ledger.epoch()
  const proposals = ledger.validatorProposals()
  const changes = ledger.validatorChanges()
  const amValidator = ledger.isValidator()
  const candidates = ledger.members().filter((d) => !epoch.validators.includes(d))
  const vote = (action: 'add' | 'remove', did: string): void => {
    const key = `${action}:${did}`
    setError(null)
    ledger.voteValidator(action, did).then(() => setSent((s) => [...s, key]), setError)
  }
  const voted = (action: 'add' | 'remove', did: string): boolean =>
    sent.includes(`${action}:${did}`) || proposals.some((p) => p.action === action && p.did === did && p.voters.some((v) => v === me))
  return (
    <details className='stack' data-testid='validators'>
      <summary>Validators ({epoch.validators.length}; {epoch.quorum} must approve a payment)</summary>
      <ul className='list'>
        {epoch.validators.map((did) => (
          <li key={did} className='row' data-testid='validator'>
            <Who did={did} />
            {amValidator && did !== me && epoch.validators.length > 1 && (
              <button disabled={voted('remove', did)} onClick={() => vote('remove', did)} data-testid='vote-remove'>
                {voted('remove', did) ? 'Removal voted' : 'Vote to remove'}
              </button>
            )}
          </li>
        ))}
      </ul>
      {proposals.length > 0 && <h3>Proposed changes</h3>}
      {proposals.map((p) => (
        <div key={`${p.action}:${p.did}`} className='row' data-testid='validator-proposal'>
          <span>{p.action === 'add' ? 'Add' : 'Remove'}</span> <Who did={p.did} />
          <span className='muted small-text'>{p.voters.length} of {p.quorum} votes{p.voters.length < p.quorum ? ` — ${p.quorum - p.voters.length} more needed` : ''}</span>
          {amValidator && !voted(p.action, p.did) && <button onClick={() => vote(p.action, p.did)} data-testid='vote-proposal'>Vote for</button>}
        </div>
      ))}
      {amValidator && candidates.length > 0 && (
        <>
          <h3>Members who could validate</h3>
          {candidates.map((did) => (
            <div key={did} className='row' data-testid='validator-candidate'>
              <Who did={did} />
              <button disabled={voted('add', did)} onClick={() => vote('add', did)} data-testid='vote-add'>
                {voted('add', did) ? 'Vote sent' : 'Vote to add'}
              </button>
            </div>
          ))}
        </>
      )}
      {changes.length > 0 && (
        <p className='muted small-text' data-testid='validator-changes'>
          Since the founding: {changes.map((c) => `${c.action === 'add' ? 'added' : 'removed'} ${c.did.slice(-6)} (epoch ${c.epoch})`).join('; ')}.
        </p>
      )}
      <ErrorText error={error} />
    </details>
  )
}
