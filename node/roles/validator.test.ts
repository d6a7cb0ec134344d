// The validator role against providers that make no deal for a canary: a Sybil key that declines (NO_CAPACITY) the
// canaries its machine cannot run while its offers still show the slots free, one that withdraws its offers first to
// pass its declines off as races, and an honest provider whose slot a real job took before the canary reached it
// (its offer withdrawn, the real job's deal agreed on chain). The role is the real one, and so is the chain: a
// Market on anvil, where the real jobs' deals (and a Sybil's own canaries' deals) are agreed by the parties' keys,
// read back by the node's chain reader (agreedDealsOf) exactly as `lilypad node --roles validator` reads it. Only
// the job creator the validator sends canaries through is stood in for, answering as node/roles/job-creator.ts does
// (a result directory, or its QueueTimeoutError when the provider stayed busy). Time is a ManualClock started at the
// chain's time; each real deal's block is stamped at the moment the stand-in makes it.
import test from 'ava'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet, ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { startDevnet, agreeDeal, type Devnet } from '../../contracts/fixture.ts'
import type { ChainClient } from '../chain/index.ts'
import { agreedDealsOf } from '../incentives/chain-facts.ts'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { Rng } from '../../simulations/rng.ts'
import type { LiveOffer } from '../../protocols/matcher.ts'
import { slotAsk } from '../../protocols/slot-ask.ts'
import {
  CanaryOutcome, verifyCanaryReport, computeEpochRewards, defaultRewardRules, cowsayAnswer, primesAnswer, wordcountAnswer, defaultDeclineRule, defaultCanaryTemplates, defaultRoundOptions,
  type CanaryRecord, type DealParties
} from '../../protocols/incentives/index.ts'
import { Validator, type CanaryRunner, type ValidatorOptions } from './validator.ts'
import { CanaryRetriesFile } from '../incentives/retries-file.ts'
import { QueueTimeoutError, InsufficientDepositError, type JobOutcome, type JobRequest } from './job-creator.ts'

const EPOCH = 86_400
const domain = { chainId: 1337n, verifyingContract: '0x' + '11'.repeat(20) }
const signer = new Wallet('0x' + '22'.repeat(32))
const addr = (n: number): string => '0x' + n.toString(16).padStart(40, '0')
let net: Devnet
// providers with real keys on the devnet: the honest one and the first Sybil key have deposits (their deals are real)
let HONEST: string
let SYBILS: string[]
/** each provider's chain client (the keys that agree its real deals) */
const clients = new Map<string, ChainClient>()

test.before(async () => {
  net = await startDevnet()
  HONEST = net.rp.address.toLowerCase()
  SYBILS = [net.rp2.address.toLowerCase(), net.stranger.address.toLowerCase()]
  clients.set(HONEST, net.rp)
  clients.set(SYBILS[0], net.rp2)
})
test.after.always(async () => { await net?.stop() })

async function chainTime (): Promise<number> { return (await net.provider.getBlock('latest'))?.timestamp ?? 0 }

/** A deal agreed on chain between `jc` and provider `p`, its block stamped at `at` (chain seconds): what a real job does. */
async function agreeAt (p: string, jc: ChainClient, at: number): Promise<string> {
  const rp = clients.get(p)
  if (rp === undefined) throw new Error(`${p} has no chain key in this test`)
  await net.provider.send('evm_setNextBlockTimestamp', [Math.max(at, await chainTime() + 1)])
  return (await agreeDeal(net, { jobCreator: jc.address, resourceProvider: rp.address }, jc, rp)).id
}
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
  /** Sybil keys that, when their machine is full, withdraw their offers before declining (to pass it off as a race) */
  withdrawFirst: Set<string>
  /** providers whose withdrawals a deal of their own job creator key covers (this many): the faked race */
  fakes: Map<string, number>
  /** chain calls of the stand-in in flight (the clock stands still meanwhile) */
  busy: number
  /** providers whose canaries, when run, make a real deal on chain from the canary key */
  realCanaryDeals: Set<string>
  /** the chain reads fail (an RPC down) */
  readFails?: boolean
  /** every chain read the validator made: provider and window */
  reads: Array<{ provider: string, from: number, to: number }>
  /** per provider: the millicores its machine has free in a round; a canary runs while what its container is given
   * (the module's CPU raised to what the job asks, as the provider runs it) fits in what is left, else it is dodged */
  room: Map<string, number>
  roomUsed: Map<string, number>
  /** the CPU and memory each canary's job asked for, per provider */
  asks: Map<string, Array<{ cpu: number, ramMb: number }>>
}

/**
 * `jobAsks`: what the stand-in's job creator asks of the slot it proposes to — `slot` the whole slot, as every job
 * creator does (protocols/slot-ask.ts); `requirement` the module's requirement only (job creators before canaries
 * asked for their slot).
 */
async function world (extra: Partial<ValidatorOptions> = {}, jobAsks: 'slot' | 'requirement' = 'slot'): Promise<World> {
  const clock = new ManualClock((await chainTime() + 1) * 1000)
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-validator-'))
  const book = new Map<string, LiveOffer>()
  let n = 0
  for (const p of [HONEST, ...SYBILS]) {
    for (let slot = 0; slot < 2; slot++) {
      const id = '0x' + (++n).toString(16).padStart(64, '0')
      book.set(id, { id, signature: '0x', offer: { provider: p, slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 1n, seedCommit: ZeroHash } })
    }
  }
  const w = { clock, book, asked: [] as string[], room: new Map<string, number>(), roomUsed: new Map<string, number>(), asks: new Map<string, Array<{ cpu: number, ramMb: number }>>(), capacity: new Map<string, number>(), raced: new Map<string, number>(), dir, takenThisRound: new Map<string, number>(), withdrawFirst: new Set<string>(), fakes: new Map<string, number>(), realCanaryDeals: new Set<string>(), reads: [], busy: 0 } as unknown as World
  let deals = 0
  const now = (): number => Math.floor(clock.now() / 1000)
  const onChain = async <T>(fn: () => Promise<T>): Promise<T> => { w.busy++; try { return await fn() } finally { w.busy-- } }
  const withdraw = (p: string): void => { for (const l of [...book.values()]) if (l.offer.provider.toLowerCase() === p) book.delete(l.id) }
  // the canary key: a real job creator key on the devnet (jc2), so a canary's own deal is on chain like any
  const runner: CanaryRunner = {
    address: net.jc2.address,
    run: async req => {
      const p = (req.provider as string).toLowerCase()
      w.asked.push(p)
      if (w.broke) throw new InsufficientDepositError(2n * 10n ** 18n, 0n)
      const raced = w.raced.get(p) ?? 0
      if (raced > 0) {
        // a real job took the slot (its deal agreed on chain now): the provider withdraws that slot's offer and
        // answers NO_CAPACITY until the job creator's queue time runs out
        // (this stand-in does not know which slot the canary was proposed on: it withdraws them all)
        w.raced.set(p, raced - 1)
        withdraw(p)
        await onChain(async () => await agreeAt(p, net.jc, now()))
        throw new QueueTimeoutError('every provider that fits stayed busy for 120 s (1 busy)', 1, 120_000)
      }
      // what the job offer proposed to the provider's slot asks: the job creator's rule (protocols/slot-ask.ts)
      const template = defaultCanaryTemplates.find(x => x.module === req.module)
      const required = { cpu: template?.cpu ?? 0, ramMb: template?.ramMb ?? 0, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }
      const slotOf = [...book.values()].find(l => l.offer.provider.toLowerCase() === p)?.offer.spec ?? SPEC
      const asked = jobAsks === 'slot' ? slotAsk(required, slotOf) : required
      w.asks.set(p, [...(w.asks.get(p) ?? []), { cpu: asked.cpu, ramMb: asked.ramMb }])
      const taken = w.takenThisRound.get(p) ?? 0
      // the container's CPU: the module's, raised to what the job asks (node/roles/resource-provider.ts)
      const need = Math.max(template?.cpu ?? 0, asked.cpu)
      const room = w.room.get(p)
      const full = room !== undefined ? (w.roomUsed.get(p) ?? 0) + need > room : taken >= (w.capacity.get(p) ?? Infinity)
      if (!full && room !== undefined) w.roomUsed.set(p, (w.roomUsed.get(p) ?? 0) + need)
      if (full) {
        // the Sybil's machine is full: NO_CAPACITY — while its signed offers still show the slots free, or (the
        // withdraw-first Sybil) after withdrawing them, with no deal behind the withdrawal, or with one its own job
        // creator key agrees (`fakes`)
        if (w.withdrawFirst.has(p)) {
          withdraw(p)
          const fakes = w.fakes.get(p) ?? 0
          if (fakes > 0) { w.fakes.set(p, fakes - 1); await onChain(async () => await agreeAt(p, net.jc, now())) }
        }
        throw new QueueTimeoutError('every provider that fits stayed busy for 120 s (1 busy)', 1, 120_000)
      }
      w.takenThisRound.set(p, taken + 1)
      const deal = ++deals
      const dealId = w.realCanaryDeals.has(p) ? await onChain(async () => await agreeAt(p, net.jc2, now())) : '0x' + (0xd000 + deal).toString(16).padStart(64, '0')
      const path = await mkdtemp(join(dir, `${deal}-`))
      await writeFile(join(path, 'stdout'), answer(req))
      return { dealId, path, exitCode: 0, retries: [] } as unknown as JobOutcome
    }
  }
  const source = { provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }
  w.validator = new Validator(quietComponents(clock), {
    offers: () => [...book.values()],
    schedule: { genesis: Math.floor(clock.now() / 1000), epochLength: EPOCH, reportWindow: EPOCH },
    domain,
    signer,
    runnerFor: async () => runner,
    record: async () => {},
    chainNow: now,
    rng: new Rng('validator-test'),
    agreedDeals: async (provider, window) => {
      w.reads.push({ provider: provider.toLowerCase(), ...window })
      if (w.readFails === true) throw new Error('connect ECONNREFUSED 127.0.0.1:8545')
      return await agreedDealsOf(source, provider, window)
    },
    ...extra
  })
  return w
}

/** The provider's two slots offered again (after a withdrawal: its real job, or its dodge, is over). */
function reoffer (w: World, p: string, nonce: bigint): void {
  for (const slot of [0, 1]) {
    const id = keccak256(toUtf8Bytes(`${p}:${slot}:${nonce}`))
    w.book.set(id, { id, signature: '0x', offer: { provider: p, slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce, seedCommit: ZeroHash } })
  }
}

/**
 * One round. The validator waits for a race window's end on its clock before it reads the chain: the clock moves on
 * while (and only while) it has a timer pending and no deal of the stand-in is on its way to the chain.
 */
async function round (w: World, epoch: number): ReturnType<Validator['runRound']> {
  w.takenThisRound.clear()
  w.roomUsed.clear()
  w.asked.length = 0
  let done = false
  const r = w.validator.runRound(epoch).finally(() => { done = true })
  while (!done) {
    if (w.clock.pending > 0 && w.busy === 0) await w.clock.advance(1000)
    else await new Promise(resolve => setImmediate(resolve))
  }
  return await r
}

test.serial('a Sybil key that declines the canaries its machine cannot run, its offers still free, fails them on the signed record and is sent none for banEpochs epochs', async t => {
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

test.serial('an honest provider that loses a race (its slot withdrawn before the canary reached it, the real job\'s deal agreed on chain) is not marked, twice an epoch; a third race is a failure for that epoch only', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  for (let i = 0; i < defaultDeclineRule.raceAllowance; i++) {
    w.raced.set(HONEST, 1)
    const r = await round(w, 0)
    const raced = r.filter(x => x.canary.provider.toLowerCase() === HONEST && x.noDeal !== undefined)
    t.is(raced.length, 1)
    t.is(raced[0].noDeal, 'race')
    t.is(raced[0].report, undefined, 'nothing to report: the canary never reached a free slot')
    // the real job's deal, read from the chain once the race window was over, excused it
    const deals = await agreedDealsOf({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, HONEST, { from: 0, to: Math.floor(w.clock.now() / 1000) })
    t.true(deals.some(d => d.dealId === raced[0].raceDeal && d.jobCreator === net.jc.address.toLowerCase()), 'the real job creator\'s deal took the slot')
    t.is(new Set(deals.map(d => d.dealId)).size, deals.length)
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

test.serial('a withdraw-first Sybil key: it runs the canary its machine can (a real deal on chain, from the canary key), withdraws its other offer before declining, and with no real deal behind the withdrawal it is judged to decline: on the signed record and sent no canaries for banEpochs epochs', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  const key = SYBILS[0]
  // one slot's worth of machine left for this key: the first canary runs (its deal agreed on chain by the canary
  // key), the second finds the machine full — the key withdraws its offers and answers NO_CAPACITY
  w.capacity.set(key, 1)
  w.withdrawFirst.add(key)
  w.realCanaryDeals.add(key)
  const r = await round(w, 0)
  const mine = r.filter(x => x.canary.provider.toLowerCase() === key)
  t.is(mine.length, 2)
  const passed = mine.find(x => x.outcome === CanaryOutcome.Passed)
  const dodged = mine.find(x => x.noDeal !== undefined)
  if (passed === undefined || dodged === undefined) { t.fail('one canary passed and one made no deal'); return }
  t.is(dodged.noDeal, 'declined', 'withdrawn, and no deal took the slot: a decline dressed as a race')
  t.regex(dodged.detail ?? '', /no deal naming the provider/)
  t.is(dodged.report?.report.outcome, CanaryOutcome.Unreachable)
  t.true(w.validator.capacityBans.banned(key, w.clock.now()), 'the long ban of a false claim of capacity')
  // the validator read the chain for it, once its window was over: the only deal naming the key in that window is
  // the canary's own (from the canary key), which took the canary's slot, not this one
  const read = w.reads.find(x => x.provider === key)
  if (read === undefined) { t.fail('the chain was not read'); return }
  t.true(Math.floor(w.clock.now() / 1000) > read.to, 'read after the window ended')
  const onChain = await agreedDealsOf({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, key, read)
  t.deepEqual(onChain.map(d => [d.dealId, d.jobCreator]), [[passed.dealId.toLowerCase(), net.jc2.address.toLowerCase()]])
  // the next epochs up to banEpochs: none for it, whatever it offers
  for (const l of [0, 1]) {
    const id = '0x' + (0xc0 + l).toString(16).padStart(64, '0')
    w.book.set(id, { id, signature: '0x', offer: { provider: key, slot: l, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 5n, seedCommit: ZeroHash } })
  }
  w.realCanaryDeals.delete(key)
  for (let e = 1; e < defaultDeclineRule.banEpochs; e++) {
    await w.clock.advance(EPOCH * 1000)
    await round(w, e)
    t.false(w.asked.includes(key), `epoch ${e}: still banned`)
  }
})

test.serial('a key that withdraws two slots in one round with no deal behind them is judged to decline both', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  // the Sybil key's machine is full: it withdraws its offers when a canary comes, then answers NO_CAPACITY
  w.capacity.set(SYBILS[1], 0)
  w.withdrawFirst.add(SYBILS[1])
  const r = await round(w, 0)
  const verdicts = r.filter(x => x.canary.provider.toLowerCase() === SYBILS[1]).map(x => x.noDeal).sort()
  t.deepEqual(verdicts, ['declined', 'declined'])
  t.true(w.validator.capacityBans.banned(SYBILS[1], w.clock.now()), 'the long ban')
  t.is(w.validator.reports(0).filter(s => s.report.provider.toLowerCase() === SYBILS[1]).length, 2, 'both on the signed record')
  // the honest provider in the same round: its slots were free and it ran its canaries
  for (const x of r.filter(x => x.canary.provider.toLowerCase() === HONEST)) t.is(x.outcome, CanaryOutcome.Passed)
})

test.serial('a key that covers a withdrawal with a deal of its own job creator key gets it taken for a race, once a round (the deal costs gas and is on chain) — deferred, not excused; a second in the round is a decline', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  const key = SYBILS[0]
  w.capacity.set(key, 0)
  w.withdrawFirst.add(key)
  w.fakes.set(key, 2)
  const r = await round(w, 0)
  const mine = r.filter(x => x.canary.provider.toLowerCase() === key)
  t.deepEqual(mine.map(x => x.noDeal).sort(), ['declined', 'race'])
  const race = mine.find(x => x.noDeal === 'race')
  t.truthy(race?.raceDeal, 'the deal it agreed with itself is what the validator found')
  t.is(race?.report, undefined)
  t.is(w.validator.retries.owed(key), 1, 'it owes the canary (the test above: what a retry it cannot run costs it)')
  t.true(w.validator.capacityBans.banned(key, w.clock.now()), 'one real job takes one slot: the second is no race')
})

test.serial('a race defers, it does not excuse: the key that covers its dodge with a deal of its own job creator key owes the canary at its next round, and dodging the retry too is a failure; an honest provider passes its retry', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  const key = SYBILS[0]
  // round 0: a real job takes the honest provider's slot (its deal on chain); the Sybil key's machine runs one of its
  // two canaries, and for the other withdraws its offers and agrees a deal with its own job creator key
  w.raced.set(HONEST, 1)
  w.capacity.set(key, 1)
  w.withdrawFirst.add(key)
  w.fakes.set(key, 1)
  const r0 = await round(w, 0)
  const race = (p: string): typeof r0 => r0.filter(x => x.canary.provider.toLowerCase() === p && x.noDeal !== undefined)
  for (const p of [HONEST, key]) {
    t.deepEqual(race(p).map(x => x.noDeal), ['race'], p)
    t.is(race(p)[0].report, undefined, 'nothing reported yet: deferred')
    t.truthy(race(p)[0].raceDeal)
    t.is(w.validator.retries.owed(p), 1, 'the key owes the canary')
  }
  t.false(w.validator.bans.banned(key, w.clock.now()) || w.validator.capacityBans.banned(key, w.clock.now()))

  // round 1: both offer their slots again; each is sent its slots' canaries and one more, the retry. The honest
  // provider runs all three; the Sybil machine, asked for everything its keys offer again, runs two and dodges the
  // third the same way — a race on a retry defers nothing: a failure, reported, and no more canaries this epoch
  reoffer(w, HONEST, 2n)
  reoffer(w, key, 2n)
  w.capacity.set(key, 2)
  w.fakes.set(key, 1)
  const r1 = await round(w, 0)
  const retryOf = (p: string): typeof r1 => r1.filter(x => x.canary.provider.toLowerCase() === p && x.canary.retry === true)
  t.is(r1.filter(x => x.canary.provider.toLowerCase() === HONEST).length, 3)
  t.is(retryOf(HONEST).length, 1)
  t.is(retryOf(HONEST)[0].outcome, CanaryOutcome.Passed)
  t.is(retryOf(HONEST)[0].report?.report.outcome, CanaryOutcome.Passed, 'the retry\'s outcome is what counts: passed, on the signed record')
  t.is(w.validator.retries.owed(HONEST), 0)
  t.false(w.validator.bans.banned(HONEST, w.clock.now()))
  t.is(retryOf(key).length, 1)
  const dodged = r1.filter(x => x.canary.provider.toLowerCase() === key && x.noDeal !== undefined)
  t.is(dodged.length, 1)
  t.true(dodged[0].canary.retry, 'the machine ran its slots\' canaries first and dodged the one more')
  t.is(dodged[0].noDeal, 'race-failed')
  t.regex(dodged[0].detail ?? '', /a retry of a canary a race deferred/)
  t.is(dodged[0].report?.report.outcome, CanaryOutcome.Unreachable)
  t.is(w.validator.retries.owed(key), 0)
  t.true(w.validator.bans.banned(key, w.clock.now()), 'no more canaries this epoch')
  t.false(w.validator.capacityBans.banned(key, w.clock.now()), 'not the long ban: a real job can take a retry\'s slot too, rarely')
  // and the deal it faked for the retry is on chain, like the first: two deals with its own job creator key
  const read = w.reads.filter(x => x.provider === key).at(-1)
  if (read === undefined) { t.fail('the chain was not read'); return }
  const onChain = await agreedDealsOf({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, key, { from: 0, to: read.to })
  t.true(onChain.filter(d => d.jobCreator === net.jc.address.toLowerCase()).length >= 2)
})

test.serial('canaries ask for the whole slot: a Sybil key that offers both slots of a machine whose real job holds one was sent and ran two canaries where the honest provider offering its free slot was sent one; asking for the slot, its machine runs one, and dodging the other (a deal of its own behind it) fails it', async t => {
  // one machine, two slots of a core; a real job holds one. The honest provider offers only its free slot; the Sybil
  // key offers both and, when its machine is full, withdraws its offers and covers the dodge with a deal of its own
  // job creator key. Cowsays only (half a core each): the canary a machine can squeeze two of into one free core.
  const cowsay = defaultCanaryTemplates.filter(x => x.module === 'cowsay:v0.0.1')
  const key = SYBILS[0]
  const setUp = (w: World): void => {
    for (const l of [...w.book.values()]) if ((l.offer.provider.toLowerCase() === HONEST && l.offer.slot === 1) || l.offer.provider.toLowerCase() === SYBILS[1]) w.book.delete(l.id)
    w.room.set(HONEST, 1000)
    w.room.set(key, 1000)
    w.withdrawFirst.add(key)
    w.fakes.set(key, 4)
  }
  const passes = (r: Awaited<ReturnType<typeof round>>, p: string): number => r.filter(x => x.canary.provider.toLowerCase() === p && x.outcome === CanaryOutcome.Passed).length

  // before: jobs, canaries too, asked for their module's requirement only — the Sybil key's machine ran both of its canaries
  // in the core it had free, twice what the honest machine was sent, each paid like a job
  const before = await world({ round: { ...defaultRoundOptions, templates: cowsay, ask: 'module' } }, 'requirement')
  t.teardown(async () => { await rm(before.dir, { recursive: true, force: true }) })
  setUp(before)
  const b0 = await round(before, 0)
  t.is(passes(b0, HONEST), 1)
  t.is(passes(b0, key), 2, 'the hole: two canaries run in one free slot\'s room')
  t.deepEqual(before.asks.get(key), [{ cpu: 500, ramMb: 64 }, { cpu: 500, ramMb: 64 }])

  // now: every job asks for the slot it is proposed to (the job creator's rule), a canary too, and the provider gives
  // its container that much
  const w = await world({ round: { ...defaultRoundOptions, templates: cowsay } })
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  setUp(w)
  const r0 = await round(w, 0)
  t.deepEqual(w.asks.get(HONEST), [{ cpu: 1000, ramMb: 2048 }], 'the whole slot: what any job proposed to it asks')
  t.deepEqual(w.asks.get(key), [{ cpu: 1000, ramMb: 2048 }, { cpu: 1000, ramMb: 2048 }])
  t.is(passes(r0, HONEST), 1)
  t.is(passes(r0, key), 1, 'its machine runs as many as it has free slots')
  // the other: withdrawn, a deal of its own behind it — a race, deferred (the test above: what a dodged retry costs)
  t.deepEqual(r0.filter(x => x.canary.provider.toLowerCase() === key && x.noDeal !== undefined).map(x => x.noDeal), ['race'])
  t.is(w.validator.retries.owed(key), 1)
  // the next round, the real job still running: the honest provider is sent its free slot's canary again; the Sybil
  // key, offering both slots again, is sent two and the retry, runs one and dodges two — one of them on the record
  // as a failure, and it is sent no more canaries
  reoffer(w, key, 2n)
  const r1 = await round(w, 0)
  t.is(passes(r1, HONEST), 1)
  t.is(passes(r1, key), 1)
  const dodged = r1.filter(x => x.canary.provider.toLowerCase() === key && x.noDeal !== undefined)
  t.is(dodged.length, 2)
  t.true(dodged.some(x => x.noDeal === 'declined' || x.noDeal === 'race-failed'), dodged.map(x => x.noDeal).join(', '))
  t.true(w.validator.reports(0).some(s => s.report.provider.toLowerCase() === key && s.report.outcome === CanaryOutcome.Unreachable), 'a failed canary on the signed record')
  t.true(w.validator.bans.banned(key, w.clock.now()), 'no more canaries this epoch')
  t.false(w.validator.bans.banned(HONEST, w.clock.now()))
  // two rounds: the Sybil key passed no more canaries than the honest machine (it was paid for two, as the honest
  // one was, and a failure cancels three passes of its reward), where before it passed two a round
  t.is(passes(r0, key) + passes(r1, key), passes(r0, HONEST) + passes(r1, HONEST))
})

test.serial('the retries keys owe outlive a validator restart: kept in its file, sent with the next round of the validator started again', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-retries-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = new CanaryRetriesFile(join(dir, 'validator-retries.json'))
  const keep = { saveRetries: async (r: Parameters<NonNullable<ValidatorOptions['saveRetries']>>[0]) => { await file.save(r) } }
  const first = await world({ retries: await file.load(), ...keep })
  t.teardown(async () => { await rm(first.dir, { recursive: true, force: true }) })
  first.raced.set(HONEST, 1)
  const r = await round(first, 0)
  t.deepEqual(r.filter(x => x.noDeal !== undefined).map(x => x.noDeal), ['race'])
  await first.validator.stop()
  t.deepEqual(JSON.parse(await readFile(file.file, 'utf8')), { [HONEST]: 1 })

  const again = await world({ retries: await file.load(), ...keep })
  t.teardown(async () => { await rm(again.dir, { recursive: true, force: true }) })
  t.is(again.validator.retries.owed(HONEST), 1)
  const r2 = await round(again, 0)
  const retry = r2.filter(x => x.canary.retry === true)
  t.is(retry.length, 1)
  t.is(retry[0].canary.provider.toLowerCase(), HONEST)
  t.is(retry[0].outcome, CanaryOutcome.Passed)
  t.deepEqual(JSON.parse(await readFile(file.file, 'utf8')), {}, 'sent: owed no longer')
  // a file that is not the validator's: a named error, with a hint, at start
  await writeFile(file.file, '{"not an address": 1}')
  await t.throwsAsync(file.load(), { name: 'InvalidCanaryRetriesError' })
})

test.serial('a race window the validator cannot read (its RPC down) is no verdict: the canary is neither a race nor a decline, nothing reported, nobody marked', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  w.readFails = true
  w.capacity.set(SYBILS[1], 0)
  w.withdrawFirst.add(SYBILS[1])
  const r = await round(w, 0)
  const mine = r.filter(x => x.canary.provider.toLowerCase() === SYBILS[1])
  t.is(mine.length, 2)
  for (const x of mine) {
    t.is(x.noDeal, undefined)
    t.is(x.report, undefined)
    t.regex(x.detail ?? '', /not judged: connect ECONNREFUSED/)
  }
  t.false(w.validator.bans.banned(SYBILS[1], w.clock.now()) || w.validator.capacityBans.banned(SYBILS[1], w.clock.now()))
  t.is(w.validator.reports(0).filter(s => s.report.provider.toLowerCase() === SYBILS[1]).length, 0)
  // a retry left unjudged so is owed still: the validator's fault forgives no key, and blames none
  w.validator.retries.defer(SYBILS[1])
  for (const slot of [0, 1]) {
    const id = '0x' + (0xa0 + slot).toString(16).padStart(64, '0')
    w.book.set(id, { id, signature: '0x', offer: { provider: SYBILS[1], slot, spec: SPEC, modules: [], price: 1n, collateral: 2n, mediators: [], expiry: 9_999_999_999n, nonce: 7n, seedCommit: ZeroHash } })
  }
  const again = await round(w, 0)
  const retry = again.filter(x => x.canary.retry === true)
  t.is(retry.length, 1)
  t.regex(retry[0].detail ?? '', /not judged/)
  t.is(w.validator.retries.owed(SYBILS[1]), 1, 'owed still')
})

test.serial('a validator stopped while it waits for a race window\'s end stops at once, its timer released, and leaves the canary unjudged', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  w.capacity.set(SYBILS[1], 0)
  w.withdrawFirst.add(SYBILS[1])
  w.validator.start()
  const pendingAtStart = w.clock.pending
  const r = w.validator.runRound(0)
  // the round's canaries are judged in turn; the withdrawn ones wait on the clock for their window's end
  while (w.clock.pending === pendingAtStart) await new Promise(resolve => setImmediate(resolve))
  await w.validator.stop()
  t.is(w.clock.pending, 0, 'no timer left behind')
  const mine = (await r).filter(x => x.canary.provider.toLowerCase() === SYBILS[1])
  t.is(mine.length, 2)
  for (const x of mine) { t.is(x.report, undefined); t.is(x.noDeal, undefined) }
  t.false(w.validator.capacityBans.banned(SYBILS[1], w.clock.now()))
})

test.serial('the validator\'s own canary key short of deposit is no verdict on any provider', async t => {
  const w = await world()
  t.teardown(async () => { await rm(w.dir, { recursive: true, force: true }) })
  w.broke = true
  await t.throwsAsync(round(w, 0), { name: 'InsufficientDepositError' })
  t.is(w.validator.reports(0).length, 0)
  for (const p of [HONEST, ...SYBILS]) t.false(w.validator.bans.banned(p, w.clock.now()) || w.validator.capacityBans.banned(p, w.clock.now()))
})
