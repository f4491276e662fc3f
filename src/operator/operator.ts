/**
 * The demo alliance's founding operator: a subject network in Node (white paper: an operator
 * is one owner among others) that founds the demo alliance as its only validator, keeps its
 * key and ledger in `.data/`, and admits every peer that asks (its open desk — the operator's
 * policy, not a ledger rule: any other validator admits only its own invitees). `npm start`
 * runs it, so three tabs reach a working alliance with no setup; the app learns the genesis
 * from `/alliance-config.json`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { randomBytes } from '@noble/hashes/utils.js'
import { didFromPublicKey, generateKeyPair, libp2pPrivateKey } from '../core/identity.ts'
import type { Did } from '../core/identity.ts'
import { foundGenesis, encodeGenesis } from '../core/ledger/index.ts'
import type { Genesis } from '../core/ledger/index.ts'
import { toBase64url } from '../core/bytes.ts'
import { createAllianceNet } from '../net/node.ts'
import type { AllianceNet } from '../net/node.ts'
import { allianceContext } from '../peer/alliance.ts'
import { LedgerService } from '../peer/ledger-service.ts'
import { inThreadMiner } from '../peer/miner.ts'
import { FileLedgerStore } from './file-ledger-store.ts'
import { MemoryCheckpointStore } from '../store/checkpoints.ts'

/** Credits the demo operator gives each member it admits, from its allocation (1,000,000). */
export const DEMO_WELCOME = 1000

/** 2026-01-01T00:00:00Z: the demo alliance's founding time (its id depends only on the key). */
const DEMO_TIME = 1767225600000

export interface Operator {
  readonly did: Did
  readonly genesis: Genesis
  readonly ledger: LedgerService
  readonly net: AllianceNet
  /** What the app reads from /alliance-config.json under `alliance`. */
  config (): { genesis: string, operator: Did, name: string }
  stop (): Promise<void>
}

function loadSeed (file: string): Uint8Array {
  if (existsSync(file)) {
    const seed = new Uint8Array(readFileSync(file))
    if (seed.length === 32) return seed
  }
  mkdirSync(dirname(file), { recursive: true })
  const seed = randomBytes(32)
  writeFileSync(file, seed, { mode: 0o600 })
  return seed
}

export function demoGenesis (operator: Did): Genesis {
  return foundGenesis({
    name: 'alliance-net demo',
    chains: ['home', 'business', 'operator'],
    founders: [{ did: operator, chain: 'operator' }],
    time: DEMO_TIME
  })
}

export async function startOperator (opts: { relays: string[], dataDir?: string, log?: (line: string) => void }): Promise<Operator> {
  const dir = opts.dataDir ?? '.data'
  const seed = loadSeed(join(dir, 'operator.key'))
  const did = didFromPublicKey(generateKeyPair(seed).publicKey)
  const genesis = demoGenesis(did)
  const ctx = allianceContext(genesis)
  const store = await FileLedgerStore.open(join(dir, `operator-ledger-${ctx.allianceId.slice(-12)}.bin`))
  const net = await createAllianceNet({ privateKey: libp2pPrivateKey(seed), relays: opts.relays, log: opts.log })
  await net.start()
  const ledger = await LedgerService.open({ ctx, store, did, seed: () => seed, miner: inThreadMiner, checkpoints: new MemoryCheckpointStore(ctx.allianceId), openDesk: true, welcome: DEMO_WELCOME, name: 'demo operator', log: opts.log })
  await ledger.start(net)
  return {
    did,
    genesis,
    ledger,
    net,
    config: () => ({ genesis: toBase64url(encodeGenesis(genesis)), operator: did, name: 'demo operator' }),
    stop: async () => {
      await ledger.stop().catch(() => {})
      await net.stop().catch(() => {})
    }
  }
}
