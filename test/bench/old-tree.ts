/**
 * The pre-trust ledger (issue 8's "before"), for benches that measure old and new in the same
 * run: `git archive <commit> src` into a temp dir at bench time, with a `node_modules` link to
 * this checkout's, and its modules imported from there. Nothing old is committed. The commit
 * is the parent of the first trust commit ("Ledger trust core (WIP)", 154197e), i.e. the last
 * one with cumulative-weight, non-final confirmation; TRUST_BENCH_OLD_COMMIT overrides it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, realpathSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/** 73d3b37 "Ledger: verify incoming block signatures in bulk …", parent of 154197e. */
export const OLD_COMMIT_DEFAULT = '73d3b37340d8ffe0260f8d88704a4a41539feecf'

export interface OldTree {
  readonly commit: string
  readonly dir: string
  /** Imports `src/<path>` of the old tree. */
  load: <T>(path: string) => Promise<T>
  remove: () => void
}

const cached = new Map<string, OldTree>()

/**
 * Extracts the old src/ once per process and commit (default: the pre-trust one above; other
 * benches name their own "before"); null (with the reason on stderr) if git cannot.
 */
export function oldTree (at?: string): OldTree | null {
  const commit = at ?? process.env.TRUST_BENCH_OLD_COMMIT ?? OLD_COMMIT_DEFAULT
  const hit = cached.get(commit)
  if (hit != null) return hit
  let full: string
  try {
    full = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], { encoding: 'utf8' }).trim()
  } catch {
    process.stderr.write(`[bench trust] commit ${commit} is not in this clone (shallow?): old-engine figures skipped\n`)
    return null
  }
  const dir = mkdtempSync(join(tmpdir(), 'alliance-old-'))
  execFileSync('sh', ['-c', `git archive ${full} src | tar -x -C '${dir}'`])
  // bare imports (@noble/…, libp2p) resolve from here; realpath so both trees share one copy
  symlinkSync(realpathSync(resolve('node_modules')), join(dir, 'node_modules'))
  // ESM, as this package is (else tsx loads the .ts files as CommonJS)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
  const tree: OldTree = {
    commit: full,
    dir,
    load: async <T>(path: string): Promise<T> => await import(pathToFileURL(join(dir, 'src', path)).href) as T,
    remove: () => { rmSync(dir, { recursive: true, force: true }) }
  }
  process.on('exit', () => { tree.remove() })
  cached.set(commit, tree)
  return tree
}
