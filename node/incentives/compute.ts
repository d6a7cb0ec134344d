// `lilypad rewards compute` and everything built on it: an epoch's rewards from the chain alone, with the contract's
// own schedule and a check that this node computes with the rules the contract was deployed with.
import { openRpc, type RetryingProvider } from '../chain/rpc.ts'
import type { NetworkFile } from '../config/network.ts'
import { connectRewards, type RewardsContract } from '../../contracts/generated/index.ts'
import { computeEpochRewards, RewardsTree, rulesHash, setupFromJson, lastClosedEpoch, type EpochRewards, type RewardRules, type RewardsConfig, type EpochInputs } from '../../protocols/incentives/index.ts'
import { chainRecords, reputationScore, standingOf, type ChainRecord, type Standing } from '../../core/reputation/index.ts'
import { readEpochInputs, closedDealFacts, canaryRecords, dealParties, epochBlockRange, type ChainFactsSource } from './chain-facts.ts'
import { NoRewardsContractError } from './rewards-client.ts'
import { dealOutcomes, type CanaryRecord } from '../../protocols/incentives/outcomes.ts'
import { isAddress } from 'ethers'

export class RulesMismatchError extends Error {
  static override name = 'RulesMismatchError'
  override name = RulesMismatchError.name
  readonly hint = 'the network file\'s rewards.rules are not the rules the Rewards contract was deployed with; get the network file from its operator'
}

export class RootMismatchError extends Error {
  static override name = 'RootMismatchError'
  override name = RootMismatchError.name
  readonly hint = 'the root on chain is not the one computed here from the chain: check the RPC (a node behind the chain head?) and the rules; a publisher should veto a root it cannot reproduce'
}

export interface RewardsReader {
  provider: RetryingProvider
  contract: RewardsContract
  source: ChainFactsSource
  rules: RewardRules
  config: RewardsConfig
  stop: () => void
}

/** A read-only view of the network's rewards (no key needed): checks the chain id and the rules' hash. */
export async function openRewardsReader (network: NetworkFile): Promise<RewardsReader> {
  const address = network.contracts.rewards
  if (address === undefined || network.rewards === undefined) throw new NoRewardsContractError(`the network "${network.networkId}" has no Rewards contract`)
  const setup = setupFromJson(network.rewards, isAddress)
  const provider = await openRpc(network)
  try {
    const contract = connectRewards(address, provider)
    const c = await contract.config()
    const config: RewardsConfig = {
      genesis: Number(c.genesis), epochLength: Number(c.epochLength), reportWindow: Number(c.reportWindow), challengeDelay: Number(c.challengeDelay),
      claimWindow: Number(c.claimWindow), maxPerEpoch: c.maxPerEpoch, threshold: Number(c.threshold), rulesHash: c.rulesHash.toLowerCase()
    }
    if (config.rulesHash !== rulesHash(setup.rules)) throw new RulesMismatchError(`the Rewards contract at ${address} was deployed with rules ${config.rulesHash}, the network file's hash to ${rulesHash(setup.rules)}`)
    const source: ChainFactsSource = { provider, market: network.contracts.market, rewards: address, deployBlock: network.deployBlock }
    return { provider, contract, source, rules: setup.rules, config, stop: () => { provider.destroy() } }
  } catch (err) {
    provider.destroy()
    throw err
  }
}

export async function chainTime (r: RewardsReader): Promise<number> {
  return (await r.provider.getBlock('latest'))?.timestamp ?? 0
}

export interface ComputedEpoch {
  inputs: EpochInputs & { fromBlock: number, toBlock: number }
  rewards: EpochRewards
  /** absent when the epoch rewards nobody */
  tree?: RewardsTree
  /** the root the contract made final for this epoch, if any */
  finalRoot?: { root: string, total: bigint }
}

/** An epoch's rewards from the chain: the default epoch is the last one whose inputs are final. */
export async function computeEpoch (r: RewardsReader, epoch?: number, opts: { partial?: boolean } = {}): Promise<ComputedEpoch> {
  const e = epoch ?? lastClosedEpoch(r.config, await chainTime(r))
  if (e < 0) throw new RangeError('no epoch has closed yet')
  const inputs = await readEpochInputs(r.source, r.config, e, opts)
  const rewards = computeEpochRewards(inputs, r.rules)
  const tree = rewards.total > 0n ? RewardsTree.fromRewards(rewards) : undefined
  const onChain = await r.contract.epochs(e)
  const finalRoot = onChain.finalizedAt > 0n ? { root: onChain.root, total: onChain.total } : undefined
  return { inputs, rewards, tree, finalRoot }
}

export interface LeaderboardRow {
  provider: string
  score: number
  standing: Standing
  record: ChainRecord
  /** its reward in the last closed epoch (LP wei), and why it had none */
  lastEpochReward: bigint
  noReward?: string
}

export interface Leaderboard { fromEpoch: number, lastClosedEpoch: number, rows: LeaderboardRow[] }

/**
 * Every provider the chain knows of over the last `epochs` epochs and the running one: its record (deals and canary
 * reports), score and standing, and what it earned in the last closed epoch. A provider that has run no job yet shows
 * once a canary report about it is recorded. Best score first.
 */
export async function leaderboard (r: RewardsReader, epochs = 7): Promise<Leaderboard> {
  const now = await chainTime(r)
  const last = lastClosedEpoch(r.config, now)
  const current = Math.max(0, last + 1)
  const fromEpoch = Math.max(0, current - epochs)
  const head = await r.provider.getBlockNumber()
  const { fromBlock } = await epochBlockRange(r.source, r.config, fromEpoch, head)
  const deals = dealOutcomes(await closedDealFacts(r.source, fromBlock, head)).filter(d => d.closedBlock >= fromBlock)
  const canaries: CanaryRecord[] = []
  for (let e = fromEpoch; e <= current; e++) canaries.push(...await canaryRecords(r.source, e))
  const parties = await dealParties(r.source, canaries.map(c => c.dealId), head)
  const records = chainRecords(deals, canaries, parties)
  const lastRewards = last >= 0 ? (await computeEpoch(r, last)).rewards : undefined
  const rewardOf = new Map(lastRewards?.providers.map(p => [p.provider, p]) ?? [])
  const rows: LeaderboardRow[] = [...records].map(([provider, record]) => {
    const p = rewardOf.get(provider)
    return { provider, score: reputationScore(record), standing: standingOf(record), record, lastEpochReward: p?.amount ?? 0n, ...(p?.noReward !== undefined ? { noReward: p.noReward } : {}) }
  })
  rows.sort((a, b) => b.score - a.score || (a.provider < b.provider ? -1 : 1))
  return { fromEpoch, lastClosedEpoch: last, rows }
}
