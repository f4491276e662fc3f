/**
 * Tells the user what the network layer cannot fix alone: the browser is offline (the mesh
 * reconnects by itself when it is back), or this tab has used up the WebRTC connections the
 * browser allows (only closing and reopening the app helps). Reads the runtime's
 * `networkStatus()`; the secure-context error comes earlier, from PeerRuntime.open.
 */
import { useRuntime } from '../runtime-context.ts'

export function NetworkBanner (): React.JSX.Element | null {
  const status = useRuntime().networkStatus()
  if (status.rtcBudgetSpent) {
    return (
      <div className='banner warn' role='alert' data-testid='network-banner'>
        This tab has used up the peer connections the browser allows. Close the app completely and open it again to reach peers.
      </div>
    )
  }
  if (status.offline) {
    return (
      <div className='banner warn' role='status' data-testid='network-banner'>
        Offline: no network. The mesh reconnects by itself when the network is back.
      </div>
    )
  }
  return null
}
