// A provider of two chains restarted while one of them is down keeps ("parks") that chain's deals still to run
// (docs/multichain.md): against a real two-chain devnet, a provider in its own process SIGKILLed while its container
// runs a deal, then restarted on the same data directory with that deal's chain's anvil stopped (SIGSTOP).
// - The first chain down: its parked container is kept by chain B's provider, adopted once the first chain joins,
//   and the deal settles there with exact deposits for the job creator and the provider.
// - A parked deal whose result window has closed (the node restarted a day later: its clock is injected) is given
//   up: the warning, lilypad_parked_deals_expired_total, its container removed and its slot free again.
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
import { Executor, loadExecutorOwner } from '../node/executor/index.ts'
import { DealStore } from '../node/deal-store/deal-store.ts'
import type { RpDealRecord } from '../node/roles/resource-provider.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { killMidJob, leaveCountersignedDeal, watchContainers } from './support/killed-provider.ts'

const A = DEVNET_CHAIN_ID
const B = DEVNET_CHAIN_ID + 1
const docker = new Docker()
let home: string
let devnet: Devnet
const readers = new Map<number, ChainClient>()

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-parked-'))
  devnet = await startDevnet({ home, port: 0, slots: 1, chains: 2, mediator: false })
  for (const id of [A, B]) readers.set(id, await ChainClient.create({ network: chainView(devnet.network, id), privateKey: devKey(DEVNET_KEYS.admin) }))
})

test.after.always(async () => {
  for (const r of readers.values()) await r.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

const reader = (id: number): ChainClient => readers.get(id) as ChainClient

/** Stops chain `id`'s anvil (its RPC stops answering); the returned function resumes it (once). */
function stopChain (t: { teardown: (f: () => void) => void }, id: number): () => void {
  const anvil = devnet.anvils[id - A]
  process.kill(anvil.pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => { if (stopped) { process.kill(anvil.pid, 'SIGCONT'); stopped = false } }
  t.teardown(resume)
  return resume
}

test.serial('the first chain down when a provider restarts: its container is kept by chain B\'s provider, adopted once the first chain joins; the deal settles there with exact deposits', async t => {
  const netA = chainView(devnet.network, A)
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  const jcWallet = new Wallet(devKey(DEVNET_KEYS.user2))
  const dataDir = join(home, 'rp-a-down')
  // the first chain's deals are kept at the top of the data directory
  const dealsDir = join(dataDir, 'rp-deals')
  const dealId = await leaveCountersignedDeal({ domain: { chainId: BigInt(A), verifyingContract: netA.contracts.market }, mediators: netA.mediators ?? [], jobCreator: jcWallet, provider: rpWallet, dealsDir, nonceTag: 991n , chain: reader(A) })
  const { price, judgeWindow } = (await new DealStore<RpDealRecord>(dealsDir).get(dealId))?.deal ?? { price: 0n, judgeWindow: 0 }
  const before = { jc: await reader(A).depositOf(jcWallet.address), rp: await reader(A).depositOf(rpWallet.address) }
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await new Executor({ docker, owner }).reconcile(() => false) })
  const containers = await watchContainers(t, docker, owner, dealId)
  const [left] = await killMidJob(t, docker, containers, { owner, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1 })
  t.is(left?.State, 'running')

  const resume = stopChain(t, A)
  const executor = new Executor({ owner })
  const adopted = once(executor, 'container:adopted')
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE }, components: { logger: { level: 'warn' } } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  t.deepEqual([...node.unavailableChains.keys()], [A], 'the first chain is not joined; the node started anyway')
  t.is(node.provider, undefined, 'no provider on the first chain yet')
  // chain B's provider started and tidied the executor: the first chain's container is still there
  const kept = await docker.getContainer(left.Id).inspect()
  t.true(kept.State.Running || kept.State.Status === 'exited', 'the first chain\'s container was kept by chain B\'s provider')
  t.is(containers.created, 1)
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_parked_deals'), new RegExp(`lilypad_parked_deals\\{chain="${A}"\\} 1`))
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_chain_joined'), new RegExp(`lilypad_chain_joined\\{chain="${A}"\\} 0`))
  // its slot is held for it: chain B's provider offers nothing meanwhile
  t.deepEqual(node.chainContexts.get(B)?.provider?.capacity.freeSlots(), [])

  resume()
  await node.firstChainJoined()
  const first = await Promise.race([adopted, containers.rerun])
  t.not(first, 'rerun', 'the first chain\'s container was removed and the job run again')
  if (first === 'rerun') return
  t.is((first as [{ containerId: string }])[0].containerId, left.Id, 'the first chain\'s provider adopted the very container that ran on')
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_parked_deals'), new RegExp(`lilypad_parked_deals\\{chain="${A}"\\} 0`))
  const watcher = await reader(A).watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  await watcher.waitFor('ResultSubmitted', 60_000)
  // the judge window passes on the first chain: the provider settles the deal itself
  await reader(A).provider.send('evm_increaseTime', [judgeWindow + 2])
  await reader(A).provider.send('evm_mine', [])
  await watcher.waitFor('Settled', 60_000)
  t.is(containers.created, 1, 'the job ran in one container')
  t.is(before.jc - await reader(A).depositOf(jcWallet.address), price, 'the job creator paid the price on the first chain')
  t.is(await reader(A).depositOf(rpWallet.address) - before.rp, price, 'the provider earned the price there, its collateral back')
})

test.serial('a parked deal whose result window has closed (the node restarted a day later, chain B still down): warned, counted, its container removed and its slot free', async t => {
  const netB = chainView(devnet.network, B)
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  const jcWallet = new Wallet(devKey(DEVNET_KEYS.user2))
  const dataDir = join(home, 'rp-expired')
  const dealId = await leaveCountersignedDeal({ domain: { chainId: BigInt(B), verifyingContract: netB.contracts.market }, mediators: netB.mediators ?? [], jobCreator: jcWallet, provider: rpWallet, dealsDir: join(dataDir, 'chains', String(B), 'rp-deals'), nonceTag: 992n , chain: reader(B) })
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await new Executor({ docker, owner }).reconcile(() => false) })
  const containers = await watchContainers(t, docker, owner, dealId)
  const [left] = await killMidJob(t, docker, containers, { owner, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1 })
  t.is(left?.State, 'running')

  stopChain(t, B)
  // the restart comes a day later (the node's clock is injected): the deal's result window (agree + 360 s) and the
  // margin (1 h) are long past, while chain B is still down
  const clock: Clock = { now: () => Date.now() + 24 * 3600_000, setTimeout: systemClock.setTimeout, sleep: systemClock.sleep }
  let warned: (line: Record<string, unknown>) => void = () => {}
  const warning = new Promise<Record<string, unknown>>(resolve => { warned = resolve })
  const destination = {
    write (line: string): void {
      const o = JSON.parse(line) as Record<string, unknown>
      if (o.dealId === dealId && String(o.msg).includes('result window closed')) warned(o)
    }
  }
  const executor = new Executor({ owner })
  const removed = new Promise<{ jobId: string }>(resolve => { executor.on('container:removed', e => { if (e.jobId === dealId) resolve(e) }) })
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE }, components: { clock, logger: { level: 'warn', format: 'json', destination } } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  t.deepEqual([...node.unavailableChains.keys()], [B], 'chain B not joined')
  const w = await warning
  t.is(w.level, 40)
  t.is(w.chainId, B)
  await removed
  await t.throwsAsync(docker.getContainer(left.Id).inspect(), { message: /no such container/i }, 'the parked container was removed')
  t.is(containers.created, 1, 'nothing was run again')
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_parked_deals_expired_total'), new RegExp(`lilypad_parked_deals_expired_total\\{chain="${B}"\\} 1`))
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_parked_deals'), new RegExp(`lilypad_parked_deals\\{chain="${B}"\\} 0`))
  // its slot is free again: the first chain's provider can book it
  t.deepEqual(node.provider?.capacity.freeSlots(), [0])
})
