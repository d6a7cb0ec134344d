// A contract job's inputs: the canonical JSON the JobManager builds from the client's key/value list and the job
// offer carries (`JobOffer.inputs`), and the bridge's parse of it. The JobManager accepts a completion only when
// the job offer's inputs equal its own JSON byte for byte, so both sides must write it the same way:
// JSON.stringify of the object with keys in ascending order (contracts/src/CanonicalInputs.sol).

/** Input keys are identifiers (as in a module template's `.Key`); never array indices, which JS would reorder. */
export const INPUT_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
export const MAX_INPUTS = 32
export const MAX_KEY_BYTES = 64
/** Sum of the values' UTF-8 bytes. */
export const MAX_INPUT_BYTES = 4096

export class RequestInputsError extends Error {
  static override name = 'RequestInputsError'
  override name = RequestInputsError.name
  readonly hint: string
  constructor (message: string, hint: string) {
    super(message)
    this.hint = hint
  }
}

function compareKeys (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The canonical JSON of an inputs map, as the JobManager writes it and a job offer carries it. */
export function canonicalInputsJson (inputs: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => compareKeys(a, b))))
}

/** The key/value list `runJob` takes (ascending keys), checked as the contract checks it. */
export function toInputList (inputs: Record<string, string>): Array<{ key: string, value: string }> {
  const list = Object.entries(inputs).sort(([a], [b]) => compareKeys(a, b)).map(([key, value]) => ({ key, value }))
  checkInputList(list)
  return list
}

/** The JobManager's checks on a request's inputs, in its order (throws RequestInputsError). */
export function checkInputList (list: ReadonlyArray<{ key: string, value: string }>): void {
  if (list.length > MAX_INPUTS) throw new RequestInputsError(`${list.length} inputs (at most ${MAX_INPUTS})`, 'the JobManager reverts with TooManyInputs')
  let bytes = 0
  list.forEach(({ key, value }, i) => {
    if (!INPUT_KEY.test(key) || key.length > MAX_KEY_BYTES) throw new RequestInputsError(`input key ${JSON.stringify(key)} is not an identifier of at most ${MAX_KEY_BYTES} characters`, 'keys look like Message or Prompt_2 (letters, digits, _; not starting with a digit)')
    if (i > 0 && compareKeys(list[i - 1].key, key) >= 0) throw new RequestInputsError(`input ${i} (${key}) is not after ${list[i - 1].key}`, 'list inputs once each, in ascending key order (byte order: "B" < "a")')
    bytes += new TextEncoder().encode(value).length
    if (bytes > MAX_INPUT_BYTES) throw new RequestInputsError(`inputs hold more than ${MAX_INPUT_BYTES} bytes`, 'pass large data as a file or CID, not as an input value')
  })
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The inputs a JobRequested event carries (its raw `inputs` bytes, or the string), checked to be exactly the
 * canonical JSON of a map of identifier keys to strings. The JobManager only ever emits such JSON; anything else
 * means the event did not come from it, and is refused rather than guessed at.
 */
export function parseRequestInputs (raw: Uint8Array | string): Record<string, string> {
  let text: string
  try {
    text = typeof raw === 'string' ? raw : fatalUtf8.decode(raw)
  } catch {
    throw new RequestInputsError('the inputs are not valid UTF-8', 'the JobManager refuses such requests: this event is not from it')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new RequestInputsError(`the inputs are not JSON (${(err as Error).message})`, 'expected a JSON object of strings')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RequestInputsError('the inputs are not a JSON object', 'expected a JSON object of strings')
  const entries = Object.entries(parsed as Record<string, unknown>).map(([key, value]): [string, string] => {
    if (typeof value !== 'string') throw new RequestInputsError(`input ${key} is not a string`, 'every input value is a string')
    if (!INPUT_KEY.test(key)) throw new RequestInputsError(`input key ${JSON.stringify(key)} is not an identifier`, 'keys look like Message or Prompt_2')
    return [key, value]
  })
  // fromEntries, not assignment: a key such as __proto__ must stay an own property
  const inputs: Record<string, string> = Object.fromEntries(entries)
  if (canonicalInputsJson(inputs) !== text) throw new RequestInputsError('the inputs are not in canonical form', 'keys ascending, JSON.stringify spacing and escapes')
  return inputs
}
