/**
 * Polyfills that libp2p 3 needs and that are safe in every runtime (browser, Worker, Node).
 * `Promise.withResolvers` is ES2024: Chromium 119+ and Node 22+ have it, Node 20 does not,
 * and libp2p's queues (it-queue, mortice, yamux, webrtc) call it at runtime.
 */

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

type PromiseWithResolvers = PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> }

export function installPromiseWithResolvers (): void {
  const P = Promise as PromiseWithResolvers
  if (typeof P.withResolvers === 'function') return
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

installPromiseWithResolvers()
