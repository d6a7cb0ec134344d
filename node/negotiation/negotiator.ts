// Deal negotiation over /lilypad/<network>/deal/1.0.0. The job creator proposes a deal it has signed to
// its ranked candidates in order, falling back to the next on decline, timeout or error. The provider
// checks the proposal, reserves the slot atomically, countersigns, or declines with a reason. Every step
// (dial, write, read) has a timeout.
import { lpStream } from '@libp2p/utils'
import { requestReply } from '../request-reply.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Signer } from 'ethers'
import type { Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { openStream, type StreamOpener } from '../host/connections.ts'
import { idOf, recoverSigner, signMessage, type Deal, type LilypadDomain } from '../../protocols/eip712.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import { buildDeal, decodeNegotiation, encodeNegotiation, defaultDealTerms, MAX_NEGOTIATION_MESSAGE, type DealTerms, type DeclineReason } from '../../protocols/negotiation/messages.ts'
import { checkProposal, DeclineError } from '../../protocols/negotiation/proposal.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { Candidate } from '../../protocols/matcher.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { CapacityProvider } from './capacity.ts'
import { answerProposal } from '../../core/policy/proposal.ts'
import type { IssuedOffer } from '../gossip/announcer.ts'

export interface StreamNode extends StreamOpener {
  peerId: PeerId
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
}

export interface AgreedDeal {
  deal: Deal
  dealId: string
  jobCreatorSignature: string
  providerSignature: string
  /** the provider's libp2p peer id */
  providerPeer: string
  /** provider side: the signed job offer the deal belongs to (the provider runs it) */
  job?: Envelope<'JobOffer'>
  /** provider side: the job creator's libp2p peer id (results are delivered to it) */
  jobCreatorPeer?: string
}

export interface ProviderRole {
  signer: Signer
  capacity: CapacityProvider
  /** the provider's own live offer with this id (the announcer's ownOffer) */
  ownOffer: (id: string, now: bigint) => IssuedOffer | undefined
  /** how long a reservation waits for the deal to be agreed on chain (default 60 s) */
  reservationTtlMs?: number
  onDealAccepted?: (deal: AgreedDeal) => void
}

export interface NegotiationInit {
  networkId: string
  domain: LilypadDomain
  provider?: ProviderRole
  dialTimeoutMs?: number
  stepTimeoutMs?: number
  now?: () => bigint
}

export class NoDealError extends Error {
  static override name = 'NoDealError'
  override name = NoDealError.name
  readonly attempts: Array<{ provider: string, outcome: string }>
  constructor (attempts: Array<{ provider: string, outcome: string }>) {
    super(`no candidate agreed (${attempts.map(a => `${a.provider}: ${a.outcome}`).join('; ') || 'no candidates'})`)
    this.attempts = attempts
  }
}

export interface NegotiationMetrics { proposed: number, accepted: number, declined: Partial<Record<DeclineReason, number>>, failed: number }

export class DealNegotiator {
  readonly protocol: string
  readonly metrics: NegotiationMetrics = { proposed: 0, accepted: 0, declined: {}, failed: 0 }
  private readonly node: StreamNode
  private readonly init: NegotiationInit
  private running = false
  private readonly open = new Set<Stream>()

  constructor (node: StreamNode, init: NegotiationInit) {
    this.node = node
    this.init = init
    this.protocol = protocols.deal(init.networkId)
  }

  private get now (): bigint { return (this.init.now ?? nowSeconds)() }
  private get stepMs (): number { return this.init.stepTimeoutMs ?? 5000 }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    if (this.init.provider !== undefined) {
      await this.node.handle(this.protocol, (stream, connection) => { void this.answer(stream, connection) }, { maxInboundStreams: 64, runOnLimitedConnection: true })
    }
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.init.provider !== undefined) await this.node.unhandle(this.protocol)
    for (const s of this.open) s.abort(new Error('negotiator stopped'))
    this.open.clear()
  }

  /**
   * Job creator side: proposes to each candidate in rank order until one countersigns. The same job offer
   * nonce is the nonce of every deal proposed for it, so at most one of them can be agreed on chain.
   */
  async propose (job: Envelope<'JobOffer'>, candidates: Candidate[], signer: Signer, options: { terms?: Partial<DealTerms>, signal?: AbortSignal } = {}): Promise<AgreedDeal> {
    const terms = { ...defaultDealTerms, ...options.terms }
    const jobOfferId = idOf('JobOffer', this.init.domain, job.value)
    const attempts: Array<{ provider: string, outcome: string }> = []
    for (const c of candidates) {
      options.signal?.throwIfAborted()
      const provider = c.live.offer.provider
      if (c.live.peer === undefined) { attempts.push({ provider, outcome: 'no peer' }); continue }
      const deal = buildDeal(job.value, jobOfferId, c.live.offer, c.live.id, c.mediators, terms, this.now)
      const dealId = idOf('Deal', this.init.domain, deal)
      const jobCreatorSignature = await signMessage('Deal', this.init.domain, deal, signer)
      this.metrics.proposed++
      try {
        const reply = await this.exchange(c.live.peer, encodeNegotiation({ type: 'propose', job, deal: { kind: 'Deal', value: deal, signature: jobCreatorSignature } }), options.signal)
        if (reply.type === 'accept') {
          let signer = ''
          try { signer = recoverSigner('Deal', this.init.domain, deal, reply.providerSignature) } catch {}
          if (reply.dealId !== dealId || signer.toLowerCase() !== provider.toLowerCase()) {
            attempts.push({ provider, outcome: 'bad countersignature' })
            this.metrics.failed++
            continue
          }
          this.metrics.accepted++
          return { deal, dealId, jobCreatorSignature, providerSignature: reply.providerSignature, providerPeer: c.live.peer }
        }
        if (reply.type === 'decline') {
          this.metrics.declined[reply.reason] = (this.metrics.declined[reply.reason] ?? 0) + 1
          attempts.push({ provider, outcome: `declined ${reply.reason}` })
        } else {
          attempts.push({ provider, outcome: 'unexpected reply' })
        }
      } catch (err) {
        options.signal?.throwIfAborted()
        this.metrics.failed++
        attempts.push({ provider, outcome: `error ${(err as Error).name}` })
      }
    }
    throw new NoDealError(attempts)
  }

  private async exchange (peer: string, request: Uint8Array, signal?: AbortSignal): Promise<ReturnType<typeof decodeNegotiation>> {
    const reply = await requestReply(async dialSignal => await openStream(this.node, peerIdFromString(peer), this.protocol, { signal: dialSignal }), request, {
      maxDataLength: MAX_NEGOTIATION_MESSAGE, dialTimeoutMs: this.init.dialTimeoutMs ?? 5000, stepMs: this.stepMs, open: this.open, ...(signal !== undefined ? { signal } : {})
    })
    return decodeNegotiation(reply)
  }

  /** Provider side: one proposal per stream. */
  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const role = this.init.provider as ProviderRole
    this.open.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
    const step = (): AbortSignal => AbortSignal.timeout(this.stepMs)
    try {
      let reply: Uint8Array
      let agreed: AgreedDeal | undefined
      try {
        const msg = decodeNegotiation((await lp.read({ signal: step() })).subarray())
        if (msg.type !== 'propose') throw new DeclineError('MALFORMED', 'expected a proposal')
        const now = this.now
        const provider = await role.signer.getAddress()
        const checked = checkProposal(msg, { domain: this.init.domain, now, provider, ownOffer: id => role.ownOffer(id, now) })
        // nothing awaits between the check and the reservation: the slot is taken atomically
        const answer = answerProposal({ ownOfferLive: true, slot: checked.offer.slot, dealId: checked.dealId, reservationTtlMs: role.reservationTtlMs ?? 60_000 }, role.capacity)
        if (answer !== 'accept') throw new DeclineError(answer, `slot ${checked.offer.slot} is taken`)
        const providerSignature = await signMessage('Deal', this.init.domain, checked.deal, role.signer)
        reply = encodeNegotiation({ type: 'accept', dealId: checked.dealId, providerSignature })
        agreed = { deal: checked.deal, dealId: checked.dealId, jobCreatorSignature: checked.jobCreatorSignature, providerSignature, providerPeer: this.node.peerId.toString(), job: msg.job, jobCreatorPeer: connection.remotePeer.toString() }
      } catch (err) {
        const reason: DeclineReason = err instanceof DeclineError ? err.reason : (err as Error).name === 'MessageValidationError' ? 'MALFORMED' : 'INTERNAL'
        this.metrics.declined[reason] = (this.metrics.declined[reason] ?? 0) + 1
        reply = encodeNegotiation({ type: 'decline', reason })
      }
      await lp.write(reply, { signal: step() })
      await stream.close({ signal: step() }).catch(() => { stream.abort(new Error('close failed')) })
      if (agreed !== undefined) {
        this.metrics.accepted++
        role.onDealAccepted?.(agreed)
      }
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      this.open.delete(stream)
    }
  }
}
