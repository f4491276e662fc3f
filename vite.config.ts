// Vite build of the PWA: React, the Workbox service worker from sw/ (injectManifest, so the
// precache list is the built app shell), and the relay address baked in as the embedded default.
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { VitePWA } from 'vite-plugin-pwa'

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'sw',
      filename: 'sw.ts',
      injectRegister: false,
      manifest: false,
      includeManifestIcons: false,
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,txt}'],
        // Larger than the largest chunk: a chunk left out of the precache breaks offline use.
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024
      },
      devOptions: { enabled: process.env.SW_DEV === '1', type: 'module' }
    })
  ],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 4096
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' }
})
