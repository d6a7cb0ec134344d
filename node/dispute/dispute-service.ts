// The dispute hand-off over /lilypad/<network>/dispute/1.0.0.
// Parties (job creator, provider) keep the cases of their deals and push one to the selected mediator when a
// deal is challenged; they also answer a mediator that pulls a case by deal id (an on-chain random audit can
// start while the job creator is offline, or a push can be lost). A mediator accepts pushes through `onCase`,
// which verifies the case against the chain before acknowledging. One request and one reply per stream; every
// dial, read and write has a timeout.
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

export interface DisputeServiceMetrics { pushed: number, pushesReceived: number, refused: number, pulls: number, pullsAnswered: number }

export class DisputeService {
  readonly protocol: string
  readonly metrics: DisputeServiceMetrics = { pushed: 0, pushesReceived: 0, refused: 0, pulls: 0, pullsAnswered: 0 }
  private readonly node: DisputeNode
  private readonly init: DisputeServiceInit
  private readonly cases = new Map<string, DisputeCase>()
  private readonly open = new Set<Stream>()
  private readonly sources = new Set<(dealId: string) => Promise<DisputeCase | undefined> | DisputeCase | undefined>()
  private caseHandler: ((c: DisputeCase, from: string) => Promise<void>) | undefined
  private running = false

  constructor (node: DisputeNode, init: DisputeServiceInit) {
    this.node = node
    this.init = init
    this.protocol = protocols.dispute(init.networkId)
    if (init.caseOf !== undefined) this.sources.add(init.caseOf)
    this.caseHandler = init.onCase
  }

  /** Adds a source of cases for pulls (e.g. a role's deal store); returns its remover. */
  addSource (fn: (dealId: string) => Promise<DisputeCase | undefined> | DisputeCase | undefined): () => void {
    this.sources.add(fn)
    return () => { this.sources.delete(fn) }
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
    this.open.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_DISPUTE_MESSAGE })
    const step = (): AbortSignal => AbortSignal.timeout(this.stepMs)
    try {
      let reply: DisputeMessage
      let msg: DisputeMessage | undefined
      try {
        msg = decodeDispute((await lp.read({ signal: step() })).subarray())
      } catch {
        msg = undefined // a malformed request: refused below, the stream is the stranger's loss
      }
      if (msg === undefined) {
        reply = { type: 'refuse', code: 'MALFORMED' }
      } else if (msg.type === 'case') {
        this.metrics.pushesReceived++
        const handler = this.caseHandler
        if (handler === undefined) {
          reply = { type: 'refuse', code: 'NOT_MY_DISPUTE' }
        } else {
          try {
            await handler({ dealId: msg.dealId, deal: msg.deal, jobOffer: msg.jobOffer }, connection.remotePeer.toString())
            reply = { type: 'ack' }
          } catch (err) {
            this.metrics.refused++
            reply = { type: 'refuse', code: err instanceof DisputeVerificationError ? err.code : 'INTERNAL' }
          }
        }
      } else if (msg.type === 'request') {
        let found = this.cases.get(msg.dealId.toLowerCase())
        for (const source of this.sources) {
          if (found !== undefined) break
          // a source that fails (its store unreadable) knows nothing: the next source is asked
          found = await Promise.resolve(source(msg.dealId)).catch(() => undefined)
        }
        if (found !== undefined) this.metrics.pullsAnswered++
        reply = found !== undefined ? { type: 'case', ...found } : { type: 'unknown' }
      } else {
        reply = { type: 'refuse', code: 'MALFORMED' }
      }
      await lp.write(encodeDispute(reply), { signal: step() })
      await stream.close({ signal: step() }).catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      this.open.delete(stream)
    }
  }
}
