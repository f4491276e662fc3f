/**
 * Where the time of mesh formation goes (issue 9): N kernel tabs started at once on a fresh
 * relay, as in the formation bench, with every tab's mesh log, connection events and
 * `@libp2p/webrtc`'s own trace lines merged into one timeline (ms since the tabs were told to
 * start), then one line per WebRTC handshake: when each side discovered the other, when the
 * dial started, SDP offer/answer, ICE connected, the connection opened, and how it ended.
 * A diagnostic, not part of `npm run bench`:
 *
 *   flock /work/bench.lock npx tsx test/bench/mesh-trace.ts 4 [--timeline]
 *
 * Tabs are named T1…TN by PeerId order (T1 the lowest; who dials first is `dialsFirst`, SPEC N9).
 */
import type { Page } from 'playwright-core'
import { bundleForBrowser } from './bundle.ts'
import { withEnv } from './mesh.ts'

const ENTRY = 'test/bench/mesh-browser-entry.ts'
const DEBUG = process.env.MESH_TRACE_DEBUG ?? 'libp2p:webrtc,libp2p:webrtc:trace'

interface Line { at: number, tab: string, text: string }

async function main (): Promise<void> {
  const n = Number(process.argv[2] ?? 4)
  const showTimeline = process.argv.includes('--timeline')
  const deadline = Number(process.env.MESH_FORM_DEADLINE_MS ?? 60_000)
  const code = await bundleForBrowser(ENTRY)
  await withEnv(async (env) => {
    const pages: Page[] = []
    const raw: Array<{ at: number, page: number, text: string }> = []
    for (let i = 0; i < n; i++) {
      const page = await env.context.newPage()
      await page.addInitScript((d) => {
        localStorage.setItem('debug', d)
        // stamp console lines in the page: console events reach Node in bursts, late
        for (const k of ['log', 'debug', 'info', 'warn', 'error'] as const) {
          const orig = console[k].bind(console)
          console[k] = (...args: unknown[]) => { orig(`@${Math.round(performance.timeOrigin + performance.now())}`, ...args) }
        }
      }, DEBUG)
      page.on('console', msg => {
        const text = msg.text()
        const m = /^@(\d+) /.exec(text)
        raw.push({ at: m != null ? Number(m[1]) : Date.now(), page: i, text: m != null ? text.slice(m[0].length) : text })
      })
      await page.goto(`${env.app.url}robots.txt`)
      await page.addScriptTag({ content: code, type: 'module' })
      await page.waitForFunction(() => window.meshBench != null, undefined, { timeout: 30_000 })
      pages.push(page)
    }
    const want = Math.min(n - 1, 8)
    const t0 = Date.now()
    const ids = await Promise.all(pages.map(async p => await p.evaluate(async (o) => await window.meshBench!.start(o), { relays: env.relay.multiaddrs, targetDirect: 8 })))
    let formed: number | undefined
    while (Date.now() - t0 < deadline) {
      const counts = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.state().direct.length)))
      if (counts.every(c => c >= want)) { formed = Date.now() - t0; break }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const logs = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.log())))
    const stats = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.stats())))
    await Promise.allSettled(pages.map(async p => { await p.evaluate(async () => { await window.meshBench?.stop() }); await p.close() }))

    const order = ids.map((x, i) => ({ id: x.peerId, i })).sort((a, b) => (a.id < b.id ? -1 : 1))
    const name = new Map<string, string>()
    order.forEach((x, rank) => { name.set(x.id, `T${rank + 1}`) })
    const tabOf = (i: number): string => name.get(ids[i].peerId) ?? `?${i}`
    const rename = (text: string): string => text.replace(/12D3KooW\w+/g, id => name.get(id) ?? (id === env.relay.peerId ? 'R' : `${id.slice(-4)}`))
    const lines: Line[] = []
    logs.forEach((l, i) => {
      for (const entry of l) {
        const sp = entry.indexOf(' ')
        lines.push({ at: Number(entry.slice(0, sp)) - t0, tab: tabOf(i), text: rename(entry.slice(sp + 1)) })
      }
    })
    for (const r of raw) lines.push({ at: r.at - t0, tab: tabOf(r.page), text: rename(r.text.replace(/%c|color: \S+/g, '').replace(/(SDP (offer|answer)|ICE candidate).*/s, '$1 …').slice(0, 160)) })
    lines.sort((a, b) => a.at - b.at)
    if (showTimeline) for (const l of lines) console.log(`${String(l.at).padStart(6)} ${l.tab} ${l.text}`)

    console.log(`\n${n} tabs: ${formed != null ? `formed in ${formed} ms` : `not formed in ${deadline} ms`}; dials ${stats.map(s => s.webrtcDialAttempts).join(',')} failures ${stats.map(s => s.webrtcDialFailures).join(',')} duplicates closed ${stats.map(s => s.duplicateConnectionsClosed).join(',')}`)
    const first = (tab: string, re: RegExp): number | undefined => lines.find(l => l.tab === tab && re.test(l.text))?.at
    for (const { id } of order) {
      const t = name.get(id) ?? ''
      console.log(`${t}: relay reserved ${first(t, /relay-keeper: .* reserved/) ?? '-'} ms, first announce seen by others ${Math.min(...lines.filter(l => l.tab !== t && new RegExp(`mesh: discovered ${t} `).test(l.text)).map(l => l.at))} ms`)
    }
    // one line per outbound dial: discovery on both sides, dial, open/failure
    for (const { id: a } of order) {
      const ta = name.get(a) ?? ''
      for (const { id: b } of order) {
        const tb = name.get(b) ?? ''
        if (a === b) continue
        const dials = lines.filter(l => l.tab === ta && l.text.startsWith(`mesh: dialing ${tb} `))
        for (const d of dials) {
          const end = lines.find(l => l.tab === ta && l.at >= d.at && (l.text.startsWith(`mesh: direct connection to ${tb} `) || l.text.startsWith(`mesh: upgrade to ${tb} failed`)))
          console.log(`  ${ta}→${tb}: ${ta} saw ${tb} ${first(ta, new RegExp(`mesh: discovered ${tb} `)) ?? '-'}, ${tb} saw ${ta} ${first(tb, new RegExp(`mesh: discovered ${ta} `)) ?? '-'}, dial ${d.at}, ` +
            `${end != null ? `${end.at} ${end.text.replace(/^mesh: /, '')}` : 'no end'}`)
        }
      }
    }
  })
}

await main()
