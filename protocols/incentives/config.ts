// The Rewards contract's fixed parameters (contracts/src/Rewards.sol `RewardsConfig`), as the deploy module passes
// them and the network file copies them, so nodes know the epochs without a call.
import { rulesHash, rulesToJson, rulesFromJson, type RewardRules, type RewardRulesJson } from './rules.ts'
import type { EpochSchedule } from './epoch.ts'

export interface RewardsConfig extends EpochSchedule {
  challengeDelay: number
  claimWindow: number
  /** LP wei */
  maxPerEpoch: bigint
  threshold: number
  rulesHash: string
}

export type RewardsConfigJson = Omit<RewardsConfig, 'maxPerEpoch'> & { maxPerEpoch: string }

/** What a network file says about its rewards: the contract's parameters, the rules, who publishes and who validates. */
export interface RewardsSetup {
  config: RewardsConfig
  rules: RewardRules
  publishers: string[]
  validators: string[]
}

export interface RewardsSetupJson {
  config: RewardsConfigJson
  rules: RewardRulesJson
  publishers: string[]
  validators: string[]
}

/** A day per epoch, an hour to record canary reports, a day to veto, 90 days to claim. */
export function defaultRewardsConfig (genesis: number, rules: RewardRules, threshold = 2): RewardsConfig {
  return {
    genesis,
    epochLength: 86_400,
    reportWindow: 3600,
    challengeDelay: 86_400,
    claimWindow: 90 * 86_400,
    maxPerEpoch: rules.epochBudget,
    threshold,
    rulesHash: rulesHash(rules)
  }
}

export function setupToJson (s: RewardsSetup): RewardsSetupJson {
  return {
    config: { ...s.config, maxPerEpoch: s.config.maxPerEpoch.toString() },
    rules: JSON.parse(rulesToJson(s.rules)) as RewardRulesJson,
    publishers: s.publishers,
    validators: s.validators
  }
}

export class InvalidRewardsSetupError extends Error {
  static override name = 'InvalidRewardsSetupError'
  override name = InvalidRewardsSetupError.name
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

export function setupFromJson (x: unknown, isAddress: (s: string) => boolean): RewardsSetup {
  if (typeof x !== 'object' || x === null) throw new InvalidRewardsSetupError('"rewards" must be an object')
  const o = x as Record<string, unknown>
  const c = o.config as Record<string, unknown> | undefined
  if (typeof c !== 'object' || c === null) throw new InvalidRewardsSetupError('"rewards.config" must be an object')
  const num = (k: string): number => {
    if (!isCount(c[k])) throw new InvalidRewardsSetupError(`rewards.config "${k}" must be a non-negative whole number`)
    return c[k]
  }
  if (typeof c.maxPerEpoch !== 'string' || !/^\d{1,40}$/.test(c.maxPerEpoch)) throw new InvalidRewardsSetupError('rewards.config "maxPerEpoch" must be a decimal string of LP wei')
  if (typeof c.rulesHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(c.rulesHash)) throw new InvalidRewardsSetupError('rewards.config "rulesHash" must be 32 bytes of hex')
  const config: RewardsConfig = {
    genesis: num('genesis'),
    epochLength: num('epochLength'),
    reportWindow: num('reportWindow'),
    challengeDelay: num('challengeDelay'),
    claimWindow: num('claimWindow'),
    maxPerEpoch: BigInt(c.maxPerEpoch),
    threshold: num('threshold'),
    rulesHash: c.rulesHash.toLowerCase()
  }
  if (config.epochLength === 0) throw new InvalidRewardsSetupError('rewards.config "epochLength" must be positive')
  let rules: RewardRules
  try { rules = rulesFromJson(o.rules) } catch (err) { throw new InvalidRewardsSetupError(`rewards.rules: ${(err as Error).message}`) }
  if (rulesHash(rules) !== config.rulesHash) throw new InvalidRewardsSetupError('rewards.rules do not hash to rewards.config.rulesHash: the rules were changed after deployment')
  const addrs = (k: 'publishers' | 'validators'): string[] => {
    const v = o[k]
    if (!Array.isArray(v) || !v.every(a => typeof a === 'string' && isAddress(a))) throw new InvalidRewardsSetupError(`"rewards.${k}" must be a list of addresses`)
    return v as string[]
  }
  return { config, rules, publishers: addrs('publishers'), validators: addrs('validators') }
}
