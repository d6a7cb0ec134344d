// The job service's named errors. Each carries a hint a person can act on; the local API maps them to HTTP
// statuses by name (node/api/errors.ts), the SDK re-creates them by name on the client side.

export class JobNotFoundError extends Error {
  static override name = 'JobNotFoundError'
  override name = 'JobNotFoundError'
  readonly hint = '"lilypad jobs" lists the jobs this node knows'
  constructor (id: string) { super(`no job ${id.slice(0, 80)} on this node`) }
}

export class TooManyJobsError extends Error {
  static override name = 'TooManyJobsError'
  override name = 'TooManyJobsError'
  readonly hint = 'wait for some jobs to end, or cancel some ("lilypad jobs" lists them)'
  constructor (limit: number) { super(`this node already holds ${limit} unfinished jobs, its limit`) }
}

export class JobNotDoneError extends Error {
  static override name = 'JobNotDoneError'
  override name = 'JobNotDoneError'
  readonly hint = 'result files exist once the job is done ("lilypad job <id>" shows its state)'
  constructor (id: string, state: string) { super(`job ${id} is ${state}, not done`) }
}

export class JobEndedError extends Error {
  static override name = 'JobEndedError'
  override name = 'JobEndedError'
  readonly hint = 'only a job that has not ended can be cancelled'
  constructor (id: string, state: string) { super(`job ${id} already ended (${state})`) }
}

/** A job that was cancelled before any deal was agreed. */
export class JobCancelledError extends Error {
  static override name = 'JobCancelledError'
  override name = 'JobCancelledError'
  readonly hint = 'nothing was spent: no provider had agreed a deal'
  constructor (id: string) { super(`job ${id} was cancelled`) }
}

/** The node stopped while the job was still looking for a provider: nothing was spent, nothing is resumed. */
export class NodeRestartedError extends Error {
  static override name = 'NodeRestartedError'
  override name = 'NodeRestartedError'
  readonly hint = 'nothing was spent (no deal had been agreed): submit the job again'
  constructor () { super('the node stopped before a provider agreed a deal for this job') }
}

/** A result file path that is not a plain relative path inside the result (.., absolute, NUL, backslashes). */
export class BadResultPathError extends Error {
  static override name = 'BadResultPathError'
  override name = 'BadResultPathError'
  readonly hint = 'name a file inside the result, e.g. stdout or outputs/result.txt'
}

export class ResultFileNotFoundError extends Error {
  static override name = 'ResultFileNotFoundError'
  override name = 'ResultFileNotFoundError'
  readonly hint = 'GET the job\'s files without a path for the list'
}
