// One chain follower per chain client: a block cursor over eth_getLogs for the network's contracts, decoding every
// log through the generated typed ABI, feeding every role's subscriptions (by deal id, by event, by argument).
// No filter subscriptions (ethers' filter poller prints to stdout when a poll fails, and loses logs between its
// install and the first poll): one getLogs per new range of blocks, at-least-once delivery (the cursor advances
// after every handler of a range has run), reorg-aware (the hash of the last block processed is checked on the
// next poll; on a mismatch the cursor walks back to the fork and the range is delivered again), with a
// configurable number of confirmations (0 on the devnet, where anvil mines one block per transaction).
import { EventEmitter } from 'node:events'
import type { Log } from 'ethers'
import { decodeMarketLog, decodeJobManagerLog, marketTopics, jobManagerTopics, type MarketEvent, type JobManagerEvent } from '../../contracts/generated/index.ts'
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import type { Timer } from '../../core/clock.ts'
import { BlockCursor } from './cursor.ts'

export interface LogPosition { blockNumber: number, blockHash: string, txHash: string, logIndex: number }

export type ChainEvent = LogPosition & (
  | ({ contract: 'Market' } & MarketEvent)
  | ({ contract: 'JobManager' } & JobManagerEvent)
)

export type MarketChainEvent = LogPosition & { contract: 'Market' } & MarketEvent
export type JobManagerChainEvent = LogPosition & { contract: 'JobManager' } & JobManagerEvent

/** What the follower needs of an RPC (ethers' JsonRpcProvider fits). */
export interface FollowerSource {
  getBlock: (tag: number | 'latest') => Promise<{ number: number, hash: string | null, timestamp: number } | null>
  getLogs: (filter: { address: string | string[], topics?: Array<string | null>, fromBlock: number, toBlock: number }) => Promise<Log[]>
}

export interface ChainFollowerInit {
  source: FollowerSource
  contracts: { market: string, jobManager?: string }
  /** the network's deploy block: the start of every history query */
  deployBlock: number
  /** the first block to scan when no cursor was saved: a block number, or 'latest' (a node that needs no history) */
  startBlock?: number | 'latest'
  /** where the cursor is kept between runs (none: every start begins at `startBlock`) */
  cursorFile?: string
  /** blocks a log must be under before it is delivered (default 0) */
  confirmations?: number
  /** between polls (default 1000 ms) */
  pollMs?: number
  /** blocks per getLogs (default 2000) */
  maxRange?: number
  /** how far back a reorg is looked for (default 64 blocks) */
  reorgDepth?: number
  /**
   * the `chain` label of its head and lag gauges: a further chain of a node serving several (docs/multichain.md);
   * the node's first chain reports them unlabelled, as a one-chain node does
   */
  metricsChain?: string
}

export type EventFilter = {
  contract?: 'Market' | 'JobManager'
  event?: string
  /** every indexed or plain argument named here must match (addresses and ids compare case-insensitively) */
  args?: Record<string, string | bigint | boolean>
}

type Handler = (e: ChainEvent) => void | Promise<void>

export class ChainFollowerStoppedError extends Error {
  static override name = 'ChainFollowerStoppedError'
  override name = 'ChainFollowerStoppedError'
}

const norm = (v: unknown): unknown => typeof v === 'string' ? v.toLowerCase() : v

function matches (f: EventFilter, e: ChainEvent): boolean {
  if (f.contract !== undefined && f.contract !== e.contract) return false
  if (f.event !== undefined && f.event !== e.name) return false
  if (f.args !== undefined) {
    const args = e.args as Record<string, unknown>
    for (const [k, v] of Object.entries(f.args)) if (norm(args[k]) !== norm(v)) return false
  }
  return true
}

export class ChainFollower extends EventEmitter<{ reorg: [{ from: number, depth: number }], block: [number] }> {
  readonly #c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  readonly #init: ChainFollowerInit
  readonly #cursor: BlockCursor | undefined
  readonly #byDeal = new Map<string, Set<Handler>>()
  readonly #filtered = new Set<{ filter: EventFilter, fn: Handler }>()
  /** hashes of recently processed blocks, newest last, for reorg detection */
  #recent: Array<{ number: number, hash: string }> = []
  #next = 0
  #timer: Timer | undefined
  #polling: Promise<void> | undefined
  #running = false
  #failures = 0
  #skewMs = 0
  #waiters: Array<{ block: number, resolve: () => void, reject: (e: Error) => void }> = []
  #pokeAgain = false

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: ChainFollowerInit) {
    super()
    this.#c = { ...components, logger: components.logger.child({ component: 'chain-follower' }) }
    this.#init = init
    this.#cursor = init.cursorFile !== undefined ? new BlockCursor(init.cursorFile, 0) : undefined
  }

  /** The next block to be scanned. */
  get nextBlock (): number { return this.#next }

  get running (): boolean { return this.#running }

  async start (): Promise<void> {
    if (this.#running) return
    let start = this.#init.startBlock ?? 'latest'
    if (this.#cursor !== undefined) {
      this.#cursor.next = -1
      const saved = await this.#cursor.load()
      if (saved >= 0) start = saved
    }
    // the head also tells the chain's clock: a node resuming deals must not think it has more time than it has
    const head = await this.#init.source.getBlock('latest')
    if (head !== null) this.#observe(head.timestamp)
    if (start === 'latest') start = Math.max(0, (head?.number ?? 0) - (this.#init.confirmations ?? 0) + 1)
    // the block before the first one we read: a reorg replacing our first blocks is detected against it
    if (head !== null && head.hash !== null && head.number === start - 1) this.#remember(head.number, head.hash)
    this.#next = start
    // kept from the start: a follower stopped before its first new block resumes from here, not from the head then
    await this.#cursor?.save(start)
    this.#running = true
    this.#schedule(0)
  }

  async stop (): Promise<void> {
    this.#running = false
    this.#timer?.cancel()
    this.#timer = undefined
    await this.#polling
    for (const w of this.#waiters.splice(0)) w.reject(new ChainFollowerStoppedError('the chain follower stopped'))
  }

  /** Every Market event of one deal (every one carries the deal id as its first indexed topic). */
  onDeal (dealId: string, fn: Handler): () => void {
    const key = dealId.toLowerCase()
    let set = this.#byDeal.get(key)
    if (set === undefined) { set = new Set(); this.#byDeal.set(key, set) }
    set.add(fn)
    return () => {
      const s = this.#byDeal.get(key)
      s?.delete(fn)
      if (s?.size === 0) this.#byDeal.delete(key)
    }
  }

  /** Events matching `filter` (by contract, event name, arguments). */
  subscribe (filter: EventFilter, fn: Handler): () => void {
    const sub = { filter, fn }
    this.#filtered.add(sub)
    return () => { this.#filtered.delete(sub) }
  }

  /** Polls now (e.g. after a transaction of ours was mined: there is a new block). */
  poke (): void {
    if (!this.#running) return
    if (this.#polling !== undefined) { this.#pokeAgain = true; return }
    this.#schedule(0)
  }

  /** Resolves once every block up to `block` (default: the current head) has been delivered. */
  async caughtUp (block?: number): Promise<void> {
    const target = block ?? (await this.#init.source.getBlock('latest'))?.number ?? 0
    if (this.#next > target) return
    await new Promise<void>((resolve, reject) => { this.#waiters.push({ block: target, resolve, reject }) })
    this.poke()
  }

  /** Our estimate of the chain's clock (ms): the local clock, moved forward when blocks carry later timestamps. */
  chainNow (): number {
    return this.#c.clock.now() + this.#skewMs
  }

  /** All Market events of one deal from the deploy block up to the head (resume, and deals learned late). */
  async history (dealId: string): Promise<MarketChainEvent[]> {
    const head = await this.#init.source.getBlock('latest')
    if (head === null) return []
    const logs = await this.#init.source.getLogs({ address: this.#init.contracts.market, topics: [null, dealId.toLowerCase()], fromBlock: this.#init.deployBlock, toBlock: head.number })
    return logs.flatMap(l => { const e = this.#decode(l); return e?.contract === 'Market' ? [e as MarketChainEvent] : [] })
  }

  /**
   * Market events of one kind with the given indexed arguments, from `fromBlock` (default the deploy block) to the
   * head, in ranges of `maxRange` blocks (e.g. the challenges naming us that a restarted mediator missed).
   */
  async find<K extends MarketEvent['name']> (event: K, args: Parameters<typeof marketTopics<K>>[1], fromBlock = this.#init.deployBlock): Promise<Array<MarketChainEvent & { name: K }>> {
    return await this.#range(this.#init.contracts.market, marketTopics(event, args), fromBlock, e => e.contract === 'Market' && e.name === event) as Array<MarketChainEvent & { name: K }>
  }

  /** JobManager events of one kind (with the given indexed arguments, any when none) from `fromBlock` to the head. */
  async findJobs<K extends JobManagerEvent['name']> (event: K, fromBlock = this.#init.deployBlock, args?: Parameters<typeof jobManagerTopics<K>>[1]): Promise<Array<JobManagerChainEvent & { name: K }>> {
    const jm = this.#init.contracts.jobManager
    if (jm === undefined) return []
    return await this.#range(jm, jobManagerTopics(event, args), fromBlock, e => e.contract === 'JobManager' && e.name === event) as Array<JobManagerChainEvent & { name: K }>
  }

  async #range (address: string, topics: Array<string | null>, fromBlock: number, keep: (e: ChainEvent) => boolean): Promise<ChainEvent[]> {
    const head = await this.#init.source.getBlock('latest')
    if (head === null) return []
    const out: ChainEvent[] = []
    const step = this.#init.maxRange ?? 2000
    for (let from = Math.max(0, fromBlock); from <= head.number; from += step) {
      const logs = await this.#init.source.getLogs({ address, topics, fromBlock: from, toBlock: Math.min(head.number, from + step - 1) })
      for (const l of logs) { const e = this.#decode(l); if (e !== null && keep(e)) out.push(e) }
    }
    return out
  }

  /** A block's timestamp ahead of our clock (a chain whose time was moved forward) moves our estimate forward. */
  #observe (timestampSec: number): void {
    const ahead = timestampSec * 1000 - this.#c.clock.now()
    if (ahead > this.#skewMs) this.#skewMs = ahead
  }

  #schedule (ms: number): void {
    if (!this.#running) return
    this.#timer?.cancel()
    this.#timer = this.#c.clock.setTimeout(() => {
      this.#timer = undefined
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined
        if (this.#pokeAgain) { this.#pokeAgain = false; this.#schedule(0); return }
        const backoff = this.#failures === 0 ? this.#init.pollMs ?? 1000 : Math.min(10_000, (this.#init.pollMs ?? 1000) * 2 ** Math.min(this.#failures, 4))
        this.#schedule(backoff)
      })
    }, ms)
  }

  #decode (l: Log): ChainEvent | null {
    const pos: LogPosition = { blockNumber: l.blockNumber, blockHash: l.blockHash, txHash: l.transactionHash, logIndex: l.index }
    const address = l.address.toLowerCase()
    if (address === this.#init.contracts.market.toLowerCase()) {
      const e = decodeMarketLog(l)
      return e === null ? null : { ...pos, contract: 'Market', ...e } as ChainEvent
    }
    if (this.#init.contracts.jobManager !== undefined && address === this.#init.contracts.jobManager.toLowerCase()) {
      const e = decodeJobManagerLog(l)
      return e === null ? null : { ...pos, contract: 'JobManager', ...e } as ChainEvent
    }
    return null
  }

  async #poll (): Promise<void> {
    const src = this.#init.source
    try {
      const latest = await src.getBlock('latest')
      if (latest === null) return
      this.#observe(latest.timestamp)
      const target = latest.number - (this.#init.confirmations ?? 0)
      this.#gauge(this.#c.metrics.chainLagBlocks, Math.max(0, latest.number - (this.#next - 1)))
      await this.#checkReorg()
      while (this.#running && this.#next <= target) {
        const to = Math.min(target, this.#next + (this.#init.maxRange ?? 2000) - 1)
        const address = [this.#init.contracts.market, ...(this.#init.contracts.jobManager !== undefined ? [this.#init.contracts.jobManager] : [])]
        const logs = await src.getLogs({ address, fromBlock: this.#next, toBlock: to })
        const last = to === latest.number ? latest : await src.getBlock(to)
        logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)
        for (const l of logs) {
          const e = this.#decode(l)
          if (e !== null) await this.#deliver(e)
        }
        this.#next = to + 1
        if (last?.hash != null) this.#remember(to, last.hash)
        await this.#cursor?.save(this.#next)
        this.#gauge(this.#c.metrics.chainHead, to)
        this.emit('block', to)
      }
      this.#failures = 0
      for (const w of [...this.#waiters]) if (this.#next > w.block) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve() }
    } catch (err) {
      this.#failures++
      this.#c.metrics.chainRetries.inc({ method: 'follow' })
      // one line per outage, not one per poll
      if (this.#failures === 1 || this.#failures % 30 === 0) reportError(this.#c, 'chain-follower', err, 'chain poll failed; retrying', { failures: this.#failures, nextBlock: this.#next })
    }
  }

  async #deliver (e: ChainEvent): Promise<void> {
    const handlers: Handler[] = []
    if (e.contract === 'Market') {
      const dealId = (e.args as { dealId?: string }).dealId
      if (dealId !== undefined) for (const h of this.#byDeal.get(dealId.toLowerCase()) ?? []) handlers.push(h)
    }
    for (const s of this.#filtered) if (matches(s.filter, e)) handlers.push(s.fn)
    for (const h of handlers) {
      try {
        await h(e)
      } catch (err) {
        reportError(this.#c, 'chain-follower', err, 'a chain event handler failed', { event: e.name, block: e.blockNumber })
      }
    }
  }

  #gauge (g: { set: ((value: number) => void) & ((labels: { chain: string }, value: number) => void) }, value: number): void {
    const chain = this.#init.metricsChain
    if (chain === undefined) g.set(value)
    else g.set({ chain }, value)
  }

  #remember (n: number, hash: string): void {
    this.#recent.push({ number: n, hash })
    const depth = this.#init.reorgDepth ?? 64
    if (this.#recent.length > depth) this.#recent = this.#recent.slice(-depth)
  }

  /** If the last block we processed is no longer on the chain, rewinds to the newest one that still is. */
  async #checkReorg (): Promise<void> {
    const last = this.#recent.at(-1)
    if (last === undefined) return
    const now = await this.#init.source.getBlock(last.number)
    if (now?.hash === last.hash) return
    let fork = this.#recent.length - 1
    while (fork >= 0) {
      const r = this.#recent[fork]
      const b = await this.#init.source.getBlock(r.number)
      if (b?.hash === r.hash) break
      fork--
    }
    const from = fork >= 0 ? this.#recent[fork].number + 1 : Math.max(this.#init.deployBlock, (this.#recent[0]?.number ?? this.#next) - 1)
    const depth = this.#next - from
    this.#recent = fork >= 0 ? this.#recent.slice(0, fork + 1) : []
    this.#next = from
    this.#c.logger.warn({ from, depth }, 'chain reorganisation: re-reading the replaced blocks')
    this.#c.metrics.errors.inc({ component: 'chain-follower', kind: 'reorg' })
    this.emit('reorg', { from, depth })
  }
}

/** A follower's chain clock in whole seconds, as deals' expiries count it (the negotiator's `chainNow`). */
export function chainSeconds (chain: { follower: Pick<ChainFollower, 'chainNow'> }): () => bigint {
  return () => BigInt(Math.floor(chain.follower.chainNow() / 1000))
}

/** The follower's next block number, or -1 once `signal` aborts (a chain call retried at each block). */
export async function nextBlock (follower: Pick<ChainFollower, 'on' | 'off'>, signal: AbortSignal): Promise<number> {
  return await new Promise(resolve => {
    if (signal.aborted) { resolve(-1); return }
    const done = (n: number): void => { follower.off('block', done); signal.removeEventListener('abort', aborted); resolve(n) }
    const aborted = (): void => { done(-1) }
    follower.on('block', done)
    signal.addEventListener('abort', aborted, { once: true })
  })
}
