/**
 * The app shell: opens the peer runtime and the address book (with a loading state), asks for
 * the passphrase while the wallet is locked, then shows the screens behind a bottom tab bar
 * (mobile first). It also says this peer's name to each direct peer once (a hello DM, shown
 * unverified on their side) and offers to save a contact opened from a link (`?contact=`).
 */
import { useEffect, useMemo, useRef, useState } from 'react'
import { RuntimeContext, useRuntime } from './runtime-context.ts'
import { ContactsContext, NavContext, useContacts, type Intent, type Tab } from './ux-context.ts'
import type { PeerRuntime } from '../peer/runtime.ts'
import { ContactsBook, openContactsBook } from '../peer/contacts-api.ts'
import { MemoryContactsStore } from '../store/contacts.ts'
import { helloText, parseContactText } from '../peer/names.ts'
import { describeError } from './errors.ts'
import { WalletScreen } from './screens/WalletScreen.tsx'
import { LedgerScreen } from './screens/LedgerScreen.tsx'
import { MarketScreen } from './screens/MarketScreen.tsx'
import { PeersScreen } from './screens/PeersScreen.tsx'
import { UnlockScreen } from './screens/UnlockScreen.tsx'
import { UpdateBanner } from './components/UpdateBanner.tsx'
import { SaveContact } from './components/SaveContact.tsx'
import { NetworkBanner } from './components/NetworkBanner.tsx'
import { RelayProposal } from './components/RelayProposal.tsx'

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
  const [book, setBook] = useState<ContactsBook | null>(null)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    let live = true
    open().then(async (r) => {
      // The address book failing (storage blocked) must not keep the wallet closed: it then
      // lives in memory for this visit, and the user is told.
      const b = await openContactsBook(r.did, r.profile).catch(async (err: unknown) => {
        r.reportError(`The address book could not be opened, names are kept only until you close this tab: ${describeError(err)}`)
        return await ContactsBook.open(r.did, new MemoryContactsStore())
      })
      if (live) { setBook(b); setRuntime(r) }
    }).catch((err: unknown) => { if (live) setError(err) })
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
  if (runtime == null || book == null) {
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
      <ContactsContext.Provider value={book}>
        <Shell />
      </ContactsContext.Provider>
    </RuntimeContext.Provider>
  )
}

/** Says my name once to each direct peer while I have one; notes the names peers say. */
function useHellos (): void {
  const runtime = useRuntime()
  const book = useContacts()
  const greeted = useRef(new Map<string, string>())
  const messages = runtime.messages()
  useEffect(() => { book.noteMessages(messages) }, [book, messages])
  const self = book.selfName
  const direct = runtime.peers().filter((p) => p.kind === 'direct').map((p) => p.did).join(',')
  useEffect(() => {
    if (self == null || direct === '') return
    for (const did of direct.split(',')) {
      if (greeted.current.get(did) === self) continue
      greeted.current.set(did, self)
      runtime.sendMessage(did, helloText(self)).catch(() => { greeted.current.delete(did) })
    }
  }, [runtime, self, direct])
}

function Shell (): React.JSX.Element {
  const runtime = useRuntime()
  const [tab, setTab] = useState<Tab>(initialTab)
  const [intent, setIntent] = useState<Intent>({})
  const [linked, setLinked] = useState(() => parseContactText(location.href))
  const nav = useMemo(() => ({
    go: (t: Tab, i: Intent = {}) => { setTab(t); setIntent(i); window.scrollTo?.(0, 0) },
    intent,
    clearIntent: () => setIntent({})
  }), [intent])
  useHellos()
  if (runtime.phase === 'locked') return <UnlockScreen />
  const label = TABS.find((t) => t.id === tab)?.label ?? 'Alliance'
  return (
    <NavContext.Provider value={nav}>
      <div className='app'>
        <header className='topbar'>
          <h1 className='brand'>{label}<span className='sr-only'> · Alliance</span></h1>
          <span className='small-text topbar-profile'>{runtime.profile}</span>
        </header>
        <UpdateBanner /><NetworkBanner /><RelayProposal />
        {runtime.error != null && (
          <div className='banner warn' role='alert'>
            {runtime.error} <button type='button' className='small' onClick={() => runtime.reportError(null)}>Dismiss</button>
          </div>
        )}
        {linked != null && linked.did !== runtime.did && (
          <section className='card banner' aria-label='contact from a link'>
            <SaveContact did={linked.did} suggested={linked.name} source='link' onDone={() => { setLinked(null); history.replaceState(null, '', location.pathname + `?peer=${encodeURIComponent(runtime.profile)}`) }} />
          </section>
        )}
        <main className='content' data-testid='ready'>
          {tab === 'wallet' && <WalletScreen />}
          {tab === 'ledger' && <LedgerScreen />}
          {tab === 'market' && <MarketScreen />}
          {tab === 'peers' && <PeersScreen />}
        </main>
        <nav className='tabbar' aria-label='Screens'>
          {TABS.map((t) => (
            <button key={t.id} type='button' className={t.id === tab ? 'active' : ''} aria-current={t.id === tab ? 'page' : undefined} onClick={() => nav.go(t.id)}>
              <span aria-hidden='true'>{t.icon}</span>{t.label}
            </button>
          ))}
        </nav>
      </div>
    </NavContext.Provider>
  )
}
