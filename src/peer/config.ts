/**
 * Where the peer finds its signaling relays. In order: relays the user saved in settings for
 * this profile, `?relay=` in the URL (repeatable or comma-separated), the server's
 * `/alliance-config.json` (written by `npm start`, so a localhost demo needs no setup), and
 * the build-time default `VITE_RELAYS`. A `?relay=` link never replaces saved relays on its
 * own (SPEC N15): the relay decides whom a peer meets, so a link from a stranger could put it
 * among the stranger's peers only. It becomes a proposal the user confirms or declines.
 */
import type { KeyValue } from './profiles.ts'

/**
 * What `/alliance-config.json` says. `iceServers` are STUN and TURN servers (TURN with
 * short-lived TURN REST credentials); `iceExpiresAt` (ms since epoch) is when those
 * credentials stop working, so the app asks again before that.
 */
export interface AppConfig { relays: string[], iceServers?: RTCIceServer[], iceExpiresAt?: number }

const settingsKey = (profile: string): string => `alliance:${profile}:relays`

export function parseRelayList (text: string | null | undefined): string[] {
  if (text == null) return []
  return text.split(/[\s,]+/).map(s => s.trim()).filter(s => s.startsWith('/'))
}

export function savedRelays (profile: string, store: KeyValue): string[] {
  return parseRelayList(store.getItem(settingsKey(profile)))
}

export function saveRelays (profile: string, relays: string[], store: KeyValue): void {
  store.setItem(settingsKey(profile), relays.join('\n'))
}

export async function resolveRelays (profile: string, search: string, store: KeyValue, fetchConfig: () => Promise<AppConfig | null>): Promise<string[]> {
  const saved = savedRelays(profile, store)
  if (saved.length > 0) return saved
  const fromUrl = relaysFromUrl(search)
  if (fromUrl.length > 0) return fromUrl
  const served = await fetchConfig().catch(() => null)
  if (served != null && served.relays.length > 0) return served.relays
  return parseRelayList(import.meta.env.VITE_RELAYS as string | undefined)
}

export async function fetchServedConfig (): Promise<AppConfig | null> {
  const res = await fetch('/alliance-config.json', { cache: 'no-store' })
  if (!res.ok) return null
  return parseAppConfig(await res.json())
}

const ICE_URL = /^(stun|stuns|turn|turns):[^\s]{1,250}$/
const MAX_ICE_SERVERS = 8

/** Validates a served config (it is input from the network): unknown fields and bad entries are dropped. */
export function parseAppConfig (body: unknown): AppConfig | null {
  if (typeof body !== 'object' || body == null) return null
  const { relays, iceServers, iceExpiresAt } = body as { relays?: unknown, iceServers?: unknown, iceExpiresAt?: unknown }
  const out: AppConfig = { relays: Array.isArray(relays) ? relays.filter((r): r is string => typeof r === 'string') : [] }
  if (Array.isArray(iceServers)) out.iceServers = iceServers.flatMap(parseIceServer).slice(0, MAX_ICE_SERVERS)
  if (typeof iceExpiresAt === 'number' && Number.isFinite(iceExpiresAt)) out.iceExpiresAt = iceExpiresAt
  return out
}

function parseIceServer (entry: unknown): RTCIceServer[] {
  if (typeof entry !== 'object' || entry == null) return []
  const { urls, username, credential } = entry as { urls?: unknown, username?: unknown, credential?: unknown }
  const list = (Array.isArray(urls) ? urls : [urls]).filter((u): u is string => typeof u === 'string' && ICE_URL.test(u))
  if (list.length === 0) return []
  const server: RTCIceServer = { urls: list }
  if (typeof username === 'string') server.username = username
  if (typeof credential === 'string') server.credential = credential
  return [server]
}

/** Credentials are renewed this long before they expire. */
const ICE_RENEW_MARGIN_MS = 5 * 60_000
/** Without an expiry the list is asked for again after this. */
const ICE_DEFAULT_TTL_MS = 10 * 60_000

/**
 * The ICE servers for each WebRTC handshake, from the served config, asked again before the
 * TURN credentials expire. A failed fetch keeps the last list (or none: host candidates
 * only, which still works on one LAN).
 */
export function servedIceServers (fetchConfig: () => Promise<AppConfig | null>, now: () => number = Date.now): () => Promise<RTCIceServer[]> {
  let current: RTCIceServer[] = []
  let renewAt = 0
  let pending: Promise<RTCIceServer[]> | null = null
  return async () => {
    if (now() < renewAt) return current
    pending ??= fetchConfig()
      .then(cfg => {
        current = cfg?.iceServers ?? []
        renewAt = now() + Math.max(0, (cfg?.iceExpiresAt != null ? cfg.iceExpiresAt - now() - ICE_RENEW_MARGIN_MS : ICE_DEFAULT_TTL_MS))
        return current
      }, () => {
        renewAt = now() + 30_000
        return current
      })
      .finally(() => { pending = null })
    return await pending
  }
}

function relaysFromUrl (search: string): string[] {
  return new URLSearchParams(search).getAll('relay').flatMap(parseRelayList)
}

/**
 * The relays a `?relay=` link asks for when they differ from the ones this profile saved:
 * what the app asks the user to confirm before using them (N15). Null when there is nothing
 * to confirm (no link, nothing saved, or the same list).
 */
export function relayProposal (profile: string, search: string, store: KeyValue): string[] | null {
  const fromUrl = relaysFromUrl(search)
  const saved = savedRelays(profile, store)
  if (fromUrl.length === 0 || saved.length === 0) return null
  const same = fromUrl.length === saved.length && fromUrl.every(r => saved.includes(r))
  return same ? null : fromUrl
}
