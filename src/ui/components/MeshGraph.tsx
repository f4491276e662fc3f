/**
 * A live picture of this peer's part of the mesh: me in the middle, peers on a circle, relays
 * on an outer ring. Direct WebRTC links are solid, relayed (signaling) links dashed.
 */

export interface GraphPeer { did: string, kind: 'direct' | 'relayed', rttMs?: number }
export interface GraphRelay { addr: string, state: string }

export function MeshGraph ({ me, peers, relays, nameOf }: { me: string, peers: GraphPeer[], relays: GraphRelay[], nameOf: (did: string) => string }): React.JSX.Element {
  const W = 320; const H = 280; const cx = W / 2; const cy = H / 2 + 14
  const r = 88
  const place = (i: number, n: number, radius: number, offset = 0): [number, number] => {
    const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2 + offset
    return [cx + radius * Math.cos(a), cy + radius * Math.sin(a)]
  }
  return (
    <svg className='graph' viewBox={`0 0 ${W} ${H}`} role='img' aria-label={`Mesh: ${peers.filter(p => p.kind === 'direct').length} direct, ${peers.filter(p => p.kind === 'relayed').length} relayed, ${relays.length} relays`}>
      {relays.map((rl, i) => {
        // Relays along the top edge, apart from the peers' circle.
        const x = (W * (i + 1)) / (relays.length + 1); const y = 14
        const up = rl.state === 'reserved' || rl.state === 'connected'
        return (
          <g key={rl.addr}>
            <line x1={cx} y1={cy} x2={x} y2={y} stroke={up ? '#9bb' : '#e0a0a0'} strokeDasharray='2 4' />
            <rect x={x - 9} y={y - 9} width={18} height={18} rx={4} fill={up ? '#cfe7e1' : '#fbe0de'} stroke='#0f3d3e' />
            <text x={x + 13} y={y + 4} fontSize='9' fill='#5b6b70'>relay</text>
          </g>
        )
      })}
      {peers.map((p, i) => {
        const [x, y] = place(i, peers.length, r)
        return (
          <g key={p.did}>
            <line x1={cx} y1={cy} x2={x} y2={y} stroke={p.kind === 'direct' ? '#1b8a6b' : '#c79a1c'} strokeWidth={p.kind === 'direct' ? 2.5 : 1.5} strokeDasharray={p.kind === 'direct' ? undefined : '5 4'} />
            <circle cx={x} cy={y} r={11} fill={p.kind === 'direct' ? '#d7f3e6' : '#fff4d6'} stroke='#0f3d3e' />
            <text x={x} y={y + 24} fontSize='9' textAnchor='middle' fill='#12232a'>{nameOf(p.did).slice(0, 14)}{p.rttMs != null ? ` ${Math.round(p.rttMs)}ms` : ''}</text>
          </g>
        )
      })}
      <circle cx={cx} cy={cy} r={15} fill='#0f3d3e' />
      <text x={cx} y={cy + 4} fontSize='10' textAnchor='middle' fill='#fff'>me</text>
      <title>{me}</title>
    </svg>
  )
}
