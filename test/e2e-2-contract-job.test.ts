// End-to-end 2: a contract orders a job. A real signer calls ExampleClient.runCowsay("hello"); the JobManager
// emits JobRequested; the bridge node (LilypadNode with the job-bridge role: a JobCreator plus the JobBridge)
// runs it through the network on a real provider node (Docker, Helia), then completeJob hands the client
// contract the result CID, which anyone can fetch from the provider. A job that cannot run is failed and the
// client refunded; a job requested while the bridge was down is picked up when it comes back.
import test from 'ava'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, LP, type Devnet } from '../contracts/fixture.ts'
import { connectExampleClient, connectJobManager, connectLilypadToken } from '../contracts/generated/index.ts'
import { LilypadNode } from '../node/node.ts'
import { ensureBuiltinImages } from '../node/modules/index.ts'
import { ResultStore } from '../node/result-store/index.ts'
import { createHost, localMeshOptions, type LilypadHost } from '../node/host/index.ts'
import type { JobBridge, BridgeJobRecord } from '../node/roles/job-bridge.ts'
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
let fetcher: ResultStore
let fetcherHost: LilypadHost
const exampleClient = (): string => network.contracts.exampleClient as string

async function startBridge (): Promise<{ node: LilypadNode, bridge: JobBridge }> {
  const n = await LilypadNode.create({ network, networkPath, privateKey: net.anvil.keys[2], dataDir: join(tmp, 'bridge'), roles: ['job-bridge'], local: true })
  await n.host.dial(multiaddr(rpNode.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
  bridgeNode = n
  return { node: n, bridge: n.bridge as unknown as JobBridge }
}

async function stopBridge (): Promise<void> {
  await bridgeNode?.stop()
  bridgeNode = undefined
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
  rpNode = await LilypadNode.create({ network, networkPath, privateKey: net.anvil.keys[3], dataDir: join(tmp, 'rp'), roles: ['resource-provider'], local: true, provider: { price: LP(5), collateral: LP(10), announceIntervalMs: 2000 } })
  // an outside Helia node on the network's own protocols (identify under the network prefix), no roles
  fetcherHost = await createHost({ networkId: network.networkId, domain: net.domain, ...localMeshOptions })
  fetcher = await ResultStore.create({ dataDir: join(tmp, 'fetcher'), libp2p: fetcherHost })
})

test.after.always(async () => {
  await stopBridge().catch(() => {})
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

test.serial('a contract runs cowsay through the network and holds the result CID; the CID gives the cow saying hello', async t => {
  const { bridge } = await startBridge()
  const client = connectExampleClient(exampleClient(), net.provider)
  const token = connectLilypadToken(network.contracts.token, net.provider)
  const clientBalance0 = await token.balanceOf(exampleClient())
  const jobId = await runCowsay('hello')
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'completed', rec.reason)
  const cid = await client.results(jobId)
  t.is(cid, rec.resultCid ?? '')
  const jm = connectJobManager(network.contracts.jobManager, net.provider)
  t.is((await jm.jobs(jobId)).state, 2n, 'the JobManager shows the job completed')
  t.is(await token.balanceOf(exampleClient()), clientBalance0 - LP(10), 'the client paid its payment')
  t.is((await net.admin.dealRecord(rec.dealId!)).state, 'Settled')
  // anyone can fetch the CID from the provider over bitswap
  const { dir } = await fetcher.fetch(cid, { from: rpNode.host.getMultiaddrs(), timeoutMs: 20_000 })
  t.is(await readFile(join(dir, 'stdout'), 'utf8'), HELLO_COW)
  t.is(await readFile(join(dir, 'exitCode'), 'utf8'), '0')
  await stopBridge()
})

test.serial('a job that cannot run is failed on chain and the client refunded', async t => {
  const { bridge } = await startBridge()
  const token = connectLilypadToken(network.contracts.token, net.stranger.wallet)
  const jm = connectJobManager(network.contracts.jobManager, net.stranger.wallet)
  await net.stranger.queue.send('approve', async () => await token.approve.populateTransaction(network.contracts.jobManager, LP(3)))
  const before = await token.balanceOf(net.stranger.address)
  const jobId = await jm.nextJobId()
  await net.stranger.queue.send('runJob', async () => await jm.runJob.populateTransaction('nosuchmodule:v0.0.0', [{ key: 'Message', value: 'x' }], LP(3), 600))
  t.is(await token.balanceOf(net.stranger.address), before - LP(3))
  const rec = await settled(bridge, jobId)
  t.is(rec.phase, 'failed')
  t.regex(rec.reason ?? '', /^ModuleNotFoundError/)
  t.is((await jm.jobs(jobId)).state, 3n, 'the JobManager shows the job failed')
  t.is(await token.balanceOf(net.stranger.address), before, 'the client got its payment back')
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
