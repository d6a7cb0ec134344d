// Scenario `rewards`: the incentivised testnet over several epochs, with providers following six strategies on
// machines of the same size. It drives the same core code the nodes and `lilypad rewards compute` run:
// canary rounds planned by protocols/incentives/canary.ts (planRound, the validator's planner), reward computation
// and Merkle roots by protocols/incentives (computeEpochRewards, RewardsTree) under the default rules, and each
// job creator's view of providers by core/reputation's ReputationBook (from the epoch's chain outcomes) behind
// core/policy/ban.ts's BanList — a provider a job creator bans gets none of its jobs. What is modelled rather than
// run: demand (each honest machine's share of real jobs), container execution (a canary passes when the machine
// has the free capacity it asks — the whole slot it was sent to, canaryAsk: the rule every job follows,
// protocols/slot-ask.ts, as real jobs here hold their whole slots — at the round's moment and the strategy
// answers honestly), and the Market's
// random audits (drawn with the deal's audit probability; an audited junk result is mediated wrong and slashed, a
// correct one upheld; a cartel keeps its own faked jobs from the mediator, so their audits time out).
//
// Strategies (each on `machinesPer` machines of MACHINE units, four slots each):
//   honest    one identity; real jobs from many job creators, answered correctly
//   idle      one identity, online, answering canaries, but no demand (priced out): uptime alone
//   sybil     one machine split into SYBIL_IDENTITIES identities, each offering the whole machine's four slots; the
//             canaries its machine cannot run it agrees to and lets time out
//   sybil-decline  the same identities, but it declines (NO_CAPACITY) the canaries its machine cannot run instead:
//             no deal, so no collateral lost — while its offers still show those slots free, which the validator
//             judges a false claim of capacity (canary.ts, judgeNoDeal): a failed canary, and the key banned for it
//   cheater   one identity that answers canaries correctly (it cannot tell them apart) but returns junk on real jobs
//   colluder  a cartel: its providers and its own job creator keys (COLLUDER_CREATORS) fake paid jobs among
//             themselves at the highest counted price and the lowest counted audit rate; real demand as honest
//   overclaim one identity announcing ten times its machine's slots
//
// Races: at each census a real job may take a slot of a machine between the offer the validator planned on and its
// proposal (`raceRate`); a provider that offers only its free slots withdraws that offer and declines the canary,
// which the validator takes for a race once a round and `raceAllowance` times an epoch per provider (judgeNoDeal)
// when the chain shows the deal that took the slot (raceDeal: a deal naming the provider agreed in the canary's
// raceWindow). Every real job has its agree time (uniform over the epoch; the one that takes a raced slot at the
// round), so a Sybil key that withdraws its offers before declining is excused only when one of its own real jobs
// happens to be agreed in that window. A race defers the canary (CanaryRetries): the key is sent it again with its
// next round (planRetries, on top of its slots' canaries), where its machine runs it with what it has free then, and
// a race on the retry is a failure. `raceRetries: false` runs the validator before races were deferred (a race
// excused the canary); `canaryAsks: 'module'` before canaries asked for the whole slot (a cowsay took half a core's
// room, so a key offering every slot ran more canaries than its machine had free slots); `raceDeals: false` before
// it checked the deal (a withdrawn slot a race whatever the chain shows); `judgeDeclines: false` as it was before
// declines were judged (every canary with no deal an Unreachable failure, a lone one only demoting).
//
// Income per machine per epoch: rewards (the Merkle leaf) + payments from others (real jobs' prices; canaries are
// paid by the validator like any job) − costs (gas of faked deals; collateral the Market gives the job creator when a
// result is mediated wrong or never comes — timeoutResult, for a canary as for a real job). Money is what the
// Market's payouts (protocols/settlement) move between accounts of different strategies. The report divides it by
// the machine's resource units.
import { Wallet, getAddress } from 'ethers'
import { Rng } from './rng.ts'
import { round } from './metrics.ts'
import {
  planRound, defaultRoundOptions, computeEpochRewards, RewardsTree, defaultRewardRules, CanaryOutcome, resourceUnits,
  judgeNoDeal, defaultDeclineRule, raceWindow, raceDeal, planRetries, CanaryRetries,
  type DeclineRule, type CanaryTarget, type PlannedCanary, type CanaryRecord, type DealOutcome, type DealParties, type RewardRules, type CanaryOutcomeValue, type AgreedDeal
} from '../protocols/incentives/index.ts'
import { DealState, payoutsOf, type DealTerms } from '../protocols/settlement/index.ts'
import { ReputationBook } from '../core/reputation/index.ts'
import { BanList } from '../core/policy/ban.ts'

export const STRATEGIES = ['honest', 'idle', 'sybil', 'sybil-decline', 'cheater', 'colluder', 'overclaim'] as const
export type Strategy = typeof STRATEGIES[number]

const LP = 10n ** 18n
/** a machine: 4 cores, 8 GiB, offered as four slots of 1 core and 2 GiB */
const SLOT = { cpu: 1000, ramMb: 2048, gpus: 0, gpuVramMb: 0 }
const SLOTS = 4
const MACHINE_UNITS = resourceUnits({ cpu: SLOT.cpu * SLOTS, ramMb: SLOT.ramMb * SLOTS, gpus: 0, gpuVramMb: 0 })
export const SYBIL_IDENTITIES = 8
export const COLLUDER_CREATORS = 4
/** how long the validator's job creator waits in its queue while a slot shows busy before giving up (node/roles/job-creator.ts) */
const QUEUE_WAIT_SEC = 120
const EPOCH_SEC = 86_400

export interface RewardsScenarioOptions {
  seed: number
  /** machines per strategy (default 5) */
  machinesPer?: number
  epochs?: number
  /** canary rounds per epoch (default 4, the validator's default) */
  rounds?: number
  /** real jobs per honest machine per epoch (default 40) */
  demand?: number
  /** faked deals per colluder per epoch (default 200) */
  fakeDeals?: number
  rules?: RewardRules
  /** the validator's round options (default: defaultRoundOptions) */
  round?: typeof defaultRoundOptions
  /** chance (ppm) that a real job takes one of a machine's slots between the census offer and the canary (default 50,000: pessimistic — at 200 jobs a machine a day, a job lands in a given few seconds about 1 % of the time) */
  raceRate?: number
  /** races the validator tolerates per provider per epoch (default defaultDeclineRule) */
  declineRule?: DeclineRule
  /** false: the validator before declines were judged — every canary without a deal an Unreachable failure, recorded
   * in its ban list as one failed dial (demoted, banned at the second) (default true) */
  judgeDeclines?: boolean
  /** the sybil-decline machine withdraws the offer of each slot it cannot run before declining, to pass it off as a
   * race (default false) */
  sybilWithdraws?: boolean
  /** false: the validator before it asked for the deal behind a race — a withdrawn or expired slot is a race
   * candidate whatever the chain shows (default true: raceDeal must find the deal that took the slot) */
  raceDeals?: boolean
  /** the withdrawing sybil-decline machine also fakes the deal behind each withdrawal: its own job creator key agrees
   * a deal with the key in the race window (the price goes round in a circle; the gas does not) (default false) */
  sybilFakesRaceDeals?: boolean
  /** false: the validator before a race deferred the canary — a race excused it (no report, no retry) (default true:
   * the key owes a retry, sent with its next round, and only the retry's outcome counts; CanaryRetries) */
  raceRetries?: boolean
  /** what each sybil-decline key offers: 'machine' (default) all four slots of its machine; 'free' the slots real jobs
   * leave free, as an honest provider does (every key all of them); 'split' one free slot per key (honest work split
   * into keys: keys beyond the free slots offer none) */
  sybilOffers?: 'machine' | 'free' | 'split'
  /** what a canary's job asks of the machine (CanaryRoundOptions.ask): 'module' the validator before canaries asked
   * for the whole slot they are sent to (default: the round options', 'slot') */
  canaryAsks?: 'slot' | 'module'
}

export interface StrategyReport {
  strategy: Strategy
  machines: number
  identities: number
  /** failed includes declined: canaries that made no deal, judged a false claim of capacity (declined while the
   * slot's offer still showed it free, or withdrawn beyond the race allowance); racesTolerated: canaries whose slot
   * a real job took first, within the allowance (no report: deferred to a retry, or before retries excused);
   * retries: the retries sent for them (each counted once more in passed, failed or racesTolerated) */
  canaries: { passed: number, failed: number, declined: number, racesTolerated: number, retries: number }
  paidDeals: number
  slashed: number
  rewardsLP: number
  paymentsLP: number
  costsLP: number
  incomeLP: number
  /** income per machine per epoch */
  incomePerMachineLP: number
  /** income per 1,000 resource units of machine per epoch */
  incomePerKiloUnitLP: number
  /** identities some job creator banned at the end */
  bannedAtEnd: number
}

export interface RewardsScenarioResult {
  /** real jobs per honest machine per epoch */
  demand: number
  epochs: number
  rounds: number
  roots: string[]
  totalsLP: number[]
  strategies: StrategyReport[]
  /** the strategy with the highest income per unit of resource */
  best: Strategy
  honestEarnsMost: boolean
}

/** `machine` numbers every machine; `k` is its number among its strategy's machines; `nth` the identity's on its machine */
interface Identity { address: string, strategy: Strategy, machine: number, k: number, nth: number, slots: number }

const lp = (x: bigint): number => Number(x * 1_000_000n / LP) / 1_000_000

function addressOf (tag: string, i: number): string {
  return getAddress('0x' + Buffer.from(`${tag}:${i}`.padEnd(20, '.').slice(0, 20)).toString('hex'))
}

export function runRewardsScenario (o: RewardsScenarioOptions): RewardsScenarioResult {
  // Every strategy's k-th machine lives through the same luck: the same real jobs (job creator, audit rate, audit
  // draw), the same busy slots at each census and the same canaries drawn for the same slots, each from its own
  // stream of the seed. A strategy's income then differs from honest work's by what the strategy does, not by
  // which machine a random draw sent more jobs or emptier slots (a draw that moved a strategy's income by ±4 % at
  // the quiet level, more than the differences the scenario is there to measure).
  const stream = (...parts: Array<string | number>): Rng => new Rng(`rewards:${o.seed}:${parts.join(':')}`)
  const rules = o.rules ?? defaultRewardRules
  const machinesPer = o.machinesPer ?? 5
  const epochs = o.epochs ?? 3
  const rounds = o.rounds ?? 4
  const demand = o.demand ?? 40
  const fakeDeals = o.fakeDeals ?? 200
  const raceRate = o.raceRate ?? 50_000
  const declineRule = o.declineRule ?? defaultDeclineRule
  const judgeDeclines = o.judgeDeclines ?? true
  const checkRaceDeals = o.raceDeals ?? true
  const deferRaces = o.raceRetries ?? true
  const roundOptions = { ...(o.round ?? defaultRoundOptions), ...(o.canaryAsks !== undefined ? { ask: o.canaryAsks } : {}) }
  /** the validator's book of retries owed (races deferred), kept across epochs like the node's */
  const retries = new CanaryRetries()
  const sybilLike = (s: Strategy): boolean => s === 'sybil' || s === 'sybil-decline'
  const price = LP
  const collateral = 2n * LP
  /** locked by the job creator for a mediator; returned unless a mediator decides the deal */
  const mediationFee = LP / 10n
  /** what a faked deal costs in gas (agree, submit, accept) on a cheap chain */
  const gasPerDeal = LP / 500n

  const identities: Identity[] = []
  let machine = 0
  for (const s of STRATEGIES) {
    for (let m = 0; m < machinesPer; m++, machine++) {
      const n = sybilLike(s) ? SYBIL_IDENTITIES : 1
      for (let nth = 0; nth < n; nth++) identities.push({ address: addressOf(s, identities.length).toLowerCase(), strategy: s, machine, k: m, nth, slots: s === 'overclaim' ? SLOTS * 10 : SLOTS })
    }
  }
  const byAddress = new Map(identities.map(i => [i.address, i]))
  // real job creators (many, independent) and the colluders' own keys
  const jobCreators = Array.from({ length: 50 }, (_, i) => addressOf('jc', i).toLowerCase())
  const book = new ReputationBook()
  // job creators' view: the chain record (read at each epoch's end) behind their own lapsing memory
  const bans = new BanList({}, book)
  // the validator's view: the same chain record, plus the canaries it saw fail this epoch (a provider that failed
  // one is sent no more until the epoch ends) — the node's Validator does the same with its own BanList
  const EPOCH_MS = 86_400_000
  const validatorBans = new BanList({ ttlMs: EPOCH_MS }, book)
  // …and its longer memory of keys that declined a canary while their offer showed the slot free (judgeNoDeal)
  const capacityBans = new BanList({ ttlMs: declineRule.banEpochs * EPOCH_MS })
  const validator = new Wallet('0x' + '77'.repeat(32)).address.toLowerCase()
  const acc = new Map<Strategy, { passed: number, failed: number, declined: number, races: number, retries: number, paid: number, slashed: number, rewards: bigint, payments: bigint, costs: bigint }>()
  for (const s of STRATEGIES) acc.set(s, { passed: 0, failed: 0, declined: 0, races: 0, retries: 0, paid: 0, slashed: 0, rewards: 0n, payments: 0n, costs: 0n })
  // who owns each account: the providers' identities and the cartel's job creator keys (real job creators, the
  // validator and mediators belong to no strategy)
  const owner = new Map<string, Strategy>(identities.map(i => [i.address, i.strategy]))
  for (let k = 0; k < COLLUDER_CREATORS; k++) owner.set(addressOf('cartel', k).toLowerCase(), 'colluder')
  // a withdrawing Sybil's own job creator key per machine (sybilFakesRaceDeals)
  const sybilCreator = (k: number): string => addressOf('sybil-jc', k).toLowerCase()
  for (let k = 0; k < machinesPer; k++) owner.set(sybilCreator(k), 'sybil-decline')
  const mediator = addressOf('mediator', 0).toLowerCase()
  /** Each strategy's money from one deal at its final state: what the Market pays its accounts out of escrow less
   * what they locked in it at agreement (the provider its collateral, the job creator price and mediation fee). */
  const settle = (d: DealOutcome): void => {
    const terms = { price: d.price, collateral, mediationFee, jobCreator: d.jobCreator, resourceProvider: d.provider } as unknown as DealTerms
    const net = new Map<Strategy, bigint>()
    const add = (account: string, amount: bigint): void => {
      const s = owner.get(account)
      if (s !== undefined) net.set(s, (net.get(s) ?? 0n) + amount)
    }
    add(d.provider, -collateral)
    add(d.jobCreator, -(d.price + mediationFee))
    for (const t of payoutsOf(DealState[d.state], terms, mediator)) add(t.account, t.amount)
    for (const [s, v] of net) {
      const a = acc.get(s)!
      if (v >= 0n) a.payments += v
      else a.costs -= v
    }
  }
  const roots: string[] = []
  const totals: number[] = []
  let deal = 0
  const nextDeal = (): string => '0x' + (++deal).toString(16).padStart(64, '0')

  for (let epoch = 0; epoch < epochs; epoch++) {
    const deals: DealOutcome[] = []
    const canaries: CanaryRecord[] = []
    const canaryDeals = new Map<string, DealParties>()
    /** the validator's count of tolerated races per provider this epoch */
    const races = new Map<string, number>()
    /** real deals' agree times, per provider (what the validator reads from DealAgreed), and those that excused a race */
    const agreedBy = new Map<string, AgreedDeal[]>()
    const agreedOf = (p: string): AgreedDeal[] => { let l = agreedBy.get(p); if (l === undefined) { l = []; agreedBy.set(p, l) } return l }
    const usedForRace = new Set<string>()
    /** per machine: its real deals in job order, and how many a race has taken (re-timed to the round) */
    const machineJobs = new Map<number, AgreedDeal[]>()
    const racedJobs = new Map<number, number>()
    // ---- real demand: the job creators' share of jobs for each machine they would use (its identities not banned;
    // demoted ones only when no machine is in good standing) — the same for every such machine: `demand` each, and
    // an equal share, rounded down, of the jobs of machines they refuse. Demand goes to machines, not identities:
    // a machine split into many keys gets no more real jobs (its keys take turns) ----
    const serving = identities.filter(i => i.strategy !== 'idle')
    const machinesServing = new Set(serving.map(i => i.machine)).size
    const ranked = bans.rank(serving, i => i.address, epoch * EPOCH_MS)
    const okOnes = ranked.filter(i => bans.standing(i.address, epoch * EPOCH_MS) === 'ok')
    const pool = okOnes.length > 0 ? okOnes : ranked
    const used = [...new Set(pool.map(i => i.machine))]
    const jobsEach = used.length === 0 ? 0 : Math.floor(demand * machinesServing / used.length)
    let block = 0
    for (const m of used) {
      const onMachine = pool.filter(i => i.machine === m)
      const js = stream('jobs', epoch, onMachine[0].k)
      // when each job's deal is agreed: its own stream, so the jobs themselves are drawn as before
      const times = stream('job-times', epoch, onMachine[0].k)
      const jobs: AgreedDeal[] = []
      machineJobs.set(m, jobs)
      for (let n = 0; n < jobsEach; n++) {
        const p = onMachine[n % onMachine.length]
        const jc = jobCreators[js.int(jobCreators.length)]
        const auditPpm = [0, 10_000, 50_000, 100_000][js.int(4)]
        // the Market's random audit of the submission; the mediator re-runs the job: a junk result is wrong
        const audited = js.int(1_000_000) < auditPpm
        if (audited && p.strategy === 'cheater') acc.get(p.strategy)!.slashed++
        const state = !audited ? 'Settled' : p.strategy === 'cheater' ? 'MediatedWrong' : 'MediatedCorrect'
        const dealId = nextDeal()
        deals.push({ dealId, provider: p.address, jobCreator: jc, price, auditPpm, audited, challenged: false, state, closedBlock: block++ })
        const agreed = { dealId, provider: p.address, jobCreator: jc, agreedAt: epoch * EPOCH_SEC + times.int(EPOCH_SEC) }
        jobs.push(agreed)
        agreedOf(p.address).push(agreed)
      }
    }
    const usedMachines = new Set(used)
    // ---- the colluders' faked deals: their own job creators, the highest counted price, the lowest counted audit rate ----
    // (one cartel: its job creator keys pay every colluding provider in turn, so each key pays "others" too)
    // An audit draws a mediator, who needs the job to re-run it; both parties are the cartel and keep it back, so the
    // mediation times out and the result stands (timeoutMediation), paid and counted like a settled deal.
    for (const c of identities.filter(i => i.strategy === 'colluder')) {
      const a = acc.get('colluder')!
      const fs = stream('fakes', epoch, c.k)
      for (let k = 0; k < fakeDeals; k++) {
        const jc = addressOf('cartel', k % COLLUDER_CREATORS).toLowerCase()
        const audited = fs.int(1_000_000) < rules.minAuditPpm
        deals.push({ dealId: nextDeal(), provider: c.address, jobCreator: jc, price: rules.maxPricePerDeal, auditPpm: rules.minAuditPpm, audited, challenged: false, state: audited ? 'TimedOutMediation' : 'Settled', closedBlock: 0 })
        // the price goes round in a circle (its own job creator pays it); the gas does not
        a.costs += gasPerDeal
      }
    }
    // ---- canary rounds: the validator's planner over every live slot; a machine runs what its free capacity allows ----
    for (let r = 0; r < rounds; r++) {
      // each machine is busy with real jobs part of the time: 0–2 of its four slots at the round's moment. An honest
      // provider withdraws the offers of busy slots; a Sybil identity or an overclaimer offers what it claims.
      const busy = new Map<number, number>()
      // a machine whose slot a real job takes between the census offer and the canary's proposal (not an idle one,
      // nor one the job creators ban: no demand reaches it)
      const raced = new Set<number>()
      for (const i of identities) {
        if (i.nth !== 0) continue
        busy.set(i.machine, stream('busy', epoch, r, i.k).int(3))
        if (i.strategy !== 'idle' && usedMachines.has(i.machine) && stream('race', epoch, r, i.k).int(1_000_000) < raceRate) raced.add(i.machine)
      }
      const roundAt = epoch * EPOCH_MS + Math.floor((r + 0.5) * EPOCH_MS / rounds)
      const roundSec = Math.floor(roundAt / 1000)
      // the real job that takes a raced machine's slot is the machine's next job, agreed at the round (within the
      // agree window of its countersignature); a machine no job creator uses meets no real job, and no race
      for (const m of raced) {
        const jobs = machineJobs.get(m)
        const n = racedJobs.get(m) ?? 0
        if (!usedMachines.has(m) || jobs === undefined || n >= jobs.length) continue
        racedJobs.set(m, n + 1)
        jobs[n].agreedAt = roundSec + stream('race-at', epoch, r, m).int(16)
      }
      // the validator's planner (each provider's canaries drawn from its machine's stream) over every live slot;
      // it skips providers its reputation book bans (the same standing job creators use)
      const planned: PlannedCanary[] = []
      for (const i of identities) {
        if (validatorBans.standing(i.address, roundAt) === 'banned' || capacityBans.banned(i.address, roundAt)) continue
        const freeNow = SLOTS - (busy.get(i.machine) as number)
        const offered = i.strategy === 'sybil-decline' && o.sybilOffers === 'free' ? freeNow
          : i.strategy === 'sybil-decline' && o.sybilOffers === 'split' ? (i.nth < freeNow ? 1 : 0)
            : sybilLike(i.strategy) || i.strategy === 'overclaim' ? i.slots : i.strategy === 'idle' ? SLOTS : freeNow
        const targets: CanaryTarget[] = []
        for (let s = 0; s < offered; s++) targets.push({ provider: i.address, offerId: `${i.address}:${s}`, cpu: SLOT.cpu, ramMb: SLOT.ramMb, units: resourceUnits(SLOT) })
        planned.push(...planRound(stream('canaries', epoch, r, i.k, i.nth), targets, roundOptions))
        // the retries it owes go with this round, each on one of its live slots: on top of its slots' canaries
        const owed = retries.owed(i.address)
        if (owed > 0) {
          const sent = planRetries(stream('retries', epoch, r, i.k, i.nth), targets, owed, roundOptions)
          retries.take(i.address, sent.length)
          acc.get(i.strategy)!.retries += sent.length
          planned.push(...sent)
        }
      }
      planned.sort((a, b) => a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0)
      // a canary runs when its machine has the CPU free at the round's moment (real jobs hold their slots' CPU)
      const free = new Map<number, number>()
      /** the validator's count of tolerated races per provider this round */
      const roundRaces = new Map<string, number>()
      for (const c of planned) {
        const who = byAddress.get(c.provider.toLowerCase())!
        const a = acc.get(who.strategy)!
        // a race: the real job takes a slot's CPU; a provider offering only free slots withdraws the slot's offer
        // (the first canary planned on that machine's slots) and declines its canary — the validator's book shows
        // the slot busy when the canary gives up
        let withdrawn = false
        if (!free.has(who.machine)) {
          free.set(who.machine, SLOT.cpu * (SLOTS - (who.strategy === 'idle' ? 0 : busy.get(who.machine) as number) - (raced.has(who.machine) ? 1 : 0)))
          withdrawn = raced.has(who.machine) && !sybilLike(who.strategy) && who.strategy !== 'overclaim'
        }
        const cpu = (free.get(who.machine) as number)
        // what the canary takes of the machine while it runs: what its job asks (canaryAsk — the whole slot it was
        // sent to; before, `canaryAsks: 'module'`, the module's own requirement, so two cowsays fit one slot's room)
        const need = c.ask.cpu
        // no deal: a race (the slot's offer withdrawn), or a sybil-decline machine that cannot run it: it declines
        // NO_CAPACITY with its offer still showing the slot free — or, with `sybilWithdraws`, withdraws the offer
        // first and passes the decline off as a race
        const declines = cpu < need && who.strategy === 'sybil-decline'
        if (declines && o.sybilWithdraws === true) {
          withdrawn = true
          if (o.sybilFakesRaceDeals === true) {
            // its own job creator key agrees a deal with the key at the round: a deal on chain behind the withdrawal
            const dealId = nextDeal()
            const jc = sybilCreator(who.k)
            deals.push({ dealId, provider: who.address, jobCreator: jc, price, auditPpm: 0, audited: false, challenged: false, state: 'Settled', closedBlock: 0 })
            agreedOf(who.address).push({ dealId, provider: who.address, jobCreator: jc, agreedAt: roundSec })
            a.costs += gasPerDeal
          }
        }
        if (withdrawn || declines) {
          const seen = { round: roundRaces.get(who.address) ?? 0, epoch: races.get(who.address) ?? 0 }
          // the deal that took the slot, read from the chain once the window is over (the validator's job creator
          // gave up after its queue wait)
          const took = withdrawn && checkRaceDeals
            ? raceDeal(agreedBy.get(who.address) ?? [], who.address, raceWindow(roundSec, roundSec + QUEUE_WAIT_SEC, declineRule), { canaryKeys: new Set([validator]), used: usedForRace })
            : undefined
          const verdict = judgeDeclines ? judgeNoDeal({ slotStillFree: !withdrawn, dealTookSlot: !checkRaceDeals || took !== undefined, retry: c.retry === true }, seen, declineRule) : 'declined'
          if (verdict === 'race') {
            if (took !== undefined) usedForRace.add(took.dealId)
            roundRaces.set(who.address, seen.round + 1); races.set(who.address, seen.epoch + 1); a.races++
            // deferred, not excused: the key owes the canary at its next round
            if (deferRaces) retries.defer(who.address)
            continue
          }
          // a failed canary with no deal: reported as outcome Unreachable (no collateral: no deal); no canaries for
          // banEpochs (declined) or for the rest of the epoch (a race beyond the allowance); before declines were
          // judged, a lone one only demoted it
          canaries.push({ reportId: nextDeal(), epoch, provider: who.address, validator, dealId: '0x' + '0'.repeat(64), outcome: CanaryOutcome.Unreachable, units: c.units, observedAt: 0 })
          a.failed++
          a.declined++
          if (verdict === 'declined' && judgeDeclines) capacityBans.record(who.address, 'false-capacity', roundAt)
          else validatorBans.record(who.address, judgeDeclines ? 'false-capacity' : 'unreachable', roundAt)
          continue
        }
        let outcome: CanaryOutcomeValue
        // a retry comes on top of the slots' canaries: a provider that offers only its free slots shows none free while
        // they run, so the validator's job creator waits in its queue (120 s) and proposes it when one is done (a
        // canary takes seconds) — it takes a slot its round's canaries left; one that offers the whole machine (a Sybil key, an overclaimer) shows its slots free
        // and must take it now or dodge it
        const queues = c.retry === true && !sybilLike(who.strategy) && who.strategy !== 'overclaim'
        if (queues) outcome = CanaryOutcome.Passed // run once a slot is done: it takes none of the round's CPU
        else if (cpu < need) outcome = CanaryOutcome.NoResult // the machine cannot run it at this moment: it times out
        else { free.set(who.machine, cpu - need); outcome = CanaryOutcome.Passed }
        const id = nextDeal()
        canaryDeals.set(id, { provider: who.address, jobCreator: validator })
        canaries.push({ reportId: nextDeal(), epoch, provider: who.address, validator, dealId: id, outcome, units: c.units, observedAt: 0 })
        deals.push({ dealId: id, provider: who.address, jobCreator: validator, price, auditPpm: c.auditPpm, audited: false, challenged: false, state: outcome === CanaryOutcome.Passed ? 'Settled' : 'TimedOutResult', closedBlock: 0 })
        if (outcome === CanaryOutcome.Passed) a.passed++
        else { a.failed++; validatorBans.record(who.address, 'no-result', roundAt) }
      }
    }
    // ---- what the Market pays out for each of the epoch's deals (protocols/settlement's payouts, Market.sol's):
    // a settled deal pays the provider the price (the validator pays a passed canary like any job creator); a
    // result mediated wrong gives the provider's collateral to the job creator, and so does a result timeout
    // (timeoutResult), canary or real job alike; a cartel paying itself moves its own money in a circle ----
    for (const d of deals) settle(d)
    // ---- the epoch's rewards and root: exactly what `lilypad rewards compute` computes from these facts ----
    const rewards = computeEpochRewards({ epoch, deals, canaries, canaryDeals }, rules)
    if (rewards.total > 0n) roots.push(RewardsTree.fromRewards(rewards).root)
    totals.push(lp(rewards.total))
    for (const p of rewards.providers) {
      const who = byAddress.get(p.provider)
      if (who === undefined) continue
      const a = acc.get(who.strategy)!
      a.rewards += p.amount
      if (p.paidDeals > 0) a.paid += p.paidDeals
    }
    // ---- every job creator reads the epoch's outcomes from the chain: the next epoch's standing ----
    for (const d of deals) book.addOutcome(d)
    for (const c of canaries) book.addCanary(c, canaryDeals.get(c.dealId))
  }

  const strategies: StrategyReport[] = STRATEGIES.map(s => {
    const a = acc.get(s)!
    const ids = identities.filter(i => i.strategy === s)
    const machines = new Set(ids.map(i => i.machine)).size
    const income = a.rewards + a.payments - a.costs
    const perMachine = lp(income) / machines / epochs
    return {
      strategy: s,
      machines,
      identities: ids.length,
      canaries: { passed: a.passed, failed: a.failed, declined: a.declined, racesTolerated: a.races, retries: a.retries },
      paidDeals: a.paid,
      slashed: a.slashed,
      rewardsLP: lp(a.rewards),
      paymentsLP: lp(a.payments),
      costsLP: lp(a.costs),
      incomeLP: lp(income),
      incomePerMachineLP: round(perMachine, 4),
      incomePerKiloUnitLP: round(perMachine * 1000 / MACHINE_UNITS, 4),
      bannedAtEnd: ids.filter(i => bans.standing(i.address, epochs * EPOCH_MS) === 'banned').length
    }
  })
  const best = [...strategies].sort((a, b) => b.incomePerKiloUnitLP - a.incomePerKiloUnitLP)[0].strategy
  return { demand, epochs, rounds, roots, totalsLP: totals, strategies, best, honestEarnsMost: best === 'honest' }
}
