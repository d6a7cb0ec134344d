// End-to-end 3: cheating does not pay. Real nodes (LilypadNode: one libp2p host, chain client and Helia store
// each), a real anvil with the contracts, real Docker runs of cowsay. A provider with the `wrong-result` fault
// tampers with its output; the job creator asks for audits with probability 1, so the Market audits every
// submission and draws the mediator; the job creator hands the case to the mediator node, which re-runs the job,
// compares CIDs and posts the verdict. The same with an honest provider: the result is upheld.
import test from 'ava'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, LP, type Devnet } from '../contracts/fixture.ts'
import { LilypadNode } from '../node/node.ts'
import { ensureBuiltinImages } from '../node/modules/index.ts'
import type { Mediator } from '../node/roles/mediator.ts'
import { disputeFinished } from './support/disputes.ts'
import type { JobCreator } from '../node/roles/job-creator.ts'
import type { NetworkFile } from '../node/config/network.ts'

let net: Devnet
let tmp: string
let network: NetworkFile
let networkPath: string
let mediatorNode: LilypadNode
let jcNode: LilypadNode
let jc: JobCreator
const stops: Array<() => Promise<void>> = []

const FEE = LP(1)

async function node (key: string, name: string, roles: Array<'resource-provider' | 'mediator'>, extra: Partial<Parameters<typeof LilypadNode.create>[0]> = {}): Promise<LilypadNode> {
  const n = await LilypadNode.create({ network, networkPath, privateKey: key, dataDir: join(tmp, name), roles, local: true, ...extra })
  stops.push(async () => { await n.stop() })
  return n
}

async function connect (a: LilypadNode, b: LilypadNode): Promise<void> {
  await a.host.dial(multiaddr(b.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
}

/** A provider node (the node wires its dispute side: answers pulls, pushes audited submissions as a fallback). */
async function provider (key: string, name: string, fault?: 'wrong-result' | 'withheld-result' | 'unserved-result'): Promise<LilypadNode> {
  const n = await node(key, name, ['resource-provider'], { provider: { price: LP(10), collateral: LP(20), announceIntervalMs: 2000, ...(fault !== undefined ? { fault } : {}) } })
  await connect(n, mediatorNode)
  await connect(jcNode, n)
  return n
}

test.before(async () => {
  await ensureBuiltinImages(new Docker(), { only: ['cowsay:v0.0.1'] })
  net = await startDevnet()
  tmp = await mkdtemp(join(tmpdir(), 'lilypad-e2e3-'))
  network = {
    ...net.deployment.network,
    rpcUrl: net.anvil.rpcUrl,
    mediators: [net.m1.address],
    dealTerms: { judgeWindow: 300, mediateTimeout: 600, mediationFee: FEE.toString() }
  }
  networkPath = join(tmp, 'network.json')
  await writeFile(networkPath, JSON.stringify(network))
  mediatorNode = await node(net.anvil.keys[5], 'mediator', ['mediator'], { mediator: { pullAfterMs: 2000, pullIntervalMs: 1000 } })
  jcNode = await node(net.anvil.keys[1], 'jc', [])
  // the node wires the job creator's dispute hook to a push to the drawn mediator
  // a result not fetched in 20 s is challenged (the default, 60 s, would only make the withheld-result test slower)
  jc = await jcNode.createJobCreator({ network, dataDir: join(tmp, 'jc'), jobCreator: { fetchTimeoutMs: 20_000 } })
  await connect(jcNode, mediatorNode)
})

test.after.always(async () => {
  for (const s of stops) await s().catch(() => {})
  await net?.jc.provider.send('eth_blockNumber', []).catch(() => {})
  await net?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

const finished = disputeFinished

const deposits = async (addrs: string[]): Promise<bigint[]> => await Promise.all(addrs.map(async a => await net.admin.depositOf(a)))

test.serial('a cheating provider is audited, the mediator re-runs the job and the provider loses its collateral', async t => {
  const cheater = await provider(net.anvil.keys[3], 'cheater', 'wrong-result')
  const [jc0, rp0, m0] = await deposits([net.jc.address, net.rp.address, net.m1.address])
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, mediator' }, target: net.rp.address, auditProbability: 1 })
  t.true(out.challenged)
  t.is(out.verdict, 'wrong')
  t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /tampered/, 'the job creator did get the tampered result')
  const rec = await net.admin.dealRecord(out.dealId)
  t.is(rec.state, 'MediatedWrong')
  const [jc1, rp1, m1] = await deposits([net.jc.address, net.rp.address, net.m1.address])
  const d = out.deal
  t.is(d.mediationFee, FEE)
  t.is(jc1 - jc0, d.collateral - d.mediationFee, 'the job creator got its price back and the slashed collateral, less the fee')
  t.is(rp1 - rp0, -d.collateral, 'the provider lost its collateral and got no payment')
  t.is(m1 - m0, d.mediationFee, 'the mediator was paid')
  const m = mediatorNode.mediator as unknown as Mediator
  const dispute = await finished(m, out.dealId)
  t.is(m.metrics.verdicts.wrong, 1)
  t.is(dispute.resultCorrect, false)
  t.is(dispute.via, 'push', 'the case was handed over by a party, not pulled')
  t.not(dispute?.mediatorCid, out.resultCid)
  await cheater.stop()
})

test.serial('an honest provider audited: the verdict upholds its result, it is paid and the mediator is paid from the fee', async t => {
  await provider(net.anvil.keys[4], 'honest')
  const [jc0, rp0, m0] = await deposits([net.jc.address, net.rp2.address, net.m1.address])
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, honest' }, target: net.rp2.address, auditProbability: 1 })
  t.true(out.challenged)
  t.is(out.verdict, 'correct')
  t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /< hello, honest >/)
  t.is((await net.admin.dealRecord(out.dealId)).state, 'MediatedCorrect')
  const [jc1, rp1, m1] = await deposits([net.jc.address, net.rp2.address, net.m1.address])
  const d = out.deal
  t.is(jc1 - jc0, -(d.price + d.mediationFee), 'the job creator paid the price and lost the fee')
  t.is(rp1 - rp0, d.price, 'the provider was paid (its collateral returned)')
  t.is(m1 - m0, d.mediationFee, 'the mediator was paid the fee')
  const m = mediatorNode.mediator as unknown as Mediator
  t.is((await finished(m, out.dealId)).mediatorCid, out.resultCid, 'the mediator reproduced the provider\'s CID')
})

test.serial('a provider that submits a CID it never serves: the job creator challenges, the mediator re-runs the job, the provider is slashed and the job creator refunded', async t => {
  // a provider with no slashes on record yet (the cheater above is banned by its record)
  await net.stranger.deposit(LP(100))
  const withholder = await provider(net.anvil.keys[7], 'withholder', 'withheld-result')
  const [jc0, rp0, m0] = await deposits([net.jc.address, net.stranger.address, net.m1.address])
  const err = await t.throwsAsync(jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, withheld' }, target: net.stranger.address }))
  t.is(err?.name, 'ProvidersFailedError')
  t.regex(err?.message ?? '', /mediated: MediatedWrong \(then: none of the/)
  const failed = (err as unknown as { retries?: Array<{ dealId: string, reason: string }> }).retries ?? []
  t.is(failed[0]?.reason, 'mediated: MediatedWrong', 'the job moved on from the deal after the verdict')
  const dealId = failed[0].dealId
  const rec = await net.admin.dealRecord(dealId)
  t.is(rec.state, 'MediatedWrong')
  const m = mediatorNode.mediator as unknown as Mediator
  const dispute = await finished(m, dealId)
  t.is(dispute.resultCorrect, false)
  t.not(dispute.mediatorCid, dispute.resultCid, 'the mediator\'s re-run is not the CID the provider submitted')
  const d = (await jc.deals.get(dealId))!.deal
  const [jc1, rp1, m1] = await deposits([net.jc.address, net.stranger.address, net.m1.address])
  t.is(jc1 - jc0, d.collateral - d.mediationFee, 'the job creator got its price back and the slashed collateral, less the fee')
  t.is(rp1 - rp0, -d.collateral, 'the provider lost its collateral and was not paid')
  t.is(m1 - m0, d.mediationFee, 'the mediator was paid')
  await withholder.stop()
})

test.serial('a provider that submits the right CID but serves nothing: challenged, upheld, and the job creator gets the result from the mediator', async t => {
  const unserving = await provider(net.anvil.keys[8], 'unserving', 'unserved-result')
  await net.outsider.deposit(LP(100))
  const [jc0, rp0, m0] = await deposits([net.jc.address, net.outsider.address, net.m1.address])
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'hello, unserved' }, target: net.outsider.address })
  t.true(out.challenged)
  t.is(out.verdict, 'correct')
  t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /< hello, unserved >/, 'the result, fetched after the verdict')
  t.is((await net.admin.dealRecord(out.dealId)).state, 'MediatedCorrect')
  const m = mediatorNode.mediator as unknown as Mediator
  t.is((await finished(m, out.dealId)).mediatorCid, out.resultCid, 'the mediator made the same result')
  const d = out.deal
  const [jc1, rp1, m1] = await deposits([net.jc.address, net.outsider.address, net.m1.address])
  t.is(jc1 - jc0, -(d.price + d.mediationFee), 'the job creator paid the price and the fee of the challenge it lost')
  t.is(rp1 - rp0, d.price, 'the provider was paid')
  t.is(m1 - m0, d.mediationFee, 'the mediator was paid')
  await unserving.stop()
})
