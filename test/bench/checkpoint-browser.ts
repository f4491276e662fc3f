/**
 * Checkpoint join in Chromium (issue 10, registered in run.ts): a fresh tab of the built app
 * joins a 10,000- and a 100,000-block ledger from a signed checkpoint served by a Node
 * validator over WebRTC (test/fixtures/checkpoint-ledger.ts builds the ledger in Node), until
 * it agrees on the state hash. Baseline in the same run: a full trusted re-add of the same
 * blocks into a Node engine (what a full-history open replays; a full sync of 100,000 blocks
 * into a tab would take many minutes, see chromium.sync-10k for its rate).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toBase64url } from '../../src/core/bytes.ts'
import { LedgerEngine, encodeGenesis, validateBlockBytes } from '../../src/core/ledger/index.ts'
import { startRelay } from '../../src/relay/relay.ts'
import { CP_INTERVAL_MS, CP_KEY_BASE, servedLedger } from '../fixtures/checkpoint-ledger.ts'
import { key } from '../fixtures/ledger-helpers.ts'
import { startLedgerPeer } from '../integration/ledger-helpers.ts'
import { launch, openPeer, startApp } from '../e2e/harness.ts'
import { report } from './report.ts'

const log = (line: string): void => { process.stderr.write(`[bench checkpoint-browser] ${line}\n`) }

export async function chromiumCheckpointJoin (): Promise<void> {
  // CKPT_COUNTS=10000 runs one size (a quick look while working); the bench runs both
  const counts = (process.env.CKPT_COUNTS ?? '10000,100000').split(',').map(Number)
  for (const count of counts) {
    let t0 = performance.now()
    const served = await servedLedger(count, 1000)
    log(`${count} blocks built and stored in ${((performance.now() - t0) / 1000).toFixed(0)} s; package ${(served.packageBytes / 2 ** 20).toFixed(1)} MiB`)
    t0 = performance.now()
    const full = new LedgerEngine(served.ctx)
    for (let i = 0; i < served.blocks.length; i += 500) full.addMany(served.blocks.slice(i, i + 500), { now: Date.now(), trusted: true })
    const fullMs = performance.now() - t0
    // the gate: the newest confirmed transaction of the full peer. Polling the tab's state hash
    // itself would encode its whole state (~200,000 entries at 100k) at every poll during the
    // tail sync and slow the join it measures; it is compared once this is confirmed
    let gate = ''
    for (let i = served.blocks.length - 1; i >= 0 && gate === ''; i--) {
      const v = validateBlockBytes(served.blocks[i], served.ctx, { now: Date.now(), trusted: true })
      if (v.block.txs.length > 0 && full.blockStatus(v.id) === 'confirmed') gate = `${v.id}/0`
    }
    const dir = mkdtempSync(join(tmpdir(), 'alliance-ckpt-bench-'))
    const relay = await startRelay({ port: 0, keyFile: join(dir, 'relay.key') })
    const server = await startLedgerPeer(`ckpt-${count}`, {
      ctx: served.ctx, relays: relay.multiaddrs, seed: key(CP_KEY_BASE).seed, store: served.store,
      ledger: { checkpoints: served.checkpoints, checkpointIntervalMs: CP_INTERVAL_MS, witnessIntervalMs: 3_600_000 }
    })
    const genesis = toBase64url(encodeGenesis(served.ctx.genesis))
    const stack = await launch(await startApp(relay.multiaddrs, (_req, relays) => ({ relays, alliance: { genesis, operator: server.did, name: 'checkpoint server' } })))
    try {
      t0 = performance.now()
      const page = await stack.context.newPage()
      if (process.env.CKPT_TRACE != null) page.on('console', (m) => { log(`tab +${((performance.now() - t0) / 1000).toFixed(2)} s: ${m.text().slice(0, 200)}`) })
      const tab = await openPeer(stack.context, stack.app.url, `join${count}`, process.env.CKPT_TRACE != null ? '&log=1' : '', page)
      let directAt: number | null = null
      for (;;) {
        const s = await tab.evaluate(([hash, tx]) => ({
          direct: window.alliance?.peers().some(p => p.kind === 'direct') === true,
          done: window.alliance?.ledger.ready() === true && window.alliance.ledger.status(tx) === 'confirmed' && window.alliance.ledger.stats().stateHash === hash
        }), [served.stateHash, gate] as const)
        if (s.direct && directAt == null) directAt = performance.now()
        if (s.done) break
        if (performance.now() - t0 > 600_000) throw new Error('the tab did not join within 10 minutes')
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const doneAt = performance.now()
      const stats = await tab.evaluate(() => window.alliance!.ledger.stats())
      const k = `${count / 1000}k`
      const note = `package ${(served.packageBytes / 2 ** 20).toFixed(1)} MiB (${served.cut.body.retained.length} retained blocks), tail ${count - served.tailFrom} blocks; the tab holds ${stats.blocks} blocks, same state hash`
      report({ bench: 'ledger', metric: `chromium.checkpoint-join-${k}.fresh-tab`, value: doneAt - t0, unit: 'ms', baseline: fullMs, note: `ratio = fresh tab opened -> same state hash as the full peer (download, verify signatures and LtHash, tail sync over WebRTC, IndexedDB) / Node full trusted re-add of the ${count} blocks; ${note}` })
      if (directAt != null) report({ bench: 'ledger', metric: `chromium.checkpoint-join-${k}.after-direct-connection`, value: doneAt - directAt, unit: 'ms', note: `from the tab's first direct peer (polled every 100 ms) to the same state hash; ${note}` })
    } finally {
      await stack.close()
      await stack.app.close()
      await server.stop()
      await relay.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
