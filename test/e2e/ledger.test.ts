// Issue #4 end to end: three tabs keep the DAG ledger in IndexedDB, a transfer confirms by
// cumulative weight on every tab, a reloaded tab keeps its ledger, and a tab that was closed
// during a transfer catches up through /alliance/sync/1 when it comes back.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Page } from 'playwright-core'
import { openPeer, waitForFacade, startTabPeers, type Stack, type TabPeers } from './harness.ts'

let peers: TabPeers
let stack: Stack
let tabs: Page[]
let dids: string[]

const GRANT = 1000
const balance = async (page: Page, did: string): Promise<number> =>
  await page.evaluate((d) => window.alliance?.ledger.ready() === true ? window.alliance.ledger.balance(d) : -1, did)
const status = async (page: Page, txId: string): Promise<string> =>
  await page.evaluate((t) => window.alliance?.ledger.ready() === true ? window.alliance.ledger.status(t) : 'not-ready', txId)
const stateHash = async (page: Page): Promise<string> => await page.evaluate(() => window.alliance?.ledger.stats().stateHash ?? '')

beforeAll(async () => {
  peers = await startTabPeers(['l1', 'l2', 'l3'], '&tab=ledger')
  ;({ stack, tabs, dids } = peers)
})

afterAll(async () => {
  await peers?.close()
})

describe('ledger in the browser', () => {
  it('every tab is admitted and sees every member with the grant', async () => {
    for (const tab of tabs) {
      for (const did of dids) await expect.poll(() => balance(tab, did), { timeout: 120_000, interval: 500 }).toBe(GRANT)
    }
  })

  it('a transfer from tab 1 to tab 2 confirms on all three tabs with the same balances', async () => {
    const txId = await tabs[0].evaluate(async (to) => await window.alliance!.ledger.transfer(to, 125), dids[1])
    expect(txId).toMatch(/^bafy[a-z2-7]+\/0$/)
    for (const tab of tabs) await expect.poll(() => status(tab, txId), { timeout: 90_000, interval: 500 }).toBe('confirmed')
    for (const tab of tabs) {
      await expect.poll(() => balance(tab, dids[0]), { timeout: 30_000 }).toBe(GRANT - 125)
      await expect.poll(() => balance(tab, dids[1]), { timeout: 30_000 }).toBe(GRANT + 125)
      expect(await balance(tab, dids[2])).toBe(GRANT)
    }
    const hashes = await Promise.all(tabs.map(stateHash))
    expect(new Set(hashes).size).toBe(1)
    // The UI shows it: the sender's history lists the confirmed transfer, the DAG is drawn.
    await expect.poll(() => tabs[0].locator('[data-testid=history] li[data-status=confirmed]').count(), { timeout: 30_000 }).toBeGreaterThan(0)
    await expect.poll(() => tabs[0].getByTestId('balance').textContent()).toContain(String(GRANT - 125))
    expect(await tabs[0].locator('[data-testid=dag] circle').count()).toBeGreaterThan(3)
  })

  it('a reloaded tab keeps its ledger from IndexedDB', async () => {
    const before = await tabs[2].evaluate(() => window.alliance!.ledger.stats().blocks)
    await tabs[2].reload()
    await waitForFacade(tabs[2])
    await tabs[2].waitForFunction(() => window.alliance?.ledger.ready() === true, undefined, { timeout: 60_000 })
    // Read at once after opening: these come from IndexedDB, not from a sync.
    const after = await tabs[2].evaluate(() => window.alliance!.ledger.stats().blocks)
    expect(after).toBeGreaterThanOrEqual(before)
    expect(await balance(tabs[2], dids[1])).toBe(GRANT + 125)
  })

  it('[L23] a transfer confirms by the validator while a member tab is closed; the reopened tab syncs to the same state', async () => {
    await tabs[2].close()
    const txId = await tabs[1].evaluate(async (to) => await window.alliance!.ledger.transfer(to, 40), dids[0])
    // members carry no weight: the demo operator (the validator) confirms it without l3
    await expect.poll(() => status(tabs[1], txId), { timeout: 60_000, interval: 500 }).toBe('confirmed')

    tabs[2] = await openPeer(stack.context, stack.app.url, 'l3', '&tab=ledger')
    for (const tab of tabs) await expect.poll(() => status(tab, txId), { timeout: 120_000, interval: 500 }).toBe('confirmed')
    for (const tab of tabs) {
      await expect.poll(() => balance(tab, dids[0]), { timeout: 30_000 }).toBe(GRANT - 125 + 40)
      await expect.poll(() => balance(tab, dids[1]), { timeout: 30_000 }).toBe(GRANT + 125 - 40)
    }
    await expect.poll(async () => new Set(await Promise.all(tabs.map(stateHash))).size, { timeout: 30_000 }).toBe(1)
  })
})
