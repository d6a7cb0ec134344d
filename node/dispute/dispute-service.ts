// The dispute hand-off over /lilypad/<network>/dispute/1.0.0.
// Parties (job creator, provider) keep the cases of their deals and push one to the selected mediator when a
// deal is challenged; they also answer a mediator that pulls a case by deal id (an on-chain random audit can
// start while the job creator is offline, or a push can be lost). A mediator accepts pushes through `onCase`,
// which verifies the case against the chain before acknowledging. One request and one reply per stream; every
// dial, read and write has a timeout.
//
// Anyone can open a dispute stream, so what a stranger can make a node spend is bounded: requests per peer
// (token bucket) and in progress overall, after which the answer is BUSY; a pull is answered only to the mediator
// the chain drew for that deal (`authorizePull`; anyone else hears "unknown", as for a deal never seen); and a peer
// that sends garbage or forged cases loses points in the peer guard, and past its threshold is banned and cut off.
import { lpStream } from '@libp2p/utils'
import { requestReply } from '../request-reply.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { isPeerId, type PeerId, type Stream, type StreamHandler, type StreamHandlerOptions, type Connection } from '@libp2p/interface'
import { openStream, type StreamOpener } from '../host/connections.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import { protocols } from '../../protocols/protocol-id.ts'
import {
  decodeDispute, encodeDispute, MAX_DISPUTE_MESSAGE, DisputeVerificationError,
  type DisputeCase, type DisputeMessage, type RefusalCode
} from '../../protocols/dispute/index.ts'
import { RateLimit } from '../../core/rate-limit.ts'
import { quietComponents, reportError, type Components } from '../components.ts'
import { guardOf, type GuardedHost, type PeerGuard } from '../peer-guard/index.ts'

/** Whether `from` (a peer id) may have the case of a deal: true only for the mediator the chain drew for it. */
export type PullAuthorizer = (c: DisputeCase, from: string) => Promise<boolean>

/** Points for a refused push, by why it was refused: garbage and forgeries cost most. */
const PUSH_PENALTY: Partial<Record<RefusalCode, number>> = { MALFORMED: 5, DEAL_MISMATCH: 5, JOB_OFFER_MISMATCH: 5, FORGED_JOB_OFFER: 5, NOT_CHALLENGED: 2 }

export interface DisputeNode extends StreamOpener {
  peerId: PeerId
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
}

export interface DisputeServiceInit {
  networkId: string
  /** Mediator side: verifies and takes a pushed case; throw a DisputeVerificationError to refuse it. */
  onCase?: (c: DisputeCase, from: string) => Promise<void>
  /** Party side: the case of a deal this node was part of, for pulls (default: the cases remembered here). */
  caseOf?: (dealId: string) => Promise<DisputeCase | undefined> | DisputeCase | undefined
  dialTimeoutMs?: number
  stepTimeoutMs?: number
  /** cases remembered for pulls (default 10,000; oldest first out) */
  maxCases?: number
  /** who may pull a case (default: nobody is refused; the parties' wiring sets the drawn-mediator check) */
  authorizePull?: PullAuthorizer
  components?: Pick<Components, 'clock' | 'logger' | 'metrics'>
  guard?: PeerGuard
  /** requests one peer may make: burst and per second (default 8 and 1) */
  rate?: { burst: number, perSecond: number }
  /** requests in progress at most (default 16) */
  maxActive?: number
}

/** The mediator refused a pushed case; `code` is its reason. */
export class DisputeRefusedError extends Error {
  static override name = 'DisputeRefusedError'
  override name = DisputeRefusedError.name
  readonly code: RefusalCode
  constructor (code: RefusalCode) {
    super(`the mediator refused the case: ${code}`)
    this.code = code
  }
}

export interface DisputeServiceMetrics { pushed: number, pushesReceived: number, refused: number, pulls: number, pullsAnswered: number, pullsRefused: number, busy: number }

export class DisputeService {
  readonly protocol: string
  readonly metrics: DisputeServiceMetrics = { pushed: 0, pushesReceived: 0, refused: 0, pulls: 0, pullsAnswered: 0, pullsRefused: 0, busy: 0 }
  private readonly node: DisputeNode
  private readonly init: DisputeServiceInit
  private readonly cases = new Map<string, DisputeCase>()
  private readonly open = new Set<Stream>()
  private readonly sources = new Set<(dealId: string) => Promise<DisputeCase | undefined> | DisputeCase | undefined>()
  private caseHandler: ((c: DisputeCase, from: string) => Promise<void>) | undefined
  private authorizer: PullAuthorizer | undefined
  private readonly components: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly limit: RateLimit
  private readonly guard: PeerGuard | undefined
  private active = 0
  private running = false

  constructor (node: DisputeNode, init: DisputeServiceInit) {
    this.node = node
    this.init = init
    this.protocol = protocols.dispute(init.networkId)
    if (init.caseOf !== undefined) this.sources.add(init.caseOf)
    this.caseHandler = init.onCase
    this.authorizer = init.authorizePull
    this.components = init.components ?? quietComponents()
    this.limit = new RateLimit(this.components.clock, init.rate ?? { burst: 8, perSecond: 1 })
    const host = node as Partial<GuardedHost>
    this.guard = init.guard ?? (typeof host.hangUp === 'function' && host.services !== undefined ? guardOf(host as GuardedHost, this.components) : undefined)
  }

  /** Adds a source of cases for pulls (e.g. a role's deal store); returns its remover. */
  addSource (fn: (dealId: string) => Promise<DisputeCase | undefined> | DisputeCase | undefined): () => void {
    this.sources.add(fn)
    return () => { this.sources.delete(fn) }
  }

  /** Sets who may pull cases (the parties' wiring: the mediator the chain drew); returns the remover. */
  setPullAuthorizer (fn: PullAuthorizer): () => void {
    this.authorizer = fn
    return () => { if (this.authorizer === fn) this.authorizer = undefined }
  }

  /** Makes this node take pushed cases (the mediator); returns the remover. */
  setCaseHandler (fn: (c: DisputeCase, from: string) => Promise<void>): () => void {
    this.caseHandler = fn
    return () => { if (this.caseHandler === fn) this.caseHandler = undefined }
  }

  private get stepMs (): number { return this.init.stepTimeoutMs ?? 5000 }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await this.node.handle(this.protocol, (stream, connection) => { void this.answer(stream, connection) }, { maxInboundStreams: 32, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.node.unhandle(this.protocol)
    for (const s of this.open) s.abort(new Error('dispute service stopped'))
    this.open.clear()
  }

  /** Keeps a deal's case so a mediator can pull it later. */
  remember (c: DisputeCase): void {
    const id = c.dealId.toLowerCase()
    this.cases.delete(id)
    this.cases.set(id, c)
    const max = this.init.maxCases ?? 10_000
    while (this.cases.size > max) this.cases.delete(this.cases.keys().next().value as string)
  }

  /** Pushes a case to the mediator's peer; resolves when it acknowledged, DisputeRefusedError when it refused. */
  async push (peer: string | PeerId | Multiaddr[], c: DisputeCase, signal?: AbortSignal): Promise<void> {
    this.remember(c)
    const reply = await this.exchange(peer, { type: 'case', ...c }, signal)
    this.metrics.pushed++
    if (reply.type === 'refuse') throw new DisputeRefusedError(reply.code)
    if (reply.type !== 'ack') throw new DisputeRefusedError('MALFORMED')
  }

  /** Asks a party for a deal's case; undefined when it does not know the deal. The caller verifies the case. */
  async pull (peer: string | PeerId | Multiaddr[], dealId: string, signal?: AbortSignal): Promise<DisputeCase | undefined> {
    this.metrics.pulls++
    const reply = await this.exchange(peer, { type: 'request', dealId }, signal)
    if (reply.type !== 'case') return undefined
    return { dealId: reply.dealId, deal: reply.deal, jobOffer: reply.jobOffer }
  }

  private async exchange (peer: string | PeerId | Multiaddr[], msg: DisputeMessage, signal?: AbortSignal): Promise<DisputeMessage> {
    const target = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const reply = await requestReply(async dialSignal => isPeerId(target) ? await openStream(this.node, target, this.protocol, { signal: dialSignal }) : await this.node.dialProtocol(target, this.protocol, { signal: dialSignal, runOnLimitedConnection: true }), encodeDispute(msg), {
      maxDataLength: MAX_DISPUTE_MESSAGE, dialTimeoutMs: this.init.dialTimeoutMs ?? 5000, stepMs: this.stepMs, open: this.open, ...(signal !== undefined ? { signal } : {})
    })
    return decodeDispute(reply)
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.guard?.banned(peer) === true) { stream.abort(new Error('banned peer')); return }
    this.open.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_DISPUTE_MESSAGE })
    const step = (): AbortSignal => AbortSignal.timeout(this.stepMs)
    let counted = false
    try {
      let reply: DisputeMessage
      let msg: DisputeMessage | undefined
      let bytes: Uint8Array
      try {
        bytes = (await lp.read({ signal: step() })).subarray()
      } catch (err) {
        // oversized, or nothing sent in time: an honest party sends one small message at once
        this.guard?.penalize(peer, 2, 'dispute: unreadable request', 'dispute')
        throw err
      }
      if (this.active >= (this.init.maxActive ?? 16) || !this.limit.take(peer)) {
        this.metrics.busy++
        this.components.metrics.limited.inc({ service: 'dispute', action: 'busy' })
        this.guard?.penalize(peer, 1, 'dispute: over its rate', 'dispute')
        reply = { type: 'refuse', code: 'BUSY' }
      } else {
        this.active++
        counted = true
        try { msg = decodeDispute(bytes) } catch { msg = undefined }
        if (msg === undefined) {
          this.guard?.penalize(peer, 5, 'dispute: malformed', 'dispute')
          reply = { type: 'refuse', code: 'MALFORMED' }
        } else if (msg.type === 'case') {
          reply = await this.takePush(msg, peer)
        } else if (msg.type === 'request') {
          reply = await this.answerPull(msg.dealId, peer)
        } else {
          this.guard?.penalize(peer, 5, 'dispute: not a request', 'dispute')
          reply = { type: 'refuse', code: 'MALFORMED' }
        }
      }
      await lp.write(encodeDispute(reply), { signal: step() })
      await stream.close({ signal: step() }).catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      if (counted) this.active--
      this.open.delete(stream)
    }
  }

  private async takePush (msg: DisputeCase, peer: string): Promise<DisputeMessage> {
    this.metrics.pushesReceived++
    const handler = this.caseHandler
    if (handler === undefined) return { type: 'refuse', code: 'NOT_MY_DISPUTE' }
    try {
      await handler({ dealId: msg.dealId, deal: msg.deal, jobOffer: msg.jobOffer }, peer)
      return { type: 'ack' }
    } catch (err) {
      this.metrics.refused++
      const code: RefusalCode = err instanceof DisputeVerificationError ? err.code : 'INTERNAL'
      if (code === 'INTERNAL') reportError(this.components, 'dispute', err, 'a pushed case could not be taken', { dealId: msg.dealId, peer })
      const points = PUSH_PENALTY[code]
      if (points !== undefined) this.guard?.penalize(peer, points, `dispute push: ${code}`, 'dispute')
      return { type: 'refuse', code }
    }
  }

  /** A deal's case, only to the peer allowed to have it; everyone else hears what an unknown deal gets. */
  private async answerPull (dealId: string, peer: string): Promise<DisputeMessage> {
    let found = this.cases.get(dealId.toLowerCase())
    for (const source of this.sources) {
      if (found !== undefined) break
      found = await Promise.resolve(source(dealId)).catch(err => { reportError(this.components, 'dispute', err, 'a case source failed', { dealId }); return undefined })
    }
    if (found === undefined) return { type: 'unknown' }
    const authorize = this.authorizer
    if (authorize !== undefined) {
      let allowed = false
      try { allowed = await authorize(found, peer) } catch (err) { reportError(this.components, 'dispute', err, 'could not check who may pull a case', { dealId, peer }) }
      if (!allowed) {
        this.metrics.pullsRefused++
        this.guard?.penalize(peer, 1, 'dispute: pull of a case not its own', 'dispute')
        return { type: 'unknown' }
      }
    }
    this.metrics.pullsAnswered++
    return { type: 'case', ...found }
  }
}
