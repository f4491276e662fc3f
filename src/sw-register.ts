/**
 * Registers the Workbox service worker (production builds only) and tracks whether a new
 * version is waiting. The page decides when to switch, so a running peer is not reloaded
 * under the user.
 */
import { Workbox } from 'workbox-window'

let wb: Workbox | null = null
let waiting = false
const listeners = new Set<() => void>()

export function registerServiceWorker (): void {
  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return
  wb = new Workbox('/sw.js', { type: 'classic' })
  wb.addEventListener('waiting', () => { waiting = true; for (const l of listeners) l() })
  wb.addEventListener('controlling', () => { if (waiting) location.reload() })
  wb.register().catch((err: unknown) => { console.error('service worker registration failed', err) })
}

export function updateAvailable (): boolean { return waiting }
export function subscribeUpdate (cb: () => void): () => void {
  listeners.add(cb)
  return () => { listeners.delete(cb) }
}
export function applyUpdate (): void { wb?.messageSkipWaiting() }
