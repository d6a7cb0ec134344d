// Each role keeps its deals on disk so a restarted node resumes them: one file per deal, replaced atomically
// (write to a temporary file, fsync, rename), so a crash leaves either the old or the new record, never half.
import { mkdir, readdir, readFile, rename, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { toJson, fromJson } from './json.ts'
import { systemClock, type Clock } from '../../core/clock.ts'

export class DealRecordCorruptError extends Error {
  static override name = 'DealRecordCorruptError'
  override name = 'DealRecordCorruptError'
}

export interface StoredRecord {
  id: string
  /** A terminal record is kept for history but not resumed. */
  terminal: boolean
  updatedAt: number
}

const ID = /^0x[0-9a-f]{64}$|^[A-Za-z0-9_-]{1,128}$/

export class DealStore<R extends StoredRecord> {
  readonly dir: string
  private readonly cache = new Map<string, R>()
  private loaded = false
  // Serialises writes per id so two updates of one deal cannot interleave their read-modify-write.
  private readonly locks = new Map<string, Promise<unknown>>()

  private readonly clock: Pick<Clock, 'now'>

  constructor (dir: string, options: { clock?: Pick<Clock, 'now'> } = {}) {
    this.dir = dir
    this.clock = options.clock ?? systemClock
  }

  private path (id: string): string {
    if (!ID.test(id)) throw new TypeError(`invalid record id ${JSON.stringify(id)}`)
    return join(this.dir, `${id}.json`)
  }

  /** Loads every record from disk; corrupt files are reported, not silently dropped. */
  async load (): Promise<{ records: R[], corrupt: string[] }> {
    await mkdir(this.dir, { recursive: true })
    const corrupt: string[] = []
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue
      const file = join(this.dir, name)
      try {
        const rec = fromJson<R>(await readFile(file, 'utf8'))
        if (typeof rec?.id !== 'string') throw new DealRecordCorruptError(`no id in ${file}`)
        this.cache.set(rec.id, rec)
      } catch {
        corrupt.push(file)
      }
    }
    this.loaded = true
    return { records: [...this.cache.values()], corrupt }
  }

  private async ensureLoaded (): Promise<void> {
    if (!this.loaded) await this.load()
  }

  async get (id: string): Promise<R | undefined> {
    await this.ensureLoaded()
    return this.cache.get(id)
  }

  /** Records not yet in a terminal state: what a restarted node must resume. */
  async open (): Promise<R[]> {
    await this.ensureLoaded()
    return [...this.cache.values()].filter(r => !r.terminal).sort((a, b) => a.updatedAt - b.updatedAt)
  }

  async all (): Promise<R[]> {
    await this.ensureLoaded()
    return [...this.cache.values()]
  }

  async put (record: R): Promise<R> {
    return await this.withLock(record.id, async () => await this.write(record))
  }

  /** Read-modify-write of one record; `fn` sees the current record (or undefined). */
  async update (id: string, fn: (current: R | undefined) => R): Promise<R> {
    await this.ensureLoaded()
    return await this.withLock(id, async () => await this.write(fn(this.cache.get(id))))
  }

  /**
   * Removes terminal records last updated before `olderThanMs` (epoch ms): history is kept for a retention period,
   * not forever. Open records are never removed. Returns how many went.
   */
  async prune (olderThanMs: number): Promise<number> {
    await this.ensureLoaded()
    let n = 0
    for (const r of [...this.cache.values()]) {
      if (!r.terminal || r.updatedAt >= olderThanMs) continue
      await this.withLock(r.id, async () => {
        // re-checked under the lock: an update may have re-opened it meanwhile
        const cur = this.cache.get(r.id)
        if (cur === undefined || !cur.terminal || cur.updatedAt >= olderThanMs) return
        this.cache.delete(r.id)
        await rm(this.path(r.id), { force: true })
        n++
      })
    }
    return n
  }

  /** Records held (open and terminal). */
  get size (): number { return this.cache.size }

  async remove (id: string): Promise<void> {
    await this.withLock(id, async () => {
      this.cache.delete(id)
      await rm(this.path(id), { force: true })
    })
  }

  private async write (record: R): Promise<R> {
    await mkdir(this.dir, { recursive: true })
    const rec = { ...record, updatedAt: this.clock.now() }
    const file = this.path(rec.id)
    const tmp = `${file}.${process.pid}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(toJson(rec, 2))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
    this.cache.set(rec.id, rec)
    return rec
  }

  private async withLock<T> (id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const settled = next.then(() => undefined, () => undefined)
    this.locks.set(id, settled)
    try {
      return await next
    } finally {
      if (this.locks.get(id) === settled) this.locks.delete(id)
    }
  }
}
