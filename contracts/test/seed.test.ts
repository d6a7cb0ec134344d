// A committee dispute's draw from the parties' seeds (docs/mediation.md, "Unbiasable draws"), on the real Market:
// each party reveals the secret its signed offer committed to, after the dispute's block; the committee is drawn
// from both secrets and that block's hash. The attacks: a party that withholds its reveal loses (exact money for
// each party), a wrong secret or an offer the deal does not name is refused, nothing is drawn before both reveals,
// the seed block's hash must still be readable, and the seed depends on both secrets.
import test from 'ava'
import { ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { startDevnet, increaseTime, committeeChallenge, revealSeedOf, seededOffers, idOf, LP, type Devnet } from '../fixture.ts'
import { drawCommittee, voteCommitment, Vote, type CommitteeRules } from '../../protocols/settlement/committee.ts'
import { committeeSeed, offerWords, offerIdFromWords } from '../../protocols/settlement/seed.ts'
import { toStruct, decodeRevert } from '../../node/chain/index.ts'
import { dealHistories } from '../../node/incentives/chain-facts.ts'
import { dealOutcomes } from '../../protocols/incentives/outcomes.ts'

const RULES: CommitteeRules = { size: 3, commitWindow: 600, revealWindow: 600, unbondDelay: 61 * 86_400, minBond: LP(50), slash: LP(5) }
const FEE = LP(3)

let net: Devnet
test.before(async () => { net = await startDevnet({ committee: RULES }) })
test.after.always(async () => { await net?.stop() })

const reasonOf = async (t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, p: Promise<unknown>): Promise<string> =>
  ((await t.throwsAsync(p)) as { reason: string }).reason
const deposits = async (): Promise<{ jc: bigint, rp: bigint }> => ({ jc: await net.jc.market.deposits(net.jc.address), rp: await net.rp.market.deposits(net.rp.address) })
const stateOf = async (id: string): Promise<number> => Number((await net.jc.market.deals(id)).state)

test.serial('the committee is drawn from both secrets and the dispute block\'s hash, only at the second reveal', async t => {
  const c = await committeeChallenge(net, { mediationFee: FEE })
  const phase = await net.jc.seedPhase(c.id)
  t.truthy(phase)
  t.false(phase!.jobCreatorRevealed || phase!.providerRevealed)
  const first = await revealSeedOf(net, c.deal, c.offers, false)
  t.falsy(first.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'CommitteeDrawn'), 'nothing is drawn at the first reveal')
  t.is(await net.jc.committee(c.id, c.deal), null)
  // before the draw no mediator can vote, and nobody can finalize while the other party may still reveal
  t.is(await reasonOf(t, net.m1.commitVote(c.deal, voteCommitment(c.id, net.m1.address, Vote.Correct, ZeroHash))), 'NotCommitteeMember')
  t.is(await reasonOf(t, net.stranger.finalizeCommittee(c.deal)), 'SeedRevealOpen')
  t.is(await reasonOf(t, revealSeedOf(net, c.deal, c.offers, false)), 'SeedAlreadyRevealed')
  const second = await revealSeedOf(net, c.deal, c.offers, true)
  const drawn = second.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'CommitteeDrawn')!
  const seedBlockHash = (await net.provider.getBlock(phase!.seedBlock))!.hash!
  const seed = committeeSeed(c.id, c.offers.jobSecret, c.offers.providerSecret, seedBlockHash)
  t.is(drawn.args.seed, seed)
  const members = drawCommittee(seed, 3, 3).map(i => c.deal.mediators[i].toLowerCase())
  t.deepEqual((drawn.args.members as string[]).map(a => a.toLowerCase()), members)
  // what the first reveal, the proposer and the block's hash knew before the last reveal does not fix the seed:
  // another provider secret (which only the provider knew) gives another seed, and so does another job creator secret
  t.not(committeeSeed(c.id, c.offers.jobSecret, keccak256(toUtf8Bytes('another provider secret')), seedBlockHash), seed)
  t.not(committeeSeed(c.id, keccak256(toUtf8Bytes('another job creator secret')), c.offers.providerSecret, seedBlockHash), seed)
  t.not(committeeSeed(c.id, c.offers.jobSecret, c.offers.providerSecret, ZeroHash), seed)
  t.is(await reasonOf(t, revealSeedOf(net, c.deal, c.offers, true)), 'SeedAlreadyRevealed')
  t.is((await net.jc.committee(c.id, c.deal))?.members.length, 3)
})

test.serial('a wrong secret, an offer the deal does not name, the other party\'s offer or malformed words are refused', async t => {
  const c = await committeeChallenge(net, { mediationFee: FEE })
  const jcWords = offerWords('JobOffer', c.offers.jobOffer)
  const rpWords = offerWords('ResourceOffer', c.offers.resourceOffer)
  t.is(offerIdFromWords('JobOffer', net.domain, jcWords, c.offers.jobSecret), c.deal.jobOfferId)
  t.is(offerIdFromWords('ResourceOffer', net.domain, rpWords, c.offers.providerSecret), c.deal.resourceOfferId)
  const reasons = async (p: Promise<unknown>): Promise<string> => await reasonOf(t, p)
  t.is(await reasons(net.jc.revealSeed(c.deal, false, keccak256(toUtf8Bytes('a guess')), jcWords)), 'SeedMismatch')
  t.is(await reasons(net.rp.revealSeed(c.deal, true, c.offers.jobSecret, rpWords)), 'SeedMismatch')
  // the job creator's own secret for its offer, claimed as the provider's: the type hash differs
  t.is(await reasons(net.jc.revealSeed(c.deal, true, c.offers.jobSecret, jcWords)), 'SeedMismatch')
  // another offer the same provider signed, with its own right secret: the deal names another one
  const other = seededOffers(net, { jobCreator: net.jc.address, resourceProvider: net.rp.address, mediators: c.deal.mediators })
  t.is(await reasons(net.rp.revealSeed(c.deal, true, other.providerSecret, offerWords('ResourceOffer', other.resourceOffer))), 'SeedMismatch')
  t.is(await reasons(net.jc.revealSeed(c.deal, false, other.jobSecret, offerWords('JobOffer', other.jobOffer))), 'SeedMismatch')
  t.is(await reasons(net.jc.revealSeed(c.deal, false, c.offers.jobSecret, jcWords.slice(1))), 'SeedMismatch')
  // anyone holding the secret may reveal it: a stranger relaying the provider's is accepted
  await net.stranger.revealSeed(c.deal, true, c.offers.providerSecret, rpWords)
  t.true((await net.jc.seedPhase(c.id))!.providerRevealed)
  // a deal without a committee has no seed to reveal
  const { deal } = await (async () => {
    const single = seededOffers(net, { jobCreator: net.jc.address, resourceProvider: net.rp.address, mediators: [net.m1.address, net.m2.address] })
    const r = await committeeChallenge(net, { mediationFee: FEE, mediators: single.jobOffer.mediators })
    return r
  })()
  t.is(await reasons(net.jc.revealSeed(deal, false, c.offers.jobSecret, jcWords)), 'NotACommitteeDispute')
})

test.serial('the second revealer cannot swap the first\'s share: the Market keeps its tag, and any other first secret is refused', async t => {
  const c = await committeeChallenge(net, { mediationFee: FEE })
  await revealSeedOf(net, c.deal, c.offers, false)
  const seedBlock = (await net.jc.seedPhase(c.id))!.seedBlock
  const rpWords = offerWords('ResourceOffer', c.offers.resourceOffer)
  // the provider, which can compute the draw, would pass a first secret that gives it the committee it wants
  for (const first of [ZeroHash, keccak256(toUtf8Bytes('a first secret of my choosing')), c.offers.providerSecret]) {
    t.is(await reasonOf(t, net.rp.revealSeed(c.deal, true, c.offers.providerSecret, rpWords, first)), 'WrongFirstSeed')
  }
  t.true((await net.jc.seedPhase(c.id))!.jobCreatorRevealed)
  t.false((await net.jc.seedPhase(c.id))!.providerRevealed)
  // the job creator's own secret, read from its SeedRevealed, draws the committee
  const r = await net.rp.revealSeed(c.deal, true, c.offers.providerSecret, rpWords)
  const drawn = r.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'CommitteeDrawn')
  t.is(drawn?.args.seed, committeeSeed(c.id, c.offers.jobSecret, c.offers.providerSecret, (await net.provider.getBlock(seedBlock))!.hash!))
})

test.serial('a reveal in the dispute\'s own block is refused: nobody knew the block\'s hash and a secret together', async t => {
  const c = await committeeChallenge(net, { mediationFee: FEE, auditPpm: 0 })
  // put the challenge (already mined) aside: open a second dispute and send its challenge and a reveal in one block
  const d = await (async () => {
    const offers = seededOffers(net, { jobCreator: net.jc.address, resourceProvider: net.rp.address, mediators: c.deal.mediators })
    const deal = { ...c.deal, ...offers.ids, nonce: c.deal.nonce + 1000n }
    const { jcSig } = { jcSig: await (await import('../../protocols/eip712.ts')).signMessage('Deal', net.domain, deal, net.jc.wallet) }
    await net.rp.agree(deal, jcSig, '0x')
    await net.rp.submitResult(deal, 'bafy-same-block')
    return { deal, offers, id: idOf('Deal', net.domain, deal) }
  })()
  const rpc = net.provider
  await rpc.send('evm_setAutomine', [false])
  try {
    const challenge = await rpc.send('eth_sendTransaction', [{ from: net.jc.address, to: net.deployment.contracts.market, data: net.jc.market.interface.encodeFunctionData('challenge', [toStruct(d.deal)]), gas: '0x100000' }])
    const reveal = await rpc.send('eth_sendTransaction', [{ from: net.rp.address, to: net.deployment.contracts.market, data: net.rp.market.interface.encodeFunctionData('revealSeed', [toStruct(d.deal), true, d.offers.providerSecret, offerWords('ResourceOffer', d.offers.resourceOffer), ZeroHash]), gas: '0x100000' }])
    await rpc.send('evm_mine', [])
    const [a, b] = await Promise.all([rpc.getTransactionReceipt(challenge), rpc.getTransactionReceipt(reveal)])
    t.is(a!.status, 1)
    t.is(b!.blockNumber, a!.blockNumber)
    t.is(b!.status, 0, 'the reveal in the seed block reverted')
    const trace = await rpc.send('debug_traceTransaction', [reveal, { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue?: string }
    const data = trace.returnValue === undefined || trace.returnValue.startsWith('0x') ? trace.returnValue : `0x${trace.returnValue}`
    t.is(decodeRevert(data)?.name, 'SeedRevealNotOpen')
  } finally {
    await rpc.send('evm_setAutomine', [true])
  }
  const phase = await net.jc.seedPhase(d.id)
  t.false(phase!.providerRevealed)
  // one block later it is accepted
  await revealSeedOf(net, d.deal, d.offers, true)
  t.true((await net.jc.seedPhase(d.id))!.providerRevealed)
})

test.serial('the job creator withholds its reveal: the result stands and the provider also gets the fee', async t => {
  const before = await deposits()
  const c = await committeeChallenge(net, { mediationFee: FEE })
  await revealSeedOf(net, c.deal, c.offers, true)
  await increaseTime(net.provider, RULES.revealWindow + 1)
  t.is(await reasonOf(t, revealSeedOf(net, c.deal, c.offers, false)), 'SeedRevealClosed')
  const r = await net.stranger.finalizeCommittee(c.deal)
  t.truthy(r.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'SeedWithheld' && Number(e.args.revealed) === 2))
  t.is(await stateOf(c.id), 5, 'MediatedCorrect')
  const after = await deposits()
  // agreed: jc −(price + fee), rp −collateral; closed: rp +(price + collateral + fee)
  t.is(after.jc - before.jc, -LP(10) - FEE)
  t.is(after.rp - before.rp, LP(10) + FEE)
  // paid, but nobody judged it: a cartel that withholds its job creator's seed to dodge its own audit gets no verified
  // work out of it in the reward computation
  const facts = await dealHistories({ provider: net.provider, market: net.deployment.contracts.market, rewards: '', deployBlock: net.deployment.deployBlock }, [c.id], await net.provider.getBlockNumber(), { auditPpm: false })
  t.like(dealOutcomes(facts)[0], { state: 'MediatedCorrect', unjudged: true })
})

test.serial('the provider withholds its reveal (an audit): the result is ruled wrong and the job creator gets everything back', async t => {
  const before = await deposits()
  const c = await committeeChallenge(net, { mediationFee: FEE, auditPpm: 1_000_000 })
  t.true((await net.jc.seedPhase(c.id))!.audit)
  await revealSeedOf(net, c.deal, c.offers, false)
  t.is(await reasonOf(t, net.stranger.finalizeCommittee(c.deal)), 'SeedRevealOpen')
  await increaseTime(net.provider, RULES.revealWindow + 1)
  await net.stranger.finalizeCommittee(c.deal)
  t.is(await stateOf(c.id), 6, 'MediatedWrong')
  const after = await deposits()
  t.is(after.jc - before.jc, LP(20), 'jc: +collateral')
  t.is(after.rp - before.rp, -LP(20), 'rp: −collateral')
})

test.serial('neither reveals: the result stands and the fee goes back; past 256 blocks a reveal is refused even inside the window', async t => {
  const before = await deposits()
  const c = await committeeChallenge(net, { mediationFee: FEE })
  await net.provider.send('anvil_mine', ['0x101']) // 257 blocks, no time to speak of
  t.is(await reasonOf(t, revealSeedOf(net, c.deal, c.offers, true)), 'SeedRevealClosed')
  await net.stranger.finalizeCommittee(c.deal)
  t.is(await stateOf(c.id), 8, 'TimedOutMediation')
  const after = await deposits()
  t.is(after.jc - before.jc, -LP(10))
  t.is(after.rp - before.rp, LP(10))
})
