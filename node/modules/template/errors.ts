// Template errors carry the 1-based line and column of the offending token so a module author can find it.
export interface Position { line: number, col: number }

export class TemplateSyntaxError extends Error {
  static override name = 'TemplateSyntaxError'
  override name = 'TemplateSyntaxError'
  readonly line: number
  readonly column: number
  constructor (message: string, pos: Position) {
    super(`${message} at ${pos.line}:${pos.col}`)
    this.line = pos.line
    this.column = pos.col
  }
}

export class UnknownTemplateFunctionError extends Error {
  static override name = 'UnknownTemplateFunctionError'
  override name = 'UnknownTemplateFunctionError'
  readonly functionName: string
  readonly line: number
  readonly column: number
  constructor (fn: string, pos: Position) {
    super(`function "${fn}" not defined at ${pos.line}:${pos.col}`)
    this.functionName = fn
    this.line = pos.line
    this.column = pos.col
  }
}

/** A failure while executing a parsed template (bad index, wrong argument type, a function's own error). */
export class TemplateExecError extends Error {
  static override name = 'TemplateExecError'
  override name = 'TemplateExecError'
  readonly line: number
  readonly column: number
  constructor (message: string, pos: Position, cause?: unknown) {
    super(`${message} at ${pos.line}:${pos.col}`, { cause })
    this.line = pos.line
    this.column = pos.col
  }
}

/**
 * An input the template needs was not given: it was printed as Go's "<no value>" where the JSON needed a
 * value, or passed to a function that cannot work without it.
 */
export class MissingInputError extends Error {
  static override name = 'MissingInputError'
  override name = 'MissingInputError'
  /** The first missing input, and every one the render noticed (in template order). */
  readonly input: string
  readonly inputs: string[]
  readonly line: number
  readonly column: number
  readonly hint: string
  constructor (missing: Array<{ name: string, pos: Position }>, detail?: string, cause?: unknown) {
    const first = missing[0]
    const others = [...new Set(missing.slice(1).map(m => m.name).filter(n => n !== first.name))]
    super(`missing input "${first.name}" (.${first.name} at ${first.pos.line}:${first.pos.col} in the template)` +
      (others.length > 0 ? `; also missing: ${others.map(n => `"${n}"`).join(', ')}` : '') +
      (detail !== undefined ? `; ${detail}` : ''), { cause })
    this.input = first.name
    this.inputs = [first.name, ...others]
    this.line = first.pos.line
    this.column = first.pos.col
    this.hint = `pass ${this.inputs.map(n => `-i ${n}=…`).join(' ')}; "lilypad module inputs <module>" lists the module's inputs and their defaults`
  }
}

/**
 * A template went past one of the limits a node renders under (steps, output size, nesting depth, time,
 * source size). Module templates only assemble a job spec, so a legitimate one stays far inside them; one
 * that does not is either broken or an attempt to use the renderer's machine.
 */
export abstract class TemplateLimitError extends Error {
  /** The limit that was exceeded, in its own unit. */
  readonly limit: number
  readonly hint: string
  readonly line?: number
  readonly column?: number
  constructor (message: string, limit: number, hint: string, pos?: Position) {
    super(pos !== undefined ? `${message} at ${pos.line}:${pos.col}` : message)
    this.limit = limit
    this.hint = hint
    if (pos !== undefined) { this.line = pos.line; this.column = pos.col }
  }
}

export class TemplateStepLimitError extends TemplateLimitError {
  static override name = 'TemplateStepLimitError'
  override name = 'TemplateStepLimitError'
  constructor (limit: number, pos?: Position) {
    super(`the template ran more than ${limit} steps`, limit,
      'a module template only assembles a job spec: look for a range over a large number or nested ranges', pos)
  }
}

export class TemplateOutputLimitError extends TemplateLimitError {
  static override name = 'TemplateOutputLimitError'
  override name = 'TemplateOutputLimitError'
  constructor (limit: number, what: 'output' | 'value', pos?: Position) {
    super(what === 'output'
      ? `the rendered output would exceed ${limit} bytes`
      : `a value computed by the template would exceed ${limit} bytes`, limit,
    'a module renders to a small JSON job spec: look for a range that prints in a loop or a value built by repeated doubling', pos)
  }
}

export class TemplateNestingError extends TemplateLimitError {
  static override name = 'TemplateNestingError'
  override name = 'TemplateNestingError'
  readonly what: 'parentheses' | 'controls' | 'ranges' | 'pipeline'
  constructor (what: TemplateNestingError['what'], limit: number, pos: Position) {
    const message = what === 'parentheses'
      ? `max expression depth exceeded (more than ${limit} nested parentheses)`
      : what === 'pipeline'
        ? `pipeline too long (more than ${limit} commands)`
        : what === 'ranges'
          ? `more than ${limit} nested {{range}}`
          : `more than ${limit} nested {{if}}/{{with}}/{{range}}`
    super(message, limit, 'flatten the template: module templates need only a few levels', pos)
    this.what = what
  }
}

export class TemplateTimeLimitError extends TemplateLimitError {
  static override name = 'TemplateTimeLimitError'
  override name = 'TemplateTimeLimitError'
  constructor (limit: number, pos?: Position) {
    super(`rendering took more than ${limit} ms`, limit,
      'a module template only assembles a job spec: look for ranges over large numbers or long loops', pos)
  }
}

export class TemplateTooLargeError extends TemplateLimitError {
  static override name = 'TemplateTooLargeError'
  override name = 'TemplateTooLargeError'
  constructor (bytes: number, limit: number) {
    super(`the template is ${bytes} bytes, more than the ${limit} allowed`, limit,
      'a module template is a small JSON document with a few actions; keep data out of it')
  }
}
