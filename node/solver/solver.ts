// The solver role, for job creators that keep no order book. A solver keeps the book (through its gossip
// service), hears job offers on the job-offers topic, matches each, and pushes the ranked candidates — the
// providers' own signed offers — to the job creator over /lilypad/<network>/candidates/1.0.0. The job
// creator verifies every candidate's signature and re-checks it against its job with the same pure
// matcher, then negotiates with the providers itself: it signs the deal, the provider countersigns. A
// solver can thus only help or stay silent; it can neither sign for nor bind either party.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { openStream } from '../host/connections.ts'
import { idOf, type LilypadDomain } from '../../protocols/eip712.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import { decodeCandidates, encodeCandidates, MAX_CANDIDATES, MAX_NEGOTIATION_MESSAGE } from '../../protocols/negotiation/messages.ts'
import { isCompatible, match, type Candidate, type LiveOffer } from '../../protocols/matcher.ts'
import { nowSeconds, validateEnvelope, type Verified } from '../../protocols/validation.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { GossipService } from '../gossip/gossip.ts'
import type { StreamNode } from '../negotiation/negotiator.ts'

export interface SolverInit {
  networkId: string
  domain: LilypadDomain
  reputation?: ReadonlyMap<string, number>
  /** candidates sent per job (default 8) */
  limit?: number
  /** job offers waiting to be matched beyond this are dropped (default 1024) */
  queueSize?: number
  concurrency?: number
  timeoutMs?: number
  now?: () => bigint
}

export interface SolverMetrics { heard: number, matched: number, unmatched: number, delivered: number, failed: number, dropped: number }

export class Solver {
  readonly metrics: SolverMetrics = { heard: 0, matched: 0, unmatched: 0, delivered: 0, failed: 0, dropped: 0 }
  private readonly node: StreamNode
  private readonly gossip: GossipService
  private readonly init: SolverInit
  private readonly queue: Array<Verified<'JobOffer'>> = []
  private active = 0
  private unsubscribe: (() => void) | undefined
  private readonly open = new Set<Stream>()
  private readonly idle = new Set<() => void>()

  constructor (node: StreamNode, gossip: GossipService, init: SolverInit) {
    if (gossip.book === undefined) throw new TypeError('a solver needs a gossip service that keeps an order book')
    this.node = node
    this.gossip = gossip
    this.init = init
  }

  start (): void {
    this.unsubscribe ??= this.gossip.onVerified(v => {
      if (v.kind !== 'JobOffer') return
      this.metrics.heard++
      if (this.queue.length >= (this.init.queueSize ?? 1024)) { this.metrics.dropped++; return }
      this.queue.push(v as Verified<'JobOffer'>)
      this.pump()
    })
  }

  async stop (): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.queue.length = 0
    for (const s of this.open) s.abort(new Error('solver stopped'))
    if (this.active > 0) await new Promise<void>(resolve => this.idle.add(resolve))
  }

  /** The ranked candidates this solver would send for a job (pure over its current book). */
  candidatesFor (job: Envelope<'JobOffer'>): Candidate[] {
    const book = this.gossip.book
    if (book === undefined) return []
    return book.match(job.value, { now: (this.init.now ?? nowSeconds)(), limit: Math.min(this.init.limit ?? 8, MAX_CANDIDATES), ...(this.init.reputation !== undefined ? { reputation: this.init.reputation } : {}) })
  }

  private pump (): void {
    while (this.active < (this.init.concurrency ?? 4) && this.queue.length > 0) {
      const job = this.queue.shift() as Verified<'JobOffer'>
      this.active++
      void this.serve(job).finally(() => {
        this.active--
        if (this.active === 0) { for (const r of this.idle) r(); this.idle.clear() }
        this.pump()
      })
    }
  }

  private async serve (job: Verified<'JobOffer'>): Promise<void> {
    if (job.peer === undefined) return
    const candidates = this.candidatesFor(job)
    if (candidates.length === 0) { this.metrics.unmatched++; return }
    this.metrics.matched++
    const body = encodeCandidates({
      type: 'candidates',
      jobOfferId: job.id,
      offers: candidates.map(c => ({ kind: 'ResourceOffer', value: c.live.offer, signature: c.live.signature, ...(c.live.peer !== undefined ? { peer: c.live.peer } : {}), ...(c.live.binding !== undefined ? { binding: c.live.binding } : {}) }))
    })
    const signal = AbortSignal.timeout(this.init.timeoutMs ?? 5000)
    let stream: Stream | undefined
    try {
      stream = await openStream(this.node, peerIdFromString(job.peer), protocols.candidates(this.init.networkId), { signal })
      this.open.add(stream)
      await lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE }).write(body, { signal })
      await stream.close({ signal })
      this.metrics.delivered++
    } catch (err) {
      this.metrics.failed++
      stream?.abort(err as Error)
    } finally {
      if (stream !== undefined) this.open.delete(stream)
    }
  }
}

export class CandidateTimeoutError extends Error {
  static override name = 'CandidateTimeoutError'
  override name = CandidateTimeoutError.name
}

/**
 * Job creator side of the solver path: receives candidate lists for job offers it is waiting on, keeps
 * only offers whose signature verifies and that satisfy the job, and re-ranks them with the matcher.
 */
export class CandidateReceiver {
  private readonly node: StreamNode
  private readonly init: { networkId: string, domain: LilypadDomain, now?: () => bigint }
  private readonly waiting = new Map<string, { job: Envelope<'JobOffer'>, resolve: (c: Candidate[]) => void }>()
  private running = false
  rejectedOffers = 0

  constructor (node: StreamNode, init: { networkId: string, domain: LilypadDomain, now?: () => bigint }) {
    this.node = node
    this.init = init
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await this.node.handle(protocols.candidates(this.init.networkId), (stream) => { void this.receive(stream) }, { maxInboundStreams: 16, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.node.unhandle(protocols.candidates(this.init.networkId))
    for (const w of this.waiting.values()) w.resolve([])
    this.waiting.clear()
  }

  /** Waits for the first non-empty, verified candidate list for `job` from any solver. */
  async awaitCandidates (job: Envelope<'JobOffer'>, options: { signal: AbortSignal }): Promise<Candidate[]> {
    const id = idOf('JobOffer', this.init.domain, job.value)
    return await new Promise<Candidate[]>((resolve, reject) => {
      const onAbort = (): void => { this.waiting.delete(id); reject(new CandidateTimeoutError('no solver sent candidates in time')) }
      options.signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.set(id, { job, resolve: c => { options.signal.removeEventListener('abort', onAbort); resolve(c) } })
    })
  }

  private async receive (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(5000)
    try {
      const msg = decodeCandidates((await lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE }).read({ signal })).subarray())
      // the candidates are read; a close the solver does not complete changes nothing for us
      await stream.close({ signal }).catch(() => { stream.abort(new Error('close failed')) })
      const w = this.waiting.get(msg.jobOfferId)
      if (w === undefined) return
      const now = (this.init.now ?? nowSeconds)()
      const live: LiveOffer[] = []
      for (const env of msg.offers) {
        try {
          // a lying solver cannot redirect us either: the peer hint must be bound by the provider
          const v = validateEnvelope(env, { domain: this.init.domain, now, requirePeerBinding: true })
          const l: LiveOffer = { offer: v.value as LiveOffer['offer'], id: v.id, signature: v.signature, ...(v.peer !== undefined ? { peer: v.peer } : {}), ...(v.binding !== undefined ? { binding: v.binding } : {}) }
          if (isCompatible(w.job.value, l, now)) live.push(l); else this.rejectedOffers++
        } catch {
          this.rejectedOffers++
        }
      }
      if (live.length === 0) return
      const ranked = match(w.job.value, live, { now, limit: MAX_CANDIDATES })
      this.waiting.delete(msg.jobOfferId)
      w.resolve(ranked)
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}
