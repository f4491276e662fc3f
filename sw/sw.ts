/// <reference lib="webworker" />
/**
 * The service worker: precaches the built app shell (the list Workbox injects at build time)
 * and answers navigations with the cached index.html (all but LAN mode's `/ca` and `/ca.pem`),
 * so the app opens offline after one online visit. A new version waits until the page asks it
 * to take over (SKIP_WAITING), so a running peer is never swapped out from under the user.
 */
import { precacheAndRoute, cleanupOutdatedCaches, createHandlerBoundToURL } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'

declare const self: ServiceWorkerGlobalScope

cleanupOutdatedCaches()
precacheAndRoute(self.__WB_MANIFEST)
// LAN mode's trust page and CA (scripts/static-server.ts, SPEC N5) are the server's, not the
// app's: a phone running the app must still be able to open them to trust another device
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/^\/ca(\/|\.pem)?(\?.*)?$/] }))

self.addEventListener('message', (event: ExtendableMessageEvent) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void self.skipWaiting()
})
