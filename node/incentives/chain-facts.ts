// Reads what the reward computation and the reputation records need from the chain, with eth_getLogs over block
// ranges (no filter subscriptions): the Market's deal events of an epoch's blocks, the full history of the deals they
// close (their DealAgreed names the parties and the price; the agree call's calldata the audit rate), and the canary
// reports the Rewards contract recorded. An epoch's blocks are found by binary search on block timestamps.
import { Interface, zeroPadValue, type Log, type Provider } from 'ethers'
import { MarketAbi, RewardsAbi } from '../../contracts/generated/index.ts'
import { decodeDealLog } from '../chain/events.ts'
import { epochEnd, epochStart, type EpochSchedule } from '../../protocols/incentives/epoch.ts'
import type { CanaryRecord, DealParties, MarketFact } from '../../protocols/incentives/outcomes.ts'
import type { CanaryOutcomeValue } from '../../protocols/incentives/canary-report.ts'
import type { EpochInputs } from '../../protocols/incentives/rewards.ts'
import type { AgreedDeal, RaceWindow } from '../../protocols/incentives/canary.ts'
import { dealOutcomes } from '../../protocols/incentives/outcomes.ts'

const market = new Interface(MarketAbi as unknown as string[])
const rewards = new Interface(RewardsAbi as unknown as string[])
const AGREE = market.getFunction('agree')!
const DEAL_AGREED = market.getEvent('DealAgreed')!.topicHash
const CANARY_RECORDED = rewards.getEvent('CanaryRecorded')!.topicHash

export interface ChainFactsSource {
  provider: Pick<Provider, 'getBlock' | 'getBlockNumber' | 'getLogs' | 'getTransaction'>
  market: string
  /** the Rewards contract (absent: a network without one; no canary records) */
  rewards: string
  deployBlock: number
  /** blocks per eth_getLogs (default 5,000) */
  maxRange?: number
}

export class EpochNotClosedError extends Error {
  static override name = 'EpochNotClosedError'
  override name = EpochNotClosedError.name
  readonly hint: string
  constructor (epoch: number, closesAt: number, now: number) {
    super(`epoch ${epoch} is not closed yet: its canary reports are recorded until ${new Date(closesAt * 1000).toISOString()} (chain time now ${new Date(now * 1000).toISOString()})`)
    this.hint = `wait ${closesAt - now} s, or pass an earlier --epoch`
  }
}

async function timestampOf (src: ChainFactsSource, block: number): Promise<number> {
  const b = await src.provider.getBlock(block)
  if (b == null) throw new Error(`block ${block} not found`)
  return b.timestamp
}

/** The first block in [lo, hi] whose timestamp is ≥ ts, or hi + 1 when there is none. */
export async function firstBlockAtOrAfter (src: ChainFactsSource, ts: number, lo: number, hi: number): Promise<number> {
  while (lo <= hi) {
    const mid = lo + Math.floor((hi - lo) / 2)
    if (await timestampOf(src, mid) >= ts) hi = mid - 1
    else lo = mid + 1
  }
  return lo
}

/** The blocks mined during the epoch: [fromBlock, toBlock] (empty when toBlock < fromBlock). */
export async function epochBlockRange (src: ChainFactsSource, s: EpochSchedule, epoch: number, latest?: number): Promise<{ fromBlock: number, toBlock: number }> {
  const head = latest ?? await src.provider.getBlockNumber()
  const fromBlock = await firstBlockAtOrAfter(src, epochStart(s, epoch), src.deployBlock, head)
  const toBlock = await firstBlockAtOrAfter(src, epochEnd(s, epoch), fromBlock, head) - 1
  return { fromBlock, toBlock }
}

async function logs (src: ChainFactsSource, address: string, topics: Array<string | string[] | null>, fromBlock: number, toBlock: number): Promise<Log[]> {
  const step = src.maxRange ?? 5000
  const out: Log[] = []
  for (let from = fromBlock; from <= toBlock; from += step) {
    out.push(...await src.provider.getLogs({ address, topics, fromBlock: from, toBlock: Math.min(toBlock, from + step - 1) }))
  }
  return out
}

/** The audit rate the deal was agreed with, from the agree call's calldata; null when it was not a direct call. */
async function auditPpmOf (src: ChainFactsSource, txHash: string, dealId: string): Promise<number | null> {
  const tx = await src.provider.getTransaction(txHash)
  if (tx == null || tx.to?.toLowerCase() !== src.market.toLowerCase() || !tx.data.startsWith(AGREE.selector)) return null
  const [deal] = market.decodeFunctionData(AGREE, tx.data) as unknown as [{ auditPpm: bigint }]
  void dealId
  return Number(deal.auditPpm)
}

export interface FactOptions {
  /**
   * Read each DealAgreed's audit rate from its agree call's calldata (one eth_getTransactionByHash per deal, in
   * turn). Rewards need it; reputation does not, and leaves it null. Default true.
   */
  auditPpm?: boolean
}

async function toFacts (src: ChainFactsSource, raw: Log[], opts: FactOptions = {}): Promise<MarketFact[]> {
  const out: MarketFact[] = []
  for (const log of raw) {
    const e = decodeDealLog(log)
    if (e === null) continue
    const base = { dealId: e.dealId.toLowerCase(), block: e.blockNumber }
    switch (e.kind) {
      case 'DealAgreed': out.push({ ...base, kind: e.kind, jobCreator: e.jobCreator.toLowerCase(), resourceProvider: e.resourceProvider.toLowerCase(), price: e.price, collateral: e.collateral, mediationFee: e.mediationFee, auditPpm: opts.auditPpm === false ? null : await auditPpmOf(src, e.txHash, e.dealId) }); break
      case 'ResultSubmitted': out.push({ ...base, kind: e.kind }); break
      case 'DealChallenged': out.push({ ...base, kind: e.kind, audit: e.audit }); break
      case 'DealMediated': out.push({ ...base, kind: e.kind, resultCorrect: e.resultCorrect }); break
      case 'DealSettled': out.push({ ...base, kind: e.kind }); break
      case 'DealTimedOut': out.push({ ...base, kind: e.kind, which: e.which }); break
      case 'CommitteeFinalized': out.push({ ...base, kind: e.kind, noCase: e.noCase }); break
      case 'SeedWithheld': out.push({ ...base, kind: e.kind }); break
    }
  }
  return out
}

/** Every Market deal event of the given deals, from the deploy block to `toBlock`. */
export async function dealHistories (src: ChainFactsSource, dealIds: Iterable<string>, toBlock: number, opts: FactOptions = {}): Promise<MarketFact[]> {
  const ids = [...new Set([...dealIds].map(d => d.toLowerCase()))].sort()
  const out: MarketFact[] = []
  for (let i = 0; i < ids.length; i += 100) {
    out.push(...await toFacts(src, await logs(src, src.market, [null, ids.slice(i, i + 100)], src.deployBlock, toBlock), opts))
  }
  return out
}

/** Every Market deal event in blocks [fromBlock, toBlock], in chain order. */
export async function marketFactsIn (src: ChainFactsSource, fromBlock: number, toBlock: number, opts: FactOptions = {}): Promise<MarketFact[]> {
  return await toFacts(src, await logs(src, src.market, [], fromBlock, toBlock), opts)
}

/** A deal's last event: after it nothing about the deal changes. */
export function isFinalFact (f: MarketFact): boolean {
  return f.kind === 'DealSettled' || f.kind === 'DealMediated' || f.kind === 'DealTimedOut'
}

/**
 * The deals that reached their final state in [fromBlock, toBlock], with their whole history. From the deploy block
 * the range is the whole history already: no second read.
 */
export async function closedDealFacts (src: ChainFactsSource, fromBlock: number, toBlock: number, opts: FactOptions = {}): Promise<MarketFact[]> {
  const inRange = await marketFactsIn(src, fromBlock, toBlock, opts)
  const closed = new Set(inRange.filter(isFinalFact).map(f => f.dealId))
  if (fromBlock <= src.deployBlock) return inRange.filter(f => closed.has(f.dealId))
  return await dealHistories(src, closed, toBlock, opts)
}

/** The canary reports recorded for an epoch (all of them, in order of recording). */
export async function canaryRecords (src: ChainFactsSource, epoch: number): Promise<CanaryRecord[]> {
  const head = await src.provider.getBlockNumber()
  return await canaryRecordsIn(src, src.deployBlock, head, epoch)
}

/** The canary reports recorded in blocks [fromBlock, toBlock] (of one epoch, or of any). */
export async function canaryRecordsIn (src: ChainFactsSource, fromBlock: number, toBlock: number, epoch?: number): Promise<CanaryRecord[]> {
  const topics = epoch === undefined ? [CANARY_RECORDED] : [CANARY_RECORDED, '0x' + BigInt(epoch).toString(16).padStart(64, '0')]
  const out: CanaryRecord[] = []
  for (const log of await logs(src, src.rewards, topics, fromBlock, toBlock)) {
    const p = rewards.parseLog({ topics: [...log.topics], data: log.data })
    if (p == null) continue
    const a = p.args
    out.push({
      reportId: (a.reportId as string).toLowerCase(), epoch: Number(a.epoch), provider: (a.provider as string).toLowerCase(), validator: (a.validator as string).toLowerCase(),
      dealId: (a.dealId as string).toLowerCase(), outcome: Number(a.outcome) as CanaryOutcomeValue, units: Number(a.units), observedAt: Number(a.observedAt)
    })
  }
  return out
}

/** The parties of each deal, from its DealAgreed. */
export async function dealParties (src: ChainFactsSource, dealIds: Iterable<string>, toBlock: number): Promise<Map<string, DealParties>> {
  const ids = [...new Set([...dealIds].map(d => d.toLowerCase()))].filter(d => !/^0x0+$/.test(d)).sort()
  const out = new Map<string, DealParties>()
  for (let i = 0; i < ids.length; i += 100) {
    for (const log of await logs(src, src.market, [DEAL_AGREED, ids.slice(i, i + 100)], src.deployBlock, toBlock)) {
      const e = decodeDealLog(log)
      if (e?.kind === 'DealAgreed') out.set(e.dealId.toLowerCase(), { provider: e.resourceProvider.toLowerCase(), jobCreator: e.jobCreator.toLowerCase() })
    }
  }
  return out
}

/**
 * The deals agreed naming `provider` (DealAgreed, by its indexed provider) in blocks whose timestamps are in
 * [window.from, window.to], with those timestamps: what the validator asks when a canary's slot was withdrawn (the
 * deal of the real job that took it, canary.ts raceDeal). Blocks are found by binary search on their timestamps.
 */
export async function agreedDealsOf (src: ChainFactsSource, provider: string, window: RaceWindow): Promise<AgreedDeal[]> {
  const head = await src.provider.getBlockNumber()
  const fromBlock = await firstBlockAtOrAfter(src, window.from, src.deployBlock, head)
  if (fromBlock > head) return []
  const toBlock = await firstBlockAtOrAfter(src, window.to + 1, fromBlock, head) - 1
  const out: AgreedDeal[] = []
  const times = new Map<number, number>()
  for (const log of await logs(src, src.market, [DEAL_AGREED, null, null, zeroPadValue(provider.toLowerCase(), 32)], fromBlock, toBlock)) {
    const e = decodeDealLog(log)
    if (e?.kind !== 'DealAgreed') continue
    let at = times.get(e.blockNumber)
    if (at === undefined) { at = await timestampOf(src, e.blockNumber); times.set(e.blockNumber, at) }
    out.push({ dealId: e.dealId.toLowerCase(), provider: e.resourceProvider.toLowerCase(), jobCreator: e.jobCreator.toLowerCase(), agreedAt: at })
  }
  return out
}

/**
 * Everything `computeEpochRewards` needs for one epoch. Refuses an epoch that is not closed at the chain's latest
 * block (its inputs could still change), unless `partial` (the leaderboard's view of the running epoch).
 */
export async function readEpochInputs (src: ChainFactsSource, s: EpochSchedule, epoch: number, opts: { partial?: boolean } = {}): Promise<EpochInputs & { fromBlock: number, toBlock: number }> {
  const head = await src.provider.getBlockNumber()
  const now = await timestampOf(src, head)
  const closesAt = epochEnd(s, epoch) + s.reportWindow
  if (now < closesAt && opts.partial !== true) throw new EpochNotClosedError(epoch, closesAt, now)
  const { fromBlock, toBlock } = await epochBlockRange(src, s, epoch, head)
  const deals = dealOutcomes(await closedDealFacts(src, fromBlock, toBlock)).filter(d => d.closedBlock >= fromBlock && d.closedBlock <= toBlock)
  const canaries = await canaryRecords(src, epoch)
  const canaryDeals = await dealParties(src, canaries.map(c => c.dealId), head)
  return { epoch, deals, canaries, canaryDeals, fromBlock, toBlock }
}
