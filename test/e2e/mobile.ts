/**
 * Phone-sized browser peers for the UX and accessibility tests: a real relay, the built app,
 * and one Chromium context at 360 × 740 with touch (what issue 11 measures), one tab per
 * profile. Geolocation can be granted and mocked per context (Playwright's permission).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { startRelay } from '../../src/relay/relay.ts'
import { startOperator } from '../../src/operator/operator.ts'
import { CHROMIUM, CHROMIUM_ARGS, openPeer, facadeDid, startApp } from './harness.ts'
import type { StaticServer } from '../../scripts/static-server.ts'

export const PHONE = { width: 360, height: 740 }

/** One phone: a context at 360 × 740 with touch, its own storage (`extra` adds options). */
export async function newPhoneContext (browser: Browser, extra: BrowserContextOptions = {}): Promise<BrowserContext> {
  return await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, deviceScaleFactor: 1, acceptDownloads: true, ...extra })
}

export interface MobilePeers {
  app: StaticServer
  browser: Browser
  relay: Awaited<ReturnType<typeof startRelay>> | null
  /** One context per profile, so each can have its own position. */
  contexts: BrowserContext[]
  tabs: Page[]
  dids: string[]
  close: () => Promise<void>
}

export interface MobileOptions {
  /** Start a relay (the mesh); without it each tab is alone. */
  relay?: boolean
  query?: string
  /** Per-tab positions for the Geolocation API (granted); undefined: not granted. */
  positions?: Array<{ latitude: number, longitude: number } | undefined>
  /** Tabs (by index) whose backup the test makes itself through the UI (SPEC U12). */
  noBackup?: readonly number[]
}

export async function startMobilePeers (names: string[], opts: MobileOptions = {}): Promise<MobilePeers> {
  const keyDir = mkdtempSync(join(tmpdir(), 'alliance-relay-'))
  const relay = opts.relay === false ? null : await startRelay({ port: 0, keyFile: join(keyDir, 'relay.key') })
  // the demo alliance's operator validator, as `npm start` runs it (it admits every tab)
  const operator = relay == null ? null : await startOperator({ relays: relay.multiaddrs, dataDir: keyDir })
  const app = await startApp(relay?.multiaddrs ?? [], operator == null ? undefined : (_req, relays) => ({ relays, alliance: operator.config() }))
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  const contexts: BrowserContext[] = []
  const tabs: Page[] = []
  const dids: string[] = []
  for (const [i, name] of names.entries()) {
    const position = opts.positions?.[i]
    const context = await newPhoneContext(browser, {
      // axe-core is injected as a script tag, which the app's CSP (no inline scripts) refuses
      bypassCSP: true,
      ...(position != null ? { geolocation: position, permissions: ['geolocation', 'clipboard-read', 'clipboard-write'] } : { permissions: ['clipboard-read', 'clipboard-write'] })
    })
    contexts.push(context)
    const page = await openPeer(context, app.url, name, opts.query ?? '', undefined, { backup: opts.noBackup?.includes(i) !== true })
    tabs.push(page)
    dids.push(await facadeDid(page))
  }
  return {
    app,
    browser,
    relay,
    contexts,
    tabs,
    dids,
    close: async () => {
      for (const c of contexts) await c.close().catch(() => {})
      await browser.close().catch(() => {})
      await app.close()
      await operator?.stop()
      await relay?.stop()
      rmSync(keyDir, { recursive: true, force: true })
    }
  }
}

const require = createRequire(import.meta.url)
const AXE_SOURCE = require.resolve('axe-core/axe.min.js')

export interface AxeViolation { id: string, impact: string | null, help: string, nodes: string[] }

/** Runs axe-core (WCAG 2 A/AA and best practices) on the page as it is now. */
export async function axe (page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => 'axe' in window)
  if (!loaded) await page.addScriptTag({ path: AXE_SOURCE })
  return await page.evaluate(async () => {
    type Result = { violations: Array<{ id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[], failureSummary?: string }> }> }
    const run = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<Result> } }).axe.run
    const r = await run(document, { resultTypes: ['violations'] })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')} ${n.failureSummary ?? ''}`) }))
  })
}

/** Only the violations issue 11 counts as failures. */
export function seriousOf (violations: AxeViolation[]): AxeViolation[] {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}
