// The `status` file of a result directory: how the run ended, beside `exitCode`. It is part of the result's
// CID, so it holds only what a re-run of the same job on a node with the same limits would write again: the
// outcome and the one limit that caused it, never times, hosts or a limit that was not hit. An ordinary run
// (any exit code) is exactly {"status":"ok"}. Results come from strangers, so parsing is strict and bounded.
import { open } from 'node:fs/promises'
import { join } from 'node:path'

export const STATUS_FILE = 'status'

/**
 * ok: the job ran to its own exit. timeout: killed at its deadline. output-limit: killed (or emptied after exit)
 * for outputs over the cap; outputs/ is then empty. killed: ended by a SIGKILL that was neither (exit 137) —
 * the kernel's OOM killer at the memory limit (`limits.ramMb`), or the job's own hand.
 *
 * There is no separate "oom": whether a SIGKILL came from the OOM killer is known only from the engine's OOM
 * record, which the engine can lose (two containers killed at the same moment once left one without it). A
 * status that depended on it would give an honest provider and a mediator's re-run different CIDs, and the
 * provider would lose the challenge. The engine's record is kept outside the CID (ExecutionResult.oomKilled,
 * the provider's log and metrics).
 */
export const RESULT_STATUSES = ['ok', 'timeout', 'output-limit', 'killed'] as const
export type ResultStatusCode = typeof RESULT_STATUSES[number]

export interface ResultStatus {
  status: ResultStatusCode
  /** Present when stdout or stderr was cut at the stream cap (only the true ones are written). */
  truncated?: { stdout?: true, stderr?: true }
  /** The limit that applied: timeoutSec for timeout, ramMb for killed, outputBytes for output-limit, streamBytes when truncated. */
  limits?: { timeoutSec?: number, ramMb?: number, outputBytes?: number, streamBytes?: number }
}

export class ResultStatusError extends Error {
  static override name = 'ResultStatusError'
  override name = 'ResultStatusError'
  readonly hint = 'the result\'s status file is malformed: the provider that made it does not follow the result format'
}

const LIMIT_KEYS = ['timeoutSec', 'ramMb', 'outputBytes', 'streamBytes'] as const
const MAX_STATUS_BYTES = 1024

/** The canonical bytes: fixed key order, only what is set, one line. */
export function encodeResultStatus (s: ResultStatus): string {
  const out: Record<string, unknown> = { status: s.status }
  if (s.truncated?.stdout === true || s.truncated?.stderr === true) {
    out.truncated = { ...(s.truncated.stdout === true ? { stdout: true } : {}), ...(s.truncated.stderr === true ? { stderr: true } : {}) }
  }
  const limits: Record<string, number> = {}
  for (const k of LIMIT_KEYS) if (s.limits?.[k] !== undefined) limits[k] = s.limits[k]
  if (Object.keys(limits).length > 0) out.limits = limits
  return JSON.stringify(out) + '\n'
}

/** Strict parse of a status file's text; anything else is a ResultStatusError. */
export function parseResultStatus (text: string): ResultStatus {
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new ResultStatusError('status is not JSON') }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ResultStatusError('status is not an object')
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) if (!['status', 'truncated', 'limits'].includes(k)) throw new ResultStatusError(`unknown field ${JSON.stringify(k).slice(0, 40)}`)
  if (!RESULT_STATUSES.includes(o.status as ResultStatusCode)) throw new ResultStatusError(`unknown status ${JSON.stringify(o.status)?.slice(0, 40)}`)
  const s: ResultStatus = { status: o.status as ResultStatusCode }
  if (o.truncated !== undefined) {
    const t = o.truncated as Record<string, unknown>
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new ResultStatusError('truncated is not an object')
    for (const [k, x] of Object.entries(t)) if (!['stdout', 'stderr'].includes(k) || x !== true) throw new ResultStatusError('truncated holds only stdout/stderr: true')
    s.truncated = t as ResultStatus['truncated']
  }
  if (o.limits !== undefined) {
    const l = o.limits as Record<string, unknown>
    if (typeof l !== 'object' || l === null || Array.isArray(l)) throw new ResultStatusError('limits is not an object')
    for (const [k, x] of Object.entries(l)) {
      if (!(LIMIT_KEYS as readonly string[]).includes(k) || !Number.isSafeInteger(x) || (x as number) < 0) throw new ResultStatusError(`bad limit ${JSON.stringify(k).slice(0, 40)}`)
    }
    s.limits = l as ResultStatus['limits']
  }
  return s
}

/** The status of a result directory; undefined when it has none (made by an older provider). */
export async function readResultStatus (resultDir: string): Promise<ResultStatus | undefined> {
  let fh
  try { fh = await open(join(resultDir, STATUS_FILE), 'r') } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined
    throw e
  }
  try {
    const buf = Buffer.alloc(MAX_STATUS_BYTES + 1)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    if (bytesRead > MAX_STATUS_BYTES) throw new ResultStatusError(`status is over ${MAX_STATUS_BYTES} bytes`)
    return parseResultStatus(buf.subarray(0, bytesRead).toString('utf8'))
  } finally { await fh.close() }
}

function bytesText (n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`
  return `${n} bytes`
}

/** One line per fact for people; empty for an ordinary run. */
export function describeResultStatus (s: ResultStatus): string[] {
  const lines: string[] = []
  const l = s.limits ?? {}
  if (s.status === 'timeout') lines.push(`the job was stopped at its time limit${l.timeoutSec !== undefined ? ` (${l.timeoutSec} s)` : ''}`)
  if (s.status === 'output-limit') lines.push(`the job's outputs went over the ${l.outputBytes !== undefined ? bytesText(l.outputBytes) + ' ' : ''}cap: they were dropped (outputs/ is empty)`)
  if (s.status === 'killed') {
    lines.push(`the job was killed (SIGKILL) before it exited${l.ramMb !== undefined ? `: most likely it ran out of memory (limit ${l.ramMb} MB)` : ''}`)
  }
  const cut = [s.truncated?.stdout === true ? 'stdout' : '', s.truncated?.stderr === true ? 'stderr' : ''].filter(Boolean)
  if (cut.length > 0) lines.push(`${cut.join(' and ')} ${cut.length > 1 ? 'were' : 'was'} cut at ${l.streamBytes !== undefined ? bytesText(l.streamBytes) : 'the stream cap'}`)
  return lines
}
