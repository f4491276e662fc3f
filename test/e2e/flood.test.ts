// Issue 9, "resource limits on the wire", end to end: a Node attacker linked directly to a
// tab floods it with invalid ledger gossip and with discovery records of keys that are not
// its own (SPEC N11, N12). The tab stores nothing of it, learns none of the fake peers, hangs
// up on the attacker, keeps its memory bounded, and still takes a DM from an honest tab.
// Then a `?relay=` link does not replace saved relays without the user's yes (N15).
import '../../src/net/node-polyfills.ts'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from '@noble/hashes/utils.js'
import { generateKeyPair as libp2pKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { CDPSession } from 'playwright-core'
import { startTabPeers, type TabPeers } from './harness.ts'
import { startPeers, stopAll, waitFor } from '../integration/helpers.ts'
import { allianceContext, blocksTopic } from '../../src/peer/alliance.ts'
import { didFromPeerId } from '../../src/core/identity.ts'
import { DEFAULT_DISCOVERY_TOPIC } from '../../src/net/constants.ts'
import type { AllianceNet } from '../../src/net/node.ts'

let peers: TabPeers
let attacker: AllianceNet
let cdp: CDPSession

const JUNK_BLOCKS = 400
const JUNK_BYTES = 60 * 1024
const FAKE_RECORDS = 300

async function heapAfterGc (): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage')
  return (await cdp.send('Runtime.getHeapUsage')).usedSize
}

/** Polls an async check (a page evaluation) until it holds. */
async function until (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 300))
  }
}

function field (n: number, bytes: Uint8Array): number[] {
  const len: number[] = []
  let v = bytes.length
  while (v >= 0x80) { len.push((v & 0x7f) | 0x80); v >>>= 7 }
  len.push(v)
  return [(n << 3) | 2, ...len, ...bytes]
}

beforeAll(async () => {
  peers = await startTabPeers(['flood1', 'flood2'])
  cdp = await peers.stack.context.newCDPSession(peers.tabs[0])
  ;[attacker] = await startPeers(1, peers.relay.multiaddrs)
}, 180_000)

afterAll(async () => {
  await stopAll([attacker])
  await peers?.close()
})

describe('a tab under a gossip flood', () => {
  it('[N11][N12] stores none of the junk, learns none of the fake peers, hangs up on the attacker and stays bounded', async () => {
    const [tab, honest] = peers.tabs
    const topic = blocksTopic(allianceContext(peers.operator!.genesis))
    const tabDid = peers.dids[0]
    // the tab is in the alliance and subscribed; the attacker is linked to it directly
    await until('the tab is a member of the alliance', async () => await tab.evaluate(() => window.alliance?.ledger.ready() === true && window.alliance.ledger.isMember()), 90_000)
    attacker.libp2p.services.pubsub.subscribe(topic)
    await waitFor('the attacker is directly linked to the tab and sees its subscription', () =>
      attacker.peers().some(p => p.did === tabDid && p.kind === 'direct') &&
      attacker.libp2p.services.pubsub.getSubscribers(topic).some(p => didFromPeerId(p) === tabDid), 90_000, 200)

    const blocksBefore = await tab.evaluate(() => window.alliance?.ledger.stats().blocks ?? -1)
    const heapBefore = await heapAfterGc()

    // fake discovery records: fresh keys the attacker does not hold, with plausible addresses
    const fakes = await Promise.all(Array.from({ length: FAKE_RECORDS }, async () => await libp2pKeyPair('Ed25519')))
    const relayAddr = peers.relay.multiaddrs[0]
    const fakeDids = fakes.map(k => didFromPeerId(peerIdFromPrivateKey(k)))
    let sent = 0
    for (let i = 0; i < Math.max(JUNK_BLOCKS, FAKE_RECORDS); i++) {
      if (i < FAKE_RECORDS) {
        const id = peerIdFromPrivateKey(fakes[i])
        const addr = multiaddr(`${relayAddr}/p2p-circuit/webrtc/p2p/${id.toString()}`).bytes
        const record = Uint8Array.from([...field(1, publicKeyToProtobuf(fakes[i].publicKey)), ...field(2, addr)])
        await attacker.libp2p.services.pubsub.publish(DEFAULT_DISCOVERY_TOPIC, record).catch(() => {})
      }
      if (i < JUNK_BLOCKS) {
        const n = await attacker.libp2p.services.pubsub.publish(topic, randomBytes(JUNK_BYTES)).then(r => r.recipients.length, () => 0)
        sent += n > 0 ? 1 : 0
      }
    }
    // it got some junk through before the tab hung up on it
    expect(sent).toBeGreaterThan(0)

    await waitFor('the tab hung up on the attacker', () => !attacker.peers().some(p => p.did === tabDid && p.kind === 'direct'), 60_000, 200)
    const after = await tab.evaluate((fake) => {
      const a = window.alliance
      const known = new Set((a?.peers() ?? []).map(p => p.did))
      return { blocks: a?.ledger?.stats().blocks ?? -1, fakesKnown: fake.filter(d => known.has(d)).length }
    }, fakeDids)
    expect(after.fakesKnown).toBe(0)
    // nothing of the junk was stored (honest blocks may have arrived meanwhile: only those)
    expect(after.blocks).toBeGreaterThanOrEqual(blocksBefore)
    expect(after.blocks - blocksBefore).toBeLessThan(20)
    const heapGrowth = await heapAfterGc() - heapBefore
    // the flood was JUNK_BLOCKS × 60 KiB = 23 MiB; what the tab keeps of it is bounded by the
    // validations in flight (N11), not by the flood's size
    expect(heapGrowth).toBeLessThan(8 * 1024 * 1024)

    // and the tab still works: an honest tab's DM arrives
    await honest.evaluate(async (to) => { await window.alliance!.send(to, 'still there?') }, tabDid)
    await until('the DM arrived', async () => await tab.evaluate(() => (window.alliance?.messages() ?? []).some(m => m.text === 'still there?')), 60_000)
  }, 300_000)

  it('[N15] a ?relay= link asks before it replaces the saved relays, and only a yes switches them', async () => {
    const tab = peers.tabs[1]
    const saved = peers.relay.multiaddrs[0]
    const other = '/ip4/10.9.9.9/tcp/4001/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    await tab.evaluate((r) => { localStorage.setItem('alliance:flood2:relays', r) }, saved)
    const relayAddrs = async (): Promise<string[]> => await tab.evaluate(() => (window.alliance?.relays() ?? []).map(r => r.addr))
    await tab.goto(`${peers.stack.app.url}?peer=flood2&relay=${encodeURIComponent(other)}`)
    const dialog = tab.getByRole('alertdialog', { name: "Use this link's relays?" })
    await dialog.waitFor({ timeout: 60_000 })
    expect(await relayAddrs()).toEqual([saved])
    await dialog.getByRole('button', { name: 'Keep my relays' }).click()
    await dialog.waitFor({ state: 'detached' })
    expect(await relayAddrs()).toEqual([saved])
    expect(await tab.evaluate(() => localStorage.getItem('alliance:flood2:relays'))).toBe(saved)
    await tab.reload()
    await dialog.getByRole('button', { name: 'Use these relays' }).click()
    await dialog.waitFor({ state: 'detached' })
    expect(await relayAddrs()).toEqual([other])
    expect(await tab.evaluate(() => localStorage.getItem('alliance:flood2:relays'))).toBe(other)
  }, 120_000)
})
