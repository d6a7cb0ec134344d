// Result retention on a provider: its result store would otherwise grow with every job. A startable service
// over ResultStore.prune: on a timer, and after each result added, it removes the provider's own results past
// the age limit, then the oldest until the total fits, never one that keep() holds (an open deal's result
// must stay fetchable for its job creator and mediators). A job creator's downloads are pinned and are not
// touched.
import { EventEmitter } from 'node:events'
import type { CID } from 'multiformats/cid'
import type { PruneOptions, RetentionPolicy, ResultStore } from './result-store.ts'

export interface RetentionOptions {
  /** Default 7 days. */
  maxAgeMs?: number
  /** Default 20 GB. */
  maxTotalBytes?: number
  /** How often to check (default 10 minutes). */
  intervalMs?: number
  /** CIDs (as strings) of results still needed. */
  keep?: (cid: string) => boolean
  /** The clock (default Date.now). */
  now?: () => number
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

export const DEFAULT_RETENTION = Object.freeze({
  maxAgeMs: 7 * 24 * 3600 * 1000,
  maxTotalBytes: 20 * 1000 ** 3,
  intervalMs: 10 * 60 * 1000
})

export interface ResultRetentionEvents {
  pruned: [CID[]]
}

export class ResultRetention extends EventEmitter<ResultRetentionEvents> {
  private readonly store: Pick<ResultStore, 'prune'>
  private readonly opts: RetentionOptions & typeof DEFAULT_RETENTION
  private timer: NodeJS.Timeout | undefined
  private running: Promise<CID[]> | undefined
  private again = false
  private readonly stopping = new AbortController()

  constructor (store: Pick<ResultStore, 'prune'>, opts: RetentionOptions = {}) {
    super()
    this.store = store
    this.opts = { ...DEFAULT_RETENTION, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) }
  }

  get policy (): Required<Omit<RetentionPolicy, 'now'>> { return { maxAgeMs: this.opts.maxAgeMs, maxTotalBytes: this.opts.maxTotalBytes } }

  get started (): boolean { return this.timer !== undefined }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.noteAdded() }, this.opts.intervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    this.stopping.abort()
    await this.running?.catch(() => {})
  }

  /** Prunes now; concurrent calls share one run (one more follows if asked for meanwhile). */
  async check (): Promise<CID[]> {
    if (this.running !== undefined) { this.again = true; return await this.running }
    this.running = (async () => {
      const pruned: CID[] = []
      do {
        this.again = false
        const opts: PruneOptions = { signal: this.stopping.signal, ...(this.opts.keep !== undefined ? { keep: this.opts.keep } : {}) }
        pruned.push(...await this.store.prune({ ...this.policy, now: (this.opts.now ?? Date.now)() }, opts))
      } while (this.again && !this.stopping.signal.aborted)
      return pruned
    })()
    try {
      const pruned = await this.running
      if (pruned.length > 0) {
        this.opts.log?.('pruned results', { count: pruned.length, cids: pruned.map(String) })
        this.emit('pruned', pruned)
      }
      return pruned
    } finally {
      this.running = undefined
    }
  }

  /** Call after adding a result: a check runs in the background (errors are logged, not thrown). */
  noteAdded (): void {
    if (this.stopping.signal.aborted) return
    this.check().catch(err => { this.opts.log?.('pruning results failed', { error: (err as Error).message }) })
  }
}

/**
 * The results of a provider's open deals, which retention keeps: per deal, the CID its record holds now. A deal's
 * CID can change (a parked deal run again writes a new result) and two deals can hold one CID (the same output): a
 * CID is kept while any open deal holds it, and a deal's old CID is let go when it holds another or ends.
 */
export class OpenResults {
  private readonly byDeal = new Map<string, string>()
  private readonly holders = new Map<string, number>()

  /** Deal `deal` holds `cid` now (undefined: none, or it ended); true when `cid` was not kept before. */
  set (deal: string, cid: string | undefined): boolean {
    const before = this.byDeal.get(deal)
    if (before === cid) return false
    if (before !== undefined) {
      this.byDeal.delete(deal)
      const n = (this.holders.get(before) ?? 1) - 1
      if (n > 0) this.holders.set(before, n); else this.holders.delete(before)
    }
    if (cid === undefined) return false
    this.byDeal.set(deal, cid)
    const n = this.holders.get(cid) ?? 0
    this.holders.set(cid, n + 1)
    return n === 0
  }

  has (cid: string): boolean { return this.holders.has(cid) }

  /** how many CIDs are kept */
  get size (): number { return this.holders.size }
}
