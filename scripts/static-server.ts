/**
 * A small static server for the built app (dist/): correct MIME types, index.html for app
 * routes, no caching of the service worker script, and `/alliance-config.json` telling the
 * app which relays to use. Used by `npm start` and by the browser tests.
 */
import { createServer, type Server } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve } from 'node:path'

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

export interface StaticServer { url: string, port: number, server: Server, close: () => Promise<void>, setRelays: (relays: string[]) => void }

export async function serveApp (opts: { root?: string, host?: string, port?: number, relays: string[], config?: () => Record<string, unknown> }): Promise<StaticServer> {
  const root = resolve(opts.root ?? 'dist')
  await stat(join(root, 'index.html')).catch(() => { throw new Error(`${root}/index.html is missing: run \`npm run build\` first`) })
  let relays = opts.relays
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (path === '/alliance-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ ...(opts.config?.() ?? {}), relays }))
      return
    }
    const file = normalize(join(root, path))
    if (!file.startsWith(root)) { res.writeHead(403).end(); return }
    const send = (f: string): void => {
      readFile(f).then((body) => {
        const headers: Record<string, string> = { 'content-type': TYPES[extname(f)] ?? 'application/octet-stream' }
        headers['cache-control'] = f.endsWith('sw.js') || f.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'
        res.writeHead(200, headers).end(body)
      }).catch(() => {
        // App routes fall back to the shell; missing assets are real 404s.
        if (extname(path) === '' && f !== join(root, 'index.html')) send(join(root, 'index.html'))
        else res.writeHead(404).end('not found')
      })
    }
    send(path.endsWith('/') ? join(file, 'index.html') : file)
  })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(opts.port ?? 0, host, ok) })
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : 0
  return {
    url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${port}/`,
    port,
    server,
    setRelays: (r) => { relays = r },
    close: async () => { server.closeAllConnections(); await new Promise<void>((ok) => server.close(() => ok())) }
  }
}
