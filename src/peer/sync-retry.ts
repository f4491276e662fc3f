/**
 * When to sync again with a peer after a sync failed (SPEC.md S13): soon (1 s, then 2 s,
 * 4 s, 8 s) rather than at the next 30 s tick, a few times, then left to the periodic sync.
 * A success forgets the failures. One timer per peer at most.
 */
export const SYNC_RETRY_BASE_MS = 1000
export const SYNC_RETRY_MAX = 4

export class SyncRetry {
  private readonly failures = new Map<string, number>()
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()

  constructor (private readonly baseMs = SYNC_RETRY_BASE_MS, private readonly max = SYNC_RETRY_MAX) {}

  succeeded (peer: string): void {
    this.failures.delete(peer)
  }

  /** Schedules `again` after the next delay; false when the retries for `peer` are used up. */
  failed (peer: string, again: () => void): boolean {
    const n = (this.failures.get(peer) ?? 0) + 1
    this.failures.set(peer, n)
    if (n > this.max || this.timers.has(peer)) return false
    this.timers.set(peer, setTimeout(() => { this.timers.delete(peer); again() }, this.baseMs * 2 ** (n - 1)))
    return true
  }

  /** Cancels every pending retry. */
  clear (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.failures.clear()
  }
}
