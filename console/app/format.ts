// Small display helpers.
export function short (hex: string | undefined, n = 6): string {
  if (hex === undefined) return '–'
  return hex.length > 2 * n + 3 ? `${hex.slice(0, n + 2)}…${hex.slice(-n)}` : hex
}

export function ago (iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  return new Date(iso).toLocaleDateString()
}

export function ms (n: unknown): string {
  return typeof n === 'number' ? (n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`) : ''
}

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml', bmp: 'image/bmp', avif: 'image/avif' }
const AUDIO_TYPES: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', ogg: 'audio/ogg', flac: 'audio/flac', m4a: 'audio/mp4' }

/** How the console shows a result file, from its name's extension. */
export function kindOf (name: string): { kind: 'image' | 'audio' | 'text' | 'other', type: string } {
  const ext = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1]?.toLowerCase() ?? ''
  if (IMAGE_TYPES[ext] !== undefined) return { kind: 'image', type: IMAGE_TYPES[ext] }
  if (AUDIO_TYPES[ext] !== undefined) return { kind: 'audio', type: AUDIO_TYPES[ext] }
  if (/^(stdout|stderr|exitCode|status)$/.test(name.split('/').at(-1) ?? '') || /^(txt|json|csv|log|md)$/.test(ext)) return { kind: 'text', type: 'text/plain' }
  return { kind: 'other', type: 'application/octet-stream' }
}

export function bytes (n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`
}
