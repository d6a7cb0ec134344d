// A single mediator's draw, attacked (docs/mediation.md, "Unbiasable draws"): the mediator is
// keccak256(abi.encode(dealId, blockhash(B))) mod n, B the dispute's block, fixed by the first drawMediator (or the
// drawn mediator's mediate) after B. A job creator that picks its moment to challenge cannot pick its mediator: nothing
// it knows when it sends the challenge decides the draw, and nobody can fix the draw inside B. Past BLOCKHASH's 256
// blocks nobody can be drawn, and the dispute ends as a silent mediator's would: waiting gives no one another draw.
import test from 'ava'
import { toStruct, decodeRevert, waitForReceipt } from '../../node/chain/index.ts'
import { mediatorIndexOf, UNDRAWN } from '../../protocols/settlement/index.ts'
import { startDevnet, agreeDeal, increaseTime, marketBalances, LP, type Devnet } from '../fixture.ts'
import type { Deal } from '../../protocols/eip712.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

/**
 * A Market call sent straight through anvil (its dev accounts are unlocked), for steps inside an evm_snapshot: the
 * clients' transaction queues keep their nonces, which a revert would leave ahead of the chain.
 */
async function raw (from: string, fn: string, args: unknown[]): Promise<{ status: number, blockNumber: number, error?: string }> {
  const data = net.jc.market.interface.encodeFunctionData(fn, args)
  const hash = await net.provider.send('eth_sendTransaction', [{ from, to: net.deployment.contracts.market, data, gas: '0x100000' }]) as string
  const r = (await waitForReceipt(net.provider, hash))
  if (r.status === 1) return { status: 1, blockNumber: r.blockNumber }
  const traced = await net.provider.send('debug_traceTransaction', [hash, { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue?: string }
  const rv = traced.returnValue === undefined || traced.returnValue.startsWith('0x') ? traced.returnValue : `0x${traced.returnValue}`
  return { status: 0, blockNumber: r.blockNumber, error: decodeRevert(rv)?.name ?? 'UnknownRevert' }
}

async function reason (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return (err as { reason?: string }).reason ?? (err as Error).name }
  return 'succeeded'
}

async function blockHash (n: number): Promise<string> {
  return (await net.provider.getBlock(n))!.hash!
}

/** A submitted deal, ready to be challenged by its job creator. */
async function submitted (o: Partial<Deal> = {}): Promise<{ deal: Deal, id: string }> {
  const { deal, id } = await agreeDeal(net, o)
  await net.rp.submitResult(deal, `bafy-${id.slice(2, 10)}`)
  return { deal, id }
}

test.serial('a job creator that picks its block cannot pick its mediator: the draw follows a hash that does not exist when it challenges', async t => {
  const { deal, id } = await submitted()
  const before = await net.provider.send('evm_snapshot', []) as string
  // What the challenger knows when it sends: the latest block (its hash, its prevrandao) and the next block's number.
  // The old rule, keccak256(prevrandao, dealId), was computable from what a proposer exposes ahead; this one is not.
  const drawn = new Set<number>()
  for (let i = 0; i < 24; i++) {
    const snap = await net.provider.send('evm_snapshot', []) as string
    // the same challenge from the same state; the block it lands in differs by what else is in it (here a
    // stranger's deposit now and then, on a real chain any transaction, or the proposer's choices)
    if (i % 2 === 1) await net.provider.send('evm_setAutomine', [false])
    const challenge = net.provider.send('eth_sendTransaction', [{ from: deal.jobCreator, to: net.deployment.contracts.market, data: net.jc.market.interface.encodeFunctionData('challenge', [toStruct(deal)]), gas: '0x100000' }])
    if (i % 2 === 1) {
      await challenge
      await net.provider.send('eth_sendTransaction', [{ from: net.stranger.address, to: net.deployment.contracts.market, data: net.jc.market.interface.encodeFunctionData('deposit', [LP(i)]), gas: '0x100000' }])
      await net.provider.send('evm_mine', [])
      await net.provider.send('evm_setAutomine', [true])
    }
    const b = (await waitForReceipt(net.provider, await challenge as string)).blockNumber
    // nobody can fix the draw inside B: its hash does not exist yet
    t.is((await net.jc.dealRecord(id)).mediatorIndex, UNDRAWN)
    const r = await raw(net.stranger.address, 'drawMediator', [toStruct(deal)])
    t.is(r.status, 1)
    const rec = await net.jc.dealRecord(id)
    t.is(rec.mediatorIndex, mediatorIndexOf(id, await blockHash(b), deal.mediators.length), 'the mediator is the dispute block hash\'s draw')
    drawn.add(rec.mediatorIndex)
    await net.provider.send('evm_revert', [snap])
  }
  t.deepEqual([...drawn].sort(), [0, 1], 'the same challenge from the same state drew either mediator, by the block it landed in')
  await net.provider.send('evm_revert', [before])
})

test.serial('the draw cannot be made in the dispute\'s own block, is fixed once made, and the drawn mediator alone judges', async t => {
  const { deal, id } = await submitted()
  const snap = await net.provider.send('evm_snapshot', []) as string
  // the challenge and a draw in one block: MediatorDrawNotReady
  await net.provider.send('evm_setAutomine', [false])
  const data = (fn: string): string => net.jc.market.interface.encodeFunctionData(fn, [toStruct(deal)])
  const hashes = [
    await net.provider.send('eth_sendTransaction', [{ from: deal.jobCreator, to: net.deployment.contracts.market, data: data('challenge'), gas: '0x100000' }]) as string,
    await net.provider.send('eth_sendTransaction', [{ from: net.stranger.address, to: net.deployment.contracts.market, data: data('drawMediator'), gas: '0x100000' }]) as string
  ]
  await net.provider.send('evm_mine', [])
  await net.provider.send('evm_setAutomine', [true])
  const [challenged, early] = await Promise.all(hashes.map(async h => (await waitForReceipt(net.provider, h))))
  t.is(challenged.status, 1)
  t.is(early.status, 0)
  t.is(early.blockNumber, challenged.blockNumber)
  const traced = await net.provider.send('debug_traceTransaction', [hashes[1], { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue: string }
  t.is(decodeRevert(traced.returnValue.startsWith('0x') ? traced.returnValue : `0x${traced.returnValue}`)?.name, 'MediatorDrawNotReady')
  const index = mediatorIndexOf(id, await blockHash(challenged.blockNumber), 2)
  const [chosen, other] = [deal.mediators[index], deal.mediators[1 - index]]
  // a few blocks later: still the same draw (it reads B's hash, not the latest)
  await net.provider.send('anvil_mine', ['0x5'])
  t.is((await raw(other, 'mediate', [toStruct(deal), false])).error, 'NotSelectedMediator')
  t.is((await raw(net.stranger.address, 'drawMediator', [toStruct(deal)])).status, 1)
  t.is((await net.jc.dealRecord(id)).mediatorIndex, index)
  t.is((await raw(net.jc.address, 'drawMediator', [toStruct(deal)])).error, 'MediatorAlreadyDrawn')
  t.is((await raw(chosen, 'mediate', [toStruct(deal), false])).status, 1)
  await net.provider.send('evm_revert', [snap])
  // without drawMediator, the drawn mediator's mediate draws it itself (within the 256 blocks)
  const b = (await waitForReceipt(net.provider, await net.provider.send('eth_sendTransaction', [{ from: deal.jobCreator, to: net.deployment.contracts.market, data: data('challenge'), gas: '0x100000' }]) as string)).blockNumber
  const drawn = deal.mediators[mediatorIndexOf(id, await blockHash(b), 2)]
  const [jcBefore, rpBefore, mBefore] = await marketBalances(net, [deal.jobCreator, deal.resourceProvider, drawn])
  t.is((await raw(drawn, 'mediate', [toStruct(deal), false])).status, 1)
  const [jcAfter, rpAfter, mAfter] = await marketBalances(net, [deal.jobCreator, deal.resourceProvider, drawn])
  t.is(jcAfter - jcBefore, deal.price + deal.collateral)
  t.is(rpAfter, rpBefore)
  t.is(mAfter - mBefore, deal.mediationFee)
})

test.serial('past the 256 blocks nobody can be drawn: the dispute ends as a silent mediator\'s, its window counted from the dispute\'s start', async t => {
  const { deal, id } = await submitted()
  const [jcBefore, rpBefore] = await marketBalances(net, [deal.jobCreator, deal.resourceProvider])
  t.is((await raw(deal.jobCreator, 'challenge', [toStruct(deal)])).status, 1)
  const since = (await net.jc.dealRecord(id)).since
  await net.provider.send('anvil_mine', ['0x101'])
  // waiting for a hash it likes gives nobody another draw
  t.is(await reason(net.stranger.drawMediator(deal)), 'MediatorDrawClosed')
  for (const m of deal.mediators) t.is((await raw(m, 'mediate', [toStruct(deal), true])).error, 'MediatorDrawClosed')
  t.is(await reason(net.stranger.timeoutMediation(deal)), 'MediationWindowOpen')
  const now = (await net.provider.getBlock('latest'))!.timestamp
  await increaseTime(net.provider, since + deal.mediateTimeout - now + 1)
  await net.stranger.timeoutMediation(deal)
  const [jcAfter, rpAfter] = await marketBalances(net, [deal.jobCreator, deal.resourceProvider])
  // the result stands: the provider gets price + collateral back, the job creator its fee
  t.is(rpAfter - rpBefore, deal.price + deal.collateral)
  t.is(jcAfter - jcBefore, deal.mediationFee)
  t.is((await net.jc.dealRecord(id)).state, 'TimedOutMediation')
})

test.serial('the mediator\'s window starts when it is drawn: a late draw within the 256 blocks gives it its whole window', async t => {
  const { deal, id } = await submitted()
  t.is((await raw(deal.jobCreator, 'challenge', [toStruct(deal)])).status, 1)
  const start = (await net.jc.dealRecord(id)).since
  // the draw comes most of the window later (still within 256 blocks): the window restarts from it
  await increaseTime(net.provider, deal.mediateTimeout - 10)
  const mediator = await net.stranger.drawMediator(deal)
  const drawnAt = (await net.jc.dealRecord(id)).since
  t.true(drawnAt >= start + deal.mediateTimeout - 10)
  await increaseTime(net.provider, 60)
  t.is(await reason(net.stranger.timeoutMediation(deal)), 'MediationWindowOpen')
  const client = net.m1.address === mediator ? net.m1 : net.m2
  await client.mediate(deal, true)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedCorrect')
})
