/**
 * A confirmation before money moves or something is published: a native modal <dialog>
 * (focus moves into it and stays, Escape cancels), a title, the facts as a list, and two
 * buttons. The caller decides what happens on confirm.
 */
import { useEffect, useRef } from 'react'

export interface ConfirmProps {
  title: string
  facts: Array<[string, React.ReactNode]>
  note?: React.ReactNode
  confirmLabel: string
  onConfirm: () => void
  onCancel: () => void
  disabled?: boolean
}

export function ConfirmDialog ({ title, facts, note, confirmLabel, onConfirm, onCancel, disabled = false }: ConfirmProps): React.JSX.Element {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (d != null && !d.open) d.showModal()
    return () => { if (d?.open === true) d.close() }
  }, [])
  return (
    <dialog ref={ref} className='confirm' aria-labelledby='confirm-title' data-testid='confirm' onCancel={(e) => { e.preventDefault(); onCancel() }}>
      <h2 id='confirm-title'>{title}</h2>
      <dl className='facts'>
        {facts.map(([k, v]) => (
          <div key={k} className='row spread'><dt>{k}</dt><dd data-fact={k}>{v}</dd></div>
        ))}
      </dl>
      {note != null && <p className='muted small-text'>{note}</p>}
      <div className='row spread'>
        <button type='button' className='secondary' onClick={onCancel}>Cancel</button>
        <button type='button' onClick={onConfirm} disabled={disabled} autoFocus>{confirmLabel}</button>
      </div>
    </dialog>
  )
}
