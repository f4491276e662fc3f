/**
 * Who may hold a reservation on the relay (SPEC N13). The relay's 256 reservations are a
 * shared resource: without limits one host could take them all with fresh keys, and one key
 * could keep the relay busy re-reserving. So a reservation is refused when the requester's IP
 * address already holds `perIp` reservations of other peers, or when the same peer asked more
 * than `perPeerPerMinute` times in the last minute. A peer renewing its own reservation keeps
 * its slot. Tabs of one browser and phones behind one NAT share an address, so `perIp` is
 * generous; it bounds a single attacker host, not a household.
 */

export interface ReservationLimitOptions {
  /** Reservations one IP address may hold at once. Default 64. */
  perIp?: number
  /** RESERVE requests one peer may make per minute. Default 12 (a renewal every 5 s). */
  perPeerPerMinute?: number
  /** Peers whose request history is remembered (least recent forgotten first). Default 4096. */
  maxTrackedPeers?: number
}

export interface Holder { peer: string, ip: string | null }

export type ReservationRefusal = 'per-ip' | 'per-peer-rate'

export class ReservationLimiter {
  readonly perIp: number
  readonly perPeerPerMinute: number
  private readonly maxTracked: number
  private readonly asks = new Map<string, number[]>()
  readonly refused: Record<ReservationRefusal, number> = { 'per-ip': 0, 'per-peer-rate': 0 }

  constructor (opts: ReservationLimitOptions = {}) {
    this.perIp = opts.perIp ?? 64
    this.perPeerPerMinute = opts.perPeerPerMinute ?? 12
    this.maxTracked = opts.maxTrackedPeers ?? 4096
    for (const [name, v] of [['perIp', this.perIp], ['perPeerPerMinute', this.perPeerPerMinute], ['maxTrackedPeers', this.maxTracked]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
    }
  }

  /**
   * Why `peer` (asking from `ip`) is refused, or null to let it reserve. `holders` are the
   * reservations held now; `now` is the time in ms (the relay passes Date.now()).
   */
  check (peer: string, ip: string | null, holders: Iterable<Holder>, now: number): ReservationRefusal | null {
    const recent = (this.asks.get(peer) ?? []).filter(t => now - t < 60_000)
    recent.push(now)
    this.asks.delete(peer) // re-insert: the map's order is least recently asked first
    this.asks.set(peer, recent)
    while (this.asks.size > this.maxTracked) this.asks.delete(this.asks.keys().next().value as string)
    if (recent.length > this.perPeerPerMinute) return this.refuse('per-peer-rate')
    if (ip == null) return null
    let sameIp = 0
    for (const h of holders) {
      if (h.peer === peer) return null // a renewal keeps its slot
      if (h.ip === ip) sameIp++
    }
    return sameIp >= this.perIp ? this.refuse('per-ip') : null
  }

  private refuse (why: ReservationRefusal): ReservationRefusal {
    this.refused[why]++
    return why
  }
}

/** The IP address of a multiaddr's first component, or null for a non-IP address. */
export function ipOf (addr: { getComponents: () => Array<{ name: string, value?: string }> }): string | null {
  const first = addr.getComponents()[0]
  return first != null && (first.name === 'ip4' || first.name === 'ip6') ? first.value ?? null : null
}
