/**
 * Keeps libp2p's peer store bounded (N12). libp2p adds every discovered peer to it and never
 * deletes one, so a stream of discovery records from fresh keys would grow it for as long as
 * the tab stays open. Past `max` entries, the entries of peers that are neither connected,
 * nor relays, nor still known to the mesh are deleted.
 */
import type { Libp2p } from '@libp2p/interface'

export async function prunePeerStore (libp2p: Pick<Libp2p, 'peerStore' | 'getConnections'>, keep: (peer: string) => boolean, max: number): Promise<number> {
  const peers = await libp2p.peerStore.all()
  if (peers.length <= max) return 0
  const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
  let deleted = 0
  for (const p of peers) {
    if (peers.length - deleted <= max) break
    const id = p.id.toString()
    if (connected.has(id) || keep(id)) continue
    await libp2p.peerStore.delete(p.id)
    deleted++
  }
  return deleted
}
