// Where an event follower resumes after a restart: the next block to scan, kept in a small file replaced
// atomically so a crash leaves the old cursor, never a torn one (re-scanning a block is harmless; skipping is not).
import { readFile, rename, writeFile } from 'node:fs/promises'

export class BlockCursor {
  readonly file: string
  next: number

  constructor (file: string, startBlock: number) {
    this.file = file
    this.next = startBlock
  }

  /** Loads the saved cursor; keeps the start block when none was saved yet. */
  async load (): Promise<number> {
    try {
      const n = (JSON.parse(await readFile(this.file, 'utf8')) as { nextBlock?: unknown }).nextBlock
      if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) this.next = n
    } catch { /* first start */ }
    return this.next
  }

  async save (next: number): Promise<void> {
    this.next = next
    const tmp = `${this.file}.tmp`
    await writeFile(tmp, JSON.stringify({ nextBlock: next }))
    await rename(tmp, this.file)
  }
}
