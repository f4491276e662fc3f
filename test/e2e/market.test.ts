// Issue #5 end to end: a hotspot sold round by round between tabs (credentials decrypted and
// shown as a Wi-Fi QR code, settlement confirmed on every tab, reputation up), and a relay
// offer carrying a real byte stream between two tabs, paid per byte. Issue 8: a hotspot session
// paid from a deposit and stopped early, whose remainder returns to the payer.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Page } from 'playwright-core'
import { startTabPeers, type TabPeers } from './harness.ts'

let peers: TabPeers
let tabs: Page[]
let dids: string[]
const GRANT = 1000
/** Tab 1's hotspot offer (published by the second test). */
let hotspotOffer = ''
/** Tab 3's partly used deposit (the third test), for the history test after it. */
let partlyUsed: { before: number, paid: number, deposit: number, started: number } | null = null

const balance = async (page: Page, did: string): Promise<number> =>
  await page.evaluate((d) => window.alliance?.ledger.ready() === true ? window.alliance.ledger.balance(d) : -1, did)

beforeAll(async () => {
  peers = await startTabPeers(['m1', 'm2', 'm3'], '&tab=market')
  ;({ tabs, dids } = peers)
})

afterAll(async () => {
  await peers?.close()
})

describe('market in the browser', () => {
  it('three tabs are members with the grant and have their market open', async () => {
    for (const tab of tabs) {
      for (const did of dids) await expect.poll(() => balance(tab, did), { timeout: 120_000, interval: 500 }).toBe(GRANT)
      await tab.waitForFunction(() => window.alliance?.market.ready() === true, undefined, { timeout: 30_000 })
    }
  })

  it('tab 2 finds tab 1\'s hotspot by distance, buys three rounds, sees the Wi-Fi credentials, and the settlement confirms everywhere', async () => {
    const [m1, m2, m3] = tabs
    const offerId = await m1.evaluate(async () => {
      await window.alliance!.market.setHotspotSecret({ ssid: 'Alliance Cafe', security: 'WPA', password: 's3cret;pass' })
      return await window.alliance!.market.publish({ kind: 'hotspot', title: 'Cafe Wi-Fi', price: 5, round: { size: 2 }, trial: 1, geohash: 'wx4g0bm6' })
    })
    hotspotOffer = offerId
    // Found by distance from a nearby geohash once the offer is confirmed on tab 2's ledger.
    await expect.poll(() => m2.evaluate((id) => window.alliance!.market.offers({ kind: 'hotspot', near: 'wx4g0bmd' }).find((o) => o.id === id)?.distanceMeters ?? null, offerId), { timeout: 90_000, interval: 500 })
      .toBeLessThan(1000)
    const repBefore = await m3.evaluate((d) => window.alliance!.market.reputation(d as never).score, dids[0])

    const bought = await m2.evaluate(async (id) => {
      const h = await window.alliance!.market.buy(id, 3)
      const c = h.credentials
      return { ssid: c?.ssid, password: c?.password, qr: c?.wifiQr, id: h.id }
    }, offerId)
    expect(bought.ssid).toBe('Alliance Cafe')
    expect(bought.password).toBe('s3cret;pass')
    expect(bought.qr).toBe('WIFI:T:WPA;S:Alliance Cafe;P:s3cret\\;pass;;')
    // The guest's screen shows the credentials and a QR code.
    await expect.poll(() => m2.getByTestId('wifi-ssid').first().textContent(), { timeout: 30_000 }).toBe('Alliance Cafe')
    expect(await m2.getByRole('img', { name: 'Wi-Fi QR code' }).count()).toBeGreaterThan(0)
    // The provider sees its guest.
    await expect.poll(() => m1.evaluate((id) => window.alliance!.market.sessions().some((s) => s.id === id && s.role === 'provider'), bought.id), { timeout: 30_000 }).toBe(true)

    // Three rounds of 2 s, then the session ends and is settled on the ledger.
    const ended = await m2.evaluate(async (id) => {
      const v = await window.alliance!.market.session(id)!.ended
      return { state: v.state, paid: v.paid, vouchers: v.vouchers, endReason: v.endReason, round: v.round, units: v.unitsUsed }
    }, bought.id)
    expect(ended).toMatchObject({ state: 'ended', endReason: 'completed' })
    expect(ended.paid).toBe(15)
    expect(ended.vouchers).toBe(3)
    for (const tab of tabs) {
      await expect.poll(() => balance(tab, dids[1]), { timeout: 120_000, interval: 500 }).toBe(GRANT - 15)
      await expect.poll(() => balance(tab, dids[0]), { timeout: 30_000, interval: 500 }).toBe(GRANT + 15)
    }
    await expect.poll(() => m3.evaluate((d) => window.alliance!.market.reputation(d as never).score, dids[0]), { timeout: 30_000 }).toBeGreaterThan(repBefore)
  })

  it('[V11][C9][C11] tab 3 locks a deposit for three hotspot rounds, stops after the first: the provider settles what was used and the remainder returns to tab 3', async () => {
    const m3 = tabs[2]
    await expect.poll(() => m3.evaluate((id) => window.alliance!.market.offers({ kind: 'hotspot' }).some((o) => o.id === id), hotspotOffer), { timeout: 60_000, interval: 500 }).toBe(true)
    const before = await balance(m3, dids[2])
    const providerBefore = await balance(m3, dids[0])
    const started = Date.now()
    const r = await m3.evaluate(async (id) => {
      // buy() locks 3 rounds x 5 credits (V11) and resolves once the provider serves against it
      const h = await window.alliance!.market.buy(id, 3)
      while (h.view().vouchers < 1) await new Promise((resolve) => setTimeout(resolve, 100))
      const v = await h.stop()
      return { id: h.id, paid: v.paid, state: v.state }
    }, hotspotOffer)
    const deposit = 3 * 5
    expect(r.paid).toBeGreaterThan(0)
    expect(r.paid).toBeLessThan(deposit)
    // the settlement pays the provider from the deposit; the rest is a refund claim tab 3's
    // wallet receives on its own (L28): its balance ends at before - paid, on every tab
    for (const tab of tabs) {
      await expect.poll(() => balance(tab, dids[2]), { timeout: 120_000, interval: 500 }).toBe(before - r.paid)
      await expect.poll(() => balance(tab, dids[0]), { timeout: 30_000, interval: 500 }).toBe(providerBefore + r.paid)
    }
    // tab 3's history shows the session paid and the remainder coming back: a receive of its
    // own, newer than the purchase
    const rows = await m3.evaluate(() => window.alliance!.ledger.history(50))
    expect(rows.find((x) => x.kind === 'session-paid')?.amount).toBe(-r.paid)
    expect(rows.some((x) => x.type === 'receive' && x.status === 'confirmed' && x.time >= started)).toBe(true)
    partlyUsed = { before, paid: r.paid, deposit, started }
  })

  // the deposit's own rows: locked, and the remainder returned (a claim its wallet received)
  it('[V11][C11][U7] tab 3\'s history says the deposit was locked and its remainder returned, and its rows add up to what its balance did', async () => {
    const { before, paid, deposit, started } = partlyUsed!
    const rows = await tabs[2].evaluate(() => window.alliance!.ledger.history(50))
    expect(rows.find((x) => x.type === 'deposit.lock')).toMatchObject({ kind: 'deposit-locked', amount: -deposit })
    // newest first: the newest receive is the refund of the remainder
    expect(rows.find((x) => x.kind === 'deposit-returned' && x.status === 'confirmed')).toMatchObject({ amount: deposit - paid })
    // the session-paid row says what the deposit paid (fromDeposit): the balance moved at the lock
    const since = rows.filter((x) => x.time >= started && x.status === 'confirmed' && !x.fromDeposit).reduce((sum, x) => sum + (x.amount ?? 0), 0)
    expect(before + since).toBe(await balance(tabs[2], dids[2]))
  })

  it('tab 3 relays a byte stream from tab 1 to tab 2 through its relay offer and is paid per byte', async () => {
    const [m1, m2, m3] = tabs
    const before = await Promise.all(dids.map(async (d) => await balance(m3, d)))
    const offerId = await m3.evaluate(async () => await window.alliance!.market.publish({ kind: 'relay', title: 'Relay via m3', price: 2, round: { size: 65_536 }, trial: 16_384 }))
    await expect.poll(() => m1.evaluate((id) => window.alliance!.market.offers({ kind: 'relay' }).some((o) => o.id === id), offerId), { timeout: 90_000, interval: 500 }).toBe(true)

    await m2.evaluate(() => {
      const w = window as unknown as { relayedBytes: number }
      w.relayedBytes = 0
      window.alliance!.market.onRelayedStream((s) => {
        void (async () => { for await (const chunk of s) w.relayedBytes += chunk.byteLength })()
      })
    })
    const total = 192 * 1024
    const sent = await m1.evaluate(async ([id, target, n]) => {
      const h = await window.alliance!.market.buy(id, 4, { target: target as never })
      const chunk = new Uint8Array(16 * 1024).fill(7)
      for (let off = 0; off < n; off += chunk.length) await h.relay!.write(chunk)
      await h.relay!.end()
      const v = await h.stop()
      return { sent: h.relay!.sent, paid: v.paid }
    }, [offerId, dids[1], total] as const)
    expect(sent.sent).toBe(total)
    await expect.poll(() => m2.evaluate(() => (window as unknown as { relayedBytes: number }).relayedBytes), { timeout: 60_000 }).toBe(total)
    // 192 KiB is three rounds of 64 KiB at 2 credits each.
    expect(sent.paid).toBe(6)
    for (const tab of tabs) {
      await expect.poll(() => balance(tab, dids[2]), { timeout: 120_000, interval: 500 }).toBe(before[2] + 6)
      await expect.poll(() => balance(tab, dids[0]), { timeout: 30_000, interval: 500 }).toBe(before[0] - 6)
    }
  })
})
