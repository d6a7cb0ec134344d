// Keeps a node's ReputationBook (core/reputation) current from the chain: at start the history since the network's
// deploy block (or since the last run: the book is kept in the data dir), then each new range of blocks as the node's
// chain follower moves on (its 'block' event, at most once per `minIntervalMs`), read with eth_getLogs through
// node/incentives/chain-facts.ts — the same reader `lilypad rewards compute` and `lilypad leaderboard` use, so the
// records are the ones anyone computes from the chain. Facts delivered twice (a range read again after a failure) are
// counted once by the book.
//
// Each range is read once: the events of deals still open are kept (bounded) until their final event comes, so a
// closing deal's history is asked of the RPC only when it began before what this feed has read. Reputation does not
// need the audit rate, so no agree transaction is fetched. A `lilypad run` thus costs one read of the blocks since the
// last run, not of the whole chain: before, every run read every log twice and fetched every deal's transaction,
// and its start grew by seconds per hour of a busy devnet (the soak's p95 drift).
import { randomBytes } from 'node:crypto'
import { readFile, writeFile, rename } from 'node:fs/promises'
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import { ReputationBook } from '../../core/reputation/index.ts'
import { dealOutcomes, type MarketFact } from '../../protocols/incentives/outcomes.ts'
import { marketFactsIn, dealHistories, isFinalFact, canaryRecordsIn, dealParties, type ChainFactsSource } from './chain-facts.ts'

export interface ReputationFeedInit {
  source: Omit<ChainFactsSource, 'rewards'> & { rewards?: string }
  /** the node's chain follower: each block it reports may start a read */
  follower?: { on: (e: 'block', fn: (n: number) => void) => unknown, off: (e: 'block', fn: (n: number) => void) => unknown }
  /** at most one read per this many ms (default 30 s) */
  minIntervalMs?: number
  book?: ReputationBook
  /** where the book and the next block are kept between runs (absent: read the whole history at every start; not
   * loaded when `book` is given) */
  stateFile?: string
  /** the state file is written at most this often while running (default 10 min), and at stop */
  saveIntervalMs?: number
  /** open deals whose events are kept until they close (default 20,000; beyond, the oldest are read again at close) */
  maxOpen?: number
}

interface SavedState { v: 1, market: string, deployBlock: number, next: number, book: unknown, open: Array<[string, MarketFact[]]> }

// bigints (prices) in the open deals' facts: written as "123n"
const replacer = (_k: string, v: unknown): unknown => typeof v === 'bigint' ? `${v}n` : v
const reviver = (_k: string, v: unknown): unknown => typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v

export class ReputationFeed {
  get book (): ReputationBook { return this.#book }
  #book: ReputationBook
  readonly #c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  readonly #init: ReputationFeedInit
  /** the next block to read */
  #next: number
  #lastRead = -Infinity
  #lastSave = -Infinity
  #reading: Promise<void> | undefined
  /** events of deals agreed in what we read and not closed yet, oldest first */
  readonly #open = new Map<string, MarketFact[]>()
  readonly #onBlock = (): void => { this.#maybeRead() }

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: ReputationFeedInit) {
    this.#c = { clock: components.clock, metrics: components.metrics, logger: components.logger.child({ component: 'reputation' }) }
    this.#init = init
    this.#book = init.book ?? new ReputationBook()
    this.#next = init.source.deployBlock
  }

  /** The next block this feed will read. */
  get nextBlock (): number { return this.#next }

  /** Loads what the last run kept, reads every block since up to the chain's head, then follows. */
  async start (): Promise<void> {
    await this.#load()
    await this.sync()
    await this.#save()
    this.#init.follower?.on('block', this.#onBlock)
  }

  /** Stops following; the state file (if any) gets what was read. */
  async stop (): Promise<void> {
    this.#init.follower?.off('block', this.#onBlock)
    await this.#reading?.catch(() => {})
    await this.#save().catch(err => { reportError(this.#c, 'reputation', err, 'keeping the reputation book failed; the next start reads those blocks again') })
  }

  /** Reads every block not read yet up to the head; resolves when the book has them. */
  async sync (): Promise<void> {
    while (this.#reading !== undefined) await this.#reading
    this.#reading = this.#read().finally(() => { this.#reading = undefined })
    await this.#reading
  }

  #maybeRead (): void {
    const now = this.#c.clock.now()
    if (this.#reading !== undefined || now - this.#lastRead < (this.#init.minIntervalMs ?? 30_000)) return
    this.#lastRead = now
    this.sync()
      .then(async () => { if (now - this.#lastSave >= (this.#init.saveIntervalMs ?? 600_000)) await this.#save() })
      .catch(err => { reportError(this.#c, 'reputation', err, 'reading the chain for reputation failed; retried at a later block') })
  }

  async #read (): Promise<void> {
    const src = this.#init.source
    const full: ChainFactsSource = { ...src, rewards: src.rewards ?? '' }
    const head = await src.provider.getBlockNumber()
    if (head < this.#next) return
    const from = this.#next
    const facts = await marketFactsIn(full, from, head, { auditPpm: false })
    // events of deals we hold from their DealAgreed on are complete; a deal closing here that began before what we
    // hold (evicted, or agreed before a saved state's range) is read whole
    const closing = new Map<string, MarketFact[]>()
    const unknown = new Set<string>()
    for (const f of facts) {
      let list = this.#open.get(f.dealId)
      if (list === undefined && f.kind === 'DealAgreed') { list = []; this.#open.set(f.dealId, list) }
      if (list === undefined) { if (isFinalFact(f)) unknown.add(f.dealId); continue }
      list.push(f)
      if (isFinalFact(f)) { closing.set(f.dealId, list); this.#open.delete(f.dealId) }
    }
    const closed = [...closing.values()].flat()
    if (unknown.size > 0) closed.push(...await dealHistories(full, unknown, head, { auditPpm: false }))
    for (const d of dealOutcomes(closed)) this.book.addOutcome(d)
    const max = this.#init.maxOpen ?? 20_000
    while (this.#open.size > max) this.#open.delete(this.#open.keys().next().value as string)
    if (src.rewards !== undefined) {
      const canaries = await canaryRecordsIn(full, from, head)
      const parties = await dealParties(full, canaries.map(c => c.dealId), head)
      for (const c of canaries) this.book.addCanary(c, parties.get(c.dealId))
    }
    this.#next = head + 1
    this.#c.logger.debug({ from, to: head, events: facts.length, closed: closing.size + unknown.size, readWhole: unknown.size, open: this.#open.size, providers: this.book.providers().length, banned: this.book.bannedCount() }, 'reputation read from the chain')
  }

  async #load (): Promise<void> {
    const file = this.#init.stateFile
    // a book given by the caller is the caller's: nothing is loaded into it
    if (file === undefined || this.#init.book !== undefined) return
    let text: string
    try { text = await readFile(file, 'utf8') } catch { return }
    const src = this.#init.source
    try {
      const s = JSON.parse(text, reviver) as Partial<SavedState>
      if (s.v !== 1 || typeof s.market !== 'string' || typeof s.next !== 'number' || !Number.isSafeInteger(s.next) || !Array.isArray(s.open)) throw new Error('not a reputation state (version 1)')
      // another deployment (a devnet started again) starts over
      if (s.market.toLowerCase() !== src.market.toLowerCase() || s.deployBlock !== src.deployBlock) {
        this.#c.logger.info({ file, market: s.market, deployBlock: s.deployBlock }, 'the kept reputation book is of another deployment; reading the chain from its deploy block')
        return
      }
      const book = ReputationBook.restore(s.book)
      for (const [id, list] of s.open) if (typeof id === 'string' && Array.isArray(list)) this.#open.set(id, list)
      this.#book = book
      this.#next = Math.max(src.deployBlock, s.next)
      this.#c.logger.debug({ file, next: this.#next, providers: book.providers().length, open: this.#open.size }, 'reputation book loaded')
    } catch (err) {
      this.#c.logger.warn({ file, err: (err as Error).message }, 'the kept reputation book is unreadable; reading the chain from its deploy block')
    }
  }

  async #save (): Promise<void> {
    const file = this.#init.stateFile
    if (file === undefined) return
    this.#lastSave = this.#c.clock.now()
    const s: SavedState = { v: 1, market: this.#init.source.market, deployBlock: this.#init.source.deployBlock, next: this.#next, book: this.book.snapshot(), open: [...this.#open] }
    // a name of its own: two processes on one data dir (two `lilypad run`s at once) never write one temporary file
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, JSON.stringify(s, replacer))
    await rename(tmp, file)
  }
}
