// Small hand-written SVG line charts: enough for a CDF, a time series and a sweep, no dependency.

export interface Series {
  name: string
  points: Array<[number, number]>
  color?: string
  dashed?: boolean
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  width?: number
  height?: number
  /** vertical reference lines */
  marks?: Array<{ x: number, label: string }>
  yZeroLine?: boolean
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function ticks (lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function fmt (v: number): string {
  const a = Math.abs(v)
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1)
  return String(Number(v.toPrecision(4)))
}

export function lineChart (series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640
  const H = o.height ?? 400
  const m = { l: 70, r: 20, t: 40, b: 55 }
  const all = series.flatMap(s => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  let x0 = Math.min(...all.map(p => p[0]), ...(o.marks ?? []).map(k => k.x))
  let x1 = Math.max(...all.map(p => p[0]), ...(o.marks ?? []).map(k => k.x))
  let y0 = Math.min(...all.map(p => p[1]), o.yZeroLine === true ? 0 : Infinity)
  let y1 = Math.max(...all.map(p => p[1]), o.yZeroLine === true ? 0 : -Infinity)
  if (!Number.isFinite(x0)) { x0 = 0; x1 = 1 }
  if (!Number.isFinite(y0)) { y0 = 0; y1 = 1 }
  if (x1 === x0) x1 = x0 + 1
  if (y1 === y0) y1 = y0 + 1
  const pad = (y1 - y0) * 0.05
  y0 -= pad; y1 += pad
  const X = (x: number): number => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r)
  const Y = (y: number): number => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b)
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`)
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${X(t).toFixed(1)}" y1="${m.t}" x2="${X(t).toFixed(1)}" y2="${H - m.b}" stroke="#eee"/>`)
    parts.push(`<text x="${X(t).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`)
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" y1="${Y(t).toFixed(1)}" x2="${W - m.r}" y2="${Y(t).toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${m.l - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`)
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`)
  if (o.yZeroLine === true && y0 < 0 && y1 > 0) parts.push(`<line x1="${m.l}" y1="${Y(0).toFixed(1)}" x2="${W - m.r}" y2="${Y(0).toFixed(1)}" stroke="#000" stroke-width="1"/>`)
  for (const k of o.marks ?? []) {
    parts.push(`<line x1="${X(k.x).toFixed(1)}" y1="${m.t}" x2="${X(k.x).toFixed(1)}" y2="${H - m.b}" stroke="#777" stroke-dasharray="4 3"/>`)
    parts.push(`<text x="${(X(k.x) + 4).toFixed(1)}" y="${m.t + 14}" fill="#555">${esc(k.label)}</text>`)
  }
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length]
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`)
    if (pts.length > 0) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`)
    parts.push(`<line x1="${m.l + 10}" y1="${m.t + 14 + 16 * (i + 1)}" x2="${m.l + 34}" y2="${m.t + 14 + 16 * (i + 1)}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
    parts.push(`<text x="${m.l + 40}" y="${m.t + 18 + 16 * (i + 1)}">${esc(s.name)}</text>`)
  })
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`)
  parts.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`)
  parts.push('</svg>')
  return parts.join('\n')
}

/** Empirical CDF points of a sample (at most ~400 points). */
export function cdfPoints (sample: number[]): Array<[number, number]> {
  const s = [...sample].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return []
  const step = Math.max(1, Math.floor(n / 400))
  const out: Array<[number, number]> = []
  for (let i = 0; i < n; i += step) out.push([s[i], (i + 1) / n])
  out.push([s[n - 1], 1])
  return out
}
