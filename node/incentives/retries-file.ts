// The validator's canary retries owed (protocols/incentives/retries.ts) in its data dir: a restart forgives no key the
// canaries its races deferred. One small JSON file, replaced atomically; writes are queued, each writing the book as
// it is then, so the file never goes back to an older state.
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { CanaryRetries, InvalidCanaryRetriesError } from '../../protocols/incentives/index.ts'

export class CanaryRetriesFile {
  readonly file: string
  #queue: Promise<void> = Promise.resolve()

  constructor (file: string) { this.file = file }

  /** The book the last run left (none owed on a first start); a file that is not the validator's is a named error. */
  async load (): Promise<CanaryRetries> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new CanaryRetries()
      throw err
    }
    let json: unknown
    try { json = JSON.parse(text) } catch { throw new InvalidCanaryRetriesError(`${this.file} is not JSON`) }
    return CanaryRetries.fromJson(json)
  }

  /** Writes the book as it is when the write's turn comes. */
  async save (retries: CanaryRetries): Promise<void> {
    const write = async (): Promise<void> => {
      const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
      await writeFile(tmp, JSON.stringify(retries.toJson()))
      await rename(tmp, this.file)
    }
    const next = this.#queue.then(write)
    this.#queue = next.catch(() => {})
    await next
  }
}
