// The soak benchmark (`lilypad bench --only soak [--hours H]`): a devnet (anvil, bootstrap, provider, mediator, in
// this process) plus an extra provider and two job creators in their own processes, and a fresh `lilypad run`
// process now and then, running cowsay at a steady rate for minutes (quick) or hours. In the middle: the extra
// provider is restarted (same peer id, new port), then the bootstrap node, then the devnet's provider, then anvil
// is paused (SIGSTOP) to play an RPC outage. Reported: jobs and success per interval, latency drift, and RSS, heap,
// open handles of every process over time; a JSON report, an SVG plot and a text summary in the output directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, rmSync, type WriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { heapSpacesMb } from '../node/housekeeping/housekeeping.ts'
import { Wallet, parseEther } from 'ethers'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { connectLilypadToken } from '../contracts/generated/index.ts'
import { createLogger } from '../node/observability/logger.ts'
import { percentile, round } from './stats.ts'
import { soakSvg } from './soak-plot.ts'
import { liveHeap } from './live-heap.ts'

const CLI = fileURLToPath(new URL('../cli/bin.ts', import.meta.url))
const CHILD = fileURLToPath(new URL('./soak-child.ts', import.meta.url))
/** the job creator that the harness funds itself (anvil dev key 7) */
const EXTRA_JC_KEY = 7
/** a `lilypad run` slower than this keeps its output in the out dir */
const SLOW_CLI_RUN_MS = 20_000

export interface SoakOptions {
  /** run length; default 3 minutes (quick) */
  hours?: number
  quick: boolean
  /** where the report, the plot and every process's log go */
  outDir: string
  log: (line: string) => void
}

export interface JobRecord { t: number, source: string, ok: boolean, ms: number, attempts: number, errors: string[] }
export interface Sample {
  t: number
  rssMb: number
  /** the anonymous part of RSS (/proc/PID/smaps_rollup): the JS heap and native allocations, not mapped files */
  anonMb?: number
  heapMb?: number
  /** the JS heap V8 has reserved */
  heapTotalMb?: number
  externalMb?: number
  /** V8's code spaces and large-object spaces in use (from the status lines) */
  codeMb?: number
  largeObjectsMb?: number
  handles?: number
  connections?: number
  streams?: number
  peers?: number
  offers?: number
  dealRecords?: number
  storedPeers?: number
}
export interface SoakEvent { t: number, what: string }
export interface IntervalStats { fromS: number, toS: number, jobs: number, ok: number, failed: number, retried: number, successRate: number, p50Ms: number, p95Ms: number, events: string[] }
/** one source's completed jobs: percentiles over the run, p50 of its first and last fifth, slope */
export interface SourceLatency { jobs: number, p50Ms: number, p95Ms: number, firstFifthP50Ms: number, lastFifthP50Ms: number, slopeMsPerHour: number }
/**
 * A process's memory over the steady phase. `late*` slopes are fitted on the second half of the run only: RSS of a
 * process that warms up for half an hour (V8 growing its heap to the load) then levels off has a large whole-run
 * slope and a small late one; a leak has both.
 */
export interface ProcessTrend { samples: number, rssFirstMb: number, rssLastMb: number, rssMaxMb: number, rssSlopeMbPerHour: number, rssLateSlopeMbPerHour: number, anonLateSlopeMbPerHour?: number, anonFirstMb?: number, anonLastMb?: number, anonSlopeMbPerHour?: number, heapFirstMb?: number, heapLastMb?: number, heapSlopeMbPerHour?: number, heapTotalFirstMb?: number, heapTotalLastMb?: number, heapTotalSlopeMbPerHour?: number, externalFirstMb?: number, externalLastMb?: number, externalSlopeMbPerHour?: number, codeFirstMb?: number, codeLastMb?: number, codeSlopeMbPerHour?: number, largeObjectsFirstMb?: number, largeObjectsLastMb?: number, largeObjectsSlopeMbPerHour?: number, handlesFirst?: number, handlesLast?: number, handlesMax?: number, heapFloorFirstMb?: number, heapFloorLastMb?: number, heapFloorSlopeMbPerHour?: number, live?: LiveTrend }
/**
 * The live heap over the steady phase (after a full collection, bench/live-heap.ts): all of it, and the rest once
 * compiled code is taken out (what a leak would grow), with the second half's slope on its own.
 */
export interface LiveTrend { samples: number, firstMb: number, lastMb: number, slopeMbPerHour: number, lateSlopeMbPerHour: number, codeFirstMb: number, codeLastMb: number, restFirstMb: number, restLastMb: number, restSlopeMbPerHour: number, restLateSlopeMbPerHour: number, buffersFirstMb?: number, buffersLastMb?: number, buffersSlopeMbPerHour?: number }

export interface SoakReport {
  durationS: number
  intervalS: number
  jobs: number
  completed: number
  failed: number
  /** jobs that needed more than one attempt */
  retried: number
  firstAttemptSuccessRate: number
  completionRate: number
  latency: { p50Ms: number, p95Ms: number, firstIntervalP50Ms: number, lastIntervalP50Ms: number, slopeMsPerHour: number }
  /** per source of jobs (the long-lived job creators, the fresh `lilypad run` processes): a drift shows whose it is */
  latencyBySource: Record<string, SourceLatency>
  intervals: IntervalStats[]
  events: SoakEvent[]
  processes: Record<string, ProcessTrend>
  samples: Record<string, Sample[]>
  failures: JobRecord[]
  /** data directories (deal records, Helia blocks, downloads) at the start and the end of the steady phase */
  diskMb: Record<string, { first: number, last: number }>
  /** every job: [seconds since start, ms, 1 ok / 0 failed] */
  jobTimes: Array<[number, number, number]>
  outDir: string
  /** glibc's malloc arena cap the processes ran with (the ./lilypad launcher sets 2), null when unset */
  mallocArenaMax?: string | null
  /** the NODE_OPTIONS every process ran with (the launcher's V8 flags) */
  nodeOptions?: string | null
}

interface Child { name: string, proc: ChildProcess, log: WriteStream, last?: Record<string, unknown>, stopping?: boolean }
/** a process's heap right after a full collection (bench/live-heap.ts), and the compiled code's part of it */
export interface LiveSample { t: number, liveHeapMb: number, liveCodeMb: number, liveBuffersMb?: number }

/** Size of a directory in MB (du), or 0 when it does not exist yet. */
function duMb (dir: string): number {
  const r = spawnSync('du', ['-sk', dir], { encoding: 'utf8' })
  const kb = Number(r.stdout?.split('\t')[0])
  return Number.isFinite(kb) ? round(kb / 1024) : 0
}

/** RSS and its anonymous part, MB, of a running process; undefined between a stop and its restart. */
async function memOf (pid: number | undefined): Promise<{ rssMb: number, anonMb?: number } | undefined> {
  if (pid === undefined) return undefined
  try {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1])
    if (!Number.isFinite(kb)) return undefined
    // smaps_rollup splits RSS into anonymous memory and mapped files (kernels since 4.14)
    const anonKb = Number(/^Anonymous:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => ''))?.[1])
    return { rssMb: round(kb / 1024), ...(Number.isFinite(anonKb) ? { anonMb: round(anonKb / 1024) } : {}) }
  } catch { return undefined }
}

/** Least-squares slope of y over x (per unit of x). */
function slope (xs: number[], ys: number[]): number {
  const n = xs.length
  if (n < 2) return 0
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2 }
  return den === 0 ? 0 : num / den
}

function lines (stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = ''
  stream.on('data', (b: Buffer) => {
    buf += b.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) { fn(buf.slice(0, i)); buf = buf.slice(i + 1) }
  })
}

export async function runSoak (opts: SoakOptions): Promise<SoakReport> {
  const durationMs = Math.round((opts.hours ?? 0.05) * 3_600_000)
  const long = durationMs >= 30 * 60_000
  const intervalMs = long ? 10 * 60_000 : 30_000
  const sampleMs = long ? 30_000 : 5000
  const statusIntervalMs = long ? 30_000 : 5000
  // short enough that the deal stores are seen to be pruned within the run
  const dealRetentionMs = long ? 15 * 60_000 : 60_000
  const pauseMs = long ? 30_000 : 10_000
  // a forced full collection in every process this often: the live heap (bench/live-heap.ts)
  const liveHeapIntervalMs = long ? 5 * 60_000 : 20_000
  const jcIntervalMs = 10_000
  const cliEveryMs = long ? 60_000 : 30_000
  await mkdir(opts.outDir, { recursive: true })
  const home = await mkdtemp(join(tmpdir(), 'lilypad-soak-'))
  const jobs: JobRecord[] = []
  const events: SoakEvent[] = []
  const samples: Record<string, Sample[]> = {}
  const live: Record<string, LiveSample[]> = {}
  const children = new Map<string, Child>()
  const diskMb: Record<string, { first: number, last: number }> = {}
  const dataDirs: Record<string, string> = { devnet: join(home, 'devnet'), 'provider-2': join(home, 'provider-2'), 'jc-a': join(home, 'jc-a'), 'jc-b': join(home, 'jc-b'), 'lilypad-run': join(home, 'cli-data') }
  const devnetLog = createWriteStream(join(opts.outDir, 'devnet.log'))
  const t0 = Date.now()
  let steadyFrom = t0
  const event = (what: string): void => { events.push({ t: Date.now(), what }); opts.log(`  ${Math.round((Date.now() - steadyFrom) / 1000)} s: ${what}`) }
  let devnet: Devnet | undefined
  let stopping = false
  const timers: NodeJS.Timeout[] = []
  const cliProcs = new Set<ChildProcess>()
  // Ctrl-C or a kill ends this process without running the `finally` below: the children (processes of their own),
  // anvil and the `lilypad run` in flight would be left running. They go with it, and so does the run's home.
  const onSignal = (sig: NodeJS.Signals): void => {
    stopping = true
    for (const c of children.values()) if (c.proc.exitCode === null) c.proc.kill('SIGKILL')
    for (const p of cliProcs) if (p.exitCode === null) p.kill('SIGKILL')
    const anvil = devnet?.anvil.pid
    if (anvil !== undefined) { try { process.kill(anvil, 'SIGKILL') } catch { /* gone already */ } }
    rmSync(home, { recursive: true, force: true })
    process.stderr.write(`soak: stopped by ${sig}; its processes are stopped and ${home} removed (no report)\n`)
    process.exit(sig === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    devnet = await startDevnet({
      home, port: 0, slots: 2,
      components: { logger: createLogger({ level: 'info', format: 'json', destination: { write (l: string) { devnetLog.write(l) } } }) },
      node: { housekeeping: { statusIntervalMs, dealRetentionMs } }
    })
    const dn = devnet
    event(`devnet ready in ${dn.readyMs} ms`)
    // fund the second job creator like the devnet funds its parties
    const admin = await ChainClient.create({ network: dn.network, privateKey: devKey(DEVNET_KEYS.admin) })
    const extra = new Wallet(devKey(EXTRA_JC_KEY)).address
    await admin.queue.send('fund', async () => await connectLilypadToken(dn.network.contracts.token, admin.wallet).transfer.populateTransaction(extra, parseEther('10000')))
    await admin.stop()
    const jcB = await ChainClient.create({ network: dn.network, privateKey: devKey(EXTRA_JC_KEY) })
    await jcB.deposit(parseEther('5000'))
    await jcB.stop()

    const spawnChild = async (name: string, role: 'provider' | 'job-creator', key: number): Promise<Child> => {
      const log = children.get(name)?.log ?? createWriteStream(join(opts.outDir, `${name}.log`), { flags: 'a' })
      const args = { role, name, networkPath: dn.networkPath, key: devKey(key), dataDir: join(home, name), statusIntervalMs, dealRetentionMs, liveHeapIntervalMs, intervalMs: jcIntervalMs, inFlight: 2, slots: 2 }
      const proc = spawn(process.execPath, [CHILD, JSON.stringify(args)], { env: { ...process.env, LILYPAD_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
      const child: Child = { name, proc, log }
      children.set(name, child)
      const ready = new Promise<void>((resolve, reject) => {
        lines(proc.stderr as NodeJS.ReadableStream, l => {
          log.write(l + '\n')
          if (!l.startsWith('{')) return
          try {
            const rec = JSON.parse(l) as Record<string, unknown>
            if (rec.msg === 'status') child.last = rec
            if (rec.msg === 'live heap' && typeof rec.liveHeapMb === 'number' && typeof rec.liveCodeMb === 'number') (live[name] ??= []).push({ t: Number(rec.time ?? Date.now()), liveHeapMb: rec.liveHeapMb, liveCodeMb: rec.liveCodeMb, ...(typeof rec.liveBuffersMb === 'number' ? { liveBuffersMb: rec.liveBuffersMb } : {}) })
            if (rec.msg === 'soak child ready') resolve()
          } catch { /* a line that is not ours (a library writing to stderr): kept in the log file only */ }
        })
        proc.once('exit', code => { if (!stopping) reject(new Error(`${name} exited with ${String(code)} before it was ready; see ${name}.log`)) })
      })
      lines(proc.stdout as NodeJS.ReadableStream, l => { if (l.startsWith('{')) jobs.push(JSON.parse(l) as JobRecord) })
      proc.once('exit', code => { if (!stopping && child.stopping !== true) event(`${name} exited unexpectedly (${String(code)})`) })
      await ready
      return child
    }
    const stopChild = async (name: string): Promise<void> => {
      const c = children.get(name)
      if (c === undefined || c.proc.exitCode !== null) return
      c.stopping = true
      c.proc.kill('SIGTERM')
      const timer = setTimeout(() => { c.proc.kill('SIGKILL') }, 30_000)
      await once(c.proc, 'exit')
      clearTimeout(timer)
    }

    await spawnChild('provider-2', 'provider', DEVNET_KEYS.provider2)
    await spawnChild('jc-a', 'job-creator', DEVNET_KEYS.user2)
    await spawnChild('jc-b', 'job-creator', EXTRA_JC_KEY)
    event('extra provider and two job creators started')
    // the run's clock starts now that every process is up: the schedule and the intervals count from here
    steadyFrom = Date.now()
    for (const [name, dir] of Object.entries(dataDirs)) diskMb[name] = { first: duMb(dir), last: 0 }

    // a fresh `lilypad run` process now and then: the path of the issue's hour-old devnet
    let cliN = 0
    const cliRuns = new Set<Promise<void>>()
    const cliRun = async (): Promise<void> => {
      const i = cliN++
      const start = performance.now()
      const errors: string[] = []
      for (let attempt = 1; attempt <= 3 && !stopping; attempt++) {
        const r = await new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
          const p = spawn(process.execPath, [CLI, 'run', 'cowsay:v0.0.1', '-i', `Message=cli ${i}`, '--json'], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'cli-data'), WEB3_PRIVATE_KEY: '', LILYPAD_LOG_LEVEL: process.env.LILYPAD_LOG_LEVEL ?? 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
          cliProcs.add(p)
          p.once('exit', () => { cliProcs.delete(p) })
          let stdout = ''
          let stderr = ''
          p.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
          p.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
          p.once('exit', code => { resolve({ code, stdout, stderr }) })
        })
        if (r.code === 0) {
          const ms = Math.round(performance.now() - start)
          jobs.push({ t: Date.now(), source: 'lilypad-run', ok: true, ms, attempts: attempt, errors })
          // a slow run keeps what it printed (its phases and its info log), to say afterwards where the time went
          if (ms > SLOW_CLI_RUN_MS) await writeFile(join(opts.outDir, `slow-run-${i}.log`), `${ms} ms, attempt ${attempt}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).catch((e: Error) => { opts.log(`could not keep the slow run's output: ${e.message}`) })
          return
        }
        errors.push(`exit ${String(r.code)}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`.slice(0, 400))
        if (!stopping) await new Promise(resolve => setTimeout(resolve, 2000))
      }
      if (!stopping) jobs.push({ t: Date.now(), source: 'lilypad-run', ok: false, ms: Math.round(performance.now() - start), attempts: errors.length, errors })
    }
    timers.push(setInterval(() => {
      if (stopping || cliRuns.size > 0) return
      const p = cliRun().finally(() => { cliRuns.delete(p) })
      cliRuns.add(p)
    }, cliEveryMs))

    // every process's memory, heap and handles over time
    const sample = async (): Promise<void> => {
      const t = Date.now()
      const add = (name: string, s: Omit<Sample, 't'> | undefined): void => { if (s !== undefined) (samples[name] ??= []).push({ t, ...s }) }
      const mem = process.memoryUsage()
      const own = await memOf(process.pid)
      add('devnet', { rssMb: round(mem.rss / 1048576), ...(own?.anonMb !== undefined ? { anonMb: own.anonMb } : {}), heapMb: round(mem.heapUsed / 1048576), heapTotalMb: round(mem.heapTotal / 1048576), externalMb: round(mem.external / 1048576), ...heapSpacesMb(), handles: process.getActiveResourcesInfo().length, ...statusOf(dn) })
      const anvil = await memOf(dn.anvil.pid)
      if (anvil !== undefined) add('anvil', anvil)
      for (const c of children.values()) {
        const m = await memOf(c.proc.exitCode === null ? c.proc.pid : undefined)
        if (m === undefined) continue
        const l = c.last ?? {}
        add(c.name, { ...m, ...pick(l) })
      }
    }
    timers.push(setInterval(() => { void sample() }, sampleMs))
    timers.push(setInterval(() => { (live.devnet ??= []).push({ t: Date.now(), ...liveHeap() }) }, liveHeapIntervalMs))
    await sample()

    // the disturbances, in the middle of the run
    const at = async (fraction: number): Promise<void> => {
      const wait = steadyFrom + fraction * durationMs - Date.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
    await at(0.3)
    event('restarting provider-2 (same peer id, new port)')
    await stopChild('provider-2')
    await spawnChild('provider-2', 'provider', DEVNET_KEYS.provider2)
    event('provider-2 back')
    await at(0.45)
    event('restarting the bootstrap node (same key, same address)')
    await dn.restartBootstrap()
    event('bootstrap back')
    await at(0.6)
    event('restarting the devnet provider (same peer id, new port)')
    await dn.restartProvider()
    event('devnet provider back')
    await at(0.75)
    event(`pausing anvil for ${pauseMs / 1000} s (SIGSTOP)`)
    process.kill(dn.anvil.pid, 'SIGSTOP')
    await new Promise(resolve => setTimeout(resolve, pauseMs))
    process.kill(dn.anvil.pid, 'SIGCONT')
    event('anvil resumed')
    await at(1)
    event('stopping: waiting for the jobs in flight')
    stopping = true
    for (const t of timers) clearInterval(t)
    await sample()
    await Promise.allSettled([...cliRuns])
    for (const name of children.keys()) await stopChild(name)
    for (const [name, dir] of Object.entries(dataDirs)) (diskMb[name] ??= { first: 0, last: 0 }).last = duMb(dir)
  } finally {
    stopping = true
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const t of timers) clearInterval(t)
    for (const c of children.values()) { if (c.proc.exitCode === null) c.proc.kill('SIGKILL'); c.log.end() }
    await devnet?.stop()
    devnetLog.end()
    await rm(home, { recursive: true, force: true })
  }
  const report = { ...summarise({ t0: steadyFrom, durationMs, intervalMs, jobs, events, samples, live, outDir: opts.outDir }), diskMb, mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null, nodeOptions: process.env.NODE_OPTIONS ?? null }
  await writeFile(join(opts.outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n')
  await writeFile(join(opts.outDir, 'soak.svg'), soakSvg(report, steadyFrom))
  await writeFile(join(opts.outDir, 'soak.txt'), soakText(report))
  return report
}

function statusOf (dn: Devnet): Omit<Sample, 't' | 'rssMb' | 'anonMb' | 'heapMb' | 'heapTotalMb' | 'externalMb' | 'codeMb' | 'largeObjectsMb' | 'handles'> {
  const s = dn.bootstrap.housekeeping?.last
  return s === undefined ? {} : { connections: s.connections, streams: s.streams, peers: s.peers, offers: s.offers, storedPeers: s.storedPeers }
}

function pick (l: Record<string, unknown>): Omit<Sample, 't' | 'rssMb'> {
  const out: Record<string, number> = {}
  for (const k of ['heapMb', 'heapTotalMb', 'externalMb', 'codeMb', 'largeObjectsMb', 'handles', 'connections', 'streams', 'peers', 'offers', 'dealRecords', 'storedPeers']) if (typeof l[k] === 'number') out[k] = l[k]
  return out
}

function liveTrend (all: LiveSample[], t0: number, durationMs: number): LiveTrend | undefined {
  const fit = all.filter(s => s.t >= t0 + durationMs * 0.1)
  if (fit.length < 2) return undefined
  const late = fit.filter(s => s.t >= t0 + durationMs / 2)
  const h = (ss: LiveSample[]): number[] => ss.map(s => (s.t - t0) / 3_600_000)
  const rest = (s: LiveSample): number => s.liveHeapMb - s.liveCodeMb
  const lateSlope = (f: (s: LiveSample) => number): number => late.length >= 2 ? round(slope(h(late), late.map(f))) : 0
  const first = fit[0]
  const last = fit[fit.length - 1]
  return {
    samples: fit.length,
    firstMb: first.liveHeapMb,
    lastMb: last.liveHeapMb,
    slopeMbPerHour: round(slope(h(fit), fit.map(s => s.liveHeapMb))),
    lateSlopeMbPerHour: lateSlope(s => s.liveHeapMb),
    codeFirstMb: first.liveCodeMb,
    codeLastMb: last.liveCodeMb,
    restFirstMb: round(rest(first)),
    restLastMb: round(rest(last)),
    restSlopeMbPerHour: round(slope(h(fit), fit.map(rest))),
    restLateSlopeMbPerHour: lateSlope(rest),
    ...(fit.every(s => s.liveBuffersMb !== undefined) ? { buffersFirstMb: first.liveBuffersMb, buffersLastMb: last.liveBuffersMb, buffersSlopeMbPerHour: round(slope(h(fit), fit.map(s => s.liveBuffersMb as number))) } : {})
  }
}

export function summarise (r: { t0: number, durationMs: number, intervalMs: number, jobs: JobRecord[], events: SoakEvent[], samples: Record<string, Sample[]>, live?: Record<string, LiveSample[]>, outDir: string }): Omit<SoakReport, 'diskMb'> {
  const { t0, intervalMs, jobs } = r
  const endT = Math.max(t0 + r.durationMs, ...jobs.map(j => j.t))
  const intervals: IntervalStats[] = []
  for (let from = t0; from < endT; from += intervalMs) {
    const inside = jobs.filter(j => j.t < from + intervalMs && (j.t >= from || from === t0))
    const ok = inside.filter(j => j.ok)
    intervals.push({
      fromS: Math.round((from - t0) / 1000),
      toS: Math.round((from + intervalMs - t0) / 1000),
      jobs: inside.length,
      ok: ok.length,
      failed: inside.length - ok.length,
      retried: inside.filter(j => j.attempts > 1).length,
      successRate: inside.length === 0 ? 1 : round(ok.length / inside.length, 3),
      p50Ms: round(percentile(ok.map(j => j.ms), 0.5), 0),
      p95Ms: round(percentile(ok.map(j => j.ms), 0.95), 0),
      events: r.events.filter(e => e.t >= from && e.t < from + intervalMs).map(e => e.what)
    })
  }
  const okJobs = jobs.filter(j => j.ok)
  const busy = intervals.filter(i => i.ok > 0)
  const processes: Record<string, ProcessTrend> = {}
  for (const [name, all] of Object.entries(r.samples)) {
    const ss = all.filter(s => s.t >= t0)
    if (ss.length === 0) continue
    // the first tenth is warm-up (caches, JIT, the first deals); trends are fitted on the rest
    const steady = ss.filter(s => s.t >= t0 + r.durationMs * 0.1)
    const fit = steady.length >= 2 ? steady : ss
    const hours = fit.map(s => (s.t - t0) / 3_600_000)
    /** first, last and slope of an optional series, under `<name>FirstMb` etc. */
    const trend = (key: 'anonMb' | 'heapMb' | 'heapTotalMb' | 'externalMb' | 'codeMb' | 'largeObjectsMb', name: string): Partial<ProcessTrend> => {
      const has = fit.filter(s => s[key] !== undefined)
      if (has.length === 0) return {}
      return {
        [`${name}FirstMb`]: has[0][key],
        [`${name}LastMb`]: has.at(-1)?.[key],
        [`${name}SlopeMbPerHour`]: round(slope(has.map(s => (s.t - t0) / 3_600_000), has.map(s => s[key] as number)))
      }
    }
    // the live heap: a sample's heap in use includes garbage not yet collected, the lowest in each interval
    // very little of it, so the floor's trend is what the program keeps (a leak), not when V8 last collected
    const floors: Array<[number, number]> = []
    for (let from = t0 + r.durationMs * 0.1; from < t0 + r.durationMs; from += intervalMs) {
      const inside = fit.filter(s => s.heapMb !== undefined && s.t >= from && s.t < from + intervalMs).map(s => s.heapMb as number)
      if (inside.length > 0) floors.push([(from + intervalMs / 2 - t0) / 3_600_000, Math.min(...inside)])
    }
    const handles = ss.map(s => s.handles).filter((h): h is number => h !== undefined)
    const late = ss.filter(s => s.t >= t0 + r.durationMs / 2)
    const lateFit = (key: 'rssMb' | 'anonMb'): number | undefined => {
      const has = late.filter(s => s[key] !== undefined)
      return has.length < 2 ? undefined : round(slope(has.map(s => (s.t - t0) / 3_600_000), has.map(s => s[key] as number)))
    }
    const anonLate = lateFit('anonMb')
    processes[name] = {
      samples: ss.length,
      rssFirstMb: fit[0]?.rssMb ?? 0,
      rssLastMb: ss.at(-1)?.rssMb ?? 0,
      rssMaxMb: Math.max(...ss.map(s => s.rssMb)),
      rssSlopeMbPerHour: round(slope(hours, fit.map(s => s.rssMb))),
      rssLateSlopeMbPerHour: lateFit('rssMb') ?? round(slope(hours, fit.map(s => s.rssMb))),
      ...(anonLate !== undefined ? { anonLateSlopeMbPerHour: anonLate } : {}),
      ...trend('anonMb', 'anon'),
      ...trend('heapMb', 'heap'),
      ...trend('heapTotalMb', 'heapTotal'),
      ...trend('externalMb', 'external'),
      ...trend('codeMb', 'code'),
      ...trend('largeObjectsMb', 'largeObjects'),
      ...(handles.length > 0 ? { handlesFirst: handles[0], handlesLast: handles.at(-1), handlesMax: Math.max(...handles) } : {}),
      ...(floors.length >= 2 ? { heapFloorFirstMb: floors[0][1], heapFloorLastMb: floors[floors.length - 1][1], heapFloorSlopeMbPerHour: round(slope(floors.map(f => f[0]), floors.map(f => f[1]))) } : {})
    }
    const lt = liveTrend(r.live?.[name] ?? [], t0, r.durationMs)
    if (lt !== undefined) processes[name].live = lt
  }
  return {
    durationS: Math.round((endT - t0) / 1000),
    intervalS: Math.round(intervalMs / 1000),
    jobs: jobs.length,
    completed: okJobs.length,
    failed: jobs.length - okJobs.length,
    retried: jobs.filter(j => j.attempts > 1).length,
    firstAttemptSuccessRate: jobs.length === 0 ? 0 : round(jobs.filter(j => j.ok && j.attempts === 1).length / jobs.length, 3),
    completionRate: jobs.length === 0 ? 0 : round(okJobs.length / jobs.length, 3),
    latency: {
      p50Ms: round(percentile(okJobs.map(j => j.ms), 0.5), 0),
      p95Ms: round(percentile(okJobs.map(j => j.ms), 0.95), 0),
      firstIntervalP50Ms: busy[0]?.p50Ms ?? 0,
      lastIntervalP50Ms: busy.at(-1)?.p50Ms ?? 0,
      slopeMsPerHour: round(slope(okJobs.map(j => (j.t - t0) / 3_600_000), okJobs.map(j => j.ms)), 0)
    },
    latencyBySource: Object.fromEntries([...new Set(okJobs.map(j => j.source))].sort().map(src => {
      const js = okJobs.filter(j => j.source === src)
      const fifth = (from: number, to: number): number => round(percentile(js.filter(j => j.t >= t0 + from * r.durationMs && j.t < t0 + to * r.durationMs).map(j => j.ms), 0.5), 0)
      return [src, { jobs: js.length, p50Ms: round(percentile(js.map(j => j.ms), 0.5), 0), p95Ms: round(percentile(js.map(j => j.ms), 0.95), 0), firstFifthP50Ms: fifth(0, 0.2), lastFifthP50Ms: fifth(0.8, Infinity), slopeMsPerHour: round(slope(js.map(j => (j.t - t0) / 3_600_000), js.map(j => j.ms)), 0) }]
    })),
    intervals,
    events: r.events.map(e => ({ t: Math.max(0, Math.round((e.t - t0) / 1000)), what: e.what })),
    processes,
    samples: Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k, v.filter(s => s.t >= t0)])),
    failures: jobs.filter(j => !j.ok || j.attempts > 1),
    jobTimes: jobs.map(j => [Math.round((j.t - t0) / 100) / 10, j.ms, j.ok ? 1 : 0]),
    outDir: r.outDir
  }
}

export function soakText (r: SoakReport): string {
  const out: string[] = []
  out.push(`soak: ${r.durationS} s, ${r.jobs} jobs, ${r.completed} completed (${(r.completionRate * 100).toFixed(1)} %), ${r.failed} failed, ${r.retried} needed a retry`)
  out.push(`malloc arenas: MALLOC_ARENA_MAX=${r.mallocArenaMax ?? 'unset (glibc default: 8 per core)'}; NODE_OPTIONS: ${r.nodeOptions ?? 'unset'}`)
  out.push(`latency: p50 ${r.latency.p50Ms} ms, p95 ${r.latency.p95Ms} ms; first interval p50 ${r.latency.firstIntervalP50Ms} ms, last ${r.latency.lastIntervalP50Ms} ms; trend ${r.latency.slopeMsPerHour} ms/h`)
  for (const [src, l] of Object.entries(r.latencyBySource)) out.push(`  ${src.padEnd(12)} ${String(l.jobs).padStart(5)} jobs: p50 ${l.p50Ms} ms, p95 ${l.p95Ms} ms; p50 first fifth ${l.firstFifthP50Ms} ms, last fifth ${l.lastFifthP50Ms} ms; trend ${l.slopeMsPerHour} ms/h`)
  out.push('')
  out.push('interval (s)    jobs  ok  failed  retried  p50 ms  p95 ms  events')
  const ms = (v: number): string => Number.isFinite(v) ? String(v) : '-'
  for (const i of r.intervals) out.push(`${`${i.fromS}-${i.toS}`.padEnd(14)}${String(i.jobs).padStart(6)}${String(i.ok).padStart(4)}${String(i.failed).padStart(8)}${String(i.retried).padStart(9)}${ms(i.p50Ms).padStart(8)}${ms(i.p95Ms).padStart(8)}  ${i.events.join('; ')}`)
  out.push('')
  out.push('process        RSS first → last (max) MB   RSS trend MB/h   heap first → last MB   heap trend MB/h   external first → last MB (trend MB/h)   handles first → last (max)   anonymous trend MB/h   heap reserved first → last MB (trend MB/h)   second half: RSS / anonymous trend MB/h')
  for (const [name, p] of Object.entries(r.processes)) {
    const external = p.externalFirstMb !== undefined ? `${p.externalFirstMb} → ${p.externalLastMb} (${p.externalSlopeMbPerHour})` : '-'
    out.push(`${name.padEnd(15)}${`${p.rssFirstMb} → ${p.rssLastMb} (${p.rssMaxMb})`.padEnd(28)}${String(p.rssSlopeMbPerHour).padStart(15)}   ${(p.heapFirstMb !== undefined ? `${p.heapFirstMb} → ${p.heapLastMb}` : '-').padEnd(21)}${String(p.heapSlopeMbPerHour ?? '-').padStart(16)}   ${external.padEnd(38)}   ${(p.handlesFirst !== undefined ? `${p.handlesFirst} → ${p.handlesLast} (${p.handlesMax})` : '-').padEnd(26)}   ${String(p.anonSlopeMbPerHour ?? '-').padStart(20)}   ${(p.heapTotalFirstMb !== undefined ? `${p.heapTotalFirstMb} → ${p.heapTotalLastMb} (${p.heapTotalSlopeMbPerHour})` : '-').padEnd(42)}   ${p.rssLateSlopeMbPerHour} / ${p.anonLateSlopeMbPerHour ?? '-'}`)
  }
  const floors = Object.entries(r.processes).filter(([, p]) => p.heapFloorSlopeMbPerHour !== undefined)
  if (floors.length > 0) out.push('', `live JS heap (lowest heap in use per interval), first → last MB, trend MB/h: ${floors.map(([name, p]) => `${name} ${p.heapFloorFirstMb} → ${p.heapFloorLastMb} (${p.heapFloorSlopeMbPerHour})`).join(', ')}`)
  const lives = Object.entries(r.processes).filter(([, p]) => p.live !== undefined)
  if (lives.length > 0) {
    out.push('', 'live JS heap after a full collection, MB: all of it first → last (trend, second half MB/h); compiled code first → last; the rest first → last (trend, second half MB/h); ArrayBuffers alive then (outside the JS heap, in malloc) first → last (trend)')
    for (const [name, p] of lives) {
      const l = p.live as LiveTrend
      out.push(`  ${name.padEnd(13)}${`${l.firstMb} → ${l.lastMb} (${l.slopeMbPerHour}, ${l.lateSlopeMbPerHour})`.padEnd(30)}code ${`${l.codeFirstMb} → ${l.codeLastMb}`.padEnd(14)}rest ${l.restFirstMb} → ${l.restLastMb} (${l.restSlopeMbPerHour}, ${l.restLateSlopeMbPerHour})${l.buffersFirstMb !== undefined ? `   buffers ${l.buffersFirstMb} → ${l.buffersLastMb} (${l.buffersSlopeMbPerHour})` : ''}   ${l.samples} samples`)
    }
  }
  out.push('')
  out.push(`data directories MB, start → end: ${Object.entries(r.diskMb).map(([k, d]) => `${k} ${d.first} → ${d.last}`).join(', ')}`)
  if (r.failures.length > 0) {
    out.push('')
    out.push('jobs that failed or needed a retry:')
    for (const f of r.failures.slice(0, 30)) out.push(`  ${f.source} ${f.ok ? 'ok after' : 'FAILED after'} ${f.attempts} attempt(s): ${f.errors.join(' | ').slice(0, 300)}`)
  }
  return out.join('\n') + '\n'
}
