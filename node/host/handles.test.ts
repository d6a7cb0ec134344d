import test from 'ava'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, localMeshOptions } from './create-host.ts'
import { loadOrCreatePeerKey, writeSwarmKeyFile, readSwarmKeyFile, KeyFileError } from './keys.ts'
import { Directory } from '../directory/directory.ts'
import { connectMesh, waitForMesh, testDomain, NETWORK, wallet, jobOffer, signedJobOffer, nowSec } from '../testing/fixtures.ts'
import { startProvider, startJobCreator } from '../testing/parties.ts'

/** Sockets, servers and timers alive in this process (ava's own IPC pipes and file requests aside). */
function handles (): string[] {
  return process.getActiveResourcesInfo().filter(r => /^(TCP|UDP|Timeout|Immediate)/.test(r)).sort()
}

/**
 * Sockets close asynchronously after stop() resolves and libp2p emits no event for it, so this polls (bounded by
 * 30 s, generous for a loaded machine) until the process holds the same handles as before; returns the ms waited.
 */
async function untilReleased (before: string[]): Promise<number> {
  const started = Date.now()
  while (handles().join() !== before.join() && Date.now() < started + 30_000) await new Promise(resolve => setTimeout(resolve, 50))
  return Date.now() - started
}

// serial: each test compares the whole process's handles before and after
test.serial('a node with every mesh service leaves no open handles once stopped', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-mesh-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const before = handles()
  const keys = await Promise.all([0, 1].map(async i => await loadOrCreatePeerKey(join(dir, `peer-${i}.key`))))
  const swarmKey = await writeSwarmKeyFile(join(dir, 'swarm.key'))
  const hosts = await Promise.all(keys.map(async privateKey => await createHost({ networkId: NETWORK, domain: testDomain, privateKey, swarmKey, ...localMeshOptions })))
  const rp = await startProvider(hosts[0], wallet('handles-rp'), { intervalMs: 50 })
  const jcW = wallet('handles-jc')
  const jc = await startJobCreator(hosts[1], jcW)
  const directory = new Directory(hosts[1], { networkId: NETWORK, domain: testDomain, signer: jcW, privateKey: keys[1], timeoutMs: 5000 })
  await connectMesh(hosts)
  await waitForMesh(hosts, jc.gossip.topics.resourceOffers)
  await new Promise<void>(resolve => { const off = jc.gossip.onVerified(() => { off(); resolve() }) })
  const job = await signedJobOffer(jcW, jobOffer(jcW.address))
  const deal = await jc.negotiator.propose(job, jc.gossip.book?.match(job.value, { now: nowSec() }) ?? [], jcW)
  t.is(deal.deal.resourceProvider, rp.wallet.address)
  await directory.publish({ roles: ['job-creator'] }).catch(() => undefined)
  t.true(handles().length > before.length)

  await rp.stop()
  await jc.stop()
  await Promise.all(hosts.map(async h => { await h.stop() }))
  const waited = await untilReleased(before)
  t.deepEqual(handles(), before)
  t.log(`handles released ${waited} ms after stop`)

  // the persistent peer key survives a restart; a corrupt key file is a named error
  const again = await loadOrCreatePeerKey(join(dir, 'peer-0.key'))
  t.true(again.equals(keys[0]))
  t.deepEqual(await readSwarmKeyFile(join(dir, 'swarm.key')), swarmKey)
  await t.throwsAsync(loadOrCreatePeerKey(join(dir, 'swarm.key')), { name: KeyFileError.name })
  t.true((await readFile(join(dir, 'swarm.key'), 'utf8')).startsWith('/key/swarm/psk/1.0.0/'))
})

test.serial('a relay, a node holding a reservation at it and a relayed connection leave no open handles once stopped', async t => {
  const before = handles()
  // a loaded machine (the whole suite at once on two cores) may take more than the production 10 s to dial and
  // handshake; this test is about what stop() releases, not about speed
  const slow = { ...localMeshOptions, limits: { dialTimeoutMs: 60_000, inboundUpgradeTimeoutMs: 60_000 } }
  const relay = await createHost({ networkId: NETWORK, domain: testDomain, ...slow, relay: true, relayLimits: { hopTimeoutMs: 60_000 } })
  const behind = await createHost({ networkId: NETWORK, domain: testDomain, ...slow, listen: ['/ip4/127.0.0.1/tcp/0', '/p2p-circuit'] })
  const dialer = await createHost({ networkId: NETWORK, domain: testDomain, ...slow })
  await behind.dial(relay.getMultiaddrs()[0], { signal: AbortSignal.timeout(60_000) })
  const circuit = await new Promise<string>(resolve => {
    const find = (): void => { const a = behind.getMultiaddrs().map(String).find(x => x.includes('/p2p-circuit/')); if (a !== undefined) { behind.removeEventListener('self:peer:update', find); resolve(a) } }
    behind.addEventListener('self:peer:update', find)
    find()
  })
  const conn = await dialer.dial(multiaddr(circuit), { signal: AbortSignal.timeout(60_000) })
  t.not(conn.limits, undefined)
  t.true(handles().length > before.length)
  await Promise.all([relay, behind, dialer].map(async h => { await h.stop() }))
  await untilReleased(before)
  t.deepEqual(handles(), before)
})
