/**
 * A live picture of the recent DAG: blocks as dots laid out by depth (left to right) and
 * issuer lane, approvals as edges. Confirmed, pending and rejected/conflicting blocks are told
 * apart by color; my own blocks have a ring.
 */
import type { BlockInfo } from '../../core/ledger/index.ts'

const COLORS = { confirmed: '#1b8a6b', pending: '#e0a91b', rejected: '#b3261e' } as const

export function DagGraph ({ blocks, me, conflicting }: { blocks: BlockInfo[], me: string, conflicting: Set<string> }): React.JSX.Element {
  if (blocks.length === 0) return <p className='muted'>No blocks yet.</p>
  const minDepth = Math.min(...blocks.map((b) => b.depth))
  const maxDepth = Math.max(...blocks.map((b) => b.depth))
  const lanes = [...new Set(blocks.map((b) => b.issuer ?? 'genesis'))].sort()
  const W = 340; const rowH = 26
  const H = Math.max(80, lanes.length * rowH + 20)
  const xOf = (d: number): number => 14 + ((d - minDepth) / Math.max(1, maxDepth - minDepth)) * (W - 28)
  const yOf = (b: BlockInfo): number => 14 + lanes.indexOf(b.issuer ?? 'genesis') * rowH
  const pos = new Map(blocks.map((b) => [b.id as string, [xOf(b.depth), yOf(b)] as const]))
  const counts = { confirmed: 0, pending: 0, rejected: 0 }
  for (const b of blocks) counts[b.status]++
  return (
    <svg className='graph' viewBox={`0 0 ${W} ${H}`} role='img' data-testid='dag'
      aria-label={`Recent DAG: ${counts.confirmed} confirmed, ${counts.pending} pending, ${counts.rejected} rejected blocks`}>
      {blocks.flatMap((b) => b.parents.map((p) => {
        const from = pos.get(b.id); const to = pos.get(p)
        if (from == null || to == null) return null
        return <line key={`${b.id}-${p}`} x1={from[0]} y1={from[1]} x2={to[0]} y2={to[1]} stroke='#b8c7c3' strokeWidth={1} />
      }))}
      {blocks.map((b) => {
        const [x, y] = pos.get(b.id) ?? [0, 0]
        const color = conflicting.has(b.id) ? '#7b2cbf' : COLORS[b.status]
        return (
          <circle key={b.id} cx={x} cy={y} r={b.issuer === me ? 6 : 5} fill={color} stroke={b.issuer === me ? '#0f3d3e' : 'none'} strokeWidth={2} data-status={b.status}>
            <title>{`${b.id.slice(-8)} · ${b.status} · weight ${b.weight} · ${b.txs.map((t) => t.type).join(', ') || 'approvals only'}`}</title>
          </circle>
        )
      })}
    </svg>
  )
}
