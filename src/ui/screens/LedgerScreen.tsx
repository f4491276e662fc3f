/**
 * The ledger screen: balance (and why one is still waiting to join), Send to a contact or peer
 * by name (or a pasted or scanned DID) behind a confirmation, proof-of-work and sync
 * progress, the history in words — both sides of transfers and sessions, amounts and status
 * from the first moment, tap for block and confirmations — and a live picture of the DAG.
 */
import { useEffect, useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { useContacts, useNav } from '../ux-context.ts'
import { ErrorText } from '../components/ErrorText.tsx'
import { AllianceCard, admissionText } from '../components/AllianceCard.tsx'
import { BackupNeeded, backupNeeded } from '../components/BackupNeeded.tsx'
import { DagGraph } from '../components/DagGraph.tsx'
import { QrScanButton } from '../components/QrScan.tsx'
import { Progress, Dot } from '../components/Progress.tsx'
import { ConfirmDialog } from '../components/Confirm.tsx'
import { Who, useNameOf } from '../components/Who.tsx'
import { isDid } from '../../core/identity.ts'
import { parseContactText } from '../../peer/names.ts'
import { historyRows, describeRow, type HistoryRow } from '../../peer/history.ts'

export function LedgerScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const ledger = runtime.ledger()
  if (ledger == null) {
    if (runtime.alliance() == null) return <div className='screen'><AllianceCard /></div>
    return <div className='screen'><section className='card'><h2>Ledger</h2><p className='muted'>Opening the ledger…</p></section></div>
  }
  const progress = ledger.progress()
  const stats = ledger.stats()
  const conflicting = new Set(ledger.equivocations().flatMap((e) => e.blocks.filter((b) => b !== e.canonical)))
  const others = runtime.peers().length
  const needsBackup = backupNeeded(runtime)
  return (
    <div className='screen'>
      <section className='card'>
        <h2>Balance</h2>
        <p className='balance' data-testid='balance'>{ledger.balance()} <span className='muted'>credits</span></p>
        <BackupNeeded />
        {!ledger.isMember() && !needsBackup && (
          <p className='muted' data-testid='joining'>
            {admissionText(ledger.admission())}
            {others === 0 ? ' No other peer is online yet: a validator must be reachable.' : ''}
          </p>
        )}
        {ledger.incoming() > 0 && !needsBackup && <p className='muted small-text' data-testid='incoming'>+{ledger.incoming()} credits on the way (received on their own once confirmed)</p>}
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
      <AllianceCard />
      <SendCredits />
      <History rows={historyRows(ledger, runtime.did, 40)} />
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

function SendCredits (): React.JSX.Element {
  const runtime = useRuntime()
  const ledger = runtime.ledger()
  const book = useContacts()
  const nav = useNav()
  const nameOf = useNameOf()
  const [to, setTo] = useState(nav.intent.pay ?? '')
  const [amount, setAmount] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [confirming, setConfirming] = useState(false)
  const { clearIntent } = nav
  useEffect(() => { if (nav.intent.pay != null) { setTo(nav.intent.pay); clearIntent() } }, [nav.intent.pay, clearIntent])
  if (ledger == null) return <></>
  const recipient = to.trim()
  const valid = isDid(recipient)
  const choices = [...new Set([...book.list().map((c) => c.did as string), ...runtime.peers().map((p) => p.did as string)])].filter((d) => d !== runtime.did)

  const submit = async (): Promise<void> => {
    setConfirming(false); setBusy(true); setError(null); setSent(null)
    try {
      const txId = await ledger.transfer(recipient, Number(amount))
      setSent(txId); setAmount('')
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <section className='card'>
      <h2>Send credits</h2>
      <form className='stack' onSubmit={(e) => { e.preventDefault(); setError(null); setConfirming(true) }}>
        <label className='field-label' htmlFor='send-to'>To</label>
        <select id='send-to' value={choices.includes(recipient) ? recipient : ''} onChange={(e) => setTo(e.target.value)}>
          <option value=''>Pick a contact or peer…</option>
          {choices.map((d) => <option key={d} value={d}>{nameOf(d)}</option>)}
        </select>
        <div className='row'>
          <input placeholder='or paste a DID' value={to} onChange={(e) => setTo(e.target.value)} aria-label='transfer recipient' style={{ flex: 1 }} />
          <QrScanButton onResult={(t) => setTo(parseContactText(t)?.did ?? t)} />
        </div>
        {valid && <p className='small-text'>To <Who did={recipient} /></p>}
        {recipient !== '' && !valid && <p className='error small-text' role='alert'>That is not a did:key. Pick a contact, paste a DID, or scan its QR code.</p>}
        <label className='field-label' htmlFor='send-amount'>Amount (credits)</label>
        <input id='send-amount' inputMode='numeric' value={amount} onChange={(e) => setAmount(e.target.value.replace(/[^0-9]/g, ''))} aria-label='transfer amount' />
        <button disabled={busy || !valid || amount === '' || Number(amount) <= 0}>{busy ? 'Making the block…' : 'Send'}</button>
      </form>
      {confirming && (
        <ConfirmDialog
          title='Send credits?'
          facts={[
            ['To', <Who key='to' did={recipient} />],
            ['Amount', `${amount} credits`],
            ['Your balance after', `${ledger.balance() - Number(amount)} credits`]
          ]}
          note='A transfer cannot be undone once it is confirmed. Check the name and the fingerprint.'
          confirmLabel={`Send ${amount} credits`}
          disabled={Number(amount) > ledger.balance()}
          onConfirm={() => { void submit() }}
          onCancel={() => setConfirming(false)}
        />
      )}
      {sent != null && <p className='ok' role='status'>Sent to {nameOf(recipient)}: {ledger.status(sent)}. It shows in the history below.</p>}
      <ErrorText error={error} />
    </section>
  )
}

const STATUS_WORDS = { pending: 'pending', confirmed: 'confirmed', rejected: 'rejected' } as const

function statusWord (h: HistoryRow): string {
  return h.stage === 'incoming' ? 'on its way' : STATUS_WORDS[h.status]
}

function History ({ rows }: { rows: HistoryRow[] }): React.JSX.Element {
  const nameOf = useNameOf()
  const [open, setOpen] = useState<string | null>(null)
  return (
    <section className='card'>
      <h2>History</h2>
      {rows.length === 0 && <p className='muted'>Nothing yet. Your admission, transfers and sessions appear here as soon as their blocks exist.</p>}
      <ul className='list' data-testid='history'>
        {rows.map((h) => (
          <li key={h.id} data-status={h.status} data-kind={h.kind} data-amount={h.amount ?? ''} data-stage={h.stage ?? undefined} data-from-deposit={h.fromDeposit ? 'true' : undefined}>
            <button type='button' className='link history-row' aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>
              <span className='row spread'>
                <span>
                  <b>{describeRow(h, nameOf)}</b>
                  <span className='muted small-text'> {new Date(h.time).toLocaleString()}</span>
                </span>
                <span className='row'>
                  {h.amount != null && h.amount !== 0 && <b className={h.amount > 0 ? 'ok' : ''} data-testid='amount'>{h.amount > 0 ? '+' : '−'}{Math.abs(h.amount)}</b>}
                  <span className={`pill ${h.status === 'confirmed' ? 'direct' : h.status === 'pending' ? 'relayed' : 'bad'}`}>{statusWord(h)}</span>
                </span>
              </span>
              {h.fromDeposit && <span className='muted small-text'>from the deposit locked for this session</span>}
            </button>
            {open === h.id && (
              <dl className='details small-text' data-testid='history-details'>
                <div><dt>Status</dt><dd>{h.stage === 'incoming' ? 'confirmed on the payer\'s side; your wallet receives it on its own' : h.status}{h.reason != null ? `: ${h.reason}` : ''}</dd></div>
                <div><dt>Confirmations</dt><dd>{h.confirmations} of {h.needed} approvals</dd></div>
                {h.counterparty != null && <div><dt>With</dt><dd><Who did={h.counterparty} /></dd></div>}
                {h.rounds != null && <div><dt>Rounds</dt><dd>{h.rounds}</dd></div>}
                <div><dt>Block</dt><dd className='mono break'>{h.blockId}</dd></div>
                <div><dt>Transaction</dt><dd className='mono'>{h.type} #{h.txId.split('/')[1]}</dd></div>
                {h.paidBy != null && h.paidBy !== h.txId && <div><dt>Paid in</dt><dd className='mono break'>{h.paidBy}</dd></div>}
              </dl>
            )}
          </li>
        ))}
      </ul>
    </section>
  )
}
