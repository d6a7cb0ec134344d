// A resource provider SIGKILLed (a real child process) while its container runs, then restarted on the same
// data directory against a real devnet: the restarted provider adopts the running container instead of starting
// a second one beside it, submits the result, and leaves no container behind. The engine's own events count
// the provider's containers throughout.
import test from 'ava'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { Wallet } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { Executor, LABEL_OWNER, loadExecutorOwner } from '../node/executor/index.ts'
import { killMidJob, leaveCountersignedDeal, watchContainers } from './support/killed-provider.ts'

const docker = new Docker()
let home: string
let devnet: Devnet
let reader: ChainClient

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-killed-'))
  devnet = await startDevnet({ home, port: 0, slots: 1 })
  reader = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
})

test.after.always(async () => {
  await reader?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test('a provider killed with its container running: the restart adopts it, never two at once, no orphans', async t => {
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  // what a provider that crashed right after countersigning has on disk: its restart agrees and runs it
  const dataDir = join(home, 'rp')
  const dealId = await leaveCountersignedDeal({ domain: { chainId: BigInt(devnet.network.chainId), verifyingContract: devnet.network.contracts.market }, mediators: devnet.network.mediators ?? [], jobCreator: new Wallet(devKey(DEVNET_KEYS.user2)), provider: rpWallet, dealsDir: join(dataDir, 'rp-deals'), nonceTag: 997n , chain: reader })
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => {
    await new Executor({ docker, owner }).reconcile(() => false)
  })
  // the engine's own account of this provider's containers
  const containers = await watchContainers(t, docker, owner, dealId)
  const watcher = await reader.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  const [left] = await killMidJob(t, docker, containers, { owner, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, slots: 1 })
  t.is(left?.State, 'running', 'the killed provider\'s container runs on')

  // The restart: same data directory, so the same owner id; its executor is passed in to watch it adopt.
  const executor = new Executor({ owner: await loadExecutorOwner(dataDir) })
  const adopted = once(executor, 'container:adopted')
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, executor, provider: { slots: 1, price: DEVNET_PRICE } })
  t.teardown(async () => { await node.stop(); await executor.stop() })
  const [info] = await adopted as [{ containerId: string }]
  t.is(info.containerId, left.Id, 'the restarted provider took over the container that was running')
  const view = await watcher.waitFor('ResultSubmitted', 60_000)
  t.regex(view.resultCid ?? '', /^bafy/)
  t.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } }), [], 'no orphans')
  t.is(containers.most, 1, 'never more containers than the provider\'s one slot')
})
