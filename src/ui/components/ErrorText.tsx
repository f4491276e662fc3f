/** An error in words (see errors.ts), announced to screen readers. */
import { describeError } from '../errors.ts'

export function ErrorText ({ error }: { error: unknown }): React.JSX.Element | null {
  if (error == null) return null
  return <p className='error' role='alert'>{describeError(error)}</p>
}
