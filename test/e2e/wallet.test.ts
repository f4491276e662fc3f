// Issue #2 end to end: a real DID wallet per profile in Chromium, passphrase lock, backup and
// restore into a new profile, and the offline app shell.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readFileSync } from 'node:fs'
import { launch, openPeer, startApp, facadeDid, waitForFacade, type Stack } from './harness.ts'

let stack: Stack

beforeAll(async () => {
  stack = await launch(await startApp())
})
afterAll(async () => {
  await stack?.close()
  await stack?.app.close()
})

describe('wallet in the browser', () => {
  it('creates a DID on first open, keeps it on reload, and gives another profile another DID', async () => {
    const alice = await openPeer(stack.context, stack.app.url, 'alice')
    const did = await facadeDid(alice)
    expect(did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    await expect.poll(() => alice.getByTestId('did').textContent()).toBe(did)
    const peerId = await alice.evaluate(() => window.alliance?.peerId)
    expect(peerId).toMatch(/^12D3KooW/)

    await alice.reload()
    await waitForFacade(alice)
    expect(await facadeDid(alice)).toBe(did)

    const bob = await openPeer(stack.context, stack.app.url, 'bob')
    const bobDid = await facadeDid(bob)
    expect(bobDid).toMatch(/^did:key:z6Mk/)
    expect(bobDid).not.toBe(did)
    await bob.close()
  })

  it('issues a credential to another DID and verifies it; a tampered one is told apart', async () => {
    const alice = await openPeer(stack.context, stack.app.url, 'alice')
    const bob = await openPeer(stack.context, stack.app.url, 'bob')
    const bobDid = await facadeDid(bob)
    await alice.getByLabel('subject DID').fill(bobDid)
    await alice.getByLabel('credential type').selectOption('HotspotOperator')
    await alice.getByRole('button', { name: 'Issue', exact: true }).click()
    await expect.poll(() => alice.getByTestId('credentials').locator('li').count()).toBe(1)
    await alice.getByRole('button', { name: 'View' }).click()
    const jwt = await alice.getByLabel('credential JWT').inputValue()
    expect(jwt.split('.')).toHaveLength(3)

    await bob.getByLabel('credential to verify').fill(jwt)
    await bob.getByRole('button', { name: 'Verify', exact: true }).click()
    await expect.poll(() => bob.getByTestId('verify-result').textContent()).toContain('valid')
    const [h, p, s] = jwt.split('.')
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { vc: { type: string[] } }
    payload.vc.type.push('Forged')
    const forged = [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.')
    await bob.getByLabel('credential to verify').fill(forged)
    await bob.getByRole('button', { name: 'Verify', exact: true }).click()
    await expect.poll(() => bob.getByTestId('verify-result').textContent()).toContain('tampered')
    await alice.close()
    await bob.close()
  })

  it('locks behind a passphrase: wrong one refused and still locked, right one opens the same DID', async () => {
    const page = await openPeer(stack.context, stack.app.url, 'locky')
    const did = await facadeDid(page)
    await page.getByLabel('new passphrase').fill('correct horse battery')
    await page.getByRole('button', { name: 'Set passphrase' }).click()
    await expect.poll(() => page.getByText('Passphrase set.').count()).toBe(1)

    await page.reload()
    await waitForFacade(page)
    expect(await page.evaluate(() => window.alliance?.locked)).toBe(true)
    await page.getByLabel('passphrase').fill('wrong passphrase')
    await page.getByRole('button', { name: 'Unlock' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not right')
    expect(await page.evaluate(() => window.alliance?.locked)).toBe(true)

    await page.getByLabel('passphrase').fill('correct horse battery')
    await page.getByRole('button', { name: 'Unlock' }).click()
    await page.getByTestId('ready').waitFor()
    expect(await page.evaluate(() => window.alliance?.locked)).toBe(false)
    expect(await facadeDid(page)).toBe(did)
    await page.close()
  })

  it('exports an encrypted backup and restores it into a third profile with the same DID', async () => {
    const alice = await openPeer(stack.context, stack.app.url, 'alice')
    const did = await facadeDid(alice)
    await alice.getByLabel('backup passphrase', { exact: true }).fill('backup secret 1')
    await alice.getByLabel('repeat backup passphrase').fill('backup secret 1')
    const downloading = alice.waitForEvent('download')
    await alice.getByRole('button', { name: 'Download encrypted backup' }).click()
    const download = await downloading
    const path = await download.path()
    const text = readFileSync(path, 'utf8')
    expect(text).not.toContain(did) // the DID is inside the ciphertext, not in clear
    expect(JSON.parse(text)).toMatchObject({ format: 'alliance-net-backup' })

    await alice.getByLabel('backup file').setInputFiles(path)
    await alice.getByLabel('restore passphrase').fill('backup secret 1')
    await alice.getByLabel('new profile name').fill('carol')
    await alice.getByRole('button', { name: 'Restore and open' }).click()
    await alice.waitForURL(/peer=carol/)
    await waitForFacade(alice)
    expect(await alice.evaluate(() => window.alliance?.profile)).toBe('carol')
    expect(await facadeDid(alice)).toBe(did)
    await alice.close()
  })

  it('opens offline after one online visit (service worker precache)', async () => {
    const page = await openPeer(stack.context, stack.app.url, 'alice')
    await page.evaluate(async () => { await navigator.serviceWorker.ready })
    await page.reload()
    await waitForFacade(page)
    expect(await page.evaluate(() => navigator.serviceWorker.controller != null)).toBe(true)
    const did = await facadeDid(page)
    await stack.context.setOffline(true)
    try {
      await page.reload()
      await waitForFacade(page)
      expect(await facadeDid(page)).toBe(did)
      await expect.poll(() => page.getByTestId('did').textContent()).toBe(did)
    } finally {
      await stack.context.setOffline(false)
    }
    await page.close()
  })
})
