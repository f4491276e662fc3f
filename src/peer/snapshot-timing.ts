/**
 * When the ledger service writes its full snapshot (the checkpoint `loadLedger` starts from,
 * until signed checkpoints take over, S22): off the hot path of a bulk ingest (P9). A
 * snapshot re-encodes the whole state, so writing one every `every` blocks inside the write
 * chain cost a syncing tab ~15 % of its validate + store time (issue 10's split) and grew
 * with the ledger. Now a due snapshot waits until the writes have been idle for `idleMs`
 * (the sync paused or ended), and is forced only once `maxLag` blocks are unsnapshotted, so
 * a reopened tab never replays more than that many stored blocks.
 */

/** Quiet time of the write chain after which a due snapshot is written (the service's default). */
export const SNAPSHOT_IDLE_MS = 300
/** A snapshot is forced this many times `every` blocks after the last one. */
export const SNAPSHOT_MAX_LAG = 4

export interface SnapshotTimingOptions {
  /** A snapshot is due this many blocks after the last one. */
  readonly every: number
  /** Blocks past the last snapshot at which it is written at once, busy or not. */
  readonly maxLag: number
  /** Quiet time of the write chain after which a due snapshot is written. */
  readonly idleMs: number
  /** Writes the snapshot now (call it only when every block the engine holds is stored). */
  readonly write: () => Promise<void>
  /** Queues `task` behind the writes already queued; resolves when it ran. */
  readonly enqueue: (task: () => Promise<void>) => Promise<void>
  /** True while blocks wait for a store write that has not started. */
  readonly busy: () => boolean
  readonly blocks: () => number
  readonly log?: (line: string) => void
}

export class SnapshotTiming {
  private last: number
  private timer: ReturnType<typeof setTimeout> | null = null
  private stopped = false

  constructor (private readonly o: SnapshotTimingOptions, lastAt: number) {
    this.last = lastAt
  }

  /**
   * Called inside the write chain after a write: forces an overdue snapshot there (returns
   * its promise), else (re)arms the idle timer for a due one.
   */
  async afterWrite (): Promise<void> {
    if (this.stopped) return
    const lag = this.o.blocks() - this.last
    if (lag >= this.o.maxLag) {
      this.clear()
      await this.snapshot()
      return
    }
    if (lag >= this.o.every) this.arm()
  }

  /** Blocks written since the last snapshot (tests, stats). */
  get lag (): number { return this.o.blocks() - this.last }

  stop (): void {
    this.stopped = true
    this.clear()
  }

  private async snapshot (): Promise<void> {
    this.last = this.o.blocks()
    await this.o.write()
  }

  /** The writer knows it is idle now (the last sync ended, S25): a due snapshot is queued at once, not after `idleMs`. */
  idle (): void {
    if (this.stopped || this.o.blocks() - this.last < this.o.every) return
    this.clear()
    this.queue()
  }

  private arm (): void {
    this.clear()
    this.timer = setTimeout(() => {
      this.timer = null
      if (!this.stopped) this.queue()
    }, this.o.idleMs)
  }

  /**
   * Behind the queued writes, and only when no block waits for one (the snapshot must not
   * hold a block that is not stored yet) and the writer is not busy: else armed again.
   */
  private queue (): void {
    void this.o.enqueue(async () => {
      if (this.stopped || this.o.blocks() - this.last < this.o.every) return
      if (this.o.busy()) { this.arm(); return }
      await this.snapshot()
    }).catch((err: unknown) => { this.o.log?.(`ledger snapshot failed: ${(err as Error).message}`) })
  }

  private clear (): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = null
  }
}
