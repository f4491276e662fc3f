/**
 * The app shell: opens the peer runtime (with a loading state), asks for the passphrase while
 * the wallet is locked, then shows the screens behind a bottom tab bar (mobile first).
 */
import { useEffect, useState } from 'react'
import { RuntimeContext, useRuntime } from './runtime-context.ts'
import type { PeerRuntime } from '../peer/runtime.ts'
import { describeError } from './errors.ts'
import { WalletScreen } from './screens/WalletScreen.tsx'
import { LedgerScreen } from './screens/LedgerScreen.tsx'
import { MarketScreen } from './screens/MarketScreen.tsx'
import { PeersScreen } from './screens/PeersScreen.tsx'
import { UnlockScreen } from './screens/UnlockScreen.tsx'
import { UpdateBanner } from './components/UpdateBanner.tsx'
import { NetworkBanner } from './components/NetworkBanner.tsx'

type Tab = 'wallet' | 'ledger' | 'market' | 'peers'
const TABS: Array<{ id: Tab, label: string, icon: string }> = [
  { id: 'wallet', label: 'Wallet', icon: '◈' },
  { id: 'ledger', label: 'Ledger', icon: '▦' },
  { id: 'market', label: 'Market', icon: '◎' },
  { id: 'peers', label: 'Peers', icon: '⬡' }
]

function initialTab (): Tab {
  const asked = new URLSearchParams(location.search).get('tab')
  return TABS.some((t) => t.id === asked) ? asked as Tab : 'wallet'
}

export function App ({ open }: { open: () => Promise<PeerRuntime> }): React.JSX.Element {
  const [runtime, setRuntime] = useState<PeerRuntime | null>(null)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    let live = true
    open().then((r) => { if (live) setRuntime(r) }).catch((err: unknown) => { if (live) setError(err) })
    return () => { live = false }
  }, [open])

  if (error != null) {
    return (
      <main className='splash' role='alert'>
        <h1>Alliance</h1>
        <p className='error'>The wallet could not be opened: {describeError(error)}</p>
        <button type='button' onClick={() => location.reload()}>Try again</button>
      </main>
    )
  }
  if (runtime == null) {
    return (
      <main className='splash' aria-busy='true'>
        <h1>Alliance</h1>
        <div className='spinner' />
        <p className='muted' data-testid='loading'>Opening your wallet…</p>
      </main>
    )
  }
  return (
    <RuntimeContext.Provider value={runtime}>
      <Shell />
    </RuntimeContext.Provider>
  )
}

function Shell (): React.JSX.Element {
  const runtime = useRuntime()
  const [tab, setTab] = useState<Tab>(initialTab)
  if (runtime.phase === 'locked') return <UnlockScreen />
  return (
    <div className='app'>
      <header className='topbar'>
        <span className='brand'>Alliance</span>
        <span className='muted small-text'>{runtime.profile}</span>
      </header>
      <UpdateBanner /><NetworkBanner />
      {runtime.error != null && (
        <div className='banner warn' role='alert'>
          {runtime.error} <button type='button' className='small' onClick={() => runtime.reportError(null)}>Dismiss</button>
        </div>
      )}
      <main className='content' data-testid='ready'>
        {tab === 'wallet' && <WalletScreen />}
        {tab === 'ledger' && <LedgerScreen />}
        {tab === 'market' && <MarketScreen />}
        {tab === 'peers' && <PeersScreen />}
      </main>
      <nav className='tabbar' aria-label='Screens'>
        {TABS.map((t) => (
          <button key={t.id} type='button' className={t.id === tab ? 'active' : ''} aria-current={t.id === tab ? 'page' : undefined} onClick={() => setTab(t.id)}>
            <span aria-hidden='true'>{t.icon}</span>{t.label}
          </button>
        ))}
      </nav>
    </div>
  )
}
