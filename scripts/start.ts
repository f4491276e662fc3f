/**
 * `npm start`: starts the signaling relay (persistent key in .data/, so its address is stable),
 * serves the built app on localhost, and tells the app the relay's address through
 * /alliance-config.json. Ports: APP_PORT (default 5173), RELAY_PORT (default 9090).
 */
import { startRelay } from '../src/relay/relay.ts'
import { serveApp } from './static-server.ts'
import { startOperator } from '../src/operator/operator.ts'

const appPort = Number(process.env.APP_PORT ?? 5173)
const relayPort = Number(process.env.RELAY_PORT ?? 9090)

const relay = await startRelay({ port: relayPort, keyFile: '.data/relay.key', log: (line) => console.log(`[relay] ${line}`) })
// the demo alliance's founding validator (an operator's subject network, in Node)
const operator = await startOperator({ relays: relay.multiaddrs, log: process.env.DEBUG != null ? (line) => console.log(`[operator] ${line}`) : undefined })
const app = await serveApp({ port: appPort, relays: relay.multiaddrs, config: (_req, relays) => ({ relays, alliance: operator.config() }) })
console.log(`demo alliance ${operator.ledger.allianceId} founded by the operator ${operator.did}`)
console.log(`relay listening on ${relay.multiaddrs.join(', ')}`)
console.log(`\n  alliance-net is running: ${app.url}\n  open several tabs with ${app.url}?peer=alice, ${app.url}?peer=bob … (each is its own peer)\n`)

let stopping = false
async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  await app.close()
  await operator.stop()
  await relay.stop()
  process.exit(0)
}
process.on('SIGINT', () => { void stop() })
process.on('SIGTERM', () => { void stop() })
