import test from 'ava'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from './service.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, signedResourceOffer } from '../testing/fixtures.ts'

test('two nodes: an offer published by one lands in the other\'s book', async t => {
  const hosts = await startHosts(2)
  const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(hosts) })
  services.forEach(s => { s.start() })
  await connectMesh(hosts)
  await waitForMesh(hosts, services[0].topics.resourceOffers)
  const rp = wallet('rp')
  const env = await signedResourceOffer(rp, resourceOffer(rp.address))
  const got = new Promise(resolve => services[1].onVerified(v => { resolve(v) }))
  await services[0].publishResourceOffer(env)
  await got
  t.is(services[1].book?.size, 1)
  t.is(services[1].metrics.accepted, 1)
})
