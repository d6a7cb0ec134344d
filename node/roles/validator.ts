// The validator role: sends providers canary jobs (protocols/incentives/canary.ts: known answers, the modules and
// inputs users run) at random times, checks each answer, and signs a canary report per canary, recorded in the
// Rewards contract once the epoch has ended (a canary is revealed only when it can no longer be told apart).
//
// Nothing on the wire sets a canary apart: it goes through an ordinary JobCreator (the same job offer, negotiation,
// deal and result fetch as `lilypad run`) from a job creator key used for one epoch only (deriveCanaryKey), with
// target zero — the provider it is meant for is chosen by the job creator's candidate filter, not named in the offer.
// Rounds (planRound) ask every chosen slot at once, each canary for the whole slot it is sent to (its job asks the
// slot's CPU and memory, as every job the job creator proposes does: protocols/slot-ask.ts; canaryAsk is the same
// rule for planning), so identities sharing one machine cannot all pass, and a canary asks what a real job asks.
//
// Outcomes: the known answer → Passed; another answer or exit code → WrongResult; a deal agreed but no result →
// NoResult (with its deal, so the record is tied to the provider on chain); no deal at all → judged by what the
// provider's offer says when the canary gives up and by the chain (canary.ts, judgeNoDeal): the slot still offered
// free, withdrawn or expired with no deal naming the provider agreed around the canary (raceWindow, raceDeal: read
// from DealAgreed once the window is over), or a second withdrawn slot in one round → declined, a false claim of
// capacity (reported as Unreachable, the outcome with no deal; no canaries for the key for `banEpochs` epochs); one
// slot withdrawn or expired that a real deal took → a race, twice an epoch, which defers the canary (no report now):
// the key owes a retry, sent with its next round (planRetries; CanaryRetries, kept across restarts by `saveRetries`),
// and only the retry's outcome counts — a race on the retry, or a third in the epoch, is a failure (reported; no more
// canaries that epoch).
import { randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ZeroHash, type Signer } from 'ethers'
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import type { Timer } from '../../core/clock.ts'
import { BanList, type StandingSource } from '../../core/policy/ban.ts'
import type { LiveOffer } from '../../protocols/matcher.ts'
import {
  planRound, planRetries, CanaryRetries, roundTimes, checkCanaryResult, canaryJobRequest, defaultRoundOptions, resourceUnits, signCanaryReport, CanaryOutcome,
  epochAt, epochStart, epochEnd, outcomeName, judgeNoDeal, defaultDeclineRule, raceWindow, raceDeal,
  type DeclineRule, type AgreedDeal, type RaceWindow, type NoDealVerdict, type CanaryRoundOptions, type CanaryTarget, type PlannedCanary, type RandomSource, type SignedCanaryReport, type RewardsDomain, type EpochSchedule, type CanaryOutcomeValue
} from '../../protocols/incentives/index.ts'
import type { JobRequest, JobOutcome } from './job-creator.ts'

/** What runs a canary: an ordinary job creator (node/roles/job-creator.ts) of the epoch's canary key. */
export interface CanaryRunner {
  run: (req: JobRequest) => Promise<JobOutcome>
  /** the runner's job creator address (the epoch's canary key) */
  address: string
}

export interface ValidatorOptions {
  /** live resource offers (the node's order book) */
  offers: () => LiveOffer[]
  /** the Rewards contract's epochs */
  schedule: Pick<EpochSchedule, 'genesis' | 'epochLength' | 'reportWindow'>
  domain: RewardsDomain
  /** the validator's key: signs the reports; must be one of the Rewards contract's validators */
  signer: Signer
  /** the job creator of an epoch's canaries (a fresh key per epoch, funded for its canaries) */
  runnerFor: (epoch: number) => Promise<CanaryRunner>
  /** records an ended epoch's signed reports (RewardsClient.recordCanaries) */
  record: (reports: SignedCanaryReport[]) => Promise<void>
  /** chain time in seconds (the follower's) */
  chainNow: () => number
  /** rounds per epoch (default 4: with the default round options, a census of every provider at four random moments) */
  rounds?: number
  round?: CanaryRoundOptions
  /** no round starts in an epoch's last `tailSec` seconds (default a tenth of the epoch) */
  tailSec?: number
  /** randomness (default node:crypto) */
  rng?: RandomSource
  /** providers' chain records (node/incentives/reputation-feed.ts): providers it bans get no canaries */
  reputation?: StandingSource
  /** how canaries that made no deal are judged (default defaultDeclineRule: 2 races an epoch, a 4-epoch ban) */
  decline?: DeclineRule
  /**
   * The deals agreed on chain naming `provider` with block timestamps in the window (the Market's DealAgreed:
   * node/incentives/chain-facts.ts, agreedDealsOf): what took a withdrawn slot, if anything did. Asked once chain
   * time has passed the window's end.
   */
  agreedDeals: (provider: string, window: RaceWindow) => Promise<AgreedDeal[]>
  /** the retries keys owe (races that deferred their canaries), as the last run left them (default none) */
  retries?: CanaryRetries
  /** keeps the retries owed (the node: a file in its data dir), so a restart forgives no key; called after each change */
  saveRetries?: (retries: CanaryRetries) => Promise<void>
}

export interface CanaryResult {
  canary: PlannedCanary
  /** the job offer the canary went out as (absent when no deal was made) */
  jobOffer?: JobOutcome['jobOffer']
  outcome: CanaryOutcomeValue
  dealId: string
  /** absent for a tolerated race (nothing to report: the canary never reached a free slot), and for a canary left
   * unjudged (the chain could not be read for its race window, or the validator stopped first) */
  report?: SignedCanaryReport
  /** a canary that made no deal: how it was judged (judgeNoDeal) */
  noDeal?: NoDealVerdict
  /** a race (deferred: the key owes a retry): the deal (on chain) that took the slot */
  raceDeal?: string
  detail?: string
}

/** This node's key is not one of the Rewards contract's validators: its reports would be refused. */
export class NotAValidatorError extends Error {
  static override name = 'NotAValidatorError'
  override name = NotAValidatorError.name
  readonly hint = 'run the validator role with a key in the network file\'s rewards.validators (the Rewards contract\'s validator set)'
}

const cryptoRng: RandomSource = { int: n => randomInt(n) }

export class Validator {
  readonly #c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  readonly #o: ValidatorOptions
  readonly #reports = new Map<number, SignedCanaryReport[]>()
  readonly #timers = new Set<Timer>()
  readonly #inFlight = new Set<Promise<unknown>>()
  /** rounds running (an epoch's reports are recorded once its rounds are done) */
  readonly #rounds = new Set<Promise<unknown>>()
  #running = false
  /**
   * A provider that failed a canary gets no more until the epoch is over (its failures are on record; more canaries
   * would only pay it for the ones it can run): the job creators' ban list, over the chain record, for an epoch.
   */
  readonly bans: BanList
  /**
   * Keys that declined a canary (or did not answer) while their offer showed the slot free: no canaries for
   * `banEpochs` epochs. A failure cancels only a key's own passes, and keys are cheap; what a Sybil machine that
   * declines what it cannot run gains is the canaries it does run, and this is what takes them away.
   */
  readonly capacityBans: BanList
  /** the retries keys owe: each race defers its canary to the key's next round */
  readonly retries: CanaryRetries
  /** races per epoch, per provider */
  readonly #races = new Map<number, Map<string, number>>()
  /** deals that excused a race, per epoch: one real job takes one slot */
  readonly #raceDeals = new Map<number, Set<string>>()
  /** aborts the waits for a race window's end at stop */
  #abort = new AbortController()

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, opts: ValidatorOptions) {
    this.#c = { ...components, logger: components.logger.child({ component: 'validator' }) }
    this.#o = opts
    this.bans = new BanList({ ttlMs: opts.schedule.epochLength * 1000 }, opts.reputation)
    this.capacityBans = new BanList({ ttlMs: this.#decline.banEpochs * opts.schedule.epochLength * 1000 })
    this.retries = opts.retries ?? new CanaryRetries()
  }

  get #decline (): DeclineRule { return this.#o.decline ?? defaultDeclineRule }

  /** Plans the current epoch's rounds at random times (and each later epoch's when it starts). */
  start (): void {
    if (this.#running) return
    this.#running = true
    this.#abort = new AbortController()
    this.#planEpoch(epochAt(this.#o.schedule, this.#o.chainNow()))
  }

  async stop (): Promise<void> {
    this.#running = false
    this.#abort.abort()
    for (const t of this.#timers) t.cancel()
    this.#timers.clear()
    await Promise.allSettled([...this.#inFlight])
  }

  /** Reports signed so far for an epoch (not yet recorded). */
  reports (epoch: number): readonly SignedCanaryReport[] {
    return this.#reports.get(epoch) ?? []
  }

  /** Runs one round now: every live slot joins with the round's probability; resolves with each canary's verdict. */
  async runRound (epoch: number): Promise<CanaryResult[]> {
    const nowMs = this.#c.clock.now()
    const now = BigInt(Math.floor(nowMs / 1000))
    // the moment the offers were read: a race's deal is looked for from shortly before it (raceWindow)
    const roundAt = this.#o.chainNow()
    const live = this.#o.offers().filter(l => l.offer.expiry > now && !this.bans.banned(l.offer.provider, nowMs) && !this.capacityBans.banned(l.offer.provider, nowMs))
    const targets: CanaryTarget[] = live.map(l => ({
      provider: l.offer.provider, offerId: l.id, cpu: l.offer.spec.cpu, ramMb: l.offer.spec.ramMb, units: resourceUnits(l.offer.spec)
    }))
    const slotOf = new Map(live.map(l => [l.id, l.offer.slot]))
    /** this round's tolerated races, per provider */
    const roundRaces = new Map<string, number>()
    const rng = this.#o.rng ?? cryptoRng
    const options = this.#o.round ?? defaultRoundOptions
    const planned = planRound(rng, targets, options)
    // the retries keys owe go with this round, on top of their slots' canaries (a key with no live slot keeps them)
    const chosen = new Set(planned.map(c => c.provider.toLowerCase()))
    let retried = 0
    for (const p of this.retries.providers()) {
      if (!chosen.has(p)) continue
      const sent = planRetries(rng, targets.filter(t => t.provider.toLowerCase() === p), this.retries.owed(p), options)
      this.retries.take(p, sent.length)
      planned.push(...sent)
      retried += sent.length
    }
    if (retried > 0) await this.#saveRetries()
    this.#c.metrics.canaryRounds.inc()
    this.#c.logger.info({ epoch, slots: targets.length, canaries: planned.length, retries: retried }, 'canary round')
    if (planned.length === 0) return []
    const runner = await this.#o.runnerFor(epoch)
    return await Promise.all(planned.map(async c => await this.#runOne(epoch, runner, c, slotOf.get(c.offerId) as number, roundAt, roundRaces)))
  }

  /** Records an ended epoch's reports on chain (the contract takes them after the epoch's end, inside its report window). */
  async recordEpoch (epoch: number): Promise<number> {
    const reports = this.#reports.get(epoch) ?? []
    if (reports.length === 0) return 0
    await this.#o.record(reports)
    this.#reports.delete(epoch)
    for (const e of this.#races.keys()) if (e <= epoch) this.#races.delete(e)
    for (const e of this.#raceDeals.keys()) if (e <= epoch) this.#raceDeals.delete(e)
    this.#c.metrics.canaryReportsRecorded.inc(reports.length)
    this.#c.logger.info({ epoch, reports: reports.length }, 'canary reports recorded')
    return reports.length
  }

  async #saveRetries (): Promise<void> {
    // a retry the book could not keep is lost only at a restart: logged, the round goes on
    try { await this.#o.saveRetries?.(this.retries) } catch (err) { reportError(this.#c, 'validator', err, 'keeping the canary retries owed failed', { owed: this.retries.size }) }
  }

  /** A retry that got no verdict (the validator's own fault, or its stop) is owed still: sent with the key's next round. */
  async #owedAgain (c: PlannedCanary): Promise<void> {
    if (c.retry !== true) return
    this.retries.defer(c.provider)
    await this.#saveRetries()
  }

  /** The provider's slot still shows a live offer (any nonce), not withdrawn as busy: its offer says the slot is free. */
  #slotStillFree (provider: string, slot: number): boolean {
    const now = BigInt(Math.floor(this.#c.clock.now() / 1000))
    const p = provider.toLowerCase()
    return this.#o.offers().some(l => l.offer.provider.toLowerCase() === p && l.offer.slot === slot && l.offer.expiry > now)
  }

  /**
   * The deals naming the provider agreed in a withdrawn slot's race window (the chain's DealAgreed), read once chain
   * time has passed the window's end. Only asked while a race is still possible this round.
   */
  async #dealsAround (provider: string, roundAt: number): Promise<{ window: RaceWindow, deals: AgreedDeal[] }> {
    const window = raceWindow(roundAt, this.#o.chainNow(), this.#decline)
    for (let left = window.to - this.#o.chainNow(); left >= 0; left = window.to - this.#o.chainNow()) {
      await this.#c.clock.sleep((left + 1) * 1000, this.#abort.signal)
    }
    return { window, deals: await this.#o.agreedDeals(provider, window) }
  }

  async #runOne (epoch: number, runner: CanaryRunner, c: PlannedCanary, slot: number, roundAt: number, roundRaces: Map<string, number>): Promise<CanaryResult> {
    const req = canaryJobRequest(c)
    let outcome: CanaryOutcomeValue
    let dealId = ZeroHash
    let detail: string | undefined
    let noDeal: NoDealVerdict | undefined
    let jobOffer: JobOutcome['jobOffer'] | undefined
    try {
      const out = await runner.run({ ...req, provider: c.provider, accept: true })
      dealId = out.dealId
      jobOffer = out.jobOffer
      const stdout = await readFile(join(out.path, 'stdout'), 'utf8').catch(() => '')
      const verdict = checkCanaryResult(c.expected, { exitCode: out.exitCode, stdout })
      outcome = verdict.passed ? CanaryOutcome.Passed : CanaryOutcome.WrongResult
      if (!verdict.passed) detail = verdict.reason
    } catch (err) {
      // a deal that was agreed but brought no result names its deal; no deal at all is judged by the slot's offer
      const retries = (err as { retries?: Array<{ provider: string, dealId?: string, reason: string }> }).retries
      const failed = retries?.find(r => r.provider.toLowerCase() === c.provider.toLowerCase() && r.dealId !== undefined)
      if (failed?.dealId !== undefined) {
        outcome = CanaryOutcome.NoResult; dealId = failed.dealId; detail = failed.reason
      } else {
        // the validator's own canary key short of deposit is no verdict on the provider
        if ((err as Error).name === 'InsufficientDepositError') { await this.#owedAgain(c); throw err }
        outcome = CanaryOutcome.Unreachable
        detail = (err as Error).message
        const p = c.provider.toLowerCase()
        const slotStillFree = this.#slotStillFree(c.provider, slot)
        // a withdrawn slot is a race only if a real deal took it: the chain is read once the window is over (no
        // read when the round's allowance is spent already: the verdict is a decline whatever it shows)
        const asked = !slotStillFree && (roundRaces.get(p) ?? 0) < this.#decline.racesPerRound
        let around: { window: RaceWindow, deals: AgreedDeal[] } | undefined
        if (asked) {
          try {
            around = await this.#dealsAround(c.provider, roundAt)
          } catch (err) {
            // no verdict without the chain: neither a race nor a decline — nothing reported, nobody marked
            if (this.#abort.signal.aborted) this.#c.logger.info({ epoch, provider: c.provider, module: c.module }, 'validator stopped before the race window ended: canary not judged')
            else reportError(this.#c, 'validator', err, 'reading the deals of a race window failed: canary not judged', { epoch, provider: c.provider, module: c.module })
            await this.#owedAgain(c)
            return { canary: c, outcome, dealId, detail: `not judged: ${(err as Error).message}` }
          }
        }
        // from here to the counts' update nothing awaits: canaries of one provider are judged in turn, and a deal
        // that excused one (this round or a close one) excuses no other
        let races = this.#races.get(epoch)
        if (races === undefined) { races = new Map(); this.#races.set(epoch, races) }
        const took = around === undefined ? undefined : raceDeal(around.deals, c.provider, around.window, { canaryKeys: new Set([runner.address.toLowerCase()]), used: this.#raceDeals.get(epoch) ?? new Set() })
        noDeal = judgeNoDeal({ slotStillFree, dealTookSlot: took !== undefined, retry: c.retry === true }, { round: roundRaces.get(p) ?? 0, epoch: races.get(p) ?? 0 }, this.#decline)
        if (noDeal === 'race' && took !== undefined) {
          roundRaces.set(p, (roundRaces.get(p) ?? 0) + 1)
          races.set(p, (races.get(p) ?? 0) + 1)
          let used = this.#raceDeals.get(epoch)
          if (used === undefined) { used = new Set(); this.#raceDeals.set(epoch, used) }
          used.add(took.dealId.toLowerCase())
          // deferred, not excused: the key owes the canary at its next round, where only the retry's outcome counts
          this.retries.defer(p)
          this.#c.metrics.canaries.inc({ outcome: 'Race' })
          this.#c.logger.info({ epoch, provider: c.provider, module: c.module, races: races.get(p), takenBy: took.dealId, owed: this.retries.owed(p), detail }, 'canary race: a deal took the slot before the canary reached it; the canary is deferred to the key\'s next round')
          await this.#saveRetries()
          return { canary: c, outcome, dealId, noDeal, raceDeal: took.dealId, detail }
        }
        if (c.retry === true && noDeal === 'race-failed') detail = `${detail}; a retry of a canary a race deferred, and a race again`
        if (asked && took === undefined) detail = `${detail}; the slot was withdrawn and no deal naming the provider was agreed around the canary`
      }
    }
    const report = await signCanaryReport(this.#o.domain, {
      epoch: BigInt(epoch), provider: c.provider, dealId, outcome, units: c.units, observedAt: BigInt(Math.floor(this.#c.clock.now() / 1000))
    }, this.#o.signer)
    const nowMs = this.#c.clock.now()
    if (noDeal !== undefined) {
      // a false claim of capacity: no canaries for banEpochs; a race beyond the epoch's allowance: none this epoch
      this.bans.record(c.provider, 'false-capacity', nowMs)
      if (noDeal === 'declined') this.capacityBans.record(c.provider, 'false-capacity', nowMs)
    } else if (outcome !== CanaryOutcome.Passed) this.bans.record(c.provider, 'no-result', nowMs)
    let list = this.#reports.get(epoch)
    if (list === undefined) { list = []; this.#reports.set(epoch, list) }
    list.push(report)
    this.#c.metrics.canaries.inc({ outcome: noDeal === 'declined' ? 'Declined' : outcomeName(outcome) })
    this.#c.logger.info({ epoch, provider: c.provider, module: c.module, dealId, outcome: outcomeName(outcome), ...(c.retry === true ? { retry: true } : {}), ...(noDeal !== undefined ? { noDeal } : {}), ...(detail !== undefined ? { detail } : {}) }, 'canary checked')
    return { canary: c, outcome, dealId, report, ...(noDeal !== undefined ? { noDeal } : {}), ...(jobOffer !== undefined ? { jobOffer } : {}), ...(detail !== undefined ? { detail } : {}) }
  }

  #at (chainSec: number, fn: () => Promise<unknown>): void {
    const ms = Math.max(0, (chainSec - this.#o.chainNow()) * 1000)
    const t = this.#c.clock.setTimeout(() => {
      this.#timers.delete(t)
      if (!this.#running) return
      const p = fn().catch(err => { reportError(this.#c, 'validator', err, 'a canary step failed') }).finally(() => this.#inFlight.delete(p))
      this.#inFlight.add(p)
    }, ms)
    this.#timers.add(t)
  }

  #planEpoch (epoch: number): void {
    const s = this.#o.schedule
    const start = Math.max(epochStart(s, epoch), this.#o.chainNow())
    const end = epochEnd(s, epoch)
    const times = roundTimes(this.#o.rng ?? cryptoRng, start, end, this.#o.rounds ?? 4, this.#o.tailSec ?? Math.floor(s.epochLength / 10))
    this.#c.logger.info({ epoch, rounds: times.length }, 'canary rounds planned')
    for (const at of times) {
      this.#at(at, async () => {
        const r = this.runRound(epoch)
        this.#rounds.add(r)
        try { await r } finally { this.#rounds.delete(r) }
      })
    }
    // at the epoch's end: its reports go on chain, and the next epoch is planned
    this.#at(end, async () => {
      this.#planEpoch(epoch + 1)
      // the last canaries may still be running: recorded once they are done, inside the report window
      await Promise.allSettled([...this.#rounds])
      await this.recordEpoch(epoch)
    })
  }
}
