// Modules: resolve a reference, render its Lilypad template with the inputs, parse the result into a JobSpec.
import { readFile, stat } from 'node:fs/promises'
import { encodeInputs, limitsOf, MissingInputError, Template, TemplateTooLargeError, type TemplateLimits, type Rendered } from './template/index.ts'
import { parseModuleDocument, ModuleSpecError, type JobSpec } from './spec.ts'
import { parseLenientJson } from './lenient-json.ts'
import { resolveModule, type ResolvedModule, type ResolveOptions } from './refs.ts'

export {
  Template, Rendered, renderLilypadTemplate, encodeInputs, subst, TemplateSyntaxError, UnknownTemplateFunctionError,
  TemplateExecError, MissingInputError, TemplateLimitError, TemplateStepLimitError, TemplateOutputLimitError,
  TemplateNestingError, TemplateTimeLimitError, TemplateTooLargeError, DEFAULT_TEMPLATE_LIMITS, limitsOf
} from './template/index.ts'
export type { TemplateLimits } from './template/index.ts'
export {
  parseModuleSpec, parseModuleDocument, parseCudaVersion, lineColumnOf, ModuleSpecError, DEFAULT_RESOURCES,
  DEFAULT_TIMEOUT_SEC, MAX_GPU_MODEL_LENGTH
} from './spec.ts'
export { parseLenientJson, LenientJsonError } from './lenient-json.ts'
export type { JobSpec, Resources, OutputSpec, NetworkMode, InputSource } from './spec.ts'
export {
  resolveModule, parseModuleRef, loadRegistry, ModuleRefError, ModuleNotFoundError, ModuleTemplateMissingError,
  ModulePinMismatchError, ModuleFetchLimitError, TEMPLATE_FILE, LILYPAD_MODULE_PREFIX, BUILTIN_MODULES_DIR, DEFAULT_MODULE_CACHE
} from './refs.ts'
export type { ResolvedModule, ResolveOptions, ModuleSource } from './refs.ts'
export { declaredInputs, templateInputs } from './declared-inputs.ts'
export type { DeclaredInput } from './declared-inputs.ts'
export { machineRequirement, containerResources, GpuRequirementError, CpuRequirementError } from './requirement.ts'
export type { GpuRequirement, CpuRequirement } from './requirement.ts'

export { ModuleInputError, parseInputs } from './inputs.ts'

/** Something a module author should fix though the module renders: real Lilypad may reject it. */
export interface ModuleWarning {
  code: 'TRAILING_COMMA' | 'MISSING_INPUT'
  message: string
}

export interface RenderedModule {
  /** The template's output: Lilypad's module JSON. */
  rendered: string
  spec: JobSpec
  warnings: ModuleWarning[]
}

export interface LoadedModule extends RenderedModule {
  module: ResolvedModule
  inputs: Record<string, string>
}

export interface RenderOptions {
  /** Limits the template runs under (defaults: DEFAULT_TEMPLATE_LIMITS). A provider renders strangers' templates. */
  limits?: Partial<TemplateLimits>
}

/**
 * Renders a template text with inputs and parses it: the pure part of loading a module. Failures name their
 * fix: a missing input by name and template position (MissingInputError), a JSON error by its line and
 * column in the rendered output and the template position that produced it (ModuleSpecError).
 */
export function renderModule (template: string, inputs: Record<string, string>, opts: RenderOptions = {}): RenderedModule {
  const r = Template.parse(template, {}, opts.limits).render(encodeInputs(inputs), opts.limits)
  const missing = r.printedMissing
  let parsed
  try {
    parsed = parseLenientJson(r.output)
  } catch (e) {
    if ((e as Error).name !== 'LenientJsonError') throw e
    const { offset, reason } = e as { offset: number, reason: string }
    const detail = `the rendered template is not valid JSON: ${reason} at ${r.describe(offset)}`
    if (missing.length > 0) throw new MissingInputError([...missing], `it rendered as "<no value>", so ${detail}`, e)
    throw new ModuleSpecError('(document)', `${detail}\n${r.excerpt(offset)}`)
  }
  let spec: JobSpec
  try {
    spec = parseModuleDocument(parsed.value)
  } catch (e) {
    if (missing.length > 0 && (e as Error).name === 'ModuleSpecError') throw new MissingInputError([...missing], `it rendered as "<no value>" (${(e as Error).message})`, e)
    throw e
  }
  return { rendered: r.output, spec, warnings: warningsOf(r, parsed.trailingCommas) }
}

function warningsOf (r: Rendered, trailingCommas: number[]): ModuleWarning[] {
  const out: ModuleWarning[] = trailingCommas.map(off => ({
    code: 'TRAILING_COMMA',
    message: `trailing comma at ${r.describe(off)} was ignored here, but Lilypad (Go's encoding/json) rejects the module: remove it from the template`
  }))
  for (const m of r.printedMissing) {
    out.push({ code: 'MISSING_INPUT', message: `input "${m.name}" is missing (.${m.name} at ${m.pos.line}:${m.pos.col} in the template): "<no value>" went into the job at ${r.describe(m.offset)}` })
  }
  return out
}

/** A module's template text, refused before it is read if it is larger than the limit. */
export async function readModuleTemplate (module: ResolvedModule, limits: Partial<TemplateLimits> = {}): Promise<string> {
  const max = limitsOf(limits).maxTemplateBytes
  const { size } = await stat(module.templatePath)
  if (size > max) throw new TemplateTooLargeError(size, max)
  return await readFile(module.templatePath, 'utf8')
}

export async function loadModule (ref: string, inputs: Record<string, string> = {}, opts: ResolveOptions & RenderOptions = {}): Promise<LoadedModule> {
  const module = await resolveModule(ref, opts)
  const template = await readModuleTemplate(module, opts.limits)
  return { module, inputs, ...renderModule(template, inputs, opts) }
}
export { ensureModuleImage, ensureBuiltinImages, pinSpecImage, ImageBuildError, BUSYBOX_PATH } from './images.ts'
export type { BuiltImage } from './images.ts'
export { checkModule, fetchBounds, ModuleNotServedError, DEFAULT_GIT_FETCH_TIMEOUT_MS, DEFAULT_GIT_MAX_BYTES, type ModulePolicy, type GitModulePolicy, type ModuleDecision } from './policy.ts'
