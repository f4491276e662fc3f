/**
 * Name a DID: a small form that saves a contact and shows the look-alike warnings it raised
 * (a name like another contact's, a DID like a known one) before and after saving.
 */
import { useState } from 'react'
import { useContacts } from '../ux-context.ts'
import { ErrorText } from './ErrorText.tsx'
import type { ContactSource } from '../../store/contacts.ts'
import type { LookAlike } from '../../peer/names.ts'

export function SaveContact ({ did, suggested, source, onDone }: { did: string, suggested?: string, source: ContactSource, onDone?: () => void }): React.JSX.Element {
  const book = useContacts()
  const existing = book.get(did)
  const [name, setName] = useState(existing?.name ?? suggested ?? book.announcedName(did as never) ?? '')
  const [error, setError] = useState<unknown>(null)
  const [saved, setSaved] = useState<LookAlike[] | null>(null)
  const warnings = name.trim() === '' ? book.warnings(did) : book.warnings(did, name)
  const save = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault(); setError(null)
    try { setSaved(await book.save(did, name, source)); onDone?.() } catch (err) { setError(err) }
  }
  return (
    <form className='stack' onSubmit={(e) => { void save(e) }} aria-label='save contact'>
      <span className='small-text'>Name <span className='mono'>#{did.slice(-6)}</span> in your address book (only you see this name):</span>
      <div className='row'>
        <input value={name} onChange={(e) => setName(e.target.value)} aria-label='contact name' placeholder='Name' maxLength={40} style={{ flex: 1 }} />
        <button disabled={name.trim() === ''}>{existing != null ? 'Rename' : 'Save contact'}</button>
        {onDone != null && <button type='button' className='secondary' onClick={onDone}>Not now</button>}
      </div>
      {warnings.map((w) => (
        <p key={w.did + w.kind} className='warn-text small-text' role='status' data-testid='lookalike'>
          {w.kind === 'name'
            ? <>Careful: “{name}” looks like your contact “{w.name}” (#{w.did.slice(-6)}), a different DID.</>
            : <>Careful: this DID starts and ends like your contact “{w.name}”'s but is a different one.</>}
        </p>
      ))}
      {saved != null && <p className='ok small-text' role='status'>Saved.</p>}
      <ErrorText error={error} />
    </form>
  )
}
