// A Go text/template engine for Lilypad module templates: lexer + parser + evaluator, Go's builtins and
// Lilypad's custom `subst`, run under TemplateLimits.
import { Buffer } from 'node:buffer'
import { BUILTINS, execute, type ExecResult, type MissingUse, type Segment, type TemplateFunc } from './exec.ts'
import { TemplateTooLargeError, type Position } from './errors.ts'
import { sprintf } from './fmt.ts'
import { limitsOf, type TemplateLimits } from './limits.ts'
import { parseTemplate, type Node } from './parse.ts'

export {
  TemplateSyntaxError, UnknownTemplateFunctionError, TemplateExecError, MissingInputError, TemplateLimitError,
  TemplateStepLimitError, TemplateOutputLimitError, TemplateNestingError, TemplateTimeLimitError, TemplateTooLargeError
} from './errors.ts'
export type { Position } from './errors.ts'
export { sprintf, sprint, goQuote } from './fmt.ts'
export { DEFAULT_TEMPLATE_LIMITS, limitsOf } from './limits.ts'
export type { TemplateLimits } from './limits.ts'
export type { TemplateFunc, MissingUse, Segment } from './exec.ts'
export type { Node, Pipeline, Command, Arg } from './parse.ts'

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

/** A template's output, with what is needed to point back into the template from a place in it. */
export class Rendered {
  readonly output: string
  /** Missing inputs whose "no value" was printed, with the output offset where it went. */
  readonly printedMissing: ReadonlyArray<MissingUse & { offset: number }>
  readonly steps: number
  private readonly segments: Segment[]

  constructor (r: ExecResult) {
    this.output = r.output
    this.printedMissing = r.printedMissing
    this.segments = r.segments
    this.steps = r.steps
  }

  /** 1-based line:column of a UTF-16 offset in the rendered output. */
  outputPosition (offset: number): Position {
    let line = 1
    let lineStart = 0
    for (let i = this.output.indexOf('\n'); i !== -1 && i < offset; i = this.output.indexOf('\n', i + 1)) { line++; lineStart = i + 1 }
    return { line, col: offset - lineStart + 1 }
  }

  /** Where in the template the character at a rendered offset came from: exact in text, the action otherwise. */
  templatePosition (offset: number): Position | undefined {
    let lo = 0
    let hi = this.segments.length - 1
    if (hi < 0 || offset < this.segments[0].offset) return undefined
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (this.segments[mid].offset <= offset) lo = mid; else hi = mid - 1 }
    const seg = this.segments[lo]
    if (seg.text === undefined) return seg.pos
    let { line, col } = seg.pos
    const upto = Math.min(offset - seg.offset, seg.text.length)
    for (let i = 0; i < upto; i++) {
      if (seg.text[i] === '\n') { line++; col = 1 } else col++
    }
    return { line, col }
  }

  /** "line 12, column 5 of the rendered output (from the template at 9:30)". */
  describe (offset: number): string {
    const out = this.outputPosition(offset)
    const tpl = this.templatePosition(Math.min(offset, Math.max(0, this.output.length - 1)))
    return `line ${out.line}, column ${out.col} of the rendered output` + (tpl !== undefined ? ` (from the template at ${tpl.line}:${tpl.col})` : '')
  }

  /** The rendered line around an offset, with a caret under it (long lines are cut around the offset). */
  excerpt (offset: number): string {
    const start = this.output.lastIndexOf('\n', offset - 1) + 1
    let end = this.output.indexOf('\n', offset)
    if (end === -1) end = this.output.length
    let from = start
    let to = end
    if (to - from > 120) { from = Math.max(start, offset - 60); to = Math.min(end, from + 120) }
    const line = this.output.slice(from, to)
    return `  ${from > start ? '…' : ''}${line}${to < end ? '…' : ''}\n  ${from > start ? ' ' : ''}${' '.repeat(Math.max(0, offset - from))}^`
  }
}

export class Template {
  readonly tree: Node[]
  private readonly funcs: ReadonlyMap<string, TemplateFunc>
  private readonly limits: TemplateLimits
  private constructor (tree: Node[], funcs: ReadonlyMap<string, TemplateFunc>, limits: TemplateLimits) { this.tree = tree; this.funcs = funcs; this.limits = limits }

  /**
   * Parses under the limits (source size, parentheses, pipeline length, control nesting); throws
   * TemplateSyntaxError / UnknownTemplateFunctionError with line:column, or a TemplateLimitError.
   */
  static parse (src: string, extra: Record<string, TemplateFunc> = {}, limits: Partial<TemplateLimits> = {}): Template {
    const l = limitsOf(limits)
    // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
    if (src.length * 3 > l.maxTemplateBytes) {
      const bytes = Buffer.byteLength(src)
      if (bytes > l.maxTemplateBytes) throw new TemplateTooLargeError(bytes, l.maxTemplateBytes)
    }
    const funcs = new Map([...LILYPAD_FUNCS, ...Object.entries(extra)])
    return new Template(parseTemplate(src, new Set(funcs.keys()), l), funcs, l)
  }

  /** Executes over data; throws TemplateExecError with line:column, or a TemplateLimitError. */
  execute (data: unknown): string { return this.render(data).output }

  /** Executes part of the tree (nodes of it) over data: what a branch renders on its own. */
  renderNodes (nodes: Node[], data: unknown, limits: Partial<TemplateLimits> = {}): string {
    return execute(nodes, data, this.funcs, limitsOf({ ...this.limits, ...limits })).output
  }

  /** Executes over data and keeps the source map and the missing inputs that were printed. */
  render (data: unknown, limits: Partial<TemplateLimits> = {}): Rendered {
    return new Rendered(execute(this.tree, data, this.funcs, limitsOf({ ...this.limits, ...limits })))
  }
}

/** Lilypad's inputs: every value JSON-encoded before the template sees it. */
export function encodeInputs (inputs: Record<string, string>): Record<string, string> {
  const encoded: Record<string, string> = {}
  for (const [k, v] of Object.entries(inputs)) encoded[k] = JSON.stringify(v)
  return encoded
}

/** Lilypad's rendering: each input value JSON-encoded, then the template executed over the map. */
export function renderLilypadTemplate (src: string, inputs: Record<string, string>, limits: Partial<TemplateLimits> = {}): string {
  return Template.parse(src, {}, limits).render(encodeInputs(inputs)).output
}
