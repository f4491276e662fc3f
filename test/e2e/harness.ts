/**
 * Browser test harness: a real relay and the built app on localhost, and Debian's Chromium
 * driven by Playwright. Each tab of one context is a separate peer through `?peer=NAME`.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { serveApp, type StaticServer } from '../../scripts/static-server.ts'

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

export async function startApp (relays: string[] = []): Promise<StaticServer> {
  return await serveApp({ root: 'dist', relays })
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

/** Opens (or navigates) a tab to a profile and waits until the facade is installed. */
export async function openPeer (context: BrowserContext, url: string, profile: string, extra = '', page?: Page): Promise<Page> {
  const p = page ?? await context.newPage()
  p.on('pageerror', (err) => { console.error(`[${profile}] page error:`, err.message) })
  await p.goto(`${url}?peer=${profile}${extra}`)
  await waitForFacade(p)
  return p
}

export async function waitForFacade (page: Page): Promise<void> {
  await page.waitForFunction(() => window.alliance?.did != null, undefined, { timeout: 60_000 })
}

export async function facadeDid (page: Page): Promise<string> {
  return await page.evaluate(() => window.alliance?.did ?? '')
}
