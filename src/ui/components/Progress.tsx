/**
 * An accessible progress bar: `role="progressbar"` with its value, so the label is allowed
 * (axe: aria-label is prohibited on a plain div) and screen readers announce the percentage.
 */
export function Progress ({ value, label }: { value: number, label: string }): React.JSX.Element {
  const pct = Math.round(Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0)) * 100)
  return (
    <div className='progress' role='progressbar' aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <div style={{ width: `${pct}%` }} />
    </div>
  )
}

/** A coloured dot for legends: drawn, not a text glyph, so it is not judged as text contrast. */
export function Dot ({ color }: { color: string }): React.JSX.Element {
  return <svg width='10' height='10' aria-hidden='true' style={{ verticalAlign: 'baseline' }}><circle cx='5' cy='5' r='5' fill={color} /></svg>
}
