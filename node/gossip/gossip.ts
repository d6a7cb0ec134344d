// Gossip service: publishes signed offers and validates what arrives. The pubsub callback only enqueues
// (bounded); a worker validates off the callback and reports every message's verdict exactly once. Accepted
// resource offers go to the order book (if one is kept); listeners hear every accepted message.
import { TopicValidatorResult, type GossipSub, type GossipsubMessage } from '@libp2p/gossipsub'
import { encodeEnvelope, type Envelope } from '../../protocols/codec.ts'
import { MessageValidationError, type ValidationCode } from '../../protocols/errors.ts'
import { gossipTopics, parseTopic, validateGossipAsync, type GossipTopicName } from '../../protocols/gossip/index.ts'
import { ReplayCache } from '../../protocols/replay-cache.ts'
import { PeerBindingCache } from '../../protocols/peer-binding.ts'
import { nowSeconds, type Verified } from '../../protocols/validation.ts'
import type { OrderBook } from '../../protocols/order-book.ts'
import type { LiveOffer } from '../../protocols/matcher.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import type { PeerId } from '@libp2p/interface'
import { sharedVerifier, type SignatureVerifier } from '../verifier/index.ts'
import { quietComponents, reportError, type Components } from '../components.ts'
import { RateLimit, type RateLimitOptions } from '../../core/rate-limit.ts'
import { systemClock } from '../../core/clock.ts'

export interface GossipServiceInit {
  networkId: string
  domain: LilypadDomain
  /** keep live resource offers here (RPs that only announce need none) */
  book?: OrderBook
  /** pending messages beyond this are ignored on arrival (default 4096) */
  queueSize?: number
  replayCapacity?: number
  /** subscribe to job offers too (solvers); default true */
  jobOffers?: boolean
  now?: () => bigint
  /** where signatures are recovered (default: the process's shared verifier: worker threads, or inline slices) */
  verifier?: SignatureVerifier
  /** messages being verified at once (default 64); the rest wait in the queue */
  concurrency?: number
  /**
   * Messages each neighbour may hand us (its forwards included), per second after a burst (default burst 1,024 then
   * 100/s, 4,096 neighbours remembered); the rest are IGNOREd as RATE_LIMITED before they take a place in the queue.
   */
  peerRate?: RateLimitOptions
  components?: Pick<Components, 'logger' | 'metrics'> & Partial<Pick<Components, 'clock'>>
}

/**
 * Honest traffic is far below this: a provider announces a slot at most once a second and re-signs it every few
 * minutes, so a neighbour relaying a thousand providers' start-up bursts fits the burst. One flooding neighbour can
 * take a quarter of the queue at most before its rate binds, so it cannot crowd out the others' messages.
 */
export const DEFAULT_GOSSIP_PEER_RATE: RateLimitOptions = { burst: 1024, perSecond: 100, maxKeys: 4096 }

export interface GossipMetrics {
  received: number
  accepted: number
  rejected: number
  ignored: number
  /** ignored because the queue was full */
  dropped: number
  /** ignored because their neighbour was over its rate */
  rateLimited: number
  byCode: Partial<Record<ValidationCode | 'QUEUE_FULL' | 'RATE_LIMITED' | 'INTERNAL', number>>
}

export interface GossipNode { peerId: PeerId, services: { pubsub: GossipSub } }

/** The parts of the gossipsub router its public interface type leaves out. */
export interface GossipRouter {
  reportMessageValidationResult: (msgId: string, propagationSource: string, acceptance: TopicValidatorResult) => void
  getScore: (peerId: string) => number
  getMeshPeers: (topic: string) => string[]
}

export function routerOf (pubsub: GossipSub): GossipRouter {
  return pubsub as unknown as GossipRouter
}

interface Pending { topic: GossipTopicName, data: Uint8Array, msgId: string, from: string }

export type VerifiedListener = (v: Verified, from: string) => void
export type VerdictListener = (verdict: TopicValidatorResult, code: string | undefined, from: string, msgId: string) => void

/** The started gossip services of each host's pubsub (one per chain on a node serving several). */
const servicesOn = new WeakMap<object, Set<GossipService>>()

export class GossipService {
  readonly topics: ReturnType<typeof gossipTopics>
  readonly metrics: GossipMetrics = { received: 0, accepted: 0, rejected: 0, ignored: 0, dropped: 0, rateLimited: 0, byCode: {} }
  private readonly node: GossipNode
  private readonly init: GossipServiceInit
  private readonly replay: ReplayCache
  private readonly bindings = new PeerBindingCache()
  private inflight = 0
  private readonly components: Pick<Components, 'logger' | 'metrics'>
  private readonly queue: Pending[] = []
  private readonly queueSize: number
  private readonly peerRate: RateLimit
  private readonly listeners = new Set<VerifiedListener>()
  private readonly verdictListeners = new Set<VerdictListener>()
  private scheduled: NodeJS.Immediate | undefined
  private running = false
  private readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => { this.receive(evt.detail) }

  constructor (node: GossipNode, init: GossipServiceInit) {
    this.node = node
    this.init = init
    this.topics = gossipTopics(init.networkId)
    this.replay = new ReplayCache({ capacity: init.replayCapacity })
    this.queueSize = init.queueSize ?? 4096
    this.components = init.components ?? quietComponents()
    this.peerRate = new RateLimit(init.components?.clock ?? systemClock, init.peerRate ?? DEFAULT_GOSSIP_PEER_RATE)
  }

  get book (): OrderBook | undefined { return this.init.book }
  get queueLength (): number { return this.queue.length }
  /** Messages remembered against replays (each until it expires). */
  get replaySize (): number { return this.replay.size }

  /** Periodic upkeep: replay entries of expired messages go (otherwise they wait for the cache to fill). */
  sweep (now: bigint = (this.init.now ?? nowSeconds)()): number {
    const before = this.replay.size
    this.replay.prune(now)
    return before - this.replay.size
  }
  /** this node's peer id (the announcer binds its offers to it) */
  get peerId (): string { return this.node.peerId.toString() }
  private get verifier (): SignatureVerifier { return this.init.verifier ?? sharedVerifier() }

  /** Whether another started gossip service on this host owns `topic` (and so reports its messages' verdicts). */
  private heardByAnother (topic: string): boolean {
    if (topic === this.topics.resourceOffers || topic === this.topics.jobOffers) return false
    for (const g of servicesOn.get(this.node.services.pubsub) ?? []) {
      if (g !== this && (topic === g.topics.resourceOffers || topic === g.topics.jobOffers)) return true
    }
    return false
  }

  start (): void {
    if (this.running) return
    this.running = true
    const pubsub = this.node.services.pubsub
    let mine = servicesOn.get(pubsub)
    if (mine === undefined) servicesOn.set(pubsub, mine = new Set())
    mine.add(this)
    pubsub.addEventListener('gossipsub:message', this.onMessage)
    pubsub.subscribe(this.topics.resourceOffers)
    if (this.init.jobOffers !== false) pubsub.subscribe(this.topics.jobOffers)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    const pubsub = this.node.services.pubsub
    servicesOn.get(pubsub)?.delete(this)
    pubsub.removeEventListener('gossipsub:message', this.onMessage)
    for (const t of [this.topics.resourceOffers, this.topics.jobOffers]) {
      try { pubsub.unsubscribe(t) } catch (err) { reportError(this.components, 'gossip', err, 'unsubscribe failed while stopping', { topic: t }) }
    }
    if (this.scheduled !== undefined) clearImmediate(this.scheduled)
    this.scheduled = undefined
    // every queued message still gets its one verdict
    for (const p of this.queue.splice(0)) this.report(p, TopicValidatorResult.Ignore, 'QUEUE_FULL')
  }

  /** Called with every accepted message. Returns an unsubscribe function. */
  onVerified (fn: VerifiedListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Called with every verdict this node reports (tests and metrics). */
  onVerdict (fn: VerdictListener): () => void {
    this.verdictListeners.add(fn)
    return () => { this.verdictListeners.delete(fn) }
  }

  async publishResourceOffer (env: Envelope<'ResourceOffer'>): Promise<void> {
    await this.publish(this.topics.resourceOffers, env)
  }

  async publishWithdrawal (env: Envelope<'OfferWithdrawal'>): Promise<void> {
    await this.publish(this.topics.resourceOffers, env)
  }

  async publishJobOffer (env: Envelope<'JobOffer'>): Promise<void> {
    await this.publish(this.topics.jobOffers, env)
  }

  private async publish (topic: string, env: Envelope): Promise<void> {
    const data = encodeEnvelope({ ...env, peer: env.peer ?? this.node.peerId.toString() })
    await this.node.services.pubsub.publish(topic, data)
  }

  private receive (m: GossipsubMessage): void {
    // Every gossip service of the host hears every message; a node serving several chains runs one per chain (its
    // own topics, docs/multichain.md), and a message of another's topics gets its one verdict from that one.
    if (this.heardByAnother(m.msg.topic)) return
    const parsed = parseTopic(m.msg.topic)
    const pending = { topic: parsed?.name ?? 'resource-offers', data: m.msg.data, msgId: m.msgId, from: m.propagationSource.toString() } satisfies Pending
    this.metrics.received++
    if (parsed === undefined || parsed.network !== this.init.networkId) {
      this.report(pending, TopicValidatorResult.Reject, 'UNKNOWN_KIND')
      return
    }
    if (!this.peerRate.take(pending.from)) {
      this.metrics.rateLimited++
      this.report(pending, TopicValidatorResult.Ignore, 'RATE_LIMITED')
      return
    }
    if (this.queue.length >= this.queueSize) {
      this.metrics.dropped++
      this.report(pending, TopicValidatorResult.Ignore, 'QUEUE_FULL')
      return
    }
    this.queue.push(pending)
    this.schedule()
  }

  private schedule (): void {
    if (this.scheduled !== undefined || !this.running) return
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined
      this.drain()
    })
  }

  /**
   * Starts verifying queued messages, up to `concurrency` at a time. Decoding and the cheap checks run here; the
   * signature recoveries go to the verifier, so the event loop is never held for a batch of them.
   */
  private drain (): void {
    const limit = this.init.concurrency ?? 64
    while (this.queue.length > 0 && this.inflight < limit && this.running) {
      const p = this.queue.shift() as Pending
      this.inflight++
      void this.validate(p).finally(() => {
        this.inflight--
        if (this.queue.length > 0) this.schedule()
      })
    }
  }

  private async validate (p: Pending): Promise<void> {
    const now = this.init.now ?? nowSeconds
    const book = this.init.book
    const domain = this.init.domain
    let verified: Verified
    try {
      verified = await validateGossipAsync(p.topic, p.data, {
        domain,
        now,
        replay: this.replay,
        bindings: this.bindings,
        ...(book !== undefined ? { knownNonce: (provider: string, slot: number, kind: 'ResourceOffer' | 'OfferWithdrawal') => kind === 'ResourceOffer' ? book.offerNonceOf(provider, slot) : book.nonceOf(provider, slot) } : {})
      }, async (env, bytes, withBinding) => await this.verifier.recover(env, bytes, domain, withBinding))
    } catch (err) {
      if (err instanceof MessageValidationError) {
        this.report(p, err.action === 'REJECT' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore, err.code)
      } else {
        reportError(this.components, 'gossip', err, 'validation failed unexpectedly', { msgId: p.msgId })
        this.report(p, TopicValidatorResult.Ignore, 'INTERNAL')
      }
      return
    }
    const t = now()
    if (verified.kind === 'OfferWithdrawal' && book !== undefined) {
      const w = (verified as Verified<'OfferWithdrawal'>).value
      book.withdraw(w.provider, w.slot, w.nonce, w.expiry, t, verified.signature)
    }
    if (verified.kind === 'ResourceOffer' && book !== undefined) {
      book.add(liveOfferOf(verified as Verified<'ResourceOffer'>), t)
    }
    this.report(p, TopicValidatorResult.Accept, undefined)
    for (const fn of this.listeners) {
      try { fn(verified, p.from) } catch (err) { reportError(this.components, 'gossip', err, 'a verified-message listener threw') }
    }
  }

  private report (p: Pending, verdict: TopicValidatorResult, code: string | undefined): void {
    if (verdict === TopicValidatorResult.Accept) this.metrics.accepted++
    else if (verdict === TopicValidatorResult.Reject) this.metrics.rejected++
    else this.metrics.ignored++
    if (code !== undefined) {
      const k = code as keyof GossipMetrics['byCode']
      this.metrics.byCode[k] = (this.metrics.byCode[k] ?? 0) + 1
    }
    this.components.metrics.gossipVerdicts.inc({ topic: p.topic, verdict, code: code ?? '' })
    try {
      routerOf(this.node.services.pubsub).reportMessageValidationResult(p.msgId, p.from, verdict)
    } catch (err) {
      // the router stopped before our verdict: nothing left to report to
      this.components.logger.debug({ err, msgId: p.msgId }, 'verdict not reported to gossipsub')
    }
    for (const fn of this.verdictListeners) {
      try { fn(verdict, code, p.from, p.msgId) } catch (err) { reportError(this.components, 'gossip', err, 'a verdict listener threw') }
    }
  }
}

/** The order book's form of a verified offer (its bound peer hint kept, so sync can pass the binding on). */
export function liveOfferOf (v: Verified<'ResourceOffer'>): LiveOffer {
  return { offer: v.value, id: v.id, signature: v.signature, ...(v.peer !== undefined ? { peer: v.peer } : {}), ...(v.binding !== undefined ? { binding: v.binding } : {}) }
}
