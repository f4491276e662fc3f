// Bundled by test/bench/ledger.ts for Chromium: exposes the ledger bench kernels on window.
// Blocks come from a URL the bench answers itself (Playwright route), as one dag-cbor file.
import { benchAlliance } from '../fixtures/bench-alliance.ts'
import { openIdbLedgerStore } from '../../src/store/ledger-idb.ts'
import { workerMiner } from '../../src/peer/miner.ts'
import { verifyBlockSignatures } from '../../src/peer/bulk-verify.ts'
import { browserPoolSize, createVerifyPool, defaultVerifyPool, setDefaultVerifyPool } from '../../src/peer/verify-pool.ts'
import type { WorkerLike } from '../../src/peer/verify-pool.ts'
import { decodeBlockFile, engineValidateAndStore, fillStore, ingestSplit, powTimes, servicePull, serviceSplit, serviceValidateAndStore, verifyRate } from './ledger-kernel.ts'
import type { Distribution, IngestFigures, IngestSplit, ServiceSplit } from './ledger-kernel.ts'

async function fetchBlocks (url: string): Promise<Uint8Array[]> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return decodeBlockFile(new Uint8Array(await res.arrayBuffer()), benchAlliance().allianceId)
}

async function webcryptoRate (blocks: Uint8Array[]): Promise<number> {
  const t0 = performance.now()
  const v = await verifyBlockSignatures(blocks)
  const ms = performance.now() - t0
  if (!v.every(x => x === 'valid')) throw new Error('WebCrypto Ed25519 is missing or a bench block does not verify')
  return blocks.length / (ms / 1000)
}

export interface LedgerBenchApi {
  /**
   * Validates and stores the first `count` blocks into IndexedDB (profiles `profile`-service
   * and `profile`-engine), through the service and through the engine alone; noble verify
   * rate of the same page before and after.
   */
  validateAndStore: (url: string, profile: string, count: number, verifyWorkerUrl: string) => Promise<{ service: IngestFigures, pull: IngestFigures, engine: IngestFigures, split: IngestSplit, fine: ServiceSplit, verifyBefore: number, verifyAfter: number, webcrypto: number, poolSize: number }>
  /**
   * Stores all blocks into profile `profile` as its own peer would have (trusted, checkpoints),
   * in the database the app opens for that profile and the bench alliance (one per alliance:
   * the profile's bare database is not the one its ledger reads).
   */
  fill: (url: string, profile: string) => Promise<{ blocks: number, stateHash: string, lastId: string, ms: number }>
  /** PoW ms per block through the app's PoW worker (`workerUrl`: its built asset). */
  pow: (workerUrl: string, n: number) => Promise<Distribution>
}

declare global { interface Window { ledgerBench?: LedgerBenchApi } }

window.ledgerBench = {
  validateAndStore: async (url, profile, count, verifyWorkerUrl) => {
    const ctx = benchAlliance()
    const blocks = (await fetchBlocks(url)).slice(0, count)
    // the service's pool with the app's built worker (as the app makes it)
    const poolSize = browserPoolSize()
    setDefaultVerifyPool(createVerifyPool({ size: poolSize, makeWorker: () => new Worker(verifyWorkerUrl, { type: 'module' }) as unknown as WorkerLike }))
    const verifyBefore = verifyRate(ctx, blocks.slice(0, 1000))
    // WebCrypto Ed25519 over the same blocks, bulk, on this thread: the rate of the crypto
    const webcrypto = await webcryptoRate(blocks.slice(0, 2000))
    const run = async (name: string, fn: typeof serviceValidateAndStore): Promise<IngestFigures> => {
      const store = await openIdbLedgerStore(`${profile}-${name}`)
      try {
        return await fn(ctx, blocks, store, { now: Date.now(), batch: 256 })
      } finally {
        await store.close()
      }
    }
    const service = await run('service', serviceValidateAndStore)
    const pull = await run('pull', async (c, b, st, o) => await servicePull(c, b, st, o))
    const engine = await run('engine', engineValidateAndStore)
    const splitStore = await openIdbLedgerStore(`${profile}-split`)
    let split: IngestSplit
    try {
      split = await ingestSplit(ctx, blocks, splitStore, { now: Date.now(), batch: 256, verify: verifyBlockSignatures })
    } finally {
      await splitStore.close()
    }
    const fineStore = await openIdbLedgerStore(`${profile}-fine`)
    let fine: ServiceSplit
    try {
      fine = await serviceSplit(ctx, blocks, fineStore, { now: Date.now(), batch: 256, pool: defaultVerifyPool(), verify: verifyBlockSignatures })
    } finally {
      await fineStore.close()
    }
    const verifyAfter = verifyRate(ctx, blocks.slice(0, 1000))
    return { service, pull, engine, split, fine, verifyBefore, verifyAfter, webcrypto: (webcrypto + await webcryptoRate(blocks.slice(0, 2000))) / 2, poolSize }
  },
  fill: async (url, profile) => {
    const ctx = benchAlliance()
    const blocks = await fetchBlocks(url)
    const store = await openIdbLedgerStore(profile, { alliance: ctx.allianceId })
    try {
      const t0 = performance.now()
      const engine = await fillStore(ctx, blocks, store, { now: Date.now(), batch: 500, checkpointEvery: 1000 })
      return { blocks: engine.stats().blocks, stateHash: engine.stateHash(), lastId: engine.blockIds().at(-1) ?? '', ms: performance.now() - t0 }
    } finally {
      await store.close()
    }
  },
  pow: async (workerUrl, n) => {
    let worker: Worker | null = null
    const miner = workerMiner(() => { worker = new Worker(workerUrl, { type: 'module' }); return worker })
    try {
      return await powTimes(miner, benchAlliance().genesis.difficulty, n)
    } finally {
      (worker as Worker | null)?.terminate()
    }
  }
}
