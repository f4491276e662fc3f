/**
 * Browser test harness: a real relay and the built app on localhost, and Debian's Chromium
 * driven by Playwright. Each tab of one context is a separate peer through `?peer=NAME`.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serveApp, type ServeOptions, type StaticServer } from '../../scripts/static-server.ts'
import { startRelay } from '../../src/relay/relay.ts'
import { startOperator } from '../../src/operator/operator.ts'
import type { Operator } from '../../src/operator/operator.ts'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // No mDNS responder here: let ICE use plain host candidates.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // Background tabs must keep their timers running: every tab is a live peer.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'
]

export interface Stack { app: StaticServer, browser: Browser, context: BrowserContext, close: () => Promise<void> }

export async function startApp (relays: string[] = [], config?: ServeOptions['config']): Promise<StaticServer> {
  return await serveApp({ root: 'dist', relays, config })
}

export async function launch (app: StaticServer): Promise<Stack> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 390, height: 844 } })
  return {
    app,
    browser,
    context,
    close: async () => {
      await context.close().catch(() => {})
      await browser.close().catch(() => {})
    }
  }
}

/**
 * Opens (or navigates) a tab to a profile and waits until the facade is installed. An
 * unlocked wallet without a backup makes one (SPEC U12: the ledger joins, receives and pays
 * only then) unless `backup` is false (the tests of that rule do it through the UI).
 */
export async function openPeer (context: BrowserContext, url: string, profile: string, extra = '', page?: Page, opts: { backup?: boolean } = {}): Promise<Page> {
  const p = page ?? await context.newPage()
  p.on('pageerror', (err) => { console.error(`[${profile}] page error:`, err.message) })
  await p.goto(`${url}?peer=${profile}${extra}`)
  await waitForFacade(p)
  if (opts.backup !== false) await backUp(p)
  return p
}

/** Makes the wallet's backup through the facade when it is unlocked and has none. */
export async function backUp (page: Page): Promise<void> {
  await page.evaluate(async () => {
    const a = window.alliance
    if (a != null && !a.locked && !a.backedUp) await a.backup('e2e backup passphrase')
  })
}

export async function waitForFacade (page: Page): Promise<void> {
  await page.waitForFunction(() => window.alliance?.did != null, undefined, { timeout: 60_000 })
}

export async function facadeDid (page: Page): Promise<string> {
  return await page.evaluate(() => window.alliance?.did ?? '')
}

export interface TabPeers {
  relay: Awaited<ReturnType<typeof startRelay>>
  /** The demo alliance's operator validator (as `npm start` runs it), unless `noOperator`. */
  operator: Operator | null
  stack: Stack
  tabs: Page[]
  dids: string[]
  close: () => Promise<void>
}

/** A real relay, the built app told about it, and one tab per profile name (in order). */
export async function startTabPeers (names: string[], query = '', opts: { noOperator?: boolean, relayLog?: (line: string) => void } = {}): Promise<TabPeers> {
  const keyDir = mkdtempSync(join(tmpdir(), 'alliance-relay-'))
  const relay = await startRelay({ port: 0, keyFile: join(keyDir, 'relay.key'), ...(opts.relayLog !== undefined ? { log: opts.relayLog } : {}) })
  const operator = opts.noOperator === true ? null : await startOperator({ relays: relay.multiaddrs, dataDir: keyDir })
  const stack = await launch(await startApp(relay.multiaddrs, operator == null ? undefined : (_req, relays) => ({ relays, alliance: operator.config() })))
  const tabs: Page[] = []
  const dids: string[] = []
  for (const name of names) {
    const page = await openPeer(stack.context, stack.app.url, name, query)
    tabs.push(page)
    dids.push(await facadeDid(page))
  }
  return {
    relay,
    operator,
    stack,
    tabs,
    dids,
    close: async () => {
      await stack.close()
      await stack.app.close()
      await operator?.stop()
      await relay.stop()
      rmSync(keyDir, { recursive: true, force: true })
    }
  }
}
