// A committee of three mediators on real nodes (issue 15): LilypadNodes with their own libp2p hosts, chain clients
// and Helia stores, a real anvil whose Market judges disputes by committees of three, real Docker runs of cowsay.
// The job creator asks for audits with probability 1; each audited submission draws all three mediators, who pull
// the case from the parties, re-run the job, commit their votes, reveal them and finalize. The committee is drawn once
// both parties' nodes have revealed their seeds (docs/mediation.md, "Unbiasable draws"), which they do on their own;
// a provider node that withholds its seed (a test fault) loses the dispute once the seed phase ends, closed by the
// job creator's node. One of the three lies
// (it commits the opposite of its re-run): outvoted, it loses part of its bond to the two honest members. With one
// member absent, the two present disagree and the deadline ends the vote without a quorum: the result stands, the
// absent member pays.
import test from 'ava'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, increaseTime, committeeChallenge, revealSeedOf, LP, type Devnet } from '../contracts/fixture.ts'
import { dealHistories } from '../node/incentives/chain-facts.ts'
import { dealOutcomes } from '../protocols/incentives/outcomes.ts'
import { LilypadNode } from '../node/node.ts'
import { ensureBuiltinImages } from '../node/modules/index.ts'
import type { Mediator, DisputeRecord } from '../node/roles/mediator.ts'
import { disputeFinished } from './support/disputes.ts'
import type { JobCreator } from '../node/roles/job-creator.ts'
import type { NetworkFile } from '../node/config/network.ts'
import type { MarketChainEvent } from '../node/chain/follower.ts'
import type { MarketEvent } from '../contracts/generated/index.ts'
import { DealStore } from '../node/deal-store/deal-store.ts'
import { idOf, type Deal } from '../protocols/eip712.ts'
import { Vote, type CommitteeRules } from '../protocols/settlement/committee.ts'

const RULES: CommitteeRules = { size: 3, commitWindow: 120, revealWindow: 120, unbondDelay: 61 * 86_400, minBond: LP(10), slash: LP(2) }
const FEE = LP(1)

let net: Devnet
let tmp: string
let network: NetworkFile
let networkPath: string
let jcNode: LilypadNode
let jc: JobCreator
const mediators: LilypadNode[] = []
/** the deals of the earlier tests: their disputes' records still change as they close */
const earlier = new Set<string>()
const stops: Array<() => Promise<void>> = []

async function node (key: string, name: string, roles: Array<'resource-provider' | 'mediator'>, extra: Partial<Parameters<typeof LilypadNode.create>[0]> = {}): Promise<LilypadNode> {
  const n = await LilypadNode.create({ network, networkPath, privateKey: key, dataDir: join(tmp, name), roles, local: true, ...extra })
  stops.push(async () => { await n.stop() })
  return n
}

async function connect (a: LilypadNode, b: LilypadNode): Promise<void> {
  await a.host.dial(multiaddr(b.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
}

async function provider (key: string, name: string, fault?: 'wrong-result'): Promise<LilypadNode> {
  const n = await node(key, name, ['resource-provider'], { provider: { price: LP(10), collateral: LP(20), announceIntervalMs: 2000, ...(fault !== undefined ? { fault } : {}) } })
  for (const m of mediators) await connect(n, m)
  await connect(jcNode, n)
  return n
}

/**
 * The first Market event matching `filter` from block `from` on, as the job creator node's running follower sees it:
 * subscribed first, then looked up in the chain's history, so an event delivered in between is not missed.
 */
async function firstEvent (filter: { event: string, args: Record<string, string | boolean> }, from: number): Promise<MarketChainEvent> {
  const follower = jcNode.chain.follower
  let off = (): void => {}
  const live = new Promise<MarketChainEvent>(resolve => { off = follower.subscribe({ contract: 'Market', ...filter }, e => { if (e.contract === 'Market') resolve(e) }) })
  try {
    const past = (await follower.find(filter.event as MarketEvent['name'], {}, from)).find(e => Object.entries(filter.args).every(([k, v]) => String((e.args as Record<string, unknown>)[k]).toLowerCase() === String(v).toLowerCase()))
    return past ?? await live
  } finally { off() }
}

test.before(async () => {
  await ensureBuiltinImages(new Docker(), { only: ['cowsay:v0.0.1'] })
  net = await startDevnet({ committee: RULES })
  tmp = await mkdtemp(join(tmpdir(), 'lilypad-committee-'))
  network = {
    ...net.deployment.network,
    rpcUrl: net.anvil.rpcUrl,
    mediators: [net.m1.address, net.m2.address, net.m3!.address],
    // the lone-mediator window is not a committee's: long enough that nobody calls timeoutMediation meanwhile
    dealTerms: { judgeWindow: 300, mediateTimeout: 3000, mediationFee: FEE.toString() }
  }
  networkPath = join(tmp, 'network.json')
  await writeFile(networkPath, JSON.stringify(network))
  // m3 lies: it commits and reveals the opposite of what its own re-run showed
  for (const [i, key] of [net.anvil.keys[5], net.anvil.keys[6], net.anvil.keys[10]].entries()) {
    mediators.push(await node(key, `m${i + 1}`, ['mediator'], { mediator: { pullAfterMs: 1000, pullIntervalMs: 1000, ...(i === 2 ? { fault: 'inverted-vote' as const } : {}) } }))
  }
  jcNode = await node(net.anvil.keys[1], 'jc', [])
  // the tests move the chain's clock ahead of the wall clock (four minutes by the last test): deals' expiries count
  // block time (the nodes' chain followers' clocks), so the default deal validity serves
  jc = await jcNode.createJobCreator({ network, dataDir: join(tmp, 'jc'), jobCreator: { fetchTimeoutMs: 20_000 } })
  for (const m of mediators) await connect(jcNode, m)
})

test.after.always(async () => {
  for (const s of stops) await s().catch(() => {})
  await net?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

const finished = disputeFinished

interface Books { jc: bigint, rp: bigint, dep: bigint[], bond: bigint[] }
async function books (rp: string): Promise<Books> {
  const meds = [net.m1, net.m2, net.m3!]
  return {
    jc: await net.admin.depositOf(net.jc.address),
    rp: await net.admin.depositOf(rp),
    dep: await Promise.all(meds.map(async m => await net.admin.depositOf(m.address))),
    bond: await Promise.all(meds.map(async m => { const b = await net.admin.mediatorBond(m.address); return b.amount + b.unbonding }))
  }
}

test.serial('a provider node that withholds its seed: the job creator node reveals its own, the seed phase ends (256 blocks), the job creator closes the dispute and gets everything back', async t => {
  // (connected to the job creator only: no member is drawn here). Its key is one no other provider node uses (the
  // devnet's second job creator's, funded), so the later tests' providers are not confused with it
  const withholder = await node(net.anvil.keys[2], 'withholder', ['resource-provider'], { provider: { price: LP(10), collateral: LP(20), announceIntervalMs: 2000, fault: 'withheld-seed' } })
  await connect(jcNode, withholder)
  const before = await books(net.jc2.address)
  const from = await net.provider.getBlockNumber()
  const run = jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, withheld seed' }, target: net.jc2.address, auditProbability: 1 })
  // the audited deal's seed phase: the job creator's node reveals on its own; the provider's never does
  const id = (await firstEvent({ event: 'DealChallenged', args: { jobCreator: net.jc.address } }, from + 1) as MarketChainEvent & { name: 'DealChallenged' }).args.dealId
  await firstEvent({ event: 'SeedRevealed', args: { dealId: id, provider: false } }, from + 1)
  t.false((await net.admin.seedPhase(id))?.providerRevealed, 'the provider has not revealed')
  t.is(await net.admin.committee(id, { mediators: [net.m1.address, net.m2.address, net.m3!.address] }), null, 'nothing drawn')
  // the provider goes away (so the job's retry after the refund finds nobody), and the seed phase ends by its 256
  // blocks (mined without moving the clock: the later tests' deals must not find their expiry already past)
  await withholder.stop()
  await net.provider.send('anvil_mine', ['0x101', '0x0'])
  const w = await net.admin.watchDeal(id)
  await w.waitFor('MediatedWrong')
  await w.stop()
  await run.catch(() => {}) // the job itself ends without a provider
  const after = await books(net.jc2.address)
  const deal = (await net.admin.dealTermsFromAgree(id))!
  t.is(after.jc - before.jc, deal.collateral, 'the job creator gets price + fee + collateral back')
  t.is(after.rp - before.rp, -deal.collateral, 'the provider that withheld its seed lost its collateral, though its result was right')
  t.deepEqual(after.bond, before.bond, 'no member was drawn, none slashed')
  t.deepEqual(after.dep, before.dep)
})

test.serial('a cheating provider audited by three mediators, one of them lying: the two honest ones outvote it, the provider is slashed, the liar loses part of its bond to them', async t => {
  const cheater = await provider(net.anvil.keys[3], 'cheater', 'wrong-result')
  const before = await books(net.rp.address)
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, committee' }, target: net.rp.address, auditProbability: 1 })
  earlier.add(out.dealId)
  t.true(out.challenged)
  t.is(out.verdict, 'wrong')
  t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /tampered/)
  t.is((await net.admin.dealRecord(out.dealId)).state, 'MediatedWrong')
  const after = await books(net.rp.address)
  const d = out.deal
  t.is(after.jc - before.jc, d.collateral - d.mediationFee, 'the job creator got its price back and the slashed collateral, less the fee')
  t.is(after.rp - before.rp, -d.collateral, 'the provider lost its collateral')
  // the fee and the liar's slash, split between the two honest members
  const share = (FEE + RULES.slash) / 2n
  t.deepEqual([after.dep[0] - before.dep[0], after.dep[1] - before.dep[1], after.dep[2] - before.dep[2]], [share, share, 0n])
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [0n, 0n, -RULES.slash])
  for (const m of mediators) {
    const r = await finished(m.mediator as unknown as Mediator, out.dealId)
    t.is(r.phase, 'done')
    t.is(r.resultCorrect, false, 'each re-ran the job and saw the tampered result (the liar then voted against it)')
  }
  await cheater.stop()
})

test.serial('an honest provider, the same liar: the result is upheld, the provider paid, the liar slashed again', async t => {
  await provider(net.anvil.keys[4], 'honest')
  const before = await books(net.rp2.address)
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, honest committee' }, target: net.rp2.address, auditProbability: 1 })
  earlier.add(out.dealId)
  t.is(out.verdict, 'correct')
  t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /< hello, honest committee >/)
  const after = await books(net.rp2.address)
  t.is(after.rp - before.rp, out.deal.price, 'the provider was paid')
  t.is(after.jc - before.jc, -(out.deal.price + out.deal.mediationFee))
  const share = (FEE + RULES.slash) / 2n
  t.deepEqual([after.dep[0] - before.dep[0], after.dep[1] - before.dep[1], after.dep[2] - before.dep[2]], [share, share, 0n])
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [0n, 0n, -RULES.slash])
})

test.serial('a member stopped after its commit was mined but before it learned so: restarted with its key and data dir, it reveals from the slot on record (1: its unrevealed vote on another deal holds 0), the honest majority wins, it is not slashed', async t => {
  // Two audited deals, one after the other. On the first (`held`) m1 commits into slot 0 and its reveal is held (the
  // wrapped revealVote never answers), so that vote stays unrevealed and keeps slot 0. m1's commit on the second
  // (`crashed`) therefore goes to slot 1; the wrapped commitVote sends it and waits until it is mined, then never
  // answers, and the node is stopped: its record names slot 1 (Mediator.reserveVoteSlot) but not the commit as
  // sent. Before 9648cab the slot was recorded only with the commit's answer, so the restarted node revealed the
  // second deal naming slot 0, which holds its vote on the first: CommitmentMismatch, m1 silent there and slashed
  // (checked: that code fails here at the record read from disk, `commitSlot` undefined). The first deal's provider
  // is the previous test's node (rp2); the second's is started here with the first test's provider key (rp).
  const rp = await provider(net.anvil.keys[3], 'rp-honest')
  const before = await books(net.rp2.address)
  const rpBefore = await net.admin.depositOf(net.rp.address)
  const m1 = mediators[0]
  const med = m1.mediator as unknown as Mediator
  const chain = m1.chain
  const domain = { chainId: BigInt(network.chainId), verifyingContract: network.contracts.market }
  const never = async <T>(): Promise<T> => await new Promise<T>(() => {})
  let armed = false
  let crash = (_c: { dealId: string, slot: number }): void => {}
  const crashed = new Promise<{ dealId: string, slot: number }>(resolve => { crash = resolve })
  const commitVote = chain.commitVote.bind(chain)
  chain.commitVote = async (deal: Deal, commitment: string, slot = 0) => {
    if (!armed) return await commitVote(deal, commitment, slot)
    armed = false
    await commitVote(deal, commitment, slot) // the receipt: the commit is mined
    crash({ dealId: idOf('Deal', domain, deal), slot })
    return await never()
  }
  chain.revealVote = async () => await never()
  const from = await net.provider.getBlockNumber()

  const heldCommitted = new Promise<string>(resolve => {
    const on = (rec: DisputeRecord): void => { if (rec.committeeSent?.commit === true && !rec.terminal && !earlier.has(rec.dealId)) { med.driver.off('change', on); resolve(rec.dealId) } }
    med.driver.on('change', on)
  })
  const runHeld = jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, held reveal' }, target: net.rp2.address, auditProbability: 1 })
  const held = await heldCommitted
  t.is((await med.records.get(held))?.commitSlot, 0)
  armed = true
  const runCrashed = jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, crashed commit' }, target: net.rp.address, auditProbability: 1 })
  // (should both runs end first, m1 never committed the second deal in a slot of its own: the test fails below)
  const c = await Promise.race([crashed, Promise.all([runHeld, runCrashed]).then(() => undefined)])
  if (c === undefined) { t.fail('m1 never sent a commit for the second deal'); return }
  await m1.stop()
  const id = c.dealId
  t.not(id, held)
  t.is(c.slot, 1, 'slot 0 holds the unrevealed vote on the first deal')
  t.truthy(await firstEvent({ event: 'VoteCommitted', args: { dealId: id, member: net.m1.address } }, from + 1), 'the commit is on chain')
  // what the restarted node reads from its data dir: the slot, and no answer to the commit
  const onDisk = await new DealStore<DisputeRecord>(med.records.dir).get(id)
  t.is(onDisk?.commitSlot, 1)
  t.not(onDisk?.committeeSent?.commit, true, 'the node stopped before the commit answered')
  t.not((await new DealStore<DisputeRecord>(med.records.dir).get(held))?.committeeSent?.reveal, true)

  // the same key and data dir (the node's peer key, its dispute records, its chain cursor)
  const restarted = await node(net.anvil.keys[5], 'm1', ['mediator'], { mediator: { pullAfterMs: 1000, pullIntervalMs: 1000 } })
  mediators[0] = restarted
  await connect(jcNode, restarted)
  await connect(rp, restarted)
  const [outHeld, outCrashed] = await Promise.all([runHeld, runCrashed])
  earlier.add(outHeld.dealId)
  earlier.add(outCrashed.dealId)
  t.is(outHeld.dealId, held)
  t.is(outCrashed.dealId, id)
  for (const out of [outHeld, outCrashed]) {
    t.is(out.verdict, 'correct')
    t.is((await net.admin.dealRecord(out.dealId)).state, 'MediatedCorrect')
    const revealed = await firstEvent({ event: 'VoteRevealed', args: { dealId: out.dealId, member: net.m1.address } }, from + 1) as MarketChainEvent & { name: 'VoteRevealed' }
    t.is(Number(revealed.args.vote), Vote.Correct, 'the restarted member revealed its vote')
  }
  const r = await finished(restarted.mediator as unknown as Mediator, id)
  t.like(r, { phase: 'done', commitSlot: 1, vote: Vote.Correct, committeeSent: { commit: false, reveal: true } })
  const after = await books(net.rp2.address)
  t.is(after.rp - before.rp, outHeld.deal.price, 'each provider was paid')
  t.is(await net.admin.depositOf(net.rp.address) - rpBefore, outCrashed.deal.price)
  t.is(after.jc - before.jc, -(outHeld.deal.price + outHeld.deal.mediationFee + outCrashed.deal.price + outCrashed.deal.mediationFee))
  // on each deal the fee and the liar's slash, split between the two honest members: m1 got its share of both
  const share = (FEE + RULES.slash) / 2n
  t.deepEqual([after.dep[0] - before.dep[0], after.dep[1] - before.dep[1], after.dep[2] - before.dep[2]], [2n * share, 2n * share, 0n])
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [0n, 0n, -2n * RULES.slash], 'the restarted member was not slashed')
  // the later tests' bare clients send from this provider's key
  await rp.stop()
})

test.serial('an absent mediator: the two present disagree (the liar against the honest one), the commit window passes, no quorum: the result stands and the absent one pays the job creator', async t => {
  await mediators[1].stop()
  const before = await books(net.rp2.address)
  const m1 = mediators[0].mediator as unknown as Mediator
  // wait until both present members have committed on this job's deal (not an earlier one, whose records still
  // change as they close), then let the commit window pass on the chain's clock
  const dealId = new Promise<string>(resolve => {
    const on = (rec: DisputeRecord): void => { if (rec.committeeSent?.commit === true && !rec.terminal && !earlier.has(rec.dealId)) { m1.driver.off('change', on); resolve(rec.dealId) } }
    m1.driver.on('change', on)
  })
  const run = jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, absent' }, target: net.rp2.address, auditProbability: 1 })
  const id = await dealId
  const m3 = mediators[2].mediator as unknown as Mediator
  await new Promise<void>(resolve => {
    const check = (): void => { m3.records.get(id).then(r => { if (r?.committeeSent?.commit === true) { m3.driver.off('change', check); resolve() } }, () => {}) }
    m3.driver.on('change', check)
    check()
  })
  await increaseTime(net.provider, RULES.commitWindow + 1)
  const out = await run
  t.is(out.verdict, 'timed-out')
  t.is(out.dealId, id)
  t.is((await net.admin.dealRecord(id)).state, 'TimedOutMediation')
  const after = await books(net.rp2.address)
  t.is(after.rp - before.rp, out.deal.price, 'the result stands: the provider is paid')
  t.is(after.jc - before.jc, -out.deal.price + RULES.slash, 'the job creator gets its fee back and the absent member\'s slash')
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [0n, -RULES.slash, 0n], 'only the absent member is slashed: those who voted had no majority to be against')
})

test.serial('a case nobody hands over (the parties are a cartel with no node): the members read the terms from the agree calldata and vote "no case"; the result stands, unjudged, and nobody who voted is slashed', async t => {
  // the job creator and the provider act from bare chain clients: no node answers a pull or pushes the case. They
  // reveal their seeds (withholding would lose the dispute), so the committee is drawn and must judge without a case
  const { deal, id, offers } = await committeeChallenge(net, { mediationFee: FEE, auditPpm: 1_000_000, mediateTimeout: 3000 })
  t.is((await net.admin.dealRecord(id)).state, 'Challenged')
  const before = await books(net.rp.address)
  await revealSeedOf(net, deal, offers, false)
  await revealSeedOf(net, deal, offers, true)
  const m1 = mediators[0].mediator as unknown as Mediator
  const done = disputeFinished(m1, id)
  // past the commit window less the margin (30 s): the present members give up on the case and vote "no case";
  // the stopped one stays silent, so the reveal opens when the commit window has passed
  await new Promise<void>(resolve => { const on = (r: DisputeRecord): void => { if (r.dealId === id) { m1.driver.off('change', on); resolve() } }; m1.driver.on('change', on) })
  await increaseTime(net.provider, RULES.commitWindow - 29)
  const committed = async (m: Mediator): Promise<void> => await new Promise(resolve => {
    const check = (): void => { m.records.get(id).then(r => { if (r?.committeeSent?.commit === true) { m.driver.off('change', check); resolve() } }, () => {}) }
    m.driver.on('change', check)
    check()
  })
  await committed(m1)
  await committed(mediators[2].mediator as unknown as Mediator)
  await increaseTime(net.provider, 30)
  const r = await done
  t.is(r.vote, Vote.NoCase)
  t.is(r.deal, undefined, 'the member never had the case')
  t.is((await net.admin.dealRecord(id)).state, 'TimedOutMediation')
  const after = await books(net.rp.address)
  t.is(after.rp - before.rp, deal.price + deal.collateral, 'the result stands: the provider is paid')
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [0n, -RULES.slash, 0n], 'only the silent member is slashed')
  const facts = await dealHistories({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, [id], await net.provider.getBlockNumber(), { auditPpm: false })
  t.like(dealOutcomes(facts)[0], { state: 'TimedOutMediation', unjudged: true }, 'not counted as paid work')
})

test.serial('a committee none of whose members is up: nobody votes; once the vote is over the parties finalize it themselves, the result stands and every silent member pays the job creator', async t => {
  await mediators[0].stop()
  await mediators[2].stop()
  const before = await books(net.rp2.address)
  const challenged = new Promise<string>(resolve => {
    const on = (rec: { dealId: string, phase: string }): void => { if (rec.phase === 'challenged' && !earlier.has(rec.dealId)) { jc.driver.off('change', on); resolve(rec.dealId) } }
    jc.driver.on('change', on)
  })
  const from = await net.provider.getBlockNumber()
  const run = jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, nobody' }, target: net.rp2.address, auditProbability: 1 })
  const id = await challenged
  // both parties' nodes reveal their seeds and the committee is drawn (moving the clock before that would end the
  // seed phase, and the party not yet revealed would lose)
  const mediatorsNamed = { mediators: [net.m1.address, net.m2.address, net.m3!.address] }
  await firstEvent({ event: 'CommitteeDrawn', args: { dealId: id } }, from + 1)
  t.not(await net.admin.committee(id, mediatorsNamed), null)
  // the lone mediator's window (mediateTimeout 3000 s) is far off; the committee's vote ends after its two windows
  await increaseTime(net.provider, RULES.commitWindow + RULES.revealWindow + 2)
  const out = await run
  t.is(out.dealId, id)
  t.is(out.verdict, 'timed-out')
  const rec = await net.admin.dealRecord(id)
  t.is(rec.state, 'TimedOutMediation')
  const after = await books(net.rp2.address)
  t.is(after.rp - before.rp, out.deal.price, 'the result stands: the provider is paid')
  t.is(after.jc - before.jc, -out.deal.price + 3n * RULES.slash, 'the job creator gets its fee back and the three slashes')
  t.deepEqual([after.bond[0] - before.bond[0], after.bond[1] - before.bond[1], after.bond[2] - before.bond[2]], [-RULES.slash, -RULES.slash, -RULES.slash])
  // no member finalized it: one of the parties did
  const ev = net.admin.market.interface.getEvent('CommitteeFinalized')!
  const logs = await net.provider.getLogs({ address: net.deployment.contracts.market, fromBlock: 0, topics: [ev.topicHash, id] })
  t.is(logs.length, 1)
  const tx = await net.provider.getTransaction(logs[0].transactionHash)
  t.true([net.jc.address, net.rp2.address].map(a => a.toLowerCase()).includes(tx!.from.toLowerCase()), `finalized by ${tx!.from}`)
})
