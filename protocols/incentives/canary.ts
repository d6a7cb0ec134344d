// Canary jobs: ordinary jobs with answers the validator knows in advance. Nothing on the wire sets them apart: they
// use the modules job creators run, with inputs of the same kind, the same terms (audit probabilities drawn like real
// job creators' choices), sent through the ordinary job creator from keys used for one epoch only, at random times.
// What a provider cannot tell apart it must do honestly every time; what the canaries see is its real uptime. Each
// asks for the whole slot it is sent to (canaryAsk), as every job does (the job creator's rule, protocols/slot-ask.ts),
// so a machine runs at once only as many canaries as it has free slots, however many keys offer them.
//
// Rounds, not lone canaries: every round (at a uniformly random time) picks each provider with the same probability
// and sends canaries to all its live slots at once, so a provider offering more than it has, or identities that
// share one machine and are picked together, are asked to run at the same moment and cannot all pass. Pure: randomness comes from the caller (a CSPRNG in a
// validator, a seeded generator in tests and simulations).
import { concat, getBytes, keccak256, toBeHex } from 'ethers'
import { cowsayAnswer, primesAnswer, wordcountAnswer } from './known-answers.ts'
import { resourceUnits } from './units.ts'
import { slotAsk } from '../slot-ask.ts'

export interface RandomSource {
  /** a uniformly random integer in [0, n) */
  int: (n: number) => number
}

export interface ExpectedAnswer { exitCode: number, stdout: string }

export interface CanaryTemplate {
  /** a built-in module's name:version, exactly as job creators name it */
  module: string
  /** the module's machine requirement (its template's `machine`), so a canary only goes where it fits */
  cpu: number
  ramMb: number
  weight: number
  draw: (rng: RandomSource) => { inputs: Record<string, string>, expected: ExpectedAnswer }
}

const WORDS = [
  'hello', 'lilypad', 'moo', 'world', 'compute', 'network', 'peer', 'job', 'result', 'cow', 'grass', 'field', 'river',
  'stone', 'cloud', 'green', 'blue', 'quick', 'brown', 'fox', 'lazy', 'dog', 'jumps', 'over', 'the', 'a', 'an', 'of',
  'test', 'run', 'again', 'today', 'tomorrow', 'morning', 'night', 'sun', 'moon', 'star', 'pond', 'frog', 'leaf',
  'water', 'fire', 'earth', 'wind', 'light', 'dark', 'small', 'large', 'fast', 'slow', 'data', 'model', 'train',
  'infer', 'batch', 'node', 'chain', 'block', 'token', 'deal', 'offer', 'price', 'market', 'hash', 'proof', 'is',
  'are', 'was', 'were', 'be', 'to', 'and', 'or', 'not', 'yes', 'no', 'maybe', 'always', 'never', 'every', 'some',
  'many', 'few', 'one', 'two', 'three', 'four', 'five', 'ten', 'hundred', 'thousand', 'please', 'thanks', 'good', 'bad'
]

function words (rng: RandomSource, min: number, max: number): string {
  const n = min + rng.int(max - min + 1)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(WORDS[rng.int(WORDS.length)])
  return out.join(' ')
}

/** The canaries a validator sends: the built-in modules job creators run most (cowsay above all). */
export const defaultCanaryTemplates: readonly CanaryTemplate[] = [
  {
    module: 'cowsay:v0.0.1', cpu: 500, ramMb: 64, weight: 6,
    draw: rng => { const m = words(rng, 1, 12); return { inputs: { Message: m }, expected: { exitCode: 0, stdout: cowsayAnswer(m) } } }
  },
  {
    module: 'primes:v0.1.0', cpu: 1000, ramMb: 256, weight: 2,
    draw: rng => { const n = 1000 + rng.int(199_001); return { inputs: { N: String(n) }, expected: { exitCode: 0, stdout: primesAnswer(n) } } }
  },
  {
    module: 'wordcount:v0.1.0', cpu: 250, ramMb: 64, weight: 2,
    draw: rng => { const t = words(rng, 1, 30); return { inputs: { Text: t }, expected: { exitCode: 0, stdout: wordcountAnswer(t) } } }
  }
]

/** A live offer slot a canary may go to. */
export interface CanaryTarget {
  provider: string
  /** the resource offer's id: the canary is proposed to exactly this slot */
  offerId: string
  cpu: number
  ramMb: number
  /** resourceUnits of the slot's spec (what the provider claims; not what a canary credits) */
  units: number
}

export interface CanaryRoundOptions {
  /** chance (ppm) each provider is in a round (with all its live slots) */
  slotPpm: number
  /** audit probabilities (ppm) with weights, as real job creators choose them */
  auditPpms: ReadonlyArray<readonly [number, number]>
  templates?: readonly CanaryTemplate[]
  /** at most this many canaries per provider in one round (its slots beyond are left alone) */
  maxPerProvider?: number
  /**
   * What a canary's job asks of the machine (`PlannedCanary.ask`): `slot` (the default) the whole slot it is sent to
   * (its CPU and memory), `module` only the module's own requirement (the network before canaries asked for the
   * slot; simulations compare). A model of what the canary takes: on a node the job creator fixes the ask for every
   * job (protocols/slot-ask.ts), which is `slot`.
   */
  ask?: 'slot' | 'module'
}

export interface PlannedCanary {
  provider: string
  offerId: string
  /**
   * resourceUnits of the canary's module's requirement: what it verified. Not the slot's claim (nor `ask`) — a provider claiming a
   * 64-GPU slot that runs a cowsay has proved a cowsay's worth of resources, and is credited that.
   */
  units: number
  /**
   * What the canary's job asks of the machine (the job offer's CPU and memory; GPUs as the module asks): the whole
   * slot it is sent to. Canaries are smaller than a slot (a cowsay needs half a core), so a key that offers every
   * slot of its machine while real jobs hold some could run more canaries at once than its free slots would hold —
   * and each is paid like a job. Asking for the slot, a canary takes the room a slot's job takes: a machine runs at
   * once only as many as it has free slots, however many keys offer them (`canaryAsk`). Not what it credits (`units`).
   */
  ask: { cpu: number, ramMb: number }
  module: string
  inputs: Record<string, string>
  auditPpm: number
  expected: ExpectedAnswer
  /**
   * A retry: the canary a race deferred (judgeNoDeal's `race`), sent again with the key's next round. Only its
   * outcome counts for the deferred one, and it is not deferred again. The validator's own mark: nothing on the
   * wire (a fresh draw, like any canary of the round).
   */
  retry?: boolean
}

export const defaultRoundOptions: CanaryRoundOptions = {
  // every provider in every round (a census at a random moment, four an epoch by default): identities that share a
  // machine are always asked together, and canaries (paid like any job) stay a small part of an honest machine's
  // income (simulations/rewards.ts; docs/incentives.md)
  slotPpm: 1_000_000,
  // the CLI's default is no audit; careful job creators ask for some
  auditPpms: [[0, 6], [10_000, 2], [50_000, 1], [100_000, 1]],
  maxPerProvider: 16,
  ask: 'slot'
}

function weighted<T> (rng: RandomSource, items: ReadonlyArray<readonly [T, number]>): T {
  const total = items.reduce((s, [, w]) => s + w, 0)
  let u = rng.int(total)
  for (const [v, w] of items) { if (u < w) return v; u -= w }
  return items[items.length - 1][0]
}

/**
 * The times of an epoch's rounds: `rounds` uniform draws in [start, end − tail) (seconds), ascending. `tail` keeps
 * the last canaries far enough from the epoch's end to finish and be reported inside its report window.
 */
export function roundTimes (rng: RandomSource, start: number, end: number, rounds: number, tail: number): number[] {
  const span = end - tail - start
  if (span <= 0 || rounds <= 0) return []
  const out: number[] = []
  for (let i = 0; i < rounds; i++) out.push(start + rng.int(span))
  return out.sort((a, b) => a - b)
}

/**
 * One round: each provider joins with probability slotPpm, and then every one of its live slots (up to
 * maxPerProvider) gets a canary that fits it, all at once — a provider is asked for the capacity it offers, at the
 * same moment, so slots it cannot run together fail together. Sorted by offer id.
 */
export function planRound (rng: RandomSource, live: readonly CanaryTarget[], o: CanaryRoundOptions = defaultRoundOptions): PlannedCanary[] {
  const templates = o.templates ?? defaultCanaryTemplates
  const byProvider = new Map<string, CanaryTarget[]>()
  for (const t of [...live].sort((a, b) => a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0)) {
    const p = t.provider.toLowerCase()
    let l = byProvider.get(p)
    if (l === undefined) { l = []; byProvider.set(p, l) }
    l.push(t)
  }
  const out: PlannedCanary[] = []
  for (const p of [...byProvider.keys()].sort()) {
    if (rng.int(1_000_000) >= o.slotPpm) continue
    let n = 0
    for (const t of byProvider.get(p) as CanaryTarget[]) {
      if (n >= (o.maxPerProvider ?? Infinity)) break
      const c = drawCanary(rng, t, templates, o)
      if (c === undefined) continue
      n++
      out.push(c)
    }
  }
  return out.sort((a, b) => a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0)
}

/**
 * What a canary of `template` sent to slot `t` asks of the machine: the whole slot (its CPU and memory, never less
 * than the module's own requirement), or with `ask: 'module'` the module's requirement only. One rule for the
 * validator's job requests and the simulation's model of what a machine can run at once.
 */
export function canaryAsk (template: Pick<CanaryTemplate, 'cpu' | 'ramMb'>, t: Pick<CanaryTarget, 'cpu' | 'ramMb'>, ask: CanaryRoundOptions['ask'] = 'slot'): PlannedCanary['ask'] {
  if (ask === 'module') return { cpu: template.cpu, ramMb: template.ramMb }
  // the rule every job creator applies to every job it proposes (protocols/slot-ask.ts): a canary asks what a real job
  // proposed to the same slot asks
  const { cpu, ramMb } = slotAsk({ cpu: template.cpu, ramMb: template.ramMb, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, t)
  return { cpu, ramMb }
}

/** A canary that fits slot `t` (undefined when none does): a template by weight, its inputs, an audit rate. */
function drawCanary (rng: RandomSource, t: CanaryTarget, templates: readonly CanaryTemplate[], o: CanaryRoundOptions): PlannedCanary | undefined {
  const fits = templates.filter(c => c.cpu <= t.cpu && c.ramMb <= t.ramMb)
  if (fits.length === 0) return undefined
  const template = weighted(rng, fits.map(c => [c, c.weight] as const))
  const { inputs, expected } = template.draw(rng)
  return {
    provider: t.provider, offerId: t.offerId, units: resourceUnits({ cpu: template.cpu, ramMb: template.ramMb, gpus: 0, gpuVramMb: 0 }), ask: canaryAsk(template, t, o.ask),
    module: template.module, inputs, auditPpm: weighted(rng, o.auditPpms), expected
  }
}

/**
 * The retries a key owes (races that deferred its canaries, CanaryRetries), sent with its next round on top of the
 * canaries planRound gave its live slots: each a fresh draw on one of its live slots chosen at random — the same
 * modules, inputs and audit rates as any canary, so nothing tells a retry apart. `live` is the provider's live slots
 * in the round; none (all busy, or offline): no retry now, they stay owed.
 */
export function planRetries (rng: RandomSource, live: readonly CanaryTarget[], owed: number, o: CanaryRoundOptions = defaultRoundOptions): PlannedCanary[] {
  const slots = [...live].sort((a, b) => a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0)
  const out: PlannedCanary[] = []
  if (slots.length === 0) return out
  for (let i = 0; i < owed; i++) {
    const c = drawCanary(rng, slots[rng.int(slots.length)], o.templates ?? defaultCanaryTemplates, o)
    if (c !== undefined) out.push({ ...c, retry: true })
  }
  return out
}

/**
 * A canary that made no deal (the validator's job creator gave up on it: the provider declined NO_CAPACITY, did not
 * answer, or its slot stayed busy). What it means depends on what the provider's signed offer said when the canary
 * gave up, and on what the chain shows around it:
 *
 * - the slot still shows a live, free offer (any nonce): the provider advertised capacity and then would not take a
 *   job on it — a Sybil identity declining the canaries its machine cannot run, an overclaimer, or a provider that
 *   does not answer. `declined`: a failed canary, in the report the validator signs (outcome Unreachable: there is
 *   no deal), cancelling passes like any failure; the validator sends the key no canaries for `banEpochs` epochs.
 * - the slot was withdrawn (shown busy) or expired, and no deal naming the provider was agreed on chain around the
 *   canary (`raceWindow`, `raceDeal`): nothing took the slot. A genuine race means a real job did, and a real job
 *   is a deal agreed on chain within the agree window; a withdrawal with none behind it is a decline dressed as a
 *   race. `declined`, as above (a key that withdraws each slot it cannot run before declining no longer gets each
 *   key's race allowance for free).
 * - the slot was withdrawn or expired and a deal naming the provider, from a job creator other than the canary's,
 *   was agreed in the window: a race — a real job took the slot between the offer the validator planned on and its
 *   proposal, which an honest provider meets now and then: one real job arriving in that moment, so at most
 *   `racesPerRound` of one provider's canaries in a round, each excused by a deal of its own; more in one round is
 *   `declined` too. Up to `raceAllowance` in an epoch are deferred (`race`: no report, no mark now; the key owes a
 *   retry, CanaryRetries, sent with its next round, and the retry's outcome is the canary's); any more is
 *   `race-failed`: a failed canary and no more canaries that epoch, but not the long ban — an honest provider's
 *   unlucky epoch costs it that epoch's remaining canaries at most.
 * - a retry that makes no deal is judged as above, except that a race does not defer it again: `race-failed`. A
 *   race defers, it does not excuse: a key whose own job creator key fakes the deal behind each withdrawal (the
 *   deal check alone cannot tell it from a real job) still owes every canary it dodged, at a round where its machine
 *   is asked for everything its keys offer again; an honest provider's slot, free again, runs it.
 *
 * Why the long ban: a declined canary costs no collateral (there is no deal), and the canaries the machine does run
 * are paid like any job, so a machine split into many keys, each offering the whole machine, is paid for more
 * canaries than an honest machine's free slots take (canaries are smaller than a slot; that part is closed by each
 * asking for its whole slot, canaryAsk). Failures cancel the key's
 * passes, but keys are many and a reward is small beside those payments; what takes the payments away is that a key
 * caught claiming capacity it does not have is sent none for a while — its share of every later census is lost,
 * and with it the passes its reward and its paid cap rest on (simulations/rewards.ts, `sybil-decline`).
 */
export type NoDealVerdict = 'declined' | 'race' | 'race-failed'

export interface DeclineRule {
  /** races tolerated per provider in one round (one real job taking a slot in the moment before the canary) */
  racesPerRound: number
  /** races tolerated per provider per epoch */
  raceAllowance: number
  /** epochs a key judged `declined` is sent no canaries */
  banEpochs: number
  /**
   * Seconds before the round's start (the moment the validator read the offers it planned on) a deal that took the
   * slot may have been agreed: the provider withdraws a slot's offer when a job books it (at the countersignature,
   * before the agree), and the withdrawal reaches the validator's book by gossip within seconds; 60 s covers a
   * slow mesh. Default 60.
   */
  raceLeadSec: number
  /**
   * Seconds after the canary gave up (the job creator's queue wait, 120 s, ran out while the slot showed busy) a
   * deal that took the slot may still be agreed: the real job was countersigned before the canary gave up, and its
   * agree is mined within the agree window (15 s, core/lifecycle's `agreeWindowMs`) plus a few blocks. Default 30.
   */
  raceAgreeSec: number
}

export const defaultDeclineRule: DeclineRule = { racesPerRound: 1, raceAllowance: 2, banEpochs: 4, raceLeadSec: 60, raceAgreeSec: 30 }

/** A deal agreed on chain (the Market's DealAgreed) and its block's timestamp (seconds). */
export interface AgreedDeal { dealId: string, provider: string, jobCreator: string, agreedAt: number }

/** Chain seconds [from, to] in which a real job that took a canary's slot has its deal agreed. */
export interface RaceWindow { from: number, to: number }

/**
 * The window for a canary of a round that started at `roundAt` and gave up at `gaveUpAt` (chain seconds): from
 * `raceLeadSec` before the round to `raceAgreeSec` after the give-up. The validator reads the chain once it has
 * passed `to`.
 */
export function raceWindow (roundAt: number, gaveUpAt: number, rule: DeclineRule = defaultDeclineRule): RaceWindow {
  return { from: roundAt - rule.raceLeadSec, to: Math.max(roundAt, gaveUpAt) + rule.raceAgreeSec }
}

/**
 * The deal that took the slot: the earliest deal agreed in the window naming `provider`, from a job creator that is
 * not one of `canaryKeys` (a canary of the same round that did make a deal took a slot, not this one) and not
 * already in `used` (one real job takes one slot: it excuses one canary). The caller adds the deal it was given to
 * `used`. Deterministic: ties go to the lower deal id.
 */
export function raceDeal (deals: Iterable<AgreedDeal>, provider: string, window: RaceWindow, skip: { canaryKeys: ReadonlySet<string>, used: ReadonlySet<string> }): AgreedDeal | undefined {
  const p = provider.toLowerCase()
  let best: AgreedDeal | undefined
  for (const d of deals) {
    if (d.provider.toLowerCase() !== p || d.agreedAt < window.from || d.agreedAt > window.to) continue
    if (skip.canaryKeys.has(d.jobCreator.toLowerCase()) || skip.used.has(d.dealId.toLowerCase())) continue
    if (best === undefined || d.agreedAt < best.agreedAt || (d.agreedAt === best.agreedAt && d.dealId.toLowerCase() < best.dealId.toLowerCase())) best = d
  }
  return best
}

/** What the validator saw of a canary that made no deal. */
export interface NoDealFacts {
  /** the provider's slot still shows a live offer (any nonce), not withdrawn as busy */
  slotStillFree: boolean
  /** a deal naming the provider was agreed in the canary's race window (raceDeal found one) */
  dealTookSlot: boolean
  /** the canary is a retry (PlannedCanary.retry): a race does not defer it again */
  retry?: boolean
}

/**
 * The verdict on a canary that made no deal. `races`: the provider's races deferred so far in this round and in
 * this epoch (the caller counts each `race` verdict in both, and owes the key a retry for it: CanaryRetries.defer).
 */
export function judgeNoDeal (seen: NoDealFacts, races: { round: number, epoch: number }, rule: DeclineRule = defaultDeclineRule): NoDealVerdict {
  if (seen.slotStillFree || !seen.dealTookSlot || races.round >= rule.racesPerRound) return 'declined'
  return seen.retry !== true && races.epoch < rule.raceAllowance ? 'race' : 'race-failed'
}

export type CanaryVerdict = { passed: true } | { passed: false, reason: 'wrong-exit-code' | 'wrong-output' }

/** A canary passes when the job's exit code and stdout are exactly the known answer. */
export function checkCanaryResult (expected: ExpectedAnswer, got: { exitCode: number, stdout: string }): CanaryVerdict {
  if (got.exitCode !== expected.exitCode) return { passed: false, reason: 'wrong-exit-code' }
  if (got.stdout !== expected.stdout) return { passed: false, reason: 'wrong-output' }
  return { passed: true }
}

/**
 * What the validator asks its ordinary job creator for: exactly what `lilypad run <module>` takes from a user — the
 * module, its inputs, an audit rate; no `--cpu --ram`. The job creator asks for the whole slot it proposes to, for
 * every job (protocols/slot-ask.ts), so the canary's job offer asks `PlannedCanary.ask` on the slot it was planned on
 * — and so does a user's job proposed to that slot. (Before, the validator asked for the slot itself, as `machine`,
 * and its gossiped job offer and its proposal asked exactly the slot while a user's asked the module's requirement:
 * a tell.)
 */
export interface CanaryJobRequest { module: string, inputs: Record<string, string>, auditProbability: number }

export function canaryJobRequest (c: PlannedCanary): CanaryJobRequest {
  return { module: c.module, inputs: { ...c.inputs }, auditProbability: c.auditPpm / 1_000_000 }
}

/**
 * The job creator key of a canary: derived from the validator's secret, the epoch and an index, so keys are fresh
 * every epoch (a key revealed by an epoch's reports is never used again), unlinkable to the validator without the
 * secret, and found again after a restart.
 */
export function deriveCanaryKey (secret: string, epoch: number, index: number): string {
  return keccak256(concat([getBytes(secret), toBeHex(epoch, 8), toBeHex(index, 4)]))
}
