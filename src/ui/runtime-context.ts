/**
 * React access to the peer runtime: the runtime is built outside React and handed in through
 * a context; components re-render when its version counter moves.
 */
import { createContext, useContext, useSyncExternalStore } from 'react'
import type { PeerRuntime } from '../peer/runtime.ts'

export const RuntimeContext = createContext<PeerRuntime | null>(null)

export function useRuntime (): PeerRuntime {
  const runtime = useContext(RuntimeContext)
  if (runtime == null) throw new Error('useRuntime outside of RuntimeContext')
  useSyncExternalStore(
    (cb) => runtime.subscribe(cb),
    () => runtime.version
  )
  return runtime
}
