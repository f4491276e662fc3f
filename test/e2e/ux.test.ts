// Issue 11 end to end at 360 px with touch: the README tour through visible controls with
// names, never reading a DID — name yourself, see peers by (unverified) name, save them as
// contacts, pay by name behind a confirmation, find the near hotspot by geolocation and not
// the far one, buy behind a confirmation with the right total, read the Wi-Fi QR with an
// independent decoder, see the password hidden when the session ends, and both histories
// showing the session's payment with the same amount.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Page } from 'playwright-core'
import jsQR from 'jsqr'
import { startMobilePeers, type MobilePeers } from './mobile.ts'

let peers: MobilePeers
let alice: Page; let bob: Page; let carol: Page
let dids: string[]
/** What the session cost (settled on the ledger): 15 when it completed; on a loaded machine a late voucher may end it sooner. */
let paid = 0
const GRANT = 1000
const BEIJING = { latitude: 39.9087, longitude: 116.3975 }
const NEARBY = { latitude: 39.9120, longitude: 116.4010 } // ~460 m away
const PARIS = { latitude: 48.8566, longitude: 2.3522 }
const SSID = 'Café "Net";1'
const PASSWORD = 'p@ss;w,o:rd\\x'

const balance = async (page: Page, did: string): Promise<number> =>
  await page.evaluate((d) => window.alliance?.ledger.ready() === true ? window.alliance.ledger.balance(d) : -1, did)
const screen = async (page: Page, name: string): Promise<void> => {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name }).click()
}
const part = async (page: Page, name: string): Promise<void> => {
  await screen(page, 'Market')
  await page.getByRole('tab', { name: new RegExp(`^${name}`) }).click()
}
const confirmFact = async (page: Page, fact: string): Promise<string> =>
  (await page.getByTestId('confirm').locator(`dd[data-fact="${fact}"]`).textContent()) ?? ''

/** Unescapes a Wi-Fi QR field (backslash escapes of \ ; , " :). */
function wifiField (qr: string, key: string): string | null {
  const m = new RegExp(`(?:^WIFI:|;)${key}:((?:\\\\.|[^;\\\\])*)`).exec(qr)
  return m == null ? null : m[1].replace(/\\(.)/g, '$1')
}

beforeAll(async () => {
  // Carol makes her backup herself, through the onboarding (U12)
  peers = await startMobilePeers(['ua', 'ub', 'uc'], { positions: [BEIJING, NEARBY, PARIS], noBackup: [2] })
  ;[alice, bob, carol] = peers.tabs
  dids = peers.dids
})

afterAll(async () => { await peers?.close() })

describe('a wallet people can use on a phone', () => {
  it('[U4][U6] everyone names themselves; peers show each other by announced, unverified name', async () => {
    for (const [page, name] of [[alice, 'Alice'], [bob, 'Bob'], [carol, 'Carol']] as const) {
      await page.getByTestId('ready').waitFor({ timeout: 60_000 })
      await page.getByLabel('my name').fill(name)
      await page.getByRole('button', { name: 'Save my name' }).click()
      // the onboarding says so, or is gone once every step is done (backed up and joined already)
      await expect.poll(async () => await page.getByTestId('onboarding').allTextContents().then((t) => t.length === 0 || t[0].includes(`You are “${name}”`))).toBe(true)
    }
    await screen(bob, 'Peers')
    const aliceRow = bob.locator(`[data-testid=peers] li[data-did="${dids[0]}"]`)
    await expect.poll(() => aliceRow.textContent(), { timeout: 90_000, interval: 500 }).toContain('Alice')
    expect(await aliceRow.textContent()).toContain('unverified')
    expect(await aliceRow.textContent()).toContain(dids[0].slice(-6))
    // The mesh picture names the peers too.
    await expect.poll(() => bob.locator('svg.graph').first().textContent(), { timeout: 30_000 }).toContain('Alice')
  })

  it('[U12] Carol\'s wallet does not join before its backup, says so, and joins on its own once she makes it', async () => {
    const isMember = async (page: Page): Promise<boolean> => await page.evaluate(() => window.alliance?.ledger.ready() === true && window.alliance.ledger.isMember())
    // the operator admits whoever asks: Alice and Bob (backed up) are members...
    for (const page of [alice, bob]) await expect.poll(() => isMember(page), { timeout: 120_000, interval: 500 }).toBe(true)
    // ...Carol, without a backup, never asked
    expect(await isMember(carol)).toBe(false)
    expect(await carol.evaluate(() => window.alliance!.ledger.admission())).toMatchObject({ kind: 'waiting', admitted: 0, pending: 0 })
    expect(await carol.getByTestId('onboarding').textContent()).toContain('Joining starts once your backup is made')
    await screen(carol, 'Ledger')
    expect(await carol.getByTestId('backup-required').textContent()).toContain('Joining waits for your backup')
    await carol.getByTestId('backup-required').getByRole('button', { name: 'Back up now' }).click()
    await expect.poll(() => carol.locator('h1').textContent()).toContain('Wallet')
    await expect.poll(() => carol.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('backup passphrase')
    await carol.keyboard.type('carol backup 1')
    await carol.getByLabel('repeat backup passphrase').fill('carol backup 1')
    const download = carol.waitForEvent('download')
    await carol.getByRole('button', { name: 'Download encrypted backup' }).click()
    expect((await download).suggestedFilename()).toBe('alliance-uc-backup.json')
    await expect.poll(() => carol.getByTestId('onboarding').textContent()).toContain('Backup made.')
    await expect.poll(() => isMember(carol), { timeout: 120_000, interval: 500 }).toBe(true)
    await screen(carol, 'Ledger')
    expect(await carol.getByTestId('backup-required').count()).toBe(0)
  })

  it('[U3][U5] a peer saved as a contact shows by the given name; a look-alike name is warned about', async () => {
    const aliceRow = bob.locator(`[data-testid=peers] li[data-did="${dids[0]}"]`)
    await aliceRow.getByRole('button', { name: /^Save / }).click()
    await expect.poll(() => aliceRow.getByLabel('contact name').inputValue()).toBe('Alice')
    await aliceRow.getByRole('button', { name: 'Save contact' }).click()
    await expect.poll(() => aliceRow.textContent()).not.toContain('unverified')
    // Carol pretending to be "A1ice" would be flagged.
    const carolRow = bob.locator(`[data-testid=peers] li[data-did="${dids[2]}"]`)
    await expect.poll(() => carolRow.count(), { timeout: 60_000 }).toBe(1)
    await carolRow.getByRole('button', { name: /^Save / }).click()
    await carolRow.getByLabel('contact name').fill('A1ice')
    await expect.poll(() => carolRow.getByTestId('lookalike').textContent()).toContain('looks like your contact “Alice”')
    await carolRow.getByLabel('contact name').fill('Carol')
    await carolRow.getByRole('button', { name: 'Save contact' }).click()
    expect(await bob.getByTestId('contacts').textContent()).toContain('Alice')
  })

  it('[U7][U8] Bob pays Alice by name behind a confirmation; both histories show it with its amount from the start', async () => {
    for (const page of peers.tabs) {
      for (const did of dids) await expect.poll(() => balance(page, did), { timeout: 150_000, interval: 500 }).toBe(GRANT)
    }
    await screen(bob, 'Peers')
    await bob.locator(`[data-testid=contacts] li[data-did="${dids[0]}"]`).getByRole('button', { name: 'Pay Alice' }).click()
    await expect.poll(() => bob.locator('h1').textContent()).toContain('Ledger')
    await bob.getByLabel('transfer amount').fill('25')
    await bob.getByRole('button', { name: 'Send', exact: true }).click()
    expect(await confirmFact(bob, 'To')).toContain('Alice')
    expect(await confirmFact(bob, 'Amount')).toBe('25 credits')
    expect(await confirmFact(bob, 'Your balance after')).toBe(`${GRANT - 25} credits`)
    await bob.getByRole('button', { name: 'Send 25 credits' }).click()
    const out = bob.locator('[data-testid=history] li[data-kind=transfer-out]')
    await expect.poll(() => out.count(), { timeout: 60_000 }).toBe(1)
    expect(await out.getAttribute('data-amount')).toBe('-25')
    expect(await out.textContent()).toContain('Sent to Alice')
    await screen(alice, 'Ledger')
    // One row from the first moment ("Incoming from Bob", +25), the same row once Alice's
    // wallet has received it ("Received from Bob"), in her balance when that confirms.
    const inn = alice.locator('[data-testid=history] li[data-kind=transfer-in]').filter({ hasText: /(Incoming|Received) from Bob/ })
    await expect.poll(() => inn.count(), { timeout: 60_000 }).toBe(1)
    expect(await inn.getAttribute('data-amount')).toBe('25')
    await expect.poll(() => inn.textContent(), { timeout: 90_000, interval: 500 }).toContain('Received from Bob')
    await expect.poll(() => inn.getAttribute('data-status'), { timeout: 90_000, interval: 500 }).toBe('confirmed')
    expect(await inn.count()).toBe(1)
    await inn.getByRole('button').click()
    const details = await alice.getByTestId('history-details').textContent()
    expect(details).toMatch(/1 of 1 approvals/)
    expect(details).toContain('Paid in')
    // Admission and joining read in words.
    expect(await alice.locator('[data-testid=history] li[data-kind=admission]').textContent()).toContain('Admitted to the alliance by')
    expect(await alice.locator('[data-testid=history] li[data-kind=joined]').allTextContents()).toEqual([expect.stringContaining('Joined the alliance')])
  })

  it('[U9][U8] Alice saves her Wi-Fi, then publishes behind a confirmation; Carol publishes far away', async () => {
    for (const [page, title] of [[alice, 'Cafe Wi-Fi'], [carol, 'Paris Wi-Fi']] as const) {
      await part(page, 'Find')
      await page.getByRole('button', { name: 'Use my location' }).click()
      await expect.poll(() => page.getByTestId('position').textContent()).toContain('from this device')
      await part(page, 'My offers')
      expect(await page.getByRole('button', { name: 'Publish…' }).isDisabled()).toBe(true) // Wi-Fi first
      await part(page, 'My hotspot')
      await page.getByLabel('hotspot ssid').fill(SSID)
      await page.getByLabel('hotspot password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Save', exact: true }).click()
      await expect.poll(() => page.getByTestId('hotspot-saved').count()).toBe(1)
      await part(page, 'My offers')
      await page.getByLabel('offer title').fill(title)
      await page.getByLabel('round size').fill('2')
      await page.getByLabel('trial size').fill('1')
      await page.getByRole('button', { name: 'Publish…' }).click()
      expect(await confirmFact(page, 'Costs you')).toContain('0 credits')
      expect(await confirmFact(page, 'Expires')).toContain('in 30 days')
      await page.getByTestId('confirm').getByRole('button', { name: 'Publish' }).click()
      await expect.poll(() => page.getByTestId('my-offers').textContent(), { timeout: 60_000 }).toContain(title)
    }
  })

  it('[U9] Bob finds the near hotspot by geolocation and not the far one', async () => {
    await part(bob, 'Find')
    await bob.getByRole('button', { name: 'Use my location' }).click()
    await expect.poll(() => bob.getByTestId('position').textContent()).toContain('from this device')
    const offers = bob.getByTestId('offers')
    await expect.poll(() => offers.textContent(), { timeout: 120_000, interval: 500 }).toContain('Cafe Wi-Fi')
    expect(await offers.textContent()).not.toContain('Paris Wi-Fi')
    const near = offers.locator('li', { hasText: 'Cafe Wi-Fi' })
    expect(await near.getByTestId('distance').textContent()).toMatch(/^\d+ m$/)
    expect(await near.textContent()).toContain('Alice')
    expect(await bob.getByTestId('radar').getAttribute('aria-label')).toContain('1 offer within')
    await bob.getByLabel('radius').selectOption('')
    await expect.poll(() => offers.textContent(), { timeout: 60_000 }).toContain('Paris Wi-Fi')
    expect(await offers.locator('li', { hasText: 'Paris Wi-Fi' }).getByTestId('distance').textContent()).toMatch(/^\d{4} km$/)
    await bob.getByLabel('radius').selectOption('5000')
  })

  it('[U8][U7] Bob buys 3 rounds behind a confirmation (15 in total), reads the Wi-Fi QR, loses the password at the end, and both histories show the same amount (−15 / +15 when completed)', async () => {
    const near = bob.getByTestId('offers').locator('li', { hasText: 'Cafe Wi-Fi' })
    await near.getByLabel('rounds to buy').fill('3')
    await near.getByRole('button', { name: /^Buy / }).click()
    expect(await confirmFact(bob, 'From')).toContain('Alice')
    expect(await confirmFact(bob, 'Price per round (cap)')).toBe('5 credits')
    expect(await confirmFact(bob, 'Total at most')).toBe('15 credits')
    expect(await confirmFact(bob, 'Locked now')).toBe('15 credits')
    await bob.getByRole('button', { name: 'Buy for up to 15 credits' }).click()
    // The session opens on the Sessions part, with the credentials and the QR code.
    await expect.poll(() => bob.getByTestId('wifi-ssid').first().textContent(), { timeout: 60_000 }).toBe(SSID)
    expect(await bob.getByTestId('wifi-password').first().textContent()).toBe(PASSWORD)
    const pixels = await bob.evaluate(async () => {
      const img = document.querySelector<HTMLImageElement>('img[alt="Wi-Fi QR code"]')
      if (img == null) return null
      await img.decode()
      const c = document.createElement('canvas'); c.width = 480; c.height = 480
      const g = c.getContext('2d')!
      g.fillStyle = '#fff'; g.fillRect(0, 0, 480, 480); g.drawImage(img, 40, 40, 400, 400)
      return Array.from(g.getImageData(0, 0, 480, 480).data)
    })
    expect(pixels).not.toBeNull()
    const decoded = jsQR(Uint8ClampedArray.from(pixels!), 480, 480)
    expect(decoded?.data.startsWith('WIFI:T:WPA;')).toBe(true)
    expect(wifiField(decoded!.data, 'S')).toBe(SSID)
    expect(wifiField(decoded!.data, 'P')).toBe(PASSWORD)
    expect(decoded!.data.endsWith(';;')).toBe(true)

    const row = bob.locator('[data-testid=sessions] li[data-role=payer]').first()
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000, interval: 500 }).toBe('ended')
    const ended = await bob.evaluate(() => window.alliance!.market.sessions().find((s) => s.role === 'payer'))
    console.log(`[ux] session ended: ${ended?.endReason ?? ''}, round ${ended?.round ?? 0}, paid ${ended?.paid ?? 0}, vouchers ${ended?.vouchers ?? 0}`)
    expect(ended?.paid ?? 0).toBeGreaterThan(0)
    // What moved is what the provider settled from the deposit: on a loaded machine the
    // payer's last voucher may reach the provider too late to count (the session ends sooner).
    await expect.poll(() => bob.evaluate(() => window.alliance!.market.sessions().find((s) => s.role === 'payer')?.settled ?? 0), { timeout: 120_000, interval: 500 }).toBeGreaterThan(0)
    paid = await bob.evaluate(() => window.alliance!.market.sessions().find((s) => s.role === 'payer')?.settled ?? 0)
    if (ended?.endReason === 'completed') expect(paid).toBe(15)
    expect(await bob.getByTestId('wifi-password').count()).toBe(0)
    expect(await bob.getByTestId('wifi-hidden').count()).toBe(1)

    const sum = async (page: Page, kind: string): Promise<number> => {
      const values = await page.locator(`[data-testid=history] li[data-kind=${kind}]`).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-amount') ?? '0')))
      return values.reduce((a, b) => a + b, 0)
    }
    await screen(bob, 'Ledger')
    await screen(alice, 'Ledger')
    // Both histories show the same amount: what the settlement drew from the deposit.
    await expect.poll(() => sum(bob, 'session-paid'), { timeout: 120_000, interval: 500 }).toBe(-paid)
    await expect.poll(() => sum(alice, 'session-earned'), { timeout: 60_000, interval: 500 }).toBe(paid)
    expect(await bob.locator('[data-testid=history] li[data-kind=session-paid]').first().textContent()).toContain('Paid Alice')
    for (const page of [alice, bob]) {
      const kind = page === bob ? 'session-paid' : 'session-earned'
      await expect.poll(() => page.locator(`[data-testid=history] li[data-kind=${kind}][data-status=confirmed]`).count(), { timeout: 120_000, interval: 500 }).toBeGreaterThan(0)
    }
    await expect.poll(() => balance(carol, dids[1]), { timeout: 60_000, interval: 500 }).toBe(GRANT - 25 - paid)
    // The deposit shows too: locked (−15) when Bob bought, what was not used returned.
    const locked = bob.locator('[data-testid=history] li[data-kind=deposit-locked]')
    expect(await locked.getAttribute('data-amount')).toBe('-15')
    expect(await locked.textContent()).toContain('Deposit locked for a session with Alice')
    expect(await bob.locator('[data-testid=history] li[data-kind=session-paid]').first().getAttribute('data-from-deposit')).toBe('true')
    // A true history: the confirmed rows that moved the balance add up to it, on both sides.
    const moved = async (page: Page): Promise<number> => await page.locator('[data-testid=history] li[data-status=confirmed]:not([data-from-deposit])')
      .evaluateAll((els) => els.reduce((s, e) => s + Number(e.getAttribute('data-amount') ?? '0'), 0))
    await expect.poll(() => moved(bob), { timeout: 120_000, interval: 500 }).toBe(GRANT - 25 - paid)
    await expect.poll(() => moved(alice), { timeout: 120_000, interval: 500 }).toBe(GRANT + 25 + paid)
  })

  it('[U10] the owner sees earnings per session reconciled with vouchers and is asked to change the password after the guest left', async () => {
    await part(alice, 'My hotspot')
    await expect.poll(() => alice.getByTestId('change-password').count(), { timeout: 30_000 }).toBe(1)
    await expect.poll(() => alice.getByTestId('earnings-total').textContent(), { timeout: 60_000 }).toContain(`Vouchers promise ${paid} credits; ${paid} settled`)
    expect(await alice.locator('table.earnings tbody').textContent()).toContain('Bob')
  })

  it('[U11] Alice issues Bob a credential picked by name and sends it over DM; Bob verifies and keeps it, issuer shown by name', async () => {
    await screen(alice, 'Peers')
    const bobRow = alice.locator(`[data-testid=peers] li[data-did="${dids[1]}"]`)
    await bobRow.getByRole('button', { name: /^Save / }).click()
    await bobRow.getByRole('button', { name: 'Save contact' }).click()
    await screen(alice, 'Wallet')
    await alice.getByLabel('subject from contacts').selectOption({ label: 'Bob' })
    await alice.getByLabel('credential type').selectOption('HotspotOperator')
    await alice.getByRole('button', { name: 'Issue', exact: true }).click()
    const item = alice.getByTestId('credentials').locator('li').first()
    await expect.poll(() => item.textContent()).toContain('to Bob')
    await item.getByRole('button', { name: 'View' }).click()
    expect(await alice.getByTestId('credential-decoded').textContent()).toContain('HotspotOperator')
    await item.getByRole('button', { name: 'Send to subject' }).click()
    await screen(bob, 'Peers')
    const got = bob.getByTestId('received-credential').first()
    await expect.poll(() => got.count(), { timeout: 30_000 }).toBe(1)
    await got.getByRole('button', { name: 'Verify' }).click()
    await expect.poll(() => got.getByRole('status').textContent()).toContain('valid')
    await got.getByRole('button', { name: 'Keep it' }).click()
    await expect.poll(() => got.getByRole('button', { name: 'Kept' }).count()).toBe(1)
    await screen(bob, 'Wallet')
    await expect.poll(() => bob.getByTestId('credentials').textContent()).toContain('from Alice')
  })
})
