// Bad input reverts with a named custom error, surfaced by the chain client as ContractRevertError.reason.
import test, { type ExecutionContext } from 'ava'
import { startDevnet, agreeDeal, makeDeal, signDeal, increaseTime, LP, type Devnet } from '../fixture.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

async function revertsWith (t: ExecutionContext, p: Promise<unknown>, reason: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(err?.name, 'ContractRevertError')
  t.is((err as unknown as { reason: string }).reason, reason)
}

test.serial('a deal signed by someone other than the job creator', async t => {
  const deal = makeDeal(net)
  const { jcSig: wrong, rpSig } = await signDeal(deal, net.domain, net.stranger.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, wrong, rpSig), 'InvalidSignature')
})

test.serial('a deal signed by someone other than the provider', async t => {
  const deal = makeDeal(net)
  const { jcSig, rpSig } = await signDeal(deal, net.domain, net.jc.wallet, net.rp2.wallet)
  // sent by a third party: the provider is not the sender, so its signature is checked
  await revertsWith(t, net.stranger.agree(deal, jcSig, rpSig), 'InvalidSignature')
})

test.serial('signatures made for another chain', async t => {
  const deal = makeDeal(net)
  const other: LilypadDomain = { ...net.domain, chainId: net.domain.chainId + 1n }
  const { jcSig, rpSig } = await signDeal(deal, other, net.jc.wallet, net.rp.wallet)
  const good = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, jcSig, rpSig), 'InvalidSignature')
  await revertsWith(t, net.stranger.agree(deal, good.jcSig, rpSig), 'InvalidSignature')
})

test.serial('signatures made for another contract', async t => {
  const deal = makeDeal(net)
  const other: LilypadDomain = { ...net.domain, verifyingContract: net.deployment.contracts.jobManager }
  const { jcSig, rpSig } = await signDeal(deal, other, net.jc.wallet, net.rp.wallet)
  const good = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, jcSig, rpSig), 'InvalidSignature')
  await revertsWith(t, net.stranger.agree(deal, good.jcSig, rpSig), 'InvalidSignature')
})

// The sender's own signature is not checked (its transaction is its consent; ChainClient.agree leaves it out).
// Each way someone could try to lean on that is refused; the two senders that may leave theirs out are served.
test.serial('an agree without the sender\'s own signature: only the sender\'s is spared', async t => {
  const deal = makeDeal(net)
  const { jcSig, rpSig } = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  // a third party can leave out neither
  await revertsWith(t, net.stranger.agree(deal, jcSig, '0x'), 'InvalidSignature')
  await revertsWith(t, net.stranger.agree(deal, '0x', rpSig), 'InvalidSignature')
  // the provider cannot leave out the job creator's, nor the job creator the provider's
  await revertsWith(t, net.rp.agree(deal, '0x', rpSig), 'InvalidSignature')
  await revertsWith(t, net.jc.agree(deal, jcSig, '0x'), 'InvalidSignature')
  // a provider cannot use its own exemption for a deal naming another provider
  const forRp2 = makeDeal(net, { resourceProvider: net.rp2.address })
  const sigs2 = await signDeal(forRp2, net.domain, net.jc.wallet, net.rp2.wallet)
  await revertsWith(t, net.rp.agree(forRp2, sigs2.jcSig, '0x'), 'InvalidSignature')
  // the job creator may send it with the provider's signature and without its own
  const before = [await net.jc.depositOf(), await net.rp.depositOf()]
  await net.jc.agree(deal, '0x', rpSig)
  t.deepEqual([await net.jc.depositOf(), await net.rp.depositOf()], [before[0] - deal.price - deal.mediationFee, before[1] - deal.collateral])
  t.is((await net.jc.dealRecord(net.jc.dealId(deal))).state, 'Agreed')
  // and the provider, as `lilypad run`'s does, with the job creator's and without its own (raw '0x', not the client's doing)
  const d2 = makeDeal(net)
  const s2 = await signDeal(d2, net.domain, net.jc.wallet, net.rp.wallet)
  await net.rp.agree(d2, s2.jcSig, '0x')
  t.is((await net.rp.dealRecord(net.rp.dealId(d2))).state, 'Agreed')
})

test.serial('a replayed nonce, even with other terms and fresh signatures', async t => {
  const { deal } = await agreeDeal(net)
  const same = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, same.jcSig, same.rpSig), 'NonceUsed')
  const changed = { ...deal, price: deal.price + 1n, jobOfferId: '0x' + '11'.repeat(32) }
  const sigs = await signDeal(changed, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(changed, sigs.jcSig, sigs.rpSig), 'NonceUsed')
})

test.serial('an expired deal', async t => {
  const block = await net.provider.getBlock('latest')
  const deal = makeDeal(net, { expiry: BigInt(block!.timestamp - 1) })
  const { jcSig, rpSig } = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, jcSig, rpSig), 'DealExpired')
})

test.serial('a mediator the directory does not trust, or none at all', async t => {
  const deal = makeDeal(net, { mediators: [net.m1.address, net.outsider.address] })
  const s = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, s.jcSig, s.rpSig), 'NotAMediator')
  const none = makeDeal(net, { mediators: [] })
  const s2 = await signDeal(none, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(none, s2.jcSig, s2.rpSig), 'NoMediators')
})

test.serial('collateral below the mediation fee', async t => {
  const deal = makeDeal(net, { collateral: LP(1), mediationFee: LP(2) })
  const s = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, s.jcSig, s.rpSig), 'CollateralBelowFee')
})

test.serial('the job creator has deposited less than the agreed price', async t => {
  const deal = makeDeal(net, { price: LP(100_000) })
  const s = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await revertsWith(t, net.rp.agree(deal, s.jcSig, s.rpSig), 'InsufficientBalance')
})

test.serial('a result from someone other than the provider', async t => {
  const { deal } = await agreeDeal(net)
  await revertsWith(t, net.jc.submitResult(deal, 'bafy-forged'), 'NotResourceProvider')
  await revertsWith(t, net.rp.submitResult(deal, ''), 'EmptyResultCid')
})

test.serial('a verdict from a mediator that was not selected, a challenge from someone else', async t => {
  const { deal } = await agreeDeal(net)
  await net.rp.submitResult(deal, 'bafy-x')
  await revertsWith(t, net.stranger.challenge(deal), 'NotJobCreator')
  const selected = await net.jc.challenge(deal)
  const other = selected === net.m1.address ? net.m2 : net.m1
  await revertsWith(t, other.mediate(deal, false), 'NotSelectedMediator')
  await revertsWith(t, net.stranger.mediate(deal, false), 'NotSelectedMediator')
})

test.serial('double settlement, late challenge, accept by a stranger, unknown deal', async t => {
  const { deal } = await agreeDeal(net)
  await net.rp.submitResult(deal, 'bafy-y')
  await revertsWith(t, net.stranger.accept([deal]), 'NotJobCreator')
  await net.jc.accept([deal])
  await revertsWith(t, net.jc.accept([deal]), 'DealClosed')
  await revertsWith(t, net.stranger.settle([deal]), 'DealClosed')
  const { deal: second } = await agreeDeal(net)
  await net.rp.submitResult(second, 'bafy-z')
  await increaseTime(net.provider, 301)
  await revertsWith(t, net.jc.challenge(second), 'JudgeWindowClosed')
  await revertsWith(t, net.stranger.settle([second, second]), 'DealClosed')
  await revertsWith(t, net.stranger.settle([makeDeal(net)]), 'UnknownDeal')
})
