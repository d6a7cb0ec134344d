// One epoch's rewards, computed from public facts only (deal outcomes from the Market's events, canary reports
// recorded in the Rewards contract) and the rules. Integer arithmetic in LP wei throughout and every collection
// sorted before it is summed, so anyone computing it gets the same amounts and therefore the same Merkle root.
//
// Per provider:
//   passes   = the canary passes recorded for it (checked: the report's deal is the provider's deal), at most
//              `maxCanariesPerProvider`; net = passes − failPenalty × failed canaries − timeoutPenalty × deals it
//              let time out. A provider slashed in the epoch (a result mediated wrong), or with net < minPasses,
//              earns nothing: paid work counts only where canaries saw the machine up and honest.
//   units    = Σ resource units of the counted passes × net / passes  (capacity verified, weighted by resources)
//   canary   = canaryRewardPerUnit × units
//   paid     = paidRewardPpm × Σ min(price, maxPricePerDeal) over its paid deals that closed in the epoch —
//              not canaries, not with itself, not left unjudged by a committee that never got the case, with
//              auditPpm ≥ minAuditPpm — at most creatorSharePpm of the cap from
//              any one job creator, and at most paidCapPerUnit × units in all. From each job creator a provider's
//              counted volume is at most what that job creator paid all other providers in the epoch: a job creator
//              that pays only one provider (its own, faking deals) counts for nothing, and to make X count for its
//              own provider a cartel must pay X to strangers, which costs more than the reward it buys.
//   reward   = min(canary + paid, providerCap); scaled down pro rata (rounding down) when the epoch's sum exceeds
//              epochBudget.
// Idle uptime alone earns nothing: an offer nobody sends a job to is never observed; only answered canaries are.
import { CanaryOutcome } from './canary-report.ts'
import { PAID_STATES, type CanaryRecord, type DealOutcome, type DealParties } from './outcomes.ts'
import { rulesHash, type RewardRules } from './rules.ts'

export interface EpochInputs {
  epoch: number
  /** deals whose final event lies in the epoch */
  deals: readonly DealOutcome[]
  /** canary reports recorded for the epoch */
  canaries: readonly CanaryRecord[]
  /** the parties of every deal a canary report names (from its DealAgreed), whenever it was agreed */
  canaryDeals: ReadonlyMap<string, DealParties>
}

export type NoRewardReason = 'slashed' | 'too-few-passes' | 'no-canary-pass'

export interface ProviderReward {
  provider: string
  passes: number
  countedPasses: number
  failedCanaries: number
  timeouts: number
  slashed: number
  netPasses: number
  /** milli-units of verified capacity after penalties */
  units: number
  canaryReward: bigint
  paidDeals: number
  /** Σ min(price, maxPricePerDeal) of the counted paid deals */
  paidVolume: bigint
  paidCap: bigint
  paidReward: bigint
  /** before the budget's pro-rata scaling */
  reward: bigint
  /** what its Merkle leaf pays */
  amount: bigint
  noReward?: NoRewardReason
}

export interface IgnoredReport { reportId: string, why: 'other-epoch' | 'unknown-deal' | 'not-the-provider\'s-deal' }

export interface EpochRewards {
  epoch: number
  rulesHash: string
  /** every provider seen in the epoch, by address */
  providers: ProviderReward[]
  /** Σ amounts: the root's total */
  total: bigint
  /** true when the budget scaled the rewards down */
  scaled: boolean
  ignoredReports: IgnoredReport[]
}

const PPM = 1_000_000n
const cmp = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

interface Tally { passes: CanaryRecord[], failed: number, timeouts: number, slashed: number, paid: DealOutcome[] }

export function computeEpochRewards (inputs: EpochInputs, rules: RewardRules): EpochRewards {
  const tallies = new Map<string, Tally>()
  const tally = (p: string): Tally => {
    let t = tallies.get(p)
    if (t === undefined) { t = { passes: [], failed: 0, timeouts: 0, slashed: 0, paid: [] }; tallies.set(p, t) }
    return t
  }
  const ignoredReports: IgnoredReport[] = []
  const canaryDealIds = new Set<string>()
  for (const c of [...inputs.canaries].sort((a, b) => cmp(a.reportId, b.reportId))) {
    if (c.dealId !== '0x' + '0'.repeat(64)) canaryDealIds.add(c.dealId.toLowerCase())
    if (c.epoch !== inputs.epoch) { ignoredReports.push({ reportId: c.reportId, why: 'other-epoch' }); continue }
    const provider = c.provider.toLowerCase()
    if (c.outcome !== CanaryOutcome.Unreachable) {
      const parties = inputs.canaryDeals.get(c.dealId.toLowerCase())
      if (parties === undefined) { ignoredReports.push({ reportId: c.reportId, why: 'unknown-deal' }); continue }
      if (parties.provider.toLowerCase() !== provider) { ignoredReports.push({ reportId: c.reportId, why: 'not-the-provider\'s-deal' }); continue }
    }
    const t = tally(provider)
    if (c.outcome === CanaryOutcome.Passed) t.passes.push(c)
    else t.failed++
  }
  for (const d of inputs.deals) {
    const t = tally(d.provider.toLowerCase())
    if (d.state === 'MediatedWrong') t.slashed++
    else if (d.state === 'TimedOutResult') t.timeouts++
    else if (PAID_STATES.has(d.state) && d.unjudged !== true && !canaryDealIds.has(d.dealId.toLowerCase()) && d.jobCreator.toLowerCase() !== d.provider.toLowerCase() &&
      d.auditPpm !== null && d.auditPpm >= rules.minAuditPpm) t.paid.push(d)
  }

  // what each job creator paid each provider in the epoch's counted deals (prices capped)
  const paidBy = new Map<string, Map<string, bigint>>()
  for (const [provider, t] of tallies) {
    for (const d of t.paid) {
      const jc = d.jobCreator.toLowerCase()
      let m = paidBy.get(jc)
      if (m === undefined) { m = new Map(); paidBy.set(jc, m) }
      const price = d.price < rules.maxPricePerDeal ? d.price : rules.maxPricePerDeal
      m.set(provider, (m.get(provider) ?? 0n) + price)
    }
  }
  const paidToOthers = (jc: string, provider: string): bigint => {
    let sum = 0n
    for (const [p, v] of paidBy.get(jc) ?? []) if (p !== provider) sum += v
    return sum
  }

  const providers: ProviderReward[] = []
  for (const provider of [...tallies.keys()].sort(cmp)) {
    const t = tallies.get(provider) as Tally
    const counted = t.passes.slice(0, rules.maxCanariesPerProvider)
    const net = counted.length - rules.failPenalty * t.failed - rules.timeoutPenalty * t.timeouts
    const r: ProviderReward = {
      provider, passes: t.passes.length, countedPasses: counted.length, failedCanaries: t.failed, timeouts: t.timeouts, slashed: t.slashed,
      netPasses: Math.max(0, net), units: 0, canaryReward: 0n, paidDeals: 0, paidVolume: 0n, paidCap: 0n, paidReward: 0n, reward: 0n, amount: 0n
    }
    providers.push(r)
    if (t.slashed > 0) { r.noReward = 'slashed'; continue }
    if (counted.length === 0) { r.noReward = 'no-canary-pass'; continue }
    if (net < rules.minPasses || net <= 0) { r.noReward = 'too-few-passes'; continue }
    const rawUnits = counted.reduce((s, c) => s + BigInt(c.units), 0n)
    const units = rawUnits * BigInt(net) / BigInt(counted.length)
    r.units = Number(units)
    r.canaryReward = rules.canaryRewardPerUnit * units / 1000n
    r.paidCap = rules.paidCapPerUnit * units / 1000n
    const creatorCap = r.paidCap * BigInt(rules.creatorSharePpm) / PPM
    const byCreator = new Map<string, bigint>()
    for (const d of t.paid) {
      const price = d.price < rules.maxPricePerDeal ? d.price : rules.maxPricePerDeal
      byCreator.set(d.jobCreator.toLowerCase(), (byCreator.get(d.jobCreator.toLowerCase()) ?? 0n) + price)
      r.paidVolume += price
      r.paidDeals++
    }
    let paid = 0n
    for (const jc of [...byCreator.keys()].sort(cmp)) {
      const own = byCreator.get(jc) as bigint
      const others = paidToOthers(jc, provider)
      const fromJc = (own < others ? own : others) * BigInt(rules.paidRewardPpm) / PPM
      paid += fromJc < creatorCap ? fromJc : creatorCap
    }
    r.paidReward = paid < r.paidCap ? paid : r.paidCap
    const sum = r.canaryReward + r.paidReward
    r.reward = sum < rules.providerCap ? sum : rules.providerCap
  }
  const sum = providers.reduce((s, p) => s + p.reward, 0n)
  const scaled = sum > rules.epochBudget
  let total = 0n
  for (const p of providers) {
    p.amount = scaled ? p.reward * rules.epochBudget / sum : p.reward
    total += p.amount
  }
  return { epoch: inputs.epoch, rulesHash: rulesHash(rules), providers, total, scaled, ignoredReports }
}
