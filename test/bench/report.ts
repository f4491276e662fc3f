/** One JSON line per figure: {bench, metric, value, unit[, baseline, ratio]}. */
export interface Figure { bench: string, metric: string, value: number, unit: string, baseline?: number, ratio?: number, note?: string }

export function report (f: Figure): void {
  const out: Figure = { ...f, value: round(f.value) }
  if (f.baseline != null) {
    out.baseline = round(f.baseline)
    out.ratio = round(f.value / f.baseline)
  }
  console.log(JSON.stringify(out))
}

function round (n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 1000) / 1000
}

/** Operations per second of `op`, run for at least `ms` milliseconds. */
export async function opsPerSecond (op: () => unknown, ms = 1000): Promise<number> {
  let n = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) await op()
    n += 20
    now = performance.now()
  }
  return n / ((now - start) / 1000)
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
