// One provider identity over a Docker Swarm (issue 21), end to end against real parts: a devnet whose provider
// runs its jobs as services on a real single-node swarm (made by the first test process that needs one and left
// by the last: node/testing/swarm.ts). The cowsay job through it gives the same result CID as the plain executor;
// its offers follow the cluster (a drained node offers nothing, and no more slots are offered than fit).
import test from 'ava'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import Docker from 'dockerode'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { devKey } from '../node/chain/index.ts'
import { Executor, SwarmExecutor, LABEL_OWNER } from '../node/executor/index.ts'
import { loadModule } from '../node/modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../node/modules/images.ts'
import { ResultStore } from '../node/result-store/index.ts'
import { exclusive, useSwarm, type TestSwarm } from '../node/testing/swarm.ts'
import { waitFor } from '../node/testing/fixtures.ts'

const docker = new Docker()
let home: string
let swarm: TestSwarm | undefined
let devnet: Devnet | undefined
let jcNode: LilypadNode | undefined

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-swarm-e2e-'))
  await ensureBuiltinImages(docker, { only: ['cowsay:v0.0.1'] })
  swarm = await useSwarm(docker)
})

test.after.always(async () => {
  await jcNode?.stop()
  await devnet?.stop()
  await swarm?.release()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

// The node to itself for the whole test (other test processes' swarm jobs wait): what the provider offers depends
// on what else runs on the cluster, and the node is drained at the end.
test('the cowsay job through a Swarm provider: its offers come from the cluster, its job runs as a service, the result CID is the plain executor\'s', async t => {
  await exclusive(async () => {
    devnet = await startDevnet({ home, port: 0, slots: 1, executor: 'swarm', mediator: false })
    const rp = devnet.provider.provider
    t.truthy(rp)
    const now = (): bigint => BigInt(Math.floor(Date.now() / 1000))
    // one slot the size of the (only) node, offered because the cluster holds it
    t.is(rp?.template.spec.cpu, (await new SwarmExecutor({ docker }).nodes()).find(n => n.id === swarm?.nodeId)?.cpu)

    // the provider's services, seen by the engine
    const events = await docker.getEvents({ filters: { type: ['service'], event: ['create'] } })
    const created: string[] = []
    events.on('data', (b: Buffer) => { for (const l of b.toString().split('\n').filter(Boolean)) created.push((JSON.parse(l) as { Actor: { ID: string } }).Actor.ID) })
    t.teardown(() => { (events as unknown as { destroy: () => void }).destroy() })

    jcNode = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user), dataDir: join(home, 'jc'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
    const jc = await jcNode.createJobCreator({ network: devnet.network, dataDir: join(home, 'jc') })
    const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'moo' } })
    t.is(out.exitCode, 0)
    t.regex(await readFile(join(out.path, 'stdout'), 'utf8'), /< moo >/)
    t.true(created.length >= 1, 'the job ran as a swarm service')

    // the same job through the plain executor, its result directory added the same way
    const spec = await pinSpecImage(docker, (await loadModule('cowsay:v0.0.1', { Message: 'moo' })).spec)
    const plain = await new Executor({ docker }).run(spec, { resultDir: join(home, 'plain') })
    const store = await ResultStore.create({ dataDir: join(home, 'store') })
    try {
      t.is((await store.addDirectory(plain.resultDir)).toString(), out.resultCid)
    } finally { await store.stop() }
    t.deepEqual(await docker.listServices({ filters: { label: [`${LABEL_OWNER}`] } }).then(l => l.filter(s => created.includes(s.ID))), [], 'the job\'s service was removed')

    // the provider books no more slots than the cluster holds: 64 it may hold, one fits the node, one is offered
    t.is(rp?.slotCount, 64)
    await waitFor(() => rp?.liveOffers(now()).length === 1, 30_000, 'one offer (the job\'s slot free again)')
    // the node drained: the node-event stream tells the provider, which withdraws its offer; active again, it offers it
    const node = docker.getNode(swarm?.nodeId ?? '')
    const set = async (Availability: string): Promise<void> => { const info = await node.inspect(); await node.update({ version: info.Version.Index, ...info.Spec, Availability }) }
    try {
      await set('drain')
      await waitFor(() => rp?.liveOffers(now()).length === 0, 30_000, 'the offer withdrawn from a drained cluster')
      const metrics = devnet?.components.metrics
      t.is((await metrics?.clusterSlots.get())?.values[0]?.value, 0, 'lilypad_cluster_slots says why')
      t.deepEqual((await metrics?.clusterNodes.get())?.values.map(v => [v.labels.state, v.value]).sort(), [['unusable', 1], ['usable', 0]])
    } finally { await set('active') }
    await waitFor(() => rp?.liveOffers(now()).length === 1, 30_000, 'the offer back')
  })
})
