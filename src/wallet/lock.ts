/**
 * One writer per profile at a time: opening (which may create the DID), restoring and
 * re-encrypting under a new passphrase must not interleave, or two tabs could each create a
 * DID for the same profile. Uses the Web Locks API across tabs where it exists (Chromium,
 * Workers) and an in-process queue otherwise (Node tests).
 */
const queues = new Map<string, Promise<void>>()

export async function withProfileLock<T> (profile: string, fn: () => Promise<T>): Promise<T> {
  const name = `alliance/${profile}/wallet`
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
  if (locks != null && typeof locks.request === 'function') {
    return await locks.request(name, async () => await fn()) as T
  }
  const previous = queues.get(name) ?? Promise.resolve()
  const result = previous.then(fn)
  const tail = result.then(() => {}, () => {})
  queues.set(name, tail)
  try {
    return await result
  } finally {
    if (queues.get(name) === tail) queues.delete(name)
  }
}
