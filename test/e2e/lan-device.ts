/**
 * A second device on the LAN for test/e2e/lan.test.ts: this machine's LAN address (made on a
 * dummy interface or a veth pair, as root, where there is none), `npm run start:lan`'s script run
 * as a child process with free ports and a temporary data dir (what it prints is what a user
 * reads), and a Chromium whose certificate store (the NSS database under its $HOME) holds the
 * printed CA — or nothing, to show that an untrusted phone is refused.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { chromium, type Browser } from 'playwright-core'
import { lanAddresses } from '../../scripts/lan-cert.ts'
import { CHROMIUM, CHROMIUM_ARGS } from './harness.ts'

const CERTUTIL = ['/usr/bin/certutil', '/usr/local/bin/certutil'].find(p => existsSync(p))
const IP = ['/usr/sbin/ip', '/usr/bin/ip', '/sbin/ip'].find(p => existsSync(p))
/** The interface and address made when the machine has no LAN address (CI may have only loopback). */
const DUMMY = { name: 'alliance-lan0', peer: 'alliance-lan1', cidr: '10.213.0.1/24', address: '10.213.0.1' }

export type LanAddress = { address: string, made: boolean, cleanup: () => void } | { skip: string }

/**
 * A non-loopback IPv4 address of this machine; made on a dummy interface (or a veth pair) as
 * root when missing. An address on `lo` would not do: every address of a loopback interface
 * counts as internal, so LAN mode (and Chromium's ICE) ignore it, as they should.
 */
export function lanAddress (): LanAddress {
  const found = lanAddresses()[0]
  if (found != null) return { address: found, made: false, cleanup: () => {} }
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || IP == null) {
    return { skip: 'this machine has no LAN address and cannot make one (needs root and iproute2 to add a dummy interface)' }
  }
  const del = (): void => { try { execFileSync(IP, ['link', 'del', DUMMY.name], { stdio: 'ignore' }) } catch { /* not there */ } }
  del() // left over by an interrupted run
  const ip = (args: string[]): void => { execFileSync(IP, args, { stdio: 'pipe' }) }
  try {
    // a dummy interface; a kernel without the dummy driver (some containers) gets a veth pair
    try { ip(['link', 'add', DUMMY.name, 'type', 'dummy']) } catch { ip(['link', 'add', DUMMY.name, 'type', 'veth', 'peer', 'name', DUMMY.peer]); ip(['link', 'set', DUMMY.peer, 'up']) }
    ip(['addr', 'add', DUMMY.cidr, 'dev', DUMMY.name])
    ip(['link', 'set', DUMMY.name, 'up'])
    // Chromium gathers ICE candidates only on the interface of its default route (unless the
    // page was granted camera or microphone): a machine with loopback only has none, so the
    // new interface gets it, as a phone's Wi-Fi has it; it goes with the interface
    if (execFileSync(IP, ['-4', 'route', 'show', 'default'], { encoding: 'utf8' }).trim() === '') ip(['route', 'add', 'default', 'dev', DUMMY.name])
  } catch (err) {
    del()
    const e = err as { message: string, stderr?: Buffer }
    return { skip: `no LAN address, and no interface could be made for one: ${(e.stderr?.toString() ?? e.message).trim().split('\n')[0]}` }
  }
  return { address: DUMMY.address, made: true, cleanup: del }
}

/** Why the trust store cannot be built here (null: it can). */
export function trustStoreSkipReason (): string | null {
  return CERTUTIL == null ? 'certutil is not installed (apt-get install libnss3-tools)' : null
}

/**
 * A $HOME for Chromium whose NSS database trusts `caPath` as a CA for web sites (`C,,`), the
 * store Chromium on Linux reads; without `caPath` an empty database (a phone that trusts
 * nothing of ours).
 */
export function trustStore (home: string, caPath?: string): string {
  const db = join(home, '.pki', 'nssdb')
  mkdirSync(db, { recursive: true })
  execFileSync(CERTUTIL!, ['-d', `sql:${db}`, '-N', '--empty-password'], { stdio: 'pipe' })
  if (caPath != null) execFileSync(CERTUTIL!, ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'alliance-net-local-ca', '-i', caPath], { stdio: 'pipe' })
  return home
}

/** Chromium with `home` as its $HOME, so its certificate store is that NSS database. */
export async function launchWithHome (home: string): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env: { ...process.env, HOME: home } })
}

export interface StartedLan {
  /** The printed https URL (`open on a phone on this network: …`). */
  url: string
  /** The printed `ca:` path. */
  caPath: string
  /** All it printed. */
  output: string
  stop: () => Promise<void>
}

/** Runs scripts/start-lan.ts (what `npm run start:lan` runs after the build) until it has printed its banner. */
export async function runStartLan (dataDir: string, timeoutMs = 60_000): Promise<StartedLan> {
  const child = spawn(join('node_modules', '.bin', 'tsx'), ['scripts/start-lan.ts'], {
    env: { ...process.env, APP_PORT: '0', RELAY_PORT: '0', LAN_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  createInterface({ input: child.stderr }).on('line', (line) => { console.error(`[start:lan] ${line}`) })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM')
    await exited
  }
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`start:lan printed no banner in ${timeoutMs} ms:\n${output}`)) }, timeoutMs)
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`start:lan exited (${code ?? signal}):\n${output}`)) })
      createInterface({ input: child.stdout }).on('line', (line) => {
        output += line + '\n'
        // the banner's last part
        if (/^\s*relay: /.test(line)) { clearTimeout(timer); resolve() }
      })
    })
  } catch (err) {
    await stop()
    throw err
  }
  const url = /open on a phone on this network: (\S+)/.exec(output)?.[1]
  const caPath = /^\s*ca: (\S+)/m.exec(output)?.[1]
  if (url == null || caPath == null) { await stop(); throw new Error(`start:lan printed no URL or ca: line:\n${output}`) }
  readFileSync(caPath) // the printed path is a file
  return { url, caPath, output, stop }
}
