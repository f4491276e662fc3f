/**
 * The ledger screen: balance, a transfer form (DID typed, pasted or scanned from a QR code),
 * proof-of-work and sync progress, the account's history, and a live picture of the DAG.
 */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './WalletScreen.tsx'
import { DagGraph } from '../components/DagGraph.tsx'
import { QrScanButton } from '../components/QrScan.tsx'
import { Progress, Dot } from '../components/Progress.tsx'
import { shortDid } from '../../core/identity.ts'

export function LedgerScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const ledger = runtime.ledger()
  const [to, setTo] = useState('')
  const [amount, setAmount] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  if (ledger == null) {
    return <div className='screen'><section className='card'><h2>Ledger</h2><p className='muted'>Opening the ledger…</p></section></div>
  }
  const progress = ledger.progress()
  const stats = ledger.stats()
  const conflicting = new Set(ledger.equivocations().flatMap((e) => e.blocks.filter((b) => b !== e.canonical)))

  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true); setError(null); setSent(null)
    try {
      const txId = await ledger.transfer(to.trim(), Number(amount))
      setSent(txId); setAmount('')
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <div className='screen'>
      <section className='card'>
        <h2>Balance</h2>
        <p className='balance' data-testid='balance'>{ledger.balance()} <span className='muted'>credits</span></p>
        {!ledger.isMember() && <p className='muted'>Joining the alliance… (your admission block is being confirmed)</p>}
        {progress.pow != null && (
          <div className='stack'>
            <span className='muted small-text'>Proof of work for your block…</span>
            <Progress label='proof of work' value={progress.pow} />
          </div>
        )}
        {progress.sync != null && (
          <div className='stack'>
            <span className='muted small-text'>Syncing {progress.sync.done} of {progress.sync.total} blocks…</span>
            <Progress label='sync' value={progress.sync.done / Math.max(1, progress.sync.total)} />
          </div>
        )}
      </section>
      <section className='card'>
        <h2>Send credits</h2>
        <form className='stack' onSubmit={(e) => { void submit(e) }}>
          <div className='row'>
            <input placeholder='To (DID)' value={to} onChange={(e) => setTo(e.target.value)} aria-label='transfer recipient' style={{ flex: 1 }} />
            <QrScanButton onResult={setTo} />
          </div>
          <input placeholder='Amount' inputMode='numeric' value={amount} onChange={(e) => setAmount(e.target.value.replace(/[^0-9]/g, ''))} aria-label='transfer amount' />
          <button disabled={busy || to === '' || amount === ''}>{busy ? 'Making the block…' : 'Send'}</button>
        </form>
        {sent != null && <p className='ok' role='status'>Sent. Transaction <span className='mono'>{sent.slice(-12)}</span>: {ledger.status(sent)}</p>}
        <ErrorText error={error} />
      </section>
      <section className='card'>
        <h2>History</h2>
        <ul className='list' data-testid='history'>
          {ledger.history(30).map((h) => (
            <li key={h.txId} className='row spread' data-status={h.status}>
              <span>
                <b>{h.type === 'transfer' ? (h.delta < 0 ? `To ${shortDid(h.to ?? '')}` : `From ${shortDid(h.from)}`) : h.type}</b>
                <span className='muted small-text'> {new Date(h.time).toLocaleString()}</span>
              </span>
              <span className='row'>
                {h.delta !== 0 && <b className={h.delta > 0 ? 'ok' : ''}>{h.delta > 0 ? '+' : ''}{h.delta}</b>}
                <span className={`pill ${h.status === 'confirmed' ? 'direct' : h.status === 'pending' ? 'relayed' : 'bad'}`}>{h.status}</span>
              </span>
            </li>
          ))}
        </ul>
      </section>
      <section className='card'>
        <h2>DAG</h2>
        <DagGraph blocks={ledger.recentBlocks(60)} me={runtime.did} conflicting={conflicting} />
        <p className='muted small-text'>
          <Dot color='#1b8a6b' /> confirmed <Dot color='#e0a91b' /> pending <Dot color='#b3261e' /> rejected <Dot color='#7b2cbf' /> conflicting ·
          {' '}{stats.blocks} blocks, {stats.confirmed} confirmed, {stats.tips} tips, {stats.members} members
        </p>
      </section>
    </div>
  )
}
