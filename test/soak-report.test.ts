// The soak benchmark's report (bench/soak.ts): its arithmetic on a known run, and the plot and text it writes.
// The soak itself takes minutes to hours and runs with `lilypad bench --only soak`, not in the test suite.
import test from 'ava'
import { summarise, soakText, type JobRecord, type LiveSample, type Sample } from '../bench/soak.ts'
import { soakSvg } from '../bench/soak-plot.ts'

const T0 = 1_800_000_000_000
const MIN = 60_000

test('summarise: jobs per interval, completion, latency trend, and each process\'s memory trend after warm-up', t => {
  const jobs: JobRecord[] = []
  // 60 minutes, a job a minute taking 2 s + 10 ms per minute (a drift of 600 ms/h); one failure in minute 31
  for (let m = 0; m < 60; m++) jobs.push({ t: T0 + m * MIN + 30_000, source: 'jc-a', ok: m !== 31, ms: 2000 + 10 * m, attempts: m === 20 ? 2 : 1, errors: m === 20 ? ['FetchTimeoutError: …'] : [] })
  // and a fresh CLI process every 10 minutes whose start grows by a second every 10 minutes
  const cli: JobRecord[] = []
  for (let m = 5; m < 60; m += 10) cli.push({ t: T0 + m * MIN, source: 'lilypad-run', ok: true, ms: 3000 + 100 * m, attempts: 1, errors: [] })
  // RSS flat at 200 MB for the devnet; 100 → 160 MB over the hour for a leaking process; a warm-up spike ignored
  const samples: Record<string, Sample[]> = { devnet: [], leaky: [], sawtooth: [] }
  for (let m = 0; m <= 60; m += 5) {
    samples.devnet.push({ t: T0 + m * MIN, rssMb: m === 0 ? 400 : 200, anonMb: m === 0 ? 380 : 180, heapMb: 80, heapTotalMb: 120, externalMb: 10, handles: 60 })
    samples.leaky.push({ t: T0 + m * MIN, rssMb: 100 + m, anonMb: 80 + m, heapMb: 50 + m / 2, heapTotalMb: 90 + m / 2, externalMb: 5 + m / 4, handles: 20 })
    // garbage piling up between collections, higher each time, while what survives a collection stays at 80 MB
    samples.sawtooth.push({ t: T0 + m * MIN, rssMb: 300, heapMb: m % 10 === 0 ? 80 : 80 + 2 * m })
  }
  const r = summarise({ t0: T0, durationMs: 60 * MIN, intervalMs: 10 * MIN, jobs: [...jobs, ...cli], events: [{ t: T0 + 30 * MIN, what: 'restarting the bootstrap node' }], samples, outDir: '/tmp/x' })
  t.is(r.jobs, 66)
  t.is(r.completed, 65)
  t.is(r.failed, 1)
  t.is(r.retried, 1)
  t.is(r.completionRate, round3(65 / 66))
  t.is(r.intervals.length, 6)
  t.like(r.intervals[3], { fromS: 1800, toS: 2400, jobs: 11, ok: 10, failed: 1, events: ['restarting the bootstrap node'] })
  t.like(r.latencyBySource['jc-a'], { jobs: 59, slopeMsPerHour: 600 })
  t.like(r.latencyBySource['lilypad-run'], { jobs: 6, slopeMsPerHour: 6000, firstFifthP50Ms: 3500, lastFifthP50Ms: 8500 }, 'the drift is the CLI\'s, told apart from the job creators\'')
  t.is(r.processes.devnet.rssSlopeMbPerHour, 0, 'flat once warmed up')
  t.is(r.processes.leaky.rssSlopeMbPerHour, 60)
  t.like(r.processes.leaky, { rssLateSlopeMbPerHour: 60, anonLateSlopeMbPerHour: 60 }, 'a leak grows in the second half too')
  t.like(r.processes.devnet, { rssLateSlopeMbPerHour: 0, anonLateSlopeMbPerHour: 0 })
  t.is(r.processes.leaky.heapSlopeMbPerHour, 30)
  t.is(r.processes.leaky.externalSlopeMbPerHour, 15, 'Buffers outside the heap: tells a buffer leak from allocator growth')
  t.is(r.processes.devnet.externalSlopeMbPerHour, 0)
  t.is(r.processes.leaky.anonSlopeMbPerHour, 60, 'the anonymous part of RSS: the heap and native allocations, not mapped files')
  t.is(r.processes.leaky.heapTotalSlopeMbPerHour, 30)
  t.like(r.processes.devnet, { anonSlopeMbPerHour: 0, heapTotalSlopeMbPerHour: 0, anonFirstMb: 180, heapTotalLastMb: 120 })
  t.is(r.processes.devnet.rssMaxMb, 400)
  t.like(r.processes.leaky, { heapFloorFirstMb: 55, heapFloorLastMb: 80, heapFloorSlopeMbPerHour: 30 }, 'the lowest heap in use per interval grows with a leak')
  t.like(r.processes.devnet, { heapFloorFirstMb: 80, heapFloorLastMb: 80, heapFloorSlopeMbPerHour: 0 })
  t.true((r.processes.sawtooth.heapSlopeMbPerHour ?? 0) > 20, 'the heap in use, sampled between collections, seems to grow')
  t.like(r.processes.sawtooth, { heapFloorFirstMb: 80, heapFloorLastMb: 80, heapFloorSlopeMbPerHour: 0 }, 'but what survives collection does not')
  t.is(r.jobTimes.length, 66)

  const report = { ...r, diskMb: { devnet: { first: 1, last: 2 } } }
  const text = soakText(report)
  t.regex(text, /66 jobs, 65 completed \(98\.5 %\), 1 failed, 1 needed a retry/)
  t.regex(text, /lilypad-run\s+6 jobs: p50 \d+ ms, p95 \d+ ms; p50 first fifth 3500 ms, last fifth 8500 ms; trend 6000 ms\/h/)
  t.regex(text, /leaky\s+110 → 160 \(160\)\s+60/, 'the first steady sample (after the warm-up tenth) to the last')
  t.regex(text, /leaky .* 20 → 20 \(20\)\s+60\s+95 → 120 \(30\)\s+60 \/ 60$/m, 'the anonymous trend, the reserved heap, and the second half\'s trends')
  t.regex(text, /7\.\d+ → 20 \(15\)/, 'external memory first → last (trend)')
  t.regex(text, /jc-a FAILED after 1 attempt/)
  t.regex(text, /live JS heap \(lowest heap in use per interval\), first → last MB, trend MB\/h: devnet 80 → 80 \(0\), leaky 55 → 80 \(30\), sawtooth 80 → 80 \(0\)/)
  const svg = soakSvg(report, T0)
  t.true(svg.startsWith('<svg'))
  t.is((svg.match(/<polyline/g) ?? []).length, 14, 'RSS, anonymous memory, reserved heap, heap, external memory and handles for each of the first two processes; RSS and heap for the third')
  t.is((svg.match(/<circle/g) ?? []).length, 66, 'one dot per job')
})

function round3 (x: number): number { return Math.round(x * 1000) / 1000 }

test('summarise: the live heap after full collections, with compiled code told apart from what a leak would grow', t => {
  const samples: Record<string, Sample[]> = { warming: [], leaky: [] }
  const live: Record<string, LiveSample[]> = { warming: [], leaky: [] }
  for (let m = 0; m <= 60; m += 5) {
    for (const name of ['warming', 'leaky']) samples[name].push({ t: T0 + m * MIN, rssMb: 200 })
    // V8 compiles more of the program in the first half hour, then nothing more; the rest stays at 60 MB
    const code = 8 + Math.min(m, 30) / 10
    live.warming.push({ t: T0 + m * MIN, liveHeapMb: 60 + code, liveCodeMb: code })
    // the same code, and 12 MB an hour of objects kept
    live.leaky.push({ t: T0 + m * MIN, liveHeapMb: 60 + code + m / 5, liveCodeMb: code, liveBuffersMb: 2 + m / 10 })
  }
  const r = summarise({ t0: T0, durationMs: 60 * MIN, intervalMs: 10 * MIN, jobs: [], events: [], samples, live, outDir: '/tmp/x' })
  const w = r.processes.warming.live!
  t.true(w.slopeMbPerHour > 0, 'the whole heap seems to grow')
  t.like(w, { lateSlopeMbPerHour: 0, restSlopeMbPerHour: 0, restLateSlopeMbPerHour: 0, codeFirstMb: 9, codeLastMb: 11, restFirstMb: 60, restLastMb: 60 }, 'but it is code, and it stops')
  t.like(r.processes.leaky.live, { restSlopeMbPerHour: 12, restLateSlopeMbPerHour: 12, restFirstMb: 62, restLastMb: 72 })
  // and 6 MB an hour of Buffers kept alive (outside the JS heap); the warming process reported none (an older child)
  t.like(r.processes.leaky.live, { buffersFirstMb: 3, buffersLastMb: 8, buffersSlopeMbPerHour: 6 })
  t.is(w.buffersSlopeMbPerHour, undefined)
  t.is(r.processes.warming.live!.samples, 11, 'after the warm-up tenth')
  const text = soakText({ ...r, diskMb: {} })
  t.regex(text, /live JS heap after a full collection/)
  t.regex(text, /leaky\s+.*rest 62 → 72 \(12, 12\)   buffers 3 → 8 \(6\)/)
})
