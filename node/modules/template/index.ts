// A Go text/template engine for Lilypad module templates: lexer + parser + evaluator, Go's builtins and
// Lilypad's custom `subst`.
import { BUILTINS, execute, type TemplateFunc } from './exec.ts'
import { sprintf } from './fmt.ts'
import { parseTemplate, type Node } from './parse.ts'

export { TemplateSyntaxError, UnknownTemplateFunctionError, TemplateExecError } from './errors.ts'
export { sprintf, sprint, goQuote } from './fmt.ts'
export type { TemplateFunc } from './exec.ts'

/**
 * Lilypad's `subst "format" .A .B`: every argument is a JSON-encoded string (as inputs are before
 * substitution); it is decoded and the results are formatted with Go's Sprintf.
 */
export function subst (format: unknown, ...jsonEncoded: unknown[]): string {
  if (typeof format !== 'string') throw new Error('subst: format must be a string')
  const decoded = jsonEncoded.map(a => {
    let v: unknown
    try { v = typeof a === 'string' ? JSON.parse(a) : undefined } catch { v = undefined }
    if (typeof v !== 'string') throw new Error(`subst: invalid input ${JSON.stringify(a) ?? String(a)} (want a JSON-encoded string)`)
    return v
  })
  return sprintf(format, decoded)
}

export const LILYPAD_FUNCS: ReadonlyMap<string, TemplateFunc> = new Map([...BUILTINS, ['subst', subst]])

export class Template {
  readonly tree: Node[]
  private readonly funcs: ReadonlyMap<string, TemplateFunc>
  private constructor (tree: Node[], funcs: ReadonlyMap<string, TemplateFunc>) { this.tree = tree; this.funcs = funcs }

  /** Parses; throws TemplateSyntaxError / UnknownTemplateFunctionError with line:column. */
  static parse (src: string, extra: Record<string, TemplateFunc> = {}): Template {
    const funcs = new Map([...LILYPAD_FUNCS, ...Object.entries(extra)])
    return new Template(parseTemplate(src, new Set(funcs.keys())), funcs)
  }

  /** Executes over data; throws TemplateExecError with line:column. */
  execute (data: unknown): string { return execute(this.tree, data, this.funcs) }
}

/** Lilypad's rendering: each input value JSON-encoded, then the template executed over the map. */
export function renderLilypadTemplate (src: string, inputs: Record<string, string>): string {
  const encoded: Record<string, string> = {}
  for (const [k, v] of Object.entries(inputs)) encoded[k] = JSON.stringify(v)
  return Template.parse(src).execute(encoded)
}
