/**
 * `npm run start:lan`: the app over https and the relay over wss on every interface, so that
 * phones on the same Wi-Fi can use it (scripts/lan.ts). Prints the https URL, a QR code of
 * it, and `ca: <path>` of the local CA certificate each phone must trust once (the app also
 * serves it, with instructions, at `/ca`). Ports: APP_PORT (default 8443), RELAY_PORT (9443);
 * 0 picks free ones. LAN_DATA_DIR (default `.data`) holds the CA, the certificate and the
 * relay key (test/e2e/lan.test.ts runs this script with a temporary one).
 */
import QRCode from 'qrcode'
import { readFileSync } from 'node:fs'
import { startLan } from './lan.ts'
import { caFingerprint } from './static-server.ts'

const lan = await startLan({
  dataDir: process.env.LAN_DATA_DIR ?? '.data',
  appPort: Number(process.env.APP_PORT ?? 8443),
  relayPort: Number(process.env.RELAY_PORT ?? 9443),
  log: (line) => { if (process.env.LAN_VERBOSE === '1') console.log(`[relay] ${line}`) }
})
const qr = await QRCode.toString(lan.url, { type: 'terminal', small: true })
console.log(`
  alliance-net LAN mode (certificates by ${lan.cert.tool} for ${lan.cert.names.join(', ')})

  open on a phone on this network: ${lan.url}
${qr}
  ca: ${lan.caPath}
  ca sha-256: ${caFingerprint(readFileSync(lan.caPath, 'utf8'))}
  trust it once per phone: open ${lan.url}ca on the phone (download + Android/iOS steps)
  relay: ${lan.relay.multiaddrs.filter(m => m.includes('/tls/ws/')).join('\n         ')}
`)

let stopping = false
async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  await lan.stop()
  process.exit(0)
}
process.on('SIGINT', () => { void stop() })
process.on('SIGTERM', () => { void stop() })
