/**
 * A DID as a person reads it: the contact's name (or the peer's own, marked unverified) with
 * the DID's short fingerprint beside it; the whole DID is in the title and for screen readers.
 */
import { useContacts } from '../ux-context.ts'

export function Who ({ did, fingerprint = true }: { did: string, fingerprint?: boolean }): React.JSX.Element {
  const book = useContacts()
  const n = book.name(did)
  return (
    <span className='who' title={did} data-did={did} data-name-source={n.source}>
      <span className='who-name'>{n.label}</span>
      {n.source === 'announced' && <span className='pill relayed small-pill'>unverified</span>}
      {fingerprint && n.source !== 'me' && <span className='muted mono small-text'> #{n.fingerprint}</span>}
    </span>
  )
}

/** The plain text of a name, for sentences and aria labels. */
export function useNameOf (): (did: string) => string {
  const book = useContacts()
  return (did) => {
    const n = book.name(did)
    return n.source === 'announced' ? `${n.label} (unverified, #${n.fingerprint})` : n.source === 'none' ? `unknown peer #${n.fingerprint}` : n.label
  }
}
