/**
 * A binary min-heap of DAG nodes by (depth, id): the engine re-evaluates statuses in this
 * order so that a block is looked at after the blocks it references, in one pass.
 */
export interface HeapNode {
  readonly depth: number
  readonly id: string
}

export function compareNodes (a: HeapNode, b: HeapNode): number {
  if (a.depth !== b.depth) return a.depth - b.depth
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** A binary min-heap of nodes by (depth, id). */
export class NodeHeap<Node extends HeapNode> {
  private readonly items: Node[] = []
  get size (): number { return this.items.length }
  push (n: Node): void {
    const a = this.items
    a.push(n)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (compareNodes(a[p], a[i]) <= 0) break
      ;[a[p], a[i]] = [a[i], a[p]]
      i = p
    }
  }

  pop (): Node | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]
    const last = a.pop() as Node
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && compareNodes(a[l], a[m]) < 0) m = l
        if (r < a.length && compareNodes(a[r], a[m]) < 0) m = r
        if (m === i) break
        ;[a[m], a[i]] = [a[i], a[m]]
        i = m
      }
    }
    return top
  }
}

