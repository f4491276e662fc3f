// LAN mode (scripts/lan.ts) end to end in one process: a local CA and a certificate made in a
// temporary data dir, the built app over https and the relay over wss on every interface,
// and two Node peers that trust only that CA (no certificate errors ignored) reserving on the
// wss relay, connecting directly and exchanging a DM. Also the static server's hardening.
// Needs the built app (dist/): `npm test` builds it before the e2e project, so this file
// builds it itself when it is missing.
import 'reflect-metadata'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import { checkServerIdentity } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket as WsWebSocket } from 'ws'
import * as x509 from '@peculiar/x509'
import { startLan } from '../../scripts/lan.ts'
import type { LanHandle } from '../../scripts/lan.ts'
import type { AllianceNet, DmMessage } from '../../src/net/node.ts'
import { logger, startPeers, stopAll, waitFor } from './helpers.ts'

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: string }

async function get (port: number, path: string, ca: string | undefined, host = '127.0.0.1'): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    // the certificate is always checked for 127.0.0.1, whatever Host header the request carries
    const req = request({ host: '127.0.0.1', port, path, ca, headers: { host }, checkServerIdentity: (_name, cert) => checkServerIdentity('127.0.0.1', cert) }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('LAN mode: https app and wss relay with a local CA', () => {
  let dir: string
  let lan: LanHandle | undefined
  let ca: string
  let nets: AllianceNet[] = []
  const savedWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket

  beforeAll(async () => {
    if (!existsSync('dist/index.html')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' })
    dir = mkdtempSync(join(tmpdir(), 'alliance-lan-'))
    // the in-process CA (the path used where Debian's mkcert is not installed)
    process.env.LAN_CERT_TOOL = 'x509'
    lan = await startLan({ dataDir: dir, appPort: 0, relayPort: 0, log: logger('relay') })
    ca = readFileSync(lan.caPath, 'utf8')
    // Node peers trust exactly this CA for their wss dials, as a phone that installed it
    class TrustingWebSocket extends WsWebSocket {
      constructor (address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { ca })
        this.on('error', () => {})
      }
    }
    ;(globalThis as { WebSocket?: unknown }).WebSocket = TrustingWebSocket
  })

  afterAll(async () => {
    await stopAll(nets)
    await lan?.stop()
    ;(globalThis as { WebSocket?: unknown }).WebSocket = savedWebSocket
    delete process.env.LAN_CERT_TOOL
    rmSync(dir, { recursive: true, force: true })
  })

  it('[N5] makes a CA once and a server certificate for the LAN names, kept in the data dir', async () => {
    const cert = new x509.X509Certificate(lan!.cert.cert)
    const root = new x509.X509Certificate(ca)
    expect(await cert.verify({ publicKey: root.publicKey, signatureOnly: true })).toBe(true)
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
    const names = san?.names.items.map(n => n.value) ?? []
    expect(names).toEqual(expect.arrayContaining(['localhost', '127.0.0.1']))
    expect(names).toEqual(expect.arrayContaining(lan!.cert.names))
    expect(lan!.url.startsWith('https://')).toBe(true)
    // a second start keeps the CA (phones trust it once)
    const again = await (await import('../../scripts/lan-cert.ts')).ensureLanCert({ dir: join(dir, 'lan'), names: lan!.cert.names })
    expect(readFileSync(again.caPath, 'utf8')).toBe(ca)
    expect(again.cert).toBe(lan!.cert.cert)
  })

  it('[N5] serves the app and the config over https, verified with the CA only', async () => {
    const port = lan!.app.port
    await expect(get(port, '/', undefined)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i)
    const page = await get(port, '/', ca)
    expect(page.status).toBe(200)
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(page.headers['content-security-policy']).not.toContain("script-src 'self' 'unsafe-inline'")
    const config = JSON.parse((await get(port, '/alliance-config.json', ca)).body) as { relays: string[] }
    expect(config.relays).toHaveLength(1)
    expect(config.relays[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/tls\/ws\/p2p\/12D3KooW/)
    // a name the certificate covers gets the relay under that name; anything else does not echo
    expect(JSON.parse((await get(port, '/alliance-config.json', ca, 'localhost')).body).relays[0]).toMatch(/^\/dns4\/localhost\/tcp\/\d+\/tls\/ws\//)
    expect(JSON.parse((await get(port, '/alliance-config.json', ca, 'evil.example')).body).relays[0]).not.toContain('evil')
    const caPem = await get(port, '/ca.pem', ca)
    expect(caPem.body).toBe(ca)
    expect(caPem.headers['content-type']).toBe('application/x-x509-ca-cert')
    const howTo = await get(port, '/ca', ca)
    expect(howTo.body).toContain('Android')
    expect(howTo.body).toContain('iPhone')
    expect(howTo.body).toContain(new X509Certificate(ca).fingerprint256)
  })

  it('[N6] answers undecodable and traversal paths with 400/404 and keeps serving', async () => {
    const port = lan!.app.port
    expect((await get(port, '/%ff', ca)).status).toBe(400)
    expect((await get(port, '/%00', ca)).status).toBe(400)
    expect((await get(port, '/..%2f..%2f..%2fetc%2fpasswd', ca)).status).toBe(404)
    expect((await get(port, '/%2e%2e/package.json', ca)).status).toBe(404)
    expect((await get(port, '/assets/../../package.json', ca)).status).toBe(404)
    expect((await get(port, '/', ca)).status).toBe(200)
  })

  it('[N5] two peers reserve on the wss relay, connect directly and exchange a DM', async () => {
    const config = JSON.parse((await get(lan!.app.port, '/alliance-config.json', ca)).body) as { relays: string[] }
    nets = await startPeers(2, config.relays, { targetDirect: 0 })
    await waitFor('both reserved over wss', () => nets.every(n => n.relays()[0]?.state === 'reserved'), 30_000)
    const [a, b] = nets
    const got: DmMessage[] = []
    b.onDm(m => { got.push(m) })
    await a.sendDm(b.did, 'hello over the LAN')
    await waitFor('the DM arrives', () => got.length > 0, 20_000)
    expect(got[0].text).toBe('hello over the LAN')
    expect(a.peers().find(p => p.did === b.did)?.kind).toBe('direct')
  })
})
