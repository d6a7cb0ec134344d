// Errors of input staging. Each names the input it is about and carries a hint. `jobFault` says whose fault it
// is: true when the job's own inputs are at fault (too many, too large, unreachable, refused, a wrong checksum),
// which the provider reports as the job's result; false when the provider itself could not stage them (its
// disk), which is the provider's failure. `summary` is the part of the message that a re-run of the same job
// under the same limits would produce again (no byte counts read so far, no timings), so a mediator that
// re-runs the job writes the same result.

/** Which input an error is about: its position in the job spec, its mount path and where it comes from. */
export interface InputRef { index: number, path: string, from: string }

const describe = (ref: InputRef | undefined): string => ref === undefined ? 'the inputs' : `input ${ref.index} (${ref.from} at ${ref.path})`

export class InputError extends Error {
  static override name = 'InputError'
  override name = 'InputError'
  readonly input: InputRef | undefined
  readonly hint: string
  readonly jobFault: boolean = true
  readonly summary: string
  constructor (input: InputRef | undefined, summary: string, opts: { hint: string, detail?: string, cause?: unknown }) {
    super(`${describe(input)}: ${summary}${opts.detail !== undefined ? ` (${opts.detail})` : ''}`, { cause: opts.cause })
    this.input = input
    this.summary = `${describe(input)}: ${summary}`
    this.hint = opts.hint
  }
}

export class TooManyInputsError extends InputError {
  static override name = 'TooManyInputsError'
  override name = 'TooManyInputsError'
  constructor (count: number, max: number) {
    super(undefined, `the job names ${count} inputs, more than this provider's limit of ${max}`, { hint: `put the files in one directory and pass it as one input (lilypad run --input-file Name=./dir)` })
  }
}

/** The mount path is not one the sandbox can take: relative, `..`, odd characters, or over another mount. */
export class InputPathError extends InputError {
  static override name = 'InputPathError'
  override name = 'InputPathError'
  constructor (input: InputRef, why: string) {
    super(input, `mount path refused: ${why}`, { hint: 'input paths are absolute container paths made of letters, digits and . _ - / (e.g. /inputs/data), each its own, not over an output, /tmp, /proc, /sys or /dev' })
  }
}

export class UnsupportedInputError extends InputError {
  static override name = 'UnsupportedInputError'
  override name = 'UnsupportedInputError'
  constructor (input: InputRef, why: string) {
    super(input, why, { hint: 'inputs come from IPFS (a CID of a UnixFS file or directory) or from an http(s) URL' })
  }
}

export class InputTooLargeError extends InputError {
  static override name = 'InputTooLargeError'
  override name = 'InputTooLargeError'
  readonly limitBytes: number
  constructor (input: InputRef | undefined, what: string, limitBytes: number, detail?: string) {
    super(input, `${what} over the limit of ${limitBytes} bytes`, { hint: 'make the input smaller, or ask for more disk in the module (Resources.Disk, machine.disk): inputs count against the job\'s disk share', ...(detail !== undefined ? { detail } : {}) })
    this.limitBytes = limitBytes
  }
}

/** Fetching did not finish in time: the job's deadline, or the provider's limit on fetching inputs. */
export class InputTimeoutError extends InputError {
  static override name = 'InputTimeoutError'
  override name = 'InputTimeoutError'
  constructor (input: InputRef | undefined, what: string, cause?: unknown) {
    super(input, `not fetched in time (${what})`, { hint: 'serve the input from a reachable, fast source (keep "lilypad run" running while the job runs: it serves --input-file files), or give the job a longer timeout', cause })
  }
}

export class InputChecksumError extends InputError {
  static override name = 'InputChecksumError'
  override name = 'InputChecksumError'
  constructor (input: InputRef, expected: string) {
    super(input, `content does not match its checksum ${expected}`, { hint: 'the server sent something else than the checksum names: fix the URL or the checksum' })
  }
}

/** A URL (or a redirect) leads to an address this provider does not fetch from: loopback, private, link-local… */
export class InputAddressRefusedError extends InputError {
  static override name = 'InputAddressRefusedError'
  override name = 'InputAddressRefusedError'
  readonly address: string
  constructor (input: InputRef | undefined, host: string, address: string, range: string) {
    super(input, `${host === address ? address : `${host} resolves to ${address}`} (${range}) is an address this provider does not fetch from`, { hint: 'inputs must come from public addresses; a provider operator can allow a private network in its input policy (allowAddresses)' })
    this.address = address
  }
}

export class InputRedirectError extends InputError {
  static override name = 'InputRedirectError'
  override name = 'InputRedirectError'
  constructor (input: InputRef, why: string) {
    super(input, why, { hint: 'give the input\'s final URL (https, at most a few redirects)' })
  }
}

export class InputHttpError extends InputError {
  static override name = 'InputHttpError'
  override name = 'InputHttpError'
  readonly status: number
  constructor (input: InputRef, status: number) {
    super(input, `the server answered HTTP ${status}`, { hint: 'check that the URL serves the file without authentication' })
    this.status = status
  }
}

export class InputUnreachableError extends InputError {
  static override name = 'InputUnreachableError'
  override name = 'InputUnreachableError'
  constructor (input: InputRef, why: string, cause?: unknown, hint = 'check that the source is up and reachable from the internet') {
    super(input, `cannot be fetched: ${why}`, { hint, cause })
  }
}

/** The fetched DAG is not what a UnixFS input may be (bad entry names, links, too deep, too many entries). */
export class InputContentError extends InputError {
  static override name = 'InputContentError'
  override name = 'InputContentError'
  constructor (input: InputRef, why: string, cause?: unknown) {
    super(input, why, { hint: 'add the input as plain files and directories (lilypad run --input-file, or ipfs add)', cause })
  }
}

/** Staging stopped because the job was aborted (the deal failed, the provider is stopping). Not a result. */
export class InputsAbortedError extends InputError {
  static override name = 'InputsAbortedError'
  override name = 'InputsAbortedError'
  override readonly jobFault = false
  constructor (cause?: unknown) {
    super(undefined, 'fetching was aborted with the job', { hint: 'nothing to do: the job was stopped', cause })
  }
}
