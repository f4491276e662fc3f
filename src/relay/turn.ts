/**
 * STUN and TURN servers for `/alliance-config.json`, with short-lived TURN credentials in the
 * TURN REST API scheme that coturn implements (`use-auth-secret` + `static-auth-secret`):
 * username = `<expiry unix time>:<name>`, password = base64(HMAC-SHA1(secret, username)).
 * The shared secret stays on the server; a leaked credential stops working at its expiry.
 *
 * Configured from the environment (see README, internet recipe):
 * - ALLIANCE_STUN: comma-separated STUN URLs (e.g. `stun:turn.example.org:3478`);
 * - ALLIANCE_TURN_URLS: comma-separated TURN URLs (e.g.
 *   `turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp`);
 * - ALLIANCE_TURN_SECRET (or ALLIANCE_TURN_SECRET_FILE): coturn's `static-auth-secret`;
 * - ALLIANCE_TURN_TTL: credential lifetime in seconds (default 3600, 60…86400).
 * Setting iceServers replaces libp2p's default STUN list, so STUN is listed explicitly; with
 * TURN URLs and no ALLIANCE_STUN, the TURN hosts' `stun:` URLs are used.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

export interface IceServer { urls: string[], username?: string, credential?: string }
export interface IceConfig { iceServers: IceServer[], iceExpiresAt?: number }

const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]{1,250}$/

/** TURN REST credentials valid until `now + ttlSeconds`. */
export function turnCredentials (secret: string, name: string, ttlSeconds: number, nowMs = Date.now()): { username: string, credential: string, expiresAt: number } {
  if (secret.length === 0) throw new RangeError('TURN secret must not be empty')
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new RangeError('TURN user name: 1-64 of A-Z a-z 0-9 . _ -')
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds
  const username = `${expiry}:${name}`
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64'), expiresAt: expiry * 1000 }
}

function urls (text: string | undefined, what: string): string[] {
  const list = (text ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  for (const u of list) if (!ICE_URL.test(u)) throw new RangeError(`${what}: not a stun/turn URL: ${u}`)
  return list
}

/**
 * The ICE part of the served config, from the environment; a fresh credential per call (one
 * per request of the config). Throws on a malformed setting, so a typo stops the server at
 * start instead of serving a list that silently fails.
 */
export function iceConfigFromEnv (env: NodeJS.ProcessEnv = process.env): (() => IceConfig) | null {
  const turn = urls(env.ALLIANCE_TURN_URLS, 'ALLIANCE_TURN_URLS')
  let stun = urls(env.ALLIANCE_STUN, 'ALLIANCE_STUN')
  if (stun.length === 0 && turn.length > 0) {
    stun = [...new Set(turn.map(u => `stun:${u.replace(/^turns?:/, '').split('?')[0]}`))].filter(u => !u.endsWith(':5349'))
  }
  const secret = env.ALLIANCE_TURN_SECRET ?? (env.ALLIANCE_TURN_SECRET_FILE != null ? readFileSync(env.ALLIANCE_TURN_SECRET_FILE, 'utf8').trim() : undefined)
  const ttl = Number(env.ALLIANCE_TURN_TTL ?? 3600)
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new RangeError('ALLIANCE_TURN_TTL must be 60..86400 seconds')
  if (turn.length > 0 && (secret == null || secret === '')) throw new RangeError('ALLIANCE_TURN_URLS needs ALLIANCE_TURN_SECRET (coturn static-auth-secret)')
  if (stun.length === 0 && turn.length === 0) return null
  return () => {
    const servers: IceServer[] = stun.length > 0 ? [{ urls: stun }] : []
    if (turn.length === 0 || secret == null) return { iceServers: servers }
    // an anonymous, random name per credential: coturn logs it, nothing ties it to a DID
    const c = turnCredentials(secret, `a${randomBytes(6).toString('hex')}`, ttl)
    servers.push({ urls: turn, username: c.username, credential: c.credential })
    return { iceServers: servers, iceExpiresAt: c.expiresAt }
  }
}
