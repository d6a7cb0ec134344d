// The Market's network-wide bounds on deal terms, on a real anvil: the zero-window theft of issue 10 performed
// and refused, a countersignature valid for centuries refused, an audit without a fee refused, every bound by
// its named error, in the order protocols/settlement checks them.
import test, { type ExecutionContext } from 'ava'
import { startDevnet, makeDeal, signDeal, increaseTime, marketBalances, LP, TEST_BOUNDS, chainTimeEstimate, type Devnet } from '../fixture.ts'
import { checkBounds, type MarketBounds, type MarketErrorName } from '../../protocols/settlement/index.ts'
import type { Deal } from '../../protocols/eip712.ts'
import { marketFactory } from '../generated/index.ts'
import { defaultCommitteeRules } from '../deploy.ts'
import { minUnbondDelay } from '../../protocols/settlement/committee.ts'
import { waitForReceipt } from '../../node/chain/index.ts'

const BOUNDS: MarketBounds = { ...TEST_BOUNDS, minResultTimeout: 60, minJudgeWindow: 60, minMediateTimeout: 60, maxResultTimeout: 7 * 86_400, maxDealTtl: 3600, minMediationFee: LP(1) }

let net: Devnet
test.before(async () => { net = await startDevnet({ bounds: BOUNDS }) })
test.after.always(async () => { await net?.stop() })

async function revertsWith (t: ExecutionContext, p: Promise<unknown>, reason: string, what = ''): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(err?.name, 'ContractRevertError', `${what} ${err?.message ?? ''}`)
  t.is((err as unknown as { reason: string }).reason, reason, `${what} ${err?.message ?? ''}`)
}

/** The job creator agrees a deal the provider countersigned (anyone may call agree). */
async function jobCreatorAgrees (deal: Deal): Promise<void> {
  const { jcSig, rpSig } = await signDeal(deal, net.domain, net.jc.wallet, net.rp.wallet)
  await net.jc.agree(deal, jcSig, rpSig)
}

const base = (o: Partial<Deal> = {}): Deal => makeDeal(net, { resultTimeout: 600, judgeWindow: 300, mediateTimeout: 900, mediationFee: LP(2), ...o })

test.serial('the zero-window theft is refused: a result window of 0 cannot be agreed, and the shortest allowed leaves the provider a minute', async t => {
  const [jc0, rp0] = await marketBalances(net, [net.jc.address, net.rp.address])
  // the attack: fee 0, result window 0, the provider countersigns, the job creator agrees and times the deal out
  const theft = base({ resultTimeout: 0, mediationFee: 0n, price: 0n })
  await revertsWith(t, jobCreatorAgrees(theft), 'ResultTimeoutOutOfBounds')
  await revertsWith(t, net.jc.timeoutResult(theft), 'UnknownDeal')
  t.deepEqual(await marketBalances(net, [net.jc.address, net.rp.address]), [jc0, rp0], 'no collateral moved')
  // the tightest window the network allows: no timeout in the next block, nor within the minute
  const tight = base({ resultTimeout: BOUNDS.minResultTimeout })
  await jobCreatorAgrees(tight)
  await revertsWith(t, net.jc.timeoutResult(tight), 'ResultWindowOpen')
  await increaseTime(net.provider, BOUNDS.minResultTimeout - 5)
  await revertsWith(t, net.jc.timeoutResult(tight), 'ResultWindowOpen')
  await net.rp.submitResult(tight, 'bafy-in-time')
})

test.serial('a countersignature valid until the year 2500 cannot be cashed in; one within the deal TTL can', async t => {
  await revertsWith(t, jobCreatorAgrees(base({ expiry: 16_725_225_600n })), 'DealExpiryTooFar')
  await revertsWith(t, jobCreatorAgrees(base({ expiry: BigInt(chainTimeEstimate(net) + BOUNDS.maxDealTtl + 120) })), 'DealExpiryTooFar')
  await jobCreatorAgrees(base({ expiry: BigInt(chainTimeEstimate(net) + BOUNDS.maxDealTtl - 120) }))
  t.pass()
})

test.serial('every other bound, by name', async t => {
  const cases: Array<[Partial<Deal>, MarketErrorName]> = [
    [{ resultTimeout: BOUNDS.maxResultTimeout + 1 }, 'ResultTimeoutOutOfBounds'],
    [{ judgeWindow: 0 }, 'JudgeWindowOutOfBounds'],
    [{ judgeWindow: BOUNDS.maxJudgeWindow + 1 }, 'JudgeWindowOutOfBounds'],
    [{ mediateTimeout: 59 }, 'MediateTimeoutOutOfBounds'],
    [{ mediateTimeout: BOUNDS.maxMediateTimeout + 1 }, 'MediateTimeoutOutOfBounds'],
    [{ auditPpm: 1_000_001 }, 'AuditPpmTooHigh'],
    [{ mediationFee: LP(1) - 1n }, 'MediationFeeTooLow'],
    // several broken at once: the first in the contract's order wins, as the model says
    [{ judgeWindow: 0, mediateTimeout: 0, resultTimeout: 0 }, 'ResultTimeoutOutOfBounds']
  ]
  for (const [o, error] of cases) {
    const deal = base(o)
    t.is(checkBounds(deal, BOUNDS, chainTimeEstimate(net)), error)
    await revertsWith(t, jobCreatorAgrees(deal), error)
  }
})

test.serial('an audit without a mediation fee is refused where the network allows fee-less deals', async t => {
  const feeless = await startDevnet({ bounds: { ...BOUNDS, minMediationFee: 0n } })
  t.teardown(async () => { await feeless.stop() })
  const deal = makeDeal(feeless, { resultTimeout: 600, judgeWindow: 300, mediateTimeout: 900, mediationFee: 0n, auditPpm: 1 })
  const { jcSig, rpSig } = await signDeal(deal, feeless.domain, feeless.jc.wallet, feeless.rp.wallet)
  await revertsWith(t, feeless.rp.agree(deal, jcSig, rpSig), 'AuditWithoutFee')
  const unaudited = makeDeal(feeless, { resultTimeout: 600, judgeWindow: 300, mediateTimeout: 900, mediationFee: 0n, auditPpm: 0 })
  const s = await signDeal(unaudited, feeless.domain, feeless.jc.wallet, feeless.rp.wallet)
  await feeless.rp.agree(unaudited, s.jcSig, s.rpSig)
  t.deepEqual(await feeless.rp.marketBounds(), { ...BOUNDS, minMediationFee: 0n })
})

test.serial('a Market cannot be deployed with bounds that refuse everything or nothing', async t => {
  const factory = marketFactory(net.admin.wallet)
  for (const bad of [{ minResultTimeout: 0 }, { minJudgeWindow: 10, maxJudgeWindow: 9 }, { maxDealTtl: 0 }]) {
    const tx = await factory.getDeployTransaction(net.deployment.contracts.token, net.deployment.contracts.directory, { ...BOUNDS, ...bad }, defaultCommitteeRules)
    await revertsWith(t, net.admin.queue.send('deploy Market', async () => tx), 'InvalidBounds')
  }
})

test.serial('a Market cannot be deployed with committee rules that cannot work: an even size, no windows, no bond, a slash above the bond, a bond that can leave before a dispute ends', async t => {
  const factory = marketFactory(net.admin.wallet)
  // the least unbondDelay committeeRulesFor computes is exactly the constructor's (the seed reveals' window included)
  const on = { ...defaultCommitteeRules, size: 3, unbondDelay: minUnbondDelay(BOUNDS, defaultCommitteeRules) }
  t.is(on.unbondDelay, BOUNDS.maxResultTimeout + BOUNDS.maxJudgeWindow + defaultCommitteeRules.commitWindow + 2 * defaultCommitteeRules.revealWindow)
  for (const bad of [{ size: 0 }, { size: 2 }, { size: 33 }, { commitWindow: 0 }, { revealWindow: 0 }, { minBond: 0n }, { slash: 0n }, { slash: on.minBond + 1n }, { unbondDelay: on.unbondDelay - 1 }]) {
    const tx = await factory.getDeployTransaction(net.deployment.contracts.token, net.deployment.contracts.directory, BOUNDS, { ...on, ...bad })
    await revertsWith(t, net.admin.queue.send('deploy Market', async () => tx), 'InvalidCommitteeRules', JSON.stringify(bad, (_k, v) => typeof v === 'bigint' ? String(v) : v))
  }
  // the longest delay that is still refused is one second short; this one works, and so does size 1 with nothing else set
  for (const good of [on, { size: 1, commitWindow: 0, revealWindow: 0, unbondDelay: 0, minBond: 0n, slash: 0n }]) {
    const tx = await factory.getDeployTransaction(net.deployment.contracts.token, net.deployment.contracts.directory, BOUNDS, good)
    const r = await waitForReceipt(net.provider, (await net.admin.wallet.sendTransaction(tx)).hash)
    t.is(r?.status, 1)
  }
})
