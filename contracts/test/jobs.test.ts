// Contract-triggered jobs (JobManager + ExampleClient), the Directory's mediator gate and the Faucet's cap.
import test, { type ExecutionContext } from 'ava'
import { startDevnet, agreeDeal, increaseTime, LP, type Devnet } from '../fixture.ts'
import { Roles, ContractRevertError } from '../../node/chain/index.ts'
import {
  connectExampleClient, connectJobManager, connectLilypadToken, revertingClientFactory, connectRevertingClient, connectDirectory
} from '../generated/index.ts'
import type { ChainClient } from '../../node/chain/index.ts'

let net: Devnet
let bridge: ChainClient
test.before(async () => {
  net = await startDevnet({ exampleClient: true })
  bridge = net.jc2 // a job-creator node acting as the on-chain bridge
  await bridge.register(Roles.JobCreator, 'peer-bridge')
})
test.after.always(async () => { await net?.stop() })

async function revertsWith (t: ExecutionContext, p: Promise<unknown>, reason: string): Promise<void> {
  const err = await t.throwsAsync(p)
  t.is(err?.name, ContractRevertError.name)
  t.is((err as unknown as { reason: string }).reason, reason)
}

/** Orders cowsay through the ExampleClient and returns the job id from the JobRequested event. */
async function orderCowsay (message: string): Promise<bigint> {
  const client = connectExampleClient(net.deployment.contracts.exampleClient!, net.stranger.provider)
  const r = await net.stranger.queue.send('runCowsay', async () => await client.runCowsay.populateTransaction(message))
  const jm = connectJobManager(net.deployment.contracts.jobManager, net.provider)
  for (const log of r.logs) {
    const parsed = jm.interface.parseLog(log)
    if (parsed?.name === 'JobRequested') {
      const inputs = parsed.args.inputs as Array<[string, string]>
      lastRequest = { module: parsed.args.module as string, key: inputs[0][0], value: inputs[0][1] }
      return parsed.args.jobId as bigint
    }
  }
  throw new Error('no JobRequested event')
}

let lastRequest: { module: string, key: string, value: string } | undefined

test.serial('runJob → deal with a result → completeJob: the client holds the CID, the bridge is paid', async t => {
  const client = connectExampleClient(net.deployment.contracts.exampleClient!, net.provider)
  const token = connectLilypadToken(net.deployment.contracts.token, net.provider)
  const clientBefore = await token.balanceOf(await client.getAddress())
  const jobId = await orderCowsay('moo')
  t.deepEqual(lastRequest, { module: 'cowsay:v0.0.1', key: 'Message', value: 'moo' })
  t.is(await token.balanceOf(await client.getAddress()), clientBefore - LP(10))

  const { deal } = await agreeDeal(net, {}, bridge, net.rp)
  await net.rp.submitResult(deal, 'bafy-cow')
  await revertsWith(t, bridge.completeJob(jobId, deal, 'bafy-invented'), 'ResultMismatch')
  await revertsWith(t, net.rp.completeJob(jobId, deal, 'bafy-cow'), 'NotABridge')
  const bridgeBefore = await bridge.tokenBalance()
  await bridge.completeJob(jobId, deal, 'bafy-cow')
  t.is(await client.results(jobId), 'bafy-cow')
  t.is(await bridge.tokenBalance(), bridgeBefore + LP(10))
  await revertsWith(t, bridge.completeJob(jobId, deal, 'bafy-cow'), 'JobNotOpen')
  // The same deal cannot complete a second job.
  const second = await orderCowsay('moo again')
  await revertsWith(t, bridge.completeJob(second, deal, 'bafy-cow'), 'DealAlreadyUsed')
  await bridge.failJob(second, 'cleanup')
})

test.serial('a result the mediator judged wrong cannot complete a job', async t => {
  const jobId = await orderCowsay('bad')
  const { deal } = await agreeDeal(net, {}, bridge, net.rp)
  await net.rp.submitResult(deal, 'bafy-bad')
  const mediator = await bridge.challenge(deal)
  await (mediator === net.m1.address ? net.m1 : net.m2).mediate(deal, false)
  await revertsWith(t, bridge.completeJob(jobId, deal, 'bafy-bad'), 'ResultMismatch')
  await bridge.failJob(jobId, 'result judged wrong')
})

test.serial('failJob refunds the client and tells it why', async t => {
  const client = connectExampleClient(net.deployment.contracts.exampleClient!, net.provider)
  const token = connectLilypadToken(net.deployment.contracts.token, net.provider)
  const before = await token.balanceOf(await client.getAddress())
  const jobId = await orderCowsay('nobody home')
  await revertsWith(t, net.stranger.failJob(jobId, 'grief'), 'NotABridge')
  await bridge.failJob(jobId, 'no provider')
  t.is(await token.balanceOf(await client.getAddress()), before)
  t.is(await client.failures(jobId), 'no provider')
})

test.serial('refundExpired after the deadline refunds the client; payment below the minimum is refused', async t => {
  const client = connectExampleClient(net.deployment.contracts.exampleClient!, net.provider)
  const token = connectLilypadToken(net.deployment.contracts.token, net.provider)
  const before = await token.balanceOf(await client.getAddress())
  const jobId = await orderCowsay('slow')
  await revertsWith(t, net.stranger.refundExpired(jobId), 'JobNotExpired')
  await increaseTime(net.provider, 3601)
  const { deal } = await agreeDeal(net, {}, bridge, net.rp)
  await net.rp.submitResult(deal, 'bafy-late')
  await revertsWith(t, bridge.completeJob(jobId, deal, 'bafy-late'), 'JobExpired')
  await net.stranger.refundExpired(jobId)
  t.is(await token.balanceOf(await client.getAddress()), before)
  t.is(await client.failures(jobId), 'expired')

  const jm = connectJobManager(net.deployment.contracts.jobManager, net.provider)
  await revertsWith(t, net.stranger.queue.send('runJob', async () => await jm.runJob.populateTransaction('cowsay:v0.0.1', [], 0, 60)), 'PaymentTooLow')
})

test.serial('a client whose callbacks revert does not lock funds', async t => {
  const admin = net.admin
  const factory = revertingClientFactory(admin.wallet)
  const deployed = await admin.queue.send('deploy RevertingClient', async () => await factory.getDeployTransaction(net.deployment.contracts.jobManager))
  const address = deployed.contractAddress!
  const token = connectLilypadToken(net.deployment.contracts.token, admin.provider)
  const broken = connectRevertingClient(address, admin.provider)
  const jm = connectJobManager(net.deployment.contracts.jobManager, net.provider)
  await net.stranger.queue.send('fund broken client', async () => await connectLilypadToken(net.deployment.contracts.token, null).transfer.populateTransaction(address, LP(20)))
  const order = async (): Promise<bigint> => {
    const r = await net.stranger.queue.send('order', async () => await broken.order.populateTransaction(LP(10), 60))
    for (const log of r.logs) {
      const p = jm.interface.parseLog(log)
      if (p?.name === 'JobRequested') return p.args.jobId as bigint
    }
    throw new Error('no JobRequested')
  }
  const done = await order()
  const { deal } = await agreeDeal(net, {}, bridge, net.rp)
  await net.rp.submitResult(deal, 'bafy-ok')
  const bridgeBefore = await bridge.tokenBalance()
  await bridge.completeJob(done, deal, 'bafy-ok')
  t.is(await bridge.tokenBalance(), bridgeBefore + LP(10))
  t.is((await jm.jobs(done)).state, 2n)

  const failed = await order()
  await bridge.failJob(failed, 'no provider')
  t.is(await token.balanceOf(address), LP(10))
  const failures = await jm.queryFilter(jm.filters.ClientCallbackFailed(), 0)
  t.is(failures.length, 2)
})

test.serial('only owner-approved mediators can take the mediator role', async t => {
  await revertsWith(t, net.outsider.register(Roles.Mediator, 'peer-x'), 'MediatorNotApproved')
  await net.outsider.register(Roles.ResourceProvider | Roles.Solver, 'peer-x', 'bafy-meta')
  const dir = connectDirectory(net.deployment.contracts.directory, net.provider)
  t.true([...await dir.listByRole(Roles.Solver)].includes(net.outsider.address))
  t.false(await dir.isMediator(net.outsider.address))
  t.true(await dir.isMediator(net.m1.address))
  t.deepEqual([...await dir.listByRole(Roles.Mediator)].sort(), [net.m1.address, net.m2.address].sort())
  t.is((await dir.nodeOf(net.outsider.address)).peerId, 'peer-x')
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
  t.is(await net.outsider.depositOf(), LP(1))
})
