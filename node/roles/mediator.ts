// The mediator role. The chain follower tells it of challenges (and on-chain random audits) that drew it; each
// dispute follows the mediator lifecycle (core/lifecycle/mediator.ts): obtain the case (pushed by a party over the
// dispute protocol, or pulled from the job creator or the provider when no push came in time), check it against
// the chain, re-run the job with the same pinned module, image, inputs and limits, add the result directory to its
// own Helia store and post mediate(deal, resultCorrect) — correct when its CID equals the one the provider
// submitted. Disputes are kept on disk; a restarted mediator resumes them and looks for challenges it missed from
// the block it had reached. A dispute it cannot obtain or run before the mediation deadline is left alone: anyone
// can then call timeoutMediation, which lets the provider's result stand and refunds the fee (docs/mediation.md).
// A committee's dispute (CommitteeDrawn names us among its members) goes the same way to the re-run, then commits a
// vote, reveals it and finalizes (core/lifecycle/mediator.ts, stepCommittee); without the case by the commit
// deadline it votes "no case", naming the deal by the terms its agree transaction carried.
// A contract job's dispute (JobManager: JobMediatorDrawn names us) is judged by `jobs` (node/roles/job-mediator.ts)
// with the same re-run (`reexecute`), one job at a time across both kinds of case.
import { EventEmitter } from 'node:events'
import { keccak256, toUtf8Bytes } from 'ethers'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { NetworkFile } from '../config/network.ts'
import { Roles, type ChainClient, type MarketChainEvent } from '../chain/index.ts'
import { BlockCursor } from '../chain/cursor.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import type { ResultStore } from '../result-store/index.ts'
import type { JobExecutor } from '../executor/index.ts'
import { loadModule, pinSpecImage, containerResources, type ResolveOptions } from '../modules/index.ts'
import { Directory } from '../directory/index.ts'
import { DisputeService, type DisputeNode } from '../dispute/dispute-service.ts'
import { locatePeer, dhtRecords } from '../dispute/locate.ts'
import { verifyDisputeCase, NotChallengedError, DisputeVerificationError, type DisputeCase } from '../../protocols/dispute/index.ts'
import type { Deal, LilypadDomain } from '../../protocols/eip712.ts'
import { reportError, type Components } from '../components.ts'
import { LifecycleDriver, followClock, type Lifecycle } from '../lifecycle/driver.ts'
import { chainCall } from '../lifecycle/chain-call.ts'
import { newDispute, stepMediator, freeVoteSlot, mediatorFailure, defaultMediatorTiming, type MediatorDispute, type MediatorEvent, type MediatorAction, type MediatorPolicy } from '../../core/lifecycle/mediator.ts'
import type { DealFacts } from '../../core/lifecycle/facts.ts'
import { voteCommitment, Vote, type VoteValue } from '../../protocols/settlement/committee.ts'
import { COMMITTEE, UNDRAWN } from '../../protocols/settlement/index.ts'
import { setNewest } from '../../core/bounded.ts'
import { JobMediator } from './job-mediator.ts'
import { FetchSlots, inputPolicy, isJobInputFault, stageJobInputs, writeInputErrorResult, type InputPolicy, type StagedInputs } from '../inputs/index.ts'

/** The mediator's record of one dispute: the lifecycle's data. */
export type DisputeRecord = MediatorDispute

export interface MediatorHost extends DisputeNode {
  getMultiaddrs: () => Multiaddr[]
  services: { dht: KadDHT } & NonNullable<DisputeNode['services']>
}

/** deals whose result details a mediator keeps (see Mediator.details) */
const MAX_DETAILS = 10_000

/**
 * The mediator could not stage the job's inputs although the provider's result says it did: it cannot judge the
 * result, so it abstains (the deal's mediation times out and the result stands).
 */
export class InputsNotStagedError extends Error {
  static override name = 'InputsNotStagedError'
  override name = 'InputsNotStagedError'
  readonly hint = 'a mediator that cannot fetch a job\'s inputs must not slash the provider that did: check this node\'s input policy (--input-allow) and its connectivity'
  constructor (cause: Error & { summary?: string }) {
    super(`the job's inputs could not be staged here (${cause.name}: ${cause.summary ?? cause.message}), though the provider's result is not that failure`, { cause })
  }
}

export interface MediatorInit {
  host: MediatorHost
  /** the libp2p key of `host`, to publish a signed directory record (skipped when absent) */
  peerKey?: PrivateKey
  chain: ChainClient
  store: ResultStore
  executor: JobExecutor
  network: NetworkFile
  /** the host's dispute service (made here when absent) */
  disputes?: DisputeService
  /** state lives in <dataDir>/mediator */
  dataDir: string
  /** how long to wait for a push before pulling the case (default 5 s) */
  pullAfterMs?: number
  /** between pull rounds (default 5 s) */
  pullIntervalMs?: number
  /** a verdict is not attempted when less than this remains before the deadline (default 30 s) */
  marginSec?: number
  /** register in the Directory contract with this host's peer id (default true; the owner must have approved the key) */
  register?: boolean
  /**
   * A test fault: on a committee, commit the opposite verdict to the one the re-run gave (a lying member, for the
   * e2e that shows a liar outvoted and slashed). Never set in a real node.
   */
  fault?: 'inverted-vote'
  modules?: ResolveOptions
  /**
   * The modules a disputed contract job may name for this mediator to re-run (default: the built-in registry's
   * versioned names, as bridges allow); a dispute of any other is left to time out (node/roles/job-mediator.ts).
   */
  jobModules?: string[]
  /** what a job's inputs may make this mediator fetch (default DEFAULT_INPUT_POLICY, as providers) */
  inputPolicy?: Partial<InputPolicy>
}

export interface MediatorMetrics {
  disputesSeen: number
  casesPushed: number
  casesPulled: number
  casesRefused: number
  verdicts: { correct: number, wrong: number }
  abandoned: number
  failedRuns: number
}

export interface VerdictEvent { dealId: string, resultCorrect: boolean, resultCid: string, mediatorCid: string }

export class Mediator extends EventEmitter<{ verdict: [VerdictEvent], abandoned: [{ dealId: string, reason: string }], failure: [Error] }> {
  readonly metrics: MediatorMetrics = { disputesSeen: 0, casesPushed: 0, casesPulled: 0, casesRefused: 0, verdicts: { correct: 0, wrong: 0 }, abandoned: 0, failedRuns: 0 }
  readonly disputes: DisputeService
  readonly records: DealStore<DisputeRecord>
  /** commitment slots are picked one at a time (reserveVoteSlot) */
  private slotPicks: Promise<void> = Promise.resolve()
  readonly directory: Directory | undefined
  readonly driver: LifecycleDriver<MediatorDispute, MediatorEvent, MediatorAction, DealFacts>
  /** contract jobs' disputes that draw us (JobManager), judged with the same re-run */
  readonly jobs: JobMediator
  private readonly init: MediatorInit
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  /** input fetches at once across this mediator's re-runs */
  private readonly fetchSlots: FetchSlots
  private readonly domain: LilypadDomain
  private readonly dir: string
  private readonly cursor: BlockCursor
  private readonly ownsDisputes: boolean
  private readonly policy: MediatorPolicy
  /**
   * The submitted CID and the provider of recent deals, from the chain's events (every result submitted: a dispute
   * may draw us later). The newest MAX_DETAILS; a dispute whose deal is no longer here reads its history.
   */
  private readonly details = new Map<string, { resultCid?: string, resourceProvider?: string, mediator?: string, members?: string[], jobCreator?: string, audit?: boolean }>()
  private readonly offs: Array<() => void> = []
  private running = false
  private queue: Promise<void> = Promise.resolve()

  private constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: MediatorInit) {
    super()
    this.init = init
    this.c = { ...components, logger: components.logger.child({ component: 'mediator' }) }
    this.fetchSlots = new FetchSlots(inputPolicy(init.inputPolicy).maxConcurrentFetches)
    this.domain = { chainId: BigInt(init.network.chainId), verifyingContract: init.network.contracts.market }
    this.dir = join(init.dataDir, 'mediator')
    this.cursor = new BlockCursor(join(this.dir, 'cursor.json'), init.network.deployBlock)
    this.records = new DealStore<DisputeRecord>(join(this.dir, 'disputes'))
    this.ownsDisputes = init.disputes === undefined
    this.disputes = init.disputes ?? new DisputeService(init.host, { networkId: init.network.networkId })
    this.directory = init.peerKey !== undefined
      ? new Directory(init.host, { networkId: init.network.networkId, domain: this.domain, signer: init.chain.wallet, privateKey: init.peerKey })
      : undefined
    this.policy = { self: init.chain.address, pullAfterMs: init.pullAfterMs ?? defaultMediatorTiming.pullAfterMs, pullIntervalMs: init.pullIntervalMs ?? defaultMediatorTiming.pullIntervalMs, marginSec: init.marginSec ?? defaultMediatorTiming.marginSec }
    this.driver = new LifecycleDriver(components, this.lifecycle(), this.records, { now: () => init.chain.follower.chainNow(), clockMoved: listener => followClock(init.chain.follower, listener) })
    this.driver.on('change', (rec, prev) => { this.onChange(rec, prev) })
    this.jobs = new JobMediator(components, {
      chain: init.chain,
      dir: this.dir,
      rerun: async (id, job, delivered, signal) => await this.reexecute(id, job, delivered, signal),
      ...(init.modules?.modulesDir !== undefined ? { modulesDir: init.modules.modulesDir } : {}),
      ...(init.jobModules !== undefined ? { allowedModules: init.jobModules } : {})
    })
  }

  static async create (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: MediatorInit): Promise<Mediator> {
    return new Mediator(components, init)
  }

  get address (): string { return this.init.chain.address }

  /** Registers, publishes its record, resumes stored disputes and follows the chain for new ones. */
  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await mkdir(this.dir, { recursive: true })
    const chain = this.init.chain
    if (this.init.register !== false) await chain.ensureRole(Roles.Mediator, this.init.host.peerId.toString())
    this.offs.push(this.disputes.setCaseHandler(async (c, from) => { await this.takeCase(c, 'push', from) }))
    if (this.ownsDisputes) await this.disputes.start()
    // In the background and kept published (records expire after an hour; a restarted DHT server forgets them):
    // a fresh DHT may have no peers yet, and the chain record names us anyway. Failures are logged and retried.
    this.directory?.keepPublished({ roles: ['mediator'], log: this.c.logger })
    // live challenges first, then the ones we missed while down (a challenge seen twice is one record)
    // a single mediator is drawn after the dispute's block, from its hash (MediatorDrawn names it; DealChallenged does not)
    this.offs.push(chain.follower.subscribe({ contract: 'Market', event: 'MediatorDrawn', args: { mediator: this.address } }, async e => { await this.onChallenged(e as MarketChainEvent) }))
    this.offs.push(chain.follower.subscribe({ contract: 'Market', event: 'ResultSubmitted' }, e => { this.remember(e as MarketChainEvent) }))
    // a committee names its members in its event, not in DealChallenged (whose mediator is then the zero address)
    this.offs.push(chain.follower.subscribe({ contract: 'Market', event: 'CommitteeDrawn' }, async e => { await this.onDrawn(e as MarketChainEvent) }))
    const blockListener = (n: number): void => { void this.cursor.save(n + 1).catch(err => { reportError(this.c, 'mediator', err, 'could not save the mediator cursor') }) }
    chain.follower.on('block', blockListener)
    this.offs.push(() => { chain.follower.off('block', blockListener) })
    if (!chain.follower.running) await chain.follower.start()
    const from = await this.cursor.load()
    for (const e of await chain.follower.find('MediatorDrawn', { mediator: this.address }, from)) await this.onChallenged(e)
    for (const e of await chain.follower.find('CommitteeDrawn', {}, from)) await this.onDrawn(e)
    await this.driver.resume()
    await this.jobs.start(from)
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const off of this.offs.splice(0)) off()
    await this.jobs.stop()
    await this.directory?.stop()
    await this.driver.stop()
    if (this.ownsDisputes) await this.disputes.stop()
  }

  private remember (e: MarketChainEvent): void {
    const id = (e.args as { dealId?: string }).dealId?.toLowerCase()
    if (id === undefined) return
    if (e.name === 'ResultSubmitted') setNewest(this.details, id, { ...this.details.get(id), resultCid: e.args.resultCid, resourceProvider: e.args.resourceProvider }, MAX_DETAILS)
    if (e.name === 'DealChallenged') setNewest(this.details, id, { ...this.details.get(id), jobCreator: e.args.jobCreator, audit: e.args.audit }, MAX_DETAILS)
    if (e.name === 'MediatorDrawn') setNewest(this.details, id, { ...this.details.get(id), mediator: e.args.mediator, jobCreator: e.args.jobCreator }, MAX_DETAILS)
    if (e.name === 'CommitteeDrawn') setNewest(this.details, id, { ...this.details.get(id), members: [...e.args.members] }, MAX_DETAILS)
  }

  /** A committee was drawn: a dispute of ours when we are on it (docs/mediation.md, "Committees"). */
  private async onDrawn (e: MarketChainEvent): Promise<void> {
    if (e.name !== 'CommitteeDrawn') return
    this.remember(e)
    if (!e.args.members.some(m => m.toLowerCase() === this.address.toLowerCase())) return
    const dealId = e.args.dealId.toLowerCase()
    if (await this.records.get(dealId) !== undefined) return
    // the job creator (whom we may pull the case from) is in the dispute's DealChallenged, an earlier transaction (the
    // draw comes with the parties' second seed reveal)
    let jobCreator = this.details.get(dealId)?.jobCreator
    if (jobCreator === undefined) {
      for (const h of await this.init.chain.follower.history(dealId)) this.remember(h)
      jobCreator = this.details.get(dealId)?.jobCreator
    }
    if (jobCreator === undefined) {
      this.c.logger.warn({ dealId }, 'a committee drew us, but the chain shows no challenge of the deal (yet): not taken up')
      return
    }
    this.metrics.disputesSeen++
    this.c.logger.info({ dealId, audit: e.args.audit, members: e.args.members }, 'a committee drew us')
    await this.driver.add(newDispute({ dealId, jobCreator, audit: e.args.audit }, this.driver.now()))
  }

  /** The draw of a single mediator's dispute named us (MediatorDrawn); whether it is an audit, its DealChallenged says. */
  private async onChallenged (e: MarketChainEvent): Promise<void> {
    if (e.name !== 'MediatorDrawn') return
    this.remember(e)
    const dealId = e.args.dealId.toLowerCase()
    if (await this.records.get(dealId) !== undefined) return
    if (this.details.get(dealId)?.audit === undefined) for (const h of await this.init.chain.follower.history(dealId)) this.remember(h)
    const audit = this.details.get(dealId)?.audit ?? false
    this.metrics.disputesSeen++
    this.c.logger.info({ dealId, audit }, 'a dispute drew us')
    await this.driver.add(newDispute({ dealId, jobCreator: e.args.jobCreator, audit }, this.driver.now()))
  }

  private onChange (rec: MediatorDispute, prev: MediatorDispute | undefined): void {
    if (!rec.terminal || prev?.terminal === true) return
    if (rec.phase === 'done' && rec.verdictSent && rec.resultCorrect !== undefined) {
      if (rec.resultCorrect) this.metrics.verdicts.correct++
      else this.metrics.verdicts.wrong++
      this.emit('verdict', { dealId: rec.dealId, resultCorrect: rec.resultCorrect, resultCid: rec.resultCid ?? '', mediatorCid: rec.mediatorCid ?? '' })
    } else if (rec.phase === 'abandoned') {
      this.metrics.abandoned++
      this.emit('abandoned', { dealId: rec.dealId, reason: rec.reason ?? '' })
    } else {
      this.emit('abandoned', { dealId: rec.dealId, reason: rec.reason ?? 'closed' })
    }
  }

  // ---- cases ----

  /** Verifies a case against the chain and keeps it. Throws a DisputeVerificationError to refuse it. */
  private async takeCase (c: DisputeCase, via: 'push' | 'pull', _from?: string): Promise<void> {
    const dealId = c.dealId.toLowerCase()
    verifyDisputeCase(c, this.domain, dealId)
    let rec = await this.records.get(dealId)
    if (rec === undefined) {
      // the push can beat the follower: look for the challenge (or the committee) on chain now
      const found = await this.init.chain.follower.find('MediatorDrawn', { dealId, mediator: this.address })
      if (found.length > 0) await this.onChallenged(found[0])
      else for (const e of await this.init.chain.follower.find('CommitteeDrawn', { dealId })) await this.onDrawn(e)
      rec = await this.records.get(dealId)
      if (rec === undefined) throw new NotChallengedError(`no challenge of deal ${dealId} drew mediator ${this.address}`)
    }
    if (rec === undefined) throw new NotChallengedError(`deal ${dealId} is not a dispute of ours`)
    if (rec.deal !== undefined) return // already have it (the same deal: its id binds every term)
    if (via === 'push') this.metrics.casesPushed++
    else this.metrics.casesPulled++
    await this.driver.dispatch(dealId, { type: 'case', deal: c.deal, jobOffer: c.jobOffer, via })
  }

  // ---- the lifecycle's shell ----

  private lifecycle (): Lifecycle<MediatorDispute, MediatorEvent, MediatorAction, DealFacts> {
    const chain = this.init.chain
    return {
      role: 'mediator',
      step: (rec, input) => stepMediator(rec, input, this.policy),
      failure: mediatorFailure,
      facts: async rec => {
        const r = await chain.dealRecord(rec.dealId)
        let d = this.details.get(rec.dealId)
        if (d?.resultCid === undefined && r.state !== 'None' && r.state !== 'Agreed') {
          for (const e of await chain.follower.history(rec.dealId)) this.remember(e)
          d = this.details.get(rec.dealId)
        }
        if (r.mediatorIndex === COMMITTEE && r.state === 'Challenged') {
          if (d?.members === undefined) {
            for (const e of await chain.follower.history(rec.dealId)) this.remember(e)
            d = this.details.get(rec.dealId)
          }
          // the deal's terms may be unknown to us yet: CommitteeDrawn named the members
          const committee = await chain.committeeFacts(rec.dealId, { members: d?.members ?? [] })
          if (committee === undefined) {
            // finalized between the two reads (the Market clears the committee then): the deal's state now
            const now = await chain.dealRecord(rec.dealId)
            if (now.state === 'Challenged') throw new Error(`deal ${rec.dealId} is challenged by a committee the Market does not show`)
            return { state: now.state, since: now.since, ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}) }
          }
          return { state: r.state, since: r.since, ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}), committee }
        }
        // (UNDRAWN is no index: a record of ours was named by MediatorDrawn, so the draw came first)
        const mediator = rec.deal !== undefined && r.mediatorIndex !== UNDRAWN ? rec.deal.value.mediators[r.mediatorIndex] : d?.mediator
        return { state: r.state, since: r.since, ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}), ...(mediator !== undefined ? { mediator } : {}) }
      },
      watch: (rec, changed) => chain.follower.onDeal(rec.dealId, e => { if (e.contract === 'Market') this.remember(e as MarketChainEvent); changed() }),
      perform: async (rec, a, signal) => await this.perform(rec, a, signal),
      longRunning: a => a.kind === 'rerun',
      describe: rec => ({ dealId: rec.dealId, ...(rec.reason !== undefined ? { reason: rec.reason } : {}) })
    }
  }

  private async perform (rec: MediatorDispute, a: MediatorAction, signal: AbortSignal): Promise<MediatorEvent> {
    switch (a.kind) {
      case 'pull': await this.pullRound(rec, signal); return { type: 'pulled' }
      case 'rerun': {
        try {
          // one job at a time: a mediator re-runs jobs on its own machine
          const cid = await this.rerun(rec, signal)
          return { type: 'rerun-done', cid }
        } catch (err) {
          if (signal.aborted) throw err
          this.metrics.failedRuns++
          return { type: 'rerun-failed', reason: `${(err as Error).name}: ${(err as Error).message}` }
        }
      }
      case 'mediate': return await chainCall<MediatorEvent>(async () => await this.init.chain.mediate(rec.deal!.value, a.resultCorrect), { type: 'mediated' }, reason => ({ type: 'mediate-failed', reason }))
      // a committee's votes (docs/mediation.md, "Committees"): each call carries the deal's terms, which a member
      // the parties never gave the case reads from the agree transaction
      case 'commit-vote': {
        const deal = await this.termsOf(rec)
        if (deal === null) return { type: 'commit-vote-failed', reason: 'the deal\'s terms are unknown: no case, and no agree calldata to read them from' }
        const vote = this.cast(a.vote)
        const slot = await this.reserveVoteSlot(rec)
        return await chainCall<MediatorEvent>(async () => { await this.init.chain.commitVote(deal, voteCommitment(rec.dealId, this.address, vote, this.voteSalt(rec.dealId)), slot) }, { type: 'vote-committed', slot }, reason => ({ type: 'commit-vote-failed', reason }))
      }
      case 'reveal-vote': {
        const deal = await this.termsOf(rec)
        if (deal === null) return { type: 'reveal-vote-failed', reason: 'the deal\'s terms are unknown' }
        const vote = this.cast(a.vote)
        return await chainCall<MediatorEvent>(async () => { await this.init.chain.revealVote(deal, vote, this.voteSalt(rec.dealId), rec.commitSlot ?? 0) }, { type: 'vote-revealed' }, reason => ({ type: 'reveal-vote-failed', reason }))
      }
      case 'finalize-committee': {
        const deal = await this.termsOf(rec)
        if (deal === null) return { type: 'finalize-committee-failed', reason: 'the deal\'s terms are unknown' }
        return await chainCall<MediatorEvent>(async () => { await this.init.chain.finalizeCommittee(deal) }, { type: 'committee-finalized' }, reason => ({ type: 'finalize-committee-failed', reason }))
      }
    }
  }

  /**
   * The commitment slot of a dispute's commit, on record before the commit is sent: a node stopped after sending it
   * reveals from the slot it wrote (recorded only once the commit returned, it revealed naming slot 0 and lost the
   * vote, slashed as silent). A retry keeps the slot it named. Picks are made one at a time, so two disputes' commits
   * in flight never take one slot; the reservation is an event the lifecycle records through the driver (written
   * beside the driver, a step in progress from an older copy of the record could write it back without the slot).
   */
  private async reserveVoteSlot (rec: MediatorDispute): Promise<number> {
    const pick = this.slotPicks.then(async () => {
      const current = await this.records.get(rec.id)
      if (current?.commitSlot !== undefined) return current.commitSlot
      const slot = freeVoteSlot(await this.records.all(), rec.dealId)
      const after = await this.driver.dispatch(rec.id, { type: 'vote-slot-reserved', slot })
      if (after?.commitSlot !== slot) throw new Error(`the commitment slot ${slot} could not be put on record (the record holds ${String(after?.commitSlot)}): the commit is not sent`)
      return slot
    })
    this.slotPicks = pick.then(() => undefined, () => undefined)
    return await pick
  }

  /** The vote we send: the lifecycle's, except under the test fault that makes a lying member. */
  private cast (vote: VoteValue): VoteValue {
    if (this.init.fault !== 'inverted-vote' || vote === Vote.NoCase) return vote
    return vote === Vote.Correct ? Vote.Wrong : Vote.Correct
  }

  /** The deal's terms: from the case, or else from the agree transaction's calldata (a member without the case). */
  private async termsOf (rec: MediatorDispute): Promise<Deal | null> {
    return rec.deal?.value ?? await this.init.chain.dealTermsFromAgree(rec.dealId)
  }

  /**
   * The salt of our vote on a deal: the hash of our key's signature over the deal id. ECDSA here is deterministic
   * (RFC 6979), so a restarted mediator makes the same salt and can still reveal; nobody else can make it.
   */
  voteSalt (dealId: string): string {
    return keccak256(this.init.chain.wallet.signingKey.sign(keccak256(toUtf8Bytes(`lilypad committee vote salt ${dealId.toLowerCase()}`))).serialized)
  }

  private async enqueue<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.then(() => undefined, () => undefined)
    return await run
  }

  /** Asks the job creator and the provider for the case, each place they can be found. */
  private async pullRound (rec: MediatorDispute, signal: AbortSignal): Promise<void> {
    const host = this.init.host
    let provider = this.details.get(rec.dealId)?.resourceProvider
    if (provider === undefined) {
      for (const e of await this.init.chain.follower.history(rec.dealId)) this.remember(e)
      provider = this.details.get(rec.dealId)?.resourceProvider
    }
    for (const party of [rec.jobCreator, provider]) {
      if (party === undefined) continue
      const targets = await locatePeer(party, {
        chain: this.init.chain,
        directory: this.directory ?? dhtRecords(host, this.domain),
        roles: ['job-creator', 'resource-provider'],
        timeoutMs: 3000,
        connected: peerId => {
          const get = host.getConnections
          try { return get !== undefined && get.call(host, peerIdFromString(peerId)).length > 0 } catch { return false }
        }
      }).catch(err => { this.c.logger.debug({ err, party }, 'could not locate a party'); return [] })
      for (const t of targets) {
        signal.throwIfAborted()
        try {
          const c = await this.disputes.pull(t, rec.dealId, signal)
          if (c === undefined) continue
          await this.takeCase(c, 'pull')
          return
        } catch (err) {
          if (err instanceof DisputeVerificationError) this.metrics.casesRefused++
          this.c.logger.debug({ err, dealId: rec.dealId }, 'pull failed')
        }
      }
    }
  }

  /** Re-runs the job exactly as the offer names it and returns the CID of the result directory. */
  private async rerun (rec: MediatorDispute, signal: AbortSignal): Promise<string> {
    const job = rec.jobOffer!.value
    let inputs: Record<string, string>
    try { inputs = JSON.parse(job.inputs) as Record<string, string> } catch { throw new DisputeVerificationError('MALFORMED', 'job inputs are not JSON') }
    return (await this.reexecute(rec.dealId, { module: job.module, inputs, ramMb: job.spec.ramMb, timeoutSec: job.timeout }, rec.resultCid, signal)).cid
  }

  /**
   * Re-runs one job on this machine, one at a time across all of this mediator's cases (a deal's dispute, a contract
   * job's): its module with the pinned image, its inputs staged as a provider stages them, the memory it asked for
   * (at least the module's) and its time limit (the module's when none is given); returns the CID of the result
   * directory and the directory. `deliveredCid` is the result under judgement: an input that fails here fails the same way there, or
   * the mediator abstains (InputsNotStagedError). Used by the contract-job mediator too (node/roles/job-mediator.ts).
   */
  async reexecute (id: string, job: { module: string, inputs: Record<string, string>, ramMb?: number, timeoutSec?: number }, deliveredCid: string | undefined, signal: AbortSignal): Promise<{ cid: string, resultDir: string }> {
    return await this.enqueue(async () => await this.execute(id, job, deliveredCid, signal))
  }

  private async execute (id: string, job: { module: string, inputs: Record<string, string>, ramMb?: number, timeoutSec?: number }, deliveredCid: string | undefined, signal: AbortSignal): Promise<{ cid: string, resultDir: string }> {
    const resultDir = join(this.dir, 'runs', id)
    const inputs = job.inputs
    const loaded = await loadModule(job.module, inputs, this.init.modules)
    // with the memory the job asked, as the provider ran it: a job that asked for more than its module must not fail
    // here for want of it. Not its CPU: a quota changes how fast it runs, not what it answers, and Docker refuses one
    // above this machine's cores, which may be fewer than the provider's slot (a canary asks for its whole slot)
    const resources = containerResources(loaded.spec.resources, { cpu: 0, ramMb: job.ramMb ?? 0 })
    const timeoutSec = job.timeoutSec ?? loaded.spec.timeoutSec
    const spec = await pinSpecImage(this.init.executor.docker, { ...loaded.spec, resources }, this.init.modules?.modulesDir !== undefined ? { modulesDir: this.init.modules.modulesDir } : {})
    await rm(resultDir, { recursive: true, force: true })
    // the inputs as the provider staged them: from whichever connected party serves them (the job creator holds
    // them while its job is open, the provider caches what it fetched), within the job's time
    const startedAt = this.c.clock.now()
    let staged: StagedInputs | undefined
    try {
      staged = await stageJobInputs(spec, {
        signal, deadline: startedAt + timeoutSec * 1000, dir: join(this.dir, 'inputs', id), policy: this.init.inputPolicy ?? {}, slots: this.fetchSlots, clock: this.c.clock
      }, this.init.store)
    } catch (err) {
      if (!isJobInputFault(err)) throw err
      // the same result the provider had to publish when its inputs failed it: the inputs' error, named
      await writeInputErrorResult(resultDir, err, spec.outputs)
      const cid = (await this.init.store.addDirectory(resultDir, { signal })).toString()
      // Anything else means the provider staged inputs that failed here: a source reachable from it and not
      // from us, another input policy, a holder gone since. That proves nothing against the provider.
      if (cid !== deliveredCid) throw new InputsNotStagedError(err)
      this.c.logger.info({ id, err }, 'the job\'s inputs were refused here as at the provider: the same result')
      return { cid, resultDir }
    }
    if (staged !== undefined) {
      try {
        // the status of a timed-out run records the job's timeout, as the provider's does: the fetch's share only
        // shortens the container's time
        const r = await this.init.executor.run(spec, { resultDir, timeoutSec, usedMs: this.c.clock.now() - startedAt, signal, jobId: id, inputMounts: staged.mounts })
        this.c.metrics.containerSeconds.inc(r.runMs / 1000)
      } finally {
        await staged.release()
      }
    }
    const cid = await this.init.store.addDirectory(resultDir, { signal })
    return { cid: cid.toString(), resultDir }
  }
}
