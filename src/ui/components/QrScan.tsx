/**
 * Scans a DID from a QR code with the camera where the browser has BarcodeDetector
 * (Chromium on Android, and others); elsewhere the button says so and the DID is pasted.
 */
import { useRef, useState } from 'react'

interface Detector { detect: (source: HTMLVideoElement) => Promise<Array<{ rawValue: string }>> }
type DetectorCtor = new (opts: { formats: string[] }) => Detector

export function QrScanButton ({ onResult }: { onResult: (text: string) => void }): React.JSX.Element {
  const [note, setNote] = useState<string | null>(null)
  const [scanning, setScanning] = useState(false)
  const video = useRef<HTMLVideoElement>(null)
  const Ctor = (globalThis as { BarcodeDetector?: DetectorCtor }).BarcodeDetector

  const scan = async (): Promise<void> => {
    if (Ctor == null || navigator.mediaDevices?.getUserMedia == null) {
      setNote('This browser cannot scan QR codes: paste the DID instead.')
      return
    }
    setScanning(true); setNote(null)
    let stream: MediaStream | null = null
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } })
      const el = video.current
      if (el == null) throw new Error('no video element')
      el.srcObject = stream
      await el.play()
      const detector = new Ctor({ formats: ['qr_code'] })
      const until = Date.now() + 30_000
      while (Date.now() < until) {
        const found = (await detector.detect(el)).find((c) => c.rawValue.startsWith('did:'))
        if (found != null) { onResult(found.rawValue); return }
        await new Promise((r) => setTimeout(r, 250))
      }
      setNote('No DID QR code found.')
    } catch (err) {
      setNote(`Camera unavailable: ${(err as Error).message}`)
    } finally {
      stream?.getTracks().forEach((t) => t.stop())
      setScanning(false)
    }
  }

  return (
    <>
      <button type='button' className='small' onClick={() => { void scan() }}> {scanning ? 'Scanning…' : 'Scan QR'}</button>
      <video ref={video} className='scanner' muted playsInline hidden={!scanning} />
      {note != null && <p className='muted small-text'>{note}</p>}
    </>
  )
}
