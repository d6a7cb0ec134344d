// Canary jobs: their known answers, their schedule, and that nothing in a canary's request sets it apart from what a
// user asks `lilypad run` for (same modules by the same names, inputs the module declares, the module's timeout, a
// machine requirement raised as `lilypad run --cpu --ram` raises it, audit rates from the same set).
import test from 'ava'
import { Wallet } from 'ethers'
import { Rng } from '../../simulations/rng.ts'
import { cowsayAnswer, primesAnswer, wordcountAnswer } from './known-answers.ts'
import { planRound, roundTimes, checkCanaryResult, defaultCanaryTemplates, defaultRoundOptions, canaryJobRequest, canaryAsk, deriveCanaryKey, judgeNoDeal, defaultDeclineRule, raceWindow, raceDeal, planRetries, type CanaryTarget } from './canary.ts'
import { CanaryRetries } from './retries.ts'
import { resourceUnits } from './units.ts'
import { loadModule, declaredInputs, readModuleTemplate, resolveModule, machineRequirement } from '../../node/modules/index.ts'
import { slotAsk } from '../slot-ask.ts'
import { encodeEnvelope, decodeEnvelope } from '../codec.ts'
import { canonicalInputsJson } from '../contract-job/index.ts'
import type { JobOffer } from '../eip712.ts'

test('known answers: the seed\'s cow, a sieve, a word count', t => {
  t.is(cowsayAnswer('moo'), [
    ' _____', '< moo >', ' -----', '        \\   ^__^', '         \\  (oo)\\_______', '            (__)\\       )\\/\\', '                ||----w |', '                ||     ||', ''
  ].join('\n'))
  const long = cowsayAnswer('the quick brown fox jumps over the lazy dog and keeps running far away')
  t.true(long.startsWith(' ' + '_'.repeat(41) + '\n/ the quick brown fox jumps over the lazy \\\n\\ dog and keeps running far away'), long)
  t.is(primesAnswer(10), 'n=10 count=4 largest=7\n')
  t.is(primesAnswer(10_000), 'n=10000 count=1229 largest=9973\n')
  t.is(wordcountAnswer('hello  world'), 'text lines=0 words=2 bytes=12\n')
  t.is(wordcountAnswer('a\nb c\n'), 'text lines=2 words=3 bytes=6\n')
  t.throws(() => primesAnswer(5_000_001), { instanceOf: RangeError })
})

test('the check: exit code and stdout exactly', t => {
  const expected = { exitCode: 0, stdout: 'n=10 count=4 largest=7\n' }
  t.deepEqual(checkCanaryResult(expected, { exitCode: 0, stdout: 'n=10 count=4 largest=7\n' }), { passed: true })
  t.deepEqual(checkCanaryResult(expected, { exitCode: 0, stdout: 'n=10 count=4 largest=7' }), { passed: false, reason: 'wrong-output' })
  t.deepEqual(checkCanaryResult(expected, { exitCode: 1, stdout: expected.stdout }), { passed: false, reason: 'wrong-exit-code' })
})

const slot = (provider: number, i: number, cpu = 2000, ramMb = 4096): CanaryTarget => ({
  provider: '0x' + provider.toString(16).padStart(40, '0'), offerId: '0x' + (provider * 100 + i).toString(16).padStart(64, '0'), cpu, ramMb, units: resourceUnits({ cpu, ramMb, gpus: 0, gpuVramMb: 0 })
})

test('rounds: random times inside the epoch before its tail; each provider joins with the set probability, with all its slots at once; only canaries that fit', t => {
  const rng = new Rng('canary-rounds')
  const times = roundTimes(rng, 1000, 1000 + 86_400, 24, 600)
  t.is(times.length, 24)
  t.true(times.every((x, i) => x >= 1000 && x < 1000 + 86_400 - 600 && (i === 0 || x >= times[i - 1])))
  t.deepEqual(roundTimes(rng, 1000, 1500, 5, 600), [], 'an epoch shorter than its tail has no round')
  const live = [...Array.from({ length: 50 }, (_, p) => slot(p + 1, 0)), slot(999, 0, 100, 32)]
  let picked = 0
  const modules = new Map<string, number>()
  for (let r = 0; r < 400; r++) {
    const round = planRound(rng, live, { ...defaultRoundOptions, slotPpm: 250_000 })
    picked += round.length
    for (const c of round) {
      modules.set(c.module, (modules.get(c.module) ?? 0) + 1)
      t.not(c.provider, live[50].provider, 'nothing fits a 0.1-core slot')
      t.true(defaultRoundOptions.auditPpms.some(([p]) => p === c.auditPpm))
      const template = defaultCanaryTemplates.find(x => x.module === c.module)!
      t.is(c.units, resourceUnits({ cpu: template.cpu, ramMb: template.ramMb, gpus: 0, gpuVramMb: 0 }), 'credited the canary\'s own requirement, not the slot\'s claim')
      t.true(template.cpu <= 2000)
    }
  }
  const rate = picked / (400 * 50)
  t.true(Math.abs(rate - 0.25) < 0.02, `provider rate ${rate}`)
  t.true((modules.get('cowsay:v0.0.1') ?? 0) > (modules.get('primes:v0.1.0') ?? 0), 'cowsay, the common job, is the common canary')
  t.is(modules.size, 3)
  // a provider with many slots gets several canaries at once: they test its capacity together
  const many = planRound(new Rng('x'), Array.from({ length: 40 }, (_, i) => slot(7, i)), { ...defaultRoundOptions, slotPpm: 1_000_000, maxPerProvider: 16 })
  t.is(many.length, 16)
  // a provider is asked for all its slots at once or not at all in a round
  const four = Array.from({ length: 10 }, (_, p) => Array.from({ length: 4 }, (_, i) => slot(100 + p, i))).flat()
  for (let r = 0; r < 50; r++) {
    const counts = new Map<string, number>()
    for (const c of planRound(rng, four, { ...defaultRoundOptions, slotPpm: 250_000 })) counts.set(c.provider, (counts.get(c.provider) ?? 0) + 1)
    t.true([...counts.values()].every(n => n === 4))
  }
  // an overclaimed slot (a thousand cores, a terabyte) earns a canary no more units than a modest one
  const huge = planRound(new Rng('y'), [slot(8, 0, 1_000_000, 1_000_000)], { ...defaultRoundOptions, slotPpm: 1_000_000 })
  const modest = planRound(new Rng('y'), [slot(9, 0)], { ...defaultRoundOptions, slotPpm: 1_000_000 })
  t.is(huge[0].module, modest[0].module)
  t.is(huge[0].units, modest[0].units)
})

test('canary keys: fresh per epoch and index, reproducible from the validator\'s secret', t => {
  const secret = '0x' + '42'.repeat(32)
  const a = deriveCanaryKey(secret, 7, 0)
  t.is(deriveCanaryKey(secret, 7, 0), a)
  t.not(deriveCanaryKey(secret, 8, 0), a)
  t.not(deriveCanaryKey(secret, 7, 1), a)
  t.not(deriveCanaryKey('0x' + '43'.repeat(32), 7, 0), a)
  t.regex(new Wallet(a).address, /^0x[0-9a-fA-F]{40}$/)
})

test('indistinguishable requests: registry modules, declared inputs, the module\'s timeout, what a user passes to lilypad run (no --cpu --ram), the same job offer proposed to the slot, the same wire shape', async t => {
  const rng = new Rng('canary-shape')
  const live = Array.from({ length: 20 }, (_, p) => slot(p + 1, 0))
  const userRuns: Record<string, Record<string, string>> = { 'cowsay:v0.0.1': { Message: 'hello from a user' }, 'primes:v0.1.0': { N: '77' }, 'wordcount:v0.1.0': { Text: 'some text' } }
  const seen = new Set<string>()
  for (let r = 0; r < 30; r++) {
    for (const c of planRound(rng, live, { ...defaultRoundOptions, slotPpm: 500_000 })) {
      const req = canaryJobRequest(c)
      t.deepEqual(Object.keys(req).sort(), ['auditProbability', 'inputs', 'module'], 'a canary asks for what a user passes to lilypad run <module>, no more')
      const canary = await loadModule(req.module, req.inputs)
      const user = await loadModule(req.module, userRuns[req.module])
      t.deepEqual(canary.warnings, [])
      // the job offer proposed to the slot (the job creator's rule for every job, protocols/slot-ask.ts): the whole
      // slot the canary was planned on — the same as a user's `lilypad run <module>` proposed to it, or one with --cpu 1
      const slotSpec = { cpu: 2000, ramMb: 4096 }
      const proposed = slotAsk(machineRequirement(canary.spec.resources), slotSpec)
      t.deepEqual(proposed, slotAsk(machineRequirement(user.spec.resources), slotSpec))
      t.deepEqual(proposed, slotAsk(machineRequirement(user.spec.resources, {}, { cpu: 1000 }), slotSpec))
      t.like(proposed, c.ask, 'what the validator planned (PlannedCanary.ask): the same rule')
      t.is(canary.spec.timeoutSec, user.spec.timeoutSec)
      if (!seen.has(req.module)) {
        seen.add(req.module)
        const declared = declaredInputs(await readModuleTemplate(await resolveModule(req.module))).map(d => d.name)
        for (const k of Object.keys(req.inputs)) t.true(declared.includes(k), `${req.module} declares ${k}`)
      }
      // the job offer a provider receives: the same fields and the same encoding rules as a user's
      const offer = (inputs: Record<string, string>, auditPpm: number): JobOffer => ({
        jobCreator: new Wallet(deriveCanaryKey('0x' + '11'.repeat(32), 1, 0)).address, module: req.module, inputs: canonicalInputsJson(inputs),
        spec: slotAsk(machineRequirement(canary.spec.resources), slotSpec), maxPrice: (1n << 96n) - 1n, mediators: ['0x' + 'a'.repeat(40)], target: '0x' + '0'.repeat(40),
        timeout: canary.spec.timeoutSec, auditPpm, expiry: 2_000_000_000n, nonce: 1_700_000_000_000_000n, seedCommit: '0x' + '00'.repeat(32)
      })
      const env = (v: JobOffer): Uint8Array => encodeEnvelope({ kind: 'JobOffer', value: v, signature: '0x' + '1'.repeat(130) })
      const decoded = decodeEnvelope(env(offer(req.inputs, c.auditPpm)), 'JobOffer')
      t.deepEqual(Object.keys(decoded.value), Object.keys(decodeEnvelope(env(offer(userRuns[req.module], 0)), 'JobOffer').value))
    }
  }
  t.deepEqual([...seen].sort(), ['cowsay:v0.0.1', 'primes:v0.1.0', 'wordcount:v0.1.0'])
})

test('a canary asks for the whole slot it is sent to (so a machine runs at once only as many as it has free slots, however many keys offer them) and credits what its module verified', t => {
  // a key offering all four 1-core slots of a machine whose real jobs hold two: four canaries, each asking a core
  const P = '0x' + 'ab'.repeat(20)
  const four: CanaryTarget[] = [0, 1, 2, 3].map(i => ({ provider: P, offerId: `0x${i}`, cpu: 1000, ramMb: 2048, units: resourceUnits({ cpu: 1000, ramMb: 2048, gpus: 0, gpuVramMb: 0 }) }))
  const fits = (asks: ReadonlyArray<{ cpu: number }>, free: number): number => { let n = 0; for (const a of asks) if (a.cpu <= free) { free -= a.cpu; n++ } return n }
  for (let r = 0; r < 50; r++) {
    const round = planRound(new Rng(`slot-ask:${r}`), four)
    t.is(round.length, 4)
    for (const c of round) {
      const template = defaultCanaryTemplates.find(x => x.module === c.module)!
      t.deepEqual(c.ask, { cpu: 1000, ramMb: 2048 })
      t.is(c.units, resourceUnits({ cpu: template.cpu, ramMb: template.ramMb, gpus: 0, gpuVramMb: 0 }), 'credited the module\'s requirement: a cowsay proves a cowsay')
    }
    t.is(fits(round.map(c => c.ask), 2000), 2, 'two free cores run two of them, as an honest machine offering its two free slots is sent two')
    // the same draw asking only the module's requirement (the validator before): a cowsay asks half a core, so two
    // free cores held more of them than the two free slots an honest machine offers
    const before = planRound(new Rng(`slot-ask:${r}`), four, { ...defaultRoundOptions, ask: 'module' })
    t.deepEqual(before.map(c => c.module), round.map(c => c.module), 'the ask changes no draw')
    t.true(fits(before.map(c => c.ask), 2000) >= 2)
  }
  // a slot bigger than the module: the whole slot; a module bigger than the slot never goes there (planRound), but
  // the ask is never below the module's own
  t.deepEqual(canaryAsk({ cpu: 500, ramMb: 64 }, { cpu: 4000, ramMb: 16_384 }), { cpu: 4000, ramMb: 16_384 })
  t.deepEqual(canaryAsk({ cpu: 500, ramMb: 64 }, { cpu: 250, ramMb: 32 }), { cpu: 500, ramMb: 64 })
  t.deepEqual(canaryAsk({ cpu: 500, ramMb: 64 }, { cpu: 4000, ramMb: 16_384 }, 'module'), { cpu: 500, ramMb: 64 })
  // the round options say which: the default is the slot
  t.is(defaultRoundOptions.ask, 'slot')
})

test('a canary with no deal: declined while the slot is still offered free, or withdrawn with no deal behind it; a race, tolerated once a round and twice an epoch, when a real deal took it', t => {
  t.deepEqual(defaultDeclineRule, { racesPerRound: 1, raceAllowance: 2, banEpochs: 4, raceLeadSec: 60, raceAgreeSec: 30 })
  const free = { slotStillFree: true, dealTookSlot: false }
  const taken = { slotStillFree: false, dealTookSlot: true }
  const emptied = { slotStillFree: false, dealTookSlot: false }
  // the offer still says the slot is free: a false claim of capacity, however few races came before (and whatever
  // deals the key has: its slot was not taken)
  t.is(judgeNoDeal(free, { round: 0, epoch: 0 }), 'declined')
  t.is(judgeNoDeal({ slotStillFree: true, dealTookSlot: true }, { round: 0, epoch: 0 }), 'declined')
  // the slot was taken (withdrawn, replaced, expired) before the canary reached it, and a deal on chain shows the
  // real job that took it: an honest provider's race
  t.is(judgeNoDeal(taken, { round: 0, epoch: 0 }), 'race')
  t.is(judgeNoDeal(taken, { round: 0, epoch: 1 }), 'race')
  // withdrawn with no deal behind it: nothing took the slot — a decline dressed as a race (the withdraw-first Sybil)
  t.is(judgeNoDeal(emptied, { round: 0, epoch: 0 }), 'declined')
  // two in one round is not one real job arriving in the moment: a key cannot dodge the canaries its machine cannot
  // run by withdrawing its offers first
  t.is(judgeNoDeal(taken, { round: 1, epoch: 1 }), 'declined')
  t.is(judgeNoDeal(taken, { round: 0, epoch: 2 }), 'race-failed', 'an epoch\'s third race: a failure, not the long ban')
  t.is(judgeNoDeal(taken, { round: 0, epoch: 0 }, { ...defaultDeclineRule, racesPerRound: 0, raceAllowance: 5, banEpochs: 1 }), 'declined')
})

test('a race defers, it does not excuse: the retry goes with the key\'s next round on one of its live slots, drawn like any canary, and a race on the retry is a failure', t => {
  const taken = { slotStillFree: false, dealTookSlot: true }
  // the retry: only its outcome counts, and it is not deferred again, even with the epoch's allowance left
  t.is(judgeNoDeal({ ...taken, retry: true }, { round: 0, epoch: 0 }), 'race-failed')
  t.is(judgeNoDeal({ ...taken, retry: false }, { round: 0, epoch: 0 }), 'race')
  // a retry that finds its slot free and declines, or withdrawn with nothing behind it, is a decline like any
  t.is(judgeNoDeal({ slotStillFree: true, dealTookSlot: false, retry: true }, { round: 0, epoch: 0 }), 'declined')
  t.is(judgeNoDeal({ slotStillFree: false, dealTookSlot: false, retry: true }, { round: 0, epoch: 0 }), 'declined')
  t.is(judgeNoDeal({ ...taken, retry: true }, { round: 1, epoch: 0 }), 'declined')

  const P = '0x' + 'ab'.repeat(20)
  const slots: CanaryTarget[] = [0, 1, 2].map(i => ({ provider: P, offerId: `0x${i}`, cpu: 1000, ramMb: 2048, units: 1 }))
  const sent = planRetries(new Rng('retries'), slots, 2)
  t.is(sent.length, 2)
  for (const c of sent) {
    t.true(c.retry)
    t.true(slots.some(s => s.offerId === c.offerId), 'on one of its live slots')
    t.true(defaultCanaryTemplates.some(m => m.module === c.module))
    // what goes on the wire is what any canary sends: the module, its inputs, an audit rate
    t.deepEqual(Object.keys(canaryJobRequest(c)).sort(), ['auditProbability', 'inputs', 'module'])
    t.deepEqual(c.ask, { cpu: 1000, ramMb: 2048 }, 'the whole slot, like any canary')
  }
  t.deepEqual(planRetries(new Rng('retries'), slots, 2), sent, 'deterministic from the randomness given')
  t.deepEqual(planRetries(new Rng('retries'), [], 2), [], 'no live slot: none now')
  t.deepEqual(planRetries(new Rng('retries'), [{ ...slots[0], cpu: 100 }], 1), [], 'no canary fits the slot: none')

  // the book: a race owes one, a round sends them, kept as JSON across a restart
  const book = new CanaryRetries()
  book.defer(P.toUpperCase().replace('0X', '0x'))
  book.defer(P)
  t.is(book.owed(P), 2)
  book.take(P, 1)
  t.is(book.owed(P), 1)
  t.deepEqual(CanaryRetries.fromJson(JSON.parse(JSON.stringify(book.toJson()))).toJson(), { [P]: 1 })
  book.take(P, 1)
  t.deepEqual(book.toJson(), {})
  t.is(book.size, 0)
  for (const bad of [[], null, { [P]: 0 }, { [P]: 1.5 }, { [P]: '1' }, { nobody: 1 }, { [P.toUpperCase()]: 1 }]) {
    t.throws(() => CanaryRetries.fromJson(bad), { name: 'InvalidCanaryRetriesError' }, JSON.stringify(bad))
  }
})

test('the deal behind a race: agreed naming the provider inside the window around the canary, not by a canary key, each deal excusing one canary', t => {
  // a round at 10,000 s whose canary gave up at 10,125 s: from 60 s before the round to 30 s after the give-up
  const w = raceWindow(10_000, 10_125)
  t.deepEqual(w, { from: 9_940, to: 10_155 })
  t.deepEqual(raceWindow(10_000, 9_990), { from: 9_940, to: 10_030 }, 'a give-up read before the round (clock skew) ends the window no earlier than the round')
  const P = '0x' + 'ab'.repeat(20)
  const deal = (id: number, at: number, over: { provider?: string, jobCreator?: string } = {}): { dealId: string, provider: string, jobCreator: string, agreedAt: number } =>
    ({ dealId: '0x' + id.toString(16).padStart(64, '0'), provider: over.provider ?? P, jobCreator: over.jobCreator ?? '0x' + 'cd'.repeat(20), agreedAt: at })
  const none = { canaryKeys: new Set<string>(), used: new Set<string>() }
  t.is(raceDeal([], P, w, none), undefined)
  // outside the window on either side, or another provider's: not what took this slot
  t.is(raceDeal([deal(1, 9_939), deal(2, 10_156), deal(3, 10_050, { provider: '0x' + 'ef'.repeat(20) })], P, w, none), undefined)
  // the edges count; the earliest wins, ties to the lower id; addresses in any case
  t.is(raceDeal([deal(5, 10_155), deal(4, 9_940)], P, w, none)?.dealId, deal(4, 0).dealId)
  t.is(raceDeal([deal(7, 10_000), deal(6, 10_000)], P.toUpperCase().replace('0X', '0x'), w, none)?.dealId, deal(6, 0).dealId)
  // a canary of the same round that made a deal took its own slot, not this one
  const canaryKey = '0x' + '99'.repeat(20)
  t.is(raceDeal([deal(8, 10_010, { jobCreator: canaryKey })], P, w, { canaryKeys: new Set([canaryKey]), used: new Set() }), undefined)
  // one real job takes one slot: a deal that excused a canary excuses no other
  t.is(raceDeal([deal(9, 10_010)], P, w, { canaryKeys: new Set(), used: new Set([deal(9, 0).dealId]) }), undefined)
})
