/**
 * Misbehaviour scoring, shared by every protocol that reads frames from peers (DMs now, ledger
 * sync later). Each rejected frame is counted under its error code; a peer that sends
 * `threshold` bad frames within `windowMs` is reported as one to disconnect and stays on a
 * deny-list for `denyMs` (the connection gater and protocol handlers consult `isDenied`).
 *
 * Guarantees: memory is bounded (at most `maxTracked` peers with recent strikes, oldest evicted
 * first; deny entries expire); time comes from the injected clock, so tests can drive it.
 */

export interface MisbehaviourOptions {
  /** Bad frames within the window that get a peer disconnected. Default 5. */
  threshold?: number
  /** Sliding window for strikes. Default 60 s. */
  windowMs?: number
  /** How long a disconnected peer is refused. Default 2 min. */
  denyMs?: number
  /** Peers with strikes tracked at once. Default 1024. */
  maxTracked?: number
  now?: () => number
}

export interface Verdict {
  /** Strikes of this peer within the window, this one included. */
  strikes: number
  /** True exactly once per offence: the caller should hang up on the peer now. */
  disconnect: boolean
}

export interface MisbehaviourStats {
  /** Rejected frames by error code, since start. */
  rejected: Record<string, number>
  /** Peers disconnected for garbage, since start. */
  disconnected: number
  /** Peers on the deny-list now. */
  denied: number
}

export class MisbehaviourTracker {
  private readonly threshold: number
  private readonly windowMs: number
  private readonly denyMs: number
  private readonly maxTracked: number
  private readonly now: () => number
  private readonly strikes = new Map<string, number[]>()
  private readonly deniedUntil = new Map<string, number>()
  private readonly rejected = new Map<string, number>()
  private disconnected = 0

  constructor (opts: MisbehaviourOptions = {}) {
    this.threshold = opts.threshold ?? 5
    this.windowMs = opts.windowMs ?? 60_000
    this.denyMs = opts.denyMs ?? 120_000
    this.maxTracked = opts.maxTracked ?? 1024
    this.now = opts.now ?? Date.now
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw new RangeError('threshold must be a positive integer')
    if (!(this.windowMs > 0) || !(this.denyMs >= 0)) throw new RangeError('windowMs must be > 0 and denyMs >= 0')
  }

  /** Counts a rejected frame from `peer` (a PeerId string) under `code`. */
  report (peer: string, code: string): Verdict {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1)
    const now = this.now()
    const recent = (this.strikes.get(peer) ?? []).filter(t => now - t < this.windowMs)
    recent.push(now)
    this.strikes.delete(peer) // re-insert so that Map order is least recently struck first
    this.strikes.set(peer, recent)
    while (this.strikes.size > this.maxTracked) {
      const oldest = this.strikes.keys().next().value
      if (oldest === undefined) break
      this.strikes.delete(oldest)
    }
    if (recent.length >= this.threshold && !this.isDenied(peer)) {
      this.strikes.delete(peer)
      this.deny(peer)
      this.disconnected++
      return { strikes: recent.length, disconnect: true }
    }
    return { strikes: recent.length, disconnect: false }
  }

  /** Counts a rejection that is nobody's fault in particular (no strike). */
  count (code: string): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1)
  }

  deny (peer: string, ms = this.denyMs): void {
    this.deniedUntil.set(peer, this.now() + ms)
  }

  isDenied (peer: string): boolean {
    const until = this.deniedUntil.get(peer)
    if (until === undefined) return false
    if (until <= this.now()) {
      this.deniedUntil.delete(peer)
      return false
    }
    return true
  }

  stats (): MisbehaviourStats {
    const now = this.now()
    for (const [peer, until] of this.deniedUntil) if (until <= now) this.deniedUntil.delete(peer)
    return {
      rejected: Object.fromEntries(this.rejected),
      disconnected: this.disconnected,
      denied: this.deniedUntil.size
    }
  }
}
