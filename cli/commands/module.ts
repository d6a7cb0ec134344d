import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import {
  declaredInputs, loadModule, loadRegistry, parseInputs, readModuleTemplate, resolveModule, type DeclaredInput, type JobSpec,
  type LoadedModule
} from '../../node/modules/index.ts'

const USAGE = `lilypad module render <ref|dir|file> [-i Key=Value …] [--json] [--pin] [--cache-dir DIR]
  lilypad module inputs <ref|dir|file> [--json] [--cache-dir DIR]
  lilypad module list
  lilypad module build [name:version …]

References: name:version (built-in registry, else github.com/Lilypad-Tech/lilypad-module-<name>),
host/owner/repo:ref, a git URL with #ref (https://…, file:///…), /path/to/repo:ref, a module directory,
or a lilypad_module.json.tmpl file.`

function usageError (message: string): UserError {
  return new UserError(message, { hint: `usage:\n  ${USAGE.split('\n').slice(0, 4).join('\n')}`, exitCode: 2 })
}

/** Turns the module layer's named errors into messages with hints. */
function toUserError (e: unknown, ref: string): unknown {
  const err = e as Error & { field?: string, hint?: string }
  switch (err?.name) {
    case 'MissingInputError':
      return new UserError(`${err.name}: ${err.message}`, { hint: (err.hint ?? '').replace('<module>', ref), exitCode: 2, cause: e })
    case 'TemplateStepLimitError':
    case 'TemplateOutputLimitError':
    case 'TemplateNestingError':
    case 'TemplateTimeLimitError':
    case 'TemplateTooLargeError':
      return new UserError(`${err.name}: ${err.message}`, { hint: err.hint, cause: e })
    case 'TemplateSyntaxError':
    case 'UnknownTemplateFunctionError':
    case 'TemplateExecError':
      return new UserError(`${err.name}: ${err.message}`, { hint: `fix the module template of ${ref} at that line:column`, cause: e })
    case 'ModuleSpecError':
      return new UserError(`ModuleSpecError: ${err.message}`, { hint: 'the rendered module JSON is not a job this node can run; check that field in the template', cause: e })
    case 'ModuleRefError':
      return new UserError(`ModuleRefError: ${err.message}`, { hint: 'use name:version, host/owner/repo:ref, a git URL with #ref, or a path', exitCode: 2, cause: e })
    case 'ModuleInputError':
      return new UserError(`ModuleInputError: ${err.message}`, { hint: 'inputs are -i Key=Value', exitCode: 2, cause: e })
    case 'ModuleNotFoundError':
    case 'ModuleTemplateMissingError':
    case 'ModulePinMismatchError':
      return new UserError(`${err.name}: ${err.message}`, { hint: 'check the reference, the tag or commit, and that the repository has lilypad_module.json.tmpl at its root', cause: e })
    default:
      return e
  }
}

function gpuSummary (r: JobSpec['resources']): string {
  if (r.gpus === 0 && !r.allGpus) return 'no GPU'
  const what = [r.gpuModel !== '' ? r.gpuModel : '', r.gpuVramMb > 0 ? `${r.gpuVramMb} MB VRAM each` : '', r.cudaVersion > 0 ? `CUDA ≥ ${Math.floor(r.cudaVersion / 1000)}.${(r.cudaVersion % 1000) / 10}` : ''].filter(x => x !== '')
  return `gpus ${r.allGpus ? `all (at least ${r.gpus})` : r.gpus}${what.length > 0 ? ` (${what.join(', ')})` : ''}`
}

function summary (m: LoadedModule): string {
  const s: JobSpec = m.spec
  const r = s.resources
  const lines: Array<[string, string]> = [
    ['module', `${m.module.ref} (${m.module.kind})`],
    ['pinned', m.module.pinned],
    ['template', m.module.templatePath],
    ['image', s.image],
    ['command', [...s.entrypoint, ...s.args].map(a => /^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a)).join(' ') || '(image default)'],
    ['env', Object.entries(s.env).map(([k, v]) => `${k}=${v}`).join(' ') || '-'],
    ['workdir', s.workingDir || '(image default)'],
    ['resources', `cpu ${r.cpu}m, ram ${r.ramMb} MB, disk ${r.diskMb} MB, ${gpuSummary(r)}`],
    ['network', s.network + (s.domains.length > 0 ? ` (${s.domains.join(', ')})` : '')],
    ['timeout', `${s.timeoutSec} s`],
    ['outputs', s.outputs.map(o => `${o.name} → ${o.path}`).join(', ')]
  ]
  if (s.inputFiles.length > 0) lines.push(['inputFiles', s.inputFiles.join(', ')])
  if (s.inputSources.length > 0) lines.push(['inputs', s.inputSources.map(i => `${i.source}:${i.cid ?? i.url ?? i.name ?? '?'} → ${i.path}`).join(', ')])
  return lines.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n')
}

async function render (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        input: { type: 'string', short: 'i', multiple: true },
        json: { type: 'boolean' },
        pin: { type: 'boolean' },
        'cache-dir': { type: 'string' }
      }
    })
  } catch (e) {
    throw usageError((e as Error).message)
  }
  const [ref, ...extra] = parsed.positionals
  if (ref === undefined) throw usageError('module render needs a module reference')
  if (extra.length > 0) throw usageError(`unexpected argument "${extra[0]}"`)
  let loaded: LoadedModule
  try {
    const inputs = parseInputs(parsed.values.input ?? [])
    loaded = await loadModule(ref, inputs, { cacheDir: parsed.values['cache-dir'] })
  } catch (e) {
    throw toUserError(e, ref)
  }
  if (parsed.values.pin === true) {
    // Pin the image to its local id (building a built-in module's image first), as a provider runs it.
    const { default: Docker } = await import('dockerode')
    const { pinSpecImage } = await import('../../node/modules/images.ts')
    const docker = new Docker()
    try { await docker.ping() } catch (e) {
      throw new UserError(`Docker engine unreachable: ${(e as Error).message}`, { hint: '--pin needs a running Docker engine; drop it to render without one', cause: e })
    }
    loaded = { ...loaded, spec: await pinSpecImage(docker, loaded.spec) }
  }
  // Warnings go to stderr: with --json, stdout stays one JSON document.
  for (const w of loaded.warnings) console.error(`warning: ${w.message}`)
  console.log(parsed.values.json === true ? JSON.stringify(loaded.spec, null, 2) : summary(loaded))
  return 0
}

function inputsTable (inputs: DeclaredInput[]): string {
  if (inputs.length === 0) return 'this template reads no inputs'
  const rows = inputs.map(i => [
    i.name,
    i.required ? 'yes' : 'no',
    i.default === undefined ? '-' : i.defaultKind === 'rendered' ? `(renders ${i.default.length > 40 ? i.default.slice(0, 40) + '…' : i.default})` : JSON.stringify(i.default),
    i.uses.map(p => `${p.line}:${p.col}`).join(' ')
  ])
  const head = ['INPUT', 'REQUIRED', 'DEFAULT', 'READ AT']
  const width = head.map((h, k) => Math.max(h.length, ...rows.map(r => r[k].length)))
  return [head, ...rows].map(r => r.map((c, k) => k === r.length - 1 ? c : c.padEnd(width[k] + 2)).join('')).join('\n')
}

async function inputs (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { json: { type: 'boolean' }, 'cache-dir': { type: 'string' } } })
  } catch (e) {
    throw usageError((e as Error).message)
  }
  const [ref, ...extra] = parsed.positionals
  if (ref === undefined) throw usageError('module inputs needs a module reference')
  if (extra.length > 0) throw usageError(`unexpected argument "${extra[0]}"`)
  let found: DeclaredInput[]
  try {
    const module = await resolveModule(ref, { cacheDir: parsed.values['cache-dir'] })
    found = declaredInputs(await readModuleTemplate(module))
  } catch (e) {
    throw toUserError(e, ref)
  }
  console.log(parsed.values.json === true ? JSON.stringify(found) : inputsTable(found))
  return 0
}

async function build (argv: string[]): Promise<number> {
  const { default: Docker } = await import('dockerode')
  const { ensureBuiltinImages } = await import('../../node/modules/images.ts')
  const docker = new Docker()
  try { await docker.ping() } catch (e) {
    throw new UserError(`Docker engine unreachable: ${(e as Error).message}`, { hint: 'start dockerd (./lilypad sets one up on Debian)', cause: e })
  }
  const built = await ensureBuiltinImages(docker, { only: argv.length > 0 ? argv : undefined })
  for (const [ref, img] of built) console.log(`${ref.padEnd(20)}${img.tag.padEnd(28)}${img.id}${img.built ? ' (built)' : ''}`)
  return 0
}

export const module: Command = {
  name: 'module',
  aliases: ['modules'],
  summary: 'Render a Lilypad module to its job spec, list its inputs, list or build built-in modules',
  usage: USAGE,
  async run (argv) {
    const [sub, ...rest] = argv
    switch (sub) {
      case 'render': return await render(rest)
      case 'list':
        for (const [ref, e] of Object.entries(loadRegistry())) console.log(`${ref.padEnd(20)}${e.description ?? ''}`)
        return 0
      case 'build': return await build(rest)
      case 'inputs': return await inputs(rest)
      case undefined: throw usageError('module needs a subcommand: render, inputs, list or build')
      default: throw usageError(`unknown module subcommand "${sub}"`)
    }
  }
}
