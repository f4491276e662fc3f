/** A copy-to-clipboard button that says when it worked (or why not). */
import { useState } from 'react'

export function CopyButton ({ text, label = 'Copy' }: { text: string, label?: string }): React.JSX.Element {
  const [done, setDone] = useState<string | null>(null)
  const copy = (): void => {
    navigator.clipboard.writeText(text)
      .then(() => setDone('Copied'))
      .catch(() => setDone('Copy blocked: select and copy by hand'))
  }
  return <button type='button' className='small' onClick={copy}>{done ?? label}</button>
}
