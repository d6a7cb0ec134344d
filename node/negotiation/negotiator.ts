// Deal negotiation over /lilypad/<network>/deal/1.0.0. The job creator proposes a deal it has signed to
// its ranked candidates in order, falling back to the next on decline, timeout or error, and reports every
// candidate's outcome (its ban policy learns from them). The provider checks the proposal — signatures, its own
// terms (protocols/negotiation/terms.ts), the module (node/modules/policy.ts), the job creator's deposit on chain —
// then reserves the slot atomically and countersigns, or declines with a reason. Every step (dial, write, read,
// the chain read) has a timeout; what one peer may ask of a provider is rate-limited and its faults penalised.
import { lpStream } from '@libp2p/utils'
import { requestReply, RequestReplyError } from '../request-reply.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Signer } from 'ethers'
import type { AbortOptions, Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { openStream, type StreamOpener } from '../host/connections.ts'
import { idOf, recoverSigner, signMessage, type Deal, type LilypadDomain } from '../../protocols/eip712.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import { buildDeal, decodeNegotiation, encodeNegotiation, defaultDealTerms, MAX_NEGOTIATION_MESSAGE, type DealTerms, type DeclineReason } from '../../protocols/negotiation/messages.ts'
import { checkProposal, DeclineError, type CheckedProposal } from '../../protocols/negotiation/proposal.ts'
import { defaultProviderTerms, type ProviderTermsPolicy } from '../../protocols/negotiation/terms.ts'
import type { Candidate } from '../../protocols/matcher.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { CapacityProvider } from './capacity.ts'
import { answerProposal, jobCreatorAtCap } from '../../core/policy/proposal.ts'
import type { IssuedOffer } from '../gossip/announcer.ts'
import { checkModule, ModuleNotServedError, type ModulePolicy } from '../modules/policy.ts'
import { RateLimit } from '../../core/rate-limit.ts'
import { quietComponents, reportError, type Components } from '../components.ts'
import { guardOf, type GuardedHost, type PeerGuard } from '../peer-guard/index.ts'
import type { ProposalFailure } from '../../core/policy/ban.ts'

export interface StreamNode extends StreamOpener {
  peerId: PeerId
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  /** a host's reach service (node/host/reach.ts): dials with re-resolution, knows which peers are unreachable */
  services?: { reach?: { dialProtocol: (peer: PeerId, protocol: string, options?: AbortOptions) => Promise<Stream>, connect?: (peer: PeerId, options?: AbortOptions) => Promise<Connection>, isDemoted: (peer: string) => boolean } }
}

export interface AgreedDeal {
  deal: Deal
  dealId: string
  jobCreatorSignature: string
  providerSignature: string
  /** the provider's libp2p peer id */
  providerPeer: string
  /**
   * the signed job offer the deal belongs to: on the provider's side the one it runs; on the job creator's the one it
   * proposed (with `jobFor`, the matched offer asking for the slot: protocols/slot-ask.ts)
   */
  job?: Envelope<'JobOffer'>
  /** provider side: the job creator's libp2p peer id (results are delivered to it) */
  jobCreatorPeer?: string
}

export interface ProviderRole {
  signer: Signer
  capacity: CapacityProvider
  /** the provider's own live offer with this id (the announcer's ownOffer) */
  ownOffer: (id: string, now: bigint) => IssuedOffer | undefined
  /** how long a reservation waits for the deal to be agreed on chain (default 60 s, and never past the deal's expiry) */
  reservationTtlMs?: number
  onDealAccepted?: (deal: AgreedDeal) => void
  /** terms it signs (defaults: protocols/negotiation/terms.ts) */
  terms?: Partial<ProviderTermsPolicy>
  /** modules it serves (default: the pinned built-ins only) */
  modules?: ModulePolicy
  /**
   * The job creator's free deposit on chain (Market.deposits); when given, a proposal whose price and mediation fee
   * it does not cover is declined UNFUNDED before anything is reserved or signed.
   */
  depositOf?: (account: string, options: { signal: AbortSignal }) => Promise<bigint>
  /** the deposit read gives up after this long (default 4 s, under a job creator's 5 s step; the proposal is then declined INTERNAL) */
  depositTimeoutMs?: number
  /** a deposit read that covered a proposal is trusted this long for the same job creator (default 30 s) */
  depositCacheMs?: number
  /** unconfirmed reservations one job creator may hold at once (default 1) */
  maxReservationsPerJobCreator?: number
}

export interface NegotiationInit {
  networkId: string
  domain: LilypadDomain
  provider?: ProviderRole
  dialTimeoutMs?: number
  stepTimeoutMs?: number
  now?: () => bigint
  /**
   * the chain's clock in seconds (default `now`): a deal's expiry is set and checked against it, since the Market
   * judges it by block time (the nodes pass their chain follower's estimate)
   */
  chainNow?: () => bigint
  components?: Pick<Components, 'clock' | 'logger' | 'metrics'>
  /** penalties and bans shared with the node's other protocols */
  guard?: PeerGuard
  /** proposals one peer may send a provider: burst and per second (default 8 and 2) */
  proposalRate?: { burst: number, perSecond: number }
  /**
   * proposals this node sends one provider peer: burst and per second (default 6 and 1.5, under a provider's default
   * `proposalRate`), shared by all its jobs, so a job creator running many jobs at once waits its turn instead of
   * being refused RATE_LIMITED and penalised as a flooder
   */
  outboundProposalRate?: { burst: number, perSecond: number }
  /** deposit reads in flight at most (default 8); beyond, proposals are declined RATE_LIMITED */
  maxDepositReads?: number
}

export type OutcomeKind = 'accepted' | 'declined' | 'unreachable' | 'timeout' | 'bad-countersignature' | 'malformed-reply' | 'no-peer' | 'error'
  /** not proposed to: `claim` said another job of this node is proposing on that offer now */
  | 'held'

/** What happened when the job creator proposed to one candidate (for its ban policy and for the user). */
export interface CandidateOutcome {
  provider: string
  peer: string | undefined
  resourceOfferId: string
  outcome: OutcomeKind
  /** the provider's reason, when it declined */
  reason?: DeclineReason
  /** what failed, for errors and timeouts */
  detail?: string
  ms: number
}

export class NoDealError extends Error {
  static override name = 'NoDealError'
  override name = NoDealError.name
  /** every candidate asked, in order, with what happened */
  readonly attempts: CandidateOutcome[]
  constructor (attempts: CandidateOutcome[]) {
    super(`no candidate agreed (${attempts.map(a => `${a.provider}: ${outcomeText(a)}`).join('; ') || 'no candidates'})`)
    this.attempts = attempts
  }
}

/** A failed proposal's outcome as the ban policy (core/policy/ban.ts) reads it. */
export function proposalFailureOf (o: CandidateOutcome): ProposalFailure {
  switch (o.outcome) {
    case 'declined': return { outcome: 'declined', reason: o.reason ?? '' }
    case 'timeout': return { outcome: 'no-answer' }
    case 'held': return { outcome: 'held' }
    case 'accepted': return { outcome: 'error' } // never in a NoDealError; an accepted candidate ends the search
    default: return { outcome: o.outcome }
  }
}

export interface NegotiationMetrics { proposed: number, accepted: number, declined: Partial<Record<DeclineReason, number>>, failed: number }

/** Points a peer earns for a proposal that was garbage or forged (it signed or sent it; an honest peer never does). */
const PENALTY: Partial<Record<DeclineReason, number>> = { MALFORMED: 5, BAD_SIGNATURE: 5, RATE_LIMITED: 1 }

function outcomeText (o: CandidateOutcome): string {
  switch (o.outcome) {
    case 'declined': return `declined ${o.reason ?? ''}`
    case 'unreachable': return `unreachable (${o.detail ?? ''})`
    case 'timeout': return `no answer (${o.detail ?? ''})`
    case 'held': return 'another of our jobs is proposing on this offer'
    default: return o.detail !== undefined ? `${o.outcome} (${o.detail})` : o.outcome
  }
}

export interface ProposeOptions {
  terms?: Partial<DealTerms>
  signal?: AbortSignal
  onOutcome?: (o: CandidateOutcome) => void
  lookahead?: number
  /** Takes the offer for this proposal: a release function, or undefined when another proposal holds it. */
  claim?: (resourceOfferId: string) => (() => void) | undefined
  /**
   * The signed job offer proposed to a candidate (default: `job` itself). The job creator's: `job` asking for the
   * whole slot (protocols/slot-ask.ts, jobOfferForSlot), signed with the same nonce, so every deal proposed for the
   * job still shares one nonce and at most one is agreed on chain.
   */
  jobFor?: (candidate: Candidate) => Promise<Envelope<'JobOffer'>>
}

export class DealNegotiator {
  readonly protocol: string
  readonly metrics: NegotiationMetrics = { proposed: 0, accepted: 0, declined: {}, failed: 0 }
  private readonly node: StreamNode
  private readonly init: NegotiationInit
  private readonly components: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly proposals: RateLimit
  private readonly outbound: RateLimit
  private readonly guard: PeerGuard | undefined
  private depositReads = 0
  /** the last deposit read of each job creator (bounded): LRU by insertion */
  private readonly deposits = new Map<string, { have: bigint, at: number }>()
  private running = false
  private readonly open = new Set<Stream>()

  constructor (node: StreamNode, init: NegotiationInit) {
    this.node = node
    this.init = init
    this.protocol = protocols.deal(init.networkId)
    this.components = init.components ?? quietComponents()
    this.proposals = new RateLimit(this.components.clock, init.proposalRate ?? { burst: 8, perSecond: 2 })
    this.outbound = new RateLimit(this.components.clock, { ...(init.outboundProposalRate ?? { burst: 6, perSecond: 1.5 }), maxKeys: 4096 })
    const host = node as Partial<GuardedHost>
    this.guard = init.guard ?? (typeof host.hangUp === 'function' && host.services !== undefined ? guardOf(host as GuardedHost, this.components) : undefined)
  }

  private get now (): bigint { return (this.init.now ?? (() => BigInt(Math.floor(this.components.clock.now() / 1000))))() }
  private get chainNow (): bigint { return this.init.chainNow?.() ?? this.now }
  private get stepMs (): number { return this.init.stepTimeoutMs ?? 5000 }
  private get dialMs (): number { return this.init.dialTimeoutMs ?? 5000 }

  /** Waits until this node may send `peer` another proposal (outboundProposalRate), or the signal aborts. */
  private async paced (peer: string, signal?: AbortSignal): Promise<void> {
    while (!this.outbound.take(peer)) await this.components.clock.sleep(Math.max(1, this.outbound.waitMs(peer)), signal)
  }

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
   * Job creator side: proposes to each candidate in rank order until one countersigns. With `claim`, a candidate
   * whose offer another job of this node is proposing on is passed over ('held'): jobs at once spread over the
   * offers instead of queueing behind one slot that only one of them can get. The same job offer
   * nonce is the nonce of every deal proposed for it, so at most one of them can be agreed on chain. While it
   * talks to one candidate it already dials the next `lookahead` ones, so a list of unreachable candidates costs
   * about one dial timeout per `lookahead` of them rather than one each. `onOutcome` hears every candidate's fate.
   */
  async propose (job: Envelope<'JobOffer'>, candidates: Candidate[], signer: Signer, options: ProposeOptions = {}): Promise<AgreedDeal> {
    const terms = { ...defaultDealTerms, ...options.terms }
    const attempts: CandidateOutcome[] = []
    // providers found unreachable lately go last (stable: the matcher's ranking holds within each group)
    const reach = this.node.services?.reach
    const ordered = reach === undefined ? candidates : [...candidates].sort((a, b) => Number(reach.isDemoted(a.live.peer ?? '')) - Number(reach.isDemoted(b.live.peer ?? '')))
    const dials = new Map<string, Promise<string | undefined>>()
    const lookahead = Math.max(0, options.lookahead ?? 4)
    const predial = (from: number): void => {
      // through reach when the host has it: a provider whose addresses went stale is re-resolved, not skipped
      const dial = reach?.connect !== undefined ? reach.connect.bind(reach) : this.node.dial?.bind(this.node)
      if (dial === undefined) return
      for (let k = from; k < Math.min(ordered.length, from + 1 + lookahead); k++) {
        const peer = ordered[k].live.peer
        if (peer === undefined || dials.has(peer)) continue
        const signal = AbortSignal.any([AbortSignal.timeout(this.dialMs), ...(options.signal !== undefined ? [options.signal] : [])])
        // resolves with why it failed, or undefined when connected
        dials.set(peer, (async () => { try { await dial(peerIdFromString(peer), { signal }); return undefined } catch (err) { return (err as Error).name } })())
      }
    }
    const report = (o: CandidateOutcome): void => {
      attempts.push(o)
      this.components.metrics.negotiations.inc({ side: 'proposer', outcome: o.outcome === 'declined' ? `declined-${o.reason ?? ''}` : o.outcome })
      try { options.onOutcome?.(o) } catch (err) { reportError(this.components, 'negotiation', err, 'an outcome listener threw') }
    }
    for (let i = 0; i < ordered.length; i++) {
      const c = ordered[i]
      options.signal?.throwIfAborted()
      const provider = c.live.offer.provider
      const base = { provider, peer: c.live.peer, resourceOfferId: c.live.id }
      const t0 = this.components.clock.now()
      const ms = (): number => this.components.clock.now() - t0
      if (c.live.peer === undefined) { report({ ...base, outcome: 'no-peer', ms: 0 }); continue }
      const release = options.claim?.(c.live.id)
      if (options.claim !== undefined && release === undefined) { report({ ...base, outcome: 'held', ms: 0 }); continue }
      try {
        predial(i)
        const dialFailure = await dials.get(c.live.peer)
        if (dialFailure !== undefined) {
          options.signal?.throwIfAborted()
          this.metrics.failed++
          report({ ...base, outcome: 'unreachable', detail: dialFailure, ms: ms() })
          continue
        }
        await this.paced(c.live.peer, options.signal)
        const proposed = options.jobFor !== undefined ? await options.jobFor(c) : job
        if (proposed.value.nonce !== job.value.nonce || proposed.value.jobCreator !== job.value.jobCreator) throw new TypeError('jobFor must keep the job offer\'s job creator and nonce')
        const deal = buildDeal(proposed.value, idOf('JobOffer', this.init.domain, proposed.value), c.live.offer, c.live.id, c.mediators, terms, this.chainNow)
        const dealId = idOf('Deal', this.init.domain, deal)
        const jobCreatorSignature = await signMessage('Deal', this.init.domain, deal, signer)
        this.metrics.proposed++
        let reply: ReturnType<typeof decodeNegotiation>
        try {
          reply = await this.exchange(c.live.peer, encodeNegotiation({ type: 'propose', job: proposed, deal: { kind: 'Deal', value: deal, signature: jobCreatorSignature } }), options.signal)
        } catch (err) {
          options.signal?.throwIfAborted()
          this.metrics.failed++
          if (err instanceof RequestReplyError) {
            report({ ...base, outcome: err.phase === 'dial' ? 'unreachable' : err.timedOut ? 'timeout' : 'error', detail: err.message, ms: ms() })
          } else {
            report({ ...base, outcome: 'malformed-reply', detail: (err as Error).name, ms: ms() })
          }
          continue
        }
        if (reply.type === 'accept') {
          let recovered = ''
          try { recovered = recoverSigner('Deal', this.init.domain, deal, reply.providerSignature) } catch { /* reported below as a bad countersignature */ }
          if (reply.dealId !== dealId || recovered.toLowerCase() !== provider.toLowerCase()) {
            this.metrics.failed++
            report({ ...base, outcome: 'bad-countersignature', ms: ms() })
            continue
          }
          this.metrics.accepted++
          report({ ...base, outcome: 'accepted', ms: ms() })
          return { deal, dealId, jobCreatorSignature, providerSignature: reply.providerSignature, providerPeer: c.live.peer, job: proposed }
        }
        if (reply.type === 'decline') {
          this.metrics.declined[reply.reason] = (this.metrics.declined[reply.reason] ?? 0) + 1
          // the provider's limit is lower than ours (or its clock ahead): back off for a whole bucket's refill
          if (reply.reason === 'RATE_LIMITED') this.outbound.take(c.live.peer, this.outbound.tokens(c.live.peer))
          report({ ...base, outcome: 'declined', reason: reply.reason, ms: ms() })
        } else {
          report({ ...base, outcome: 'malformed-reply', detail: 'a proposal in reply', ms: ms() })
        }
      } finally { release?.() }
    }
    throw new NoDealError(attempts)
  }

  private async exchange (peer: string, request: Uint8Array, signal?: AbortSignal): Promise<ReturnType<typeof decodeNegotiation>> {
    const reply = await requestReply(async dialSignal => await openStream(this.node, peerIdFromString(peer), this.protocol, { signal: dialSignal }), request, {
      maxDataLength: MAX_NEGOTIATION_MESSAGE, dialTimeoutMs: this.dialMs, stepMs: this.stepMs, open: this.open, ...(signal !== undefined ? { signal } : {})
    })
    return decodeNegotiation(reply)
  }

  /** Provider side: the chain read that says whether the job creator can pay; undefined when none is configured. */
  private async checkDeposit (role: ProviderRole, checked: CheckedProposal): Promise<void> {
    if (role.depositOf === undefined) return
    const jc = checked.deal.jobCreator.toLowerCase()
    const need = checked.deal.price + checked.deal.mediationFee
    // a deposit that covered as much moments ago is taken as read: the check only filters job creators that cannot
    // pay (what it read may be spent before agree anyway: then our agree reverts, the slot is released and the deal
    // watched until it expires), and a job creator's next job costs no chain read on a loaded RPC
    const seen = this.deposits.get(jc)
    const nowMs = this.components.clock.now()
    if (seen !== undefined && nowMs - seen.at < (role.depositCacheMs ?? 30_000) && seen.have >= need) return
    if (this.depositReads >= (this.init.maxDepositReads ?? 8)) throw new DeclineError('RATE_LIMITED', 'too many deposit checks in flight')
    this.depositReads++
    try {
      let have: bigint
      try {
        have = await role.depositOf(checked.deal.jobCreator, { signal: AbortSignal.timeout(role.depositTimeoutMs ?? 4000) })
      } catch (err) {
        reportError(this.components, 'negotiation', err, 'deposit check failed: declining', { jobCreator: checked.deal.jobCreator })
        throw new DeclineError('INTERNAL', 'could not read the job creator\'s deposit in time')
      }
      this.deposits.delete(jc)
      this.deposits.set(jc, { have, at: this.components.clock.now() })
      if (this.deposits.size > 10_000) this.deposits.delete(this.deposits.keys().next().value as string)
      if (have < need) throw new DeclineError('UNFUNDED', `deposit ${have} does not cover ${need}`)
    } finally {
      this.depositReads--
    }
  }

  /** Provider side: one proposal per stream. */
  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const role = this.init.provider as ProviderRole
    const peer = connection.remotePeer.toString()
    const guard = this.guard
    if (guard?.banned(peer) === true) {
      stream.abort(new Error('banned peer'))
      return
    }
    this.open.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
    const step = (): AbortSignal => AbortSignal.timeout(this.stepMs)
    try {
      let reply: Uint8Array
      let agreed: AgreedDeal | undefined
      try {
        const bytes = (await lp.read({ signal: step() })).subarray()
        // checked before anything is decoded or verified: flooding costs the sender, not us
        if (!this.proposals.take(peer)) throw new DeclineError('RATE_LIMITED', 'too many proposals from this peer')
        const msg = decodeNegotiation(bytes)
        if (msg.type !== 'propose') throw new DeclineError('MALFORMED', 'expected a proposal')
        let module
        try {
          module = checkModule(msg.job.value.module, role.modules)
        } catch (err) {
          if (err instanceof ModuleNotServedError) throw new DeclineError('MODULE', err.message)
          throw err
        }
        const terms = { ...defaultProviderTerms, ...role.terms }
        const provider = await role.signer.getAddress()
        const context = { domain: this.init.domain, provider, terms, fetchSec: module.fetchSec }
        const first = this.now
        let checked = checkProposal(msg, { ...context, now: first, chainNow: this.chainNow, ownOffer: id => role.ownOffer(id, first) })
        const jobCreator = checked.deal.jobCreator
        // NO_CAPACITY, not a fault: an honest job creator running jobs side by side waits or goes elsewhere, and
        // its ban policy does not count it against the provider
        if (jobCreatorAtCap(role.capacity, jobCreator, role.maxReservationsPerJobCreator ?? 1)) {
          throw new DeclineError('NO_CAPACITY', 'this job creator already holds an unconfirmed reservation here')
        }
        await this.checkDeposit(role, checked)
        // time passed during the chain read: the offer, the job and the deal must still be live now
        const now = this.now
        const chainNow = this.chainNow
        if (now !== first) checked = checkProposal(msg, { ...context, now, chainNow, ownOffer: id => role.ownOffer(id, now) })
        // nothing awaits between this check and the reservation: the slot is taken atomically
        const ttlMs = Math.min(role.reservationTtlMs ?? 60_000, Number(checked.deal.expiry - chainNow) * 1000)
        const answer = answerProposal({ ownOfferLive: true, slot: checked.offer.slot, dealId: checked.dealId, reservationTtlMs: ttlMs, jobCreator, maxPerJobCreator: role.maxReservationsPerJobCreator ?? 1 }, role.capacity)
        if (answer !== 'accept') throw new DeclineError(answer, `slot ${checked.offer.slot} is taken, or this job creator holds its share`)
        const providerSignature = await signMessage('Deal', this.init.domain, checked.deal, role.signer)
        reply = encodeNegotiation({ type: 'accept', dealId: checked.dealId, providerSignature })
        agreed = { deal: checked.deal, dealId: checked.dealId, jobCreatorSignature: checked.jobCreatorSignature, providerSignature, providerPeer: this.node.peerId.toString(), job: msg.job, jobCreatorPeer: peer }
      } catch (err) {
        const reason: DeclineReason = err instanceof DeclineError ? err.reason : (err as Error).name === 'MessageValidationError' ? 'MALFORMED' : 'INTERNAL'
        if (reason === 'INTERNAL' && !(err instanceof DeclineError)) reportError(this.components, 'negotiation', err, 'proposal failed unexpectedly', { peer })
        this.metrics.declined[reason] = (this.metrics.declined[reason] ?? 0) + 1
        this.components.metrics.negotiations.inc({ side: 'provider', outcome: `declined-${reason}` })
        const points = PENALTY[reason]
        if (points !== undefined) guard?.penalize(peer, points, `deal proposal: ${reason}`, 'negotiation')
        reply = encodeNegotiation({ type: 'decline', reason })
      }
      try {
        await lp.write(reply, { signal: step() })
        await stream.close({ signal: step() }).catch(() => { stream.abort(new Error('close failed')) })
      } finally {
        // Countersigned is countersigned: even if the reply was lost, the job creator may hold the signature (or
        // get it later from a retry), so the deal is handed on and followed like any other until it expires.
        if (agreed !== undefined) {
          this.metrics.accepted++
          this.components.metrics.negotiations.inc({ side: 'provider', outcome: 'accepted' })
          role.onDealAccepted?.(agreed)
        }
      }
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      this.open.delete(stream)
    }
  }
}
