/**
 * Bundles a bench entry (test/bench/*-browser-entry.ts) into one ES module with Vite's lib
 * mode, once per entry per run, for `page.addScriptTag({ content, type: 'module' })`.
 */
import { build } from 'vite'
import type { PluginOption } from 'vite'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const built = new Map<string, Promise<string>>()

/** `variant` names a bundle built with extra `plugins` (cached apart from the plain one). */
export async function bundleForBrowser (entry: string, variant?: { name: string, plugins: PluginOption[] }): Promise<string> {
  const key = variant != null ? `${entry}#${variant.name}` : entry
  let code = built.get(key)
  if (code == null) {
    code = (async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'alliance-bench-'))
      try {
        await build({
          configFile: false,
          logLevel: 'silent',
          plugins: variant?.plugins ?? [],
          define: { 'process.env.NODE_ENV': '"production"' },
          build: {
            outDir,
            emptyOutDir: true,
            minify: false,
            target: 'es2022',
            lib: { entry, formats: ['es'], fileName: 'bench' },
            rollupOptions: { output: { codeSplitting: false } }
          }
        })
        const files = readdirSync(outDir).filter((f) => f.endsWith('.js'))
        if (files.length !== 1) throw new Error(`the bundle of ${entry} is not one file: ${files.join(', ')}`)
        return readFileSync(join(outDir, files[0]), 'utf8')
      } finally {
        rmSync(outDir, { recursive: true, force: true })
      }
    })()
    built.set(key, code)
  }
  return await code
}
