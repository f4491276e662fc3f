/**
 * Mesh formation bench (issue 9): N kernel tabs (test/bench/mesh-browser-entry.ts: a bare
 * AllianceNet with the app's default targetDirect 8) opened at once against a fresh relay;
 * time from the first tab starting its node until every tab holds min(N-1, 8) direct peers.
 *
 * Two variants in the same run, so the figure is a ratio against a baseline measured on the
 * same machine at the same load:
 * - `unpatched`: the kernel bundled with patches/@libp2p+webrtc+*.patch reverted in the
 *   bundle (the library as published: the init-channel dial stall);
 * - `patched`: the kernel as the app ships it.
 * Everything else (src/net, the handshake guard, the relay) is the same in both.
 *
 * Knobs (env): MESH_FORM_TABS (default "4,6,8,16"), MESH_FORM_DEADLINE_MS (90000),
 * MESH_FORM_ROUNDS (1: rounds per N and variant; the median is reported).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import type { Page } from 'playwright-core'
import type { Plugin } from 'vite'
import { bundleForBrowser } from './bundle.ts'
import { withEnv, type Env } from './mesh.ts'
import { median, report } from './report.ts'

const ENTRY = 'test/bench/mesh-browser-entry.ts'
const TARGET_DIRECT = 8

/** The patched and the original text of the one file the webrtc patch changes. */
function webrtcPatchHunks (): { file: string, before: string, after: string } {
  const name = readdirSync('patches').find(f => f.startsWith('@libp2p+webrtc+') && f.endsWith('.patch'))
  if (name == null) throw new Error('patches/@libp2p+webrtc+*.patch not found')
  const text = readFileSync(join('patches', name), 'utf8')
  const file = /^\+\+\+ b\/node_modules\/@libp2p\/webrtc\/(\S+)$/m.exec(text)?.[1]
  if (file == null || text.split('\n+++ ').length !== 2) throw new Error(`${name}: expected a patch of exactly one file`)
  const before: string[] = []
  const after: string[] = []
  let inHunk = false
  for (const line of text.split('\n')) {
    if (line.startsWith('@@')) { inHunk = true; continue }
    if (!inHunk || line.startsWith('\\')) continue
    const body = line.slice(1)
    if (line.startsWith('-')) before.push(body)
    else if (line.startsWith('+')) after.push(body)
    else { before.push(body); after.push(body) }
  }
  return { file, before: before.join('\n').trimEnd(), after: after.join('\n').trimEnd() }
}

/** A Vite plugin that undoes the webrtc patch in the bundle (the published library). */
function unpatchWebrtc (): Plugin {
  const { file, before, after } = webrtcPatchHunks()
  return {
    name: 'alliance-bench-unpatch-webrtc',
    transform (code, id) {
      if (!id.replaceAll('\\', '/').endsWith(`@libp2p/webrtc/${file}`)) return null
      if (!code.includes(after)) throw new Error(`${file} does not contain the patched text: is the patch applied?`)
      return { code: code.replace(after, before), map: null }
    }
  }
}

async function kernel (env: Env, code: string): Promise<Page> {
  const page = await env.context.newPage()
  page.on('pageerror', err => { console.error('[mesh formation] page error:', err.message) })
  await page.goto(`${env.app.url}robots.txt`)
  await page.addScriptTag({ content: code, type: 'module' })
  await page.waitForFunction(() => window.meshBench != null, undefined, { timeout: 30_000 })
  return page
}

interface Round { ms?: number, dist: string, attempts: number, failures: number }

async function formOnce (code: string, n: number, deadlineMs: number): Promise<Round> {
  let out: Round = { dist: '', attempts: 0, failures: 0 }
  await withEnv(async (env) => {
    const pages: Page[] = []
    try {
      for (let i = 0; i < n; i++) pages.push(await kernel(env, code))
      const want = Math.min(n - 1, TARGET_DIRECT)
      const t0 = Date.now()
      await Promise.all(pages.map(async p => {
        await p.evaluate(async (o) => { await window.meshBench!.start(o) }, { relays: env.relay.multiaddrs, targetDirect: TARGET_DIRECT, discoveryIntervalMs: 10_000 })
      }))
      let counts: number[] = []
      while (Date.now() - t0 < deadlineMs) {
        counts = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.state().direct.length)))
        if (counts.every(c => c >= want)) { out.ms = Date.now() - t0; break }
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const stats = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.stats())))
      out = { ...out, dist: counts.join(','), attempts: stats.reduce((s, x) => s + x.webrtcDialAttempts, 0), failures: stats.reduce((s, x) => s + x.webrtcDialFailures, 0) }
    } finally {
      await Promise.allSettled(pages.map(async p => {
        await p.evaluate(async () => { await window.meshBench?.stop() }).catch(() => {})
        await p.close()
      }))
    }
  })
  return out
}

export async function benchFormation (): Promise<void> {
  const sizes = (process.env.MESH_FORM_TABS ?? '4,6,8,16').split(',').map(Number).filter(x => Number.isInteger(x) && x >= 2)
  const deadlineMs = Number(process.env.MESH_FORM_DEADLINE_MS ?? 90_000)
  const rounds = Math.max(1, Number(process.env.MESH_FORM_ROUNDS ?? 1))
  const variants = {
    unpatched: await bundleForBrowser(ENTRY, { name: 'unpatched-webrtc', plugins: [unpatchWebrtc()] }),
    patched: await bundleForBrowser(ENTRY)
  }
  for (const n of sizes) {
    const results: Record<string, Round[]> = { unpatched: [], patched: [] }
    // alternate the variants so that a drift in machine load hits both alike
    for (let r = 0; r < rounds; r++) {
      for (const v of ['unpatched', 'patched'] as const) results[v].push(await formOnce(variants[v], n, deadlineMs))
    }
    const summary = (rs: Round[]): { value: number, note: string } => {
      const ok = rs.filter(x => x.ms != null).map(x => x.ms as number)
      const value = ok.length === rs.length ? median(ok) : deadlineMs
      const note = rs.map(x => `${x.ms ?? `not formed in ${deadlineMs}`} ms, direct per tab [${x.dist}], WebRTC dials ${x.attempts} of which failed ${x.failures}`).join('; ')
      return { value, note }
    }
    const base = summary(results.unpatched)
    const fixed = summary(results.patched)
    const what = `${n} kernel tabs (bare AllianceNet, targetDirect ${TARGET_DIRECT}) started at once on a fresh relay → every tab ≥ ${Math.min(n - 1, TARGET_DIRECT)} direct peers; median of ${rounds}; a round not formed counts as the deadline`
    report({ bench: 'mesh', metric: `chromium.formation.N${n}.unpatched-webrtc`, value: base.value, unit: 'ms', note: `${what}; @libp2p/webrtc as published (patch reverted in the bundle): ${base.note}; load ${loadavg()[0].toFixed(2)}` })
    report({ bench: 'mesh', metric: `chromium.formation.N${n}`, value: fixed.value, unit: 'ms', baseline: base.value, note: `${what}; as shipped (init-channel stall patched): ${fixed.note}; ratio = patched / unpatched, same run` })
  }
}
