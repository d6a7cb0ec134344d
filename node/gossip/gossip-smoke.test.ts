import test from 'ava'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from './gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer } from '../testing/fixtures.ts'

test('two nodes: an offer published by one lands in the other\'s book', async t => {
  const hosts = await startHosts(2)
  const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(hosts) })
  services.forEach(s => { s.start() })
  await connectMesh(hosts)
  await waitForMesh(hosts, services[0].topics.resourceOffers)
  const rp = wallet('rp')
  const env = await boundResourceOffer(rp, resourceOffer(rp.address), hosts[0].peerId.toString())
  const got = new Promise(resolve => services[1].onVerified(v => { resolve(v) }))
  await services[0].publishResourceOffer(env)
  await got
  t.is(services[1].book?.size, 1)
  t.is(services[1].metrics.accepted, 1)
})

test('a burst through a tiny queue: the queue stays bounded and every message gets exactly one verdict', async t => {
  const hosts = await startHosts(2)
  const sender = new GossipService(hosts[0], { networkId: NETWORK, domain: testDomain })
  const receiver = new GossipService(hosts[1], { networkId: NETWORK, domain: testDomain, book: new OrderBook(), queueSize: 2 })
  t.teardown(async () => { sender.stop(); receiver.stop(); await stopAll(hosts) })
  sender.start(); receiver.start()
  await connectMesh(hosts)
  await waitForMesh(hosts, sender.topics.resourceOffers)
  const envs = await Promise.all(Array.from({ length: 40 }, async (_, i) => { const w = wallet(`burst-${i}`); return await boundResourceOffer(w, resourceOffer(w.address), hosts[0].peerId.toString()) }))
  const verdicts = new Map<string, number>()
  let maxQueue = 0
  const all = new Promise<void>(resolve => receiver.onVerdict((_v, _c, _f, msgId) => {
    verdicts.set(msgId, (verdicts.get(msgId) ?? 0) + 1)
    maxQueue = Math.max(maxQueue, receiver.queueLength)
    if (verdicts.size === envs.length) resolve()
  }))
  await Promise.all(envs.map(async e => { await sender.publishResourceOffer(e) }))
  await all
  t.true(maxQueue <= 2)
  t.true([...verdicts.values()].every(n => n === 1))
  const m = receiver.metrics
  t.is(m.received, envs.length)
  t.is(m.accepted + m.rejected + m.ignored, envs.length)
  t.is(m.dropped, m.byCode.QUEUE_FULL ?? 0)
  t.is(receiver.book?.size, m.accepted)
  t.log(`accepted ${m.accepted}, dropped at a full queue ${m.dropped}`)
})
