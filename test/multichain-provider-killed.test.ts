// A provider serving two chains, SIGKILLed (a real child process) while its container runs a deal of the further
// chain, then restarted on the same data directory against a real two-chain devnet: the first chain's provider,
// which tidies the shared executor at its start, leaves that container alone, and the further chain's provider
// adopts it instead of removing it and running the job again; the result is submitted on the further chain and no
// container is left behind. The engine's own events count the provider's containers throughout.
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import Docker from 'dockerode'
import { parseEther, ZeroAddress, Wallet } from 'ethers'
import { signMessage, idOf, type JobOffer } from '../protocols/eip712.ts'
import { buildDeal, defaultDealTerms } from '../protocols/negotiation/messages.ts'
import type { RpDealRecord } from '../node/roles/resource-provider.ts'
import { DealStore } from '../node/deal-store/deal-store.ts'
import { countersignedDeal } from '../core/lifecycle/provider.ts'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_CHAIN_ID, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { chainView } from '../node/config/chains.ts'
import { Executor, LABEL_JOB, LABEL_OWNER, loadExecutorOwner } from '../node/executor/index.ts'

const B = DEVNET_CHAIN_ID + 1
const docker = new Docker()
let home: string
let devnet: Devnet
let readerB: ChainClient

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-killed-multichain-'))
  devnet = await startDevnet({ home, port: 0, slots: 1, chains: 2, mediator: false })
  readerB = await ChainClient.create({ network: chainView(devnet.network, B), privateKey: devKey(DEVNET_KEYS.admin) })
})

test.after.always(async () => {
  await readerB?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test('a provider of two chains killed with a further chain\'s container running: the restart adopts it, never two at once, no orphans', async t => {
  const netB = chainView(devnet.network, B)
  const jcWallet = new Wallet(devKey(DEVNET_KEYS.user2))
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  // the deal is signed for chain B (its Market's domain)
  const domain = { chainId: BigInt(B), verifyingContract: netB.contracts.market }
  const now = BigInt(Math.floor(Date.now() / 1000))
  // long enough to be running when the provider dies; the deal leaves minutes for the restart
  const job: JobOffer = {
    jobCreator: jcWallet.address, module: 'stress:v0.1.0', inputs: JSON.stringify({ Mode: 'sleep', Arg: '4', Timeout: '60' }), spec: { cpu: 500, ramMb: 64, diskMb: 10, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: DEVNET_PRICE, mediators: [...(netB.mediators ?? [])], target: ZeroAddress, timeout: 60, auditPpm: 0, expiry: now + 600n, nonce: BigInt(Date.now()) * 1000n + 996n, seedCommit: '0x' + '00'.repeat(32)
  }
  const jobEnv = { kind: 'JobOffer' as const, value: job, signature: await signMessage('JobOffer', domain, job, jcWallet) }
  const offer = { provider: rpWallet.address, slot: 0, spec: { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: DEVNET_PRICE, collateral: parseEther('2'), mediators: job.mediators, expiry: now + 600n, nonce: 2n, seedCommit: '0x' + '00'.repeat(32) }
  const deal = buildDeal(job, idOf('JobOffer', domain, job), offer, idOf('ResourceOffer', domain, offer), job.mediators, { ...defaultDealTerms, resultSlack: 300, mediationFee: parseEther('1') }, now)
  const dealId = idOf('Deal', domain, deal)
  const [jcSig, rpSig] = await Promise.all([signMessage('Deal', domain, deal, jcWallet), signMessage('Deal', domain, deal, rpWallet)])
  // what a provider that crashed right after countersigning on chain B has on disk (chain B's deals are kept
  // under chains/<id>): its restart agrees and runs it
  const dataDir = join(home, 'rp')
  await new DealStore<RpDealRecord>(join(dataDir, 'chains', String(B), 'rp-deals')).put(countersignedDeal({ dealId, deal, job: jobEnv, jobCreatorSignature: jcSig, providerSignature: rpSig, slot: 0 }, Date.now()))
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await new Executor({ docker, owner }).reconcile(() => false) })

  // the engine's own account of this provider's containers
  const live = new Set<string>()
  let most = 0
  let created = 0
  const events = await docker.getEvents({ filters: { type: ['container'], event: ['create', 'start', 'destroy'], label: [`${LABEL_OWNER}=${owner}`] } })
  t.teardown(() => { (events as unknown as { destroy: () => void }).destroy() })
  let onStart: (() => void) | undefined
  let onRerun: (() => void) | undefined
  events.on('data', (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Action: string, id: string, Actor: { Attributes: Record<string, string> } }
      if (e.Action === 'create') { live.add(e.id); created++; if (created > 1) onRerun?.() }
      if (e.Action === 'destroy') live.delete(e.id)
      if (e.Action === 'start' && e.Actor.Attributes[LABEL_JOB] === dealId) onStart?.()
      most = Math.max(most, live.size)
    }
  })
  const containerStarted = new Promise<void>(resolve => { onStart = resolve })

  const watcher = await readerB.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  const child = spawn(process.execPath, ['node/testing/provider-child.ts', JSON.stringify({ networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1, price: DEVNET_PRICE.toString() })], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  void createInterface({ input: child.stdout }).on('line', () => {})
  await containerStarted
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  const [left] = await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } })
  t.is(left?.State, 'running', 'the killed provider\'s container runs on')

  // the restart: same data directory (same owner id), both chains; its executor is passed in to watch it adopt
  const executor = new Executor({ owner: await loadExecutorOwner(dataDir) })
  const adopted = once(executor, 'container:adopted')
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE }, components: { logger: { level: 'warn' } } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  t.deepEqual([...node.chainContexts.keys()], [B])
  // (a second container for the job means the first was removed and the job run again: the failure this guards)
  const rerun = new Promise<'rerun'>(resolve => { onRerun = () => { resolve('rerun') } })
  const first = await Promise.race([adopted, rerun])
  t.not(first, 'rerun', 'the container left for chain B\'s deal was removed and the job run again')
  if (first === 'rerun') return
  const [info] = first as [{ containerId: string }]
  t.is(info.containerId, left.Id, 'chain B\'s provider took over the container that was running')
  const view = await watcher.waitFor('ResultSubmitted', 60_000)
  t.regex(view.resultCid ?? '', /^bafy/)
  t.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } }), [], 'no orphans')
  t.is(most, 1, 'never more containers than the provider\'s one slot')
  t.is(created, 1, 'the job ran in one container: it was not removed by the first chain\'s provider and run again')
})
