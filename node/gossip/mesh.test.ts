import test from 'ava'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { idOf } from '../../protocols/eip712.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from './gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, waitFor } from '../testing/fixtures.ts'

/** Resolves when every service has accepted every id in `ids`. */
function allReceive (services: GossipService[], ids: string[]): Promise<void> {
  return new Promise(resolve => {
    const missing = new Set(services.flatMap((_, i) => ids.map(id => `${i}:${id}`)))
    services.forEach((s, i) => s.onVerified(v => {
      missing.delete(`${i}:${v.id}`)
      if (missing.size === 0) resolve()
    }))
  })
}

test('10-node mesh: every resource offer published reaches every other node', async t => {
  const hosts = await startHosts(10)
  const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(hosts) })
  services.forEach(s => { s.start() })
  await connectMesh(hosts)
  await waitForMesh(hosts, services[0].topics.resourceOffers)
  const publishers = [0, 4, 9]
  const envs = await Promise.all(publishers.map(async i => { const w = wallet(`mesh-rp-${i}`); return await boundResourceOffer(w, resourceOffer(w.address), hosts[i].peerId.toString()) }))
  const done = publishers.map((p, k) => allReceive(services.filter((_, i) => i !== p), [idOf('ResourceOffer', testDomain, envs[k].value)]))
  await Promise.all(publishers.map(async (p, k) => { await services[p].publishResourceOffer(envs[k]) }))
  await Promise.all(done)
  services.forEach((s, i) => { t.is(s.book?.size, publishers.includes(i) ? 2 : 3) })
  t.true(services.every(s => s.metrics.rejected === 0))
})

test('two OS processes: offers cross in both directions', async t => {
  const hosts = await startHosts(5)
  const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  services.forEach(s => { s.start() })
  const child = fork(fileURLToPath(new URL('../testing/mesh-child.ts', import.meta.url)), ['5'], { execPath: process.execPath, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  t.teardown(async () => {
    services.forEach(s => { s.stop() })
    await stopAll(hosts)
    if (child.exitCode === null) { child.kill('SIGKILL'); await once(child, 'exit') }
  })
  const received = new Map<string, Set<number>>()
  const waiters: Array<() => void> = []
  let ready: { addrs: string[][] } | undefined
  child.on('message', (m: { type: string, node?: number, id?: string, addrs?: string[][] }) => {
    if (m.type === 'ready') ready = m as { addrs: string[][] }
    if (m.type === 'received') {
      const s = received.get(m.id as string) ?? new Set<number>()
      s.add(m.node as number)
      received.set(m.id as string, s)
    }
    waiters.splice(0).forEach(w => { w() })
  })
  // waits on the child's IPC messages; fails (instead of hanging) if the condition is not met in time
  const next = async (cond: () => boolean, what: string | (() => string)): Promise<void> => {
    const deadline = AbortSignal.timeout(120_000) // generous: a child process starting under load takes seconds; the test timeout bounds the whole
    while (!cond()) {
      await new Promise<void>((resolve, reject) => {
        waiters.push(resolve)
        deadline.addEventListener('abort', () => { reject(new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)) }, { once: true })
      })
    }
  }
  await Promise.race([next(() => ready !== undefined, 'child ready'), once(child, 'exit').then(() => { throw new Error('child exited') })])
  await connectMesh(hosts)
  await Promise.all((ready as { addrs: string[][] }).addrs.map(async (a, i) => await hosts[i].dial((await import('@multiformats/multiaddr')).multiaddr(a[0]), { signal: AbortSignal.timeout(60_000) })))
  const topic = services[0].topics.resourceOffers
  await waitForMesh(hosts, topic)
  await waitFor(() => hosts.every(h => h.services.pubsub.getSubscribers(topic).length >= 2), 60_000, 'cross-process subscriptions')
  let meshed = false
  child.on('message', (m: { type: string }) => { if (m.type === 'meshed') meshed = true })
  child.send({ type: 'await-mesh' })
  await next(() => meshed, 'child mesh')

  // parent → child
  const w = wallet('cross-parent')
  const env = await boundResourceOffer(w, resourceOffer(w.address), hosts[2].peerId.toString())
  const id = idOf('ResourceOffer', testDomain, env.value)
  await services[2].publishResourceOffer(env)
  await next(() => (received.get(id)?.size ?? 0) === 5, () => `child nodes to receive (${[...(received.get(id) ?? [])].join(',')} so far; parent subscribers ${hosts.map(h => h.services.pubsub.getSubscribers(topic).length).join(',')})`)
  t.is(received.get(id)?.size, 5)

  // child → parent
  const got = new Promise<void>((resolve, reject) => {
    const seen = new Set<number>()
    services.forEach((s, i) => s.onVerified(v => { if (v.signer === wallet('cross-child').address) { seen.add(i); if (seen.size === 5) resolve() } }))
    AbortSignal.timeout(120_000).addEventListener('abort', () => { reject(new Error(`parent nodes received from child: ${seen.size}/5`)) })
  })
  child.send({ type: 'publish', label: 'cross-child' })
  await got
  t.true(services.every(s => s.book?.offers().some(l => l.offer.provider === wallet('cross-child').address)))
  child.send({ type: 'stop' })
  await once(child, 'exit')
})
