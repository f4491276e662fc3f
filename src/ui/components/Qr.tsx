/** A QR code of a text (DID, Wi-Fi credentials), drawn as SVG by the `qrcode` library. */
import { useEffect, useState } from 'react'
import QRCode from 'qrcode'

export function Qr ({ text, label, size = 180 }: { text: string, label: string, size?: number }): React.JSX.Element {
  const [svg, setSvg] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    QRCode.toString(text, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' })
      .then((s) => { if (live) setSvg(s) })
      .catch((err: unknown) => { console.error('QR code failed', err) })
    return () => { live = false }
  }, [text])
  if (svg == null) return <div className='qr' style={{ width: size, height: size }} aria-busy='true' />
  return <img className='qr' width={size} height={size} alt={label} src={`data:image/svg+xml;utf8,${encodeURIComponent(svg)}`} />
}
