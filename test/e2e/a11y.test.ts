// Issue 11, accessibility: every screen at 360 px has no serious or critical axe-core
// violation, exactly one h1, no placeholder cut off, and the screens are reachable by keyboard.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Page } from 'playwright-core'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import { startMobilePeers, axe, seriousOf, type MobilePeers } from './mobile.ts'

let peers: MobilePeers
let page: Page
// Any other valid did:key, as a recipient for the confirmation dialog.
const OTHER = didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(9)).publicKey)

/** Screen name → how to get there from anywhere, through visible controls. */
const SCREENS: Array<{ name: string, open: (p: Page) => Promise<void> }> = [
  { name: 'wallet', open: async (p) => { await p.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Wallet' }).click() } },
  { name: 'ledger', open: async (p) => { await p.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Ledger' }).click() } },
  { name: 'market', open: async (p) => { await p.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Market' }).click() } },
  ...['Find', 'Sessions', 'My hotspot', 'My offers'].map((part) => ({
    name: `market: ${part}`,
    open: async (p: Page) => {
      await p.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Market' }).click()
      await p.getByRole('tab', { name: part }).click()
    }
  })),
  { name: 'peers', open: async (p) => { await p.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Peers' }).click() } }
]

/** Inputs whose placeholder is wider than the room the input gives it. */
async function cutPlaceholders (p: Page): Promise<string[]> {
  return await p.evaluate(() => {
    const ctx = document.createElement('canvas').getContext('2d')
    if (ctx == null) return ['no canvas']
    const out: string[] = []
    for (const el of document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input[placeholder], textarea[placeholder]')) {
      if (el.offsetParent == null) continue
      const cs = getComputedStyle(el)
      ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`
      const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
      if (el instanceof HTMLInputElement && ctx.measureText(el.placeholder).width > room + 1) out.push(el.placeholder)
    }
    return out
  })
}

beforeAll(async () => {
  // no backup: the screens are checked with the "back up first" notices showing (U12)
  peers = await startMobilePeers(['ax1'], { relay: true, noBackup: [0] })
  page = peers.tabs[0]
  await page.getByTestId('ready').waitFor({ timeout: 60_000 })
  await page.waitForFunction(() => window.alliance?.market.ready() === true, undefined, { timeout: 60_000 })
})

afterAll(async () => { await peers?.close() })

describe('accessibility at 360 px', () => {
  for (const screen of SCREENS) {
    it(`[U1] the ${screen.name} screen has 0 serious or critical axe violations, one h1, no cut placeholder`, async () => {
      await screen.open(page)
      await page.waitForTimeout(300) // let the screen's first data paint (not an assertion on time)
      const violations = await axe(page)
      console.log(`[a11y] ${screen.name}: ${violations.length} violations (${violations.map((v) => `${v.id}:${v.impact ?? ''}`).join(', ') || 'none'})`)
      expect(seriousOf(violations), JSON.stringify(seriousOf(violations), null, 1)).toEqual([])
      expect(await page.locator('h1').count()).toBe(1)
      expect(await cutPlaceholders(page)).toEqual([])
      // Nothing wider than the phone: no sideways scrolling.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360)
    })
  }

  it('[U1][U8] the Send confirmation dialog has no serious or critical violation and takes focus', async () => {
    await SCREENS[1].open(page)
    await page.getByLabel('transfer recipient').fill(OTHER)
    await page.getByLabel('transfer amount').fill('5')
    await page.getByRole('button', { name: 'Send', exact: true }).click()
    await page.getByTestId('confirm').waitFor()
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') != null)).toBe(true)
    const violations = await axe(page)
    console.log(`[a11y] send confirmation: ${violations.length} violations (${violations.map((v) => `${v.id}:${v.impact ?? ''}`).join(', ') || 'none'})`)
    expect(seriousOf(violations)).toEqual([])
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByTestId('confirm').count()).toBe(0)
  })

  it('[U2] the screens are reachable by keyboard alone', async () => {
    await SCREENS[0].open(page)
    const nav = page.getByRole('navigation', { name: 'Screens' })
    await nav.getByRole('button', { name: 'Wallet' }).focus()
    for (const name of ['Ledger', 'Market', 'Peers']) {
      await page.keyboard.press('Tab')
      expect(await page.evaluate(() => document.activeElement?.textContent ?? '')).toContain(name)
      await page.keyboard.press('Enter')
      await expect.poll(() => page.locator('h1').textContent()).toContain(name)
    }
  })
})
