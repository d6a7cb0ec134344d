// `lilypad run cowsay` against a running devnet: wall-clock from spawning the command to its exit, and from
// process start to result on disk (the process's own clock: performance.now() counts from process start).
// Usage: LILYPAD_HOME=… npx node bench/run.ts [runs=10]   (start the devnet first: `lilypad devnet`)
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)
const runs = Number(process.argv[2] ?? 10)
const rows: Array<{ wallMs: number, resultOnDiskMs: number, phasesMs: Record<string, number> }> = []
for (let i = 0; i < runs; i++) {
  const t0 = performance.now()
  const { stdout } = await execFileP(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '-i', `Message=moo ${i}`, '--json'])
  const wallMs = Math.round(performance.now() - t0)
  const o = JSON.parse(stdout) as { phasesMs: Record<string, number>, totalMs: number }
  rows.push({ wallMs, resultOnDiskMs: o.totalMs - (o.phasesMs.settled ?? 0), phasesMs: o.phasesMs })
}
const p50 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] }
console.log(JSON.stringify({
  runs,
  p50WallMs: p50(rows.map(r => r.wallMs)),
  p50ResultOnDiskMs: p50(rows.map(r => r.resultOnDiskMs)),
  p50PhasesMs: Object.fromEntries(Object.keys(rows[0].phasesMs).map(k => [k, p50(rows.map(r => r.phasesMs[k]))])),
  walls: rows.map(r => r.wallMs)
}, null, 2))
