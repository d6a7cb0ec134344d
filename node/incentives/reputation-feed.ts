// Keeps a node's ReputationBook (core/reputation) current from the chain: at start the whole history since the
// network's deploy block, then each new range of blocks as the node's chain follower moves on (its 'block' event,
// at most once per `minIntervalMs`), read with eth_getLogs through node/incentives/chain-facts.ts — the same reader
// `lilypad rewards compute` and `lilypad leaderboard` use, so the records are the ones anyone computes from the chain.
// Facts delivered twice (a range read again after a failure) are counted once by the book.
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import { ReputationBook } from '../../core/reputation/index.ts'
import { dealOutcomes } from '../../protocols/incentives/outcomes.ts'
import { closedDealFacts, canaryRecordsIn, dealParties, type ChainFactsSource } from './chain-facts.ts'

export interface ReputationFeedInit {
  source: Omit<ChainFactsSource, 'rewards'> & { rewards?: string }
  /** the node's chain follower: each block it reports may start a read */
  follower?: { on: (e: 'block', fn: (n: number) => void) => unknown, off: (e: 'block', fn: (n: number) => void) => unknown }
  /** at most one read per this many ms (default 30 s) */
  minIntervalMs?: number
  book?: ReputationBook
}

export class ReputationFeed {
  readonly book: ReputationBook
  readonly #c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  readonly #init: ReputationFeedInit
  /** the next block to read */
  #next: number
  #lastRead = -Infinity
  #reading: Promise<void> | undefined
  readonly #onBlock = (): void => { this.#maybeRead() }

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: ReputationFeedInit) {
    this.#c = { clock: components.clock, metrics: components.metrics, logger: components.logger.child({ component: 'reputation' }) }
    this.#init = init
    this.book = init.book ?? new ReputationBook()
    this.#next = init.source.deployBlock
  }

  /** Reads the history up to the chain's head, then follows. */
  async start (): Promise<void> {
    await this.sync()
    this.#init.follower?.on('block', this.#onBlock)
  }

  stop (): void {
    this.#init.follower?.off('block', this.#onBlock)
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
    this.sync().catch(err => { reportError(this.#c, 'reputation', err, 'reading the chain for reputation failed; retried at a later block') })
  }

  async #read (): Promise<void> {
    const src = this.#init.source
    const head = await src.provider.getBlockNumber()
    if (head < this.#next) return
    const from = this.#next
    for (const d of dealOutcomes(await closedDealFacts({ ...src, rewards: src.rewards ?? '' }, from, head))) this.book.addOutcome(d)
    if (src.rewards !== undefined) {
      const full: ChainFactsSource = { ...src, rewards: src.rewards }
      const canaries = await canaryRecordsIn(full, from, head)
      const parties = await dealParties(full, canaries.map(c => c.dealId), head)
      for (const c of canaries) this.book.addCanary(c, parties.get(c.dealId))
    }
    this.#next = head + 1
    this.#c.logger.debug({ from, to: head, providers: this.book.providers().length, banned: this.book.bannedCount() }, 'reputation read from the chain')
  }
}
