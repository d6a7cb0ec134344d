// The committee-rule flags `lilypad network init` and `lilypad devnet` share, parsed before anything heavy loads.
// What a flag leaves out is derived later from the network's deal windows (committeeRulesFor in
// protocols/settlement/committee.ts), once its bounds are known.
import { UserError } from './errors.ts'
import { usageError, parseLP, formatLP } from './usage.ts'

export const COMMITTEE_OPTIONS = {
  'committee-size': { type: 'string' },
  'commit-window': { type: 'string' },
  'reveal-window': { type: 'string' },
  'unbond-delay': { type: 'string' },
  'min-bond': { type: 'string' },
  slash: { type: 'string' }
} as const

export const COMMITTEE_USAGE = '[--committee-size K] [--commit-window DUR] [--reveal-window DUR] [--unbond-delay DUR] [--min-bond LP] [--slash LP]'

/** What the deployer chose; `size` always set (the caller's default when the flag is absent). */
export interface CommitteeChoice {
  size: number
  commitWindow?: number
  revealWindow?: number
  unbondDelay?: number
  minBond?: bigint
  slash?: bigint
}

type Values = Partial<Record<keyof typeof COMMITTEE_OPTIONS, string>>

/** "90", "90s", "15m", "2h", "16d" → seconds; undefined for anything else. */
export function parseDuration (text: string): number | undefined {
  const m = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(text)
  if (m === null) return undefined
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 } as const)[m[2] as '' | 's' | 'm' | 'h' | 'd']
}

/** Seconds as a person reads them: "15 d", "2 h 30 min", "45 s". */
export function formatDuration (sec: number): string {
  if (sec <= 0) return '0 s'
  const parts: string[] = []
  for (const [unit, n] of [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    if (sec >= n) { parts.push(`${Math.floor(sec / n)} ${unit}`); sec %= n }
  }
  return parts.slice(0, 2).join(' ')
}

export function parseCommitteeFlags (v: Values, usage: string, defaultSize: number): CommitteeChoice {
  let size = defaultSize
  if (v['committee-size'] !== undefined) {
    const s = v['committee-size']
    size = /^\d+$/.test(s.trim()) ? Number(s) : NaN
    if (!(Number.isInteger(size) && size >= 1 && size <= 9 && size % 2 === 1)) {
      throw usageError(`--committee-size "${s.slice(0, 20)}" must be odd, from 1 to 9 (a committee decides by a strict majority; 1 turns committees off)`, usage)
    }
  }
  const choice: CommitteeChoice = { size }
  const duration = (flag: 'commit-window' | 'reveal-window' | 'unbond-delay', min: number): number | undefined => {
    const s = v[flag]
    if (s === undefined) return undefined
    const sec = parseDuration(s)
    if (sec === undefined || sec < min) throw usageError(`--${flag} "${s.slice(0, 20)}" must be a duration of at least ${min} s: seconds, or a number with s, m, h or d (e.g. 3600, 1h, 16d)`, usage)
    return sec
  }
  const lp = (flag: 'min-bond' | 'slash'): bigint | undefined => {
    const s = v[flag]
    if (s === undefined) return undefined
    let wei: bigint
    try { wei = parseLP(s) } catch { throw usageError(`--${flag} "${s.slice(0, 40)}" is not an LP amount (e.g. 100 or 2.5)`, usage) }
    if (wei === 0n) throw usageError(`--${flag} must be more than 0 LP`, usage)
    return wei
  }
  const commitWindow = duration('commit-window', 1)
  const revealWindow = duration('reveal-window', 1)
  const unbondDelay = duration('unbond-delay', 0)
  const minBond = lp('min-bond')
  const slash = lp('slash')
  if (minBond !== undefined && slash !== undefined && slash > minBond) throw usageError(`--slash ${formatLP(slash)} LP is more than --min-bond ${formatLP(minBond)} LP: a member cannot lose more than the least bond it must hold`, usage)
  const tuned = [commitWindow, revealWindow, unbondDelay, minBond, slash].some(x => x !== undefined)
  if (size === 1 && tuned) throw usageError('the committee windows, bond and slash apply to committees: give --committee-size 3 or more with them', usage)
  return {
    ...choice,
    ...(commitWindow !== undefined ? { commitWindow } : {}),
    ...(revealWindow !== undefined ? { revealWindow } : {}),
    ...(unbondDelay !== undefined ? { unbondDelay } : {}),
    ...(minBond !== undefined ? { minBond } : {}),
    ...(slash !== undefined ? { slash } : {})
  }
}

/**
 * The rules to deploy, from the choice and the network's bounds and lone-mediator window; rules the Market would
 * refuse become a UserError naming the least `unbondDelay` (or what else is wrong). Loads the settlement code.
 */
export async function committeeRulesOf (choice: CommitteeChoice, bounds: { maxResultTimeout: number, maxJudgeWindow: number }, mediateTimeout: number): Promise<import('../protocols/settlement/committee.ts').CommitteeRules> {
  const { committeeRulesFor, minUnbondDelay } = await import('../protocols/settlement/committee.ts')
  try {
    return committeeRulesFor(bounds, mediateTimeout, choice)
  } catch (err) {
    if ((err as Error).name !== 'CommitteeRulesError') throw err
    const commitWindow = choice.commitWindow ?? mediateTimeout
    const least = minUnbondDelay(bounds, { commitWindow, revealWindow: choice.revealWindow ?? commitWindow })
    const hint = /unbondDelay/.test((err as Error).message)
      ? `leave --unbond-delay out (it is then ${formatDuration(Math.ceil(least / 86_400) * 86_400)}), or give at least ${least} (${formatDuration(least)}): a bond must stay slashable for as long as a deal agreed before it left can still be disputed and voted on`
      : 'see docs/operators.md, "Running a mediator"'
    throw new UserError((err as Error).message, { hint, exitCode: 2, cause: err })
  }
}

/** The rules as shown to a person and in --json. */
export function committeeRulesJson (r: { size: number, commitWindow: number, revealWindow: number, unbondDelay: number, minBond: bigint, slash: bigint }): Record<string, unknown> {
  return {
    size: r.size,
    commitWindowSec: r.commitWindow,
    revealWindowSec: r.revealWindow,
    unbondDelaySec: r.unbondDelay,
    minBond: { lp: formatLP(r.minBond), wei: r.minBond.toString() },
    slash: { lp: formatLP(r.slash), wei: r.slash.toString() }
  }
}

export function describeCommitteeRules (r: { size: number, commitWindow: number, revealWindow: number, unbondDelay: number, minBond: bigint, slash: bigint }): string {
  if (r.size === 1) return 'committees off (size 1): each dispute is judged by one drawn mediator'
  return `committees of ${r.size}: commit window ${formatDuration(r.commitWindow)}, reveal window ${formatDuration(r.revealWindow)}, bond at least ${formatLP(r.minBond)} LP, slash ${formatLP(r.slash)} LP, unbonding takes ${formatDuration(r.unbondDelay)}`
}
