/**
 * LAN mode: the built app over https and the signaling relay over wss, on every interface,
 * with a certificate for this machine's LAN addresses from the local CA of `lan-cert.ts`.
 * `/alliance-config.json` hands each phone the relay's wss address on the interface it used
 * (the Host it asked for), plus STUN/TURN servers when configured (src/relay/turn.ts).
 * Used by `npm run start:lan` (scripts/start-lan.ts) and test/integration/lan.test.ts.
 */
import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { resolve } from 'node:path'
import { startRelay } from '../src/relay/relay.ts'
import type { RelayHandle } from '../src/relay/relay.ts'
import { iceConfigFromEnv } from '../src/relay/turn.ts'
import { ensureLanCert, lanAddresses } from './lan-cert.ts'
import type { LanCert } from './lan-cert.ts'
import { serveApp } from './static-server.ts'
import type { ServedConfig, StaticServer } from './static-server.ts'

export interface LanOptions {
  /** Where the CA, the certificate and the relay key live. Default `.data`. */
  dataDir?: string
  appPort?: number
  relayPort?: number
  /** Interface to listen on. Default 0.0.0.0 (every interface). */
  host?: string
  /** Names and addresses for the certificate (default: this machine's). */
  names?: string[]
  root?: string
  log?: (line: string) => void
}

export interface LanHandle {
  /** https URL of the app on the first LAN address (or localhost without one). */
  url: string
  /** Absolute path of the CA certificate phones must trust. */
  caPath: string
  cert: LanCert
  relay: RelayHandle
  app: StaticServer
  stop: () => Promise<void>
}

/** `host[:port]` of a Host header → the host part, lower case (IPv6 not supported here). */
function hostOf (req: IncomingMessage): string {
  return (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase()
}

export async function startLan (opts: LanOptions = {}): Promise<LanHandle> {
  const dataDir = opts.dataDir ?? '.data'
  const cert = await ensureLanCert({ dir: `${dataDir}/lan`, names: opts.names })
  const ice = iceConfigFromEnv()
  const relay = await startRelay({
    host: opts.host ?? '0.0.0.0',
    port: opts.relayPort ?? 9443,
    keyFile: `${dataDir}/relay.key`,
    tls: { cert: cert.cert, key: cert.key },
    log: opts.log
  })
  const wss = relay.multiaddrs.filter(ma => ma.includes('/tls/ws/'))
  const relayPort = Number(wss[0]?.split('/')[4])
  const config = (req: IncomingMessage): ServedConfig => {
    // the relay on the address (or certificate name) the phone reached this machine by; the
    // Host header is untrusted, so only names the certificate covers are echoed back
    const host = hostOf(req)
    let chosen = wss.find(ma => ma.startsWith(`/ip4/${host}/`))
    if (chosen == null && cert.names.includes(host) && !/^\d/.test(host)) chosen = `/dns4/${host}/tcp/${relayPort}/tls/ws/p2p/${relay.peerId}`
    chosen ??= wss.find(ma => !ma.startsWith('/ip4/127.')) ?? wss[0]
    return { relays: chosen != null ? [chosen] : [], ...(ice?.() ?? {}) }
  }
  const lan = lanAddresses()
  const app = await serveApp({
    root: opts.root,
    host: opts.host ?? '0.0.0.0',
    port: opts.appPort ?? 8443,
    relays: wss,
    tls: { cert: cert.cert, key: cert.key },
    caPem: readFileSync(cert.caPath, 'utf8'),
    config,
    publicHost: lan.find(a => cert.names.includes(a)) ?? 'localhost'
  })
  return {
    url: app.url,
    caPath: resolve(cert.caPath),
    cert,
    relay,
    app,
    stop: async () => {
      await app.close()
      await relay.stop()
    }
  }
}
