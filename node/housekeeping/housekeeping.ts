// A node's periodic upkeep and its status line. Everything long-lived that is not bounded by its own owner is swept
// here on a timer: expired offers and withdrawals in the order book, expired entries in the gossip replay cache,
// terminal deal records past their retention period. Every `statusIntervalMs` the node logs one line saying what it
// is doing (peers, offers known, deals open, chain head, memory), and the same figures go to the metrics, so an
// operator reading the log or a dashboard sees a node that has stalled, lost its peers or leaks.
import { getHeapSpaceStatistics } from 'node:v8'
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import type { Timer } from '../../core/clock.ts'
import type { OrderBook } from '../../protocols/order-book.ts'
import type { GossipService } from '../gossip/gossip.ts'
import type { DealStore, StoredRecord } from '../deal-store/deal-store.ts'
import type { LilypadHost } from '../host/create-host.ts'

export const DEFAULT_STATUS_INTERVAL_MS = 60_000
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000
/** Terminal deal records are kept this long for history, then removed. */
export const DEFAULT_DEAL_RETENTION_MS = 7 * 24 * 3600_000
const CHAIN_TIMEOUT_MS = 5000

export interface HousekeepingInit {
  statusIntervalMs?: number
  sweepIntervalMs?: number
  dealRetentionMs?: number
}

export interface HousekeepingParts {
  host: LilypadHost
  book?: OrderBook
  gossip?: GossipService
  /** the node's deal stores by name; read at each sweep, since roles may start after housekeeping */
  stores?: () => Array<{ name: string, store: DealStore<StoredRecord> }>
  chain?: { provider: { getBlockNumber: () => Promise<number> } }
}

/** One status line's figures. */
export interface NodeStatus {
  peers: number
  connections: number
  streams: number
  bootstrap: string
  storedPeers: number
  unreachable: number
  offers: number
  providers: number
  dealsOpen: number
  dealRecords: number
  /** null while the chain RPC does not answer */
  chainHead: number | null
  rssMb: number
  heapMb: number
  /** the JS heap V8 has reserved (used or not): heapMb far below it is V8 keeping freed pages, not live objects */
  heapTotalMb: number
  /** memory outside the JS heap that JS objects hold (Buffers, ArrayBuffers): tells a buffer leak from allocator growth */
  externalMb: number
  /** V8's compiled code in use (machine code and bytecode): growth here with a flat heapMb is code compiled again and again */
  codeMb: number
  /** objects too large for a regular V8 page (large-object spaces, code excluded), in use */
  largeObjectsMb: number
  handles: number
}

/** V8's spaces for compiled code: machine code (code_*) and, since V8 12, bytecode and its metadata (trusted_*). */
export function isCodeSpace (name: string): boolean {
  return /^(code|trusted|shared_trusted)_/.test(name)
}

/** The used size of V8's code spaces and of its large-object spaces, in MB. */
export function heapSpacesMb (): { codeMb: number, largeObjectsMb: number } {
  let code = 0
  let large = 0
  for (const s of getHeapSpaceStatistics()) {
    if (isCodeSpace(s.space_name)) code += s.space_used_size
    else if (s.space_name.includes('large_object')) large += s.space_used_size
  }
  return { codeMb: Math.round(code / 1048576), largeObjectsMb: Math.round(large / 1048576) }
}

export class Housekeeping {
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly parts: HousekeepingParts
  private readonly init: HousekeepingInit
  private readonly log: Components['logger']
  private readonly timers = new Set<Timer>()
  private readonly inflight = new Set<Promise<unknown>>()
  private running = false
  private chainDown = false
  last: NodeStatus | undefined

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, parts: HousekeepingParts, init: HousekeepingInit = {}) {
    this.c = components
    this.parts = parts
    this.init = init
    this.log = components.logger.child({ component: 'node' })
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.every(this.init.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, async () => { await this.sweep() })
    this.every(this.init.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS, async () => { await this.status() })
  }

  async stop (): Promise<void> {
    this.running = false
    for (const t of this.timers) t.cancel()
    this.timers.clear()
    await Promise.allSettled([...this.inflight])
  }

  /** Expired offers, withdrawals and replay entries; terminal deal records past retention. */
  async sweep (): Promise<{ offers: number, withdrawals: number, replay: number, dealRecords: number }> {
    const now = this.c.clock.now()
    const nowSec = BigInt(Math.floor(now / 1000))
    const book = this.parts.book?.sweep(nowSec) ?? { offers: 0, withdrawals: 0 }
    const replay = this.parts.gossip?.sweep(nowSec) ?? 0
    let dealRecords = 0
    const cutoff = now - (this.init.dealRetentionMs ?? DEFAULT_DEAL_RETENTION_MS)
    for (const { name, store } of this.parts.stores?.() ?? []) {
      try {
        const n = await store.prune(cutoff)
        if (n > 0) {
          dealRecords += n
          this.c.metrics.dealRecordsPruned.inc({ store: name }, n)
          this.log.info({ store: name, removed: n, kept: store.size }, 'removed terminal deal records past their retention')
        }
      } catch (err) {
        reportError(this.c, 'housekeeping', err, 'could not prune deal records', { store: name })
      }
    }
    return { ...book, replay, dealRecords }
  }

  /** The figures of a status line (also what the soak benchmark samples). */
  async snapshot (): Promise<NodeStatus> {
    const host = this.parts.host
    const connections = host.getConnections()
    const reach = host.services.reach.stats()
    let dealsOpen = 0
    let dealRecords = 0
    for (const { store } of this.parts.stores?.() ?? []) {
      dealsOpen += (await store.open()).length
      dealRecords += store.size
    }
    const mem = process.memoryUsage()
    return {
      peers: host.getPeers().length,
      connections: connections.length,
      streams: connections.reduce((n, c) => n + c.streams.length, 0),
      bootstrap: `${reach.connectedBootstrap}/${reach.bootstrap}`,
      // reading the whole peer store also lets libp2p drop the entries that have expired
      storedPeers: (await host.peerStore.all()).length,
      unreachable: reach.unreachable,
      offers: this.parts.book?.size ?? 0,
      providers: this.parts.book?.providers ?? 0,
      dealsOpen,
      dealRecords,
      chainHead: await this.chainHead(),
      rssMb: Math.round(mem.rss / 1048576),
      heapMb: Math.round(mem.heapUsed / 1048576),
      heapTotalMb: Math.round(mem.heapTotal / 1048576),
      externalMb: Math.round(mem.external / 1048576),
      ...heapSpacesMb(),
      handles: process.getActiveResourcesInfo().length
    }
  }

  /** Logs the status line and sets the gauges. */
  async status (): Promise<NodeStatus> {
    const s = await this.snapshot()
    const m = this.c.metrics
    m.peers.set(s.peers)
    m.connections.set(s.connections)
    m.streams.set(s.streams)
    m.unreachablePeers.set(s.unreachable)
    m.bootstrapConnected.set(Number(s.bootstrap.split('/')[0]))
    m.offersKnown.set(s.offers)
    m.providersKnown.set(s.providers)
    if (s.chainHead !== null) m.chainHead.set(s.chainHead)
    this.last = s
    this.log.info(s, 'status')
    return s
  }

  private async chainHead (): Promise<number | null> {
    const chain = this.parts.chain
    if (chain === undefined) return null
    // an I/O timeout: real time, whatever clock schedules the status lines
    let timer: NodeJS.Timeout | undefined
    try {
      const head = await Promise.race([
        chain.provider.getBlockNumber(),
        new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no answer in ${CHAIN_TIMEOUT_MS} ms`)) }, CHAIN_TIMEOUT_MS) })
      ])
      if (this.chainDown) this.log.info({ head }, 'chain RPC answers again')
      this.chainDown = false
      return head
    } catch (err) {
      // every status line while it lasts: an operator tailing the log sees the outage go on
      this.chainDown = true
      reportError(this.c, 'chain', err, 'chain RPC not answering')
      return null
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs `fn` every `ms` on the clock; a run still going when the next is due is not doubled (that one is skipped). */
  private every (ms: number, fn: () => Promise<void>): void {
    let busy: Promise<void> | undefined
    const arm = (): void => {
      const t = this.c.clock.setTimeout(() => {
        this.timers.delete(t)
        if (!this.running) return
        arm()
        if (busy !== undefined) return
        const p: Promise<void> = fn().catch(err => { reportError(this.c, 'housekeeping', err, 'housekeeping task failed') }).finally(() => {
          this.inflight.delete(p)
          busy = undefined
        })
        busy = p
        this.inflight.add(p)
      }, ms)
      this.timers.add(t)
    }
    arm()
  }
}
