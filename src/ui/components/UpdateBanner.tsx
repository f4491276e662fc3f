/** Offers to switch to a new version of the app once its service worker is waiting. */
import { useSyncExternalStore } from 'react'
import { updateAvailable, subscribeUpdate, applyUpdate } from '../../sw-register.ts'

export function UpdateBanner (): React.JSX.Element | null {
  const ready = useSyncExternalStore(subscribeUpdate, updateAvailable)
  if (!ready) return null
  return (
    <div className='banner' role='status'>
      A new version is ready. <button type='button' className='small' onClick={applyUpdate}>Reload</button>
    </div>
  )
}
