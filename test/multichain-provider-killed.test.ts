// A provider serving two chains, SIGKILLed (a real child process) while its container runs a deal of the further
// chain, then restarted on the same data directory against a real two-chain devnet: the first chain's provider,
// which tidies the shared executor at its start, leaves that container alone, and the further chain's provider
// adopts it instead of removing it and running the job again; the result is submitted on the further chain and no
// container is left behind. The engine's own events count the provider's containers throughout.
import test from 'ava'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { Wallet } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_CHAIN_ID, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { chainView } from '../node/config/chains.ts'
import { Executor, LABEL_OWNER, loadExecutorOwner } from '../node/executor/index.ts'
import { DealStore } from '../node/deal-store/deal-store.ts'
import type { RpDealRecord } from '../node/roles/resource-provider.ts'
import { killMidJob, leaveCountersignedDeal, watchContainers } from './support/killed-provider.ts'

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

// serial, and first: the next test moves chain B's clock on (its judge window), and a deal left countersigned at
// our time would look past its agree window to a provider reading that chain's clock
test.serial('a provider of two chains killed with a further chain\'s container running: the restart adopts it, never two at once, no orphans', async t => {
  const netB = chainView(devnet.network, B)
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  // a deal signed for chain B (its Market's domain), kept where a provider of several chains keeps chain B's deals
  const dataDir = join(home, 'rp')
  const dealId = await leaveCountersignedDeal({ domain: { chainId: BigInt(B), verifyingContract: netB.contracts.market }, mediators: netB.mediators ?? [], jobCreator: new Wallet(devKey(DEVNET_KEYS.user2)), provider: rpWallet, dealsDir: join(dataDir, 'chains', String(B), 'rp-deals'), nonceTag: 996n , chain: readerB })
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await new Executor({ docker, owner }).reconcile(() => false) })
  const containers = await watchContainers(t, docker, owner, dealId)
  const watcher = await readerB.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  const [left] = await killMidJob(t, docker, containers, { owner, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1 })
  t.is(left?.State, 'running', 'the killed provider\'s container runs on')

  // the restart: same data directory (same owner id), both chains; its executor is passed in to watch it adopt
  const executor = new Executor({ owner: await loadExecutorOwner(dataDir) })
  const adopted = once(executor, 'container:adopted')
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE }, components: { logger: { level: 'warn' } } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  t.deepEqual([...node.chainContexts.keys()], [B])
  // (a second container for the job means the first was removed and the job run again: the failure this guards)
  const first = await Promise.race([adopted, containers.rerun])
  t.not(first, 'rerun', 'the container left for chain B\'s deal was removed and the job run again')
  if (first === 'rerun') return
  const [info] = first as [{ containerId: string }]
  t.is(info.containerId, left.Id, 'chain B\'s provider took over the container that was running')
  const view = await watcher.waitFor('ResultSubmitted', 60_000)
  t.regex(view.resultCid ?? '', /^bafy/)
  t.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } }), [], 'no orphans')
  t.is(containers.most, 1, 'never more containers than the provider\'s one slot')
  t.is(containers.created, 1, 'the job ran in one container: it was not removed by the first chain\'s provider and run again')
})

test.serial('a provider of two chains restarts while chain B\'s RPC is down: chain B\'s container is kept (not adopted, not removed), adopted once B is back; the deal settles on B with exact deposits', async t => {
  const netB = chainView(devnet.network, B)
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  const jcWallet = new Wallet(devKey(DEVNET_KEYS.user2))
  const dataDir = join(home, 'rp-b-down')
  const dealsDir = join(dataDir, 'chains', String(B), 'rp-deals')
  const dealId = await leaveCountersignedDeal({ domain: { chainId: BigInt(B), verifyingContract: netB.contracts.market }, mediators: netB.mediators ?? [], jobCreator: jcWallet, provider: rpWallet, dealsDir, nonceTag: 995n , chain: readerB })
  const { price, judgeWindow } = (await new DealStore<RpDealRecord>(dealsDir).get(dealId))?.deal ?? { price: 0n, judgeWindow: 0 }
  const before = { jc: await readerB.depositOf(jcWallet.address), rp: await readerB.depositOf(rpWallet.address) }
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await new Executor({ docker, owner }).reconcile(() => false) })
  const containers = await watchContainers(t, docker, owner, dealId)
  const [left] = await killMidJob(t, docker, containers, { owner, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1 })
  t.is(left?.State, 'running')

  // chain B's RPC stops answering; the provider restarts meanwhile
  const anvilB = devnet.anvils[1]
  process.kill(anvilB.pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => { if (stopped) { process.kill(anvilB.pid, 'SIGCONT'); stopped = false } }
  t.teardown(resume)
  const executor = new Executor({ owner })
  const adopted = once(executor, 'container:adopted')
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE }, components: { logger: { level: 'warn' } } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  t.deepEqual([...node.unavailableChains.keys()], [B], 'chain B not joined')
  // the first chain's provider started and tidied the executor: chain B's container is still there (running, or
  // exited with its output, for chain B's provider to adopt)
  const kept = await docker.getContainer(left.Id).inspect()
  t.true(kept.State.Running || kept.State.Status === 'exited', 'chain B\'s container was kept by the first chain\'s provider')
  t.is(containers.created, 1)
  const metrics = await node.components.metrics.registry.getSingleMetricAsString('lilypad_parked_deals')
  t.regex(metrics, new RegExp(`lilypad_parked_deals\\{chain="${B}"\\} 1`))
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_chain_joined'), new RegExp(`lilypad_chain_joined\\{chain="${B}"\\} 0`))
  // its slot is held for it: the provider's one slot is not offered on the first chain meanwhile
  t.deepEqual(node.provider?.capacity.freeSlots(), [])

  resume()
  await node.chainJoined(B)
  const first = await Promise.race([adopted, containers.rerun])
  t.not(first, 'rerun', 'chain B\'s container was removed and the job run again')
  if (first === 'rerun') return
  t.is((first as [{ containerId: string }])[0].containerId, left.Id, 'chain B\'s provider adopted the very container that ran on')
  const watcher = await readerB.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  await watcher.waitFor('ResultSubmitted', 60_000)
  // the judge window passes on chain B: the provider settles the deal itself
  await readerB.provider.send('evm_increaseTime', [judgeWindow + 2])
  await readerB.provider.send('evm_mine', [])
  await watcher.waitFor('Settled', 60_000)
  t.is(containers.created, 1, 'the job ran in one container')
  t.is(before.jc - await readerB.depositOf(jcWallet.address), price, 'the job creator paid the price on B')
  t.is(await readerB.depositOf(rpWallet.address) - before.rp, price, 'the provider earned the price on B, its collateral back')
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_chain_joined'), new RegExp(`lilypad_chain_joined\\{chain="${B}"\\} 1`))
})
