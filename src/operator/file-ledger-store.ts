/**
 * A ledger store for a Node peer (the demo operator): the in-memory store, with every stored
 * block also appended to a file (length-prefixed raw bytes) and read back at start. A
 * validator must never forget its own blocks: after a restart with an empty store it would
 * issue a second block at a seq it already used — an equivocation with its own signature.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { blockIdOf } from '../core/ledger/index.ts'
import type { BlockBytes, LedgerWrite, StoreCallOptions } from '../store/ledger.ts'
import { MemoryLedgerStore } from '../store/memory-ledger.ts'

export class FileLedgerStore extends MemoryLedgerStore {
  private constructor (private readonly file: string) { super() }

  static async open (file: string): Promise<FileLedgerStore> {
    mkdirSync(dirname(file), { recursive: true })
    const store = new FileLedgerStore(file)
    if (existsSync(file)) {
      const data = readFileSync(file)
      const blocks: BlockBytes[] = []
      for (let at = 0; at + 4 <= data.length;) {
        const len = data.readUInt32BE(at)
        if (at + 4 + len > data.length) break // a torn last append: drop it
        const bytes = new Uint8Array(data.subarray(at + 4, at + 4 + len))
        blocks.push({ id: blockIdOf(bytes), bytes })
        at += 4 + len
      }
      await MemoryLedgerStore.prototype.write.call(store, { blocks })
    }
    return store
  }

  override async write (w: LedgerWrite, opts?: StoreCallOptions): Promise<void> {
    const fresh: BlockBytes[] = []
    for (const b of w.blocks ?? []) if (!(await this.hasBlock(b.id))) fresh.push(b)
    await super.write(w, opts)
    if (fresh.length === 0) return
    const parts: Buffer[] = []
    for (const b of fresh) {
      const len = Buffer.alloc(4)
      len.writeUInt32BE(b.bytes.byteLength)
      parts.push(len, Buffer.from(b.bytes))
    }
    appendFileSync(this.file, Buffer.concat(parts))
  }

  override async putBlocks (blocks: readonly BlockBytes[], opts?: StoreCallOptions): Promise<void> {
    await this.write({ blocks }, opts)
  }
}
