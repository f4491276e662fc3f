/**
 * The market: offers near me (filter by kind, price and reputation, ordered by distance),
 * create and withdraw an offer, post a request, and the sessions screen with live rounds for
 * both sides (progress per round, units, vouchers, credits paid and settled, stop button).
 * Hotspot guests see the Wi-Fi credentials as text and as a Wi-Fi QR code.
 */
import { useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { ErrorText } from './WalletScreen.tsx'
import { Qr } from '../components/Qr.tsx'
import { Progress } from '../components/Progress.tsx'
import { shortDid } from '../../core/identity.ts'
import type { MarketApi, OfferView, SessionView, WifiSecurity } from '../../peer/market-api.ts'

const HERE_KEY = 'alliance:geohash'

function formatUnits (n: number, unit: string): string {
  if (unit === 'bytes') return n >= 1_048_576 ? `${(n / 1_048_576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`
  return `${n} s`
}

function distance (m: number | null): string {
  if (m == null) return ''
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`
}

export function MarketScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const market = runtime.market()
  if (market == null) {
    return <div className='screen'><section className='card'><h2>Market</h2><p className='muted'>Opening the market…</p></section></div>
  }
  return (
    <div className='screen'>
      <Sessions market={market} />
      <Offers market={market} />
      <Publish market={market} />
      <Hotspot market={market} />
      <Requests market={market} />
    </div>
  )
}

function Offers ({ market }: { market: MarketApi }): React.JSX.Element {
  const [kind, setKind] = useState('')
  const [maxPrice, setMaxPrice] = useState('')
  const [minRep, setMinRep] = useState('0')
  const [here, setHere] = useState(() => localStorage.getItem(HERE_KEY) ?? '')
  const [rounds, setRounds] = useState('3')
  const [target, setTarget] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const offers = market.offers({
    kind: kind === '' ? undefined : kind,
    near: here === '' ? undefined : here,
    maxPrice: maxPrice === '' ? undefined : Number(maxPrice),
    minReputation: Number(minRep),
    sortBy: here === '' ? undefined : 'distance'
  })
  const buy = async (o: OfferView): Promise<void> => {
    setBusy(o.id); setError(null)
    try {
      await market.buy(o.id, Math.max(1, Number(rounds) || 1), o.kind === 'relay' && target !== '' ? { target: target as never } : {})
    } catch (err) { setError(err) } finally { setBusy(null) }
  }
  return (
    <section className='card'>
      <h2>Offers near me</h2>
      <div className='row'>
        <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label='offer kind'>
          <option value=''>All kinds</option><option value='hotspot'>Hotspot</option><option value='relay'>Relay</option>
        </select>
        <input className='narrow' placeholder='Max price' inputMode='numeric' value={maxPrice} onChange={(e) => setMaxPrice(e.target.value.replace(/\D/g, ''))} aria-label='max price' />
        <select value={minRep} onChange={(e) => setMinRep(e.target.value)} aria-label='minimum reputation'>
          <option value='0'>Any reputation</option><option value='0.5'>≥ 0.5</option><option value='0.66'>≥ 0.66</option>
        </select>
      </div>
      <input placeholder='Geohash, e.g. wx4g0b' value={here} onChange={(e) => { setHere(e.target.value.trim()); localStorage.setItem(HERE_KEY, e.target.value.trim()) }} aria-label='my geohash' />
      {offers.length === 0 && <p className='muted'>No offers match.</p>}
      <ul className='list' data-testid='offers'>
        {offers.map((o) => (
          <li key={o.id} data-kind={o.kind} data-offer={o.id}>
            <div className='row spread'>
              <b>{o.title}</b>
              <span className='pill'>{o.kind}</span>
            </div>
            <div className='muted small-text'>
              {o.price} credits per {formatUnits(o.round.size, o.round.unit)} · trial {formatUnits(o.trial, o.round.unit)} · {distance(o.distanceMeters)}
              {' '}· by {o.mine ? 'me' : shortDid(o.provider)} · reputation <span data-testid='reputation'>{o.reputation.toFixed(2)}</span>
            </div>
            {!o.mine && (
              <div className='row'>
                <input className='narrow' inputMode='numeric' value={rounds} onChange={(e) => setRounds(e.target.value.replace(/\D/g, ''))} aria-label='rounds to buy' />
                <span className='muted small-text'>rounds</span>
                {o.kind === 'relay' && <input placeholder='Reach DID' value={target} onChange={(e) => setTarget(e.target.value.trim())} aria-label='relay target' />}
                <button type='button' disabled={busy != null} onClick={() => { void buy(o) }}>{busy === o.id ? 'Starting…' : 'Buy'}</button>
              </div>
            )}
            {o.mine && <button type='button' className='small' onClick={() => { market.withdraw(o.id).catch(setError) }}>Withdraw</button>}
          </li>
        ))}
      </ul>
      <ErrorText error={error} />
    </section>
  )
}

function Publish ({ market }: { market: MarketApi }): React.JSX.Element {
  const [kind, setKind] = useState<'hotspot' | 'relay'>('hotspot')
  const [title, setTitle] = useState('')
  const [price, setPrice] = useState('5')
  const [size, setSize] = useState('60')
  const [trial, setTrial] = useState('10')
  const [geohash, setGeohash] = useState(() => localStorage.getItem(HERE_KEY) ?? '')
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault()
    setError(null); setDone(null)
    try {
      const id = await market.publish({
        kind, title: title.trim() === '' ? (kind === 'hotspot' ? 'Wi-Fi hotspot' : 'Relay') : title.trim(),
        price: Number(price), round: { size: Number(size) }, trial: Number(trial),
        ...(geohash !== '' ? { geohash } : {})
      })
      setDone(`Published offer ${id.slice(-8)}.`)
    } catch (err) { setError(err) }
  }
  const unit = kind === 'hotspot' ? 'seconds' : 'bytes'
  return (
    <section className='card'>
      <h2>Offer a service</h2>
      <form className='stack' onSubmit={(e) => { void submit(e) }}>
        <select value={kind} onChange={(e) => { const k = e.target.value as 'hotspot' | 'relay'; setKind(k); setSize(k === 'hotspot' ? '60' : '1048576'); setTrial(k === 'hotspot' ? '10' : '131072') }} aria-label='new offer kind'>
          <option value='hotspot'>Wi-Fi hotspot (paid per time)</option><option value='relay'>Relay (paid per byte)</option>
        </select>
        <input placeholder='Title' value={title} onChange={(e) => setTitle(e.target.value)} aria-label='offer title' />
        <label className='row'>Price <input className='narrow' inputMode='numeric' value={price} onChange={(e) => setPrice(e.target.value)} aria-label='offer price' /> credits per round of <input className='narrow' inputMode='numeric' value={size} onChange={(e) => setSize(e.target.value)} aria-label='round size' /> {unit}</label>
        <label className='row'>Trial <input className='narrow' inputMode='numeric' value={trial} onChange={(e) => setTrial(e.target.value)} aria-label='trial size' /> {unit} per round</label>
        {kind === 'hotspot' && <input placeholder='Location (geohash)' value={geohash} onChange={(e) => setGeohash(e.target.value.trim())} aria-label='offer geohash' />}
        <button>Publish</button>
      </form>
      {done != null && <p className='ok' role='status'>{done}</p>}
      <ErrorText error={error} />
    </section>
  )
}

function Hotspot ({ market }: { market: MarketApi }): React.JSX.Element {
  const [ssid, setSsid] = useState('')
  const [security, setSecurity] = useState<WifiSecurity>('WPA')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState(false)
  return (
    <section className='card'>
      <h2>My hotspot</h2>
      <p className='muted small-text'>Entered once, kept encrypted like your keys, and sent encrypted to each guest's DID when a session starts.</p>
      <form className='stack' onSubmit={(e) => {
        e.preventDefault(); setError(null); setDone(false)
        market.setHotspotSecret({ ssid, security, password }).then(() => { setDone(true); setPassword('') }).catch(setError)
      }}>
        <input placeholder='Network name (SSID)' value={ssid} onChange={(e) => setSsid(e.target.value)} aria-label='hotspot ssid' />
        <select value={security} onChange={(e) => setSecurity(e.target.value as WifiSecurity)} aria-label='hotspot security'>
          <option value='WPA'>WPA/WPA2/WPA3</option><option value='WEP'>WEP</option><option value='nopass'>Open</option>
        </select>
        {security !== 'nopass' && <input type='password' placeholder='Password' value={password} onChange={(e) => setPassword(e.target.value)} aria-label='hotspot password' />}
        <button disabled={ssid === ''}>Save</button>
      </form>
      {done && <p className='ok' role='status'>Saved.</p>}
      <ErrorText error={error} />
    </section>
  )
}

function Requests ({ market }: { market: MarketApi }): React.JSX.Element {
  const [target, setTarget] = useState('')
  const [max, setMax] = useState('20')
  const [error, setError] = useState<unknown>(null)
  const requests = market.requests()
  return (
    <section className='card'>
      <h2>Requests</h2>
      <ul className='list'>
        {requests.map((r) => (
          <li key={r.id} className='row spread'>
            <span>{r.kind} to {r.target.startsWith('did:') ? shortDid(r.target) : r.target}, up to {r.maxCredits} credits</span>
            {r.mine && <button type='button' className='small' onClick={() => { market.withdrawRequest(r.id).catch(setError) }}>Withdraw</button>}
          </li>
        ))}
      </ul>
      <form className='stack' onSubmit={(e) => {
        e.preventDefault(); setError(null)
        market.postRequest({ kind: 'relay', target: target.trim(), maxCredits: Number(max) }).then(() => setTarget('')).catch(setError)
      }}>
        <input placeholder='Relay to (DID)' value={target} onChange={(e) => setTarget(e.target.value)} aria-label='request target' />
        <label className='row'>Up to <input className='narrow' inputMode='numeric' value={max} onChange={(e) => setMax(e.target.value)} aria-label='request budget' /> credits</label>
        <button disabled={target.trim() === ''}>Post a request</button>
      </form>
      <ErrorText error={error} />
    </section>
  )
}

function Sessions ({ market }: { market: MarketApi }): React.JSX.Element | null {
  const sessions = market.sessions()
  if (sessions.length === 0) return null
  return (
    <section className='card'>
      <h2>Sessions</h2>
      <ul className='list' data-testid='sessions'>
        {sessions.slice(0, 10).map((s) => <SessionRow key={s.id} market={market} s={s} />)}
      </ul>
      <p className='muted small-text'>A browser cannot join a Wi-Fi network by itself: scan the QR code with your phone's camera, or type the password.</p>
    </section>
  )
}

function SessionRow ({ market, s }: { market: MarketApi, s: SessionView }): React.JSX.Element {
  const [error, setError] = useState<unknown>(null)
  const handle = market.session(s.id)
  const creds = handle?.credentials ?? null
  const roundFraction = s.roundSize > 0 ? Math.min(1, s.roundUnits / s.roundSize) : 0
  return (
    <li data-session={s.id} data-state={s.state} data-role={s.role}>
      <div className='row spread'>
        <b>{s.role === 'provider' ? `Guest ${shortDid(s.payer)}` : s.title}</b>
        <span className={`pill ${s.state === 'active' ? 'direct' : s.state === 'ended' ? '' : 'relayed'}`}>{s.state}{s.endReason != null ? ` (${s.endReason})` : ''}</span>
      </div>
      <div className='muted small-text'>
        {s.kind} · round {s.round}{s.maxRounds != null ? ` of ${s.maxRounds}` : ''} · {formatUnits(s.unitsUsed, s.unit)} · {s.vouchers} vouchers · paid {s.paid} · settled {s.settled}
        {s.remainingMs != null && s.state === 'active' ? ` · ${Math.ceil(s.remainingMs / 1000)} s left` : ''}
      </div>
      {s.state === 'active' && <Progress label='round progress' value={roundFraction} />}
      {creds != null && (
        <div className='stack' data-testid='wifi'>
          <span>Network <b data-testid='wifi-ssid'>{creds.ssid}</b> · {creds.security} · password <span className='mono' data-testid='wifi-password'>{creds.password}</span></span>
          <div className='center'><Qr text={creds.wifiQr} label='Wi-Fi QR code' size={160} /></div>
        </div>
      )}
      {s.state !== 'ended' && <button type='button' className='small' onClick={() => { market.stopSession(s.id).catch(setError) }}>Stop</button>}
      <ErrorText error={error} />
    </li>
  )
}
