// The Rewards contract on a real anvil, driven the way the network drives it: deals on the Market, canary reports
// signed by the validator and recorded after their epoch, the epoch's inputs read back from the chain, the rewards
// computed and their Merkle root agreed by two publishers, claims verified on chain with OpenZeppelin's MerkleProof.
// Then the attacks: a compromised publisher key alone, a root paying more than its total, a pool too small, reports
// out of their window or signed by someone else. After every test the contract holds at least what it owes.
import test, { type ExecutionContext } from 'ava'
import { Wallet, ZeroHash, type EventLog } from 'ethers'
import { startDevnet, agreeDeal, increaseTime, LP, type Devnet } from '../fixture.ts'
import { ChainClient, ContractRevertError, devKey } from '../../node/chain/index.ts'
import { RewardsClient } from '../../node/incentives/rewards-client.ts'
import { readEpochInputs, EpochNotClosedError } from '../../node/incentives/chain-facts.ts'
import { rewardsFactory } from '../generated/index.ts'
import {
  computeEpochRewards, RewardsTree, signCanaryReport, canaryReportId, defaultRewardRules, rulesHash, CanaryOutcome,
  type CanaryReport, type RewardRules, type SignedCanaryReport
} from '../../protocols/incentives/index.ts'

const EPOCH = 3600
const WINDOW = 600
const DELAY = 600
const CLAIM_WINDOW = 7200
const rules: RewardRules = { ...defaultRewardRules, epochBudget: LP(1000), canaryRewardPerUnit: LP(1), paidCapPerUnit: LP(10), paidRewardPpm: 200_000, minAuditPpm: 10_000 }

let net: Devnet
let publishers: RewardsClient[]
let validator: Wallet
let genesis: number

test.before(async () => {
  const keys = [10, 11, 12, 13, 14].map(devKey)
  validator = new Wallet(keys[4])
  net = await startDevnet({
    accounts: 15,
    rewards: {
      // four publishers, two must agree: one rogue key can neither push a root alone nor block one for good
      publishers: keys.slice(0, 4).map(k => new Wallet(k).address),
      validators: [validator.address],
      rules,
      config: { epochLength: EPOCH, reportWindow: WINDOW, challengeDelay: DELAY, claimWindow: CLAIM_WINDOW, threshold: 2 },
      fund: LP(1500)
    }
  })
  const network = { ...net.deployment.network, rpcUrl: net.anvil.rpcUrl }
  publishers = await Promise.all(keys.slice(0, 4).map(async k => new RewardsClient(await ChainClient.create({ network, privateKey: k }), network.contracts.rewards)))
  genesis = (await publishers[0].config()).genesis
})
test.after.always(async () => {
  for (const p of publishers ?? []) await p.chain.stop()
  await net?.stop()
})
test.afterEach.always(async t => { if (net !== undefined) await assertSolvent(t) })

const rewardsOf = (c: ChainClient): RewardsClient => new RewardsClient(c, net.deployment.contracts.rewards)
const domain = (): { chainId: bigint, verifyingContract: string } => ({ chainId: BigInt(net.anvil.chainId), verifyingContract: net.deployment.contracts.rewards as string })
const src = (): Parameters<typeof readEpochInputs>[0] => ({ provider: net.provider, market: net.deployment.contracts.market, rewards: net.deployment.contracts.rewards as string, deployBlock: net.deployment.deployBlock })
const schedule = { get genesis () { return genesis }, epochLength: EPOCH, reportWindow: WINDOW }

async function revertsWith (t: ExecutionContext, p: Promise<unknown>, reason: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(err?.name, ContractRevertError.name, err?.message)
  t.is((err as unknown as { reason: string }).reason, reason, err?.message)
}

async function chainNow (): Promise<number> { return (await net.provider.getBlock('latest'))!.timestamp }
async function moveTo (t: number): Promise<void> {
  const now = await chainNow()
  if (t > now) await increaseTime(net.provider, t - now)
}
const end = (epoch: number): number => genesis + (epoch + 1) * EPOCH

/** The contract's token balance covers what final roots still owe. */
async function assertSolvent (t: ExecutionContext): Promise<void> {
  const held = await net.stranger.token.balanceOf(net.deployment.contracts.rewards as string)
  const owed = await publishers[0].contract.outstanding()
  t.true(held >= owed, `the pool holds ${held} and owes ${owed}`)
  t.is(await publishers[0].freeBalance(), held - owed)
}

async function report (r: Omit<CanaryReport, 'observedAt'>, signer: Wallet = validator): Promise<SignedCanaryReport> {
  return await signCanaryReport(domain(), { ...r, observedAt: BigInt(await chainNow()) }, signer)
}

/** An audited job, accepted: a paid deal the rules count. */
async function paidJob (jc: ChainClient, rp: ChainClient, price = LP(10)): Promise<string> {
  const { deal, id } = await agreeDeal(net, { auditPpm: 20_000, price }, jc, rp)
  await rp.submitResult(deal, 'bafy-paid')
  // the accept draws the audit: a miss settles, a hit sends the deal to mediation
  await jc.accept([deal])
  if ((await jc.dealRecord(id)).state === 'Challenged') await net.m1.mediate(deal, true).catch(async () => { await net.m2.mediate(deal, true) })
  return id
}

test.serial('the report type is the contract\'s, and the contract\'s leaf is the tree\'s', async t => {
  const r: CanaryReport = { epoch: 0n, provider: net.rp.address, dealId: '0x' + '1'.repeat(64), outcome: CanaryOutcome.Passed, units: 1500, observedAt: 5n }
  t.is(await publishers[0].contract.reportId(r), canaryReportId(domain(), r))
  const tree = new RewardsTree(4, [{ account: net.rp.address, amount: 7n }, { account: net.rp2.address, amount: 9n }])
  t.true(RewardsTree.verify(tree.root, 4, net.rp.address, 7n, tree.proof(net.rp.address)))
  // a one-leaf tree's root is its leaf: the contract hashes leaves as the library does
  t.is(new RewardsTree(4, [{ account: net.rp.address, amount: 7n }]).root, await publishers[0].contract.leafHash(4, net.rp.address, 7n))
  t.is((await publishers[0].config()).rulesHash, rulesHash(rules))
})

test.serial('an epoch end to end: deals and canaries on chain, inputs read back, root agreed by two publishers, claims paid exactly', async t => {
  // epoch 0: the provider (rp) passes two canaries and does paid work for two job creators; rp2 is slashed on a real
  // job and fails a canary; a stranger's offer could not be reached
  const canary1 = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, net.rp)
  const canary2 = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, net.rp)
  const canary3 = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, net.rp2)
  for (const c of [canary1, canary2]) { await net.rp.submitResult(c.deal, 'bafy-canary'); await net.jc2.accept([c.deal]) }
  await net.rp2.submitResult(canary3.deal, 'bafy-wrong')
  await net.jc2.accept([canary3.deal])
  await paidJob(net.jc, net.rp, LP(10))
  await paidJob(net.bridge, net.rp, LP(5))
  // the same job creators pay rp2 as much: their deals with rp count (a job creator's deals count for a provider
  // only up to what it paid the others)
  await paidJob(net.jc, net.rp2, LP(10))
  await paidJob(net.bridge, net.rp2, LP(5))
  const slash = await agreeDeal(net, { auditPpm: 20_000 }, net.jc, net.rp2)
  await net.rp2.submitResult(slash.deal, 'bafy-junk')
  const drawn = await net.jc.challenge(slash.deal).catch(() => undefined)
  if (drawn !== undefined) await (drawn.toLowerCase() === net.m1.address.toLowerCase() ? net.m1 : net.m2).mediate(slash.deal, false)
  else await net.m1.mediate(slash.deal, false).catch(async () => { await net.m2.mediate(slash.deal, false) }) // audited at submission
  const reports = [
    await report({ epoch: 0n, provider: net.rp.address, dealId: canary1.id, outcome: CanaryOutcome.Passed, units: 3000 }),
    await report({ epoch: 0n, provider: net.rp.address, dealId: canary2.id, outcome: CanaryOutcome.Passed, units: 3000 }),
    await report({ epoch: 0n, provider: net.rp2.address, dealId: canary3.id, outcome: CanaryOutcome.WrongResult, units: 3000 }),
    await report({ epoch: 0n, provider: net.stranger.address, dealId: ZeroHash, outcome: CanaryOutcome.Unreachable, units: 1000 })
  ]
  // a canary is revealed only once its epoch is over
  await revertsWith(t, rewardsOf(net.rp).recordCanaries(reports), 'EpochNotEnded')
  await moveTo(end(0))
  await revertsWith(t, publishers[0].proposeRoot({ epoch: 0, root: '0x' + '1'.repeat(64), total: 1n }), 'EpochNotClosed')
  await t.throwsAsync(readEpochInputs(src(), schedule, 0), { instanceOf: EpochNotClosedError })
  // anyone may record them (here the provider they passed); recording one twice adds nothing
  await rewardsOf(net.rp).recordCanaries(reports.slice(0, 2))
  await rewardsOf(net.stranger).recordCanaries(reports)
  const recorded = await publishers[0].contract.queryFilter(publishers[0].contract.filters.CanaryRecorded(0)) as EventLog[]
  t.is(recorded.length, 4)
  // a second report on the same deal (another verdict) is skipped, not counted twice
  await rewardsOf(net.rp).recordCanaries([await report({ epoch: 0n, provider: net.rp.address, dealId: canary1.id, outcome: CanaryOutcome.WrongResult, units: 3000 })])
  t.is((await publishers[0].contract.queryFilter(publishers[0].contract.filters.CanaryRecorded(0))).length, 4)

  await moveTo(end(0) + WINDOW)
  await revertsWith(t, rewardsOf(net.rp).recordCanaries([await report({ epoch: 0n, provider: net.rp.address, dealId: '0x' + 'ab'.repeat(32), outcome: CanaryOutcome.Passed, units: 3000 })]), 'ReportWindowClosed')

  // two publishers compute the epoch independently from the chain and get the same root
  const inputsA = await readEpochInputs(src(), schedule, 0)
  const inputsB = await readEpochInputs({ ...src(), maxRange: 3 }, schedule, 0)
  const a = computeEpochRewards(inputsA, rules)
  const b = computeEpochRewards(inputsB, rules)
  const tree = RewardsTree.fromRewards(a)
  t.is(RewardsTree.fromRewards(b).root, tree.root)
  const byAddr = new Map(a.providers.map(p => [p.provider, p]))
  const rp = byAddr.get(net.rp.address.toLowerCase())!
  t.is(rp.passes, 2)
  t.is(rp.paidDeals, 2, 'the canaries are not counted again as paid work')
  t.is(rp.canaryReward, LP(6)) // 6 units × 1 LP
  t.is(rp.paidReward, LP(3)) // (10 + 5) × 0.2
  t.is(byAddr.get(net.rp2.address.toLowerCase())!.noReward, 'slashed')
  t.is(byAddr.get(net.stranger.address.toLowerCase())!.noReward, 'no-canary-pass')
  t.deepEqual(tree.leaves.map(l => l.account), [net.rp.address])

  await publishers[0].proposeRoot(tree)
  await revertsWith(t, publishers[0].proposeRoot(tree), 'AlreadyVoted')
  await revertsWith(t, publishers[0].finalize(tree), 'BelowThreshold')
  await revertsWith(t, rewardsOf(net.rp).claim(0, net.rp.address, rp.amount, tree.proof(net.rp.address)), 'EpochNotFinal')
  await publishers[1].proposeRoot(tree)
  await revertsWith(t, publishers[1].finalize(tree), 'ChallengeWindowOpen')
  await moveTo((await publishers[0].proposal(0, tree.root, tree.total)).readyAt)
  await rewardsOf(net.stranger).finalize(tree)
  await revertsWith(t, publishers[2].proposeRoot(tree), 'EpochAlreadyFinal')

  const pool = await net.rp.token.balanceOf(net.deployment.contracts.rewards as string)
  const before = await net.rp.token.balanceOf(net.rp.address)
  await revertsWith(t, rewardsOf(net.stranger).claim(0, net.rp.address, rp.amount + 1n, tree.proof(net.rp.address)), 'InvalidProof')
  await revertsWith(t, rewardsOf(net.stranger).claim(0, net.stranger.address, rp.amount, tree.proof(net.rp.address)), 'InvalidProof')
  // anyone may submit the claim: the LP goes to the account in the leaf
  await rewardsOf(net.stranger).claim(0, net.rp.address, rp.amount, tree.proof(net.rp.address))
  t.is(await net.rp.token.balanceOf(net.rp.address), before + rp.amount)
  t.is(await net.rp.token.balanceOf(net.deployment.contracts.rewards as string), pool - rp.amount)
  await revertsWith(t, rewardsOf(net.rp).claim(0, net.rp.address, rp.amount, tree.proof(net.rp.address)), 'AlreadyClaimed')
  t.true(await publishers[0].claimed(0, net.rp.address))
  t.is((await publishers[0].epoch(0))?.claimed, rp.amount)
})

/** A canary for rp in `epoch`, run and judged now, its report recorded once the epoch is over. */
async function canaryFor (epoch: number, rp: ChainClient, outcome: 1 | 2 = CanaryOutcome.Passed): Promise<SignedCanaryReport> {
  const c = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, rp)
  await rp.submitResult(c.deal, 'bafy-canary')
  await net.jc2.accept([c.deal])
  return await report({ epoch: BigInt(epoch), provider: rp.address, dealId: c.id, outcome, units: 2000 })
}

test.serial('one compromised publisher key can neither take the pool nor block an honest root', async t => {
  const r = await canaryFor(1, net.rp)
  await moveTo(end(1))
  await rewardsOf(net.rp).recordCanaries([r])
  await moveTo(end(1) + WINDOW)
  const [a, b, c, thief] = publishers
  const theft = new RewardsTree(1, [{ account: thief.chain.address, amount: LP(1000) }])
  await revertsWith(t, thief.proposeRoot({ epoch: 1, root: theft.root, total: LP(1001) }), 'TotalOutOfRange')
  await thief.proposeRoot(theft)
  await revertsWith(t, thief.finalize(theft), 'BelowThreshold')
  await revertsWith(t, rewardsOf(net.rp).vetoRoot(1, theft.root, theft.total), 'NotAPublisher')
  await a.vetoRoot(1, theft.root, theft.total)
  await revertsWith(t, a.proposeRoot(theft), 'AlreadyVoted')
  await moveTo(await chainNow() + DELAY + 1)
  await revertsWith(t, thief.finalize(theft), 'BelowThreshold')
  await revertsWith(t, thief.claim(1, thief.chain.address, LP(1000), theft.proof(thief.chain.address)), 'EpochNotFinal')

  // the honest root: two publishers agree; the rogue key vetoes it, which costs one more approval and restarts the delay
  const honest = RewardsTree.fromRewards(computeEpochRewards(await readEpochInputs(src(), schedule, 1), rules))
  t.deepEqual(honest.leaves.map(l => l.account), [net.rp.address])
  await a.proposeRoot(honest)
  await b.proposeRoot(honest)
  await thief.vetoRoot(1, honest.root, honest.total)
  t.deepEqual(await a.proposal(1, honest.root, honest.total), { approvals: 2, vetoes: 1, readyAt: 0 })
  await moveTo(await chainNow() + DELAY + 1)
  await revertsWith(t, a.finalize(honest), 'BelowThreshold')
  await c.proposeRoot(honest)
  await revertsWith(t, a.finalize(honest), 'ChallengeWindowOpen')
  await moveTo((await a.proposal(1, honest.root, honest.total)).readyAt)
  await a.finalize(honest)
  t.is((await a.epoch(1))?.root, honest.root)
})

test.serial('a root pays no more than its declared total, a root the pool cannot cover waits for funds, unclaimed rewards return to the pool', async t => {
  await moveTo(end(2) + WINDOW)
  const [a, b] = publishers
  // a faulty computation: leaves adding up to 1,200 LP under a root declaring 700
  const faulty = new RewardsTree(2, [{ account: net.rp.address, amount: LP(600) }, { account: net.rp2.address, amount: LP(600) }])
  const declared = { epoch: 2, root: faulty.root, total: LP(700) }
  await a.proposeRoot(declared)
  await b.proposeRoot(declared)
  await moveTo(await chainNow() + DELAY)
  await a.finalize(declared)
  await rewardsOf(net.rp).claim(2, net.rp.address, LP(600), faulty.proof(net.rp.address))
  await revertsWith(t, rewardsOf(net.rp2).claim(2, net.rp2.address, LP(600), faulty.proof(net.rp2.address)), 'ClaimExceedsTotal')

  await moveTo(end(3) + WINDOW)
  const big = new RewardsTree(3, [{ account: net.rp2.address, amount: LP(1000) }])
  await a.proposeRoot(big)
  await b.proposeRoot(big)
  await moveTo(await chainNow() + DELAY)
  const free = await a.freeBalance()
  t.true(free < LP(1000))
  await revertsWith(t, a.finalize(big), 'PoolTooSmall')
  await rewardsOf(net.stranger).fund(LP(1000))
  await a.finalize(big)
  await rewardsOf(net.rp2).claim(3, net.rp2.address, LP(1000), big.proof(net.rp2.address))

  // epoch 2 owes 100 LP nobody can claim: after the claim window it returns to the pool
  const owed = await a.contract.outstanding()
  await revertsWith(t, a.expire(2), 'ClaimWindowOpen')
  await moveTo(Number((await a.epoch(2))!.finalizedAt) + CLAIM_WINDOW + 1)
  const freeBefore = await a.freeBalance()
  await rewardsOf(net.stranger).expire(2)
  t.is(await a.contract.outstanding(), owed - LP(100))
  t.is(await a.freeBalance(), freeBefore + LP(100))
  await revertsWith(t, rewardsOf(net.rp2).claim(2, net.rp2.address, LP(600), faulty.proof(net.rp2.address)), 'ClaimWindowClosed')
  await revertsWith(t, a.expire(2), 'ClaimWindowClosed')
})

test.serial('canary reports: only the validators\' signatures, well-formed, one verdict per deal', async t => {
  const epoch = (await publishers[0].contract.epochAt(await chainNow())) + 0n
  const e = Number(epoch)
  const good = await canaryFor(e, net.rp)
  const forged = await report({ epoch, provider: net.rp.address, dealId: '0x' + 'cd'.repeat(32), outcome: CanaryOutcome.Passed, units: 2000 }, new Wallet(devKey(7)))
  await moveTo(end(e))
  await revertsWith(t, rewardsOf(net.rp).recordCanaries([forged]), 'NotAValidator')
  // the provider cannot upgrade its own verdict: a changed report recovers another signer
  await revertsWith(t, rewardsOf(net.rp).recordCanaries([{ ...good, report: { ...good.report, units: 90_000 } }]), 'NotAValidator')
  const withDeal = await signCanaryReport(domain(), { ...good.report, outcome: CanaryOutcome.Unreachable, dealId: good.report.dealId }, validator).catch((err: Error) => err)
  t.is((withDeal as Error).name, 'CanaryReportError', 'the TypeScript side refuses it before signing')
  await revertsWith(t, publishers[0].chain.queue.send('record malformed', async () => await publishers[0].contract.recordCanaries.populateTransaction(
    [{ ...good.report, outcome: CanaryOutcome.Unreachable }], [good.signature])), 'InvalidReport')
  await revertsWith(t, publishers[0].chain.queue.send('record mismatched', async () => await publishers[0].contract.recordCanaries.populateTransaction([good.report], [])), 'LengthMismatch')
  await rewardsOf(net.rp).recordCanaries([good])
  t.true(await publishers[0].contract.reported(good.report.dealId))
})

test.serial('a Rewards contract one key could run alone is refused at deployment', async t => {
  const token = net.deployment.contracts.token
  const config = { genesis: 0, epochLength: EPOCH, reportWindow: WINDOW, challengeDelay: DELAY, claimWindow: CLAIM_WINDOW, maxPerEpoch: LP(1), threshold: 1, rulesHash: rulesHash(rules) }
  const deploy = async (c: typeof config, pubs: string[]): Promise<unknown> => await net.admin.queue.send('deploy Rewards', async () => await rewardsFactory(net.admin.wallet).getDeployTransaction(token, c, pubs, []))
  const [p1, p2] = [net.jc.address, net.jc2.address]
  await revertsWith(t, deploy(config, [p1]), 'InvalidConfig')
  await revertsWith(t, deploy({ ...config, challengeDelay: 0 }, [p1, p2]), 'InvalidConfig')
  await revertsWith(t, deploy({ ...config, threshold: 3 }, [p1, p2]), 'InvalidConfig')
  await revertsWith(t, deploy({ ...config, threshold: 2 }, [p1, p1]), 'InvalidConfig')
  await t.notThrowsAsync(deploy(config, [p1, p2]))
})
