/**
 * `npm run bench`: prints one JSON line per figure. Node figures first, then Chromium figures
 * (Debian's Chromium through Playwright) against the built app and a real relay. Ratios are
 * taken against a baseline measured in the same run.
 */
import { bundleForBrowser } from './bundle.ts'
import { report, median } from './report.ts'
import { measureCrypto, type CryptoRates } from './crypto-kernel.ts'
import { launch, startApp, openPeer } from '../e2e/harness.ts'
import { chromiumSync10k, chromiumValidateAndPow, nodeConfirmationLatency, nodeOpen100k, nodePow, nodeSync10k, nodeValidateAndStore } from './ledger.ts'

function reportCrypto (where: string, r: CryptoRates): void {
  report({ bench: 'ed25519', metric: `${where}.noble.sign`, value: r.nobleSign, unit: 'ops/s' })
  report({ bench: 'ed25519', metric: `${where}.webcrypto.sign`, value: r.webcryptoSign, unit: 'ops/s', baseline: r.nobleSign, note: 'ratio = webcrypto / noble' })
  report({ bench: 'ed25519', metric: `${where}.noble.verify`, value: r.nobleVerify, unit: 'ops/s' })
  report({ bench: 'ed25519', metric: `${where}.webcrypto.verify`, value: r.webcryptoVerify, unit: 'ops/s', baseline: r.nobleVerify, note: 'ratio = webcrypto / noble' })
}

async function bundleBrowserKernels (): Promise<string> {
  return await bundleForBrowser('test/bench/browser-entry.ts')
}

const benches: Array<[string, () => Promise<void>]> = [
  ['node crypto', async () => { reportCrypto('node', await measureCrypto()) }],
  ['chromium crypto and wallet open', async () => {
    const code = await bundleBrowserKernels()
    const app = await startApp()
    const stack = await launch(app)
    try {
      const page = await openPeer(stack.context, app.url, 'bench')
      await page.addScriptTag({ content: code, type: 'module' })
      await page.waitForFunction(() => window.bench != null)
      reportCrypto('chromium', await page.evaluate(async () => await window.bench!.measureCrypto(1000)))

      // Wallet open from a cold page load: a new page each time, first-run (key creation)
      // and an existing profile (decrypting the key under the device key).
      const firstRun: number[] = []
      const reopen: number[] = []
      for (let i = 0; i < 5; i++) {
        for (const [profile, into] of [[`cold${i}`, firstRun], [`cold${i}`, reopen]] as const) {
          const p = await stack.context.newPage()
          const t0 = Date.now()
          await p.goto(`${app.url}?peer=${profile}`)
          await p.waitForFunction(() => window.alliance?.did != null)
          into.push(Date.now() - t0)
          await p.close()
        }
      }
      report({ bench: 'wallet', metric: 'chromium.open.existing-profile.median', value: median(reopen), unit: 'ms' })
      report({ bench: 'wallet', metric: 'chromium.open.first-run.median', value: median(firstRun), unit: 'ms', baseline: median(reopen), note: 'ratio = first run / existing profile' })
    } finally {
      await stack.close()
      await app.close()
    }
  }],
  ['ledger node validate+store', nodeValidateAndStore],
  ['ledger node pow', nodePow],
  ['ledger node open 100k', nodeOpen100k],
  ['ledger node confirmation latency', nodeConfirmationLatency],
  ['ledger node sync 10k webrtc', nodeSync10k],
  ['ledger chromium validate+store and pow', chromiumValidateAndPow],
  ['ledger chromium sync 10k', chromiumSync10k],
  // issue 10 (test/bench/checkpoint.ts): join from a signed checkpoint, engine memory full vs pruned
  ['ledger node checkpoint join', async () => { await (await import('./checkpoint.ts')).nodeCheckpointJoin() }],
  ['ledger chromium checkpoint join', async () => { await (await import('./checkpoint-browser.ts')).chromiumCheckpointJoin() }],
  // issue 8 (test/bench/trust.ts): old engine (extracted from git) beside the new, same run
  ['ledger trust final confirmation in-process', async () => { await (await import('./trust.ts')).finalConfirmationLatency() }],
  ['ledger trust attacker blocks', async () => { await (await import('./trust.ts')).attackerBlockCost() }],
  // issue 5 (test/bench/market.ts): Node peers over a real relay, then Chromium tabs of the built app
  ['market node establishment', async () => { await (await import('./market.ts')).nodeEstablishment() }],
  ['market node vouchers', async () => { await (await import('./market.ts')).nodeVouchers() }],
  ['market node registry 10k', async () => { await (await import('./market.ts')).nodeRegistry() }],
  ['market node relay pipe', async () => { await (await import('./relay-node.ts')).nodeRelayPipe() }],
  ['market chromium relay throughput', async () => { await (await import('./market.ts')).chromiumRelayThroughput() }],
  // issue 3 (test/bench/mesh.ts): Chromium, a real relay, the built app and kernel pages
  ['mesh reservation', async () => { await (await import('./mesh.ts')).benchReservation() }],
  ['mesh dial and streams', async () => { await (await import('./mesh.ts')).benchLinks() }],
  ['mesh gossip', async () => { await (await import('./mesh.ts')).benchGossip() }],
  ['mesh tab capacity', async () => { await (await import('./mesh.ts')).benchCapacity() }],
  // issue 9 (test/bench/mesh-formation.ts): N tabs at once, @libp2p/webrtc unpatched vs patched
  ['mesh formation', async () => { await (await import('./mesh-formation.ts')).benchFormation() }],
  // issue 9 (test/bench/nat.ts): TURN vs direct in network namespaces (root only; else a skip line)
  ['nat traversal', async () => { await (await import('./nat.ts')).benchNat() }]
]

const only = process.argv[2]
for (const [name, run] of benches) {
  if (only != null && !name.includes(only)) continue
  try {
    await run()
  } catch (err) {
    console.error(`bench "${name}" failed:`, err)
    process.exitCode = 1
  }
}
// a bench that leaves a handle open (a peer's timer, a socket) must not keep the process, and
// with it /work/bench.lock, alive
process.exit()
