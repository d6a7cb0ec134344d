// Talking to a Docker engine that may vanish: every call bounded, connection failures told apart from answers,
// and the multiplexed stdout/stderr stream read into capped buffers while counting what the engine's log holds.
import { Writable } from 'node:stream'

/** The engine did not answer a call within its bound (a frozen daemon, a stalled socket). */
export class EngineTimeoutError extends Error {
  static override name = 'EngineTimeoutError'
  override name = 'EngineTimeoutError'
  readonly code = 'ETIMEDOUT'
}

const CONN_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'])

/** A failure to reach or hear the engine (as opposed to an answer such as 404 or 409). */
export function isConnError (e: unknown): boolean {
  if (e instanceof EngineTimeoutError) return true
  const code = (e as { code?: string })?.code
  if (code !== undefined && CONN_CODES.has(code)) return true
  // node's http client reports a response cut short as "aborted" / "socket hang up" without a code
  return /socket hang up|^aborted$/.test((e as { message?: string })?.message ?? '')
}

export const statusCodeOf = (e: unknown): number | undefined => (e as { statusCode?: number })?.statusCode

/**
 * Runs one engine call with an AbortSignal that fires after `ms` or when `outer` aborts, and settles when that
 * signal fires even if the call never does (dockerode's requests can stay pending on a dropped socket).
 * Timeouts reject with EngineTimeoutError; an outer abort rejects with the outer signal's reason.
 */
export async function bounded<T> (what: string, ms: number, outer: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  outer?.throwIfAborted()
  const timer = new AbortController()
  const t = setTimeout(() => { timer.abort(new EngineTimeoutError(`the Docker engine did not answer ${what} within ${ms} ms`)) }, ms)
  const signal = outer !== undefined ? AbortSignal.any([timer.signal, outer]) : timer.signal
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(outer?.aborted === true ? outer.reason : timer.signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  const running = call(signal)
  running.catch(() => {}) // settled after the abort: nobody listens any more
  try {
    return await Promise.race([running, aborted])
  } finally {
    clearTimeout(t)
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/** Resolves after ms, or at once when the signal aborts (never rejects: the caller checks the signal). */
export async function pause (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** Keeps the first `cap` bytes of one stream and counts the rest. */
export class CappedBuffer {
  private readonly chunks: Buffer[] = []
  private readonly cap: number
  kept = 0
  total = 0
  newlines = 0
  constructor (cap: number) { this.cap = cap }
  /** Returns the part kept (a copy), if any. */
  push (chunk: Buffer): Buffer | undefined {
    this.total += chunk.length
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.newlines++
    const room = this.cap - this.kept
    if (room <= 0) return undefined
    const part = Buffer.from(chunk.length <= room ? chunk : chunk.subarray(0, room))
    this.chunks.push(part)
    this.kept += part.length
    return part
  }
  get truncated (): boolean { return this.total > this.kept }
  bytes (): Buffer { return Buffer.concat(this.chunks) }
}

/** A piece of a running container's output, as the engine delivered it. */
export interface OutputChunk { stream: 'stdout' | 'stderr', data: Buffer }

/**
 * Reads Docker's multiplexed stream (8-byte headers: stream id, 3 zero bytes, big-endian length) into two
 * capped buffers, counting frames: a container log read back yields one frame per log entry. `live`, when given,
 * hears each kept piece as it arrives — the live feed is bounded by the same cap as the result's files.
 */
export class DemuxSink extends Writable {
  readonly stdout: CappedBuffer
  readonly stderr: CappedBuffer
  frames = 0
  private pending = Buffer.alloc(0)
  private left = 0
  private target: CappedBuffer | undefined
  private readonly live: ((chunk: OutputChunk) => void) | undefined
  constructor (cap: number, live?: (chunk: OutputChunk) => void) {
    super()
    this.stdout = new CappedBuffer(cap)
    this.stderr = new CappedBuffer(cap)
    this.live = live
  }

  private feed (part: Buffer | undefined): void {
    if (part === undefined || this.live === undefined || this.target === undefined) return
    try {
      this.live({ stream: this.target === this.stdout ? 'stdout' : 'stderr', data: part })
    } catch {
      // a listener's failure is its own: the capture goes on
    }
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = Buffer.alloc(0)
    while (buf.length > 0) {
      if (this.left > 0) {
        const n = Math.min(this.left, buf.length)
        this.feed(this.target?.push(buf.subarray(0, n)))
        this.left -= n
        buf = buf.subarray(n)
        continue
      }
      if (buf.length < 8) { this.pending = Buffer.from(buf); break }
      const kind = buf[0]
      this.left = buf.readUInt32BE(4)
      this.target = kind === 1 ? this.stdout : kind === 2 ? this.stderr : undefined
      if (kind !== 1 && kind !== 2 && kind !== 0) { cb(new Error(`malformed engine stream (stream id ${kind})`)); return }
      this.frames++
      buf = buf.subarray(8)
    }
    cb()
  }
}

/** Bytes a log entry may take in the engine's `local` log file besides its payload (framing, source, time). */
export const LOG_ENTRY_OVERHEAD = 160
/** The engine splits lines longer than this into several entries. */
const LOG_LINE_SPLIT = 16 * 1024

/**
 * Whether a log read back is provably everything the container wrote. The engine rotates its log file once it
 * exceeds maxSize and keeps (and reads back) one rotated file, so after any rotation what is read back spans
 * at least maxSize of file: a bound on the file bytes read back below maxSize proves nothing was dropped.
 */
export function logProvablyComplete (sink: DemuxSink, maxSize: number): boolean {
  const entriesOf = (b: CappedBuffer): number => b.newlines + Math.ceil(b.total / LOG_LINE_SPLIT) + 1
  const entries = Math.max(sink.frames, entriesOf(sink.stdout) + entriesOf(sink.stderr))
  return sink.stdout.total + sink.stderr.total + entries * LOG_ENTRY_OVERHEAD < maxSize
}
