// The rendered module JSON (Lilypad's { machine, inputFiles?, job }) parsed strictly into one typed JobSpec.
// The job may be in Bacalhau's V1beta1 form ({ APIVersion, Spec: { Engine, Docker, … } }) or the v1 form
// ({ Job: { Type, Count, Tasks: [{ Engine: { Type: 'docker', Params }, … }] } }). Unknown fields are ignored
// (public modules carry PublisherSpec, Verifier, Annotations, …), but every field we use is type-checked and
// a bad one is named in a ModuleSpecError.
import { parseLenientJson, type LenientJsonError } from './lenient-json.ts'

export type NetworkMode = 'none' | 'full' | 'http'

export interface Resources {
  cpu: number // millicores
  ramMb: number
  diskMb: number
  /** GPUs needed (at least); with allGpus, the job gets every GPU of the machine (or slot) it runs on. */
  gpus: number
  /** VRAM each GPU must have, MiB. */
  gpuVramMb: number
  /** GPU model the job needs ('' = any), matched by name tokens: "H100" matches "NVIDIA H100 80GB HBM3". */
  gpuModel: string
  /** Lowest CUDA version the driver must support, as NVML encodes it (12.4 → 12040; 0 = any). */
  cudaVersion: number
  /** Bacalhau's Resources.GPU "all". */
  allGpus: boolean
}

export interface OutputSpec { name: string, path: string }

/** An input the job spec asks to have mounted read-only at `path` (Bacalhau's Inputs); node/inputs fetches it. */
export interface InputSource {
  /** StorageSource as written: 'ipfs', 'urldownload', 's3', … (lower-cased). */
  source: string
  name?: string
  cid?: string
  url?: string
  /** Expected digest of a URL's body, "sha256:<hex>". */
  checksum?: string
  path: string
}

export interface JobSpec {
  image: string
  entrypoint: string[]
  args: string[]
  env: Record<string, string>
  workingDir: string
  resources: Resources
  network: NetworkMode
  /** Domains an HTTP-network module says it needs (informational: the sandbox grants full or none). */
  domains: string[]
  timeoutSec: number
  outputs: OutputSpec[]
  inputFiles: string[]
  inputSources: InputSource[]
}

export class ModuleSpecError extends Error {
  static override name = 'ModuleSpecError'
  override name = 'ModuleSpecError'
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export const DEFAULT_TIMEOUT_SEC = 1800
export const DEFAULT_RESOURCES: Resources = { cpu: 1000, ramMb: 512, diskMb: 1024, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, allGpus: false }
export const DEFAULT_OUTPUTS: OutputSpec[] = [{ name: 'outputs', path: '/outputs' }]

type Obj = Record<string, unknown>

function isObj (v: unknown): v is Obj { return typeof v === 'object' && v !== null && !Array.isArray(v) }
function typeName (v: unknown): string { return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v }

function obj (v: unknown, field: string): Obj {
  if (!isObj(v)) throw new ModuleSpecError(field, `expected an object, got ${typeName(v)}`)
  return v
}
function optObj (v: unknown, field: string): Obj | undefined { return v === undefined || v === null ? undefined : obj(v, field) }
function str (v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ModuleSpecError(field, `expected a string, got ${typeName(v)}`)
  return v
}
function optStr (v: unknown, field: string): string | undefined { return v === undefined || v === null ? undefined : str(v, field) }
function strList (v: unknown, field: string): string[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new ModuleSpecError(field, `expected an array of strings, got ${typeName(v)}`)
  return v.map((x, i) => str(x, `${field}[${i}]`))
}
function nonNegInt (v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) return Number(v.trim())
  throw new ModuleSpecError(field, `expected a non-negative integer, got ${JSON.stringify(v)}`)
}

/** "1", "0.5", "500m" → millicores. */
export function parseCpu (v: unknown, field: string): number {
  if (typeof v === 'number' && v >= 0) return Math.round(v * 1000)
  if (typeof v === 'string') {
    const s = v.trim()
    if (/^\d+m$/.test(s)) return Number(s.slice(0, -1))
    if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  }
  throw new ModuleSpecError(field, `expected CPU as cores ("1", "0.5") or millicores ("500m"), got ${JSON.stringify(v)}`)
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4
}

/** "512Mi", "1gb", "100mb", 1073741824 (bytes) → megabytes (10^6), rounded up. */
export function parseBytesToMb (v: unknown, field: string): number {
  if (typeof v === 'number' && v >= 0) return Math.ceil(v / 1e6)
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v)
    const unit = m?.[2].toLowerCase()
    if (m !== null && unit !== undefined && unit in UNITS) return Math.ceil(Number(m[1]) * UNITS[unit] / 1e6)
  }
  throw new ModuleSpecError(field, `expected a size like "512Mi" or "1gb", got ${JSON.stringify(v)}`)
}

function parseEnv (v: unknown, field: string): Record<string, string> {
  const env: Record<string, string> = {}
  if (v === undefined || v === null) return env
  if (Array.isArray(v)) {
    v.forEach((e, i) => {
      const s = str(e, `${field}[${i}]`)
      const eq = s.indexOf('=')
      if (eq <= 0) throw new ModuleSpecError(`${field}[${i}]`, `expected "NAME=value", got ${JSON.stringify(s)}`)
      env[s.slice(0, eq)] = s.slice(eq + 1)
    })
    return env
  }
  for (const [k, x] of Object.entries(obj(v, field))) env[k] = str(x, `${field}.${k}`)
  return env
}

function parseNetwork (v: unknown, field: string): { network: NetworkMode, domains: string[] } {
  const n = optObj(v, field)
  if (n === undefined) return { network: 'none', domains: [] }
  const t = (optStr(n.Type, `${field}.Type`) ?? 'None').toLowerCase()
  const domains = strList(n.Domains, `${field}.Domains`)
  if (t === 'none' || t === '') return { network: 'none', domains }
  if (t === 'full' || t === 'host' || t === 'bridge') return { network: 'full', domains }
  if (t === 'http') return { network: 'http', domains }
  throw new ModuleSpecError(`${field}.Type`, `unknown network type ${JSON.stringify(n.Type)} (None, HTTP, Full, Host, Bridge)`)
}

function parseOutputs (v: unknown, field: string): OutputSpec[] {
  if (v === undefined || v === null) return DEFAULT_OUTPUTS.map(o => ({ ...o }))
  if (!Array.isArray(v)) throw new ModuleSpecError(field, `expected an array, got ${typeName(v)}`)
  return v.map((o, i) => {
    const f = `${field}[${i}]`
    const x = obj(o, f)
    const path = str(x.Path ?? x.path, `${f}.Path`)
    if (!path.startsWith('/')) throw new ModuleSpecError(`${f}.Path`, `must be absolute, got ${JSON.stringify(path)}`)
    return { name: str(x.Name ?? x.name, `${f}.Name`), path }
  })
}

function parseTimeout (v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'number' && v > 0) return Math.ceil(v)
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v)
  if (typeof v === 'number' && v === 0) return undefined
  throw new ModuleSpecError(field, `expected seconds, got ${JSON.stringify(v)}`)
}

interface JobParts {
  image: string, entrypoint: string[], args: string[], env: Record<string, string>, workingDir: string,
  resources: Partial<Resources>, network: NetworkMode, domains: string[], timeoutSec?: number, outputs: OutputSpec[],
  inputSources: InputSource[], imageField: string
}

function parseInputSources (v: unknown, field: string): InputSource[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new ModuleSpecError(field, `expected an array, got ${typeName(v)}`)
  return v.map((o, i) => {
    const f = `${field}[${i}]`
    const x = obj(o, f)
    const path = str(x.Path ?? x.path ?? x.Target ?? x.target, `${f}.Path`)
    if (!path.startsWith('/')) throw new ModuleSpecError(`${f}.Path`, `must be absolute, got ${JSON.stringify(path)}`)
    // Bacalhau v1: { Source: { Type, Params: { CID | URL, Checksum } }, Target, Alias }; V1beta1 puts them flat.
    const source = optObj(x.Source, `${f}.Source`)
    const params = source !== undefined ? (optObj(source.Params, `${f}.Source.Params`) ?? {}) : x
    const pf = source !== undefined ? `${f}.Source.Params` : f
    const cid = optStr(params.CID ?? params.cid, `${pf}.CID`)
    const url = optStr(params.URL ?? params.url, `${pf}.URL`)
    const checksum = optStr(params.Checksum ?? params.checksum, `${pf}.Checksum`)
    const declared = source !== undefined
      ? optStr(source.Type, `${f}.Source.Type`)
      : optStr(x.StorageSource ?? x.storageSource, `${f}.StorageSource`)
    const src = declared ?? (cid !== undefined ? 'IPFS' : url !== undefined ? 'urlDownload' : 'unknown')
    const out: InputSource = { source: src.toLowerCase(), path }
    const name = optStr(x.Name ?? x.name ?? x.Alias ?? x.alias, `${f}.Name`); if (name !== undefined) out.name = name
    if (cid !== undefined) out.cid = cid
    if (url !== undefined) out.url = url
    if (checksum !== undefined) out.checksum = checksum
    return out
  })
}

function parseJobResources (r: Obj | undefined, field: string): Partial<Resources> {
  if (r === undefined) return {}
  const out: Partial<Resources> = {}
  if (r.CPU !== undefined && r.CPU !== '') out.cpu = parseCpu(r.CPU, `${field}.CPU`)
  if (r.Memory !== undefined && r.Memory !== '') out.ramMb = parseBytesToMb(r.Memory, `${field}.Memory`)
  if (r.Disk !== undefined && r.Disk !== '') out.diskMb = parseBytesToMb(r.Disk, `${field}.Disk`)
  if (r.GPU !== undefined && r.GPU !== '') {
    // "all" (a public Ollama module uses it): every GPU of the machine, so at least one.
    if (typeof r.GPU === 'string' && r.GPU.trim().toLowerCase() === 'all') out.allGpus = true
    else out.gpus = nonNegInt(r.GPU, `${field}.GPU`)
  }
  return out
}

function parseV1beta1 (job: Obj): JobParts {
  const spec = obj(job.Spec, 'job.Spec')
  // Two spellings exist in public modules: Spec.Docker { Image, … } with Engine "Docker", and the later
  // Spec.EngineSpec { Type: "docker", Params: { Image, … } } (often next to an empty "Docker": {}).
  const engineSpec = optObj(spec.EngineSpec, 'job.Spec.EngineSpec')
  const docker = optObj(spec.Docker, 'job.Spec.Docker')
  let d: Obj
  let base: string
  if (engineSpec !== undefined && (docker === undefined || docker.Image === undefined)) {
    const type = str(engineSpec.Type ?? 'docker', 'job.Spec.EngineSpec.Type')
    if (type.toLowerCase() !== 'docker') throw new ModuleSpecError('job.Spec.EngineSpec.Type', `only the docker engine is supported, got ${JSON.stringify(type)}`)
    d = obj(engineSpec.Params, 'job.Spec.EngineSpec.Params')
    base = 'job.Spec.EngineSpec.Params'
  } else {
    const engine = str(spec.Engine ?? 'Docker', 'job.Spec.Engine')
    if (engine.toLowerCase() !== 'docker') throw new ModuleSpecError('job.Spec.Engine', `only the Docker engine is supported, got ${JSON.stringify(engine)}`)
    d = obj(spec.Docker, 'job.Spec.Docker')
    base = 'job.Spec.Docker'
  }
  const outputsKey = spec.Outputs !== undefined ? 'Outputs' : spec.outputs !== undefined ? 'outputs' : 'output'
  const inputsKey = spec.Inputs !== undefined ? 'Inputs' : 'inputs'
  return {
    image: str(d.Image, `${base}.Image`),
    imageField: `${base}.Image`,
    entrypoint: strList(d.Entrypoint, `${base}.Entrypoint`),
    args: strList(d.Parameters, `${base}.Parameters`),
    env: parseEnv(d.EnvironmentVariables, `${base}.EnvironmentVariables`),
    workingDir: optStr(d.WorkingDirectory, `${base}.WorkingDirectory`) ?? '',
    resources: parseJobResources(optObj(spec.Resources, 'job.Spec.Resources'), 'job.Spec.Resources'),
    ...parseNetwork(spec.Network, 'job.Spec.Network'),
    timeoutSec: parseTimeout(spec.Timeout, 'job.Spec.Timeout'),
    outputs: parseOutputs(spec[outputsKey], `job.Spec.${outputsKey}`),
    inputSources: parseInputSources(spec[inputsKey], `job.Spec.${inputsKey}`)
  }
}

function parseV1 (outer: Obj): JobParts {
  const job = obj(outer.Job, 'job.Job')
  if (job.Type !== undefined && !['batch', 'ops'].includes(String(job.Type).toLowerCase())) {
    throw new ModuleSpecError('job.Job.Type', `only batch jobs run here, got ${JSON.stringify(job.Type)}`)
  }
  if (job.Count !== undefined && job.Count !== 1) throw new ModuleSpecError('job.Job.Count', `expected 1, got ${JSON.stringify(job.Count)}`)
  if (!Array.isArray(job.Tasks) || job.Tasks.length !== 1) throw new ModuleSpecError('job.Job.Tasks', 'expected exactly one task')
  const f = 'job.Job.Tasks[0]'
  const task = obj(job.Tasks[0], f)
  const engine = obj(task.Engine, `${f}.Engine`)
  const type = str(engine.Type, `${f}.Engine.Type`)
  if (type.toLowerCase() !== 'docker') throw new ModuleSpecError(`${f}.Engine.Type`, `only the docker engine is supported, got ${JSON.stringify(type)}`)
  const p = obj(engine.Params, `${f}.Engine.Params`)
  const timeouts = optObj(task.Timeouts, `${f}.Timeouts`)
  return {
    image: str(p.Image, `${f}.Engine.Params.Image`),
    imageField: `${f}.Engine.Params.Image`,
    inputSources: parseInputSources(task.InputSources, `${f}.InputSources`),
    entrypoint: strList(p.Entrypoint, `${f}.Engine.Params.Entrypoint`),
    args: strList(p.Parameters, `${f}.Engine.Params.Parameters`),
    env: parseEnv(p.EnvironmentVariables, `${f}.Engine.Params.EnvironmentVariables`),
    workingDir: optStr(p.WorkingDirectory, `${f}.Engine.Params.WorkingDirectory`) ?? '',
    resources: parseJobResources(optObj(task.Resources, `${f}.Resources`), `${f}.Resources`),
    ...parseNetwork(task.Network, `${f}.Network`),
    timeoutSec: parseTimeout(timeouts?.ExecutionTimeout ?? timeouts?.TotalTimeout, `${f}.Timeouts.ExecutionTimeout`),
    outputs: parseOutputs(task.ResultPaths, `${f}.ResultPaths`)
  }
}

/** "12.4", 12.4 or NVML's 12040 → 12040. */
export function parseCudaVersion (v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1000) return v
  const m = /^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$/.exec(typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '')
  if (m !== null) return Number(m[1]) * 1000 + Number(m[2] ?? 0) * 10
  throw new ModuleSpecError(field, `expected a CUDA version like "12.4", got ${JSON.stringify(v)}`)
}

function parseMachine (v: unknown): Partial<Resources> {
  const m = optObj(v, 'machine')
  if (m === undefined) return {}
  const out: Partial<Resources> = {}
  if (m.cpu !== undefined) out.cpu = nonNegInt(m.cpu, 'machine.cpu')
  if (m.ram !== undefined) out.ramMb = nonNegInt(m.ram, 'machine.ram')
  if (m.disk !== undefined) out.diskMb = nonNegInt(m.disk, 'machine.disk')
  if (m.gpu !== undefined) out.gpus = nonNegInt(m.gpu, 'machine.gpu')
  if (m.vram !== undefined) out.gpuVramMb = nonNegInt(m.vram, 'machine.vram')
  if (m.cuda !== undefined && m.cuda !== '') out.cudaVersion = parseCudaVersion(m.cuda, 'machine.cuda')
  if (m.gpus !== undefined && m.gpus !== null) {
    // Lilypad's MachineSpec: gpus [{ name, vendor, vram }]; the name is the model a job may insist on.
    if (!Array.isArray(m.gpus)) throw new ModuleSpecError('machine.gpus', `expected an array, got ${typeName(m.gpus)}`)
    const gpus = m.gpus.map((g, i) => {
      const o = obj(g, `machine.gpus[${i}]`)
      const name = optStr(o.name, `machine.gpus[${i}].name`) ?? ''
      if (name.length > MAX_GPU_MODEL_LENGTH) throw new ModuleSpecError(`machine.gpus[${i}].name`, `longer than ${MAX_GPU_MODEL_LENGTH} characters`)
      return { vram: o.vram === undefined ? 0 : nonNegInt(o.vram, `machine.gpus[${i}].vram`), name: name.trim() }
    })
    out.gpuVramMb = Math.max(out.gpuVramMb ?? 0, ...gpus.map(g => g.vram))
    out.gpus = Math.max(out.gpus ?? 0, m.gpus.length)
    const names = [...new Set(gpus.map(g => g.name).filter(n => n !== ''))]
    if (names.length > 1) throw new ModuleSpecError('machine.gpus', `asks for different GPU models (${names.join(', ')}); a job runs on one model`)
    if (names.length === 1) out.gpuModel = names[0]
  }
  return out
}

/** The longest GPU model name a spec or an offer may carry. */
export const MAX_GPU_MODEL_LENGTH = 64

function parseInputFiles (v: unknown): string[] {
  if (v === undefined || v === null) return []
  if (Array.isArray(v)) return strList(v, 'inputFiles')
  // Some modules describe input files as { required: […], optional: […] }.
  const o = obj(v, 'inputFiles')
  return [...strList(o.required, 'inputFiles.required'), ...strList(o.optional, 'inputFiles.optional')]
}

/** 1-based line and column of a UTF-16 offset in text. */
export function lineColumnOf (text: string, offset: number): { line: number, col: number } {
  let line = 1
  let lineStart = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) { line++; lineStart = i + 1 }
  return { line, col: offset - lineStart + 1 }
}

/**
 * Parses a rendered module (JSON text or an already parsed value) into a JobSpec. Throws ModuleSpecError
 * naming the field; a JSON error names its line and column in the rendered output. Trailing commas are
 * dropped (renderModule reports them as warnings).
 */
export function parseModuleSpec (rendered: string | unknown): JobSpec {
  let doc: unknown = rendered
  if (typeof rendered === 'string') {
    try { doc = parseLenientJson(rendered).value } catch (e) {
      if ((e as Error).name !== 'LenientJsonError') throw e
      const err = e as LenientJsonError
      const at = lineColumnOf(rendered, err.offset)
      throw new ModuleSpecError('(document)', `the rendered template is not valid JSON: ${err.reason} at line ${at.line}, column ${at.col} of the rendered output`)
    }
  }
  return parseModuleDocument(doc)
}

/** parseModuleSpec over a parsed JSON value. */
export function parseModuleDocument (doc: unknown): JobSpec {
  const top = obj(doc, '(document)')
  const machine = parseMachine(top.machine)
  // The oldest public modules are a bare Bacalhau job, without the { machine, job } wrapper.
  const bare = top.job === undefined && (top.Spec !== undefined || top.APIVersion !== undefined)
  const job = bare ? top : obj(top.job, 'job')
  let parts: JobParts
  if (job.Job !== undefined) parts = parseV1(job)
  else if (job.Spec !== undefined) parts = parseV1beta1(job)
  else throw new ModuleSpecError('job', 'expected a Bacalhau V1beta1 job ({ APIVersion, Spec }) or a v1 job ({ Job: { Tasks } })')
  if (parts.image.trim() === '') throw new ModuleSpecError(parts.imageField, 'must not be empty')
  // The machine block is what offers are matched on; the job's own Resources fill what it leaves out.
  const resources: Resources = { ...DEFAULT_RESOURCES, ...parts.resources, ...machine }
  if (resources.allGpus && resources.gpus === 0) resources.gpus = 1
  return {
    image: parts.image.trim(),
    entrypoint: parts.entrypoint,
    args: parts.args,
    env: parts.env,
    workingDir: parts.workingDir,
    resources,
    network: parts.network,
    domains: parts.domains,
    timeoutSec: parts.timeoutSec ?? DEFAULT_TIMEOUT_SEC,
    outputs: parts.outputs,
    inputFiles: parseInputFiles(top.inputFiles),
    inputSources: parts.inputSources
  }
}
