// Runs a JobSpec in a sandboxed Docker container and writes Lilypad's result directory:
//   <resultDir>/stdout, stderr, exitCode, outputs/ (and one directory per further declared output)
// A non-zero exit, an OOM kill, a deadline kill or an output over the cap are results (flags), not errors;
// errors are reserved for what stops the job from running at all (engine down, image missing, disk, GPU).
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, readdir, lstat, rm, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import Docker from 'dockerode'
import type { JobSpec } from '../modules/spec.ts'
import {
  DockerUnavailableError, ExecutionAbortedError, GpuUnavailableError, ImageMissingError, InsufficientDiskError
} from './errors.ts'
import { gpuDeviceRequests, gpuStartError } from './gpu-request.ts'

export interface ExecutorOptions {
  /** A dockerode client to use; otherwise one is made from socketPath (default: dockerode's defaults). */
  docker?: Docker
  socketPath?: string
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
}

export interface RunOptions {
  /** Where the result directory is written (created; should be new or empty). */
  resultDir: string
  /** Host directory mounted read-only at /inputs. */
  inputsDir?: string
  /** Staged job inputs (node/inputs), each host path bound read-only at its container path. */
  inputMounts?: ReadonlyArray<{ source: string, target: string }>
  /** Seconds before the container is killed; defaults to the spec's timeout (the deal's, if the caller sets it). */
  timeoutSec?: number
  signal?: AbortSignal
  /** Label put on the container (e.g. the deal id) so operators can find it. */
  jobId?: string
  /** GPUs (UUIDs) assigned to the slot this job runs in; without them, GPUs are requested by count. */
  gpuDeviceIds?: readonly string[]
}

export interface ExecutionResult {
  resultDir: string
  exitCode: number
  oomKilled: boolean
  timedOut: boolean
  outputTooLarge: boolean
  stdoutTruncated: boolean
  stderrTruncated: boolean
  /** Preflight + create + run + collect + remove. */
  durationMs: number
  /** From start() to exit. */
  runMs: number
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
  outputPollMs: 250
}

const CONN_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])

function isConnError (e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return code !== undefined && CONN_CODES.has(code)
}

function wrapDocker (e: unknown, what: string): never {
  if (isConnError(e)) throw new DockerUnavailableError(`Docker engine unreachable while ${what}: ${(e as Error).message}`, { cause: e })
  throw e
}

class CappedSink extends Writable {
  readonly chunks: Buffer[] = []
  kept = 0
  total = 0
  private readonly cap: number
  constructor (cap: number) { super(); this.cap = cap }
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.total += chunk.length
    const room = this.cap - this.kept
    if (room > 0) { const part = chunk.length <= room ? chunk : chunk.subarray(0, room); this.chunks.push(part); this.kept += part.length }
    cb()
  }
  get truncated (): boolean { return this.total > this.kept }
  bytes (): Buffer { return Buffer.concat(this.chunks) }
}

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

const isAborted = (signal?: AbortSignal): boolean => signal?.aborted === true

const RESERVED_NAMES = new Set(['stdout', 'stderr', 'exitCode'])

/** A read-only bind for a staged input. node/inputs checked the target already; a bind string must not be re-parsed differently. */
function inputBind (m: { source: string, target: string }): string {
  const source = resolve(m.source)
  if (!/^\/[A-Za-z0-9._/-]+$/.test(m.target) || m.target.split('/').some(s => s === '..')) throw new Error(`bad input mount target ${JSON.stringify(m.target)}`)
  if (source.includes(':') || source.includes(',')) throw new Error(`input mount source ${JSON.stringify(source)} cannot be bound (":" or "," in the path)`)
  return `${source}:${m.target}:ro`
}

export class Executor {
  readonly docker: Docker
  private readonly opts: typeof DEFAULT_EXECUTOR_OPTIONS & ExecutorOptions
  private reachable = false
  private gpuCount: number | undefined
  /** Images seen present; a later create that fails with 404 drops the entry and reports ImageMissingError. */
  private readonly knownImages = new Set<string>()

  constructor (opts: ExecutorOptions = {}) {
    this.opts = { ...DEFAULT_EXECUTOR_OPTIONS, ...opts }
    this.docker = opts.docker ?? new Docker(opts.socketPath !== undefined ? { socketPath: opts.socketPath } : undefined)
  }

  /** Engine reachable? Throws DockerUnavailableError with a hint. */
  async ping (signal?: AbortSignal): Promise<void> {
    try {
      // dockerode accepts an abort signal here though its types do not say so.
      await (this.docker as unknown as { ping: (o: object) => Promise<unknown> }).ping({ abortSignal: signal ?? AbortSignal.timeout(5000) })
      this.reachable = true
    } catch (e) {
      this.reachable = false
      throw new DockerUnavailableError(`Docker engine unreachable: ${(e as Error).message}`, { cause: e })
    }
  }

  /** GPUs usable through device requests: the NVIDIA runtime registered with the engine and a device node. */
  async detectGpus (): Promise<number> {
    if (this.opts.gpusAvailable !== undefined) return this.opts.gpusAvailable
    if (this.gpuCount !== undefined) return this.gpuCount
    let count = 0
    try {
      const info = await this.docker.info() as { Runtimes?: Record<string, unknown> }
      const hasRuntime = info.Runtimes !== undefined && Object.keys(info.Runtimes).some(r => r.includes('nvidia'))
      if (hasRuntime || existsSync('/usr/bin/nvidia-container-runtime-hook') || existsSync('/usr/bin/nvidia-container-toolkit')) {
        for (let i = 0; existsSync(`/dev/nvidia${i}`); i++) count++
      }
    } catch (e) { wrapDocker(e, 'reading engine info') }
    this.gpuCount = count
    return count
  }

  /** Makes sure the image is here; pulls it when allowed and a registry answers. Returns the image id. */
  async ensureImage (image: string, signal?: AbortSignal): Promise<string> {
    try {
      const id = (await this.docker.getImage(image).inspect()).Id
      this.knownImages.add(image)
      return id
    } catch (e) {
      if (isConnError(e)) wrapDocker(e, 'inspecting the image')
      if ((e as { statusCode?: number }).statusCode !== 404) throw e
    }
    if (!this.opts.pull || image.startsWith('sha256:')) throw new ImageMissingError(image)
    try {
      const pullSignal = AbortSignal.any([AbortSignal.timeout(this.opts.pullTimeoutMs), ...(signal !== undefined ? [signal] : [])])
      const pullOpts: object = { abortSignal: pullSignal }
      const stream = await this.docker.pull(image, pullOpts)
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null, res: Array<{ error?: string }>) => {
          const failed = res?.find(r => r.error !== undefined)
          if (err !== null) reject(err); else if (failed !== undefined) reject(new Error(failed.error)); else resolve()
        })
      })
      return (await this.docker.getImage(image).inspect()).Id
    } catch (e) {
      if (isConnError(e) && (e as { syscall?: string }).syscall === 'connect') wrapDocker(e, 'pulling')
      throw new ImageMissingError(image, `pull failed: ${(e as Error).message.split('\n')[0]}`, e)
    }
  }

  /** Engine, GPU, image and disk checks; throws the named error for the first that fails. */
  async preflight (spec: JobSpec, resultDir: string, signal?: AbortSignal): Promise<void> {
    if (!this.reachable) await this.ping(signal)
    if (spec.resources.gpus > 0 || spec.resources.allGpus) {
      const have = await this.detectGpus()
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
    const needed = Math.min(spec.resources.diskMb * 1e6, this.opts.outputCapBytes) + this.opts.minFreeBytes
    if (free < needed) throw new InsufficientDiskError(probe, free, needed)
  }

  /** Whether the engine recorded an OOM kill; `patient` waits up to ~1 s for the engine's trailing OOM event. */
  private async wasOomKilled (container: Docker.Container, patient: boolean): Promise<boolean> {
    for (let i = 0; ; i++) {
      if ((await container.inspect()).State.OOMKilled === true) return true
      if (!patient || i >= 20) return false
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  async run (spec: JobSpec, opts: RunOptions): Promise<ExecutionResult> {
    const t0 = performance.now()
    const signal = opts.signal
    if (signal?.aborted === true) throw new ExecutionAbortedError('aborted before start')
    const resultDir = resolve(opts.resultDir)
    await this.preflight(spec, resultDir, signal)

    // Result layout and mounts: each declared output is <resultDir>/<name> bound read-write at its path.
    await mkdir(resultDir, { recursive: true })
    const binds: string[] = []
    const outputDirs: string[] = []
    const [uid, gid] = this.opts.user.split(':').map(Number)
    // The job's user must be able to write its directories; as root we hand them over, else open them up.
    const handOver = async (dir: string): Promise<void> => {
      if (process.getuid?.() === 0 && Number.isInteger(uid)) await chown(dir, uid, Number.isInteger(gid) ? gid : uid)
      else await chmod(dir, 0o777)
    }
    for (const o of spec.outputs) {
      if (!/^[\w.-]+$/.test(o.name) || RESERVED_NAMES.has(o.name) || o.name === '.' || o.name === '..') throw new Error(`bad output name ${JSON.stringify(o.name)}`)
      const host = join(resultDir, o.name)
      await mkdir(host, { recursive: true })
      await handOver(host)
      binds.push(`${host}:${o.path}:rw`)
      outputDirs.push(host)
    }
    if (opts.inputsDir !== undefined) binds.push(`${resolve(opts.inputsDir)}:/inputs:ro`)
    for (const m of opts.inputMounts ?? []) binds.push(inputBind(m))
    // The writable /tmp is a host scratch directory rather than a tmpfs: some engines ignore tmpfs modes, and
    // a non-root job needs to write there. Its size counts against the output cap; it is deleted afterwards.
    const scratch = await mkdtemp(join(this.opts.scratchRoot ?? tmpdir(), 'lilypad-scratch-'))
    await handOver(scratch)
    binds.push(`${scratch}:/tmp:rw`)
    const capped = [...outputDirs, scratch]

    const wantsNet = spec.network !== 'none'
    const r = spec.resources
    const memory = Math.max(6, r.ramMb) * 1024 * 1024
    let container: Docker.Container | undefined
    let timer: NodeJS.Timeout | undefined
    let poller: NodeJS.Timeout | undefined
    let timedOut = false
    let outputTooLarge = false
    let aborted = false
    const kill = (): void => { container?.kill().catch(() => { /* already gone */ }) }
    const onAbort = (): void => { aborted = true; kill() }
    try {
      try {
        container = await this.docker.createContainer({
          Image: spec.image,
          Entrypoint: spec.entrypoint.length > 0 ? spec.entrypoint : undefined,
          Cmd: spec.args.length > 0 ? spec.args : (spec.entrypoint.length > 0 ? [] : undefined),
          Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
          WorkingDir: spec.workingDir !== '' ? spec.workingDir : undefined,
          User: this.opts.user,
          Tty: false,
          AttachStdout: true,
          AttachStderr: true,
          NetworkDisabled: !wantsNet,
          Labels: { 'org.lilypad.job': opts.jobId ?? '' },
          HostConfig: {
            NetworkMode: wantsNet ? this.opts.fullNetworkMode : 'none',
            ReadonlyRootfs: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges'],
            PidsLimit: this.opts.pidsLimit,
            Memory: memory,
            MemorySwap: memory,
            NanoCpus: Math.max(1, r.cpu) * 1_000_000,
            Binds: binds,
            LogConfig: { Type: 'none', Config: {} },
            DeviceRequests: gpuDeviceRequests(r, opts.gpuDeviceIds)
          }
        })
      } catch (e) {
        if (isConnError(e)) this.reachable = false
        if ((e as { statusCode?: number }).statusCode === 404) {
          this.knownImages.delete(spec.image)
          throw new ImageMissingError(spec.image, 'removed from the engine', e)
        }
        wrapDocker(e, 'creating the container')
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      // (read through a function: TypeScript narrowed signal.aborted to false at the top of run)
      if (isAborted(signal)) throw new ExecutionAbortedError('aborted before start')
      const stdout = new CappedSink(this.opts.streamCapBytes)
      const stderr = new CappedSink(this.opts.streamCapBytes)
      const stream = await container.attach({ stream: true, stdout: true, stderr: true })
      const streamEnded = new Promise<void>(resolve => { stream.once('end', resolve); stream.once('close', resolve); stream.once('error', () => resolve()) })
      container.modem.demuxStream(stream, stdout, stderr)
      // Registered before start, for the exit that start causes (the default condition answers at once).
      const waited = container.wait({ condition: 'next-exit' })
      const tStart = performance.now()
      await container.start().catch((e: unknown) => { throw gpuStartError(e, r) ?? e })
      // An abort that landed between create and start found nothing running to kill.
      if (aborted) kill()
      const timeoutSec = opts.timeoutSec ?? spec.timeoutSec
      timer = setTimeout(() => { timedOut = true; kill() }, timeoutSec * 1000)
      let measuring = false
      poller = setInterval(() => {
        if (measuring) return // a slow walk of a big tree must not pile up
        measuring = true
        void (async () => {
          let size = 0
          for (const d of capped) size += await dirSize(d)
          if (size > this.opts.outputCapBytes && !outputTooLarge) { outputTooLarge = true; kill() }
        })().finally(() => { measuring = false })
      }, this.opts.outputPollMs)
      const status = await waited as { StatusCode: number }
      const runMs = performance.now() - tStart
      clearTimeout(timer); clearInterval(poller)
      // The kernel's OOM killer sends SIGKILL (exit 137); only then is the engine asked whether it was OOM. The
      // engine learns of the OOM from a cgroup event that can trail the exit under load, so a SIGKILL we did not
      // send ourselves is re-checked for a short while before it is called anything else.
      const oomKilled = status.StatusCode === 137 && await this.wasOomKilled(container, !(timedOut || outputTooLarge || aborted))
      await streamEnded
      if (aborted) throw new ExecutionAbortedError('the job was aborted')
      if (!outputTooLarge) {
        let size = 0
        for (const d of capped) size += await dirSize(d)
        outputTooLarge = size > this.opts.outputCapBytes
      }
      if (outputTooLarge) {
        // Nothing over the cap is kept or published; the flag says why the outputs are empty.
        for (const d of outputDirs) { await rm(d, { recursive: true, force: true }); await mkdir(d) }
      }
      const exitCode = status.StatusCode
      await Promise.all([
        writeFile(join(resultDir, 'stdout'), stdout.bytes()),
        writeFile(join(resultDir, 'stderr'), stderr.bytes()),
        writeFile(join(resultDir, 'exitCode'), String(exitCode))
      ])
      return {
        resultDir,
        exitCode,
        oomKilled,
        timedOut,
        outputTooLarge,
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        durationMs: performance.now() - t0,
        runMs
      }
    } finally {
      clearTimeout(timer); clearInterval(poller)
      signal?.removeEventListener('abort', onAbort)
      if (container !== undefined) await container.remove({ force: true, v: true }).catch(() => { /* engine gone: nothing left to remove */ })
      await rm(scratch, { recursive: true, force: true })
    }
  }
}
