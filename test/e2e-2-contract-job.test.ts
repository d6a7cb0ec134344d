// End-to-end 2: a contract orders a job. A real signer calls ExampleClient.runCowsay("hello"); the JobManager
// emits JobRequested; the bridge node (LilypadNode with the job-bridge role: a JobCreator plus the JobBridge,
// on the devnet's approved and bonded bridge key) picks it up, runs it through the network on a real provider
// node (Docker, Helia), then completeJob hands the client contract the result CID, the exit code and the cow
// itself (stdout inline), and anyone can fetch the CID from the provider. A module outside the bridge's allow-list
// is failed and the client refunded; a job requested while the bridge was down is picked up when it comes back; a client written
// only against the developer package (contracts/package) gets its callback the same way. A client's dispute has its
// mediator drawn by the bridge node at once, from the dispute block's hash (or when it restarts), and the drawn
// mediator node (the devnet's two Directory mediators run one each) re-runs the job the contract asked for and
// judges it: an honest result upheld, a cheating provider's wrong result overturned, a mediator down at the draw
// judging it when it comes back.
import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, increaseTime, jobManagerHoldings, LP, type Devnet } from '../contracts/fixture.ts'
import { Contract, ContractFactory, ZeroAddress, type EventLog } from 'ethers'
import { connectExampleClient, connectJobManager, connectLilypadToken } from '../contracts/generated/index.ts'
import { requestedJobId } from '../node/chain/index.ts'
import { RpcProxy } from '../node/testing/rpc-proxy.ts'
import { compileAgainstPackage } from './fixtures/package-client/compile.ts'
import { LilypadNode } from '../node/node.ts'
import { ensureBuiltinImages } from '../node/modules/index.ts'
import { ResultStore } from '../node/result-store/index.ts'
import { createHost, localMeshOptions, type LilypadHost } from '../node/host/index.ts'
import type { JobBridge, BridgeJobRecord } from '../node/roles/job-bridge.ts'
import type { JobDisputeRecord } from '../node/roles/job-mediator.ts'
import type { NetworkFile } from '../node/config/network.ts'

// The cow of Lilypad's hello world, saying hello.
const HELLO_COW = [
  ' _______',
  '< hello >',
  ' -------',
  '        \\   ^__^',
  '         \\  (oo)\\_______',
  '            (__)\\       )\\/\\',
  '                ||----w |',
  '                ||     ||',
  ''
].join('\n')

let net: Devnet
let tmp: string
let network: NetworkFile
let networkPath: string
let rpNode: LilypadNode
let bridgeNode: LilypadNode | undefined
/** the mediator nodes of the devnet's Directory mediators m1 (key 5) and m2 (key 6), by address */
const mediatorNodes = new Map<string, LilypadNode>()
let fetcher: ResultStore
let fetcherHost: LilypadHost
const exampleClient = (): string => network.contracts.exampleClient as string

async function startBridge (provider: LilypadNode = rpNode): Promise<{ node: LilypadNode, bridge: JobBridge }> {
  // key 9: approved as a bridge by the Directory's owner and bonded in the JobManager by startDevnet
  const n = await LilypadNode.create({ network, networkPath, privateKey: net.anvil.keys[9], dataDir: join(tmp, 'bridge'), roles: ['job-bridge'], local: true })
  await n.host.dial(multiaddr(provider.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
  bridgeNode = n
  return { node: n, bridge: n.bridge as unknown as JobBridge }
}

async function stopBridge (): Promise<void> {
  await bridgeNode?.stop()
  bridgeNode = undefined
}

const startProvider = async (key: string, name: string, fault?: 'wrong-result'): Promise<LilypadNode> =>
  await LilypadNode.create({ network, networkPath, privateKey: key, dataDir: join(tmp, name), roles: ['resource-provider'], local: true, provider: { price: LP(2), collateral: LP(10), announceIntervalMs: 2000, ...(fault !== undefined ? { fault } : {}) } })

/** Starts (or restarts, on the same data) the mediator nodes of m1 and m2 (on `rpcUrl`: default the devnet's). */
async function startMediators (mediator: { jobModules?: string[] } = {}, rpcUrl = network.rpcUrl): Promise<void> {
  for (const [key, name] of [[net.anvil.keys[5], 'm1'], [net.anvil.keys[6], 'm2']]) {
    const n = await LilypadNode.create({ network: { ...network, rpcUrl }, networkPath, privateKey: key, dataDir: join(tmp, name), roles: ['mediator'], local: true, mediator })
    // a DHT peer to publish its directory record to (alone, each publish waits out its timeout, and so does a stop)
    await n.host.dial(multiaddr(rpNode.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
    mediatorNodes.set(n.chain.address, n)
  }
}

async function stopMediators (): Promise<void> {
  for (const n of mediatorNodes.values()) await n.stop()
  mediatorNodes.clear()
}

/** Runs `fn` with the mediators restarted as told (and through `proxy`), then restarts them as they were. */
async function withMediators (mediator: { jobModules?: string[] }, proxy: RpcProxy | undefined, fn: () => Promise<void>): Promise<void> {
  await stopMediators()
  await startMediators(mediator, proxy?.url)
  try {
    await fn()
  } finally {
    await stopMediators()
    await proxy?.stop()
    await startMediators()
  }
}

/** Resolves with the drawn mediator node's record of `jobId`'s dispute once it judged, abstained or saw it end. */
async function judged (mediator: string, jobId: bigint): Promise<JobDisputeRecord> {
  const jobs = mediatorNodes.get(mediator)!.mediator!.jobs
  const id = `job-${jobId}`
  let off = (): void => {}
  const ended = new Promise<void>(resolve => {
    const on = (e: { jobId: string }): void => { if (e.jobId === String(jobId)) resolve() }
    jobs.on('verdict', on); jobs.on('abstained', on); jobs.on('closed', on)
    off = () => { jobs.off('verdict', on); jobs.off('abstained', on); jobs.off('closed', on) }
  })
  // (listening first: a case that ended meanwhile is either heard or already on disk)
  if ((await jobs.records.get(id))?.terminal !== true) await ended
  off()
  return (await jobs.records.get(id))!
}

/** Resolves with the bridge's record of `jobId` once it completed or failed it. */
async function settled (bridge: JobBridge, jobId: bigint): Promise<BridgeJobRecord> {
  const id = `job-${jobId}`
  const done = (r: BridgeJobRecord | undefined): boolean => r !== undefined && r.terminal
  const now = await bridge.jobs.get(id)
  if (done(now)) return now!
  for (;;) {
    const [r] = await Promise.race([once(bridge, 'completed'), once(bridge, 'failed')]) as [BridgeJobRecord]
    if (r.id === id) return r
  }
}

test.before(async () => {
  await ensureBuiltinImages(new Docker(), { only: ['cowsay:v0.0.1'] })
  net = await startDevnet({ exampleClient: true })
  tmp = await mkdtemp(join(tmpdir(), 'lilypad-e2e2-'))
  network = { ...net.deployment.network, rpcUrl: net.anvil.rpcUrl, mediators: [net.m1.address] }
  networkPath = join(tmp, 'network.json')
  await writeFile(networkPath, JSON.stringify(network))
  rpNode = await startProvider(net.anvil.keys[3], 'rp')
  await startMediators()
  // an outside Helia node on the network's own protocols (identify under the network prefix), no roles
  fetcherHost = await createHost({ networkId: network.networkId, domain: net.domain, ...localMeshOptions })
  fetcher = await ResultStore.create({ dataDir: join(tmp, 'fetcher'), libp2p: fetcherHost })
})

test.after.always(async () => {
  await stopBridge().catch(() => {})
  await stopMediators().catch(() => {})
  await rpNode?.stop().catch(() => {})
  await fetcher?.stop().catch(() => {})
  try { await fetcherHost?.stop() } catch {}
  await net?.jc.provider.send('eth_blockNumber', []).catch(() => {})
  await net?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

async function runCowsay (message: string): Promise<bigint> {
  const client = connectExampleClient(exampleClient(), net.stranger.wallet)
  const jobId = await client.runCowsay.staticCall(message)
  await net.stranger.queue.send('runCowsay', async () => await client.runCowsay.populateTransaction(message))
  return jobId
}

test.serial('a contract runs cowsay through the network and holds the result CID and the cow; the CID gives the cow saying hello', async t => {
  const { bridge } = await startBridge()
  const client = connectExampleClient(exampleClient(), net.provider)
  const token = connectLilypadToken(network.contracts.token, net.provider)
  const clientBalance0 = await token.balanceOf(exampleClient())
  const quote = await net.stranger.quote('cowsay:v0.0.1', Number(await client.callbackGasLimit()))
  const jobId = await runCowsay('hello')
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'completed', rec.reason)
  const cid = await client.results(jobId)
  t.is(cid, rec.resultCid ?? '')
  t.is(await client.exitCodes(jobId), 0n)
  t.is(Buffer.from((await client.outputs(jobId)).slice(2), 'hex').toString(), HELLO_COW, 'the cow arrived on chain, inline')
  const view = await net.admin.contractJob(jobId)
  t.like(view, { status: 'Delivered', bridge: net.bridge.address, resultCid: cid, callbackPending: false }, 'the JobManager shows the job delivered')
  t.is(await token.balanceOf(exampleClient()), clientBalance0 - quote, 'the client paid exactly the quote')
  t.is((await net.admin.dealRecord(rec.dealId!)).state, 'Settled')
  // anyone can fetch the CID from the provider over bitswap
  const { dir } = await fetcher.fetch(cid, { from: rpNode.host.getMultiaddrs(), timeoutMs: 20_000 })
  t.is(await readFile(join(dir, 'stdout'), 'utf8'), HELLO_COW)
  t.is(await readFile(join(dir, 'exitCode'), 'utf8'), '0')
  await stopBridge()
})

/** The stranger (an EOA client) disputes `jobId`, sending only its dispute (nobody is drawn in its block). */
async function dispute (jobId: bigint): Promise<number> {
  const { disputeFee } = await connectJobManager(network.contracts.jobManager, net.provider).config()
  await net.stranger.queue.send('approve fee', async () => await net.stranger.token.approve.populateTransaction(network.contracts.jobManager, disputeFee))
  const r = await net.stranger.queue.send('disputeJob', async () => await net.stranger.jobManager.disputeJob.populateTransaction(jobId))
  return r.blockNumber
}

/** Resolves once `jobId`'s mediator is drawn (as `node`'s follower sees it), with who sent the draw and where. */
async function drawn (node: LilypadNode, jobId: bigint): Promise<{ from: string, blockNumber: number, mediator: string }> {
  const jm = connectJobManager(network.contracts.jobManager, net.provider)
  let off = (): void => {}
  const seen = new Promise<void>(resolve => {
    off = node.chain.follower.subscribe({ contract: 'JobManager', event: 'JobMediatorDrawn' }, e => {
      if ((e.args as { jobId?: bigint }).jobId === jobId) resolve()
    })
  })
  // (subscribed first: a draw made meanwhile is either seen or already on chain)
  if ((await jm.disputes(jobId)).mediator === ZeroAddress) await seen
  off()
  const [log] = await jm.queryFilter(jm.filters.JobMediatorDrawn(jobId))
  const tx = await net.provider.getTransaction(log.transactionHash)
  return { from: tx!.from, blockNumber: log.blockNumber, mediator: (log as EventLog).args.mediator as string }
}

/** Starts the bridge (on `provider`) and has it deliver a cowsay job the stranger (an EOA client) ordered. */
async function deliveredJob (t: ExecutionContext, message: string, provider?: LilypadNode): Promise<{ node: LilypadNode, jobId: bigint, rec: BridgeJobRecord }> {
  const { node, bridge } = await startBridge(provider)
  const jobId = await net.stranger.requestJob('cowsay:v0.0.1', { Message: message }, { callbackGasLimit: 50_000, timeout: 600 })
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'completed', rec.reason)
  return { node, jobId, rec }
}

type DisputeBalances = { client: bigint, m1: bigint, m2: bigint, bond: { free: bigint, locked: bigint } }

/** Every party's LP where a job dispute moves it: the client's, the mediators', the bridge's bond. */
async function disputeBalances (): Promise<DisputeBalances> {
  return { client: await net.stranger.tokenBalance(), m1: await net.m1.tokenBalance(), m2: await net.m2.tokenBalance(), bond: await net.bridge.bondOf() }
}

/** An upheld dispute's money: the client paid the fee, the drawn mediator earned it, the bridge was paid. */
async function assertUpheld (t: ExecutionContext, mediator: string, before: DisputeBalances, payment: bigint): Promise<void> {
  const { jobBond, disputeFee } = await connectJobManager(network.contracts.jobManager, net.provider).config()
  const after = await disputeBalances()
  t.is(after.client, before.client - disputeFee, 'the client paid the fee, which the mediator took')
  t.deepEqual(mediatorGains(mediator, before, after), { drawn: disputeFee, other: 0n }, 'the drawn mediator earned the fee, the other nothing')
  t.deepEqual(after.bond, { free: before.bond.free + payment + jobBond + payment, locked: before.bond.locked - payment - jobBond }, 'the bridge is paid and its lock freed')
  const held = await jobManagerHoldings(net)
  t.is(held.balance, held.accounted, 'the JobManager holds exactly what its jobs and bonds account for')
}

/** What the mediators each gained between `before` and `after`: the drawn one's and the other one's. */
function mediatorGains (mediator: string, before: DisputeBalances, after: DisputeBalances): { drawn: bigint, other: bigint } {
  const m1 = after.m1 - before.m1
  const m2 = after.m2 - before.m2
  return mediator === net.m1.address ? { drawn: m1, other: m2 } : { drawn: m2, other: m1 }
}

test.serial('a client disputes a job: the bridge node draws its mediator from the dispute block\'s hash at once, and the drawn mediator node re-runs it and upholds the honest result', async t => {
  // an EOA client (no callbacks) that disputes what it ordered
  const { node, jobId, rec } = await deliveredJob(t, 'dispute me')
  const before = await disputeBalances()
  const b = await dispute(jobId)
  const d = await drawn(node, jobId)
  t.is(d.from, net.bridge.address, 'the bridge node sent the draw')
  t.true(d.blockNumber > b && d.blockNumber <= b + 256, 'after the dispute\'s block, within 256')
  const jm = connectJobManager(network.contracts.jobManager, net.provider)
  const mediator = (await jm.disputes(jobId)).mediator
  t.is(d.mediator, mediator)
  t.true([net.m1.address, net.m2.address].includes(mediator), 'a Directory mediator')
  const verdict = await judged(mediator, jobId)
  t.like(verdict, { phase: 'judged', resultCorrect: true, resultCid: rec.resultCid, mediatorCid: rec.resultCid }, verdict.reason)
  t.is(verdict.mismatch, undefined, 'the CID, the exit code and the inline output are the re-run\'s')
  const m = mediatorNodes.get(mediator)!
  t.like(m.mediator!.jobs.metrics, { drawn: 1, verdicts: { correct: 1, wrong: 0 }, abstained: 0, closed: 0 })
  const text = await m.components.metrics.registry.metrics()
  t.true(text.includes('lilypad_job_disputes_total{outcome="drawn"} 1') && text.includes('lilypad_job_disputes_total{outcome="correct"} 1'), 'counted in the node\'s metrics')
  t.is((await net.admin.contractJob(jobId)).status, 'Completed')
  await assertUpheld(t, mediator, before, rec.payment)
  await stopBridge()
})

test.serial('a bridge delivering a cheating provider\'s wrong result: the client disputes, the drawn mediator node re-runs the job and overturns it; the bridge\'s lock is slashed', async t => {
  // the honest provider steps aside: the bridge's only provider appends to its output (the mediation e2e's fault)
  await rpNode.stop()
  const cheater = await startProvider(net.anvil.keys[4], 'cheater', 'wrong-result')
  try {
    const { node, jobId, rec } = await deliveredJob(t, 'cheat me', cheater)
    const before = await disputeBalances()
    await dispute(jobId)
    const { mediator } = await drawn(node, jobId)
    const verdict = await judged(mediator, jobId)
    t.like(verdict, { phase: 'judged', resultCorrect: false, resultCid: rec.resultCid }, verdict.reason)
    t.not(verdict.mediatorCid, rec.resultCid, 'the re-run gave another result')
    t.is(verdict.mismatch, `result CID ${rec.resultCid ?? ''}, the re-run's ${verdict.mediatorCid ?? ''}; the inline output differs from the re-run's stdout`, 'the same exit code, another output')
    const view = await net.admin.contractJob(jobId)
    t.is(view.status, 'Overturned')
    const { jobBond, disputeFee } = await connectJobManager(network.contracts.jobManager, net.provider).config()
    const after = await disputeBalances()
    // the fee went to the mediator and came back from the slashed lock: the client has its payment back and the
    // bridge's lock less the mediator's fee, on top of its fee
    t.is(after.client, before.client - disputeFee + view.payment + view.payment + jobBond, 'the client: payment, fee and the slashed lock less the mediator\'s fee')
    t.deepEqual(mediatorGains(mediator, before, after), { drawn: disputeFee, other: 0n }, 'the drawn mediator earned the fee, the other nothing')
    t.deepEqual(after.bond, { free: before.bond.free, locked: before.bond.locked - view.payment - jobBond }, 'the bridge\'s lock (payment + bond) slashed, nothing paid')
    const held = await jobManagerHoldings(net)
    t.is(held.balance, held.accounted, 'the JobManager holds exactly what its jobs and bonds account for')
    await stopBridge()
  } finally {
    await cheater.stop()
    rpNode = await startProvider(net.anvil.keys[3], 'rp')
  }
})

test.serial('a mediator down when it is drawn judges the dispute when it comes back', async t => {
  const { node, jobId, rec } = await deliveredJob(t, 'judge me later')
  await stopMediators()
  const before = await disputeBalances()
  await dispute(jobId)
  const { mediator } = await drawn(node, jobId)
  t.is((await net.admin.contractJob(jobId)).status, 'Disputed', 'nobody judged it while the mediators were down')
  await startMediators()
  const verdict = await judged(mediator, jobId)
  t.like(verdict, { phase: 'judged', resultCorrect: true }, verdict.reason)
  t.is((await net.admin.contractJob(jobId)).status, 'Completed')
  await assertUpheld(t, mediator, before, rec.payment)
  await stopBridge()
})

/**
 * Disputes a delivered job while the mediators' RPC refuses transactions; resolves, with the drawn mediator, once
 * its mediateJob failed (its verdict is on disk, the case still open).
 */
async function disputeWhileSendsFail (t: ExecutionContext, proxy: RpcProxy, jobId: bigint, node: LilypadNode): Promise<string> {
  proxy.refuseMethods.add('eth_sendRawTransaction')
  // (listening on both before the dispute: either may be drawn)
  const failed = Promise.race([...mediatorNodes.values()].map(async n => {
    for (;;) {
      const [e] = await once(n.mediator!.jobs, 'retrying') as [{ jobId: string }]
      if (e.jobId === String(jobId)) return n.chain.address
    }
  }))
  await dispute(jobId)
  const { mediator } = await drawn(node, jobId)
  t.is(await failed, mediator, 'the drawn mediator\'s mediateJob failed')
  const open = await mediatorNodes.get(mediator)!.mediator!.jobs.records.get(`job-${jobId}`)
  t.like(open, { terminal: false, phase: 'open', resultCorrect: true }, 'the verdict is kept, the case open')
  return mediator
}

test.serial('a mediator whose mediateJob fails on the RPC sends it again at the next block', async t => {
  const { node, jobId, rec } = await deliveredJob(t, 'retry me')
  const proxy = await RpcProxy.start(network.rpcUrl)
  await withMediators({}, proxy, async () => {
    const before = await disputeBalances()
    const mediator = await disputeWhileSendsFail(t, proxy, jobId, node)
    proxy.refuseMethods.clear()
    await net.provider.send('evm_mine', []) // the next block
    const verdict = await judged(mediator, jobId)
    t.like(verdict, { phase: 'judged', resultCorrect: true }, verdict.reason)
    t.is((await net.admin.contractJob(jobId)).status, 'Completed')
    await assertUpheld(t, mediator, before, rec.payment)
  })
  await stopBridge()
})

test.serial('a mediator restarted during a dispute, its verdict not yet on chain, resumes the case and sends it', async t => {
  const { node, jobId, rec } = await deliveredJob(t, 'restart me')
  const proxy = await RpcProxy.start(network.rpcUrl)
  await withMediators({}, proxy, async () => {
    const before = await disputeBalances()
    const mediator = await disputeWhileSendsFail(t, proxy, jobId, node)
    await stopMediators()
    proxy.refuseMethods.clear()
    await startMediators({}, proxy.url)
    const verdict = await judged(mediator, jobId)
    t.like(verdict, { phase: 'judged', resultCorrect: true, mediatorCid: rec.resultCid }, verdict.reason)
    t.is(mediatorNodes.get(mediator)!.mediator!.jobs.metrics.drawn, 0, 'resumed from disk, not taken up again')
    await assertUpheld(t, mediator, before, rec.payment)
  })
  await stopBridge()
})

test.serial('a mediator that may not run the job\'s module leaves the dispute to time out, with the reason, and judges nothing', async t => {
  const { node, jobId } = await deliveredJob(t, 'not mine to run')
  await withMediators({ jobModules: ['wordcount:v0.1.0'] }, undefined, async () => {
    const before = await disputeBalances()
    await dispute(jobId)
    const { mediator } = await drawn(node, jobId)
    const verdict = await judged(mediator, jobId)
    t.is(verdict.phase, 'abstained')
    t.regex(verdict.reason ?? '', /^not a module this mediator runs for a contract: module cowsay:v0\.0\.1 is not on this bridge's allow-list \(wordcount:v0\.1\.0\)/)
    t.is(verdict.resultCorrect, undefined, 'no verdict')
    t.is((await net.admin.contractJob(jobId)).status, 'Disputed', 'left to time out')
    const { disputeFee } = await connectJobManager(network.contracts.jobManager, net.provider).config()
    t.deepEqual(await disputeBalances(), { ...before, client: before.client - disputeFee }, 'only the client\'s fee moved (held until the timeout)')
    const held = await jobManagerHoldings(net)
    t.is(held.balance, held.accounted, 'the JobManager holds the fee with the job')
    t.is(mediatorNodes.get(mediator)!.mediator!.jobs.metrics.abstained, 1)
    t.true((await mediatorNodes.get(mediator)!.components.metrics.registry.metrics()).includes('lilypad_job_disputes_total{outcome="abstained"} 1'))
  })
  await stopBridge()
})

test.serial('a job disputed while its bridge was down has its mediator drawn by the bridge when it restarts', async t => {
  const { bridge } = await startBridge()
  const jobId = await net.stranger.requestJob('cowsay:v0.0.1', { Message: 'dispute me later' }, { callbackGasLimit: 50_000, timeout: 600 })
  t.is((await settled(bridge, jobId)).phase, 'completed')
  await stopBridge()
  const b = await dispute(jobId)
  const { node } = await startBridge()
  const d = await drawn(node, jobId)
  t.is(d.from, net.bridge.address, 'the restarted bridge node sent the draw')
  t.true(d.blockNumber > b && d.blockNumber <= b + 256)
  await stopBridge()
})

test.serial('a module outside the bridge\'s allow-list (a name not built in, a local path, a git URL) is failed on chain with the rule, and the client refunded', async t => {
  const { bridge } = await startBridge()
  // the network prices modules the bridge does not run: it refuses them before resolving or fetching anything
  const cases: Array<[string, RegExp]> = [
    ['nosuchmodule:v0.0.0', /^module nosuchmodule:v0\.0\.0 is not on this bridge's allow-list \(cowsay:v0\.0\.1, /],
    ['file:///etc/passwd', /^module file:\/\/\/etc\/passwd is a local path or file reference; a bridge never runs those for a contract$/],
    ['https://github.com/evil/module', /^git module https:\/\/github\.com\/evil\/module is not pinned to a commit$/],
    ['https://github.com/evil/module#0123456789abcdef0123456789abcdef01234567', /is not on this bridge's allow-list/]
  ]
  for (const [module, why] of cases) {
    await net.admin.setModulePrice(module, LP(3))
    const before = await net.stranger.tokenBalance()
    const jobId = await net.stranger.requestJob(module, { Message: 'x' }, { callbackGasLimit: 10_000, timeout: 600 })
    const quote = await net.stranger.quote(module, 10_000)
    t.is(await net.stranger.tokenBalance(), before - quote)
    const rec = await settled(bridge, jobId)
    t.is(rec.phase, 'failed', module)
    t.regex(rec.reason ?? '', why, module)
    t.is(rec.dealId, undefined, `${module}: no deal was made for it`)
    t.is((await net.admin.contractJob(jobId)).status, 'Failed', 'the JobManager shows the job failed')
    t.is(await net.stranger.tokenBalance(), before, 'the client got its payment back')
  }
  await stopBridge()
})

test.serial('an input the module does not take (a misspelt key) is named and the job failed, not run on the default', async t => {
  const { bridge } = await startBridge()
  const before = await net.stranger.tokenBalance()
  const jobId = await net.stranger.requestJob('cowsay:v0.0.1', { Mesage: 'typo' }, { callbackGasLimit: 10_000, timeout: 600 })
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'failed')
  t.is(rec.reason, 'cowsay:v0.0.1 has no input Mesage (it takes: Message)')
  t.is(rec.dealId, undefined, 'nothing ran')
  t.is(await net.stranger.tokenBalance(), before, 'the client got its payment back')
  await stopBridge()
})

test.serial('a job requested while the bridge is down is run when it restarts; finished jobs are not run again', async t => {
  const client = connectExampleClient(exampleClient(), net.provider)
  const jobId = await runCowsay('hello again')
  const { bridge } = await startBridge()
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'completed', rec.reason)
  t.is(await client.results(jobId), rec.resultCid ?? '')
  t.is(bridge.metrics.requested, 1, 'only the new job was picked up: earlier ones are on record')
  t.is(bridge.metrics.completed, 1)
})

test.serial('a client written only against the developer package gets its callback from the real bridge', async t => {
  const bridge = bridgeNode?.bridge as unknown as JobBridge ?? (await startBridge()).bridge
  const { abi, bytecode } = compileAgainstPackage(join(import.meta.dirname, 'fixtures/package-client/CowsayOracle.sol'), 'CowsayOracle')
  const deployed = await net.admin.queue.send('deploy CowsayOracle', async () => await new ContractFactory(abi as never, bytecode, net.admin.wallet).getDeployTransaction(network.contracts.jobManager))
  const oracle = new Contract(deployed.contractAddress!, abi as never, net.stranger.wallet)
  const quote = await net.stranger.quote('cowsay:v0.0.1', 500_000)
  await net.stranger.queue.send('approve', async () => await net.stranger.token.approve.populateTransaction(deployed.contractAddress!, quote))
  const jobId = requestedJobId(await net.stranger.queue.send('ask', async () => await oracle.ask.populateTransaction('hello')))
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'completed', rec.reason)
  const answer = await oracle.answers(jobId) as unknown as [string, string, bigint, boolean, string]
  t.is(answer[0], rec.resultCid ?? '')
  t.is(Buffer.from(answer[1].slice(2), 'hex').toString(), HELLO_COW)
  t.true(answer[3])

  // after the dispute window anyone releases the bridge's pay (last: moving the chain's clock ends the devnet's usefulness)
  const bond0 = await net.bridge.bondOf()
  const config = await net.admin.jobManagerConfig()
  await increaseTime(net.provider, config.disputeWindow + 1)
  await net.stranger.releaseJobs([jobId])
  t.is((await net.bridge.bondOf()).free, bond0.free + quote + quote + config.jobBond, 'payment credited, lock released')
})
