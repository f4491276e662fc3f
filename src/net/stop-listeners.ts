/**
 * Who wants to know when a session stops (payer and provider sides alike): a listener added
 * after the stop runs at once, each runs once, and one that throws neither breaks the
 * session nor keeps the others from running.
 */
export class StopListeners {
  readonly #listeners = new Set<() => void>()
  readonly #stopped: () => boolean

  constructor (stopped: () => boolean) {
    this.#stopped = stopped
  }

  /** Runs `listener` at the stop (at once if stopped); returns its removal. */
  add (listener: () => void): () => void {
    if (this.#stopped()) {
      listener()
      return () => {}
    }
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** The session stopped: run and forget every listener. */
  fire (): void {
    for (const l of [...this.#listeners]) {
      this.#listeners.delete(l)
      try { l() } catch (err) { console.error('session stop listener failed', err) }
    }
  }
}
