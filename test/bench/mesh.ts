/**
 * Mesh benchmarks (issue 3): Debian's Chromium through Playwright, a real relay in this
 * process and the built app (dist/, which `npm run bench` builds first). Each bench starts and
 * closes its own relay, static server and browser.
 *
 * - reservation: page load (navigation start) of the built app → relay reservation, fresh
 *   profiles, cold (a new browser context each: no HTTP cache, no service worker) and warm;
 * - links: kernel pages (test/bench/mesh-browser-entry.ts: a bare AllianceNet with
 *   `targetDirect: 0`, so nothing dials by itself, plus bench-only byte sinks): dial → open
 *   direct WebRTC connection (redials of one pair, and first contact of new pairs), raw stream
 *   throughput direct vs relayed;
 * - gossip: six kernel pages in a full direct mesh, publish → all five others received;
 * - capacity: tabs of the built app added four at a time until one step misses its deadline.
 *
 * Knobs (env): MESH_TABS_MAX (default 16), MESH_TABS_STEP (4), MESH_TABS_STEP_MS (60000),
 * MESH_TABS_BUDGET_MS (300000), MESH_SAMPLES (7), MESH_DEBUG (a libp2p debug pattern, e.g.
 * `libp2p:webrtc,libp2p:webrtc:trace`, for kernel pages and capacity tabs, whose console then
 * goes to stderr; kernel pages also log the life of each WebRTC 'init' channel).
 * `withEnv`, `kernelPage` and `capacityIn` are exported for one-off experiments (e.g. the
 * capacity steps against a differently configured relay).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { bundleForBrowser } from './bundle.ts'
import { cpus, loadavg, tmpdir } from 'node:os'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { startRelay, type RelayHandle } from '../../src/relay/relay.ts'
import { CHROMIUM, CHROMIUM_ARGS, openPeer, startApp } from '../e2e/harness.ts'
import type { StaticServer } from '../../scripts/static-server.ts'
import { median, report } from './report.ts'
import type { StartOptions, Transfer } from './mesh-browser-entry.ts'

const SAMPLES = Number(process.env.MESH_SAMPLES ?? 7)
const KIB = 1024
const MIB = 1024 * 1024

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))]
}

function load (): string {
  return loadavg().map(x => x.toFixed(2)).join('/')
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function meshKernel (): Promise<string> {
  return await bundleForBrowser('test/bench/mesh-browser-entry.ts')
}

let kernelCount = 0

export interface Env { relay: Pick<RelayHandle, 'multiaddrs' | 'peerId' | 'stop'>, app: StaticServer, browser: Browser, context: BrowserContext }

/**
 * The relay as `npm run relay` runs it: its own Node process (a fresh key in a temp dir, a free
 * port). In this process its event loop would also serve Playwright's traffic with every page
 * (page.evaluate polls, console lines), which delays each signaling round trip through it on a
 * loaded machine; a deployed relay shares its loop with nobody.
 */
async function relayProcess (): Promise<Pick<RelayHandle, 'multiaddrs' | 'peerId' | 'stop'>> {
  const dir = mkdtempSync(join(tmpdir(), 'alliance-bench-relay-'))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/relay/main.ts', '--port', '0', '--key', join(dir, 'relay.key')], { stdio: ['ignore', 'pipe', 'inherit'] })
  const multiaddrs = await new Promise<string[]>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => { reject(new Error(`relay process gave no address in 30 s: ${text}`)) }, 30_000)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`relay process exited (${code}): ${text}`)) })
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const addrs = text.split('\n').filter(l => l.startsWith('/') && l.includes('/p2p/'))
      if (addrs.length > 0) { clearTimeout(timer); resolve(addrs) }
    })
  })
  child.stdout.resume()
  const peerId = multiaddrs[0].split('/p2p/').pop() ?? ''
  return {
    multiaddrs,
    peerId,
    stop: async () => {
      if (child.exitCode == null) {
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGTERM')
        await Promise.race([exited, sleep(5_000)])
        if (child.exitCode == null) child.kill('SIGKILL')
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A relay, the static server (told the relay) and Chromium; closed whatever `run` does. The
 * relay runs in this process unless `relay: 'process'` (or MESH_RELAY=process) asks for its
 * own (`relayProcess`). */
export async function withEnv (run: (env: Env) => Promise<void>, opts: { relay?: 'inline' | 'process' } = {}): Promise<void> {
  const where = process.env.MESH_RELAY === 'inline' || process.env.MESH_RELAY === 'process' ? process.env.MESH_RELAY : opts.relay ?? 'inline'
  const relay = where === 'process' ? await relayProcess() : await startRelay({ port: 0, log: () => {} })
  let app: StaticServer | undefined
  let browser: Browser | undefined
  try {
    app = await startApp(relay.multiaddrs)
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    // the kernel is an inline module script; the app's CSP (SPEC N6) forbids those, rightly
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true })
    await run({ relay, app, browser, context })
  } finally {
    await browser?.close().catch(() => {})
    await app?.close().catch(() => {})
    await relay.stop().catch(() => {})
  }
}

/** A page of the app's origin (localhost: WebCrypto needs a secure context) running the
 * kernel, with its AllianceNet started. The page is a static file of the app (robots.txt),
 * so the app itself does not run in it. */
export async function kernelPage (env: Env, opts: Omit<StartOptions, 'relays'>): Promise<{ page: Page, did: string, peerId: string }> {
  const page = await env.context.newPage()
  page.on('pageerror', err => { console.error('[mesh kernel] page error:', err.message) })
  const debug = process.env.MESH_DEBUG
  if (debug != null) {
    // libp2p's browser logger reads localStorage.debug when the kernel loads
    await page.addInitScript((d) => {
      localStorage.setItem('debug', d)
      // the life of each WebRTC 'init' channel (the initiator waits for it to open)
      const create = RTCPeerConnection.prototype.createDataChannel
      RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, label: string, init?: RTCDataChannelInit) {
        const ch = create.call(this, label, init)
        if (label === 'init') {
          const t0 = performance.now()
          for (const ev of ['open', 'closing', 'close', 'error']) {
            ch.addEventListener(ev, () => { console.log(`init channel ${ev} after ${Math.round(performance.now() - t0)} ms (pc ${this.connectionState}, sctp ${this.sctp?.state})`) })
          }
        }
        return ch
      }
    }, debug)
    const tag = `[k${++kernelCount}]`
    page.on('console', msg => { console.error(tag, msg.text()) })
  }
  await page.goto(`${env.app.url}robots.txt`)
  await page.addScriptTag({ content: await meshKernel(), type: 'module' })
  await page.waitForFunction(() => window.meshBench != null, undefined, { timeout: 30_000 })
  const id = await page.evaluate(async (o) => await window.meshBench!.start(o), { ...opts, relays: env.relay.multiaddrs })
  return { page, ...id }
}

async function waitReserved (pages: Page[], timeout = 30_000): Promise<void> {
  await Promise.all(pages.map(async p => {
    await p.waitForFunction(() => { const r = window.meshBench!.state().relays; return r.length > 0 && r.every(s => s === 'reserved') }, undefined, { timeout, polling: 50 })
  }))
}

async function stopKernels (pages: Page[]): Promise<void> {
  await Promise.allSettled(pages.map(async p => {
    await p.evaluate(async () => { await window.meshBench?.stop() }).catch(() => {})
    await p.close()
  }))
}

// ---------------------------------------------------------------------------------------
// 1. page load → relay reservation (built app)

/** Times of one fresh profile, from navigation start (performance.now() of the page): facade
 * installed (wallet created) and every configured relay reserved. An init script polls every
 * 10 ms from the first moment of the page, so the figures do not depend on Playwright. */
async function loadToReservation (context: BrowserContext, url: string, profile: string): Promise<{ facadeMs: number, reservedMs: number }> {
  const page = await context.newPage()
  try {
    await page.addInitScript(() => {
      const w = window as unknown as { __meshT?: { facade?: number, reserved?: number } }
      w.__meshT = {}
      const timer = setInterval(() => {
        const a = window.alliance
        if (a == null) return
        w.__meshT!.facade ??= performance.now()
        const rs = a.relays()
        if (rs.length > 0 && rs.every(r => r.state === 'reserved')) {
          w.__meshT!.reserved = performance.now()
          clearInterval(timer)
        }
      }, 10)
    })
    await page.goto(`${url}?peer=${profile}`)
    const t = await page.waitForFunction(() => {
      const m = (window as unknown as { __meshT?: { facade?: number, reserved?: number } }).__meshT
      return m?.reserved != null ? { facadeMs: m.facade ?? m.reserved, reservedMs: m.reserved } : false
    }, undefined, { timeout: 60_000, polling: 50 })
    const v = await t.jsonValue()
    if (v === false) throw new Error('unreachable: waitForFunction resolved without a value')
    return v
  } finally {
    await page.close()
  }
}

export async function benchReservation (): Promise<void> {
  await withEnv(async (env) => {
    const loadBefore = load()
    const stamp = Date.now().toString(36)
    const cold: Array<{ facadeMs: number, reservedMs: number }> = []
    for (let i = 0; i < SAMPLES; i++) {
      const ctx = await env.browser.newContext({ viewport: { width: 390, height: 844 } })
      try {
        cold.push(await loadToReservation(ctx, env.app.url, `rsv-cold-${stamp}-${i}`))
      } finally {
        await ctx.close()
      }
    }
    // warm: one context whose caches and service worker a first load primed
    await loadToReservation(env.context, env.app.url, `rsv-prime-${stamp}`)
    const warm: Array<{ facadeMs: number, reservedMs: number }> = []
    for (let i = 0; i < SAMPLES; i++) warm.push(await loadToReservation(env.context, env.app.url, `rsv-warm-${stamp}-${i}`))

    const ms = (xs: Array<{ reservedMs: number }>): string => xs.map(x => Math.round(x.reservedMs)).join(',')
    report({
      bench: 'mesh',
      metric: 'chromium.load-to-reservation.cold.median',
      value: median(cold.map(x => x.reservedMs)),
      unit: 'ms',
      note: `navigation start → all relays reserved; new profile + new browser context each (no cache, no SW); n=${SAMPLES} [${ms(cold)}]; facade (wallet created) at median ${Math.round(median(cold.map(x => x.facadeMs)))} ms; load ${loadBefore}`
    })
    report({
      bench: 'mesh',
      metric: 'chromium.load-to-reservation.warm.median',
      value: median(warm.map(x => x.reservedMs)),
      unit: 'ms',
      baseline: median(cold.map(x => x.reservedMs)),
      note: `same, new profile in a context with cache and SW primed; n=${SAMPLES} [${ms(warm)}]; facade at median ${Math.round(median(warm.map(x => x.facadeMs)))} ms; ratio = warm / cold`
    })
  })
}

// ---------------------------------------------------------------------------------------
// 2 + 3. dial → direct WebRTC; stream throughput direct vs relayed (kernel pages)

interface Kernel { page: Page, did: string, peerId: string }

/**
 * Brings two kernel pages back to "never met": lets the last connection settle (identify and
 * the mesh's RTT ping run right after a connection opens; a ping whose connection vanished
 * dials the peer again by PeerId), hangs up on both sides, and waits until neither side has
 * had a connection to the other for a second.
 */
async function separate (a: Kernel, b: Kernel): Promise<void> {
  await sleep(1_000)
  const deadline = Date.now() + 20_000
  let quietSince: number | undefined
  while (Date.now() < deadline) {
    const [x, y] = await Promise.all([
      a.page.evaluate((p) => window.meshBench!.connCount(p), b.peerId),
      b.page.evaluate((p) => window.meshBench!.connCount(p), a.peerId)
    ])
    if (x === 0 && y === 0) {
      quietSince ??= Date.now()
      if (Date.now() - quietSince >= 1_000) return
    } else {
      quietSince = undefined
      await a.page.evaluate(async (p) => { await window.meshBench!.hangUp(p) }, b.peerId)
      await b.page.evaluate(async (p) => { await window.meshBench!.hangUp(p) }, a.peerId)
    }
    await sleep(100)
  }
  throw new Error('the two kernel pages still have a connection 20 s after hanging up')
}

function checkTransfer (t: Transfer, what: string): Transfer {
  if (t.ackedBytes !== t.bytes) throw new Error(`${what}: sent ${t.bytes} bytes, receiver acked ${t.ackedBytes}`)
  return t
}

export async function benchLinks (): Promise<void> {
  await withEnv(async (env) => {
    const loadBefore = load()
    const small = 100 * KIB
    const chunk = 64 * KIB
    const big = 8 * MIB
    const relayed: Transfer[] = []
    const dials: number[] = []
    const failures: string[] = []
    const attempts = Math.max(8, SAMPLES)
    const directSmall: Transfer[] = []
    const directBig: Transfer[] = []
    let idleCheck = ''
    let churn = ''

    const a = await kernelPage(env, { targetDirect: 0, discoveryIntervalMs: 2_000 })
    const b = await kernelPage(env, { targetDirect: 0, discoveryIntervalMs: 2_000 })
    try {
      await waitReserved([a.page, b.page])
      // targetDirect: 0 must mean that nothing dials by itself: once both have discovered the
      // other, give the mesh a few more maintenance ticks and check there is no connection
      const discoveredBoth = await Promise.all([a, b].map(async k => await k.page.waitForFunction(
        () => window.meshBench!.state().discovered >= 1, undefined, { timeout: 15_000, polling: 100 }).then(() => true, () => false)))
      await sleep(3_000)
      const idle = await Promise.all([a, b].map(async (k, i) => await k.page.evaluate(
        (p) => ({ ...window.meshBench!.state(), toOther: window.meshBench!.connCount(p) }), [b, a][i].peerId)))
      if (idle.some(s => s.toOther !== 0)) {
        throw new Error(`targetDirect: 0 still connected the pages by itself: ${JSON.stringify(idle.map(s => s.conns))}`)
      }
      idleCheck = discoveredBoth.every(Boolean)
        ? 'verified: with targetDirect 0, no connection 3 s after both discovered each other'
        : `NOT verified: discovery did not complete in 15 s (discovered ${idle.map(s => s.discovered).join('/')})`

      // relayed path first (while there is no direct connection the mesh could prefer): a new
      // circuit per sample, because the relay allows 128 KiB per relayed connection in total
      for (let i = 0; i <= SAMPLES; i++) { // the first one warms up (JIT, WS buffers) and is dropped
        if (i === 1) relayed.length = 0
        relayed.push(checkTransfer(await a.page.evaluate(async ([p, n, c]) => await window.meshBench!.transferRelayed(p, n, c), [b.peerId, small, chunk] as const), 'relayed'))
        await separate(a, b)
      }

      // redials of one pair, alternating who dials; both sides without a connection to each
      // other for ≥ 1 s before each dial
      for (let i = 0; i < attempts; i++) {
        const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
        try {
          const r = await from.page.evaluate(async (did) => await window.meshBench!.timeConnectDirect(did), to.did)
          if (r.limited) throw new Error('connectDirect returned a limited connection')
          dials.push(r.ms)
        } catch (err) {
          const chain = (err as Error).message.split('; log:')[0].split(' <- ')
          failures.push(`#${i} ${i % 2 === 0 ? 'a→b' : 'b→a'}: ${chain[chain.length - 1]}`)
        }
        await separate(a, b)
      }

      // direct path; a transfer whose connection went away (the mesh closes both of two
      // simultaneous direct connections, and with targetDirect 0 nobody redials) is redone on a
      // fresh one: transferDirect connects before it starts timing
      let redone = 0
      const direct = async (bytes: number, what: string): Promise<Transfer> => {
        for (let tries = 1; ; tries++) {
          try {
            return checkTransfer(await a.page.evaluate(async ([did, n, c]) => await window.meshBench!.transferDirect(did, n, c), [b.did, bytes, chunk] as const), what)
          } catch (err) {
            if (tries >= 4 || (err as Error).message.match(/NotDirectlyConnected|could not open a direct connection/) == null) throw err
            redone++
            await sleep(500)
          }
        }
      }
      await direct(2 * MIB, 'direct warm-up') // also makes the connection (not timed)
      await sleep(2_000) // identify and the mesh's RTT ping run right after a connection opens
      for (let i = 0; i < SAMPLES; i++) directSmall.push(await direct(small, 'direct'))
      for (let i = 0; i < 5; i++) directBig.push(await direct(big, 'direct 8 MiB'))
      if ([...directSmall, ...directBig].some(t => t.limited)) throw new Error('a direct transfer ran on a limited connection')
      if (relayed.some(t => !t.limited)) throw new Error('a relayed transfer ran on an unlimited connection')
      const meshStats = await Promise.all([a, b].map(async k => await k.page.evaluate(() => window.meshBench!.stats())))
      churn = `direct transfers redone after a lost connection: ${redone}; duplicate direct connections closed by the mesh (a/b): ${meshStats.map(x => x.duplicateConnectionsClosed).join('/')}`
    } finally {
      await stopKernels([a.page, b.page])
    }

    // first contact: a new pair of tabs per dial
    const fresh = await freshPairDials(env, Math.max(8, SAMPLES))

    const what = 'AllianceNet.connectDirect(did) with no connection between the two (relay circuit + WebRTC signaling over it + ICE + DTLS + SCTP + init channel), kernel tabs with targetDirect 0'
    const listMs = (xs: number[]): string => `n=${xs.length} [${xs.map(Math.round).join(',')}] p95 ${Math.round(percentile(xs, 95))}`
    if (fresh.dials.length > 0) {
      report({
        bench: 'mesh',
        metric: 'chromium.dial-to-direct.first-contact.median',
        value: median(fresh.dials),
        unit: 'ms',
        note: `successful ${what}; a new pair of tabs per dial, both reserved; ${listMs(fresh.dials)}; ${fresh.failures.length} of ${fresh.dials.length + fresh.failures.length} failed; load ${loadBefore}`
      })
    }
    if (dials.length > 0) {
      report({
        bench: 'mesh',
        metric: 'chromium.dial-to-direct.redial.median',
        value: median(dials),
        unit: 'ms',
        note: `successful ${what}; one pair dialing alternately after hanging up (${idleCheck}); ${listMs(dials)}; ${failures.length} of ${attempts} failed`
      })
    }
    const allFailures = [...fresh.failures.map(f => `first-contact ${f}`), ...failures.map(f => `redial ${f}`)]
    report({
      bench: 'mesh',
      metric: 'chromium.dial-to-direct.failed',
      value: allFailures.length,
      unit: `of ${fresh.dials.length + fresh.failures.length + attempts} dials`,
      note: `dials that failed at libp2p's dial timeout (~5 s) [${allFailures.join(' | ')}]; traced: the initiator's init data channel opens and is closed by the recipient before the initiator's RTCPeerConnection reports "connected", and @libp2p/webrtc initiate-connection then waits for an "open" event that never comes; the mesh retries after its backoff`
    })

    const rate = (ts: Transfer[]): number => median(ts.map(t => t.mbPerS))
    const list = (ts: Transfer[]): string => ts.map(t => t.mbPerS.toFixed(2)).join(',')
    const opens = (ts: Transfer[]): number => Math.round(median(ts.map(t => t.openMs)) * 10) / 10
    report({
      bench: 'mesh',
      metric: 'chromium.stream.direct.8MiB.median',
      value: rate(directBig),
      unit: 'MB/s',
      note: `8 MiB in 64 KiB writes on one stream over one direct WebRTC connection between two tabs, first write → receiver's ack after EOF (stream already open, median open ${opens(directBig)} ms; after a discarded 2 MiB warm-up); n=${directBig.length} [${list(directBig)}]; MB = 10^6 bytes`
    })
    report({
      bench: 'mesh',
      metric: 'chromium.stream.relayed.100KiB.median',
      value: rate(relayed),
      unit: 'MB/s',
      note: `100 KiB (64 KiB writes) on a runOnLimitedConnection stream over a relayed circuit connection (tab → WS → relay in Node → WS → tab), fresh circuit each sample, dialed before timing, first of ${SAMPLES + 1} dropped as warm-up (relay data limit 128 KiB per circuit, both directions and all streams counted); n=${relayed.length} [${list(relayed)}]; median stream open ${opens(relayed)} ms`
    })
    report({
      bench: 'mesh',
      metric: 'chromium.stream.direct.100KiB.median',
      value: rate(directSmall),
      unit: 'MB/s',
      baseline: rate(relayed),
      note: `same 100 KiB transfer over the direct WebRTC connection; n=${directSmall.length} [${list(directSmall)}]; median stream open ${opens(directSmall)} ms; ratio = direct / relayed at equal size (the relay cannot carry more than 128 KiB per circuit); ${churn}`
    })
  })
}

/** Dial → direct between two tabs that never met: a new pair of kernel pages per sample. */
async function freshPairDials (env: Env, count: number): Promise<{ dials: number[], failures: string[] }> {
  const dials: number[] = []
  const failures: string[] = []
  for (let i = 0; i < count; i++) {
    const a = await kernelPage(env, { targetDirect: 0, discoveryIntervalMs: 2_000 })
    const b = await kernelPage(env, { targetDirect: 0, discoveryIntervalMs: 2_000 })
    try {
      await waitReserved([a.page, b.page])
      await sleep(500)
      const r = await a.page.evaluate(async (did) => await window.meshBench!.timeConnectDirect(did), b.did)
      dials.push(r.ms)
    } catch (err) {
      const chain = (err as Error).message.split('; log:')[0].split(' <- ')
      failures.push(`#${i}: ${chain[chain.length - 1]}`)
    } finally {
      await stopKernels([a.page, b.page])
    }
  }
  return { dials, failures }
}

// ---------------------------------------------------------------------------------------
// 4. gossip delivery across six tabs (kernel pages, full direct mesh)

export async function benchGossip (): Promise<void> {
  await withEnv(async (env) => {
    const loadBefore = load()
    const topic = 'alliance-bench/gossip/1'
    const tabs: Kernel[] = []
    try {
      for (let i = 0; i < 6; i++) tabs.push(await kernelPage(env, { discoveryIntervalMs: 2_000 }))
      await waitReserved(tabs.map(t => t.page))
      const t0 = Date.now()
      await Promise.all(tabs.map(async t => {
        await t.page.waitForFunction(() => window.meshBench!.state().direct.length >= 5, undefined, { timeout: 120_000, polling: 250 })
      }))
      const meshMs = Date.now() - t0
      await Promise.all(tabs.map(async t => { await t.page.evaluate((tp) => { window.meshBench!.subscribe(tp) }, topic) }))
      await Promise.all(tabs.map(async t => {
        await t.page.waitForFunction((tp) => window.meshBench!.topicPeers(tp) >= 5, topic, { timeout: 30_000, polling: 100 })
      }))
      await sleep(2_000) // a couple of gossipsub heartbeats

      const warmup = 3
      const count = 40 + warmup
      const sent: Array<{ id: string, from: number, at: number, recipients: number }> = []
      for (let i = 0; i < count; i++) {
        const from = i % tabs.length
        const id = `m${i}`
        const r = await tabs[from].page.evaluate(async ([tp, mid]) => await window.meshBench!.publish(tp, mid), [topic, id] as const)
        sent.push({ id, from, ...r })
        await sleep(150)
      }
      await sleep(3_000)
      const ids = sent.map(s => s.id)
      const arrivals = await Promise.all(tabs.map(async t => await t.page.evaluate((x) => window.meshBench!.receivedAt(x), ids)))
      const allFive: number[] = []
      const each: number[] = []
      let missing = 0
      for (const [k, s] of sent.entries()) {
        if (k < warmup) continue
        const lat: number[] = []
        for (let j = 0; j < tabs.length; j++) {
          if (j === s.from) continue
          const at = arrivals[j][k]
          if (at == null) missing++
          else lat.push(at - s.at)
        }
        each.push(...lat)
        if (lat.length === tabs.length - 1) allFive.push(Math.max(...lat))
      }
      const n = count - warmup
      report({
        bench: 'mesh',
        metric: 'chromium.gossip.6tabs.all-received.median',
        value: median(allFive),
        unit: 'ms',
        note: `publish() on one kernel tab → last of the other five received it (gossipsub, floodPublish, 256-byte messages, full direct mesh of 6 formed in ${meshMs} ms); ${n} messages, publishers rotating, 150 ms apart; clock performance.timeOrigin + now() of one browser; single receiver median ${median(each).toFixed(1)} ms; ${missing} of ${n * 5} deliveries missing; load ${loadBefore}`
      })
      report({ bench: 'mesh', metric: 'chromium.gossip.6tabs.all-received.p95', value: percentile(allFive, 95), unit: 'ms', note: `same, 95th percentile (nearest rank) of ${allFive.length} messages; max ${Math.max(...allFive).toFixed(1)} ms` })
    } finally {
      await stopKernels(tabs.map(t => t.page))
    }
  })
}

// ---------------------------------------------------------------------------------------
// 5. tabs one machine sustains in one mesh (built app)

interface TabState { direct: number, relayed: number, reserved: boolean, relays: string }

async function tabStates (pages: Page[]): Promise<TabState[]> {
  return await Promise.all(pages.map(async p => await p.evaluate(() => {
    const a = window.alliance
    const rs = a?.relays() ?? []
    const peers = a?.peers() ?? []
    return {
      direct: peers.filter(x => x.kind === 'direct').length,
      relayed: peers.filter(x => x.kind === 'relayed').length,
      reserved: rs.length > 0 && rs.every(r => r.state === 'reserved'),
      relays: rs.map(r => r.state).join('+')
    }
  }).catch((err: Error) => ({ direct: -1, relayed: -1, reserved: false, relays: `evaluate failed: ${err.message.split('\n')[0]}` }))))
}

/** The tabs short of the target, e.g. `#11 direct 0 relayed 3 relay reserved`. */
function laggards (states: TabState[], want: number): string {
  return states.flatMap((s, i) => s.direct >= want && s.reserved ? [] : [`#${i} direct ${s.direct} relayed ${s.relayed} relay ${s.relays}`]).join('; ')
}

export async function benchCapacity (): Promise<void> {
  await withEnv(capacityIn)
}

/** The capacity steps in a given environment (its relay, app and browser context). */
export async function capacityIn (env: Env): Promise<void> {
  const max = Number(process.env.MESH_TABS_MAX ?? 16)
  const step = Number(process.env.MESH_TABS_STEP ?? 4)
  const stepMs = Number(process.env.MESH_TABS_STEP_MS ?? 60_000)
  const budgetMs = Number(process.env.MESH_TABS_BUDGET_MS ?? 300_000)
  const targetDirect = 8 // the app's default (DEFAULT_TARGET_DIRECT)
  const started = Date.now()
  const stamp = Date.now().toString(36)
  const pages: Page[] = []
  let sustained = 0
  if (process.env.MESH_DEBUG != null) {
    await env.context.addInitScript((d) => { localStorage.setItem('debug', d) }, process.env.MESH_DEBUG)
    env.context.on('console', msg => { console.error(`[${new URL(msg.page()?.url() ?? 'http://x/?peer=?').searchParams.get('peer') ?? '?'}]`, msg.text()) })
  }
  const steps: string[] = []
  for (let n = step; n <= max; n += step) {
    if (Date.now() - started > budgetMs) { steps.push(`N=${n}: skipped (budget)`); break }
    const want = Math.min(n - 1, targetDirect)
    const loadBefore = load()
    const t0 = Date.now()
    while (pages.length < n) pages.push(await openPeer(env.context, env.app.url, `cap-${stamp}-${pages.length}`))
    const openedMs = Date.now() - t0
    let formedMs: number | undefined
    let last: TabState[] = []
    while (Date.now() - t0 < openedMs + stepMs) {
      last = await tabStates(pages)
      if (last.every(s => s.reserved && s.direct >= want)) { formedMs = Date.now() - t0; break }
      await sleep(250)
    }
    const dist = last.map(s => s.direct).join(',')
    if (formedMs == null) {
      steps.push(`N=${n}: not formed within ${stepMs} ms after the last tab opened (direct per tab ${dist}; short: ${laggards(last, want)})`)
      report({ bench: 'mesh', metric: `chromium.tabs.N${n}.mesh-formed`, value: -1, unit: 'ms', note: `not formed: every tab ≥ ${want} direct within ${stepMs} ms after opening (tabs opened in ${openedMs} ms); direct per tab at the deadline [${dist}], short: ${laggards(last, want)}; load ${loadBefore} → ${load()}` })
      break
    }
    await sleep(5_000)
    const held = await tabStates(pages)
    const ok = held.every(s => s.reserved && s.direct >= want)
    const lost = ok ? '' : ` NOT HELD (${laggards(held, want)})`
    report({
      bench: 'mesh',
      metric: `chromium.tabs.N${n}.mesh-formed`,
      value: formedMs,
      unit: 'ms',
      note: `${n} app tabs (${n - step} already meshed, ${step} new opened one by one in ${openedMs} ms, from the first new tab's open to every tab reserved with ≥ ${want} direct peers; direct per tab [${last.map(s => s.direct).join(',')}], after 5 s [${held.map(s => s.direct).join(',')}]${lost}; load ${loadBefore} → ${load()}`
    })
    steps.push(`N=${n}: ${formedMs} ms${ok ? '' : ' (not held)'}`)
    if (!ok) break
    sustained = n
  }
  report({
    bench: 'mesh',
    metric: 'chromium.tabs.sustained',
    value: sustained,
    unit: 'tabs',
    note: `largest N (steps of ${step}, cap ${max}) whose tabs of the built app, one Chromium on a ${cpus().length}-core machine shared with the relay and the driver, all reached ≥ min(N-1, ${targetDirect}) direct peers within ${stepMs} ms of the last tab opening and kept them 5 s; ${steps.join('; ')}`
  })
  await Promise.allSettled(pages.map(async p => { await p.close() }))
}
