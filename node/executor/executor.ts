// Runs a JobSpec in a sandboxed Docker container and writes Lilypad's result directory:
//   <resultDir>/stdout, stderr, exitCode, status, outputs/ (and one directory per further declared output)
// A non-zero exit, an OOM kill, a deadline kill or an output over the cap are results (the status file says
// which), not errors; errors are reserved for what stops the job from giving a result at all (engine down or
// lost, image missing, disk, GPU).
//
// The engine may vanish at any moment (dockerd restarted, socket dropped, daemon frozen): every engine call is
// bounded, a running job is watched by its wait, its attach stream and a periodic inspect, and a lost engine is
// retried for a few seconds. Containers carry this executor's owner id, the job id and a hash of their
// configuration, so a later run of the same job (after a reconnect, or in a restarted provider) adopts the
// container when it is the same job, removes it otherwise, and never starts a second one beside it.
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, rmdir, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import Docker from 'dockerode'
import type { JobSpec } from '../modules/spec.ts'
import { DiskFullError, InsufficientDiskError, isDiskFull, onDisk, reserveDisk } from '../result-store/disk.ts'
import {
  DockerUnavailableError, EngineLostError, ExecutionAbortedError, GpuUnavailableError, ImageMissingError,
  JobAlreadyRunningError, ExecutorConfigError
} from './errors.ts'
import { bounded, DemuxSink, EngineTimeoutError, isConnError, logProvablyComplete, pause, statusCodeOf, type OutputChunk } from './engine.ts'
import { encodeResultStatus, STATUS_FILE, type ResultStatus, type ResultStatusCode } from './status.ts'
import { configHash, containerConfig, dirIdentity, LABEL_CONFIG, LABEL_JOB, LABEL_OUTPUTS, LABEL_OWNER } from './container.ts'
import { gpuStartError } from './gpu-request.ts'
import type { JobExecutor } from './interface.ts'
import { MAX_STREAM_CAP_BYTES, outputsBytesBound } from '../../core/policy/result-size.ts'

export interface ExecutorOptions {
  /** A dockerode client to use; otherwise one is made from socketPath (default: dockerode's defaults). */
  docker?: Docker
  socketPath?: string
  /**
   * Labels every container this executor makes; reconcile() and adoption only ever look at containers with
   * this owner. Give a stable id per provider (loadExecutorOwner(dataDir)); default a fresh random one.
   */
  owner?: string
  /** The user the job runs as (default 65534:65534, nobody). */
  user?: string
  pidsLimit?: number
  /** Cap on the total size of the output directories (default 100 MB). */
  outputCapBytes?: number
  /** Cap on each of stdout and stderr kept in the result (default 4 MB); the rest is counted, not kept. */
  streamCapBytes?: number
  /** Docker network mode for modules that ask for network (default "bridge"). */
  fullNetworkMode?: string
  /** Pull a missing image when a registry is reachable (default true). */
  pull?: boolean
  pullTimeoutMs?: number
  /** Free space that must remain on the results file system besides what the job may write. */
  minFreeBytes?: number
  /** How often the output size is checked while the job runs (default 250 ms). */
  outputPollMs?: number
  /** Overrides GPU detection (tests, or operators who know better). */
  gpusAvailable?: number
  /** Where per-job scratch directories (the job's writable /tmp) are made (default the OS temp dir). */
  scratchRoot?: string
  /**
   * Bound on each engine call: inspect, create, start, kill, remove, list (default 60 s: a loaded engine with
   * the vfs driver can take many seconds to create or remove; a dropped socket fails at once regardless).
   */
  callTimeoutMs?: number
  /** How long an aborted run (and then stop()) waits for its container's removal before returning (default 3 s). */
  cleanupTimeoutMs?: number
  /** How often a running job's container is inspected, so a silent engine is noticed (default 1 s). */
  healthPollMs?: number
  /** Bound on that inspect: an engine silent for this long is taken as lost (default 5 s). */
  healthTimeoutMs?: number
  /** How long a lost engine is retried before the run ends in EngineLostError (default 5 s). */
  reconnectMs?: number
  /**
   * Size of the engine-side log of each container (the `local` log driver, one file): what a run reads back
   * after a reconnect or adopts after a restart (default 2 × streamCapBytes + 1 MiB).
   */
  logMaxBytes?: number
  /** Adopt a container left by an earlier run of the same job with the same configuration (default true). */
  adopt?: boolean
}

export interface RunOptions {
  /** Where the result directory is written (created). Its result files and output directories are replaced. */
  resultDir: string
  /** Host directory mounted read-only at /inputs. */
  inputsDir?: string
  /** Staged job inputs (node/inputs), each host path bound read-only at its container path. */
  inputMounts?: ReadonlyArray<{ source: string, target: string }>
  /** Seconds before the container is killed; defaults to the spec's timeout (the deal's, if the caller sets it). */
  timeoutSec?: number
  /**
   * Milliseconds of the job's time spent before its container starts (fetching its inputs): the container is
   * killed that much sooner. The status still records timeoutSec, the limit the job asked for, so a re-run
   * whose fetch took longer or shorter writes the same result.
   */
  usedMs?: number
  signal?: AbortSignal
  /**
   * The job's id (the deal id), put on the container: a second run() with the same id adopts or replaces what
   * the first left. Default a fresh random id.
   */
  jobId?: string
  /** GPUs (UUIDs) assigned to the slot this job runs in; without them, GPUs are requested by count. */
  gpuDeviceIds?: readonly string[]
  /**
   * The container's stdout and stderr as they are produced (live logs), from the stream the run is attached to:
   * at most the kept part of each stream (streamCapBytes), so the feed is bounded like the result's files. An
   * adopted container or output read back from the engine's log after a reconnect is not fed again.
   */
  onOutput?: (chunk: OutputChunk) => void
}

export interface ExecutionResult {
  resultDir: string
  exitCode: number
  /** What the status file says: ok, timeout, output-limit or killed. */
  status: ResultStatusCode
  resultStatus: ResultStatus
  /**
   * Whether the engine recorded an OOM kill of this SIGKILLed run (undefined: the engine could not be asked).
   * For logs and metrics only: the engine can lose the record, so the status never depends on it.
   */
  oomKilled: boolean | undefined
  timedOut: boolean
  outputTooLarge: boolean
  stdoutTruncated: boolean
  stderrTruncated: boolean
  /** The container was left by an earlier run (or process) and its outcome taken over. */
  adopted: boolean
  /** Times the engine was lost and came back during this run. */
  reconnects: number
  containerId: string
  /** Preflight + create + run + collect + remove. */
  durationMs: number
  /** From start() to exit. */
  runMs: number
}

export interface ExecutorEvents {
  'container:create': [{ jobId: string, containerId: string }]
  'container:start': [{ jobId: string, containerId: string }]
  'container:adopted': [{ jobId: string, containerId: string, running: boolean }]
  'container:removed': [{ jobId: string, containerId: string, why: 'done' | 'replaced' | 'orphan' | 'aborted' | 'failed' }]
  /** A cluster executor's job was placed: its service's task has a container on node `nodeId`. */
  'job:placed': [{ jobId: string, serviceId: string, taskId: string, nodeId: string }]
  /** The engine stopped answering (or a stream to it broke) while the job ran. */
  'engine:lost': [{ jobId: string, containerId: string }]
  'engine:back': [{ jobId: string, containerId: string, lostMs: number }]
  /** A piece of a running container's output (the live feed; bounded by streamCapBytes per stream and run). */
  'container:output': [{ jobId: string, stream: 'stdout' | 'stderr', data: Buffer }]
}

export interface ReconcileReport {
  /** Job ids of containers left for adoption by a later run(). */
  kept: string[]
  /** Job ids of containers removed. */
  removed: string[]
}

export const DEFAULT_EXECUTOR_OPTIONS = {
  user: '65534:65534',
  pidsLimit: 256,
  outputCapBytes: 100 * 1024 * 1024,
  streamCapBytes: 4 * 1024 * 1024,
  fullNetworkMode: 'bridge',
  pull: true,
  pullTimeoutMs: 15_000,
  minFreeBytes: 64 * 1024 * 1024,
  outputPollMs: 250,
  callTimeoutMs: 60_000,
  cleanupTimeoutMs: 3_000,
  healthPollMs: 1_000,
  healthTimeoutMs: 5_000,
  reconnectMs: 5_000,
  adopt: true
}

const SCRATCH_PREFIX = 'lilypad-scratch-'
const RESERVED_NAMES = new Set(['stdout', 'stderr', 'exitCode', STATUS_FILE])

async function dirSize (dir: string): Promise<number> {
  let total = 0
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return 0 }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await dirSize(p)
    else { try { total += (await lstat(p)).size } catch { /* removed meanwhile */ } }
  }
  return total
}

// (read through a function: TypeScript narrows signal.aborted after an earlier check and forgets it can change)
const isAborted = (signal?: AbortSignal): boolean => signal?.aborted === true

/** One job's run: what the watch loop, the engine-call wrapper and the cleanup share. */
export interface Job {
  jobId: string
  signal: AbortSignal
  containerId?: string
  /**
   * Connections that broke (refused, reset, a stream cut short): each one invalidates the attach stream and the
   * pending wait. An engine that is only slow to answer does not count: its streams may well still be intact.
   */
  broken: number
  reconnects: number
  /** The engine was lost and did not come back: cleanup cannot reach it. */
  gone: boolean
}

/** A read-only bind for a staged input. node/inputs checked the target already; a bind string must not be re-parsed differently. */
function inputBind (m: { source: string, target: string }): string {
  const source = resolve(m.source)
  if (!/^\/[A-Za-z0-9._/-]+$/.test(m.target) || m.target.split('/').some(s => s === '..')) throw new Error(`bad input mount target ${JSON.stringify(m.target)}`)
  if (source.includes(':') || source.includes(',')) throw new Error(`input mount source ${JSON.stringify(source)} cannot be bound (":" or "," in the path)`)
  return `${source}:${m.target}:ro`
}

/** A job's container as launch() leaves it: started, its output flowing into the run's sink. */
export interface Launched {
  container: Docker.Container
  /** The stream the output comes from (an attach, or a log followed from the start), destroyed when the run ends. */
  attach: NodeJS.ReadWriteStream & { destroy: () => void }
  /** Resolves true when the engine ended that stream cleanly, false when it broke (the capture is then in doubt). */
  attachClean: Promise<boolean>
  /** When the container started (ms since the epoch): its deadline counts from here. */
  startedAt: number
}

/** Clean: the engine ended the stream; anything else (reset, abort) leaves the capture in doubt. */
export function streamEnd (s: NodeJS.ReadableStream): Promise<boolean> {
  return new Promise<boolean>(resolve => {
    s.once('end', () => { resolve(true) })
    s.once('error', () => { resolve(false) })
    s.once('close', () => { resolve(false) })
  })
}

type ContainerState = Docker.ContainerInspectInfo['State']
type Check = { kind: 'exit', code: number } | { kind: 'wait-failed' } | { kind: 'attach-ended' } | { kind: 'tick' }

export class Executor extends EventEmitter<ExecutorEvents> implements JobExecutor {
  readonly docker: Docker
  readonly owner: string
  protected readonly opts: typeof DEFAULT_EXECUTOR_OPTIONS & ExecutorOptions & { logMaxBytes: number }
  protected reachable = false
  private gpuCount: number | undefined
  private cpuCount: number | undefined
  /** Images seen present; a later create that fails with 404 drops the entry and reports ImageMissingError. */
  private readonly knownImages = new Set<string>()
  /** Runs in progress by job id. */
  protected readonly active = new Map<string, { ac: AbortController, done: Promise<unknown> }>()
  /** Container removals in progress (an aborted run does not wait for them to finish), cancelled by stop(). */
  private readonly cleanups = new Map<Promise<void>, AbortController>()
  /** Containers a run of this executor follows now: reconcile() leaves them alone. */
  protected readonly following = new Set<string>()
  private stopped = false

  constructor (opts: ExecutorOptions = {}) {
    super()
    const streamCap = opts.streamCapBytes ?? DEFAULT_EXECUTOR_OPTIONS.streamCapBytes
    if (!(streamCap > 0 && streamCap <= MAX_STREAM_CAP_BYTES)) throw new ExecutorConfigError(`streamCapBytes ${streamCap} is outside 1 to ${MAX_STREAM_CAP_BYTES}`)
    this.opts = { ...DEFAULT_EXECUTOR_OPTIONS, logMaxBytes: 2 * streamCap + 1024 * 1024, ...opts }
    this.docker = opts.docker ?? new Docker(opts.socketPath !== undefined ? { socketPath: opts.socketPath } : undefined)
    this.owner = opts.owner ?? randomUUID().replaceAll('-', '')
  }

  /** A job's outputs may not pass the disk it asked for (the bound job creators fetch by), nor this provider's cap. */
  private outputCap (spec: JobSpec): number {
    return Math.min(this.opts.outputCapBytes, outputsBytesBound(spec.resources.diskMb))
  }

  /** Engine reachable? Throws DockerUnavailableError with a hint. */
  async ping (signal?: AbortSignal): Promise<void> {
    try {
      // dockerode accepts an abort signal here though its types do not say so.
      await bounded('ping', Math.min(this.opts.callTimeoutMs, 10_000), signal, async s => await (this.docker as unknown as { ping: (o: object) => Promise<unknown> }).ping({ abortSignal: s }))
      this.reachable = true
    } catch (e) {
      if (signal?.aborted === true) throw e
      this.reachable = false
      throw new DockerUnavailableError(`Docker engine unreachable: ${(e as Error).message}`, { cause: e })
    }
  }

  /** Resolves true once the engine answers, false when timeoutMs passes (or the signal aborts) first. */
  async waitForEngine (opts: { timeoutMs: number, signal?: AbortSignal }): Promise<boolean> {
    const until = Date.now() + opts.timeoutMs
    for (;;) {
      if (opts.signal?.aborted === true) return false
      try {
        // one slow answer may take the whole window: a loaded engine is not a lost one
        await bounded('ping', Math.max(1, until - Date.now()), opts.signal, async s => await (this.docker as unknown as { ping: (o: object) => Promise<unknown> }).ping({ abortSignal: s }))
        this.reachable = true
        return true
      } catch {
        if (Date.now() >= until) return false
        await pause(Math.min(250, Math.max(0, until - Date.now())), opts.signal)
      }
    }
  }

  /** GPUs usable through device requests: the NVIDIA runtime registered with the engine and a device node. */
  async detectGpus (signal?: AbortSignal): Promise<number> {
    if (this.opts.gpusAvailable !== undefined) return this.opts.gpusAvailable
    if (this.gpuCount !== undefined) return this.gpuCount
    let count = 0
    try {
      const info = await bounded('info', this.opts.callTimeoutMs, signal, async s => await (this.docker.info as (o: object) => Promise<{ Runtimes?: Record<string, unknown> }>).call(this.docker, { abortSignal: s }))
      const hasRuntime = info.Runtimes !== undefined && Object.keys(info.Runtimes).some(r => r.includes('nvidia'))
      if (hasRuntime || existsSync('/usr/bin/nvidia-container-runtime-hook') || existsSync('/usr/bin/nvidia-container-toolkit')) {
        for (let i = 0; existsSync(`/dev/nvidia${i}`); i++) count++
      }
    } catch (e) { this.unreachable(e, 'reading engine info') }
    this.gpuCount = count
    return count
  }

  /** The engine's CPUs (its info's NCPU), read once. */
  async engineCpus (signal?: AbortSignal): Promise<number> {
    if (this.cpuCount !== undefined) return this.cpuCount
    let info: { NCPU?: number }
    try {
      info = await bounded('info', this.opts.callTimeoutMs, signal, async s => await (this.docker.info as (o: object) => Promise<{ NCPU?: number }>).call(this.docker, { abortSignal: s }))
    } catch (e) { this.unreachable(e, 'reading engine info') }
    this.cpuCount = typeof info.NCPU === 'number' && info.NCPU > 0 ? info.NCPU : 0
    return this.cpuCount
  }

  protected unreachable (e: unknown, what: string): never {
    if (isConnError(e)) { this.reachable = false; throw new DockerUnavailableError(`Docker engine unreachable while ${what}: ${(e as Error).message}`, { cause: e }) }
    throw e
  }

  /** Makes sure the image is here; pulls it when allowed and a registry answers. Returns the image id. */
  async ensureImage (image: string, signal?: AbortSignal): Promise<string> {
    const inspect = async (): Promise<string> => (await bounded('image inspect', this.opts.callTimeoutMs, signal, async s => { const img = this.docker.getImage(image); return await (img.inspect as (o: object) => Promise<Docker.ImageInspectInfo>).call(img, { abortSignal: s }) })).Id
    try {
      const id = await inspect()
      this.knownImages.add(image)
      return id
    } catch (e) {
      if (isAborted(signal)) throw e
      if (isConnError(e)) this.unreachable(e, 'inspecting the image')
      if (statusCodeOf(e) !== 404) throw e
    }
    if (!this.opts.pull || image.startsWith('sha256:')) throw new ImageMissingError(image)
    try {
      await bounded('pull', this.opts.pullTimeoutMs, signal, async s => {
        const stream = await this.docker.pull(image, { abortSignal: s })
        await new Promise<void>((resolve, reject) => {
          this.docker.modem.followProgress(stream, (err: Error | null, res: Array<{ error?: string }>) => {
            const failed = res?.find(r => r.error !== undefined)
            if (err !== null) reject(err); else if (failed !== undefined) reject(new Error(failed.error)); else resolve()
          })
        })
      })
      return await inspect()
    } catch (e) {
      if (isAborted(signal)) throw e
      if (isConnError(e) && (e as { syscall?: string }).syscall === 'connect') this.unreachable(e, 'pulling')
      throw new ImageMissingError(image, `pull failed: ${(e as Error).message.split('\n')[0]}`, e)
    }
  }

  /** Engine, GPU, image and disk checks; throws the named error for the first that fails. */
  async preflight (spec: JobSpec, resultDir: string, signal?: AbortSignal): Promise<void> {
    if (!this.reachable) await this.ping(signal)
    if (spec.resources.gpus > 0 || spec.resources.allGpus) {
      const have = await this.detectGpus(signal)
      if (have < spec.resources.gpus) {
        throw new GpuUnavailableError(spec.resources.gpus, have === 0 ? 'this machine has no GPU usable by Docker (no NVIDIA runtime or device)' : `only ${have} are available`)
      }
    }
    // An image id names immutable content: once seen, it need not be inspected again for every job.
    if (!(spec.image.startsWith('sha256:') && this.knownImages.has(spec.image))) await this.ensureImage(spec.image, signal)
    let probe = resolve(resultDir)
    while (!existsSync(probe)) probe = resolve(probe, '..')
    const fs = await statfs(probe)
    const free = Number(fs.bavail) * Number(fs.bsize)
    const needed = this.outputCap(spec) + this.opts.minFreeBytes
    if (free < needed) throw new InsufficientDiskError(probe, free, needed)
  }

  /**
   * Finds this owner's containers that no run of this executor follows (left by a killed or restarted
   * provider): keeps those whose job `keep` says is still to be run (a later run() of that job id adopts or
   * replaces it), removes the others with their scratch directories. Never looks at other owners' containers.
   */
  async reconcile (keep: (jobId: string) => boolean, signal?: AbortSignal): Promise<ReconcileReport> {
    const report: ReconcileReport = { kept: [], removed: [] }
    let list: Docker.ContainerInfo[]
    try {
      list = await this.listOwn(undefined, signal)
    } catch (e) { this.unreachable(e, 'listing containers') }
    for (const c of list) {
      const jobId = c.Labels?.[LABEL_JOB] ?? ''
      // a run of this job in progress adopts or replaces the container itself
      if (this.following.has(c.Id) || this.active.has(jobId) || c.Labels?.[LABEL_OWNER] !== this.owner) continue
      if (keep(jobId)) { report.kept.push(jobId); continue }
      try {
        await this.removeContainer(c.Id, jobId, 'orphan', this.opts.callTimeoutMs, signal)
      } catch (e) { this.unreachable(e, 'removing a left-over container') }
      await this.removeScratch(c.Mounts?.find(m => m.Destination === '/tmp')?.Source)
      report.removed.push(jobId)
    }
    return report
  }

  /** Aborts every run in progress (their containers are removed, as far as the engine answers) and waits for them. */
  async stop (): Promise<void> {
    this.stopped = true
    const until = Date.now() + this.opts.cleanupTimeoutMs
    const runs = [...this.active.values()]
    for (const r of runs) r.ac.abort(new ExecutionAbortedError('the executor is stopping'))
    await Promise.allSettled(runs.map(async r => await r.done))
    // removals still waiting on a slow or silent engine get one more cleanup bound, then their requests are
    // cancelled (no socket or timer outlives stop(); reconcile() on the next start finds what is left)
    await Promise.race([Promise.allSettled([...this.cleanups.keys()]), pause(Math.max(0, until - Date.now()))])
    for (const ac of this.cleanups.values()) ac.abort()
  }

  async run (spec: JobSpec, opts: RunOptions): Promise<ExecutionResult> {
    if (this.stopped) throw new ExecutionAbortedError('the executor is stopped')
    if (opts.signal?.aborted === true) throw new ExecutionAbortedError('aborted before start')
    const jobId = opts.jobId ?? randomUUID()
    if (this.active.has(jobId)) throw new JobAlreadyRunningError(`job ${jobId} is already running on this executor`)
    const ac = new AbortController()
    const onOuter = (): void => { ac.abort(new ExecutionAbortedError('the job was aborted', { cause: opts.signal?.reason })) }
    opts.signal?.addEventListener('abort', onOuter, { once: true })
    const job: Job = { jobId, signal: ac.signal, broken: 0, reconnects: 0, gone: false }
    const done = this.runJob(spec, opts, job)
    this.active.set(jobId, { ac, done })
    try {
      return await done
    } catch (e) {
      if (ac.signal.aborted && !(e instanceof ExecutionAbortedError)) throw new ExecutionAbortedError('the job was aborted', { cause: e })
      throw e
    } finally {
      opts.signal?.removeEventListener('abort', onOuter)
      this.active.delete(jobId)
    }
  }

  private async listOwn (jobId: string | undefined, signal?: AbortSignal): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABEL_OWNER}=${this.owner}`, ...(jobId !== undefined ? [`${LABEL_JOB}=${jobId}`] : [])]
    return await bounded('list', this.opts.callTimeoutMs, signal, async s => await this.docker.listContainers({ all: true, filters: { label }, abortSignal: s }))
  }

  /** Force-removes a container (404: already gone); a failure to reach the engine is thrown. */
  protected async removeContainer (id: string, jobId: string, why: ExecutorEvents['container:removed'][0]['why'], ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await bounded('remove', ms, signal, async s => await this.docker.getContainer(id).remove({ force: true, v: true, abortSignal: s }))
    } catch (e) {
      if (statusCodeOf(e) !== 404) throw e
    }
    this.emit('container:removed', { jobId, containerId: id, why })
  }

  /** Only directories this executor makes for scratch, directly under its scratch root. */
  private async removeScratch (path: string | undefined): Promise<void> {
    if (path === undefined || !basename(path).startsWith(SCRATCH_PREFIX) || dirname(resolve(path)) !== resolve(this.opts.scratchRoot ?? tmpdir())) return
    await rm(path, { recursive: true, force: true })
  }

  private lost (job: Job, cause: unknown): void {
    if (!(cause instanceof EngineTimeoutError)) job.broken++
    this.reachable = false
    this.emit('engine:lost', { jobId: job.jobId, containerId: job.containerId ?? '' })
  }

  /** Pings the engine until it answers or reconnectMs passes; EngineLostError('unreachable') then. */
  private async reconnect (job: Job, cause: unknown): Promise<void> {
    const t0 = Date.now()
    if (await this.waitForEngine({ timeoutMs: this.opts.reconnectMs, signal: job.signal })) {
      job.reconnects++
      this.emit('engine:back', { jobId: job.jobId, containerId: job.containerId ?? '', lostMs: Date.now() - t0 })
      return
    }
    job.signal.throwIfAborted()
    job.gone = true
    throw new EngineLostError('unreachable', `no answer for ${this.opts.reconnectMs} ms (${(cause as Error)?.message ?? cause})`, { jobId: job.jobId, containerId: job.containerId, containerLeft: true, cause })
  }

  /** An engine call for a job with a container: bounded, and on a lost connection reconnected and retried. */
  protected async call<T> (job: Job, what: string, fn: (signal: AbortSignal) => Promise<T>, ms = this.opts.callTimeoutMs): Promise<T> {
    for (;;) {
      try {
        return await bounded(what, ms, job.signal, fn)
      } catch (e) {
        if (job.signal.aborted || !isConnError(e)) throw e
        this.lost(job, e)
        await this.reconnect(job, e)
      }
    }
  }

  /** The container's inspect record; EngineLostError('container-gone') when it no longer exists. */
  protected async inspect (job: Job, container: Docker.Container, ms = this.opts.callTimeoutMs): Promise<Docker.ContainerInspectInfo> {
    try {
      return await this.call(job, 'inspect', async s => {
        const info = await container.inspect({ abortSignal: s })
        // a connection cut mid-answer can "succeed" with a partial body
        if (typeof info?.State !== 'object' || info.State === null) throw Object.assign(new Error('the engine\'s answer was cut short'), { code: 'ECONNRESET' })
        return info
      }, ms)
    } catch (e) {
      if (statusCodeOf(e) === 404) throw new EngineLostError('container-gone', 'the container no longer exists', { jobId: job.jobId, containerId: container.id, containerLeft: false, cause: e })
      throw e
    }
  }

  private async state (job: Job, container: Docker.Container, ms?: number): Promise<ContainerState> {
    return (await this.inspect(job, container, ms)).State
  }

  /** Whether the engine's event log holds an "oom" event of this container (the last 10 minutes, replayed, no stream left open). */
  private async oomEventLogged (id: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000)
    const stream = await this.docker.getEvents({ since: now - 600, until: now, filters: { type: ['container'], event: ['oom'], container: [id] } }) as NodeJS.ReadableStream
    let text = ''
    for await (const chunk of stream) text += chunk.toString()
    return text.includes('"oom"')
  }

  /**
   * Whether the engine recorded an OOM kill of this container, asked once. Only for the operator's log and
   * metrics: the engine can lose the record, so the result's status (part of its CID) never depends on it.
   */
  private async engineSawOom (job: Job, container: Docker.Container): Promise<boolean | undefined> {
    if ((await this.state(job, container)).OOMKilled) return true
    // the event log is a second place the record can be; a failure to read it leaves the answer unknown
    return await this.oomEventLogged(container.id).catch(() => undefined)
  }

  private async runJob (spec: JobSpec, opts: RunOptions, job: Job): Promise<ExecutionResult> {
    const t0 = performance.now()
    const { signal, jobId } = job
    const resultDir = resolve(opts.resultDir)
    await this.preflight(spec, resultDir, signal)

    // Result layout and mounts: each declared output is <resultDir>/<name> bound read-write at its path.
    const binds: string[] = []
    const outputDirs: string[] = []
    for (const o of spec.outputs) {
      if (!/^[\w.-]+$/.test(o.name) || RESERVED_NAMES.has(o.name) || o.name === '.' || o.name === '..') throw new Error(`bad output name ${JSON.stringify(o.name)}`)
      const host = join(resultDir, o.name)
      binds.push(`${host}:${o.path}:rw`)
      outputDirs.push(host)
    }
    if (opts.inputsDir !== undefined) binds.push(`${resolve(opts.inputsDir)}:/inputs:ro`)
    for (const m of opts.inputMounts ?? []) {
      // the engine cannot make a mount point inside a read-only bind
      if (opts.inputsDir !== undefined && (m.target === '/inputs' || m.target.startsWith('/inputs/'))) throw new Error(`input mount ${m.target} is inside /inputs, which inputsDir binds read-only`)
      binds.push(inputBind(m))
    }
    // a quota of more than a core may be more than the engine has (asked on top of the module's: a canary's slot)
    const engineCpus = spec.resources.cpu > 1000 ? await this.engineCpus(signal) : undefined
    const config = containerConfig(spec, { ...this.opts, binds, logMaxBytes: this.opts.logMaxBytes, ...(opts.gpuDeviceIds !== undefined ? { gpuDeviceIds: opts.gpuDeviceIds } : {}), ...(engineCpus !== undefined ? { engineCpus } : {}) })
    const hash = configHash(config)
    const timeoutSec = opts.timeoutSec ?? spec.timeoutSec
    // The directories the container binds by identity: inputs staged anew (deleted and written again) are, like a
    // result directory made again, never adopted: the old container would still see the deleted ones.
    const boundDirs = (): string[] => [...outputDirs, ...(opts.inputMounts ?? []).map(m => resolve(m.source))]

    // What an earlier run of this job left: the same configuration is adopted, anything else removed before a
    // new container is made, so one job never has two containers.
    let leftovers: Docker.ContainerInfo[]
    try { leftovers = await this.listOwn(jobId, signal) } catch (e) { this.unreachable(e, 'listing containers') }
    let adopt: Docker.ContainerInfo | undefined
    for (const c of leftovers) {
      const same = c.Labels?.[LABEL_CONFIG] === hash && c.Labels?.[LABEL_OUTPUTS] === await dirIdentity(boundDirs())
      if (this.opts.adopt && adopt === undefined && same && (c.State === 'running' || c.State === 'exited')) { adopt = c; continue }
      try { await this.removeContainer(c.Id, jobId, 'replaced', this.opts.callTimeoutMs, signal) } catch (e) { this.unreachable(e, 'removing the container an earlier run left') }
      await this.removeScratch(c.Mounts?.find(m => m.Destination === '/tmp')?.Source)
    }

    let container: Docker.Container | undefined
    let scratch: string | undefined
    const sink = new DemuxSink(this.opts.streamCapBytes, chunk => {
      opts.onOutput?.(chunk)
      this.emit('container:output', { jobId, ...chunk })
    })
    let attach: NodeJS.ReadWriteStream & { destroy: () => void } | undefined
    let attachClean: Promise<boolean> = Promise.resolve(false)
    let startedAt: number
    let tStart = performance.now()
    try {
      if (adopt !== undefined) {
        container = this.docker.getContainer(adopt.Id)
        job.containerId = adopt.Id
        this.following.add(adopt.Id)
        const info = await this.inspect(job, container)
        scratch = info.Mounts?.find(m => m.Destination === '/tmp')?.Source
        startedAt = Date.parse(info.State.StartedAt)
        tStart = performance.now() - Math.max(0, Date.now() - startedAt)
        await this.clearResult(resultDir, [])
        this.adopted(job, info)
        this.emit('container:adopted', { jobId, containerId: adopt.Id, running: info.State.Running })
      } else {
        await this.clearResult(resultDir, outputDirs)
        await mkdir(resultDir, { recursive: true })
        for (const d of outputDirs) { await mkdir(d, { recursive: true }); await this.handOver(d) }
        // The writable /tmp is a host scratch directory rather than a tmpfs: some engines ignore tmpfs modes, and
        // a non-root job needs to write there. Its size counts against the output cap; it is deleted afterwards.
        scratch = await mkdtemp(join(this.opts.scratchRoot ?? tmpdir(), SCRATCH_PREFIX))
        await this.handOver(scratch)
        const create = {
          ...config,
          Labels: { [LABEL_OWNER]: this.owner, [LABEL_JOB]: jobId, [LABEL_CONFIG]: hash, [LABEL_OUTPUTS]: await dirIdentity(boundDirs()) },
          HostConfig: { ...config.HostConfig, Binds: [...binds, `${scratch}:/tmp:rw`] }
        }
        const launched = await this.launch(job, spec, create, sink, c => { container = c })
        container = launched.container
        attach = launched.attach
        attachClean = launched.attachClean
        startedAt = launched.startedAt
        tStart = performance.now() - Math.max(0, Date.now() - startedAt)
        this.emit('container:start', { jobId, containerId: container.id })
      }

      const watched = await this.watch(job, container, {
        running: adopt === undefined || adopt.State === 'running',
        startedAt,
        limitMs: Math.max(1000, timeoutSec * 1000 - (opts.usedMs ?? 0)),
        capped: [...outputDirs, ...(scratch !== undefined ? [scratch] : [])],
        capBytes: this.outputCap(spec),
        attachEnded: adopt === undefined ? attachClean : undefined
      })
      // an exit the job did not make itself (its task shut down by the cluster) is no result
      await this.exitedByItself(job, container)
      const runMs = performance.now() - tStart
      let { timedOut, outputTooLarge } = watched
      const exitCode = watched.exitCode
      // A SIGKILL (exit 137) we did not send is 'killed', whatever the engine says; its OOM record is only reported.
      const oomKilled = exitCode === 137 && !(timedOut || outputTooLarge) && await this.engineSawOom(job, container)

      const { stdout, stderr } = await this.collectStreams(job, container, adopt === undefined && job.broken === 0, attachClean, sink)

      if (!outputTooLarge) {
        let size = 0
        for (const d of [...outputDirs, ...(scratch !== undefined ? [scratch] : [])]) size += await dirSize(d)
        outputTooLarge = size > this.outputCap(spec)
      }
      if (outputTooLarge) {
        // Nothing over the cap is kept or published; the status says why the outputs are empty.
        for (const d of outputDirs) { await rm(d, { recursive: true, force: true }); await mkdir(d) }
        timedOut = watched.timedOut
      }
      const status: ResultStatusCode = outputTooLarge ? 'output-limit' : timedOut ? 'timeout' : exitCode === 137 ? 'killed' : 'ok'
      const limits: NonNullable<ResultStatus['limits']> = {
        ...(status === 'timeout' ? { timeoutSec } : {}),
        ...(status === 'killed' ? { ramMb: Math.max(6, spec.resources.ramMb) } : {}),
        ...(status === 'output-limit' ? { outputBytes: this.outputCap(spec) } : {}),
        ...(stdout.truncated || stderr.truncated ? { streamBytes: this.opts.streamCapBytes } : {})
      }
      const resultStatus: ResultStatus = {
        status,
        ...(stdout.truncated || stderr.truncated ? { truncated: { ...(stdout.truncated ? { stdout: true as const } : {}), ...(stderr.truncated ? { stderr: true as const } : {}) } } : {}),
        ...(Object.keys(limits).length > 0 ? { limits } : {})
      }
      await this.writeResult(resultDir, outputDirs, {
        stdout: stdout.bytes(),
        stderr: stderr.bytes(),
        exitCode: Buffer.from(String(exitCode)),
        [STATUS_FILE]: Buffer.from(encodeResultStatus(resultStatus))
      })
      return {
        resultDir,
        exitCode,
        status,
        resultStatus,
        oomKilled,
        timedOut,
        outputTooLarge,
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        adopted: adopt !== undefined,
        reconnects: job.reconnects,
        containerId: container.id,
        durationMs: performance.now() - t0,
        runMs
      }
    } catch (e) {
      if (e instanceof EngineLostError && e.reason === 'output-lost') await this.clearResult(resultDir, outputDirs)
      throw e
    } finally {
      attach?.destroy()
      if (container === undefined) await this.removeScratch(scratch)
      else if (job.gone) this.following.delete(container.id) // left for the next run of this job id, or reconcile()
      else {
        // An ordinary end waits for the removal (a loaded engine can be slow); an abort waits only
        // cleanupTimeoutMs, so Ctrl-C never hangs on a silent engine, and leaves the rest to stop().
        const id = container.id
        const ac = new AbortController()
        const removal = this.removeContainer(id, jobId, signal.aborted ? 'aborted' : 'done', this.opts.callTimeoutMs, ac.signal)
          .then(async () => { await this.removeScratch(scratch) }, () => { /* left for the next run of this job id, or reconcile() */ })
          .finally(() => { this.following.delete(id); this.cleanups.delete(removal) })
        this.cleanups.set(removal, ac)
        if (signal.aborted) await Promise.race([removal, pause(this.opts.cleanupTimeoutMs)])
        else await removal
      }
    }
  }

  /**
   * Makes the job's container from its create options and starts it, its output piped into `sink` from the
   * first byte. `created` hears the container as soon as it exists (the run removes it if anything after fails).
   */
  protected async launch (job: Job, spec: JobSpec, create: Docker.ContainerCreateOptions, sink: DemuxSink, created: (c: Docker.Container) => void): Promise<Launched> {
    const { jobId, signal } = job
    let container: Docker.Container
    try {
      container = await bounded('create', this.opts.callTimeoutMs, signal, async s => await this.docker.createContainer({ ...create, abortSignal: s }))
    } catch (e) {
      if (statusCodeOf(e) === 404) {
        this.knownImages.delete(spec.image)
        throw new ImageMissingError(spec.image, 'removed from the engine', e)
      }
      // (a create the engine did complete is found by label and removed by the next run of this job)
      this.unreachable(e, 'creating the container')
    }
    created(container)
    job.containerId = container.id
    this.following.add(container.id)
    this.emit('container:create', { jobId, containerId: container.id })
    let attach: Launched['attach']
    try {
      attach = await bounded('attach', this.opts.callTimeoutMs, signal, async s => await container.attach({ stream: true, stdout: true, stderr: true, abortSignal: s })) as Launched['attach']
    } catch (e) {
      if (!isConnError(e)) throw e
      throw new EngineLostError('unreachable', `attaching: ${(e as Error).message}`, { jobId, containerId: container.id, containerLeft: true, cause: e })
    }
    const attachClean = streamEnd(attach)
    attach.pipe(sink)
    try {
      await bounded('start', this.opts.callTimeoutMs, signal, async s => await container.start({ abortSignal: s }))
    } catch (e) {
      attach.destroy()
      if (!isConnError(e)) throw gpuStartError(e, spec.resources) ?? e
      throw new EngineLostError('unreachable', `starting: ${(e as Error).message}`, { jobId, containerId: container.id, containerLeft: true, cause: e })
    }
    return { container, attach, attachClean, startedAt: Date.now() }
  }

  /**
   * Called on each health tick of a running job: throws to end the run when the job can no longer finish where
   * it runs (a cluster executor: its node drained or gone). A single engine has nothing to check.
   */
  protected async stillPlaced (_job: Job): Promise<void> {}

  /** Called when a run takes over a container an earlier run left (a cluster executor learns where it runs). */
  protected adopted (_job: Job, _info: Docker.ContainerInspectInfo): void {}

  /** Called once the container exited: throws when it did not end by itself or by this executor (a cluster's shutdown). */
  protected async exitedByItself (_job: Job, _container: Docker.Container): Promise<void> {}

  /** The job's user must be able to write its directories; as root we hand them over, else open them up. */
  private async handOver (dir: string): Promise<void> {
    const [uid, gid] = this.opts.user.split(':').map(Number)
    if (process.getuid?.() === 0 && Number.isInteger(uid)) await chown(dir, uid, Number.isInteger(gid) ? gid : uid)
    else await chmod(dir, 0o777)
  }

  /**
   * Follows a started (or adopted) container to its exit: the wait request, the end of the attach stream and a
   * periodic inspect all lead to the engine being asked; a lost engine is reconnected (or the run ends in
   * EngineLostError). Kills it at the deadline and when the outputs pass the cap.
   */
  private async watch (job: Job, container: Docker.Container, o: { running: boolean, startedAt: number, limitMs: number, capped: string[], capBytes: number, attachEnded?: Promise<boolean> }): Promise<{ exitCode: number, timedOut: boolean, outputTooLarge: boolean }> {
    let cause: 'timeout' | 'output' | undefined
    const kill = (why: 'timeout' | 'output'): void => {
      cause ??= why
      void bounded('kill', this.opts.callTimeoutMs, job.signal, async s => await container.kill({ abortSignal: s })).catch(() => { /* exited meanwhile, or the engine is lost: the watch finds out */ })
    }
    let timer: NodeJS.Timeout | undefined
    let poller: NodeJS.Timeout | undefined
    const onAbort = (): void => {
      void bounded('kill', this.opts.cleanupTimeoutMs, undefined, async s => await container.kill({ abortSignal: s })).catch(() => {})
    }
    job.signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (!o.running) {
        const st = await this.state(job, container)
        // An exited container adopted from an earlier process: it was killed at its deadline if it ran that long.
        const ranMs = Date.parse(st.FinishedAt) - Date.parse(st.StartedAt)
        const timedOut = st.ExitCode === 137 && !st.OOMKilled && ranMs >= o.limitMs - 1000
        return { exitCode: st.ExitCode, timedOut, outputTooLarge: false }
      }
      timer = setTimeout(() => { kill('timeout') }, Math.max(0, o.startedAt + o.limitMs - Date.now()))
      let measuring = false
      poller = setInterval(() => {
        if (measuring) return // a slow walk of a big tree must not pile up
        measuring = true
        void (async () => {
          let size = 0
          for (const d of o.capped) size += await dirSize(d)
          if (size > o.capBytes) kill('output')
        })().finally(() => { measuring = false })
      }, this.opts.outputPollMs)

      // A broken connection (job.broken changes) kills the pending wait and the attach stream: the wait is registered again
      // on a fresh connection ('not-running' answers at once if the job exited meanwhile).
      let epoch = -1
      let waitAc: AbortController | undefined
      let waited: Promise<Check> | undefined
      let attachEnded = o.attachEnded?.then((): Check => ({ kind: 'attach-ended' }))
      let attachEndedAt: number | undefined
      try {
        for (;;) {
          if (epoch !== job.broken) {
            if (epoch >= 0) attachEnded = undefined
            epoch = job.broken
            waitAc?.abort()
            waitAc = new AbortController()
            const signal = AbortSignal.any([waitAc.signal, job.signal])
            // 'not-running', never 'next-exit': the container is started (or adopted running) before this wait is
            // registered, and a short job has often exited by then; 'next-exit' would wait for an exit that already
            // happened, leaving it to the attach stream's end or the next health tick (1 s) to ask the engine.
            const w: Promise<Check> = (container.wait({ condition: 'not-running', abortSignal: signal }) as Promise<unknown>)
              .then(r => {
                const code = (r as { StatusCode?: unknown })?.StatusCode
                // a connection cut mid-answer can "succeed" with no body: only a number is an exit
                return typeof code === 'number' ? { kind: 'exit', code } : { kind: 'wait-failed' }
              }, () => ({ kind: 'wait-failed' }))
            waited = w
          }
          const ev = await Promise.race([
            ...(waited !== undefined ? [waited] : []),
            ...(attachEnded !== undefined ? [attachEnded] : []),
            pause(this.opts.healthPollMs, job.signal).then((): Check => ({ kind: 'tick' }))
          ])
          job.signal.throwIfAborted()
          if (ev.kind === 'exit') return { exitCode: ev.code, timedOut: cause === 'timeout', outputTooLarge: cause === 'output' }
          if (ev.kind === 'wait-failed') waited = undefined // the inspect below tells a lost engine from an exit
          if (ev.kind === 'attach-ended') { attachEnded = undefined; attachEndedAt = Date.now() }
          const st = await this.state(job, container, this.opts.healthTimeoutMs)
          if (!st.Running) return { exitCode: st.ExitCode, timedOut: cause === 'timeout', outputTooLarge: cause === 'output' }
          await this.stillPlaced(job)
          // The attach stream ends with the job's output, just before the engine records the exit. Still running
          // well after it ended, the stream was cut (a proxy, a dropped socket): a loss, though the engine answers.
          if (attachEndedAt !== undefined && epoch === job.broken && Date.now() - attachEndedAt >= this.opts.reconnectMs) {
            this.lost(job, new Error('the attach stream ended while the job ran'))
            job.reconnects++
            this.emit('engine:back', { jobId: job.jobId, containerId: job.containerId ?? '', lostMs: 0 })
          }
        }
      } finally {
        waitAc?.abort()
      }
    } finally {
      clearTimeout(timer)
      clearInterval(poller)
      job.signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * The job's stdout and stderr. The attach stream is taken when it ended cleanly with no engine loss and the
   * engine's log cannot hold it all; otherwise the engine's log is read back, and used only when it provably
   * holds everything (its single file never rotated) — else EngineLostError('output-lost'): no made-up result.
   */
  private async collectStreams (job: Job, container: Docker.Container, attached: boolean, attachClean: Promise<boolean>, sink: DemuxSink): Promise<{ stdout: DemuxSink['stdout'], stderr: DemuxSink['stderr'] }> {
    let attachOk = false
    if (attached) {
      // the bound's timer is cleared as soon as the stream ends: left running, it held the process up to
      // callTimeoutMs (60 s) after every job (a CLI or a test run lingered that long before it could exit)
      const bound = new AbortController()
      const onJobAbort = (): void => { bound.abort() }
      job.signal.addEventListener('abort', onJobAbort, { once: true })
      let ended: boolean
      try {
        ended = await Promise.race([attachClean, pause(this.opts.callTimeoutMs, bound.signal).then(() => false)])
      } finally {
        job.signal.removeEventListener('abort', onJobAbort)
        bound.abort()
      }
      job.signal.throwIfAborted()
      attachOk = ended && job.broken === 0
      if (attachOk && !logProvablyComplete(sink, this.opts.logMaxBytes)) return sink
    }
    const log = new DemuxSink(this.opts.streamCapBytes)
    await this.call(job, 'logs', async s => {
      // follow on an exited container reads the whole log and ends; as a stream it is never held whole
      const stream = await container.logs({ stdout: true, stderr: true, follow: true, abortSignal: s })
      await pipeline(stream, log, { signal: s })
    }, Math.max(this.opts.callTimeoutMs, 30_000))
    if (logProvablyComplete(log, this.opts.logMaxBytes)) return log
    if (attachOk) return sink
    throw new EngineLostError('output-lost', 'the job\'s output from while the engine was unreachable is no longer in the engine\'s log', { jobId: job.jobId, containerId: container.id, containerLeft: false })
  }

  /** Removes the result files and the given output directories (a fresh run, or a run that leaves nothing). */
  private async clearResult (resultDir: string, outputDirs: string[]): Promise<void> {
    for (const name of RESERVED_NAMES) await rm(join(resultDir, name), { force: true })
    for (const d of outputDirs) await rm(d, { recursive: true, force: true })
  }

  /**
   * Writes the result files after checking they fit; a disk too full (before or during the write) is a named
   * error and leaves no result directory behind.
   */
  private async writeResult (resultDir: string, outputDirs: string[], files: Record<string, Buffer>): Promise<void> {
    const needed = Object.values(files).reduce((n, b) => n + onDisk(b.length), 0)
    const discard = async (): Promise<void> => {
      await this.clearResult(resultDir, outputDirs)
      await rmdir(resultDir).catch(() => { /* not empty: the caller's other files stay */ })
    }
    let reservation
    try {
      reservation = await reserveDisk(resultDir, needed, { what: 'the result files' })
    } catch (e) {
      await discard()
      throw e
    }
    try {
      for (const [name, bytes] of Object.entries(files)) await writeFile(join(resultDir, name), bytes)
    } catch (e) {
      await discard()
      if (isDiskFull(e)) throw new DiskFullError(resultDir, 'writing the result files', e)
      throw e
    } finally {
      reservation.release()
    }
  }
}
