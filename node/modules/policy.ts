// Which modules a provider serves. A job offer's module reference comes from a stranger; without a policy a provider
// would `git clone` whatever it names — http, ssh or file URLs, a local path, an unknown name sent to a public forge
// — before it knew whether the deal would even go ahead. The policy is checked on the reference's text alone (no
// file system, no network) before the provider reserves a slot or countersigns; by default only the pinned
// built-in modules are served. Git modules are opt-in: allowed hosts and schemes, a full commit pin, and bounds on
// the fetch (time and size) that resolveModule enforces.
import { loadRegistry, BUILTIN_MODULES_DIR, type RegistryEntry } from './refs.ts'

const registries = new Map<string, Record<string, RegistryEntry>>()
function registry (dir = BUILTIN_MODULES_DIR): Record<string, RegistryEntry> {
  let r = registries.get(dir)
  if (r === undefined) { r = loadRegistry(dir); registries.set(dir, r) }
  return r
}

export interface GitModulePolicy {
  /** hosts git modules may come from, e.g. ['github.com'] (exact, case-insensitive) */
  hosts: string[]
  /** URL schemes allowed (default ['https']); 'file', 'ssh', 'http' only when named */
  schemes?: string[]
  /** refuse refs that are not a full 40-hex commit (default true: a tag can move after the job offer was signed) */
  requireCommit?: boolean
  /** the fetch gives up after this long (default 60 s) */
  timeoutMs?: number
  /** …or once the clone is this big (default 100 MiB) */
  maxBytes?: number
}

export interface ModulePolicy {
  /** serve the built-in modules of modules/registry.json (default true) */
  builtins?: boolean
  /** references served exactly as written (a provider's own modules, local paths included) */
  allow?: string[]
  /** git modules beyond `allow`; none when absent */
  git?: GitModulePolicy
  /** where the registry lives (tests) */
  modulesDir?: string
}

export const DEFAULT_GIT_FETCH_TIMEOUT_MS = 60_000
export const DEFAULT_GIT_MAX_BYTES = 100 * 1024 * 1024

/** The provider does not serve this module (MODULE decline). `reason` names the rule. */
export class ModuleNotServedError extends Error {
  static override name = 'ModuleNotServedError'
  override name = ModuleNotServedError.name
  readonly reason: string
  readonly hint: string
  constructor (reason: string, message: string, hint: string) {
    super(`${reason}: ${message}`)
    this.reason = reason
    this.hint = hint
  }
}

export interface ModuleDecision {
  kind: 'builtin' | 'git' | 'allowed'
  /** the most the provider may spend fetching it (seconds): 0 for built-ins, the git timeout for git modules */
  fetchSec: number
}

const NAME_VERSION = /^([a-z0-9][a-z0-9._-]*):([^/#:\s]+)$/i
const SCP_LIKE = /^[\w.-]+@([\w.-]+):/
const COMMIT = /^[0-9a-f]{40}$/

/** Splits `scheme://host/path#ref` (or `…:ref`) without touching anything. */
function parseGitUrl (ref: string): { scheme: string, host: string, pin: string | undefined } | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/[^#]*)?(?:#(.*))?$/i.exec(ref)
  if (m === null) return undefined
  let pin = m[4]
  if (pin === undefined) {
    const colon = (m[3] ?? '').lastIndexOf(':')
    if (colon !== -1) pin = (m[3] ?? '').slice(colon + 1)
  }
  const host = m[2].replace(/^[^@]*@/, '').replace(/:\d+$/, '').toLowerCase()
  return { scheme: m[1].toLowerCase(), host, pin }
}

/**
 * Decides whether the provider serves `ref` (a job offer's module field). Throws ModuleNotServedError; never
 * touches the file system or the network, so a stranger's reference costs nothing to check.
 */
export function checkModule (ref: string, policy: ModulePolicy = {}): ModuleDecision {
  const git = policy.git
  const fetchSec = Math.ceil((git?.timeoutMs ?? DEFAULT_GIT_FETCH_TIMEOUT_MS) / 1000)
  if (policy.allow?.includes(ref) === true) return { kind: 'allowed', fetchSec: ref.includes('://') || SCP_LIKE.test(ref) ? fetchSec : 0 }
  const nv = NAME_VERSION.exec(ref)
  if (nv !== null) {
    if (policy.builtins !== false && registry(policy.modulesDir)[ref] !== undefined) return { kind: 'builtin', fetchSec: 0 }
    throw new ModuleNotServedError('unknown-name', `"${ref}" is not a built-in module here`, 'built-in modules are listed in modules/registry.json; other names would be fetched from a public forge, which this provider does not do unless the name is in its allow-list')
  }
  if (SCP_LIKE.test(ref)) {
    const host = (SCP_LIKE.exec(ref) as RegExpExecArray)[1].toLowerCase()
    if (git === undefined || !(git.schemes ?? ['https']).includes('ssh') || !git.hosts.some(h => h.toLowerCase() === host)) {
      throw new ModuleNotServedError('scheme', `ssh module "${ref}" is not served`, 'allow the ssh scheme and the host in the provider\'s git module policy')
    }
    return requirePin(ref, ref.slice(ref.lastIndexOf('#') + 1), git, fetchSec)
  }
  const url = parseGitUrl(ref) ?? (/^[\w.-]+\.[a-z]{2,}\/[^/]+\/[^/:]+:[^/]+$/i.test(ref) ? parseGitUrl(`https://${ref}`) : undefined)
  if (url !== undefined) {
    if (git === undefined) throw new ModuleNotServedError('git-off', `git module "${ref}" is not served`, 'this provider serves built-in modules only; configure a git module policy (hosts, schemes) to serve git modules')
    if (!(git.schemes ?? ['https']).includes(url.scheme)) throw new ModuleNotServedError('scheme', `${url.scheme} modules are not served`, `allowed schemes: ${(git.schemes ?? ['https']).join(', ')}`)
    if (url.scheme !== 'file' && !git.hosts.some(h => h.toLowerCase() === url.host)) throw new ModuleNotServedError('host', `modules from ${url.host || 'that host'} are not served`, `allowed hosts: ${git.hosts.join(', ') || 'none'}`)
    return requirePin(ref, url.pin, git, fetchSec)
  }
  throw new ModuleNotServedError('local', `"${ref}" is a local path or an unknown form`, 'a provider serves local modules only when they are in its allow-list')
}

function requirePin (ref: string, pin: string | undefined, git: GitModulePolicy, fetchSec: number): ModuleDecision {
  if (git.requireCommit !== false && (pin === undefined || !COMMIT.test(pin))) {
    throw new ModuleNotServedError('unpinned', `"${ref}" is not pinned to a commit`, 'job offers name git modules as <url>#<40-hex commit>; a tag or branch could change after the offer was signed')
  }
  return { kind: 'git', fetchSec }
}

/** The bounds resolveModule applies to git fetches under this policy. */
export function fetchBounds (policy: ModulePolicy = {}): { timeoutMs: number, maxBytes: number } {
  return { timeoutMs: policy.git?.timeoutMs ?? DEFAULT_GIT_FETCH_TIMEOUT_MS, maxBytes: policy.git?.maxBytes ?? DEFAULT_GIT_MAX_BYTES }
}
