/**
 * Mesh formation bench (issue 9): N kernel tabs (test/bench/mesh-browser-entry.ts: a bare
 * AllianceNet with the app's default targetDirect 8) opened at once against a fresh relay;
 * time from the first tab starting its node until every tab holds min(N-1, 8) direct peers.
 *
 * Variants in the same run, so each figure is a ratio against a baseline measured on the
 * same machine at the same load:
 * - `before`: the kernel bundled with src/net of an earlier commit (MESH_FORM_BEFORE, default
 *   the mesh before dials were event-driven and balanced, 40f45af), extracted with git archive
 *   at bench time; the baseline of `chromium.formation.N*`;
 * - `unpatched`: the kernel bundled with patches/@libp2p+webrtc+*.patch reverted in the
 *   bundle (the library as published: the init-channel dial stall);
 * - `patched`: the kernel as the app ships it.
 *
 * Besides the formation time, one line per N and variant gives the dial → direct connection
 * times (p50/p95 over every successful WebRTC upgrade of the round, from the mesh log) and the
 * share of WebRTC dials that failed.
 *
 * Knobs (env): MESH_FORM_TABS (default "4,8,16"), MESH_FORM_DEADLINE_MS (90000),
 * MESH_FORM_ROUNDS (1: rounds per N and variant; the median is reported), MESH_FORM_VARIANTS
 * (default "before,patched"; add "unpatched" for the stall baseline).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import { loadavg, tmpdir } from 'node:os'
import type { Page } from 'playwright-core'
import type { Plugin } from 'vite'
import { bundleForBrowser } from './bundle.ts'
import { withEnv, type Env } from './mesh.ts'
import { median, report } from './report.ts'

const ENTRY = 'test/bench/mesh-browser-entry.ts'
const TARGET_DIRECT = 8
/** The branch point of this change: the mesh with lower-PeerId-first, tick-driven dials. */
const BEFORE_DEFAULT = '40f45af'

/** A Vite plugin that bundles the entry with src/net of `commit` (and its src/core). */
function srcNetOf (commit: string): { plugin: Plugin, commit: string } {
  const full = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], { encoding: 'utf8' }).trim()
  const dir = mkdtempSync(join(tmpdir(), 'alliance-mesh-before-'))
  execFileSync('sh', ['-c', `git archive ${full} src | tar -x -C '${dir}'`])
  symlinkSync(realpathSync(resolvePath('node_modules')), join(dir, 'node_modules'))
  process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  return {
    commit: full.slice(0, 7),
    plugin: {
      name: 'alliance-bench-src-net-before',
      enforce: 'pre',
      resolveId (source, importer) {
        if (importer == null || !importer.replaceAll('\\', '/').endsWith(ENTRY)) return null
        const m = /^\.\.\/\.\.\/(src\/.*)$/.exec(source)
        return m != null ? join(dir, m[1]) : null
      }
    }
  }
}

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

interface Round { ms?: number, dist: string, attempts: number, failures: number, dialMs: number[] }

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

/** Why a round did not form (stderr): direct and discovered peers per tab, and the mesh's and
 * the guard's failure and refusal lines grouped by their reason. */
function diagnose (logs: string[][], direct: number[], discovered: number[]): void {
  const reasons = new Map<string, number>()
  for (const line of logs.flat()) {
    const m = /(upgrade to \S+ failed \((.*?)\);|refused a handshake from \S+: (.*)$|relay-keeper: \S+ (\w+)$|relay-keeper: \S+ attempt \d+ failed \((.*?)\);)/.exec(line)
    if (m == null) continue
    const why = (m[2] ?? (m[3] != null ? `refused: ${m[3]}` : m[4] != null ? `relay ${m[4]}` : `relay attempt failed: ${m[5]}`)).replace(/12D3KooW\w+/g, '<peer>').replace(/\d+/g, 'N').slice(0, 140)
    reasons.set(why, (reasons.get(why) ?? 0) + 1)
  }
  console.error(`[mesh formation] direct per tab [${direct.join(',')}], discovered per tab [${discovered.join(',')}]`)
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.error(`[mesh formation]   ${n} × ${why}`)
}

async function formOnce (code: string, n: number, deadlineMs: number): Promise<Round> {
  let out: Round = { dist: '', attempts: 0, failures: 0, dialMs: [] }
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
      // "mesh: direct connection to <peer> in <ms> ms": one line per successful upgrade
      const logs = await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.log())))
      const dialMs = logs.flat().flatMap(l => { const m = / mesh: direct connection to \S+ in (\d+) ms$/.exec(l); return m != null ? [Number(m[1])] : [] })
      if (out.ms == null || process.env.MESH_FORM_DIAG != null) diagnose(logs, counts, await Promise.all(pages.map(async p => await p.evaluate(() => window.meshBench!.state().discovered))))
      out = { ...out, dist: counts.join(','), attempts: stats.reduce((s, x) => s + x.webrtcDialAttempts, 0), failures: stats.reduce((s, x) => s + x.webrtcDialFailures, 0), dialMs }
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
  const sizes = (process.env.MESH_FORM_TABS ?? '4,8,16').split(',').map(Number).filter(x => Number.isInteger(x) && x >= 2)
  const deadlineMs = Number(process.env.MESH_FORM_DEADLINE_MS ?? 90_000)
  const rounds = Math.max(1, Number(process.env.MESH_FORM_ROUNDS ?? 1))
  const names = (process.env.MESH_FORM_VARIANTS ?? 'before,patched').split(',').filter(v => ['before', 'unpatched', 'patched'].includes(v))
  if (!names.includes('patched')) names.push('patched')
  const before = names.includes('before') ? srcNetOf(process.env.MESH_FORM_BEFORE ?? BEFORE_DEFAULT) : undefined
  const variants: Record<string, string> = {}
  for (const v of names) {
    variants[v] = v === 'unpatched'
      ? await bundleForBrowser(ENTRY, { name: 'unpatched-webrtc', plugins: [unpatchWebrtc()] })
      : v === 'before' && before != null
        ? await bundleForBrowser(ENTRY, { name: `src-net-${before.commit}`, plugins: [before.plugin] })
        : await bundleForBrowser(ENTRY)
  }
  const label: Record<string, string> = {
    before: `src/net of ${before?.commit ?? '?'} (the mesh before this change)`,
    unpatched: '@libp2p/webrtc as published (patch reverted in the bundle)',
    patched: 'as shipped'
  }
  for (const n of sizes) {
    const results: Record<string, Round[]> = Object.fromEntries(names.map(v => [v, []]))
    // alternate the variants so that a drift in machine load hits both alike
    for (let r = 0; r < rounds; r++) {
      for (const v of names) results[v].push(await formOnce(variants[v], n, deadlineMs))
    }
    const summary = (rs: Round[]): { value: number, note: string } => {
      const ok = rs.filter(x => x.ms != null).map(x => x.ms as number)
      const value = ok.length === rs.length ? median(ok) : deadlineMs
      const note = rs.map(x => `${x.ms ?? `not formed in ${deadlineMs}`} ms, direct per tab [${x.dist}], WebRTC dials ${x.attempts} of which failed ${x.failures}`).join('; ')
      return { value, note }
    }
    const what = `${n} kernel tabs (bare AllianceNet, targetDirect ${TARGET_DIRECT}) started at once on a fresh relay → every tab ≥ ${Math.min(n - 1, TARGET_DIRECT)} direct peers; median of ${rounds}; a round not formed counts as the deadline`
    const base = names.includes('before') ? 'before' : names.includes('unpatched') ? 'unpatched' : undefined
    const baseValue = base != null ? summary(results[base]).value : undefined
    const dialBase = base != null ? quantile(results[base].flatMap(r => r.dialMs), 0.5) : undefined
    for (const v of names) {
      const s = summary(results[v])
      const suffix = v === 'patched' ? '' : v === 'unpatched' ? '.unpatched-webrtc' : '.before'
      report({ bench: 'mesh', metric: `chromium.formation.N${n}${suffix}`, value: s.value, unit: 'ms', ...(v === 'patched' && baseValue != null ? { baseline: baseValue } : {}), note: `${what}; ${label[v]}: ${s.note}; load ${loadavg()[0].toFixed(2)}${v === 'patched' && base != null ? `; ratio = shipped / ${base}, same run` : ''}` })
      const dials = results[v].flatMap(r => r.dialMs)
      const attempts = results[v].reduce((a, r) => a + r.attempts, 0)
      const failures = results[v].reduce((a, r) => a + r.failures, 0)
      report({ bench: 'mesh', metric: `chromium.formation.N${n}${suffix}.dial-p50`, value: quantile(dials, 0.5), unit: 'ms', ...(v === 'patched' && dialBase != null ? { baseline: dialBase } : {}), note: `WebRTC dial → direct connection while ${n} tabs form (${label[v]}): p50 ${quantile(dials, 0.5)} ms, p95 ${quantile(dials, 0.95)} ms over ${dials.length} upgrades; ${failures} of ${attempts} dials failed (${attempts > 0 ? (100 * failures / attempts).toFixed(1) : '0'} %)` })
      report({ bench: 'mesh', metric: `chromium.formation.N${n}${suffix}.dial-p95`, value: quantile(dials, 0.95), unit: 'ms', note: `see dial-p50 (${label[v]})` })
      report({ bench: 'mesh', metric: `chromium.formation.N${n}${suffix}.dial-fail-share`, value: attempts > 0 ? failures / attempts : 0, unit: 'ratio', note: `${failures} of ${attempts} WebRTC dials failed while ${n} tabs formed (${label[v]})` })
    }
  }
}
