/**
 * Scans a QR code with the camera — a DID, a contact link or an invitation — with ZXing's
 * decoder (@zxing/browser), so it works where BarcodeDetector is missing (iOS Safari). The
 * decoder is loaded only when the user asks to scan. `accept` says which texts count.
 */
import { useEffect, useRef, useState } from 'react'

interface Controls { stop: () => void }

export function QrScanButton ({ onResult, accept = (t) => t.startsWith('did:') || t.includes('contact=did:'), label = 'Scan QR' }: {
  onResult: (text: string) => void
  accept?: (text: string) => boolean
  label?: string
}): React.JSX.Element {
  const [note, setNote] = useState<string | null>(null)
  const [scanning, setScanning] = useState(false)
  const video = useRef<HTMLVideoElement>(null)
  const controls = useRef<Controls | null>(null)
  useEffect(() => () => { controls.current?.stop() }, [])

  const stop = (): void => { controls.current?.stop(); controls.current = null; setScanning(false) }

  const scan = async (): Promise<void> => {
    if (navigator.mediaDevices?.getUserMedia == null) {
      setNote('This browser gives no camera to this page (it needs https): paste the text instead.')
      return
    }
    setScanning(true); setNote('Point the camera at the QR code…')
    try {
      const { BrowserQRCodeReader } = await import('@zxing/browser')
      const el = video.current
      if (el == null) throw new Error('no video element')
      const reader = new BrowserQRCodeReader()
      controls.current = await reader.decodeFromConstraints({ video: { facingMode: 'environment' } }, el, (result) => {
        const text = result?.getText()
        if (text == null) return
        if (accept(text)) { stop(); setNote(null); onResult(text) } else setNote('That QR code is not one this field takes.')
      })
    } catch (err) {
      stop()
      const name = (err as { name?: string }).name
      setNote(name === 'NotAllowedError' ? 'Camera permission was refused: allow it in the browser settings, or paste the text.' : `The camera could not start (${(err as Error).message}): paste the text instead.`)
    }
  }

  return (
    <>
      <button type='button' className='small' onClick={() => { if (scanning) stop(); else void scan() }}>{scanning ? 'Stop scanning' : label}</button>
      <video ref={video} className='scanner' muted playsInline hidden={!scanning} aria-label='camera view for scanning' />
      {note != null && <p className='muted small-text' role='status'>{note}</p>}
    </>
  )
}

/** Shares a text or link through the system share sheet where there is one, else copies it. */
export function ShareButton ({ title, text, url, label = 'Share' }: { title: string, text?: string, url?: string, label?: string }): React.JSX.Element {
  const [note, setNote] = useState<string | null>(null)
  const share = async (): Promise<void> => {
    try {
      if (typeof navigator.share === 'function') { await navigator.share({ title, text, url }); return }
      await navigator.clipboard.writeText(url ?? text ?? '')
      setNote('Copied: this browser has no share sheet.')
    } catch (err) {
      if ((err as { name?: string }).name !== 'AbortError') setNote('Sharing failed: copy it by hand.')
    }
  }
  return (
    <>
      <button type='button' className='small' onClick={() => { void share() }}>{label}</button>
      {note != null && <span className='muted small-text' role='status'>{note}</span>}
    </>
  )
}
