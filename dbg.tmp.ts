import { idOf } from './protocols/eip712.ts'
import { OrderBook } from './protocols/order-book.ts'
import { GossipService } from './node/gossip/gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer } from './node/testing/fixtures.ts'
const hosts = await startHosts(10)
const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
services.forEach(s => { s.start() })
services.forEach((s, i) => s.onVerdict((v, code, from) => console.log('node', i, v, code)))
await connectMesh(hosts)
await waitForMesh(hosts, services[0].topics.resourceOffers)
const publishers = [0, 4, 9]
const envs = await Promise.all(publishers.map(async i => { const w = wallet(`mesh-rp-${i}`); return await boundResourceOffer(w, resourceOffer(w.address), hosts[i].peerId.toString()) }))
await Promise.all(publishers.map(async (p, k) => { await services[p].publishResourceOffer(envs[k]) }))
await new Promise(r => setTimeout(r, 5000))
console.log(services.map(s => s.metrics))
process.exit(0)
