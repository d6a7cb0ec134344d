// Disputes judged by a committee of three mediators on the real Market (anvil): who is drawn, commit and reveal, the
// deadlines, the majority paid and the minority and the absent slashed, with every party's deposit and bond exact.
// The rules are protocols/settlement/committee.ts; contracts/test/property.test.ts compares the two step by step.
import test, { type ExecutionContext } from 'ava'
import { dealHistories } from '../../node/incentives/chain-facts.ts'
import { dealOutcomes } from '../../protocols/incentives/outcomes.ts'
import { keccak256, toUtf8Bytes } from 'ethers'
import { startDevnet, agreeDeal, increaseTime, committeeDispute, LP, type Devnet, type CommitteeDispute } from '../fixture.ts'
import { toStruct, type ChainClient } from '../../node/chain/index.ts'
import { voteCommitment, Vote, type CommitteeRules, type VoteValue } from '../../protocols/settlement/committee.ts'

const RULES: CommitteeRules = { size: 3, commitWindow: 600, revealWindow: 600, unbondDelay: 61 * 86_400, minBond: LP(50), slash: LP(5) }
const FEE = LP(3)

let net: Devnet
let meds: ChainClient[]
test.before(async () => {
  net = await startDevnet({ committee: RULES })
  meds = [net.m1, net.m2, net.m3!]
})
test.after.always(async () => { await net?.stop() })

const disputed = async (): Promise<CommitteeDispute> => await committeeDispute(net, { mediationFee: FEE })
const commit = async (d: CommitteeDispute, m: ChainClient, vote: boolean | VoteValue): Promise<void> => { await d.commit(m, vote) }
const reveal = async (d: CommitteeDispute, m: ChainClient, vote: boolean | VoteValue): Promise<void> => { await d.reveal(m, vote) }
const finalize = async (d: CommitteeDispute): Promise<void> => { await d.finalize() }
/** The last reveal of those who committed closed the vote itself: there is nothing left to finalize. */
const closedByLastReveal = async (t: ExecutionContext, d: CommitteeDispute): Promise<void> => {
  const e = await t.throwsAsync(finalize(d))
  t.is((e as unknown as { reason: string }).reason, 'DealClosed')
}

/** Deposits of jc, rp and each mediator, and each mediator's bond. */
async function books (): Promise<{ jc: bigint, rp: bigint, dep: bigint[], bond: bigint[] }> {
  const mk = net.jc.market
  return {
    jc: await mk.deposits(net.jc.address),
    rp: await mk.deposits(net.rp.address),
    dep: await Promise.all(meds.map(async m => await mk.deposits(m.address))),
    bond: await Promise.all(meds.map(async m => (await mk.bonds(m.address)).amount + (await mk.bonds(m.address)).unbonding))
  }
}

const idx = (m: ChainClient): number => meds.indexOf(m)

test.serial('a cheating provider, one lying mediator: the two honest ones decide, share the fee and the liar\'s slashed bond; the job creator gets everything back', async t => {
  const before = await books()
  const d = await disputed()
  const [liar, a, b] = d.members
  // everyone commits before anyone reveals: nobody can copy a vote it has seen
  await commit(d, liar, true)
  await commit(d, a, false)
  await commit(d, b, false)
  await reveal(d, liar, true)
  await reveal(d, a, false)
  await reveal(d, b, false)
  t.is(Number((await net.jc.market.deals(d.id)).state), 6, 'MediatedWrong')
  await closedByLastReveal(t, d)
  const after = await books()
  // the job creator locked price + fee at agreement and gets price + collateral back: the provider's collateral pays
  t.is(after.jc - before.jc, LP(20) - FEE)
  t.is(after.rp - before.rp, -LP(20))
  t.is(after.bond[idx(liar)] - before.bond[idx(liar)], -RULES.slash)
  // fee 3 + slash 5 = 8 LP over the two honest members, 4 each
  t.is(after.dep[idx(a)] - before.dep[idx(a)], LP(4))
  t.is(after.dep[idx(b)] - before.dep[idx(b)], LP(4))
  t.is(after.dep[idx(liar)], before.dep[idx(liar)])
  // a node following the deal sees the committee: who was drawn, who committed and revealed what
  const w = await net.jc.watchDeal(d.id)
  const view = await w.waitFor('MediatedWrong')
  await w.stop()
  t.deepEqual(view.committee?.members.map(a => a.toLowerCase()), d.members.map(m => m.address.toLowerCase()))
  t.is(view.committee?.committed.length, 3)
  t.deepEqual(view.committee?.revealed.map(r => r.vote), [Vote.Correct, Vote.Wrong, Vote.Wrong])
  t.is(view.committee?.noCase, 0)
  // The members' first votes on this chain: each fills its commitment slot (the steady state is the last test's)
  t.log(`3-mediator dispute, challenge to the last reveal, members' first votes: ${d.gas} gas in ${d.txs} transactions`)
  t.is(d.txs, 9)
  t.true(d.gas <= 500_000n, `a 3-mediator dispute costs ${d.gas} gas`)
})

test.serial('an honest provider, one lying mediator: the provider is paid; the liar is slashed', async t => {
  const before = await books()
  const d = await disputed()
  const [a, liar, b] = d.members
  await commit(d, a, true)
  await commit(d, liar, false)
  await commit(d, b, true)
  await reveal(d, liar, false)
  await reveal(d, b, true)
  await reveal(d, a, true)
  t.is(Number((await net.jc.market.deals(d.id)).state), 5, 'MediatedCorrect')
  await closedByLastReveal(t, d)
  const after = await books()
  t.is(after.rp - before.rp, LP(10))
  t.is(after.jc - before.jc, -LP(10) - FEE)
  t.is(after.bond[idx(liar)] - before.bond[idx(liar)], -RULES.slash)
  t.is(after.dep[idx(a)] - before.dep[idx(a)], LP(4))
  t.is(after.dep[idx(b)] - before.dep[idx(b)], LP(4))
})

test.serial('an absent mediator: the others reveal once the commit window has passed, the deadline ends the vote, the absent one pays', async t => {
  const before = await books()
  const d = await disputed()
  const [a, absent, b] = d.members
  await commit(d, a, true)
  await commit(d, b, true)
  const early = await t.throwsAsync(reveal(d, a, true))
  t.is((early as unknown as { reason: string }).reason, 'RevealNotOpen')
  const notYet = await t.throwsAsync(finalize(d))
  t.is((notYet as unknown as { reason: string }).reason, 'VotingOpen')
  await increaseTime(net.provider, RULES.commitWindow + 1)
  const late = await t.throwsAsync(commit(d, absent, false))
  t.is((late as unknown as { reason: string }).reason, 'CommitWindowClosed')
  await reveal(d, a, true)
  await reveal(d, b, true)
  await closedByLastReveal(t, d)
  const after = await books()
  t.is(after.rp - before.rp, LP(10))
  t.is(after.bond[idx(absent)] - before.bond[idx(absent)], -RULES.slash)
  t.is(after.dep[idx(a)] - before.dep[idx(a)], LP(4))
  t.is(after.dep[idx(b)] - before.dep[idx(b)], LP(4))
})

test.serial('no quorum (one for, one against, one silent): the result stands as when a lone mediator misses its window; the silent member pays the job creator', async t => {
  const before = await books()
  const d = await disputed()
  const [a, b, silent] = d.members
  await commit(d, a, true)
  await commit(d, b, false)
  await increaseTime(net.provider, RULES.commitWindow + 1)
  await reveal(d, a, true)
  await reveal(d, b, false)
  t.is(Number((await net.jc.market.deals(d.id)).state), 8, 'TimedOutMediation')
  await closedByLastReveal(t, d)
  const after = await books()
  t.is(after.rp - before.rp, LP(10))
  // the fee comes back, and the silent member's slash with it
  t.is(after.jc - before.jc, -LP(10) + RULES.slash)
  t.is(after.bond[idx(silent)] - before.bond[idx(silent)], -RULES.slash)
  t.is(after.dep[idx(a)], before.dep[idx(a)])
  t.is(after.dep[idx(b)], before.dep[idx(b)])
})

test.serial('"no case": a cartel that keeps the case from its own audit gets a result that stands, on record as unjudged; no member is slashed for it', async t => {
  const before = await books()
  const d = await disputed()
  for (const m of d.members) await commit(d, m, Vote.NoCase)
  for (const m of d.members.slice(0, -1)) await reveal(d, m, Vote.NoCase)
  // the last reveal closes the vote: its receipt has the outcome
  const r = await d.members.at(-1)!.revealVote(d.deal, Vote.NoCase, d.salt(d.members.at(-1)!))
  const fin = r.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'CommitteeFinalized')
  t.is(Number(fin!.args.noCase), 0b111, 'the Market records that nobody could judge it')
  t.is(Number((await net.jc.market.deals(d.id)).state), 8, 'TimedOutMediation: the result stands')
  const after = await books()
  t.deepEqual(after.bond, before.bond)
  t.deepEqual(after.dep, before.dep)
  t.is(after.rp - before.rp, LP(10))
  t.is(after.jc - before.jc, -LP(10))
  // anyone computing rewards from the chain reads it as a deal nobody judged: paid, but not verified work
  const facts = await dealHistories({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, [d.id], await net.provider.getBlockNumber(), { auditPpm: false })
  t.like(dealOutcomes(facts)[0], { state: 'TimedOutMediation', unjudged: true })
  // a vote the Market does not know is refused
  const e = await committeeDispute(net, { mediationFee: FEE })
  const salt = keccak256(toUtf8Bytes('another salt'))
  await e.members[0].commitVote(e.deal, voteCommitment(e.id, e.members[0].address, 3, salt))
  await increaseTime(net.provider, RULES.commitWindow + 1)
  const bad = await t.throwsAsync(e.members[0].revealVote(e.deal, 3 as VoteValue, salt))
  t.is((bad as unknown as { reason: string }).reason, 'InvalidVote')
})

test.serial('the single-mediator calls refuse a committee\'s dispute; a stranger cannot vote; a copied commitment reveals nothing', async t => {
  const d = await disputed()
  const [a, copier] = d.members
  const reasons = async (p: Promise<unknown>): Promise<string> => ((await t.throwsAsync(p)) as unknown as { reason: string }).reason
  t.is(await reasons(a.mediate(d.deal, true)), 'CommitteeDispute')
  t.is(await reasons(net.stranger.timeoutMediation(d.deal)), 'CommitteeDispute')
  const salt = keccak256(toUtf8Bytes('a salt'))
  t.is(await reasons(net.stranger.commitVote(d.deal, voteCommitment(d.id, net.stranger.address, Vote.Correct, salt))), 'NotCommitteeMember')
  // the copier posts a's commitment; whatever it reveals, its own address is in the hash
  const aHash = voteCommitment(d.id, a.address, Vote.Wrong, salt)
  await a.commitVote(d.deal, aHash)
  await copier.commitVote(d.deal, aHash)
  await increaseTime(net.provider, RULES.commitWindow + 1)
  await a.revealVote(d.deal, Vote.Wrong, salt)
  t.is(await reasons(copier.revealVote(d.deal, Vote.Wrong, salt)), 'CommitmentMismatch')
})

test.serial('bonds: a committee deal needs every mediator bonded; unbonding waits and stays slashable', async t => {
  const reasons = async (p: Promise<unknown>): Promise<string> => ((await t.throwsAsync(p)) as unknown as { reason: string }).reason
  const m = net.m3!
  const { amount } = await m.market.bonds(m.address)
  await m.startUnbond(amount)
  t.is(await reasons(agreeDeal(net, { mediators: meds.map(x => x.address), mediationFee: FEE })), 'MediatorUnbonded')
  t.is(await reasons(agreeDeal(net, { mediators: [net.m1.address, net.m2.address, net.m1.address], mediationFee: FEE })), 'DuplicateMediator')
  t.is(await reasons(m.finishUnbond()), 'UnbondNotDue')
  // a deal naming two mediators is judged by one of them, as before committees: no bond needed
  await agreeDeal(net, { mediators: [net.m1.address, m.address], mediationFee: FEE })
  await increaseTime(net.provider, RULES.unbondDelay)
  const before = await m.market.deposits(m.address)
  await m.finishUnbond()
  t.is(await m.market.deposits(m.address) - before, amount)
  await m.bondMediator(amount)
})

test.serial('gas: a committee of three whose members have voted before decides a dispute in 9 transactions and at most 450,000 gas (issue 15)', async t => {
  // each member's commitment slot is written by an earlier vote (the first test's, or this one's first dispute)
  for (let i = 0; i < 2; i++) {
    const d = await disputed()
    for (const m of d.members) await commit(d, m, true)
    for (const m of d.members) await reveal(d, m, true)
    t.is(Number((await net.jc.market.deals(d.id)).state), 5, 'MediatedCorrect, closed by the last reveal')
    if (i === 0) continue
    t.log(`3-mediator dispute, members that have voted before: ${d.gas} gas in ${d.txs} transactions`)
    t.is(d.txs, 9)
    t.true(d.gas <= 450_000n, `a 3-mediator dispute costs ${d.gas} gas (target 450,000)`)
  }
})
