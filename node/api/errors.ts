// The API's error body and the one table from an error's name to its HTTP status. Every failure a client can
// cause is a 4xx `{ error: { name, message, hint } }`; anything else is a 500 that names no internals (the
// node's log has the rest). The SDK re-creates errors from `name`.

export interface ApiErrorBody { error: { name: string, message: string, hint?: string } }

/** A client error raised by the API itself (bad amount, bad header, busy). */
export class ApiError extends Error {
  readonly status: number
  readonly hint?: string
  constructor (status: number, name: string, message: string, hint?: string) {
    super(message)
    this.name = name
    this.status = status
    if (hint !== undefined) this.hint = hint
  }
}

const STATUS: Record<string, number> = {
  ValidationError: 400,
  UnknownChainError: 400,
  BadAmountError: 400,
  BadResultPathError: 400,
  ModuleRefError: 400,
  ModuleInputError: 400,
  ModulePinMismatchError: 400,
  TemplateSyntaxError: 400,
  TemplateTooLargeError: 400,
  InputFileError: 400,
  InputFileNotUsedError: 400,
  InputNameConflictError: 400,
  GpuRequirementError: 400,
  CpuRequirementError: 400,
  UnauthorizedError: 401,
  ForeignHostError: 403,
  BrowserOriginError: 403,
  JobNotFoundError: 404,
  ResultFileNotFoundError: 404,
  RouteNotFoundError: 404,
  ModuleNotFoundError: 404,
  ModuleTemplateMissingError: 404,
  JobNotDoneError: 409,
  JobEndedError: 409,
  InsufficientDepositError: 409,
  InsufficientBalanceError: 409,
  ContractRevertError: 409,
  PermitSignatureError: 400,
  SignatureMismatchError: 400,
  SignatureRequestNotFoundError: 404,
  BodyTooLargeError: 413,
  UnsupportedMediaTypeError: 415,
  TooManyJobsError: 429,
  TooManyStreamsError: 429,
  ServiceStoppingError: 503
}

export function statusOf (err: unknown): number {
  const e = err as { status?: unknown, name?: unknown }
  if (err instanceof ApiError) return err.status
  return typeof e?.name === 'string' ? STATUS[e.name] ?? 500 : 500
}

export function bodyOf (err: unknown, status: number): ApiErrorBody {
  const e = err as Error & { hint?: unknown }
  // (an ApiError is written here, for the client: a 503 the API raised itself says what to wait for)
  if (status >= 500 && !(err instanceof ApiError)) return { error: { name: 'InternalError', message: 'the node failed to answer this request', hint: 'the node\'s log has the details' } }
  return { error: { name: e.name, message: String(e.message).slice(0, 2000), ...(typeof e.hint === 'string' ? { hint: e.hint } : {}) } }
}
