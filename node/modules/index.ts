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
  ModulePinMismatchError, ModuleFetchLimitError, TEMPLATE_FILE, LILYPAD_MODULE_PREFIX, BUILTIN_MODULES_DIR, DEFAULT_MODULE_CACHE
} from './refs.ts'
export type { ResolvedModule, ResolveOptions, ModuleSource } from './refs.ts'
export { ModuleInputError, parseInputs } from './inputs.ts'

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
export { checkModule, fetchBounds, ModuleNotServedError, DEFAULT_GIT_FETCH_TIMEOUT_MS, DEFAULT_GIT_MAX_BYTES, type ModulePolicy, type GitModulePolicy, type ModuleDecision } from './policy.ts'
