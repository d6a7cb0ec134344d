// What a bridge agrees to run for a contract: a pure check of a JobRequested event against the bridge's policy,
// before it picks the job up or spends anything on it. A contract is a stranger: its module string and inputs
// are hostile until checked. The bridge runs only modules on its allow-list (exact strings), never a local path
// or file:// reference (that would read the bridge machine's disk), and git modules only pinned to a commit.
import { parseRequestInputs, RequestInputsError } from './inputs.ts'

export type ModuleRefKind = 'registry' | 'git' | 'path'

/** The most a failJob reason may hold (JobManager.MAX_REASON_BYTES). */
export const MAX_REASON_BYTES = 256

const REGISTRY_REF = /^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9._-]+$/
const GIT_SCHEME = /^(https?|ssh|git):\/\//
const PINNED = /[#:][0-9a-f]{40}$/

export function moduleRefKind (module: string): ModuleRefKind {
  if (REGISTRY_REF.test(module)) return 'registry'
  if (GIT_SCHEME.test(module) || module.startsWith('git@')) return 'git'
  // host/owner/repo:ref (github.com/owner/repo:v1): a host name first, never a path
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)+\/[^/]+\/[^/]+/i.test(module) && !module.includes('..')) return 'git'
  return 'path'
}

/** The registry names a bridge allows by default: versioned ones (a mutable tag such as `latest` is not pinned). */
export function defaultAllowedModules (registryNames: string[]): string[] {
  return registryNames.filter(n => REGISTRY_REF.test(n) && !n.endsWith(':latest')).sort()
}

export interface ModuleVerdict { ok: boolean, reason?: string }

export function checkModule (module: string, allowed: readonly string[]): ModuleVerdict {
  const kind = moduleRefKind(module)
  if (kind === 'path') return { ok: false, reason: `module ${clip(module, 80)} is a local path or file reference; a bridge never runs those for a contract` }
  if (kind === 'git' && !PINNED.test(module)) return { ok: false, reason: `git module ${clip(module, 80)} is not pinned to a commit` }
  if (!allowed.includes(module)) return { ok: false, reason: `module ${clip(module, 80)} is not on this bridge's allow-list (${clip(allowed.join(', '), 100)})` }
  return { ok: true }
}

export interface ContractJobRequest {
  jobId: bigint
  module: string
  /** the event's raw inputs (bytes) or its string */
  inputs: Uint8Array | string
  /** unix seconds */
  deadline: number
}

export interface BridgePolicy {
  allowed: readonly string[]
  /** seconds the bridge needs at least before the job's deadline to run it (default 30) */
  minSecondsLeft?: number
}

export type Vetting =
  | { action: 'run', inputs: Record<string, string> }
  | { action: 'fail', reason: string }

/**
 * Whether to run a requested job, or fail it at once with a reason the client can read. A job whose deadline
 * passed, or is too close to be met, is failed (failJob is allowed after the deadline) rather than left for
 * the client to discover.
 */
export function vetRequest (req: ContractJobRequest, policy: BridgePolicy, now: number): Vetting {
  if (now > req.deadline) return { action: 'fail', reason: 'expired: the deadline passed before the bridge could run it' }
  const left = req.deadline - now
  if (left < (policy.minSecondsLeft ?? 30)) return { action: 'fail', reason: `expired: only ${left} s were left before the deadline` }
  const m = checkModule(req.module, policy.allowed)
  if (!m.ok) return { action: 'fail', reason: m.reason! }
  try {
    return { action: 'run', inputs: parseRequestInputs(req.inputs) }
  } catch (err) {
    if (err instanceof RequestInputsError) return { action: 'fail', reason: clip(`inputs refused: ${err.message}`, MAX_REASON_BYTES) }
    throw err
  }
}

/**
 * The inputs a module's template takes (`known`) and those it uses without an `if`/`with` guard (`required`)
 * against what a request provides: a reason naming each unknown or missing input, or null. An input the
 * template never reads is almost always a misspelt key, which would otherwise silently fall back to a default.
 */
export function checkTemplateInputs (module: string, template: { known: readonly string[], required: readonly string[] }, provided: Record<string, string>): string | null {
  const unknown = Object.keys(provided).filter(k => !template.known.includes(k))
  const missing = template.required.filter(k => !(k in provided) || provided[k] === '')
  if (unknown.length === 0 && missing.length === 0) return null
  const takes = template.known.length > 0 ? template.known.join(', ') : 'no inputs'
  const parts: string[] = []
  if (unknown.length > 0) parts.push(`${module} has no input ${unknown.join(', ')} (it takes: ${takes})`)
  if (missing.length > 0) parts.push(`${module} needs input ${missing.join(', ')}`)
  return clip(parts.join('; '), MAX_REASON_BYTES)
}

/** Cuts `s` to at most `max` UTF-8 bytes, ending with "..." when cut (never splitting a character). */
export function clip (s: string, max: number): string {
  const enc = new TextEncoder()
  if (enc.encode(s).length <= max) return s
  let out = ''
  for (const ch of s) {
    if (enc.encode(out + ch).length > max - 3) break
    out += ch
  }
  return out + '...'
}

/** The inline output a completion carries: the first bytes of stdout, at most JobManager.MAX_OUTPUT_BYTES. */
export const MAX_OUTPUT_BYTES = 1024
export function inlineOutput (stdout: Uint8Array): Uint8Array {
  return stdout.subarray(0, MAX_OUTPUT_BYTES)
}
