/**
 * Asks before a `?relay=` link replaces the relays this profile saved (SPEC N15). The relays
 * decide whom this phone meets, so a link from someone else must not switch them silently.
 */
import { useRuntime } from '../runtime-context.ts'

export function RelayProposal (): React.JSX.Element | null {
  const runtime = useRuntime()
  const proposal = runtime.relayProposal()
  if (proposal == null) return null
  return (
    <section className='card banner stack' role='alertdialog' aria-labelledby='relay-proposal-title' data-testid='relay-proposal'>
      <h2 id='relay-proposal-title'>Use this link's relays?</h2>
      <p>The link you opened asks this app to find peers through other relays than the ones you saved. Relays decide whom you meet: only say yes if you trust whoever sent the link.</p>
      <ul className='small-text'>
        {proposal.map((r) => <li key={r}><code>{r}</code></li>)}
      </ul>
      <div className='row'>
        <button type='button' onClick={() => { runtime.answerRelayProposal(true) }}>Use these relays</button>
        <button type='button' className='secondary' onClick={() => { runtime.answerRelayProposal(false) }}>Keep my relays</button>
      </div>
    </section>
  )
}
