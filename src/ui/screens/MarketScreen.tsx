/**
 * The market, in four parts so a phone user is never lost in one long page:
 * - Find: hotspots and relays near me (position from the Geolocation API with permission, or
 *   typed), radius, distance and bearing, a small picture of offers around me (no map tiles,
 *   works offline), freshness, reputation and my past sessions with the provider; Buy behind a
 *   confirmation with the total (rounds × price) and the per-round cap.
 * - Sessions: live rounds for both sides; hotspot guests see the Wi-Fi credentials as text and
 *   QR code only while the session runs; rate the other side afterwards.
 * - My hotspot (before offering): the Wi-Fi, earnings per session reconciled with vouchers,
 *   block a DID, a prompt to change the password after guests leave.
 * - My offers: publish (behind a confirmation: cost, expiry, guests at once), withdraw, stop
 *   sharing, requests.
 */
import { useEffect, useRef, useState } from 'react'
import { useRuntime } from '../runtime-context.ts'
import { useContacts } from '../ux-context.ts'
import { ErrorText } from '../components/ErrorText.tsx'
import { Qr } from '../components/Qr.tsx'
import { Progress } from '../components/Progress.tsx'
import { ConfirmDialog } from '../components/Confirm.tsx'
import { SaveContact } from '../components/SaveContact.tsx'
import { Who, useNameOf } from '../components/Who.tsx'
import { encodeGeohash } from '../../core/market/geohash.ts'
import { isDid } from '../../core/identity.ts'
import { buyTerms, publishTerms, whereIs, compass, formatDistance, formatAge, parsePosition } from '../../peer/terms.ts'
import type { MarketApi, OfferView, SessionView, WifiSecurity } from '../../peer/market-api.ts'

const HERE_KEY = 'alliance:position'
const BLOCKED_KEY = 'alliance:blocked'
const PASSWORD_SAVED_KEY = 'alliance:wifi-saved-at'
type Part = 'find' | 'sessions' | 'hotspot' | 'offers'
const PARTS: Array<[Part, string]> = [['find', 'Find'], ['sessions', 'Sessions'], ['hotspot', 'My hotspot'], ['offers', 'My offers']]

function formatUnits (n: number, unit: string): string {
  if (unit === 'bytes') return n >= 1_048_576 ? `${(n / 1_048_576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`
  return n >= 120 ? `${Math.round(n / 60)} min` : `${n} s`
}

function stars (score: number): string {
  const n = Math.max(0, Math.min(5, Math.round(score * 5)))
  return `${'★'.repeat(n)}${'☆'.repeat(5 - n)}`
}

function key (profile: string, k: string): string { return `${k}:${profile}` }

export function MarketScreen (): React.JSX.Element {
  const runtime = useRuntime()
  const market = runtime.market()
  const [part, setPart] = useState<Part>('find')
  const live = market?.sessions().filter((s) => s.state !== 'ended' && s.role === 'payer').length ?? 0
  const seen = useRef(live)
  // A session I just bought opens where it can be watched (and its Wi-Fi read).
  useEffect(() => { if (live > seen.current) setPart('sessions'); seen.current = live }, [live])
  useBlockList(market, runtime.profile)
  if (market == null) {
    return <div className='screen'><section className='card'><h2>Market</h2><p className='muted'>Opening the market… it opens after the ledger.</p></section></div>
  }
  const count = market.sessions().filter((s) => s.state !== 'ended').length
  return (
    <div className='screen'>
      <div className='subtabs' role='tablist' aria-label='Market parts'>
        {PARTS.map(([id, label]) => (
          <button key={id} type='button' role='tab' id={`tab-${id}`} aria-selected={part === id} aria-controls={`part-${id}`} onClick={() => setPart(id)}>
            {label}{id === 'sessions' && count > 0 ? ` (${count})` : ''}
          </button>
        ))}
      </div>
      <div role='tabpanel' id={`part-${part}`} aria-labelledby={`tab-${part}`} className='screen'>
        {part === 'find' && <Find market={market} />}
        {part === 'sessions' && <Sessions market={market} />}
        {part === 'hotspot' && <><Hotspot market={market} /><Earnings market={market} /><BlockList /></>}
        {part === 'offers' && <><MyOffers market={market} goHotspot={() => setPart('hotspot')} /><Requests market={market} /></>}
      </div>
    </div>
  )
}

// ---- block list (owner control) ----

function readBlocked (profile: string): string[] {
  try { const v = JSON.parse(localStorage.getItem(key(profile, BLOCKED_KEY)) ?? '[]') as unknown; return Array.isArray(v) ? v.filter(isDid) : [] } catch { return [] }
}

function useBlockList (market: MarketApi | null, profile: string): void {
  useEffect(() => { market?.setBlockedPayers(readBlocked(profile)) }, [market, profile])
}

function BlockList (): React.JSX.Element {
  const runtime = useRuntime()
  const market = runtime.market()
  const nameOf = useNameOf()
  const [list, setList] = useState(() => readBlocked(runtime.profile))
  const [adding, setAdding] = useState('')
  const save = (next: string[]): void => {
    setList(next)
    localStorage.setItem(key(runtime.profile, BLOCKED_KEY), JSON.stringify(next))
    market?.setBlockedPayers(next)
  }
  return (
    <section className='card'>
      <h2>Blocked guests</h2>
      <p className='muted small-text'>A blocked DID cannot start new sessions on your offers.</p>
      <ul className='list' data-testid='blocked'>
        {list.map((d) => <li key={d} className='row spread'><Who did={d} /><button type='button' className='small' onClick={() => save(list.filter((x) => x !== d))} aria-label={`Unblock ${nameOf(d)}`}>Unblock</button></li>)}
      </ul>
      <form className='row' onSubmit={(e) => { e.preventDefault(); if (isDid(adding.trim()) && !list.includes(adding.trim())) save([...list, adding.trim()]); setAdding('') }}>
        <input value={adding} onChange={(e) => setAdding(e.target.value)} placeholder='DID to block' aria-label='DID to block' style={{ flex: 1 }} />
        <button disabled={!isDid(adding.trim())}>Block</button>
      </form>
    </section>
  )
}

// ---- find ----

interface Position { lat: number, lon: number, source: 'gps' | 'typed' }

function readPosition (profile: string): Position | null {
  try { const v = JSON.parse(localStorage.getItem(key(profile, HERE_KEY)) ?? 'null') as Position | null; return v != null && typeof v.lat === 'number' && typeof v.lon === 'number' ? v : null } catch { return null }
}

function Find ({ market }: { market: MarketApi }): React.JSX.Element {
  const runtime = useRuntime()
  const ledger = runtime.ledger()
  const nameOf = useNameOf()
  const [kind, setKind] = useState('')
  const [maxPrice, setMaxPrice] = useState('')
  const [radius, setRadius] = useState('5000')
  const [here, setHere] = useState<Position | null>(() => readPosition(runtime.profile))
  const [typed, setTyped] = useState('')
  const [locNote, setLocNote] = useState<string | null>(null)
  const [rounds, setRounds] = useState('3')
  const [target, setTarget] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const [confirm, setConfirm] = useState<OfferView | null>(null)

  const place = (p: Position): void => { setHere(p); localStorage.setItem(key(runtime.profile, HERE_KEY), JSON.stringify(p)) }
  const locate = (): void => {
    if (navigator.geolocation == null) { setLocNote('This browser cannot tell your location: type it below.'); return }
    setLocNote('Asking for your location…')
    navigator.geolocation.getCurrentPosition(
      (pos) => { place({ lat: pos.coords.latitude, lon: pos.coords.longitude, source: 'gps' }); setLocNote(null) },
      (err) => { setLocNote(err.code === err.PERMISSION_DENIED ? 'Location permission was refused: type your position below (or allow it in the browser settings).' : 'Your location is not available right now: type it below.') },
      { enableHighAccuracy: false, timeout: 15_000, maximumAge: 60_000 }
    )
  }

  const nearHash = here != null ? encodeGeohash(here.lat, here.lon, 9) : undefined
  const maxM = radius === '' ? Infinity : Number(radius)
  const all = market.offers({ kind: kind === '' ? undefined : kind, near: nearHash, maxPrice: maxPrice === '' ? undefined : Number(maxPrice), sortBy: nearHash != null ? 'distance' : undefined })
  const offers = all
    .map((o) => ({ o, where: whereIs(here, o.geohash) }))
    .filter(({ o, where }) => o.kind !== 'hotspot' || here == null || (where != null && where.distanceMeters <= maxM))
  const past = market.sessions()
  const now = Date.now()
  const balance = ledger?.balance() ?? 0

  const buy = async (o: OfferView): Promise<void> => {
    setConfirm(null); setBusy(o.id); setError(null)
    try {
      await market.buy(o.id, Math.max(1, Number(rounds) || 1), o.kind === 'relay' && isDid(target) ? { target } : {})
    } catch (err) { setError(err) } finally { setBusy(null) }
  }
  const n = Math.max(1, Number(rounds) || 1)

  return (
    <>
      <section className='card'>
        <h2>Where am I</h2>
        <div className='row'>
          <button type='button' onClick={locate}>Use my location</button>
          <span className='muted small-text' data-testid='position'>{here != null ? `${here.lat.toFixed(4)}, ${here.lon.toFixed(4)}${here.source === 'gps' ? ' (from this device)' : ' (typed)'}` : 'No position yet'}</span>
        </div>
        {locNote != null && <p className='muted small-text' role='status'>{locNote}</p>}
        <form className='row' onSubmit={(e) => { e.preventDefault(); const p = parsePosition(typed); if (p != null) { place({ ...p, source: 'typed' }); setLocNote(null) } else setLocNote('Type "latitude, longitude" (e.g. 39.9, 116.4) or a geohash.') }}>
          <input value={typed} onChange={(e) => setTyped(e.target.value)} placeholder='lat, lon or geohash' aria-label='my position' style={{ flex: 1 }} />
          <button className='secondary'>Set</button>
        </form>
        <p className='muted small-text'>Your position stays on this device; it is only compared with the offers' published places.</p>
      </section>
      <section className='card'>
        <h2>Offers near me</h2>
        <div className='row'>
          <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label='offer kind'>
            <option value=''>All kinds</option><option value='hotspot'>Hotspot</option><option value='relay'>Relay</option>
          </select>
          <select value={radius} onChange={(e) => setRadius(e.target.value)} aria-label='radius'>
            <option value='500'>within 500 m</option><option value='1000'>within 1 km</option><option value='5000'>within 5 km</option><option value='25000'>within 25 km</option><option value=''>any distance</option>
          </select>
          <input className='narrow' placeholder='Max price' inputMode='numeric' value={maxPrice} onChange={(e) => setMaxPrice(e.target.value.replace(/\D/g, ''))} aria-label='max price' />
        </div>
        {here != null && <Radar here={here} radius={Number.isFinite(maxM) ? maxM : 25_000} offers={offers.filter((x) => x.where != null).map((x) => ({ id: x.o.id, title: x.o.title, where: x.where! }))} />}
        {here == null && <p className='muted small-text'>Set your position to see hotspots by distance.</p>}
        {offers.length === 0 && <p className='muted'>No offers match{here != null && Number.isFinite(maxM) ? ' within this radius' : ''}.</p>}
        <ul className='list' data-testid='offers'>
          {offers.map(({ o, where }) => {
            const mineWith = past.filter((s) => s.provider === o.provider && s.role === 'payer' && s.state === 'ended')
            return (
              <li key={o.id} data-kind={o.kind} data-offer={o.id}>
                <div className='row spread'>
                  <b>{o.title}</b>
                  <span className='pill'>{o.kind}</span>
                </div>
                <div className='small-text'>by <Who did={o.provider} /></div>
                <div className='muted small-text'>
                  {o.price} credits per {formatUnits(o.round.size, o.round.unit)} · free trial {formatUnits(o.trial, o.round.unit)} each round
                  {where != null && <> · <span data-testid='distance'>{formatDistance(where.distanceMeters)}</span> {compass(where.bearing)}</>}
                  {' '}· published {formatAge(now - o.publishedAt)}
                </div>
                <div className='muted small-text'>
                  <span aria-label={`reputation ${o.reputation.toFixed(2)} of 1`}>{stars(o.reputation)}</span> <span data-testid='reputation'>{o.reputation.toFixed(2)}</span>
                  {mineWith.length > 0 && ` · you had ${mineWith.length} session${mineWith.length === 1 ? '' : 's'} with them`}
                  {o.capacity > 1 && ` · up to ${o.capacity} guests`}
                </div>
                {!o.mine && (
                  <div className='row'>
                    <label className='row small-text'>Rounds <input className='narrow' inputMode='numeric' value={rounds} onChange={(e) => setRounds(e.target.value.replace(/\D/g, ''))} aria-label='rounds to buy' /></label>
                    {o.kind === 'relay' && <input placeholder='Reach (DID)' value={target} onChange={(e) => setTarget(e.target.value.trim())} aria-label='relay target' />}
                    <button type='button' disabled={busy != null} onClick={() => setConfirm(o)} aria-label={`Buy ${o.title} from ${nameOf(o.provider)}`}>{busy === o.id ? 'Starting…' : 'Buy'}</button>
                  </div>
                )}
              </li>
            )
          })}
        </ul>
        <ErrorText error={error} />
      </section>
      {confirm != null && (() => {
        // sessions are paid from a deposit of rounds × price locked now (V11); the rest comes back
        const t = buyTerms(confirm, n, balance, n * confirm.price)
        return (
          <ConfirmDialog
            title={`Buy ${confirm.title}?`}
            facts={[
              ['From', <Who key='p' did={confirm.provider} />],
              ['Rounds', `${t.rounds} × ${formatUnits(confirm.round.size, confirm.round.unit)}`],
              ['Price per round (cap)', `${t.perRoundCap} credits`],
              ['Total at most', `${t.total} credits`],
              ['Locked now', t.deposit != null ? `${t.deposit} credits` : 'nothing'],
              ['Balance after', `${t.balanceAfter} credits`]
            ]}
            note={<>{t.returns} The service starts at once with a free trial of {formatUnits(confirm.trial, confirm.round.unit)}; you can stop after any round.{!t.affordable ? ' You do not hold enough credits for all rounds.' : ''}</>}
            confirmLabel={`Buy for up to ${t.total} credits`}
            disabled={!t.affordable}
            onConfirm={() => { void buy(confirm) }}
            onCancel={() => setConfirm(null)}
          />
        )
      })()}
    </>
  )
}

/** Offers around me: me in the middle, north up, rings at half and full radius; no tiles. */
function Radar ({ here, radius, offers }: { here: Position, radius: number, offers: Array<{ id: string, title: string, where: { distanceMeters: number, bearing: number } }> }): React.JSX.Element {
  const S = 220; const c = S / 2; const R = c - 14
  const within = offers.filter((o) => o.where.distanceMeters <= radius)
  return (
    <svg className='graph' viewBox={`0 0 ${S} ${S}`} role='img' data-testid='radar' style={{ maxWidth: 260, margin: '0 auto', display: 'block' }}
      aria-label={`Map around ${here.lat.toFixed(3)}, ${here.lon.toFixed(3)}: ${within.length} offer${within.length === 1 ? '' : 's'} within ${formatDistance(radius)}`}>
      <circle cx={c} cy={c} r={R} fill='none' stroke='#b8c7c3' />
      <circle cx={c} cy={c} r={R / 2} fill='none' stroke='#dde5e3' />
      <text x={c} y={11} fontSize='10' textAnchor='middle' fill='#12232a'>N</text>
      <text x={S - 4} y={S - 4} fontSize='9' textAnchor='end' fill='#12232a'>{formatDistance(radius)}</text>
      {within.map((o) => {
        const d = (o.where.distanceMeters / radius) * R
        const a = (o.where.bearing * Math.PI) / 180
        return <circle key={o.id} cx={c + d * Math.sin(a)} cy={c - d * Math.cos(a)} r={6} fill='#14735a'><title>{`${o.title}: ${formatDistance(o.where.distanceMeters)} ${compass(o.where.bearing)}`}</title></circle>
      })}
      <circle cx={c} cy={c} r={5} fill='#0f3d3e' />
    </svg>
  )
}

// ---- sessions ----

function Sessions ({ market }: { market: MarketApi }): React.JSX.Element {
  const sessions = market.sessions()
  return (
    <section className='card'>
      <h2>Sessions</h2>
      {sessions.length === 0 && <p className='muted'>No sessions yet. Buy an offer under Find; guests of your offers appear here too.</p>}
      <ul className='list' data-testid='sessions'>
        {sessions.slice(0, 12).map((s) => <SessionRow key={s.id} market={market} s={s} />)}
      </ul>
      <p className='muted small-text'>A browser cannot join a Wi-Fi network by itself: scan the QR code with your phone's camera, or type the password.</p>
    </section>
  )
}

function SessionRow ({ market, s }: { market: MarketApi, s: SessionView }): React.JSX.Element {
  const book = useContacts()
  const [error, setError] = useState<unknown>(null)
  const [naming, setNaming] = useState(false)
  const [rated, setRated] = useState<number | null>(null)
  const handle = market.session(s.id)
  const other = s.role === 'provider' ? s.payer : s.provider
  // The password is shown only while the session runs (issue 11: hide it when it ends).
  const creds = s.state !== 'ended' ? handle?.credentials ?? null : null
  const roundFraction = s.roundSize > 0 ? Math.min(1, s.roundUnits / s.roundSize) : 0
  return (
    <li data-session={s.id} data-state={s.state} data-role={s.role}>
      <div className='row spread'>
        <b>{s.title}</b>
        <span className={`pill ${s.state === 'active' ? 'direct' : s.state === 'ended' ? '' : 'relayed'}`}>{s.state}{s.endReason != null ? ` (${s.endReason})` : ''}</span>
      </div>
      <div className='small-text'>{s.role === 'provider' ? 'Guest' : 'Provider'} <Who did={other} /></div>
      <div className='muted small-text'>
        round {s.round}{s.maxRounds != null ? ` of ${s.maxRounds}` : ''} · {formatUnits(s.unitsUsed, s.unit)} · {s.vouchers} vouchers · {s.role === 'provider' ? 'earned' : 'paid'} <span data-testid='session-paid'>{s.paid}</span> · settled {s.settled}
        {s.remainingMs != null && s.state === 'active' ? ` · ${Math.ceil(s.remainingMs / 1000)} s left` : ''}
      </div>
      {s.state === 'active' && <Progress label='round progress' value={roundFraction} />}
      {creds != null && (
        <div className='stack' data-testid='wifi'>
          <span>Network <b data-testid='wifi-ssid'>{creds.ssid}</b> · {creds.security} · password <span className='mono' data-testid='wifi-password'>{creds.password}</span></span>
          <div className='center'><Qr text={creds.wifiQr} label='Wi-Fi QR code' size={160} /></div>
        </div>
      )}
      {s.state === 'ended' && s.kind === 'hotspot' && s.role === 'payer' && <p className='muted small-text' data-testid='wifi-hidden'>The session ended: the Wi-Fi password is hidden.</p>}
      <div className='row'>
        {s.state !== 'ended' && <button type='button' className='small' onClick={() => { market.stopSession(s.id).catch(setError) }}>Stop</button>}
        {s.state === 'ended' && s.settled > 0 && rated == null && [1, 2, 3, 4, 5].map((n) => (
          <button key={n} type='button' className='small' aria-label={`Rate ${n} of 5`} onClick={() => { market.rate(s.id, n).then(() => setRated(n)).catch(setError) }}>{n}★</button>
        ))}
        {rated != null && <span className='ok small-text' role='status'>Rated {rated}★</span>}
        {book.get(other) == null && <button type='button' className='small' onClick={() => setNaming(!naming)}>Save {s.role === 'provider' ? 'guest' : 'provider'}</button>}
      </div>
      {naming && <SaveContact did={other} source='session' onDone={() => setNaming(false)} />}
      <ErrorText error={error} />
    </li>
  )
}

// ---- my hotspot ----

function Hotspot ({ market }: { market: MarketApi }): React.JSX.Element {
  const runtime = useRuntime()
  const [ssid, setSsid] = useState('')
  const [security, setSecurity] = useState<WifiSecurity>('WPA')
  const [password, setPassword] = useState('')
  const [saved, setSaved] = useState<{ ssid: string, security: WifiSecurity } | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState(false)
  useEffect(() => { market.hotspotNetwork().then(setSaved).catch(setError) }, [market, done])
  const provided = market.sessions().filter((s) => s.role === 'provider' && s.kind === 'hotspot')
  const activeGuests = provided.filter((s) => s.state !== 'ended').length
  const lastLeft = Math.max(0, ...provided.filter((s) => s.state === 'ended').map((s) => s.endedAt ?? 0))
  const savedAt = Number(localStorage.getItem(key(runtime.profile, PASSWORD_SAVED_KEY)) ?? '0')
  return (
    <section className='card'>
      <h2>My hotspot</h2>
      {saved != null
        ? <p className='small-text' data-testid='hotspot-saved'>Sharing <b>{saved.ssid}</b> ({saved.security}). {activeGuests > 0 ? `${activeGuests} guest${activeGuests === 1 ? '' : 's'} connected now.` : 'No guests now.'}</p>
        : <p className='muted small-text'>Save your Wi-Fi here before you offer it.</p>}
      {activeGuests === 0 && lastLeft > savedAt && (
        <p className='warn-text small-text' role='status' data-testid='change-password'>Your guests have left. They know the password: change it on your router, then save the new one here.</p>
      )}
      <p className='muted small-text'>Entered once, kept encrypted like your keys, and sent encrypted to each guest's DID when a session starts.</p>
      <form className='stack' onSubmit={(e) => {
        e.preventDefault(); setError(null); setDone(false)
        market.setHotspotSecret({ ssid, security, password }).then(() => {
          setDone(true); setPassword('')
          localStorage.setItem(key(runtime.profile, PASSWORD_SAVED_KEY), String(Date.now()))
        }).catch(setError)
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

/** Earnings per session, reconciled: what the newest voucher promises against what settled. */
function Earnings ({ market }: { market: MarketApi }): React.JSX.Element {
  const served = market.sessions().filter((s) => s.role === 'provider')
  const promised = served.reduce((a, s) => a + s.paid, 0)
  const settled = served.reduce((a, s) => a + s.settled, 0)
  return (
    <section className='card'>
      <h2>Earnings</h2>
      <p className='small-text' data-testid='earnings-total'>Vouchers promise {promised} credits; {settled} settled on the ledger{promised > settled ? `, ${promised - settled} still to settle` : ''}.</p>
      <table className='earnings small-text'>
        <thead><tr><th scope='col'>Guest</th><th scope='col'>Rounds</th><th scope='col'>Vouchers</th><th scope='col'>Settled</th></tr></thead>
        <tbody>
          {served.map((s) => (
            <tr key={s.id} data-session={s.id}>
              <td><Who did={s.payer} fingerprint={false} /></td>
              <td>{s.round}</td>
              <td>{s.paid}</td>
              <td className={s.settled === s.paid ? 'ok' : ''}>{s.settled}{s.settled === s.paid ? ' ✓' : ''}{s.unpaid > 0 ? ` (${s.unpaid} unpaid)` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {served.length === 0 && <p className='muted small-text'>No guests yet.</p>}
    </section>
  )
}

// ---- my offers ----

function MyOffers ({ market, goHotspot }: { market: MarketApi, goHotspot: () => void }): React.JSX.Element {
  const runtime = useRuntime()
  const [kind, setKind] = useState<'hotspot' | 'relay'>('hotspot')
  const [title, setTitle] = useState('')
  const [price, setPrice] = useState('5')
  const [size, setSize] = useState('60')
  const [trial, setTrial] = useState('10')
  const [capacity, setCapacity] = useState('1')
  const [geohash, setGeohash] = useState(() => { const p = readPosition(runtime.profile); return p != null ? encodeGeohash(p.lat, p.lon, 8) : '' })
  const [hasWifi, setHasWifi] = useState<boolean | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const [confirming, setConfirming] = useState(false)
  useEffect(() => { market.hotspotNetwork().then((n) => setHasWifi(n != null)).catch(() => setHasWifi(false)) }, [market])
  const mine = market.offers({ includeOwn: true }).filter((o) => o.mine)
  const unit = kind === 'hotspot' ? 'seconds' : 'bytes'
  const terms = publishTerms(Date.now())
  const finalTitle = title.trim() === '' ? (kind === 'hotspot' ? 'Wi-Fi hotspot' : 'Relay') : title.trim()
  // disabled until the Wi-Fi check answered too: a quick tap must not publish a hotspot with no network saved (U9)
  const blocked = kind === 'hotspot' && hasWifi !== true

  const publish = async (): Promise<void> => {
    setConfirming(false); setError(null); setDone(null)
    try {
      await market.publish({
        kind, title: finalTitle, price: Number(price), round: { size: Number(size) }, trial: Number(trial), capacity: Math.max(1, Number(capacity) || 1),
        expiresAt: terms.expiresAt, ...(geohash !== '' && kind === 'hotspot' ? { geohash } : {})
      })
      setDone(`Published “${finalTitle}”. Others find it once its block confirms.`)
    } catch (err) { setError(err) }
  }
  const stopSharing = async (): Promise<void> => {
    setError(null)
    try {
      for (const o of mine) await market.withdraw(o.id)
      for (const s of market.sessions().filter((x) => x.role === 'provider' && x.state !== 'ended')) await market.stopSession(s.id)
      setDone('Sharing stopped: offers withdrawn and sessions ended.')
    } catch (err) { setError(err) }
  }

  return (
    <>
      <section className='card'>
        <h2>My offers</h2>
        {mine.length === 0 && <p className='muted'>You offer nothing now.</p>}
        <ul className='list' data-testid='my-offers'>
          {mine.map((o) => (
            <li key={o.id} className='row spread' data-offer={o.id}>
              <span><b>{o.title}</b> <span className='muted small-text'>{o.price} credits / {formatUnits(o.round.size, o.round.unit)} · {o.activeSessions} of {o.capacity} guests · until {new Date(o.expiresAt).toLocaleDateString()}</span></span>
              <button type='button' className='small' onClick={() => { market.withdraw(o.id).catch(setError) }}>Withdraw</button>
            </li>
          ))}
        </ul>
        {mine.length > 0 && <button type='button' className='danger' onClick={() => { void stopSharing() }}>Stop sharing</button>}
      </section>
      <section className='card'>
        <h2>Offer a service</h2>
        <form className='stack' onSubmit={(e) => { e.preventDefault(); setConfirming(true) }}>
          <select value={kind} onChange={(e) => { const k = e.target.value as 'hotspot' | 'relay'; setKind(k); setSize(k === 'hotspot' ? '60' : '1048576'); setTrial(k === 'hotspot' ? '10' : '131072') }} aria-label='new offer kind'>
            <option value='hotspot'>Wi-Fi hotspot (paid per time)</option><option value='relay'>Relay (paid per byte)</option>
          </select>
          {blocked && <p className='warn-text small-text'>Save your Wi-Fi first: <button type='button' className='link' onClick={goHotspot}>My hotspot</button>.</p>}
          <input placeholder='Title' value={title} onChange={(e) => setTitle(e.target.value)} aria-label='offer title' />
          <label className='row small-text'>Price <input className='narrow' inputMode='numeric' value={price} onChange={(e) => setPrice(e.target.value)} aria-label='offer price' /> credits per round</label>
          <label className='row small-text'>Round of <input className='narrow' inputMode='numeric' value={size} onChange={(e) => setSize(e.target.value)} aria-label='round size' /> {unit}</label>
          <label className='row small-text'>Free trial <input className='narrow' inputMode='numeric' value={trial} onChange={(e) => setTrial(e.target.value)} aria-label='trial size' /> {unit} per round</label>
          <label className='row small-text'>Guests at once <input className='narrow' inputMode='numeric' value={capacity} onChange={(e) => setCapacity(e.target.value.replace(/\D/g, ''))} aria-label='guests at once' /></label>
          {kind === 'hotspot' && <input placeholder='Place (geohash)' value={geohash} onChange={(e) => setGeohash(e.target.value.trim())} aria-label='offer geohash' />}
          <button disabled={blocked}>Publish…</button>
        </form>
        {done != null && <p className='ok' role='status'>{done}</p>}
        <ErrorText error={error} />
      </section>
      {confirming && (
        <ConfirmDialog
          title='Publish this offer?'
          facts={[
            ['Offer', finalTitle],
            ['Price', `${price} credits per ${formatUnits(Number(size), unit)}`],
            ['Guests at once', capacity],
            ['Costs you', `${terms.cost} credits (a block's proof of work)`],
            ['Expires', `${new Date(terms.expiresAt).toLocaleDateString()} (in ${terms.days} days)`]
          ]}
          note='Anyone in the alliance can see it and buy it; you can withdraw it at any time.'
          confirmLabel='Publish'
          onConfirm={() => { void publish() }}
          onCancel={() => setConfirming(false)}
        />
      )}
    </>
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
            <span>{r.kind} to {isDid(r.target) ? <Who did={r.target} /> : r.target}, up to {r.maxCredits} credits, by <Who did={r.issuer} /></span>
            {r.mine && <button type='button' className='small' onClick={() => { market.withdrawRequest(r.id).catch(setError) }}>Withdraw</button>}
          </li>
        ))}
      </ul>
      <form className='stack' onSubmit={(e) => {
        e.preventDefault(); setError(null)
        market.postRequest({ kind: 'relay', target: target.trim(), maxCredits: Number(max) }).then(() => setTarget('')).catch(setError)
      }}>
        <input placeholder='Relay to (DID)' value={target} onChange={(e) => setTarget(e.target.value)} aria-label='request target' />
        <label className='row small-text'>Up to <input className='narrow' inputMode='numeric' value={max} onChange={(e) => setMax(e.target.value)} aria-label='request budget' /> credits</label>
        <button disabled={target.trim() === ''}>Post a request</button>
      </form>
      <ErrorText error={error} />
    </section>
  )
}
