/**
 * A small static server for the built app (dist/): correct MIME types, index.html for app
 * routes, no caching of the service worker script, and `/alliance-config.json` telling the
 * app which relays (and STUN/TURN servers) to use. Used by `npm start`, `npm run start:lan`
 * (over https, also serving the local CA at `/ca.pem` and how to trust it at `/ca`) and by
 * the browser tests.
 *
 * Hardening: a request path that does not decode (`/%ff`) or holds a NUL is a 400, never an
 * exception that would take the process (and the relay started with it) down; a path is
 * served only if it resolves inside the root (compared with a trailing separator, so
 * `/dist-other` is not "inside" `/dist`); every answer carries a Content-Security-Policy
 * without inline scripts, `frame-ancestors 'none'`, nosniff and a strict referrer policy.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm'
}

/**
 * The policy of every page. Scripts only from the app's origin (no inline script, no eval;
 * WebAssembly compilation allowed); connections to the origin and to relays over ws/wss;
 * styles allow inline ones (React's style props, the QR code); never framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "worker-src 'self' blob:",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  // geolocation for "hotspots near me" (U9), camera for the QR scanner: this origin only
  'permissions-policy': 'geolocation=(self), microphone=(), camera=(self)'
}

export interface ServedConfig { relays: string[], iceServers?: RTCIceServer[], iceExpiresAt?: number, /** The demo operator's alliance (src/operator) */ alliance?: { genesis: string, operator: string, name: string } }

export interface StaticServer { url: string, port: number, server: Server, close: () => Promise<void>, setRelays: (relays: string[]) => void }

export interface ServeOptions {
  root?: string
  /** Default 127.0.0.1; `0.0.0.0` for every interface (LAN mode). */
  host?: string
  port?: number
  relays: string[]
  /** Serve https with this certificate (PEM); the URL is then https. */
  tls?: { cert: string, key: string }
  /** The config for one request (e.g. the relay address on the interface the phone used);
   * default `{ relays }`. Asked on every request, so TURN credentials are always fresh. */
  config?: (req: IncomingMessage, relays: string[]) => ServedConfig
  /** PEM of the local CA, served at `/ca.pem` with instructions at `/ca` (LAN mode). */
  caPem?: string
  /** Host name for the printed URL (default: localhost for 127.0.0.1, else `host`). */
  publicHost?: string
}

function send (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers }).end(body)
}

/** The request's path, decoded; undefined when it does not decode or holds a NUL. */
export function requestPath (url: string | undefined): string | undefined {
  try {
    const path = decodeURIComponent(new URL(url ?? '/', 'http://x').pathname)
    return path.includes('\0') ? undefined : path
  } catch {
    return undefined
  }
}

/** The file under `root` for `path`, or undefined when it would leave `root`. */
export function fileUnder (root: string, path: string): string | undefined {
  const file = normalize(join(root, path))
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : undefined
}

/** SHA-256 fingerprint of a PEM certificate, as phones show it (colon-separated hex). */
export function caFingerprint (pem: string): string {
  return new X509Certificate(pem).fingerprint256
}

/** The `/ca` page: the CA to download and how to trust it (the README's LAN section says the same). */
function caPage (caPem: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust this alliance-net LAN server</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.45">
<h1>Trust this server on your phone</h1>
<p>This machine serves alliance-net over https with a certificate from its own local
authority. Install that authority once on each phone, then open the app's https address.
Until you do, the browser warns about this page: going past the warning once, only to fetch
the certificate, is what this page is for.</p>
<p><a href="/ca.pem" download="alliance-net-local-ca.pem"><strong>Download the certificate (alliance-net-local-ca.pem)</strong></a></p>
<p>Its SHA-256 fingerprint: <code data-testid="ca-fingerprint" style="word-break: break-all">${caFingerprint(caPem)}</code>.
Before trusting it, check that the fingerprint the phone shows in the certificate's details
matches the <code>ca sha-256:</code> line that <code>npm run start:lan</code> printed on the computer
(someone else on this network could alter this page, not that terminal).</p>
<h2>Android</h2>
<ol><li>Download the certificate above.</li>
<li>Settings → Security (or "Security &amp; privacy") → More security settings → Encryption &amp; credentials → Install a certificate → <em>CA certificate</em> → Install anyway. (Samsung: Settings → Security and privacy → More security settings → Install from device storage → CA certificate. Elsewhere, search Settings for "CA certificate".)</li>
<li>Pick the downloaded file, then open the app's https address in Chrome.</li></ol>
<h2>iPhone / iPad</h2>
<ol><li>Open this page in Safari and download the certificate above; allow the profile download.</li>
<li>Settings → General → VPN &amp; Device Management → the alliance-net profile → Install.</li>
<li>Settings → General → About → Certificate Trust Settings → turn on full trust for the alliance-net local CA.</li>
<li>Open the app's https address.</li></ol>
<p>Only install authorities you made yourself: whoever holds its key (it never leaves the
machine running LAN mode, file <code>.data/lan/ca/rootCA-key.pem</code>) could impersonate any site to that phone.
Remove it in the same settings when you no longer need it.</p>
</body></html>`
}

export async function serveApp (opts: ServeOptions): Promise<StaticServer> {
  const root = resolve(opts.root ?? 'dist')
  await stat(join(root, 'index.html')).catch(() => { throw new Error(`${root}/index.html is missing: run \`npm run build\` first`) })
  let relays = opts.relays
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = requestPath(req.url)
    if (path == null) { send(res, 400, 'bad request'); return }
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'method not allowed', { allow: 'GET, HEAD' }); return }
    if (path === '/alliance-config.json') {
      const config = opts.config?.(req, relays) ?? { relays }
      send(res, 200, JSON.stringify(config), { 'content-type': 'application/json', 'cache-control': 'no-store' })
      return
    }
    if (opts.caPem != null && path === '/ca.pem') {
      send(res, 200, opts.caPem, { 'content-type': 'application/x-x509-ca-cert', 'content-disposition': 'attachment; filename="alliance-net-local-ca.pem"', 'cache-control': 'no-store' })
      return
    }
    if (opts.caPem != null && (path === '/ca' || path === '/ca/')) {
      send(res, 200, caPage(opts.caPem), { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      return
    }
    const file = fileUnder(root, path)
    if (file == null) { send(res, 404, 'not found'); return }
    const serve = (f: string): void => {
      readFile(f).then((body) => {
        const headers: Record<string, string> = { 'content-type': TYPES[extname(f)] ?? 'application/octet-stream' }
        headers['cache-control'] = f.endsWith('sw.js') || f.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'
        send(res, 200, body, headers)
      }).catch(() => {
        // App routes fall back to the shell; missing assets are real 404s.
        if (extname(path) === '' && f !== join(root, 'index.html')) serve(join(root, 'index.html'))
        else send(res, 404, 'not found')
      })
    }
    serve(path.endsWith('/') ? join(file, 'index.html') : file)
  }
  const guarded = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      handler(req, res)
    } catch (err) {
      // a bug in one request must not stop the server (nor the relay of `npm start`)
      console.error('static server: request failed', err)
      if (!res.headersSent) send(res, 500, 'internal error')
      else res.destroy()
    }
  }
  const server: Server = opts.tls != null ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, guarded) : createHttpServer(guarded)
  server.on('clientError', (_err, socket) => { socket.destroy() })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(opts.port ?? 0, host, ok) })
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : 0
  const shownHost = opts.publicHost ?? (host === '127.0.0.1' ? 'localhost' : host)
  return {
    url: `${opts.tls != null ? 'https' : 'http'}://${shownHost}:${port}/`,
    port,
    server,
    setRelays: (r) => { relays = r },
    close: async () => { server.closeAllConnections(); await new Promise<void>((ok) => server.close(() => ok())) }
  }
}
