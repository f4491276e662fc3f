/**
 * Tells the user when the browser did not grant persistent storage: without it, Safari and
 * others may wipe the site's data (keys, ledger) after some days without a visit.
 */
import { useEffect, useState } from 'react'

export function StorageNote (): React.JSX.Element | null {
  const [persisted, setPersisted] = useState<boolean | null>(null)
  useEffect(() => {
    let live = true
    const storage = navigator.storage
    if (storage?.persisted == null) return
    storage.persisted()
      .then(async (yes) => yes || (storage.persist != null && await storage.persist()))
      .then((yes) => { if (live) setPersisted(yes) })
      .catch(() => { if (live) setPersisted(false) })
    return () => { live = false }
  }, [])
  if (persisted !== false) return null
  return (
    <div className='banner warn' role='status' data-testid='storage-note'>
      This browser may clear this app's data after a while without a visit. Add the app to your home screen, and keep a backup.
    </div>
  )
}
