// A disputed contract job's mediator, drawn unbiasably and attacked (docs/mediation.md, "Unbiasable draws", the
// JobManager's part): `disputeJob` records its block B and draws nobody; the mediator is the Directory's mediator at
// keccak256(abi.encode(jobId, blockhash(B))) mod n (skipping the job's client and bridge), fixed by the first
// `drawJobMediator` from B + 1 to B + 256. A client that picks its moment to dispute cannot pick its mediator; nobody
// can fix the draw inside B; past 256 blocks nobody can be drawn and the dispute ends as a silent mediator's would.
// After every test the JobManager holds exactly the open jobs' payments, the disputed jobs' fees and the bonds.
import test, { type ExecutionContext } from 'ava'
import { AbiCoder, keccak256 } from 'ethers'
import { startDevnet, jobManagerHoldings, sendUnlocked, minedOutcome, agreeJobDeal, increaseTime, COWSAY, TEST_MODULE_PRICE, TEST_CALLBACK_GAS_PRICE, TEST_JOB_MANAGER, type Devnet } from '../fixture.ts'
import type { ChainClient } from '../../node/chain/index.ts'
import { connectJobManager, connectLilypadToken, connectDirectory } from '../generated/index.ts'

let net: Devnet
const GAS = 50_000
const QUOTE = TEST_MODULE_PRICE + BigInt(GAS) * TEST_CALLBACK_GAS_PRICE
const FEE = TEST_JOB_MANAGER.disputeFee
const LOCK = QUOTE + TEST_JOB_MANAGER.jobBond
const moo = { Message: 'moo' }
const output = new TextEncoder().encode(' _____\n< moo >\n -----\n')

test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })
test.afterEach.always(async t => { if (net !== undefined) await assertConserved(t) })

const jm = (): ReturnType<typeof connectJobManager> => connectJobManager(net.deployment.contracts.jobManager, net.provider)
const lp = (): ReturnType<typeof connectLilypadToken> => connectLilypadToken(net.deployment.contracts.token, net.provider)

async function assertConserved (t: ExecutionContext): Promise<void> {
  const { balance, accounted } = await jobManagerHoldings(net)
  t.is(balance, accounted, 'JobManager balance = open payments + dispute fees + bonds')
}

/** A JobManager call sent straight through anvil, for steps inside an evm_snapshot (fixture `sendUnlocked`). */
async function raw (from: string, fn: string, args: unknown[]): Promise<{ status: number, blockNumber: number, error?: string }> {
  return await outcome(await send(from, fn, args))
}

async function send (from: string, fn: string, args: unknown[]): Promise<string> {
  return await sendUnlocked(net, from, net.deployment.contracts.jobManager, jm().interface.encodeFunctionData(fn, args))
}

const outcome = async (hash: string): Promise<{ status: number, blockNumber: number, error?: string }> => await minedOutcome(net, hash)

async function reason (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return (err as { reason?: string }).reason ?? (err as Error).name }
  return 'succeeded'
}

/** The mediator the rule names for a job disputed in a block with hash `hash` (the client and bridge skipped). */
async function expectedMediator (jobId: bigint, hash: string, client: string, bridge: string): Promise<string> {
  const dir = connectDirectory(net.deployment.contracts.directory, net.provider)
  const n = await dir.mediatorCount()
  const start = BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'bytes32'], [jobId, hash])))
  for (let k = 0n; k < n && k < 3n; k++) {
    const m = await dir.mediatorAt((start + k) % n)
    if (m !== client && m !== bridge) return m
  }
  throw new Error('no mediator')
}

/** A job the stranger (an EOA) ordered and the bridge delivered: in its dispute window. */
async function delivered (): Promise<bigint> {
  const jobId = await net.stranger.requestJob(COWSAY, moo, { callbackGasLimit: GAS, timeout: 3600 })
  const cid = `bafy-job-${jobId}`
  const { offer, deal } = await agreeJobDeal(net, { inputs: moo, cid })
  await net.bridge.completeJob(jobId, offer, deal, cid, 0, output)
  // the fee a dispute takes (requestJob's approval was the quote's, spent)
  await net.stranger.queue.send('approve fee', async () => await net.stranger.token.approve.populateTransaction(net.deployment.contracts.jobManager, FEE))
  return jobId
}

/** The stranger disputes through its queue (outside snapshots: the queue keeps its nonce); the dispute's block. */
async function dispute (jobId: bigint): Promise<number> {
  const r = await net.stranger.queue.send('disputeJob', async () => await net.stranger.jobManager.disputeJob.populateTransaction(jobId))
  return r.blockNumber
}

const clientOf = (mediator: string): ChainClient => mediator === net.m1.address ? net.m1 : net.m2

test.serial('attack: a client that picks its block cannot pick its job\'s mediator — the same dispute from the same state lands on either, by its block\'s hash', async t => {
  const jobId = await delivered()
  const before = await net.provider.send('evm_snapshot', []) as string
  // What the disputing client knows when it sends: the latest block (hash, prevrandao) and the next block's number.
  // The old rule, keccak256(prevrandao, jobId) at once, was computable from what a proposer exposes ahead.
  const drawn = new Set<string>()
  for (let i = 0; i < 24; i++) {
    const snap = await net.provider.send('evm_snapshot', []) as string
    // the same dispute from the same state; the block it lands in differs by what else is in it (here a stranger's
    // transfer now and then, on a real chain any transaction, or the proposer's choices)
    if (i % 2 === 1) await net.provider.send('evm_setAutomine', [false])
    const sent = send(net.stranger.address, 'disputeJob', [jobId])
    if (i % 2 === 1) {
      await sent
      await net.provider.send('eth_sendTransaction', [{ from: net.outsider.address, to: net.deployment.contracts.token, data: lp().interface.encodeFunctionData('transfer', [net.admin.address, BigInt(i)]), gas: '0x100000' }])
      await net.provider.send('evm_mine', [])
      await net.provider.send('evm_setAutomine', [true])
    }
    const b = await outcome(await sent)
    t.is(b.status, 1, b.error)
    t.is((await jm().disputes(jobId)).mediator, '0x0000000000000000000000000000000000000000', 'nobody is drawn in the dispute\'s block')
    const [ev] = await jm().queryFilter(jm().filters.JobDisputed(jobId), b.blockNumber, b.blockNumber)
    t.is((ev as unknown as { args: { mediator: string } }).args.mediator, '0x0000000000000000000000000000000000000000', 'JobDisputed names no mediator')
    const r = await raw(net.outsider.address, 'drawJobMediator', [jobId])
    t.is(r.status, 1, r.error)
    const hash = (await net.provider.getBlock(b.blockNumber))!.hash!
    const mediator = (await jm().disputes(jobId)).mediator
    t.is(mediator, await expectedMediator(jobId, hash, net.stranger.address, net.bridge.address), 'the mediator is the dispute block hash\'s draw')
    const [drawnEv] = await jm().queryFilter(jm().filters.JobMediatorDrawn(jobId), r.blockNumber, r.blockNumber)
    t.is((drawnEv as unknown as { args: { mediator: string, client: string } }).args.mediator, mediator, 'JobMediatorDrawn names it')
    drawn.add(mediator)
    await net.provider.send('evm_revert', [snap])
  }
  t.deepEqual([...drawn].sort(), [net.m1.address, net.m2.address].sort(), 'the same dispute from the same state drew either mediator, by the block it landed in')
  await net.provider.send('evm_revert', [before])
  // (the job is left delivered; the bridge's lock is released after its window by the next tests' time moves)
  await increaseTime(net.provider, TEST_JOB_MANAGER.disputeWindow + 1)
  await net.bridge.releaseJobs([jobId])
})

test.serial('the draw is refused in the dispute\'s own block, is fixed once, the drawn mediator alone judges, and its window starts at the draw', async t => {
  const jobId = await delivered()
  const snap = await net.provider.send('evm_snapshot', []) as string
  // dispute and draw in one block: the draw cannot read the hash of the block it is in
  await net.provider.send('evm_setAutomine', [false])
  const sent = await send(net.stranger.address, 'disputeJob', [jobId])
  const early = await send(net.outsider.address, 'drawJobMediator', [jobId])
  await net.provider.send('evm_mine', [])
  await net.provider.send('evm_setAutomine', [true])
  const d = await outcome(sent)
  const e = await outcome(early)
  t.is(d.status, 1, d.error)
  t.is(e.blockNumber, d.blockNumber)
  t.deepEqual([e.status, e.error], [0, 'MediatorDrawNotReady'])
  await net.provider.send('evm_revert', [snap])

  // the same through the clients: ChainClient.disputeJob disputes, then draws in the next block
  const bridgeBond0 = await net.bridge.bondOf()
  const client0 = await net.stranger.tokenBalance()
  const mediator = await net.stranger.disputeJob(jobId)
  t.is(await net.stranger.tokenBalance(), client0 - FEE)
  t.is((await jm().disputes(jobId)).mediator, mediator)
  t.is(await reason(net.outsider.drawJobMediator(jobId)), 'MediatorAlreadyDrawn')
  const m = clientOf(mediator)
  const other = m === net.m1 ? net.m2 : net.m1
  t.is(await reason(other.mediateJob(jobId, false)), 'NotJobMediator')
  const med0 = await m.tokenBalance()
  await m.mediateJob(jobId, true)
  t.is((await net.stranger.contractJob(jobId)).status, 'Completed')
  t.is(await m.tokenBalance(), med0 + FEE, 'the mediator takes the fee of a client that disputed a good result')
  t.is(await net.stranger.tokenBalance(), client0 - FEE)
  t.deepEqual(await net.bridge.bondOf(), { free: bridgeBond0.free + LOCK + QUOTE, locked: bridgeBond0.locked - LOCK })
  t.is(await reason(net.outsider.drawJobMediator(jobId)), 'WrongJobStatus')
})

test.serial('a late draw gives the mediator its whole window: the timeout counts from the draw', async t => {
  const jobId = await delivered()
  await dispute(jobId)
  // undrawn, nobody but a drawn mediator judges
  t.is(await reason(net.m1.mediateJob(jobId, false)), 'NotJobMediator')
  t.is(await reason(net.m2.mediateJob(jobId, false)), 'NotJobMediator')
  // most of the window from the dispute's start passes (a few blocks), then someone draws
  await increaseTime(net.provider, TEST_JOB_MANAGER.mediationWindow - 60)
  const drawn = await net.outsider.drawJobMediator(jobId)
  const drawTime = (await net.provider.getBlock('latest'))!.timestamp
  const d = await jm().disputes(jobId)
  t.is(Number(d.deadline), drawTime + TEST_JOB_MANAGER.mediationWindow, 'the window starts at the draw')
  t.is(Number((await jm().resultOf(jobId)).deadline), drawTime + TEST_JOB_MANAGER.mediationWindow)
  // past the window counted from the dispute's start: the mediator still has its own
  await increaseTime(net.provider, 120)
  t.is(await reason(net.outsider.timeoutJobDispute(jobId)), 'MediationWindowOpen')
  t.is(d.mediator, drawn)
  const m = clientOf(d.mediator)
  const bond0 = await net.bridge.bondOf()
  const client0 = await net.stranger.tokenBalance()
  const med0 = await m.tokenBalance()
  const other = m === net.m1 ? net.m2 : net.m1
  const other0 = await other.tokenBalance()
  await m.mediateJob(jobId, false)
  t.is((await net.stranger.contractJob(jobId)).status, 'Overturned')
  t.is(await m.tokenBalance(), med0 + FEE, 'the mediator is paid from the slash')
  t.is(await other.tokenBalance(), other0)
  // the client's payment, its fee, and the slashed lock less the mediator's fee
  t.is(await net.stranger.tokenBalance(), client0 + QUOTE + LOCK)
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free, locked: bond0.locked - LOCK }, 'the lock is slashed')
})

test.serial('past 256 blocks nobody can be drawn and the dispute times out as a silent mediator\'s would, counted from its start, to the wei', async t => {
  const jobId = await delivered()
  const b = await dispute(jobId)
  // the last block the draw may use is B + 256 (BLOCKHASH still answers for B there)
  await net.provider.send('anvil_mine', ['0xff']) // 255 blocks: the next transaction lands in B + 256
  const snap = await net.provider.send('evm_snapshot', []) as string
  const last = await raw(net.outsider.address, 'drawJobMediator', [jobId])
  t.deepEqual([last.blockNumber, last.status], [b + 256, 1], last.error)
  await net.provider.send('evm_revert', [snap])
  await net.provider.send('anvil_mine', ['0x1'])
  // (estimated against the pending block, B + 257)
  t.is(await net.provider.getBlockNumber(), b + 256)
  t.is(await reason(net.outsider.drawJobMediator(jobId)), 'MediatorDrawClosed', 'waiting past 256 blocks buys no fresh draw')
  await net.provider.send('anvil_mine', ['0x100'])
  t.is(await reason(net.outsider.drawJobMediator(jobId)), 'MediatorDrawClosed', 'nor does waiting longer (BLOCKHASH reads zero)')
  t.is(await reason(net.m1.mediateJob(jobId, false)), 'NotJobMediator')
  t.is(await reason(net.m2.mediateJob(jobId, true)), 'NotJobMediator')
  // the window counts from the dispute's start while nobody is drawn
  const start = (await net.provider.getBlock(b))!.timestamp
  t.is(Number((await jm().disputes(jobId)).deadline), start + TEST_JOB_MANAGER.mediationWindow)
  const chainNow = (await net.provider.getBlock('latest'))!.timestamp
  if (chainNow <= start + TEST_JOB_MANAGER.mediationWindow) {
    t.is(await reason(net.outsider.timeoutJobDispute(jobId)), 'MediationWindowOpen')
    await increaseTime(net.provider, start + TEST_JOB_MANAGER.mediationWindow - chainNow + 1)
  }
  const bond0 = await net.bridge.bondOf()
  const client0 = await net.stranger.tokenBalance()
  const m10 = await net.m1.tokenBalance()
  const m20 = await net.m2.tokenBalance()
  const outsider0 = await net.outsider.tokenBalance()
  const jm0 = await lp().balanceOf(net.deployment.contracts.jobManager)
  await net.outsider.timeoutJobDispute(jobId)
  t.is((await net.stranger.contractJob(jobId)).status, 'Completed', 'the result stands')
  t.is(await net.stranger.tokenBalance(), client0 + FEE, 'the client gets its fee back')
  t.deepEqual(await net.bridge.bondOf(), { free: bond0.free + LOCK + QUOTE, locked: bond0.locked - LOCK }, 'the bridge is paid and its lock freed')
  t.is(await net.m1.tokenBalance(), m10, 'no mediator is paid')
  t.is(await net.m2.tokenBalance(), m20)
  t.is(await net.outsider.tokenBalance(), outsider0, 'the caller gains nothing')
  t.is(await lp().balanceOf(net.deployment.contracts.jobManager), jm0 - FEE, 'only the fee leaves the JobManager')
  t.is(await reason(net.outsider.drawJobMediator(jobId)), 'WrongJobStatus')
})
