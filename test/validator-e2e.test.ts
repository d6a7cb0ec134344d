// The validator against real providers on a devnet (anvil, libp2p, Docker, Helia; a Rewards contract deployed):
// one canary round reaches an honest provider and one that tampers with its results (the node's wrong-result fault);
// the honest one passes, the cheat is caught; each canary went out as an ordinary job offer (the same fields as a
// user's `run`, target zero, a job creator key that is not the validator's); the signed reports are recorded on chain
// after the epoch, and the reputation every node reads from the chain (and `lilypad leaderboard`'s rows) count them,
// apart from the providers' paid deals.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { computeAddress, isAddress, parseEther, ZeroAddress } from 'ethers'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { devKey } from '../node/chain/index.ts'
import { waitFor } from '../node/testing/fixtures.ts'
import { loadRegistry } from '../node/modules/refs.ts'
import { ReputationFeed } from '../node/incentives/reputation-feed.ts'
import { openRewardsReader, leaderboard } from '../node/incentives/compute.ts'
import { canaryRecords } from '../node/incentives/chain-facts.ts'
import { CanaryOutcome, defaultRoundOptions, epochAt, epochEnd, verifyCanaryReport, setupFromJson } from '../protocols/incentives/index.ts'

const addr = (i: number): string => computeAddress(devKey(i))
let home: string
let devnet: Devnet
const nodes: LilypadNode[] = []

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-validator-'))
  devnet = await startDevnet({
    home,
    port: 0,
    slots: 1,
    rewards: { publishers: [addr(DEVNET_KEYS.admin), addr(DEVNET_KEYS.user)], validators: [addr(DEVNET_KEYS.user2)], config: { epochLength: 3600, reportWindow: 3600 }, fund: parseEther('1000') }
  })
})

test.after.always(async () => {
  for (const n of nodes) await n.stop().catch(() => {})
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function node (key: number, name: string, extra: Partial<Parameters<typeof LilypadNode.create>[0]>): Promise<LilypadNode> {
  const n = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(key), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') }, ...extra })
  nodes.push(n)
  return n
}

test.serial('a canary round: the honest provider passes, the tampering one is caught, the reports go on chain and into every node\'s reputation', async t => {
  const honest = devnet.provider.chain.address.toLowerCase()
  const cheat = addr(DEVNET_KEYS.provider2).toLowerCase()
  const cheatNode = await node(DEVNET_KEYS.provider2, 'cheat', { roles: ['resource-provider'], provider: { slots: 1, fault: 'wrong-result' } })
  // every live slot joins the round; no rounds at random times (the test starts the one round itself)
  const v = await node(DEVNET_KEYS.user2, 'validator', { roles: ['validator'], validator: { rounds: 0, round: { ...defaultRoundOptions, slotPpm: 1_000_000 } } })
  const validator = v.validator
  if (validator === undefined) throw new Error('the validator role did not start')
  await waitFor(() => { const ps = new Set(v.book.offers().map(o => o.offer.provider.toLowerCase())); return ps.has(honest) && ps.has(cheat) }, 60_000, 'both providers\' offers')
  // each provider's one slot as the round sees it (later the book may hold no offer of it: a job booked the slot)
  const slots = new Map(v.book.offers().map(o => [o.offer.provider.toLowerCase(), o.offer.spec]))

  const setup = setupFromJson(devnet.network.rewards, isAddress)
  const epoch = epochAt(setup.config, (await devnet.provider.chain.provider.getBlock('latest'))?.timestamp ?? 0)
  const results = await validator.runRound(epoch)
  const by = (p: string): typeof results => results.filter(r => r.canary.provider.toLowerCase() === p)
  t.true(by(honest).length >= 1 && by(cheat).length >= 1, 'both providers were sent canaries')
  for (const r of by(honest)) t.is(r.outcome, CanaryOutcome.Passed, `honest: ${r.detail ?? ''}`)
  for (const r of by(cheat)) { t.is(r.outcome, CanaryOutcome.WrongResult); t.is(r.detail, 'wrong-output') }

  // indistinguishable: a user's plain `lilypad run <module>` (no --cpu --ram) proposed to a slot asks exactly what a
  // canary proposed to that slot asks — the whole slot (protocols/slot-ask.ts) — with the same fields and timeout;
  // the canary names no target and comes from a key that is neither the validator's nor any known party's
  const user = await node(DEVNET_KEYS.user, 'user', {})
  const jc = await user.createJobCreator({ network: devnet.network, dataDir: join(home, 'user') })
  const modules = new Set(Object.keys(loadRegistry()))
  const realByModule = new Map<string, Awaited<ReturnType<typeof jc.run>>['jobOffer']['value']>()
  const paid = new Map<string, number>()
  for (const r of results) {
    const offer = r.jobOffer?.value
    if (offer === undefined) { t.fail('a canary made no deal'); continue }
    t.true(modules.has(offer.module), `${offer.module} is a registry module`)
    t.is(offer.target, ZeroAddress, 'the provider is not named in the offer')
    t.not(offer.jobCreator.toLowerCase(), v.chain.address.toLowerCase(), 'not sent from the validator\'s key')
    let real = realByModule.get(offer.module)
    if (real === undefined) {
      const out = await jc.run({ module: offer.module, inputs: r.canary.inputs })
      real = out.jobOffer.value
      realByModule.set(offer.module, real)
      const p = out.deal.resourceProvider.toLowerCase()
      paid.set(p, (paid.get(p) ?? 0) + 1)
    }
    t.deepEqual(Object.keys(offer).sort(), Object.keys(real).sort(), 'the same wire fields as a user\'s job')
    t.deepEqual(offer.spec, real.spec)
    // the whole slot it was sent to: the provider's offer's CPU and memory, which its container is given
    const slot = slots.get(r.canary.provider.toLowerCase())
    t.truthy(slot)
    t.like(offer.spec, { cpu: slot?.cpu, ramMb: slot?.ramMb })
    t.is(offer.timeout, real.timeout)
    t.deepEqual(offer.mediators, real.mediators)
    t.is(offer.maxPrice, real.maxPrice)
    const domain = { chainId: BigInt(devnet.network.chainId), verifyingContract: devnet.network.contracts.rewards as string }
    if (r.report === undefined) { t.fail('a canary that made a deal went unreported'); continue }
    t.is(verifyCanaryReport(domain, r.report, [addr(DEVNET_KEYS.user2)]).toLowerCase(), addr(DEVNET_KEYS.user2).toLowerCase(), 'signed by the validator')
  }

  // the attack: a provider that classifies the jobs it receives by their ask ("a job asking exactly my slot is a
  // validator's canary: run it honestly; cheat the rest") reads every proposal it countersigned — the job offer and
  // the deal as it received them — and can no longer tell them apart. A user's job asking more than its module needs
  // (`--cpu`) runs as before and asks the same.
  const raised = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'a user asking a core' }, machine: { cpu: 1000 } })
  paid.set(raised.deal.resourceProvider.toLowerCase(), (paid.get(raised.deal.resourceProvider.toLowerCase()) ?? 0) + 1)
  const canaryDeals = new Set(results.map(r => r.report?.report.dealId.toLowerCase()).filter(d => d !== undefined))
  const userKey = addr(DEVNET_KEYS.user).toLowerCase()
  let seenCanary = 0
  let seenReal = 0
  for (const rp of [devnet.provider.provider, cheatNode.provider]) {
    if (rp === undefined) { t.fail('a provider role did not start'); continue }
    const mySlot = rp.template.spec
    const received = await rp.deals.all()
    const looksLikeCanary = (job: typeof received[number]['job']['value']): boolean => job.spec.cpu === mySlot.cpu && job.spec.ramMb === mySlot.ramMb
    const canaries = received.filter(d => canaryDeals.has(d.dealId.toLowerCase()))
    const reals = received.filter(d => d.deal.jobCreator.toLowerCase() === userKey)
    seenCanary += canaries.length
    seenReal += reals.length
    for (const d of [...canaries, ...reals]) t.true(looksLikeCanary(d.job.value), 'every job asks exactly the slot: the rule classifies nothing')
    for (const c of canaries) {
      for (const r of reals) {
        t.deepEqual(Object.keys(c.job.value), Object.keys(r.job.value), 'the job offer\'s wire fields, in order')
        t.deepEqual(Object.keys(c.deal), Object.keys(r.deal), 'the deal\'s')
        t.deepEqual(c.job.value.spec, r.job.value.spec, 'the same ask')
        t.deepEqual(c.job.value.mediators, r.job.value.mediators)
        t.is(c.job.value.target, r.job.value.target)
        t.is(c.job.value.maxPrice, r.job.value.maxPrice)
        for (const k of ['price', 'collateral', 'mediationFee', 'judgeWindow', 'mediateTimeout'] as const) t.is(c.deal[k], r.deal[k], `deal ${k}`)
        if (c.job.value.module === r.job.value.module) { t.is(c.job.value.timeout, r.job.value.timeout); t.is(c.deal.resultTimeout, r.deal.resultTimeout) }
      }
    }
  }
  t.true(seenCanary >= 2 && seenReal >= 2, `the providers received canaries (${seenCanary}) and real jobs (${seenReal})`)
  t.like(raised.jobOffer.value.spec, { cpu: slots.get(raised.deal.resourceProvider.toLowerCase())?.cpu, ramMb: slots.get(raised.deal.resourceProvider.toLowerCase())?.ramMb })

  // after the epoch (anvil's clock moved on) the reports are recorded, and read back by anyone
  const now = (await devnet.provider.chain.provider.getBlock('latest'))?.timestamp ?? 0
  await devnet.provider.chain.provider.send('evm_increaseTime', [epochEnd(setup.config, epoch) - now + 1])
  await devnet.provider.chain.provider.send('evm_mine', [])
  t.is(await validator.recordEpoch(epoch), results.length)
  const src = { provider: devnet.provider.chain.provider, market: devnet.network.contracts.market, rewards: devnet.network.contracts.rewards as string, deployBlock: devnet.network.deployBlock }
  const recorded = await canaryRecords(src, epoch)
  t.is(recorded.length, results.length)

  const feed = new ReputationFeed(devnet.components, { source: src })
  await feed.sync()
  t.is(feed.book.record(honest).canaryPassed, by(honest).length)
  t.is(feed.book.record(honest).settled, paid.get(honest) ?? 0, 'canary deals are not counted as paid work; the user\'s are')
  t.is(feed.book.record(cheat).settled, paid.get(cheat) ?? 0)
  t.is(feed.book.record(cheat).canaryFailed, by(cheat).length)
  if ((paid.get(cheat) ?? 0) === 0) t.is(feed.book.standing(cheat), 'demoted', 'a failed canary demotes the provider for every job creator reading the chain')
  t.true(feed.book.score(honest) > feed.book.score(cheat))

  // the leaderboard (lilypad leaderboard) shows the canary records
  const reader = await openRewardsReader(devnet.network)
  try {
    const board = await leaderboard(reader)
    const rows = new Map(board.rows.map(r => [r.provider, r]))
    t.is(rows.get(honest)?.record.canaryPassed, by(honest).length)
    t.is(rows.get(cheat)?.record.canaryFailed, by(cheat).length)
    t.true((rows.get(honest)?.score ?? 0) > (rows.get(cheat)?.score ?? 0))
  } finally { reader.stop() }
})
