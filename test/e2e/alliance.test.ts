// Issue 8 in the browser: tab 1 founds an alliance from the UI (its first validator), invites
// tabs 2 and 3 by link, they are admitted and join; tab 1 pays them and they pay each other;
// every transfer confirms on all three, and no credits appear beyond the founder's supply;
// then the founder votes bob in as a second validator, and payments confirm with both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { openPeer, startTabPeers } from './harness.ts'
import type { TabPeers } from './harness.ts'

const wait = async (page: Page, what: string, fn: () => boolean | Promise<boolean>, timeout = 90_000): Promise<void> => {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await page.waitForTimeout(250)
  }
}

describe('found an alliance, invite by link, pay (Chromium)', () => {
  let peers: TabPeers
  let founder: Page
  const tabs: Page[] = []
  let supply = 0

  beforeAll(async () => {
    peers = await startTabPeers(['founder'], '', { noOperator: true })
    founder = peers.tabs[0]
  }, 120_000)
  afterAll(async () => { await peers?.close() })

  it('[A1][A2] a profile with no alliance founds one from the UI and is its validator', async () => {
    await founder.getByRole('button', { name: 'Ledger' }).click()
    await founder.getByTestId('found-name').fill('Our street')
    await founder.getByTestId('found').click()
    await wait(founder, 'the founder\'s ledger', async () => await founder.evaluate(() => window.alliance?.ledger.ready() === true))
    expect(await founder.evaluate(() => window.alliance?.ledger.isValidator())).toBe(true)
    await expect.poll(async () => await founder.getByTestId('admission').textContent(), { timeout: 30_000 }).toContain('validator')
    supply = await founder.evaluate(() => window.alliance!.ledger.balance())
    expect(supply).toBeGreaterThan(0)
  }, 120_000)

  it('[A3][A4][A5][L27] two tabs opened from the founder\'s invitation link are admitted and join', async () => {
    await founder.getByTestId('make-invite').click()
    const link = await founder.getByTestId('invite-link').inputValue()
    expect(link).toContain('?invite=')
    const invite = link.slice(link.indexOf('?invite=') + '?invite='.length)
    for (const name of ['bob', 'carol']) tabs.push(await openPeer(peers.stack.context, peers.stack.app.url, name, `&invite=${invite}`))
    await wait(founder, 'both invitees joined, seen by all', async () => {
      const dids = await Promise.all(tabs.map(async t => await t.evaluate(() => window.alliance!.did)))
      const seen = await Promise.all([founder, ...tabs].map(async t => await t.evaluate((ds) => window.alliance?.ledger.ready() === true && ds.every(d => window.alliance!.ledger.isMember(d)), dids)))
      return seen.every(Boolean)
    }, 120_000)
    for (const t of tabs) expect(await t.evaluate(() => window.alliance!.ledger.balance())).toBe(0)
  }, 180_000)

  it('[L28][L30] the founder pays both; they receive on their own and pay each other; all confirm everywhere', async () => {
    const [bob, carol] = await Promise.all(tabs.map(async t => await t.evaluate(() => window.alliance!.did)))
    const pay1 = await founder.evaluate(async (d) => await window.alliance!.ledger.transfer(d, 100), bob)
    const pay2 = await founder.evaluate(async (d) => await window.alliance!.ledger.transfer(d, 50), carol)
    await wait(founder, 'bob received 100', async () => await tabs[0].evaluate(() => window.alliance!.ledger.balance()) === 100)
    const back = await tabs[0].evaluate(async (d) => await window.alliance!.ledger.transfer(d, 30), carol)
    await wait(founder, 'every transfer confirmed on every tab and carol received 80', async () => {
      const ok = await Promise.all([founder, ...tabs].map(async t => await t.evaluate((ids) => ids.every(id => window.alliance!.ledger.status(id) === 'confirmed'), [pay1, pay2, back])))
      return ok.every(Boolean) && await tabs[1].evaluate(() => window.alliance!.ledger.balance()) === 80
    }, 120_000)
    const balances = await Promise.all([founder, ...tabs].map(async t => await t.evaluate(() => window.alliance!.ledger.balance())))
    expect(balances).toEqual([supply - 150, 70, 80])
    const hashes = await Promise.all([founder, ...tabs].map(async t => await t.evaluate(() => window.alliance!.ledger.stats().stateHash)))
    await wait(founder, 'one state hash', async () => new Set(await Promise.all([founder, ...tabs].map(async t => await t.evaluate(() => window.alliance!.ledger.stats().stateHash)))).size === 1)
    expect(hashes.length).toBe(3)
  }, 180_000)

  it('[L46][L47][L48] the founder votes bob in as a validator; every tab sees two, and a payment then needs and gets both', async () => {
    const [bob, carol] = await Promise.all(tabs.map(async t => await t.evaluate(() => window.alliance!.did)))
    await founder.getByText(/^Validators \(1;/).click()
    await expect.poll(async () => await founder.getByTestId('validator-candidate').count(), { timeout: 30_000 }).toBe(2)
    await founder.evaluate(async (d) => await window.alliance!.alliance.vote('add', d), bob)
    await wait(founder, 'every tab in epoch 1 with bob a validator', async () => {
      const views = await Promise.all([founder, ...tabs].map(async t => await t.evaluate(() => window.alliance!.alliance.epoch())))
      return views.every(v => v.n === 1 && v.validators.length === 2 && v.quorum === 2)
    }, 120_000)
    expect(await tabs[0].evaluate(() => window.alliance!.ledger.isValidator())).toBe(true)
    await expect.poll(async () => await founder.getByTestId('validators').locator('summary').textContent(), { timeout: 30_000 }).toContain('Validators (2; 2 must approve')
    const pay = await founder.evaluate(async (d) => await window.alliance!.ledger.transfer(d, 5), carol)
    await wait(founder, 'the payment confirmed on every tab', async () => {
      const ok = await Promise.all([founder, ...tabs].map(async t => await t.evaluate((id) => window.alliance!.ledger.status(id) === 'confirmed', pay)))
      return ok.every(Boolean)
    }, 120_000)
  }, 240_000)
})
