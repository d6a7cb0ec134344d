// The soak report as one SVG: jobs per interval, job latency, and every process's RSS, heap and open handles over
// time, with the disturbances (restarts, the anvil pause) marked. Hand-drawn polylines: no plotting dependency.
import type { SoakReport, Sample } from './soak.ts'

const W = 960
const PANEL = 170
const M = { left: 64, right: 150, top: 26, bottom: 24 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f']

function esc (s: string): string { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') }

export function soakSvg (r: SoakReport, t0: number): string {
  const end = Math.max(r.durationS, 1)
  const x = (sec: number): number => M.left + (Math.max(0, Math.min(sec, end)) / end) * (W - M.left - M.right)
  // one colour per process in every panel
  const color = (name: string): string => COLORS[Math.max(0, Object.keys(r.samples).indexOf(name)) % COLORS.length]
  const parts: string[] = []
  let y0 = 0
  const panel = (title: string, yMax: number, draw: (y: (v: number) => number) => void): void => {
    const top = y0 + M.top
    const h = PANEL - M.top - M.bottom
    const max = yMax > 0 ? yMax * 1.1 : 1
    const y = (v: number): number => top + h - (v / max) * h
    parts.push(`<text x="${M.left}" y="${top - 8}" font-size="13" font-weight="bold">${esc(title)}</text>`)
    parts.push(`<line x1="${M.left}" y1="${top + h}" x2="${W - M.right}" y2="${top + h}" stroke="#999"/><line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${top + h}" stroke="#999"/>`)
    parts.push(`<text x="${M.left - 6}" y="${top + 4}" font-size="10" text-anchor="end">${Math.round(max)}</text><text x="${M.left - 6}" y="${top + h}" font-size="10" text-anchor="end">0</text>`)
    for (const e of r.events) parts.push(`<line x1="${x(e.t)}" y1="${top}" x2="${x(e.t)}" y2="${top + h}" stroke="#bbb" stroke-dasharray="3,3"/>`)
    draw(y)
    y0 += PANEL
  }
  const series = (key: keyof Sample, title: string, unit: string): void => {
    const names = Object.keys(r.samples).filter(n => r.samples[n].some(s => typeof s[key] === 'number'))
    const max = Math.max(0, ...names.flatMap(n => r.samples[n].map(s => Number(s[key] ?? 0))))
    panel(`${title} (${unit})`, max, y => {
      names.forEach((n, i) => {
        const pts = r.samples[n].filter(s => typeof s[key] === 'number').map(s => `${x((s.t - t0) / 1000).toFixed(1)},${y(Number(s[key])).toFixed(1)}`)
        parts.push(`<polyline fill="none" stroke="${color(n)}" stroke-width="1.5" points="${pts.join(' ')}"/>`)
        parts.push(`<text x="${W - M.right + 8}" y="${y0 + M.top + 12 + i * 13}" font-size="11" fill="${color(n)}">${esc(n)}</text>`)
      })
    })
  }
  // jobs per interval: completed (green) and failed (red) bars
  const maxJobs = Math.max(1, ...r.intervals.map(i => i.jobs))
  panel('jobs per interval: completed / failed', maxJobs, y => {
    for (const i of r.intervals) {
      const w = Math.max(1, x(i.toS) - x(i.fromS) - 2)
      parts.push(`<rect x="${x(i.fromS) + 1}" y="${y(i.ok)}" width="${w}" height="${y(0) - y(i.ok)}" fill="#2ca02c" opacity="0.7"/>`)
      if (i.failed > 0) parts.push(`<rect x="${x(i.fromS) + 1}" y="${y(i.jobs)}" width="${w}" height="${y(i.ok) - y(i.jobs)}" fill="#d62728"/>`)
    }
  })
  const maxMs = Math.max(1, ...r.jobTimes.map(j => j[1]))
  panel('job latency, start to settled (ms); red: failed', maxMs, y => {
    for (const [t, ms, ok] of r.jobTimes) parts.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(ms).toFixed(1)}" r="1.8" fill="${ok === 1 ? '#1f77b4' : '#d62728'}"/>`)
  })
  series('rssMb', 'resident memory per process', 'MB')
  series('anonMb', 'anonymous memory per process (RSS less mapped files)', 'MB')
  series('heapTotalMb', 'JS heap reserved by V8 per process', 'MB')
  series('heapMb', 'JS heap used per process', 'MB')
  series('externalMb', 'memory held outside the JS heap (Buffers) per process', 'MB')
  series('handles', 'open handles per process (sockets, timers)', 'count')
  // event labels along the bottom
  r.events.forEach((e, i) => { parts.push(`<text x="${x(e.t) + 2}" y="${y0 + 12 + (i % 6) * 11}" font-size="9" fill="#555">${esc(`${e.t} s ${e.what}`.slice(0, 48))}</text>`) })
  y0 += 80
  parts.push(`<text x="${M.left}" y="${y0 - 4}" font-size="10" fill="#555">time → ${end} s</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y0}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
}
