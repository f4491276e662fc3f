/**
 * CLI of the signaling relay (`npm run relay`). Options: `--port N` or RELAY_PORT (default
 * 9090), `--host H` or RELAY_HOST (default 127.0.0.1), `--key FILE` or RELAY_KEY_FILE (default
 * .data/relay.key), `--tls-cert FILE --tls-key FILE` or RELAY_TLS_CERT/RELAY_TLS_KEY (serve
 * wss itself), `--announce MA[,MA]` or RELAY_ANNOUNCE (public addresses, e.g. behind a TLS
 * reverse proxy: `/dns4/relay.example.org/tcp/443/tls/ws`). Prints the relay's multiaddrs and
 * stops cleanly on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_RELAY_KEY_FILE, DEFAULT_RELAY_PORT, startRelay } from './relay.ts'

function argValue (name: string): string | undefined {
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3)
  }
  return undefined
}

function parsePort (text: string | undefined): number {
  if (text == null || text === '') return DEFAULT_RELAY_PORT
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port: ${text}`)
  return port
}

async function main (): Promise<void> {
  const port = parsePort(argValue('port') ?? process.env.RELAY_PORT)
  const host = argValue('host') ?? process.env.RELAY_HOST ?? '127.0.0.1'
  const keyFile = argValue('key') ?? process.env.RELAY_KEY_FILE ?? DEFAULT_RELAY_KEY_FILE
  const certFile = argValue('tls-cert') ?? process.env.RELAY_TLS_CERT
  const keyPem = argValue('tls-key') ?? process.env.RELAY_TLS_KEY
  if ((certFile == null) !== (keyPem == null)) throw new TypeError('give both --tls-cert and --tls-key, or neither')
  const tls = certFile != null && keyPem != null ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyPem, 'utf8') } : undefined
  const announce = (argValue('announce') ?? process.env.RELAY_ANNOUNCE ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  const relay = await startRelay({ host, port, keyFile, tls, announce, log: line => { console.log(`${new Date().toISOString()} ${line}`) } })
  for (const ma of relay.multiaddrs) console.log(ma)
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: stopping relay`)
    relay.stop().then(() => process.exit(0), err => {
      console.error('relay did not stop cleanly', err)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
