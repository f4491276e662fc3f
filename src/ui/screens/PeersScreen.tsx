/**
 * The peers screen: relay status, every known peer with its connection kind and round-trip
 * time, a live picture of the mesh, and direct messages (end-to-end encrypted) to prove it.
 */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { MeshGraph } from '../components/MeshGraph.tsx'
import { ErrorText } from './WalletScreen.tsx'
import { CopyButton } from '../components/Copy.tsx'
import { shortDid } from '../../core/identity.ts'
import { parseRelayList } from '../../peer/config.ts'

export function PeersScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const peers = runtime.peers()
  const relays = runtime.relayStates()
  const [to, setTo] = useState('')
  const [text, setText] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string | null>(null)
  const [relayText, setRelayText] = useState(runtime.relays.join('\n'))

  const send = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setError(null); setSent(null)
    try {
      await runtime.sendMessage(to, text)
      setSent(`Sent to ${shortDid(to)}`)
      setText('')
    } catch (err) { setError(err) }
  }

  return (
    <div className='screen'>
      <section className='card'>
        <h2>Mesh</h2>
        <MeshGraph me={runtime.did} peers={peers} relays={relays} />
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
      </section>
      <section className='card'>
        <h2>Peers ({peers.length})</h2>
        {peers.length === 0 && <p className='muted'>Looking for peers…</p>}
        <ul className='list' data-testid='peers'>
          {peers.map((p) => (
            <li key={p.did} className='row spread' data-kind={p.kind}>
              <span className='mono small-text' title={p.did}>{shortDid(p.did)}</span>
              <span className='row'>
                <span className={`pill ${p.kind}`}>{p.kind === 'direct' ? 'direct WebRTC' : 'relayed'}</span>
                <span className='muted small-text'>{p.rttMs != null ? `${Math.round(p.rttMs)} ms` : '–'}</span>
                <button type='button' className='small' onClick={() => setTo(p.did)}>Message</button>
              </span>
            </li>
          ))}
        </ul>
      </section>
      <section className='card'>
        <h2>Messages</h2>
        <form className='stack' onSubmit={(e) => { void send(e) }}>
          <input placeholder='To (DID)' value={to} onChange={(e) => setTo(e.target.value)} aria-label='message recipient' />
          <input placeholder='Message' value={text} onChange={(e) => setText(e.target.value)} aria-label='message text' maxLength={4000} />
          <button disabled={to === '' || text === ''}>Send encrypted</button>
        </form>
        {sent != null && <p className='ok' role='status'>{sent}</p>}
        <ErrorText error={error} />
        <ul className='list' data-testid='messages'>
          {runtime.messages().slice().reverse().map((m, i) => (
            <li key={`${m.at}-${i}`}>
              <div className='row spread'><span className='mono small-text'>{m.from === runtime.did ? 'me' : shortDid(m.from)}</span><span className='muted small-text'>{new Date(m.at).toLocaleTimeString()}</span></div>
              <div>{m.text}</div>
            </li>
          ))}
        </ul>
        <div className='row'><span className='muted small-text'>My DID:</span><CopyButton text={runtime.did} label='Copy my DID' /></div>
      </section>
    </div>
  )
}
