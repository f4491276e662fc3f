/**
 * Where the peer finds its signaling relays. In order: `?relay=` in the URL (repeatable or
 * comma-separated), relays the user saved in settings for this profile, the server's
 * `/alliance-config.json` (written by `npm start`, so a localhost demo needs no setup), and
 * the build-time default `VITE_RELAYS`.
 */
import type { KeyValue } from './profiles.ts'

export interface AppConfig { relays: string[] }

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
  const params = new URLSearchParams(search)
  const fromUrl = params.getAll('relay').flatMap(parseRelayList)
  if (fromUrl.length > 0) return fromUrl
  const saved = savedRelays(profile, store)
  if (saved.length > 0) return saved
  const served = await fetchConfig().catch(() => null)
  if (served != null && served.relays.length > 0) return served.relays
  return parseRelayList(import.meta.env.VITE_RELAYS as string | undefined)
}

export async function fetchServedConfig (): Promise<AppConfig | null> {
  const res = await fetch('/alliance-config.json', { cache: 'no-store' })
  if (!res.ok) return null
  const body: unknown = await res.json()
  if (typeof body !== 'object' || body == null) return null
  const relays = (body as { relays?: unknown }).relays
  return { relays: Array.isArray(relays) ? relays.filter((r): r is string => typeof r === 'string') : [] }
}
