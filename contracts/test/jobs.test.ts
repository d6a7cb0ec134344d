// Contract-triggered jobs on a real anvil: the JobManager's request, pickup, completion bound to the requested
// module and inputs, callbacks with guaranteed gas, disputes, bonds; each attack of issue 10 (part 3) performed and
// refused; the Directory's gates and the Faucet's cap. After every test the JobManager holds exactly the open
// jobs' payments, the disputed jobs' fees and the bridges' bonds.
import test, { type ExecutionContext } from 'ava'
import type { EventLog } from 'ethers'
import {
  startDevnet, jobManagerHoldings, agreeJobDeal, agreeDeal, increaseTime, LP, COWSAY, TEST_MODULE_PRICE, TEST_CALLBACK_GAS_PRICE, TEST_JOB_MANAGER, type Devnet
} from '../fixture.ts'
import { Roles, ContractRevertError, requestedJobId, type ChainClient } from '../../node/chain/index.ts'
import {
  connectExampleClient, connectJobManager, connectLilypadToken, connectDirectory, connectHeavyClient, connectRevertingClient,
  heavyClientFactory, revertingClientFactory, type HeavyClientContract, type RevertingClientContract
} from '../generated/index.ts'
import { JobStatus } from '../../protocols/contract-job/index.ts'

let net: Devnet
let heavy: HeavyClientContract
let heavyAddr: string
/** A second approved bridge (jc2's key). */
let bridge2: ChainClient
const GAS = 300_000
const QUOTE = TEST_MODULE_PRICE + BigInt(GAS) * TEST_CALLBACK_GAS_PRICE

test.before(async () => {
  net = await startDevnet({ exampleClient: true })
  const deployed = await net.admin.queue.send('deploy HeavyClient', async () => await heavyClientFactory(net.admin.wallet).getDeployTransaction(net.deployment.contracts.jobManager))
  heavyAddr = deployed.contractAddress!
  heavy = connectHeavyClient(heavyAddr, net.stranger.wallet)
  await net.stranger.queue.send('fund HeavyClient', async () => await net.stranger.token.transfer.populateTransaction(heavyAddr, LP(200)))
  bridge2 = net.jc2
  await net.admin.approveBridge(bridge2.address)
  await bridge2.register(Roles.JobCreator | Roles.Bridge, 'peer-bridge-2')
  await bridge2.depositBond(LP(50))
})
test.after.always(async () => { await net?.stop() })

test.afterEach.always(async t => { if (net !== undefined) await assertConserved(t) })

async function revertsWith (t: ExecutionContext, p: Promise<unknown>, reason: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(err?.name, ContractRevertError.name, err?.message)
  t.is((err as unknown as { reason: string }).reason, reason, err?.message)
}

/** Decoded logs of a JobManager event filter. */
async function events (filter: Parameters<ReturnType<typeof connectJobManager>['queryFilter']>[0]): Promise<EventLog[]> {
  return (await jm().queryFilter(filter)) as EventLog[]
}

const jm = (): ReturnType<typeof connectJobManager> => connectJobManager(net.deployment.contracts.jobManager, net.provider)
const lp = (): ReturnType<typeof connectLilypadToken> => connectLilypadToken(net.deployment.contracts.token, net.provider)

/** The JobManager's token balance equals what its jobs and bonds account for. */
async function assertConserved (t: ExecutionContext): Promise<void> {
  const { balance, accounted } = await jobManagerHoldings(net)
  t.is(balance, accounted, 'JobManager balance = open payments + dispute fees + bonds')
}

/** The HeavyClient orders cowsay with `inputs` (the stranger sends it). */
async function order (inputs: Record<string, string> = { Message: 'moo' }, gas = GAS, timeout = 3600): Promise<bigint> {
  const list = Object.entries(inputs).sort(([a], [b]) => a < b ? -1 : 1).map(([key, value]) => ({ key, value }))
  const r = await net.stranger.queue.send('order', async () => await heavy.order.populateTransaction(COWSAY, list, gas, timeout))
  return requestedJobId(r)
}

const moo = { Message: 'moo' }
const output = new TextEncoder().encode(' _____\n< moo >\n -----\n')

test.serial('a request takes exactly the quote; the event carries the canonical inputs; bad requests are refused by name', async t => {
  t.is(await net.stranger.quote(COWSAY, GAS), QUOTE)
  const before = await net.stranger.tokenBalance()
  // offered twice the price: only the quote is taken
  const jobId = await net.stranger.requestJob(COWSAY, { Message: 'say "hi"\n', Eyes: 'oo' }, { callbackGasLimit: GAS, timeout: 600, maxPayment: QUOTE * 2n })
  t.is(await net.stranger.tokenBalance(), before - QUOTE)
  const view = await net.stranger.contractJob(jobId)
  t.is(view.status, 'Open')
  t.is(view.payment, QUOTE)
  const logs = await events(jm().filters.JobRequested(jobId))
  t.is(logs[0].args.inputs, '{"Eyes":"oo","Message":"say \\"hi\\"\\n"}')
  t.is(logs[0].args.module, COWSAY)

  const send = (module: string, inputs: Array<{ key: string, value: string }>, gas: number, timeout: number, max: bigint): Promise<unknown> =>
    net.stranger.queue.send('runJob', async () => await net.stranger.jobManager.runJob.populateTransaction(module, inputs, gas, timeout, max))
  await revertsWith(t, send('cowsay:v9', [], GAS, 600, QUOTE), 'ModuleNotOffered')
  await revertsWith(t, send(COWSAY, [], 5_000, 600, QUOTE), 'CallbackGasOutOfBounds')
  await revertsWith(t, send(COWSAY, [], TEST_JOB_MANAGER.maxCallbackGas + 1, 600, QUOTE * 100n), 'CallbackGasOutOfBounds')
  await revertsWith(t, send(COWSAY, [], GAS, 1, QUOTE), 'TimeoutOutOfBounds')
  await revertsWith(t, send(COWSAY, [{ key: 'Message', value: 'x' }], GAS, 600, QUOTE - 1n), 'PaymentBelowQuote')
  await revertsWith(t, send(COWSAY, [{ key: 'b', value: '' }, { key: 'a', value: '' }], GAS, 600, QUOTE), 'InputsNotSorted')
  await revertsWith(t, send(COWSAY, [{ key: 'a', value: '' }, { key: 'a', value: '' }], GAS, 600, QUOTE), 'InputsNotSorted')
  await revertsWith(t, send(COWSAY, [{ key: '1x', value: '' }], GAS, 600, QUOTE), 'InvalidInputKey')
  await revertsWith(t, send(COWSAY, [{ key: 'a"b', value: '' }], GAS, 600, QUOTE), 'InvalidInputKey')
  await revertsWith(t, send(COWSAY, [{ key: 'Message', value: 'x'.repeat(4097) }], GAS, 600, QUOTE), 'InputsTooLarge')
  await revertsWith(t, send(COWSAY, Array.from({ length: 33 }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, value: '' })), GAS, 600, QUOTE), 'TooManyInputs')
  await net.stranger.cancelJob(jobId)
})

test.serial('a bridge picks up, completes with the deal that ran the requested module and inputs; the client gets CID, exit code and output; release pays the bridge', async t => {
  const jobId = await order(moo)
  const m = jm()
  await net.bridge.pickUpJob(jobId)
  t.is((await net.bridge.contractJob(jobId)).status, 'PickedUp')
  await revertsWith(t, net.stranger.cancelJob(jobId), 'NotClient')
  const { offer, deal, id } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-cow' })
  const bond0 = await net.bridge.bondOf()
  await net.bridge.completeJob(jobId, offer, deal, 'bafy-cow', 0, output)
  const rec = await heavy.records(jobId)
  t.is(rec.cid, 'bafy-cow')
  t.is(rec.exitCode, 0n)
  t.is(Buffer.from(rec.output.slice(2), 'hex').toString(), new TextDecoder().decode(output))
  const view = await net.bridge.contractJob(jobId)
  t.like(view, { status: 'Delivered', bridge: net.bridge.address, dealId: id, resultCid: 'bafy-cow', exitCode: 0, callbackPending: false })
  const lock = QUOTE + TEST_JOB_MANAGER.jobBond
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free - lock, locked: bond0.locked + lock })

  await revertsWith(t, net.stranger.releaseJobs([jobId]), 'DisputeWindowOpen')
  await increaseTime(net.provider, TEST_JOB_MANAGER.disputeWindow + 1)
  await revertsWith(t, net.stranger.queue.send('dispute', async () => await heavy.dispute.populateTransaction(jobId)), 'DisputeWindowClosed')
  await net.stranger.releaseJobs([jobId])
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free + QUOTE, locked: bond0.locked })
  t.is((await net.bridge.contractJob(jobId)).status, 'Completed')
  await revertsWith(t, net.stranger.releaseJobs([jobId]), 'WrongJobStatus')
  const released = await events(m.filters.JobReleased(jobId))
  t.is(released[0].args.payment, QUOTE)
  // the bridge can take its earnings and free bond out
  const wallet0 = await net.bridge.tokenBalance()
  await net.bridge.withdrawBond(QUOTE)
  t.is(await net.bridge.tokenBalance(), wallet0 + QUOTE)
})

test.serial('attack: a stranger registered as job creator can neither pick up, fail nor complete a job', async t => {
  const jobId = await order(moo)
  const attacker = net.outsider
  await attacker.register(Roles.JobCreator, 'peer-attacker')
  await revertsWith(t, attacker.register(Roles.JobCreator | Roles.Bridge, 'peer-attacker'), 'BridgeNotApproved')
  await revertsWith(t, attacker.pickUpJob(jobId), 'NotABridge')
  await revertsWith(t, attacker.failJob(jobId, 'grief'), 'NotABridge')
  // its own deal (its key as job creator, the stranger's as provider) with a made-up CID
  await attacker.deposit(LP(100))
  const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-made-up', bridge: attacker, rp: net.rp2 })
  await revertsWith(t, attacker.completeJob(jobId, offer, deal, 'bafy-made-up', 0, output), 'NotABridge')
  t.is((await net.bridge.contractJob(jobId)).status, 'Open')
  await net.stranger.queue.send('cancel', async () => await heavy.cancel.populateTransaction(jobId))
})

test.serial('attack: a completion for another module or other inputs, or with a job offer the deal does not name, is refused', async t => {
  const jobId = await order(moo)
  const other = await agreeJobDeal(net, { inputs: { Message: 'baa' }, cid: 'bafy-baa' })
  await revertsWith(t, net.bridge.completeJob(jobId, other.offer, other.deal, 'bafy-baa', 0, output), 'RequestMismatch')
  await net.admin.setModulePrice('primes:v0.1.0', LP(1))
  const otherModule = await agreeJobDeal(net, { module: 'primes:v0.1.0', inputs: moo, cid: 'bafy-primes' })
  await revertsWith(t, net.bridge.completeJob(jobId, otherModule.offer, otherModule.deal, 'bafy-primes', 0, output), 'RequestMismatch')
  // the right offer, but a deal that names another one
  const { offer } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-x', submit: false })
  await revertsWith(t, net.bridge.completeJob(jobId, offer, other.deal, 'bafy-baa', 0, output), 'JobOfferMismatch')
  // someone else's deal and offer
  const theirs = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-theirs', bridge: bridge2 })
  await revertsWith(t, net.bridge.completeJob(jobId, theirs.offer, theirs.deal, 'bafy-theirs', 0, output), 'NotDealJobCreator')
  // a CID the provider never submitted, and a deal with no result at all
  const ok = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-real' })
  await revertsWith(t, net.bridge.completeJob(jobId, ok.offer, ok.deal, 'bafy-invented', 0, output), 'ResultMismatch')
  const unsubmitted = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-none', submit: false })
  await revertsWith(t, net.bridge.completeJob(jobId, unsubmitted.offer, unsubmitted.deal, 'bafy-none', 0, output), 'ResultMismatch')
  await revertsWith(t, net.bridge.completeJob(jobId, ok.offer, ok.deal, 'bafy-real', 0, new Uint8Array(1025)), 'OutputTooLong')
  // the right one goes through, once
  await net.bridge.completeJob(jobId, ok.offer, ok.deal, 'bafy-real', 0, output)
  const second = await order(moo)
  await revertsWith(t, net.bridge.completeJob(second, ok.offer, ok.deal, 'bafy-real', 0, output), 'DealAlreadyUsed')
  await net.bridge.failJob(second, 'cleanup')
})

test.serial('a result under challenge or judged wrong by the Market\'s mediator cannot complete a job', async t => {
  const jobId = await order(moo)
  const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-bad' })
  const mediator = await net.bridge.challenge(deal)
  await revertsWith(t, net.bridge.completeJob(jobId, offer, deal, 'bafy-bad', 0, output), 'ResultNotStanding')
  await (mediator === net.m1.address ? net.m1 : net.m2).mediate(deal, false)
  await revertsWith(t, net.bridge.completeJob(jobId, offer, deal, 'bafy-bad', 0, output), 'ResultNotStanding')
  await net.bridge.failJob(jobId, 'the result was judged wrong by the mediator')
  t.is(await heavy.failures(jobId), 'the result was judged wrong by the mediator')
})

test.serial('attack: a bridge completing with a deal between its own keys and a made-up CID loses its bond when the client disputes', async t => {
  const jobId = await order(moo)
  const client0 = await lp().balanceOf(heavyAddr)
  // the bridge's accomplice (rp2) "runs" it and submits a CID that is not the job's result
  const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-made-up', rp: net.rp2 })
  const bond0 = await net.bridge.bondOf()
  await net.bridge.completeJob(jobId, offer, deal, 'bafy-made-up', 0, output)
  t.is((await heavy.records(jobId)).cid, 'bafy-made-up')
  // the client disputes in time, paying the fee; a Directory mediator is drawn after the dispute's block (anyone
  // may draw: the bridge's node does; contracts/test/job-mediator-draw.test.ts attacks the draw)
  await net.stranger.queue.send('dispute', async () => await heavy.dispute.populateTransaction(jobId))
  const view = await net.bridge.contractJob(jobId)
  t.is(view.status, 'Disputed')
  const drawn = await net.bridge.drawJobMediator(jobId)
  const [disputed] = await events(jm().filters.JobMediatorDrawn(jobId))
  t.is(disputed.args.mediator, drawn)
  const mediator = disputed.args.mediator === net.m1.address ? net.m1 : net.m2
  const other = mediator === net.m1 ? net.m2 : net.m1
  await revertsWith(t, other.mediateJob(jobId, true), 'NotJobMediator')
  await revertsWith(t, net.bridge.releaseJobs([jobId]), 'WrongJobStatus')
  const mediatorWallet0 = await mediator.tokenBalance()
  // it re-ran the job and the result does not match
  await mediator.mediateJob(jobId, false)
  const lock = QUOTE + TEST_JOB_MANAGER.jobBond
  const fee = TEST_JOB_MANAGER.disputeFee
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free - lock, locked: bond0.locked }, 'the lock is slashed')
  t.is(await mediator.tokenBalance(), mediatorWallet0 + fee, 'the mediator is paid from the slash')
  // client: paid QUOTE and the fee; gets QUOTE back, the fee back, and the lock less the mediator's fee
  t.is(await lp().balanceOf(heavyAddr), client0 - fee + QUOTE + lock)
  t.is((await net.bridge.contractJob(jobId)).status, 'Overturned')
  t.is(await heavy.failures(jobId), 'result judged wrong')
  t.is(await heavy.failed() > 0n, true)
  await revertsWith(t, net.bridge.releaseJobs([jobId]), 'WrongJobStatus')
})

test.serial('a dispute the mediator rejects pays the bridge and the mediator; one it never answers pays the bridge and returns the fee', async t => {
  const fee = TEST_JOB_MANAGER.disputeFee
  const run = async (): Promise<{ jobId: bigint, mediator: ChainClient }> => {
    const jobId = await order(moo)
    const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid: `bafy-good-${jobId}` })
    await net.bridge.completeJob(jobId, offer, deal, `bafy-good-${jobId}`, 0, output)
    await net.stranger.queue.send('dispute', async () => await heavy.dispute.populateTransaction(jobId))
    const drawn = await net.bridge.drawJobMediator(jobId)
    return { jobId, mediator: drawn === net.m1.address ? net.m1 : net.m2 }
  }
  const a = await run()
  const bond0 = await net.bridge.bondOf()
  const client0 = await lp().balanceOf(heavyAddr)
  const med0 = await a.mediator.tokenBalance()
  await a.mediator.mediateJob(a.jobId, true)
  t.is((await net.bridge.contractJob(a.jobId)).status, 'Completed')
  t.is(await a.mediator.tokenBalance(), med0 + fee, 'the client that disputed a good result paid the mediator')
  t.is(await lp().balanceOf(heavyAddr), client0)
  const lock = QUOTE + TEST_JOB_MANAGER.jobBond
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free + lock + QUOTE, locked: bond0.locked - lock })

  const b = await run()
  const client1 = await lp().balanceOf(heavyAddr)
  await revertsWith(t, net.stranger.timeoutJobDispute(b.jobId), 'MediationWindowOpen')
  await increaseTime(net.provider, TEST_JOB_MANAGER.mediationWindow + 1)
  await revertsWith(t, b.mediator.mediateJob(b.jobId, false), 'MediationWindowClosed')
  await net.stranger.timeoutJobDispute(b.jobId)
  t.is((await net.bridge.contractJob(b.jobId)).status, 'Completed')
  t.is(await lp().balanceOf(heavyAddr), client1 + fee, 'the fee comes back when the mediator fails')
})

test.serial('cancel before pickup refunds; a bridge picked up by another bridge is refused; failJob refunds and says why, also after the deadline; anyone refunds an expired job', async t => {
  const a = await order(moo)
  const before = await lp().balanceOf(heavyAddr)
  await net.stranger.queue.send('cancel', async () => await heavy.cancel.populateTransaction(a))
  t.is(await lp().balanceOf(heavyAddr), before + QUOTE)
  t.is((await net.bridge.contractJob(a)).status, 'Cancelled')
  await revertsWith(t, net.bridge.pickUpJob(a), 'WrongJobStatus')

  const b = await order(moo)
  await bridge2.pickUpJob(b)
  await revertsWith(t, net.stranger.queue.send('cancel', async () => await heavy.cancel.populateTransaction(b)), 'WrongJobStatus')
  await revertsWith(t, net.bridge.failJob(b, 'not mine'), 'PickedUpByAnother')
  const theirs = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-b' })
  await revertsWith(t, net.bridge.completeJob(b, theirs.offer, theirs.deal, 'bafy-b', 0, output), 'PickedUpByAnother')
  await revertsWith(t, bridge2.failJob(b, 'r'.repeat(257)), 'ReasonTooLong')
  const before2 = await lp().balanceOf(heavyAddr)
  await bridge2.failJob(b, 'no provider would take it')
  t.is(await lp().balanceOf(heavyAddr), before2 + QUOTE)
  t.is(await heavy.failures(b), 'no provider would take it')

  const c = await order(moo, GAS, 60)
  const d = await order(moo, GAS, 60)
  await net.bridge.pickUpJob(d)
  await revertsWith(t, net.stranger.refundExpired(c), 'JobNotExpired')
  await increaseTime(net.provider, 61)
  await revertsWith(t, net.bridge.pickUpJob(c), 'JobExpired')
  const late = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-late' })
  await revertsWith(t, net.bridge.completeJob(d, late.offer, late.deal, 'bafy-late', 0, output), 'JobExpired')
  await net.bridge.failJob(d, 'expired: the deadline passed before the bridge could run it')
  t.is(await heavy.failures(d), 'expired: the deadline passed before the bridge could run it')
  await net.outsider.refundExpired(c)
  t.is(await heavy.failures(c), 'expired')
  t.is((await net.bridge.contractJob(c)).status, 'Expired')
})

test.serial('callback gas: a heavy callback and a long failure reason arrive when the bridge sends with eth_estimateGas; a limit too low reverts instead of starving the callback', async t => {
  // storing 1 KiB of output costs ~750k gas: the client asks (and pays) for a million
  const jobId = await order({ Message: 'heavy' }, 1_000_000)
  const { offer, deal } = await agreeJobDeal(net, { inputs: { Message: 'heavy' }, cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' })
  const big = new Uint8Array(1024).fill(0x41)
  // what the issue saw: a limit from eth_estimateGas. With the contract refusing to call with less than the
  // client paid for, the estimate must include the whole callback.
  const request = await net.bridge.jobManager.completeJob.populateTransaction(jobId, offer, deal, 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', 0, big)
  const estimate = await net.provider.estimateGas({ ...request, from: net.bridge.address })
  await revertsWith(t, net.bridge.queue.send('completeJob starved', async () => request, { gasLimit: estimate - 30_000n }), 'InsufficientCallbackGas')
  t.is((await net.bridge.contractJob(jobId)).status, 'Open', 'a starved attempt changes nothing')
  await net.bridge.completeJob(jobId, offer, deal, 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', 0, big)
  const rec = await heavy.records(jobId)
  t.true(rec.done)
  t.is(rec.cid, 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
  t.is(rec.output.length, 2 + 2048)
  t.false((await net.bridge.contractJob(jobId)).callbackPending)

  const failing = await order({ Message: 'heavy' }, 400_000)
  const reason = 'ModuleNotFoundError: module cowsay:v0.0.2 is not on this bridge\'s allow-list (cowsay:v0.0.1, primes:v0.1.0, wordcount:v0.1.0); a 113-byte reason starved before: ' + 'x'.repeat(60)
  t.true(reason.length > 200 && reason.length <= 256)
  await net.bridge.failJob(failing, reason)
  t.is(await heavy.failures(failing), reason)
  t.false((await net.bridge.contractJob(failing)).callbackPending)
})

test.serial('a reverting client cannot block or rob anyone: its 64 KiB revert data is cut, the result stays readable, and the callback can be retried', async t => {
  const deployed = await net.admin.queue.send('deploy RevertingClient', async () => await revertingClientFactory(net.admin.wallet).getDeployTransaction(net.deployment.contracts.jobManager))
  const address = deployed.contractAddress!
  const broken: RevertingClientContract = connectRevertingClient(address, net.stranger.wallet)
  await net.stranger.queue.send('fund', async () => await net.stranger.token.transfer.populateTransaction(address, LP(20)))
  const orderBroken = async (): Promise<bigint> => requestedJobId(await net.stranger.queue.send('order', async () => await broken.order.populateTransaction(COWSAY, GAS, 3600)))
  const done = await orderBroken()
  const { offer, deal, id } = await agreeJobDeal(net, { cid: 'bafy-ok' })
  await net.bridge.completeJob(done, offer, deal, 'bafy-ok', 7, output)
  const [failed] = await events(jm().filters.ClientCallbackFailed(done))
  t.is(failed.args.reason.length, 2 + 2 * 256, 'revert data cut to 256 bytes')
  const view = await net.stranger.contractJob(done)
  t.like(view, { status: 'Delivered', callbackPending: true, resultCid: 'bafy-ok', exitCode: 7, dealId: id })

  const refused = await orderBroken()
  await net.bridge.failJob(refused, 'no provider')
  t.true((await net.stranger.contractJob(refused)).callbackPending)
  t.is(await lp().balanceOf(address), LP(20) - 2n * QUOTE + QUOTE, 'the refund arrived although the callback reverted')

  await revertsWith(t, net.outsider.retryCallback(done, new Uint8Array([1, 2, 3])), 'PayloadMismatch')
  // while the client is still broken a retry just fails again (with all the gas it paid for)
  await net.outsider.retryCallback(done, output)
  t.true((await net.stranger.contractJob(done)).callbackPending)
  await net.stranger.queue.send('fix', async () => await broken.fix.populateTransaction())
  await net.outsider.retryCallback(done, output)
  await net.outsider.retryCallback(refused, 'no provider')
  t.is(await broken.delivered(), 2n)
  t.false((await net.stranger.contractJob(done)).callbackPending)
  await revertsWith(t, net.outsider.retryCallback(done, output), 'CallbackNotPending')
  t.is((await events(jm().filters.ClientCallbackDelivered())).length, 2)
})

test.serial('an EOA client gets no callback but the same accounting; the ExampleClient keeps the cow', async t => {
  const jobId = await net.stranger.requestJob(COWSAY, moo, { callbackGasLimit: 10_000, timeout: 600 })
  const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-eoa' })
  await net.bridge.completeJob(jobId, offer, deal, 'bafy-eoa', 0, output)
  t.like(await net.stranger.contractJob(jobId), { status: 'Delivered', callbackPending: false, resultCid: 'bafy-eoa' })

  const client = connectExampleClient(net.deployment.contracts.exampleClient!, net.stranger.wallet)
  const r = await net.stranger.queue.send('runCowsay', async () => await client.runCowsay.populateTransaction('moo'))
  const ex = requestedJobId(r)
  const done = await agreeJobDeal(net, { inputs: moo, cid: 'bafy-example' })
  await net.bridge.completeJob(ex, done.offer, done.deal, 'bafy-example', 0, output)
  t.is(await client.results(ex), 'bafy-example')
  t.is(await client.exitCodes(ex), 0n)
  await revertsWith(t, net.stranger.queue.send('forge callback', async () => await client.lilypadJobCompleted.populateTransaction(ex, 'bafy-forged', 0, '0x')), 'NotJobManager')
})

test.serial('the JobManager\'s job offer id and inputs JSON agree with protocols/', async t => {
  const { offer, deal } = await agreeJobDeal(net, { inputs: { B: '1', a: 'é\u0001"' }, cid: 'bafy-id', submit: false })
  t.is(await jm().jobOfferId(offer), deal.jobOfferId)
  t.is(await jm().inputsJson([{ key: 'B', value: '1' }, { key: 'a', value: 'é\u0001"' }]), offer.inputs)
})

test.serial('only owner-approved bridges and mediators hold their roles; a revoked bridge stops', async t => {
  const dir = connectDirectory(net.deployment.contracts.directory, net.provider)
  await revertsWith(t, net.outsider.register(Roles.Mediator, 'peer-x'), 'MediatorNotApproved')
  await revertsWith(t, net.stranger.approveBridge(net.stranger.address), 'OwnableUnauthorizedAccount')
  await net.outsider.register(Roles.ResourceProvider | Roles.Solver, 'peer-x', 'bafy-meta')
  t.true([...await dir.listByRole(Roles.Solver)].includes(net.outsider.address))
  t.false(await dir.isMediator(net.outsider.address))
  t.true(await dir.isMediator(net.m1.address))
  t.is(await dir.mediatorCount(), 2n)
  t.deepEqual([...await dir.listByRole(Roles.Mediator)].sort(), [net.m1.address, net.m2.address].sort())
  t.is((await dir.nodeOf(net.outsider.address)).peerId, 'peer-x')
  t.true(await dir.isBridge(bridge2.address))
  const jobId = await order(moo)
  await net.admin.revokeBridge(bridge2.address)
  t.false(await dir.isBridge(bridge2.address))
  await revertsWith(t, bridge2.pickUpJob(jobId), 'NotABridge')
  await net.bridge.failJob(jobId, 'cleanup')
  await revertsWith(t, net.stranger.setModulePrice('evil:v1', 1n), 'OwnableUnauthorizedAccount')
  await revertsWith(t, net.admin.setModulePrice('', 1n), 'InvalidModule')
  t.is(await jm().modulePrice(COWSAY), TEST_MODULE_PRICE)
  t.is((await dir.nodeOf(bridge2.address)).roles, BigInt(Roles.JobCreator), 'revocation drops the bridge role only')
})

test.serial('the faucet drips up to its per-period cap', async t => {
  const before = await net.outsider.tokenBalance()
  for (let i = 0; i < 10; i++) await net.outsider.claimFaucet()
  t.is(await net.outsider.tokenBalance(), before + LP(10_000))
  await revertsWith(t, net.outsider.claimFaucet(), 'FaucetCapReached')
  await increaseTime(net.provider, 86_401)
  await net.outsider.claimFaucet()
  t.is(await net.outsider.tokenBalance(), before + LP(11_000))
  // A day ahead of the wall clock now: a permit deposit must still work (its deadline follows chain time).
  await net.outsider.deposit(LP(1))
  t.true(await net.outsider.depositOf() >= LP(1))
  // and a deal agreed now still gets an expiry the Market accepts
  await agreeDeal(net)
})
