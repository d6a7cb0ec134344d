import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, localMeshOptions } from './create-host.ts'
import { hostOptionsFromNetwork } from './from-network.ts'
import { writeSwarmKeyFile } from './keys.ts'
import type { NetworkFile } from '../config/network.ts'

test('a network file gives the protocol prefix, domain, swarm key, bootstrap peers and a persistent peer key', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-net-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeSwarmKeyFile(join(dir, 'swarm.key'))
  const seed = await createHost({ ...(await hostOptionsFromNetwork(network([]), join(dir, 'network.json'), join(dir, 'seed'))), ...localMeshOptions })
  t.teardown(async () => { await seed.stop() })
  const bootstrap = [`${seed.getMultiaddrs()[0].toString()}`]
  const opts = await hostOptionsFromNetwork(network(bootstrap), join(dir, 'network.json'), join(dir, 'node'), localMeshOptions)
  t.is(opts.networkId, 'filenet')
  t.is(opts.domain.chainId, 31337n)
  t.deepEqual(opts.bootstrap, bootstrap)
  const node = await createHost(opts)
  t.teardown(async () => { await node.stop() })
  // bootstrap discovery dials the seed through the swarm key; the connection is the event we wait on
  if (node.getConnections(seed.peerId).length === 0) {
    await new Promise<void>(resolve => { node.addEventListener('connection:open', e => { if (e.detail.remotePeer.equals(seed.peerId)) resolve() }) })
  }
  t.true(node.getProtocols().includes('/lilypad/filenet/kad/1.0.0'))
  const again = await hostOptionsFromNetwork(network(bootstrap), join(dir, 'network.json'), join(dir, 'node'))
  t.true(again.privateKey?.equals(opts.privateKey as NonNullable<typeof opts.privateKey>))
})

function network (bootstrap: string[]): NetworkFile {
  return {
    networkId: 'filenet',
    chainId: 31337,
    rpcUrl: 'http://127.0.0.1:8545',
    contracts: { token: '0x' + '1'.repeat(40), market: '0x5FbDB2315678afecb367f032d93F642f64180aa3', directory: '0x' + '2'.repeat(40), jobManager: '0x' + '3'.repeat(40) },
    deployBlock: 0,
    bootstrap,
    swarmKeyPath: 'swarm.key'
  }
}
