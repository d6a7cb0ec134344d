// Modules: resolve a reference, render its Lilypad template with the inputs, parse the result into a JobSpec.
import { readFile } from 'node:fs/promises'
import { renderLilypadTemplate } from './template/index.ts'
import { parseModuleSpec, type JobSpec } from './spec.ts'
import { resolveModule, type ResolvedModule, type ResolveOptions } from './refs.ts'

export { Template, renderLilypadTemplate, subst, TemplateSyntaxError, UnknownTemplateFunctionError, TemplateExecError } from './template/index.ts'
export { parseModuleSpec, parseLenientJson, ModuleSpecError, DEFAULT_RESOURCES, DEFAULT_TIMEOUT_SEC } from './spec.ts'
export type { JobSpec, Resources, OutputSpec, NetworkMode, InputSource } from './spec.ts'
export {
  resolveModule, parseModuleRef, loadRegistry, ModuleRefError, ModuleNotFoundError, ModuleTemplateMissingError,
  ModulePinMismatchError, TEMPLATE_FILE, LILYPAD_MODULE_PREFIX, BUILTIN_MODULES_DIR, DEFAULT_MODULE_CACHE
} from './refs.ts'
export type { ResolvedModule, ResolveOptions, ModuleSource } from './refs.ts'

export class ModuleInputError extends Error {
  static override name = 'ModuleInputError'
  override name = 'ModuleInputError'
}

/** Parses repeated `-i Key=Value` strings into an inputs map (the value may contain "="). */
export function parseInputs (pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq <= 0) throw new ModuleInputError(`input "${p}" is not Key=Value`)
    const k = p.slice(0, eq)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ModuleInputError(`input name "${k}" is not a template field name (letters, digits, _)`)
    out[k] = p.slice(eq + 1)
  }
  return out
}

export interface LoadedModule {
  module: ResolvedModule
  inputs: Record<string, string>
  /** The template's output: Lilypad's module JSON. */
  rendered: string
  spec: JobSpec
}

/** Renders a template text with inputs and parses it: the pure part of loading a module. */
export function renderModule (template: string, inputs: Record<string, string>): { rendered: string, spec: JobSpec } {
  const rendered = renderLilypadTemplate(template, inputs)
  return { rendered, spec: parseModuleSpec(rendered) }
}

export async function loadModule (ref: string, inputs: Record<string, string> = {}, opts: ResolveOptions = {}): Promise<LoadedModule> {
  const module = await resolveModule(ref, opts)
  const template = await readFile(module.templatePath, 'utf8')
  return { module, inputs, ...renderModule(template, inputs) }
}
export { ensureModuleImage, ensureBuiltinImages, pinSpecImage, ImageBuildError, BUSYBOX_PATH } from './images.ts'
export type { BuiltImage } from './images.ts'
