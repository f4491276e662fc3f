/**
 * Who of two peers dials first (SPEC N9), and so whose handshake wins when both dial at once
 * (N17). Shared by the mesh (who dials when) and the WebRTC guard (which of two crossing
 * handshakes is refused), so the two always agree.
 */

/** FNV-1a, 32 bits: cheap, and the same on every peer. */
function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/**
 * Whether `self` is the first dialer of the pair {self, other}; the two peers compute opposite
 * answers. A bit of a hash of the pair rather than "the lower PeerId": with that, the lowest
 * PeerId of a forming mesh dialed everyone (its dials queued behind one another) and the
 * highest dialed no one and waited out the grace for every peer that was full.
 */
export function dialsFirst (self: string, other: string): boolean {
  const [lo, hi] = self < other ? [self, other] : [other, self]
  const loDials = (fnv1a(`${lo}/${hi}`) & 1) === 0
  return loDials === (self === lo)
}
