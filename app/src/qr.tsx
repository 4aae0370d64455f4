// A link as a QR code to scan with a phone's camera: drawn as an SVG path
// (Nayuki's encoder, medium error correction, the 4-module quiet zone the
// standard asks for), so it is sharp at any size and needs no image file.
import qrcodegen from 'nayuki-qr-code-generator';

export function QrCode({ text, label }: { text: string; label: string }) {
  const qr = qrcodegen.QrCode.encodeText(text, qrcodegen.QrCode.Ecc.MEDIUM);
  const border = 4;
  const size = qr.size + border * 2;
  let d = '';
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (qr.getModule(x, y)) d += `M${x + border},${y + border}h1v1h-1z`;
    }
  }
  return (
    <svg class="qr" role="img" aria-label={label} viewBox={`0 0 ${size} ${size}`} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

/** A link to hand over: as text with a copy button, and as a QR code. */
export function LinkToShare({ url, what }: { url: string; what: string }) {
  const copy = () => void navigator.clipboard?.writeText(url);
  return (
    <div class="handover">
      <QrCode text={url} label={`QR code of the ${what}`} />
      <p>
        <output class="link-text" data-link={what}>{url}</output>
      </p>
      <button type="button" onClick={copy}>Copy link</button>
    </div>
  );
}
