/**
 * LAN mode's certificates: a local certificate authority made once (kept in `<dir>/ca/`, the
 * file a phone must trust is `<dir>/ca/rootCA.pem`) and a server certificate for this
 * machine's LAN addresses and names signed by it, re-issued when the names change (a new
 * Wi-Fi address) or when it is close to expiry.
 *
 * Debian's `mkcert` does it when it is installed (`CAROOT=<dir>/ca mkcert …`); otherwise the
 * same files are made in-process with `@peculiar/x509` (ECDSA P-256 over WebCrypto). Both
 * write the same file names, and the CA key never leaves `<dir>/ca/` (mode 0600).
 */
import { execFileSync } from 'node:child_process'
import { webcrypto } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, networkInterfaces } from 'node:os'
import { join } from 'node:path'
// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata API
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

export interface LanCert {
  /** PEM of the server certificate and its private key. */
  cert: string
  key: string
  /** Path of the CA certificate to install on phones. */
  caPath: string
  /** Names and addresses the certificate covers. */
  names: string[]
  /** 'mkcert' or 'x509' (the npm library). */
  tool: 'mkcert' | 'x509'
}

/** This machine's LAN IPv4 addresses (no loopback, no link-local), the interface order kept. */
export function lanAddresses (): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) out.push(a.address)
    }
  }
  return [...new Set(out)]
}

/** What the certificate must cover: LAN addresses, the host name (and `.local`), localhost. */
export function certNames (addresses = lanAddresses(), host = hostname()): string[] {
  const h = host.toLowerCase().replace(/\.local$/, '')
  const names = [...addresses, ...(/^[a-z0-9-]{1,63}$/.test(h) ? [h, `${h}.local`] : []), 'localhost', '127.0.0.1']
  return [...new Set(names)]
}

function hasMkcert (): boolean {
  if (process.env.LAN_CERT_TOOL === 'x509') return false
  try {
    execFileSync('mkcert', ['-help'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/
const RENEW_BEFORE_MS = 30 * 24 * 3600_000
const crypto = webcrypto as unknown as Crypto
// passed to every call too: a test runner may load a second copy of the library whose
// default provider is not this one
x509.cryptoProvider.set(crypto)
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

function serial (): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[0] &= 0x7f // a positive serial
  return Buffer.from(bytes).toString('hex')
}

async function keyPem (key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY')
}

async function loadOrMakeCa (caDir: string): Promise<{ cert: x509.X509Certificate, key: CryptoKey }> {
  const certPath = join(caDir, 'rootCA.pem')
  const keyPath = join(caDir, 'rootCA-key.pem')
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'))
    const der = x509.PemConverter.decodeFirst(readFileSync(keyPath, 'utf8'))
    const key = await crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])
    return { cert, key }
  }
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=alliance-net local CA (${hostname()}), O=alliance-net LAN mode`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)
    ]
  }, crypto)
  mkdirSync(caDir, { recursive: true, mode: 0o700 })
  writeFileSync(keyPath, await keyPem(keys.privateKey), { mode: 0o600 })
  writeFileSync(certPath, cert.toString('pem'))
  return { cert, key: keys.privateKey }
}

async function issueWithX509 (caDir: string, names: string[]): Promise<{ cert: string, key: string }> {
  const ca = await loadOrMakeCa(caDir)
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names[0]}, O=alliance-net LAN mode`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 3600_000),
    // browsers refuse server certificates valid for more than 398 days
    notAfter: new Date(now + 397 * 24 * 3600_000),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map(n => ({ type: IPV4.test(n) ? 'ip' as const : 'dns' as const, value: n }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false, crypto),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)
    ]
  }, crypto)
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) }
}

/**
 * The CA (made on first use) and a server certificate for `names` (default: this machine's),
 * under `dir` (default `.data/lan`).
 */
export async function ensureLanCert (opts: { dir?: string, names?: string[] } = {}): Promise<LanCert> {
  const dir = opts.dir ?? '.data/lan'
  const names = opts.names ?? certNames()
  const caDir = join(dir, 'ca')
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  const namesPath = join(dir, 'names.json')
  mkdirSync(caDir, { recursive: true, mode: 0o700 })
  const tool = existsSync(join(caDir, 'rootCA-key.pem')) && !existsSync(join(caDir, '.mkcert')) ? 'x509' : (hasMkcert() ? 'mkcert' : 'x509')
  if (existsSync(certPath) && existsSync(keyPath) && existsSync(namesPath)) {
    const same = readFileSync(namesPath, 'utf8') === JSON.stringify(names)
    const cert = readFileSync(certPath, 'utf8')
    const fresh = new x509.X509Certificate(cert).notAfter.getTime() - Date.now() > RENEW_BEFORE_MS
    if (same && fresh) return { cert, key: readFileSync(keyPath, 'utf8'), caPath: join(caDir, 'rootCA.pem'), names, tool }
  }
  if (tool === 'mkcert') {
    execFileSync('mkcert', ['-cert-file', certPath, '-key-file', keyPath, ...names], { env: { ...process.env, CAROOT: caDir }, stdio: 'pipe' })
    writeFileSync(join(caDir, '.mkcert'), 'made by mkcert\n')
  } else {
    const issued = await issueWithX509(caDir, names)
    writeFileSync(certPath, issued.cert)
    writeFileSync(keyPath, issued.key, { mode: 0o600 })
  }
  chmodSync(keyPath, 0o600)
  writeFileSync(namesPath, JSON.stringify(names))
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), caPath: join(caDir, 'rootCA.pem'), names, tool }
}
