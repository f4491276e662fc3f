/**
 * Shared setup of the integration tests: a real relay on a free port and several alliance
 * peers in this process, over real WebSockets and WebRTC (node-datachannel).
 */
import '../../src/net/node-polyfills.ts'
import { randomBytes } from '@noble/hashes/utils.js'
import { libp2pPrivateKey } from '../../src/core/identity.ts'
import { createAllianceNet } from '../../src/net/node.ts'
import type { AllianceNet, AllianceNetOptions } from '../../src/net/node.ts'

export const VERBOSE = process.env.NET_TEST_LOG === '1'

export function logger (name: string): (line: string) => void {
  const t0 = Date.now()
  return (line: string) => {
    if (VERBOSE) console.log(`[${((Date.now() - t0) / 1000).toFixed(2)}s ${name}] ${line}`)
  }
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T> (what: string, check: () => T | undefined | false | null, timeoutMs = 45_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value != null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

export async function startPeers (count: number, relays: string[], extra: Partial<AllianceNetOptions> = {}): Promise<AllianceNet[]> {
  const nets: AllianceNet[] = []
  for (let i = 0; i < count; i++) {
    const net = await createAllianceNet({
      privateKey: libp2pPrivateKey(randomBytes(32)),
      relays,
      discoveryIntervalMs: 3_000,
      log: logger(`peer${i}`),
      ...extra
    })
    nets.push(net)
  }
  await Promise.all(nets.map(async n => { await n.start() }))
  return nets
}

export async function stopAll (nets: Array<{ stop: () => Promise<void> } | undefined>): Promise<void> {
  await Promise.allSettled(nets.map(async n => { await n?.stop() }))
}

/** True when every pair of `nets` has a direct connection (seen from both sides). */
export function fullyDirect (nets: AllianceNet[]): boolean {
  return nets.every(a => nets.every(b => a === b || a.peers().some(p => p.peerId === b.peerId && p.kind === 'direct')))
}
