/// <reference lib="webworker" />
/**
 * Web Worker of the state hasher (state-hash.ts, SPEC S31): hashes one part of a checkpoint
 * package's state off the main thread and posts its commitment lanes back.
 */
import { runStateHashJob } from './state-hash-job.ts'
import type { StateHashJob } from './state-hash-job.ts'

declare const self: DedicatedWorkerGlobalScope

self.onmessage = (event: MessageEvent<StateHashJob>) => {
  const reply = runStateHashJob(event.data)
  self.postMessage(reply, 'lanes' in reply ? [reply.lanes.buffer] : [])
}
