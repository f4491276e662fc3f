// Issue #3 end to end: four tabs (four profiles) in one Chromium form direct WebRTC
// connections through a real relay used for signaling only; an encrypted message crosses the
// mesh; the relay restarts under the tabs; a reloaded tab rejoins.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { startRelay } from '../../src/relay/relay.ts'
import { launch, openPeer, startApp, facadeDid, waitForFacade, type Stack } from './harness.ts'

type Relay = Awaited<ReturnType<typeof startRelay>>
let relay: Relay
let stack: Stack
let keyDir: string
let relayPort: number
const tabs: Page[] = []
const names = ['t1', 't2', 't3', 't4']

async function directDids (page: Page): Promise<string[]> {
  return await page.evaluate(() => (window.alliance?.peers() ?? []).filter((p) => p.kind === 'direct').map((p) => p.did))
}

async function relayStates (page: Page): Promise<string[]> {
  return await page.evaluate(() => (window.alliance?.relays() ?? []).map((r) => r.state))
}

beforeAll(async () => {
  keyDir = mkdtempSync(join(tmpdir(), 'alliance-relay-'))
  relay = await startRelay({ port: 0, keyFile: join(keyDir, 'relay.key') })
  relayPort = Number(/\/tcp\/(\d+)\//.exec(relay.multiaddrs[0])?.[1])
  stack = await launch(await startApp(relay.multiaddrs))
  for (const name of names) tabs.push(await openPeer(stack.context, stack.app.url, name))
})

afterAll(async () => {
  await stack?.close()
  await stack?.app.close()
  await relay?.stop()
  rmSync(keyDir, { recursive: true, force: true })
})

describe('mesh in the browser', () => {
  it('four tabs form direct WebRTC connections with each other', async () => {
    const dids = await Promise.all(tabs.map(facadeDid))
    for (const [i, tab] of tabs.entries()) {
      const others = dids.filter((_, j) => j !== i).sort()
      await expect.poll(async () => (await directDids(tab)).sort(), { timeout: 90_000, interval: 500 }).toEqual(others)
    }
    // The UI says so too.
    await tabs[0].getByRole('button', { name: 'Peers' }).click()
    await expect.poll(() => tabs[0].locator('[data-testid=peers] li[data-kind=direct]').count(), { timeout: 60_000 }).toBe(3)
  })

  it('a message from tab 1 reaches tab 4, decrypted', async () => {
    const did4 = await facadeDid(tabs[3])
    const did1 = await facadeDid(tabs[0])
    const text = `hello from t1 ${Date.now()}`
    const outcome = await tabs[0].evaluate(async ([to, t]) => {
      try { await window.alliance?.send(to, t); return 'sent' } catch (e) { return `${(e as { code?: string }).code ?? ''} ${(e as Error).message}` }
    }, [did4, text] as const)
    expect(outcome).toBe('sent')
    await expect.poll(() => tabs[3].evaluate(() => window.alliance?.messages() ?? []), { timeout: 30_000 })
      .toContainEqual(expect.objectContaining({ from: did1, text }))
  })

  it('direct connections survive a relay restart, and reservations come back', async () => {
    const before = await Promise.all(tabs.map(async (t) => (await directDids(t)).sort()))
    await relay.stop()
    await expect.poll(() => relayStates(tabs[0]), { timeout: 30_000 }).not.toEqual(['reserved'])
    // Still directly connected while the relay is down.
    for (const [i, tab] of tabs.entries()) expect((await directDids(tab)).sort()).toEqual(before[i])

    relay = await startRelay({ port: relayPort, keyFile: join(keyDir, 'relay.key') })
    for (const tab of tabs) {
      await expect.poll(() => relayStates(tab), { timeout: 60_000, interval: 500 }).toEqual(['reserved'])
    }
    for (const [i, tab] of tabs.entries()) expect((await directDids(tab)).sort()).toEqual(before[i])
  })

  it('a reloaded tab rejoins the mesh directly', async () => {
    const did2 = await facadeDid(tabs[1])
    await tabs[1].reload()
    await waitForFacade(tabs[1])
    expect(await facadeDid(tabs[1])).toBe(did2)
    const others = (await Promise.all([tabs[0], tabs[2], tabs[3]].map(facadeDid))).sort()
    await expect.poll(async () => (await directDids(tabs[1])).sort(), { timeout: 90_000, interval: 500 }).toEqual(others)
    await expect.poll(() => directDids(tabs[0]), { timeout: 60_000 }).toContain(did2)
    // And messages flow both ways with the reloaded tab at once.
    const did1 = await facadeDid(tabs[0])
    for (const [from, to, toDid, fromDid] of [[tabs[0], tabs[1], did2, did1], [tabs[1], tabs[0], did1, did2]] as const) {
      const text = `after reload ${Math.random()}`
      const outcome = await from.evaluate(async ([d, t]) => {
        try { await window.alliance?.send(d, t); return 'sent' } catch (e) { return `${(e as { code?: string }).code ?? ''} ${(e as Error).message}` }
      }, [toDid, text] as const)
      expect(outcome).toBe('sent')
      await expect.poll(() => to.evaluate(() => window.alliance?.messages() ?? []), { timeout: 30_000 })
        .toContainEqual(expect.objectContaining({ from: fromDid, text }))
    }
  })
})
