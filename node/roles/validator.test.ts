// The validator role against providers that make no deal for a canary: a Sybil key that declines (NO_CAPACITY) the
// canaries its machine cannot run while its offers still show the slots free, and an honest provider whose slot a
// real job took before the canary reached it (its offer withdrawn). The role is the real one; only the job creator
// it sends canaries through is stood in for, answering as node/roles/job-creator.ts does (a result directory, or its
// QueueTimeoutError when the provider stayed busy).
import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet, ZeroHash } from 'ethers'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { Rng } from '../../simulations/rng.ts'
import type { LiveOffer } from '../../protocols/matcher.ts'
import {
  CanaryOutcome, verifyCanaryReport, computeEpochRewards, defaultRewardRules, cowsayAnswer, primesAnswer, wordcountAnswer, defaultDeclineRule,
  type CanaryRecord, type DealParties
} from '../../protocols/incentives/index.ts'
import { Validator, type CanaryRunner } from './validator.ts'
import { QueueTimeoutError, InsufficientDepositError, type JobOutcome, type JobRequest } from './job-creator.ts'

const EPOCH = 86_400
const domain = { chainId: 1337n, verifyingContract: '0x' + '11'.repeat(20) }
const signer = new Wallet('0x' + '22'.repeat(32))
const addr = (n: number): string => '0x' + n.toString(16).padStart(40, '0')
const HONEST = addr(0xa1)
const SYBILS = [addr(0xb1), addr(0xb2)]
const SPEC = { cpu: 1000, ramMb: 2048, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }

function answer (req: JobRequest): string {
  const i = req.inputs ?? {}
  if (req.module.startsWith('cowsay')) return cowsayAnswer(i.Message)
  if (req.module.startsWith('primes')) return primesAnswer(Number(i.N))
  return wordcountAnswer(i.Text)
}

interface World {
  clock: ManualClock
  book: Map<string, LiveOffer>
  validator: Validator
  asked: string[]
  /** per provider: how many canaries of a round its machine takes before it declines the rest */
  capacity: Map<string, number>
  /** providers whose next canaries (this many) find their slot taken: every offer of theirs withdrawn, then busy */
  raced: Map<string, number>
  dir: string
  takenThisRound: Map<string, number>
  /** the validator's own canary key has no deposit left */
  broke?: boolean
}

async function world (): Promise<World> {
  const clock = new ManualClock(1_800_000_000_000)
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-validator-'))
  const book = new Map<string, LiveOffer>()
  let n = 0
  for (const p of [HONEST, ...SYBILS]) {
    for (let slot = 0; slot < 2; slot++) {
      const id = '0x' + (++n).toString(16).padStart(64, '0')
      book.set(id, { id, signature: '0x', offer: { provider: p, slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 1n, seedCommit: ZeroHash } })
    }
  }
  const w = { clock, book, asked: [] as string[], capacity: new Map<string, number>(), raced: new Map<string, number>(), dir, takenThisRound: new Map<string, number>() } as unknown as World
  let deals = 0
  const runner: CanaryRunner = {
    address: addr(0xcc),
    run: async req => {
      const p = (req.provider as string).toLowerCase()
      w.asked.push(p)
      if (w.broke) throw new InsufficientDepositError(2n * 10n ** 18n, 0n)
      const raced = w.raced.get(p) ?? 0
      if (raced > 0) {
        // a real job took the slot: the provider withdraws that slot's offer and answers NO_CAPACITY until the
        // job creator's queue time runs out
        // (this stand-in does not know which slot the canary was proposed on: it withdraws them all)
        w.raced.set(p, raced - 1)
        for (const l of [...book.values()]) if (l.offer.provider === p) book.delete(l.id)
        throw new QueueTimeoutError('every provider that fits stayed busy for 120 s (1 busy)', 1, 120_000)
      }
      const taken = w.takenThisRound.get(p) ?? 0
      if (taken >= (w.capacity.get(p) ?? Infinity)) {
        // the Sybil's machine is full: NO_CAPACITY, while its signed offers still show the slots free
        throw new QueueTimeoutError('every provider that fits stayed busy for 120 s (1 busy)', 1, 120_000)
      }
      w.takenThisRound.set(p, taken + 1)
      const deal = ++deals
      const path = await mkdtemp(join(dir, `${deal}-`))
      await writeFile(join(path, 'stdout'), answer(req))
      return { dealId: '0x' + (0xd000 + deal).toString(16).padStart(64, '0'), path, exitCode: 0, retries: [] } as unknown as JobOutcome
    }
  }
  w.validator = new Validator(quietComponents(clock), {
    offers: () => [...book.values()],
    schedule: { genesis: Math.floor(clock.now() / 1000), epochLength: EPOCH, reportWindow: EPOCH },
    domain,
    signer,
    runnerFor: async () => runner,
    record: async () => {},
    chainNow: () => Math.floor(clock.now() / 1000),
    rng: new Rng('validator-test')
  })
  return w
}

async function round (w: World, epoch: number): ReturnType<Validator['runRound']> {
  w.takenThisRound.clear()
  w.asked.length = 0
  return await w.validator.runRound(epoch)
}

test('a Sybil key that declines the canaries its machine cannot run, its offers still free, fails them on the signed record and is sent none for banEpochs epochs', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  // two keys on one machine, each offering its two slots: the machine runs two canaries at once, the first key's;
  // the second key declines both of its own (NO_CAPACITY) and leaves its offers up
  w.capacity.set(SYBILS[0], 2)
  w.capacity.set(SYBILS[1], 0)
  const r = await round(w, 0)
  const of = (p: string): typeof r => r.filter(x => x.canary.provider.toLowerCase() === p)
  t.is(r.length, 6)
  for (const x of of(HONEST)) t.is(x.outcome, CanaryOutcome.Passed)
  for (const x of of(SYBILS[0])) t.is(x.outcome, CanaryOutcome.Passed)
  const declined = of(SYBILS[1])
  t.is(declined.length, 2)
  for (const x of declined) {
    t.is(x.noDeal, 'declined')
    t.is(x.outcome, CanaryOutcome.Unreachable, 'on the record as the failure with no deal: nothing to time out, no collateral')
    t.is(x.dealId, ZeroHash)
    if (x.report === undefined) { t.fail('a declined canary must be reported'); continue }
    t.is(verifyCanaryReport(domain, x.report, [signer.address]), signer.address, 'in the report the validator signs')
  }
  t.is(w.validator.reports(0).length, 6)
  t.true(w.validator.bans.banned(SYBILS[1], w.clock.now()))
  t.true(w.validator.capacityBans.banned(SYBILS[1], w.clock.now()))
  t.false(w.validator.bans.banned(HONEST, w.clock.now()))

  // the rewards anyone computes from the published reports: each declined canary cancels passes like any failure
  const canaries: CanaryRecord[] = w.validator.reports(0).map((s, i) => ({
    reportId: '0x' + (i + 1).toString(16).padStart(64, '0'), epoch: 0, provider: s.report.provider.toLowerCase(), validator: signer.address.toLowerCase(),
    dealId: s.report.dealId, outcome: s.report.outcome, units: s.report.units, observedAt: Number(s.report.observedAt)
  }))
  const canaryDeals = new Map<string, DealParties>(canaries.filter(c => c.dealId !== ZeroHash).map(c => [c.dealId, { provider: c.provider, jobCreator: addr(0xcc) }]))
  const rewards = computeEpochRewards({ epoch: 0, deals: [], canaries, canaryDeals }, defaultRewardRules)
  t.deepEqual(rewards.ignoredReports, [])
  const sybil = rewards.providers.find(p => p.provider === SYBILS[1])
  t.is(sybil?.failedCanaries, 2)
  t.is(sybil?.amount, 0n)
  t.true((rewards.providers.find(p => p.provider === HONEST)?.amount ?? 0n) > 0n)

  // later rounds of the epoch, and the next epochs up to banEpochs: the declining key is sent nothing
  w.capacity.set(SYBILS[1], 2)
  await round(w, 0)
  t.false(w.asked.includes(SYBILS[1]))
  t.true(w.asked.includes(HONEST))
  for (let e = 1; e < defaultDeclineRule.banEpochs; e++) {
    await w.clock.advance(EPOCH * 1000)
    await round(w, e)
    t.false(w.asked.includes(SYBILS[1]), `epoch ${e}: still banned for its false capacity`)
  }
  await w.clock.advance(EPOCH * 1000)
  await round(w, defaultDeclineRule.banEpochs)
  t.true(w.asked.includes(SYBILS[1]), 'the ban lapses after banEpochs epochs')
})

test('an honest provider that loses a race (its slot withdrawn before the canary reached it) is not marked, twice an epoch; a third race is a failure for that epoch only', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  for (let i = 0; i < defaultDeclineRule.raceAllowance; i++) {
    w.raced.set(HONEST, 1)
    const r = await round(w, 0)
    const raced = r.filter(x => x.canary.provider.toLowerCase() === HONEST && x.noDeal !== undefined)
    t.is(raced.length, 1)
    t.is(raced[0].noDeal, 'race')
    t.is(raced[0].report, undefined, 'nothing to report: the canary never reached a free slot')
    t.false(w.validator.bans.banned(HONEST, w.clock.now()))
    t.is(w.validator.bans.standing(HONEST, w.clock.now()), 'ok', 'not even demoted')
    // the provider offers its slots again once the real job is done
    for (const slot of [0, 1]) {
      const id = '0x' + (0xf0 + 2 * i + slot).toString(16).padStart(64, '0')
      w.book.set(id, { id, signature: '0x', offer: { provider: HONEST, slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 2n + BigInt(i), seedCommit: ZeroHash } })
    }
  }
  t.false(w.validator.reports(0).some(s => s.report.provider.toLowerCase() === HONEST && s.report.outcome !== CanaryOutcome.Passed))
  w.raced.set(HONEST, 1)
  const r = await round(w, 0)
  const failed = r.filter(x => x.canary.provider.toLowerCase() === HONEST && x.noDeal !== undefined)
  t.is(failed[0].noDeal, 'race-failed')
  t.is(failed[0].report?.report.outcome, CanaryOutcome.Unreachable)
  t.true(w.validator.bans.banned(HONEST, w.clock.now()), 'no more canaries this epoch')
  t.false(w.validator.capacityBans.banned(HONEST, w.clock.now()), 'but not the long ban of a false claim')
  for (const slot of [0, 1]) {
    const id = '0x' + (0xe0 + slot).toString(16).padStart(64, '0')
    w.book.set(id, { id, signature: '0x', offer: { provider: HONEST, slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 9n, seedCommit: ZeroHash } })
  }
  await w.clock.advance(EPOCH * 1000)
  await round(w, 1)
  t.true(w.asked.includes(HONEST), 'the next epoch it is asked again')
})

test('a key that withdraws two slots in one round to pass its declines off as races is judged to decline the second', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  // the Sybil key's machine is full: it withdraws its offers when a canary comes, then answers NO_CAPACITY
  w.raced.set(SYBILS[1], 2)
  const r = await round(w, 0)
  const verdicts = r.filter(x => x.canary.provider.toLowerCase() === SYBILS[1]).map(x => x.noDeal).sort()
  t.deepEqual(verdicts, ['declined', 'race'])
  t.true(w.validator.capacityBans.banned(SYBILS[1], w.clock.now()), 'a second "race" in one round is no race: the long ban')
  t.is(w.validator.reports(0).filter(s => s.report.provider.toLowerCase() === SYBILS[1]).length, 1, 'the declined one is on the signed record')
})

test('the validator\'s own canary key short of deposit is no verdict on any provider', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  w.broke = true
  await t.throwsAsync(round(w, 0), { name: 'InsufficientDepositError' })
  t.is(w.validator.reports(0).length, 0)
  for (const p of [HONEST, ...SYBILS]) t.false(w.validator.bans.banned(p, w.clock.now()) || w.validator.capacityBans.banned(p, w.clock.now()))
})
