/**
 * Profiles: each tab of one browser can be a separate peer. `?peer=NAME` picks a profile;
 * without it the app reopens the last profile used in this browser. A profile name selects
 * the IndexedDB databases (`alliance/<name>/…`), so two profiles never share keys.
 */
import { isProfileName } from '../core/profile.ts'

export { isProfileName, parseProfileName } from '../core/profile.ts'

const LAST_PROFILE_KEY = 'alliance:last-profile'
const KNOWN_PROFILES_KEY = 'alliance:profiles'
export const DEFAULT_PROFILE = 'me'

/** Small storage port so tests and non-browser callers can supply their own. */
export interface KeyValue { getItem: (k: string) => string | null, setItem: (k: string, v: string) => void, removeItem?: (k: string) => void }

export function selectProfile (search: string, store: KeyValue): string {
  const asked = new URLSearchParams(search).get('peer')
  const name = asked != null && isProfileName(asked) ? asked : (store.getItem(LAST_PROFILE_KEY) ?? DEFAULT_PROFILE)
  rememberProfile(name, store)
  return isProfileName(name) ? name : DEFAULT_PROFILE
}

export function rememberProfile (name: string, store: KeyValue): void {
  store.setItem(LAST_PROFILE_KEY, name)
  const known = knownProfiles(store)
  if (!known.includes(name)) store.setItem(KNOWN_PROFILES_KEY, JSON.stringify([...known, name].slice(-50)))
}

export function knownProfiles (store: KeyValue): string[] {
  try {
    const list: unknown = JSON.parse(store.getItem(KNOWN_PROFILES_KEY) ?? '[]')
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string' && isProfileName(x)) : []
  } catch {
    return []
  }
}
