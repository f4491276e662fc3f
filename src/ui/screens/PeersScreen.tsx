/**
 * The peers screen: every known peer by name (address book, else its own unverified name)
 * with Pay, Message and Save buttons; the address book (add from a DID, a scanned QR or a link;
 * rename, remove); my own name; direct messages (end-to-end encrypted); a live picture of the
 * mesh; relay status.
 */
import { useEffect, useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { useContacts, useNav } from '../ux-context.ts'
import { MeshGraph } from '../components/MeshGraph.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { CopyButton } from '../components/Copy.tsx'
import { Who, useNameOf } from '../components/Who.tsx'
import { SaveContact } from '../components/SaveContact.tsx'
import { QrScanButton } from '../components/QrScan.tsx'
import { parseRelayList } from '../../peer/config.ts'
import { isHello, parseContactText } from '../../peer/names.ts'
import { parseCredentialText } from '../../peer/credential-dm.ts'
import type { CredentialCheck } from '../../wallet/index.ts'

export function PeersScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const book = useContacts()
  const nav = useNav()
  const nameOf = useNameOf()
  const peers = runtime.peers()
  const relays = runtime.relayStates()
  const [to, setTo] = useState(nav.intent.message ?? '')
  const [text, setText] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string | null>(null)
  const [naming, setNaming] = useState<string | null>(null)
  const [relayText, setRelayText] = useState(runtime.relays.join('\n'))
  const { clearIntent } = nav
  useEffect(() => { if (nav.intent.message != null) clearIntent() }, [nav.intent.message, clearIntent])

  const send = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setError(null); setSent(null)
    try {
      await runtime.sendMessage(to, text)
      setSent(`Sent to ${nameOf(to.trim())}`)
      setText('')
    } catch (err) { setError(err) }
  }
  const messages = runtime.messages().filter((m) => !isHello(m.text))
  const contacts = book.list()

  return (
    <div className='screen'>
      <MyName />
      <section className='card'>
        <h2>Peers ({peers.length})</h2>
        {peers.length === 0 && <p className='muted'>Looking for peers… Others appear here once they open the app with the same relay.</p>}
        <ul className='list' data-testid='peers'>
          {peers.map((p) => (
            <li key={p.did} data-kind={p.kind} data-did={p.did}>
              <div className='row spread'>
                <Who did={p.did} />
                <span className='row'>
                  <span className={`pill ${p.kind}`}>{p.kind === 'direct' ? 'direct' : 'relayed'}</span>
                  <span className='muted small-text'>{p.rttMs != null ? `${Math.round(p.rttMs)} ms` : '–'}</span>
                </span>
              </div>
              <div className='row'>
                <button type='button' className='small' onClick={() => nav.go('ledger', { pay: p.did })} aria-label={`Pay ${nameOf(p.did)}`}>Pay</button>
                <button type='button' className='small' onClick={() => setTo(p.did)} aria-label={`Message ${nameOf(p.did)}`}>Message</button>
                <button type='button' className='small' onClick={() => setNaming(naming === p.did ? null : p.did)} aria-label={`${book.get(p.did) != null ? 'Rename' : 'Save'} ${nameOf(p.did)}`}>{book.get(p.did) != null ? 'Rename' : 'Save'}</button>
              </div>
              {naming === p.did && <SaveContact did={p.did} source='peer' onDone={() => setNaming(null)} />}
            </li>
          ))}
        </ul>
      </section>
      <section className='card'>
        <h2>Messages</h2>
        <form className='stack' onSubmit={(e) => { void send(e) }}>
          <label className='field-label' htmlFor='msg-to'>To</label>
          <select id='msg-to' value={contacts.some((c) => c.did === to) || peers.some((p) => p.did === to) ? to : ''} onChange={(e) => setTo(e.target.value)} aria-label='message recipient (pick)'>
            <option value=''>Pick a peer or contact…</option>
            {[...new Set([...peers.map((p) => p.did as string), ...contacts.map((c) => c.did as string)])].map((d) => <option key={d} value={d}>{nameOf(d)}</option>)}
          </select>
          <input placeholder='or paste a DID' value={to} onChange={(e) => setTo(e.target.value)} aria-label='message recipient' />
          <input placeholder='Message' value={text} onChange={(e) => setText(e.target.value)} aria-label='message text' maxLength={4000} />
          <button disabled={to === '' || text === ''}>Send encrypted</button>
        </form>
        {sent != null && <p className='ok' role='status'>{sent}</p>}
        <ErrorText error={error} />
        <ul className='list' data-testid='messages'>
          {messages.slice().reverse().map((m, i) => (
            <li key={`${m.at}-${i}`}>
              <div className='row spread'>
                <Who did={m.from} />
                <span className='muted small-text'>{new Date(m.at).toLocaleTimeString()}</span>
              </div>
              {parseCredentialText(m.text) != null ? <ReceivedCredential jwt={parseCredentialText(m.text)!} mine={m.from === runtime.did} /> : <div>{m.text}</div>}
              {m.from !== runtime.did && book.get(m.from) == null && (
                <button type='button' className='small' onClick={() => setNaming(m.from)}>Save sender</button>
              )}
              {naming === m.from && m.from !== runtime.did && <SaveContact did={m.from} source='message' onDone={() => setNaming(null)} />}
            </li>
          ))}
        </ul>
      </section>
      <AddressBook />
      <section className='card'>
        <h2>Mesh</h2>
        <MeshGraph me={runtime.did} peers={peers} relays={relays} nameOf={nameOf} />
        <p className='muted small-text'>Solid green: direct WebRTC. Dashed: relayed (signaling only). Squares: relays.</p>
      </section>
      <section className='card'>
        <h2>Relays</h2>
        {relays.length === 0 && <p className='muted'>No relay configured: this peer cannot find others.</p>}
        <ul className='list' data-testid='relays'>
          {relays.map((r) => (
            <li key={r.addr} className='row spread'>
              <span className='mono break small-text'>{r.addr}</span>
              <span className={`pill ${r.state === 'reserved' ? 'direct' : r.state === 'reconnecting' ? 'bad' : 'relayed'}`}>{r.state}</span>
            </li>
          ))}
        </ul>
        <details>
          <summary>Change relays</summary>
          <div className='stack'>
            <textarea className='mono' rows={3} value={relayText} onChange={(e) => setRelayText(e.target.value)} aria-label='relay addresses' />
            <button type='button' onClick={() => { runtime.setRelays(parseRelayList(relayText)) }}>Save and reconnect</button>
          </div>
        </details>
        <div className='row'><span className='muted small-text'>My DID:</span><CopyButton text={runtime.did} label='Copy my DID' /></div>
      </section>
    </div>
  )
}

/** This user's own name: told to peers (they see it as unverified) and shown as "me". */
export function MyName (): React.JSX.Element {
  const book = useContacts()
  const [name, setName] = useState(book.selfName ?? '')
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState(false)
  return (
    <section className='card'>
      <h2>My name</h2>
      <form className='row' onSubmit={(e) => { e.preventDefault(); setError(null); setDone(false); book.setSelfName(name).then(() => setDone(true)).catch(setError) }}>
        <input value={name} onChange={(e) => setName(e.target.value)} aria-label='my name' placeholder='Your name' maxLength={40} style={{ flex: 1 }} />
        <button disabled={name.trim() === '' || name.trim() === book.selfName}>Save my name</button>
      </form>
      <p className='muted small-text'>Peers you connect to see this name marked “unverified”: anyone can call themselves anything.</p>
      {done && <p className='ok small-text' role='status'>Saved. Peers will see it.</p>}
      <ErrorText error={error} />
    </section>
  )
}

function AddressBook (): React.JSX.Element {
  const book = useContacts()
  const nav = useNav()
  const nameOf = useNameOf()
  const [adding, setAdding] = useState('')
  const [suggested, setSuggested] = useState<string | undefined>(undefined)
  const [editing, setEditing] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const parsed = parseContactText(adding)
  return (
    <section className='card'>
      <h2>Address book</h2>
      {book.list().length === 0 && <p className='muted'>No contacts yet. Save a peer above, scan someone's QR code, or paste their DID or contact link.</p>}
      <ul className='list' data-testid='contacts'>
        {book.list().map((c) => (
          <li key={c.did} data-did={c.did}>
            <div className='row spread'>
              <Who did={c.did} />
              <span className='muted small-text'>from {c.source}</span>
            </div>
            <div className='row'>
              <button type='button' className='small' onClick={() => nav.go('ledger', { pay: c.did })} aria-label={`Pay ${nameOf(c.did)}`}>Pay</button>
              <button type='button' className='small' onClick={() => nav.go('peers', { message: c.did })} aria-label={`Message ${nameOf(c.did)}`}>Message</button>
              <button type='button' className='small' onClick={() => setEditing(editing === c.did ? null : c.did)}>Rename</button>
              <button type='button' className='small' onClick={() => { book.remove(c.did).catch(setError) }} aria-label={`Remove ${nameOf(c.did)}`}>Remove</button>
            </div>
            {editing === c.did && <SaveContact did={c.did} source='manual' onDone={() => setEditing(null)} />}
          </li>
        ))}
      </ul>
      <div className='stack'>
        <h3>Add a contact</h3>
        <div className='row'>
          <input value={adding} onChange={(e) => { setAdding(e.target.value); setSuggested(undefined) }} aria-label='contact DID or link' placeholder='DID or contact link' style={{ flex: 1 }} />
          <QrScanButton onResult={(t) => { const p = parseContactText(t); setAdding(p?.did ?? t); setSuggested(p?.name) }} />
        </div>
        {adding.trim() !== '' && parsed == null && <p className='error small-text' role='alert'>That is neither a did:key nor a contact link.</p>}
        {parsed != null && <SaveContact key={parsed.did} did={parsed.did} suggested={suggested ?? parsed.name} source='manual' onDone={() => { setAdding(''); setSuggested(undefined) }} />}
      </div>
      <ErrorText error={error} />
    </section>
  )
}

/** A credential that came by DM: verified before it can be kept. */
function ReceivedCredential ({ jwt, mine }: { jwt: string, mine: boolean }): React.JSX.Element {
  const runtime = useRuntime()
  const [check, setCheck] = useState<CredentialCheck | null>(null)
  const [kept, setKept] = useState(false)
  const [error, setError] = useState<unknown>(null)
  if (mine) return <div className='muted'>A credential (sent)</div>
  return (
    <div className='stack' data-testid='received-credential'>
      <span>Sent you a credential.</span>
      <div className='row'>
        <button type='button' className='small' onClick={() => { runtime.wallet.verifyCredential(jwt).then(setCheck).catch(setError) }}>Verify</button>
        <button type='button' className='small' disabled={check?.status !== 'valid' || kept} onClick={() => { runtime.act(async (w) => await w.saveCredential(jwt)).then(() => setKept(true)).catch(setError) }}>{kept ? 'Kept' : 'Keep it'}</button>
      </div>
      {check != null && <p className={check.status === 'valid' ? 'ok small-text' : 'error small-text'} role='status'><b>{check.status}</b>: {check.reason}</p>}
      <ErrorText error={error} />
    </div>
  )
}
