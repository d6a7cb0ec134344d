// Incentives: canary jobs, reward computation and its Merkle tree, as pure functions over public facts.
export { resourceUnits } from './units.ts'
export { epochAt, epochStart, epochEnd, epochClosesAt, lastClosedEpoch } from './epoch.ts'
export type { EpochSchedule } from './epoch.ts'
export { defaultRewardRules, rulesToJson, rulesFromJson, rulesHash, InvalidRewardRulesError } from './rules.ts'
export type { RewardRules, RewardRulesJson } from './rules.ts'
export { defaultRewardsConfig, setupToJson, setupFromJson, InvalidRewardsSetupError } from './config.ts'
export type { RewardsConfig, RewardsConfigJson, RewardsSetup, RewardsSetupJson } from './config.ts'
export {
  CanaryOutcome, outcomeName, CanaryReportTypes, CanaryReportError, canaryReportId, canaryReportTypeHash, signCanaryReport,
  verifyCanaryReport, checkCanaryReport, canaryReportToJson, canaryReportFromJson, rewardsDomainOf, REWARDS_DOMAIN_NAME
} from './canary-report.ts'
export type { CanaryReport, SignedCanaryReport, CanaryOutcomeValue, CanaryOutcomeName, RewardsDomain } from './canary-report.ts'
export { dealOutcomes, PAID_STATES } from './outcomes.ts'
export type { MarketFact, DealOutcome, CanaryRecord, DealParties, FinalState } from './outcomes.ts'
export { computeEpochRewards } from './rewards.ts'
export type { EpochInputs, EpochRewards, ProviderReward, NoRewardReason, IgnoredReport } from './rewards.ts'
export { RewardsTree, NoRewardsError, NotInTreeError, LEAF_ENCODING } from './merkle.ts'
export type { RewardLeaf } from './merkle.ts'
export { defaultCanaryTemplates, defaultRoundOptions, planRound, roundTimes, checkCanaryResult, canaryJobRequest, canaryAsk, deriveCanaryKey, judgeNoDeal, defaultDeclineRule, raceWindow, raceDeal, planRetries } from './canary.ts'
export type { CanaryTemplate, CanaryTarget, CanaryRoundOptions, PlannedCanary, ExpectedAnswer, RandomSource, CanaryVerdict, CanaryJobRequest, NoDealVerdict, DeclineRule, AgreedDeal, RaceWindow, NoDealFacts } from './canary.ts'
export { CanaryRetries, InvalidCanaryRetriesError } from './retries.ts'
export type { CanaryRetriesJson } from './retries.ts'
export { cowsayAnswer, primesAnswer, wordcountAnswer } from './known-answers.ts'
