// The reward rules: every parameter of the reward computation, as plain data. Their canonical JSON is hashed into
// the Rewards contract at deployment (`rulesHash`), so a publisher computing with other rules is caught before it
// proposes anything, and anyone can check which rules produced a root.
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'

export interface RewardRules {
  version: 1
  /** LP wei one epoch distributes at most; larger sums are scaled down pro rata (≤ the contract's maxPerEpoch) */
  epochBudget: bigint
  /** LP wei per resource unit (1,000 milli-units) of each passed canary */
  canaryRewardPerUnit: bigint
  /** passed canaries counted per provider per epoch at most */
  maxCanariesPerProvider: number
  /** each failed canary (wrong result, no result, unreachable) cancels this many passes */
  failPenalty: number
  /** each deal of the provider closed by a result timeout in the epoch cancels this many passes */
  timeoutPenalty: number
  /** passes left after penalties a provider needs to earn anything: uptime as canaries saw it */
  minPasses: number
  /** LP wei of reward per LP wei of price of a counted paid deal, parts per million (well under one: a faked deal
   * earns only this, a real one the price too) */
  paidRewardPpm: number
  /** price counted per deal at most (LP wei) */
  maxPricePerDeal: bigint
  /** a paid deal counts only if the job creator asked for random audits at least this often (ppm), so a deal
   * faked with a junk result risks the provider's collateral and the epoch */
  minAuditPpm: number
  /** a provider's paid-deal reward is at most this (LP wei) per resource unit of its counted passes: paid work is
   * rewarded only up to the capacity canaries verified */
  paidCapPerUnit: bigint
  /** at most this share (ppm) of that cap may come from deals with any one job creator */
  creatorSharePpm: number
  /** LP wei per provider per epoch at most */
  providerCap: bigint
}

const LP = 10n ** 18n

export const defaultRewardRules: RewardRules = {
  version: 1,
  epochBudget: 10_000n * LP,
  canaryRewardPerUnit: LP / 10n,
  maxCanariesPerProvider: 96,
  failPenalty: 3,
  timeoutPenalty: 2,
  minPasses: 1,
  paidRewardPpm: 200_000,
  maxPricePerDeal: 10n * LP,
  minAuditPpm: 10_000,
  // What a cartel faking deals among its own keys takes at most: its deals look like real ones on chain, so it earns
  // whatever part of this cap its real work leaves unfilled, and faking buys nothing only where real work fills it.
  // 0.5 LP per verified unit is filled from about 25 real jobs (1 LP, most audited) per 4-core machine a day; at
  // 1 LP it took about 50, and a cartel out-earned honest work on a quiet testnet of 40 by 0.7-1.7 % (3 LP: 23 %).
  // simulations/rewards.ts, docs/incentives.md
  paidCapPerUnit: LP / 2n,
  creatorSharePpm: 500_000,
  providerCap: 1_000n * LP
}

export class InvalidRewardRulesError extends Error {
  static override name = 'InvalidRewardRulesError'
  override name = InvalidRewardRulesError.name
  readonly hint = 'the network file\'s rewards.rules must be every field of docs/incentives.md "Rules", amounts as decimal strings of LP wei'
}

const BIG_FIELDS = ['epochBudget', 'canaryRewardPerUnit', 'maxPricePerDeal', 'paidCapPerUnit', 'providerCap'] as const
const INT_FIELDS = ['maxCanariesPerProvider', 'failPenalty', 'timeoutPenalty', 'minPasses', 'paidRewardPpm', 'minAuditPpm', 'creatorSharePpm'] as const
const PPM_FIELDS = new Set(['paidRewardPpm', 'minAuditPpm', 'creatorSharePpm'])

export type RewardRulesJson = { version: 1 } & { [K in typeof BIG_FIELDS[number]]: string } & { [K in typeof INT_FIELDS[number]]: number }

/** Canonical JSON: keys in sorted order, amounts as decimal strings, no spaces. */
export function rulesToJson (r: RewardRules): string {
  const o: Record<string, string | number> = { version: r.version }
  for (const k of BIG_FIELDS) o[k] = r[k].toString()
  for (const k of INT_FIELDS) o[k] = r[k]
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a < b ? -1 : 1)))
}

export function rulesHash (r: RewardRules): string {
  return `0x${bytesToHex(keccak_256(utf8ToBytes(rulesToJson(r))))}`
}

/** Parses rules from JSON data (a network file's), refusing any missing, extra or out-of-range field. */
export function rulesFromJson (x: unknown): RewardRules {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new InvalidRewardRulesError('reward rules must be an object')
  const o = x as Record<string, unknown>
  if (o.version !== 1) throw new InvalidRewardRulesError(`unknown reward rules version ${String(o.version)}`)
  const known = new Set<string>(['version', ...BIG_FIELDS, ...INT_FIELDS])
  for (const k of Object.keys(o)) if (!known.has(k)) throw new InvalidRewardRulesError(`unknown reward rule "${k}"`)
  const r: Record<string, unknown> = { version: 1 }
  for (const k of BIG_FIELDS) {
    const v = o[k]
    if (typeof v !== 'string' || !/^\d{1,40}$/.test(v)) throw new InvalidRewardRulesError(`${k} must be a decimal string of LP wei, got ${JSON.stringify(v)}`)
    r[k] = BigInt(v)
  }
  for (const k of INT_FIELDS) {
    const v = o[k]
    const max = PPM_FIELDS.has(k) ? 1_000_000 : 1_000_000_000
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw new InvalidRewardRulesError(`${k} must be a whole number from 0 to ${max}, got ${JSON.stringify(v)}`)
    r[k] = v
  }
  return r as unknown as RewardRules
}
