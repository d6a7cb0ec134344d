// Module references → a directory holding lilypad_module.json.tmpl, pinned where it comes from git.
//
//   cowsay:v0.0.1                     registry shortcut (modules/registry.json), else Lilypad's convention
//                                     github.com/Lilypad-Tech/lilypad-module-<name> at that tag
//   github.com/owner/repo:ref         https://github.com/owner/repo at ref (tag, branch or commit)
//   https://host/repo.git#ref         any git URL (https, ssh, file); "#ref" or a trailing ":ref"
//   file:///srv/modules/foo#v1        a local git repository (what the tests use)
//   /path/to/repo:ref                 a local git repository by path, at ref
//   ./my-module  or  /abs/dir         a module author's directory (no git pinning)
//   ./lilypad_module.json.tmpl        a template file
//
// A git ref is resolved to a commit and the tree of that commit is exported to
// <cacheDir>/<repo key>/<commit>/, so a tag that moves later never changes what a pinned commit renders.
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const TEMPLATE_FILE = 'lilypad_module.json.tmpl'
export const LILYPAD_MODULE_PREFIX = 'https://github.com/Lilypad-Tech/lilypad-module-'
export const DEFAULT_MODULE_CACHE = '/tmp/lilypad/data/repos'
export const BUILTIN_MODULES_DIR = fileURLToPath(new URL('../../modules/', import.meta.url))

export class ModuleRefError extends Error {
  static override name = 'ModuleRefError'
  override name = 'ModuleRefError'
}
export class ModuleNotFoundError extends Error {
  static override name = 'ModuleNotFoundError'
  override name = 'ModuleNotFoundError'
}
export class ModuleTemplateMissingError extends Error {
  static override name = 'ModuleTemplateMissingError'
  override name = 'ModuleTemplateMissingError'
}
/** A git fetch ran past its time or size bound and was aborted (its partial clone removed). */
export class ModuleFetchLimitError extends Error {
  static override name = 'ModuleFetchLimitError'
  override name = 'ModuleFetchLimitError'
}
export class ModulePinMismatchError extends Error {
  static override name = 'ModulePinMismatchError'
  override name = 'ModulePinMismatchError'
}

export type ModuleSource =
  | { kind: 'builtin', name: string, version: string, dir: string, image?: string }
  | { kind: 'git', url: string, ref: string }
  | { kind: 'dir', dir: string }
  | { kind: 'file', path: string }

export interface ResolvedModule {
  /** The reference as given. */
  ref: string
  kind: ModuleSource['kind']
  /** Git: the repository URL. */
  repo?: string
  /** Git: the full commit the ref resolved to. */
  commit?: string
  /** A reference that always names exactly this module content (git: url#commit). */
  pinned: string
  dir: string
  templatePath: string
  /** Builtin: the image tag the module's template names (built locally, run by digest). */
  image?: string
}

export interface RegistryEntry { dir: string, image?: string, description?: string }

export function loadRegistry (modulesDir = BUILTIN_MODULES_DIR): Record<string, RegistryEntry> {
  return JSON.parse(readFileSync(join(modulesDir, 'registry.json'), 'utf8')) as Record<string, RegistryEntry>
}

const COMMIT_RE = /^[0-9a-f]{40}$/

function splitRef (s: string): [string, string | undefined] {
  const hash = s.lastIndexOf('#')
  if (hash !== -1) return [s.slice(0, hash), s.slice(hash + 1)]
  const colon = s.lastIndexOf(':')
  // "https://host:8080/x" has a colon whose suffix holds a "/": that is a port or scheme, not a ref.
  if (colon > 0 && !s.slice(colon + 1).includes('/') && !s.slice(colon + 1).startsWith('//')) return [s.slice(0, colon), s.slice(colon + 1)]
  return [s, undefined]
}

/** Classifies a reference without touching the network or git. */
export function parseModuleRef (ref: string, opts: { modulesDir?: string, cwd?: string } = {}): ModuleSource {
  const s = ref.trim()
  if (s === '') throw new ModuleRefError('empty module reference')
  const cwd = opts.cwd ?? process.cwd()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[\w.-]+@[\w.-]+:/.test(s)) {
    const [url, r] = splitRef(s)
    if (r === undefined || r === '') throw new ModuleRefError(`git module "${s}" names no ref: add "#<tag|branch|commit>"`)
    return { kind: 'git', url, ref: r }
  }
  const pathLike = s.startsWith('/') || s.startsWith('./') || s.startsWith('../') || s === '.' || s.startsWith('~')
  if (pathLike || existsSync(resolve(cwd, s))) {
    const full = resolve(cwd, s)
    if (existsSync(full)) {
      const st = statSync(full)
      if (st.isFile()) return { kind: 'file', path: full }
      return { kind: 'dir', dir: full }
    }
    const [p, r] = splitRef(s)
    const fp = resolve(cwd, p)
    if (r !== undefined && existsSync(join(fp, '.git'))) return { kind: 'git', url: fp, ref: r }
    if (r !== undefined && existsSync(join(fp, 'HEAD')) && existsSync(join(fp, 'objects'))) return { kind: 'git', url: fp, ref: r }
    throw new ModuleNotFoundError(`no module at ${full}`)
  }
  const [name, r] = splitRef(s)
  if (r === undefined || r === '') throw new ModuleRefError(`module "${s}" names no version; use name:version or host/owner/repo:ref`)
  if (!name.includes('/')) {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new ModuleRefError(`bad module name "${name}"`)
    const registry = loadRegistry(opts.modulesDir)
    const entry = registry[`${name}:${r}`]
    if (entry !== undefined) {
      return { kind: 'builtin', name, version: r, dir: resolve(opts.modulesDir ?? BUILTIN_MODULES_DIR, entry.dir), image: entry.image }
    }
    return { kind: 'git', url: `${LILYPAD_MODULE_PREFIX}${name}`, ref: r }
  }
  const parts = name.split('/')
  if (parts.length < 3 || parts.some(p => p === '' || p === '..' || p === '.')) {
    throw new ModuleRefError(`bad git module "${s}": expected host/owner/repo:ref`)
  }
  return { kind: 'git', url: `https://${name}`, ref: r }
}

/**
 * Runs git in its own process group. An abort kills the whole group (git's helpers too: upload-pack, index-pack,
 * remote-https), and the promise settles only once every process holding git's output has exited, so nothing writes
 * into the target directory after the caller removes it.
 */
async function git (args: string[], opts: { cwd?: string, signal?: AbortSignal } = {}): Promise<string> {
  return await new Promise((resolvePromise, reject) => {
    if (opts.signal?.aborted === true) { reject(new Error(`git ${args[0]}: aborted before it started`)); return }
    const child = spawn('git', args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outBytes = 0
    let why: string | undefined
    const killGroup = (reason: string): void => {
      why ??= reason
      try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') } catch { /* the group has exited already */ }
    }
    const onAbort = (): void => { killGroup('aborted') }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length
      if (outBytes > GIT_MAX_OUTPUT) killGroup(`printed more than ${GIT_MAX_OUTPUT} bytes`)
      else out.push(b)
    })
    child.stderr.on('data', (b: Buffer) => { if (err.length < 64) err.push(b) })
    child.on('error', e => { why ??= e.message })
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort)
      const stderr = Buffer.concat(err).toString('utf8').trim()
      if (why === undefined && code === 0) resolvePromise(Buffer.concat(out).toString('utf8'))
      else reject(new Error(`git ${args[0]}: ${stderr !== '' ? stderr : why ?? `exited with ${code ?? sig}`}`))
    })
  })
}

/** git's printed output kept at most (rev-parse prints one line; a clone or fetch with --quiet nothing) */
const GIT_MAX_OUTPUT = 64 * 1024 * 1024

function repoKey (url: string): string {
  const tail = url.replace(/\.git$/, '').split(/[/:]/).filter(Boolean).slice(-2).join('-').replace(/[^\w.-]/g, '_')
  return `${tail}-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`
}

export interface ResolveOptions {
  /** Where git modules are cloned (default /tmp/lilypad/data/repos). */
  cacheDir?: string
  modulesDir?: string
  cwd?: string
  /** Refuse unless the ref resolves to this commit (a job offer's pinned commit). */
  expectCommit?: string
  signal?: AbortSignal
  /** a clone or fetch is aborted after this long (default 60 s) */
  fetchTimeoutMs?: number
  /** …or once the repository on disk is this big (default 100 MiB) */
  maxFetchBytes?: number
}

const DEFAULT_FETCH_TIMEOUT_MS = 60_000
const DEFAULT_MAX_FETCH_BYTES = 100 * 1024 * 1024

async function sizeOf (dir: string): Promise<number> {
  let total = 0
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return 0 } // not created yet, or removed meanwhile
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await sizeOf(p)
    else total += await stat(p).then(s => s.size, () => 0)
  }
  return total
}

/**
 * Runs a git command that writes into `dir`, bounded in time and in the size of `dir` (git has no size limit of
 * its own): past either bound the process is killed and ModuleFetchLimitError thrown.
 */
async function boundedGit (args: string[], dir: string, opts: ResolveOptions & { cwd?: string }): Promise<string> {
  const timeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
  const maxBytes = opts.maxFetchBytes ?? DEFAULT_MAX_FETCH_BYTES
  const limit = new AbortController()
  let why = ''
  const timer = setTimeout(() => { why = `took longer than ${timeoutMs} ms`; limit.abort() }, timeoutMs)
  const watch = setInterval(() => {
    void sizeOf(dir).then(n => { if (n > maxBytes && !limit.signal.aborted) { why = `grew past ${maxBytes} bytes`; limit.abort() } })
  }, 200)
  try {
    const out = await git(args, { cwd: opts.cwd, signal: AbortSignal.any([limit.signal, ...(opts.signal !== undefined ? [opts.signal] : [])]) })
    // a fetch faster than the watch's first look is measured once more at the end
    if (await sizeOf(dir) > maxBytes) { why = `grew past ${maxBytes} bytes`; limit.abort() }
    if (limit.signal.aborted) throw new Error(why)
    return out
  } catch (e) {
    if (limit.signal.aborted) throw new ModuleFetchLimitError(`git ${args[0]} ${why}`, { cause: e })
    throw e
  } finally {
    clearTimeout(timer)
    clearInterval(watch)
  }
}

async function resolveGit (ref: string, url: string, r: string, opts: ResolveOptions): Promise<ResolvedModule> {
  const cache = opts.cacheDir ?? DEFAULT_MODULE_CACHE
  const base = join(cache, repoKey(url))
  const bare = join(base, 'repo.git')
  if (!existsSync(join(bare, 'HEAD'))) {
    await mkdir(base, { recursive: true })
    const tmp = `${bare}.tmp-${process.pid}-${Date.now()}`
    try {
      await boundedGit(['clone', '--quiet', '--bare', '--', url, tmp], tmp, opts)
      await rename(tmp, bare)
    } catch (e) {
      await rm(tmp, { recursive: true, force: true })
      if (e instanceof ModuleFetchLimitError) throw e
      if (existsSync(join(bare, 'HEAD'))) { /* a concurrent resolve won */ } else {
        throw new ModuleNotFoundError(`cannot clone module repository ${url}: ${(e as Error).message}`, { cause: e })
      }
    }
  }
  const revParse = async (): Promise<string | undefined> => {
    try { return (await git(['rev-parse', '--verify', '--quiet', `${r}^{commit}`], { cwd: bare })).trim() } catch { return undefined }
  }
  let commit: string | undefined
  // A full commit already in the cache needs no fetch (works offline); tags and branches are refreshed.
  if (COMMIT_RE.test(r)) commit = await revParse()
  if (commit === undefined) {
    try {
      await boundedGit(['fetch', '--quiet', '--force', '--tags', 'origin', '+refs/heads/*:refs/heads/*'], bare, { ...opts, cwd: bare })
    } catch (e) {
      if (opts.signal?.aborted === true || e instanceof ModuleFetchLimitError) throw e
      // Offline: fall back to what the cache has.
    }
    commit = await revParse()
  }
  if (commit === undefined) throw new ModuleNotFoundError(`ref "${r}" not found in ${url}`)
  if (opts.expectCommit !== undefined && opts.expectCommit !== commit) {
    throw new ModulePinMismatchError(`${url} ${r} resolves to ${commit}, not the pinned ${opts.expectCommit}`)
  }
  const dir = join(base, commit)
  if (!existsSync(dir)) {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`
    await mkdir(tmp, { recursive: true })
    try {
      await new Promise<void>((resolvePromise, reject) => {
        execFile('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', bare, commit, tmp], (err, _o, stderr) => {
          if (err !== null) reject(new Error(`exporting ${commit}: ${stderr || err.message}`)); else resolvePromise()
        })
      })
      await rename(tmp, dir)
    } catch (e) {
      await rm(tmp, { recursive: true, force: true })
      if (!existsSync(dir)) throw e
    }
  }
  const templatePath = join(dir, TEMPLATE_FILE)
  if (!existsSync(templatePath)) throw new ModuleTemplateMissingError(`${url} at ${commit} has no ${TEMPLATE_FILE} at its root`)
  return { ref, kind: 'git', repo: url, commit, pinned: `${url}#${commit}`, dir, templatePath }
}

/** Resolves a module reference to a local directory and template (cloning and pinning git modules). */
export async function resolveModule (ref: string, opts: ResolveOptions = {}): Promise<ResolvedModule> {
  const src = parseModuleRef(ref, opts)
  switch (src.kind) {
    case 'git': return await resolveGit(ref, src.url, src.ref, opts)
    case 'builtin': {
      const templatePath = join(src.dir, TEMPLATE_FILE)
      if (!existsSync(templatePath)) throw new ModuleTemplateMissingError(`built-in module ${src.name}:${src.version} has no ${TEMPLATE_FILE}`)
      return { ref, kind: 'builtin', pinned: `${src.name}:${src.version}`, dir: src.dir, templatePath, image: src.image }
    }
    case 'dir': {
      const templatePath = join(src.dir, TEMPLATE_FILE)
      if (!existsSync(templatePath)) throw new ModuleTemplateMissingError(`${src.dir} has no ${TEMPLATE_FILE}`)
      return { ref, kind: 'dir', pinned: src.dir, dir: src.dir, templatePath }
    }
    case 'file': return { ref, kind: 'file', pinned: src.path, dir: dirname(src.path), templatePath: src.path }
  }
}
