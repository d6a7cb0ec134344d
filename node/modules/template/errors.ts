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
