/**
 * Browser entry: picks this tab's profile and relays, builds the peer runtime outside React,
 * installs the `window.alliance` facade, registers the service worker, renders the app.
 */
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './ui/App.tsx'
import { selectProfile } from './peer/profiles.ts'
import { resolveRelays, fetchServedConfig, relayProposal } from './peer/config.ts'
import { PeerRuntime } from './peer/runtime.ts'
import { resolveAlliance } from './peer/alliance-choice.ts'
import { installFacade } from './peer/facade.ts'
import { registerServiceWorker } from './sw-register.ts'
import './ui/styles.css'

const profile = selectProfile(location.search, localStorage)
document.title = `Alliance · ${profile}`

/** `?log=1`: the peer's log lines on the console (benches and debugging read them there). */
function debugLog (): { log?: (line: string) => void } {
  return new URLSearchParams(location.search).get('log') === '1' ? { log: (line) => { console.info(line) } } : {}
}

let opening: Promise<PeerRuntime> | null = null
function openRuntime (): Promise<PeerRuntime> {
  // Opened once per page, outside React, so StrictMode's double effects cannot open two peers.
  opening ??= (async () => {
    const relays = await resolveRelays(profile, location.search, localStorage, fetchServedConfig)
    const alliance = await resolveAlliance(profile, location.search, localStorage, async () => await (await fetch('/alliance-config.json', { cache: 'no-store' })).json())
    const withInvited = alliance != null && alliance.relays.length > 0 && relays.length === 0 ? [...alliance.relays] : relays
    const runtime = await PeerRuntime.open({ profile, relays: withInvited, settings: localStorage, alliance, relayProposal: relayProposal(profile, location.search, localStorage), ...debugLog() })
    installFacade(runtime)
    window.addEventListener('pagehide', () => { void runtime.close() })
    return runtime
  })()
  return opening
}

registerServiceWorker()

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App open={openRuntime} />
  </StrictMode>
)
