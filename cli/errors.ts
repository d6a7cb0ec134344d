/** A failure the user can act on: printed as a message and a hint, never as a stack trace. */
export class UserError extends Error {
  static override name = 'UserError'
  override name = 'UserError'
  readonly hint?: string
  readonly exitCode: number
  constructor (message: string, opts: { hint?: string, exitCode?: number, cause?: unknown } = {}) {
    super(message, { cause: opts.cause })
    this.hint = opts.hint
    this.exitCode = opts.exitCode ?? 1
  }
}
