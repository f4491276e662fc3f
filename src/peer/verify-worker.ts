/// <reference lib="webworker" />
/**
 * Web Worker of the verify pool: runs `runVerifyJob` (signatures by WebCrypto, then the
 * other stateless block rules) off the main thread and posts the outcomes back.
 */
import { runVerifyJob } from './verify-job.ts'
import type { VerifyJob } from './verify-job.ts'

declare const self: DedicatedWorkerGlobalScope

self.onmessage = (event: MessageEvent<VerifyJob>) => {
  void runVerifyJob(event.data).then((reply) => { self.postMessage(reply) })
}
