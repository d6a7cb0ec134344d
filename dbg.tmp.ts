import { idOf } from './protocols/eip712.ts'
import { OrderBook } from './protocols/order-book.ts'
import { GossipService } from './node/gossip/gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer } from './node/testing/fixtures.ts'
const hosts = await startHosts(10)
const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
services.forEach(s => { s.start() })
const t0 = performance.now()
services.forEach((s, i) => s.onVerdict((v, code, from) => console.log(Math.round(performance.now() - t0), 'node', i, v, code)))
await connectMesh(hosts)
await waitForMesh(hosts, services[0].topics.resourceOffers)
console.log('meshed', Math.round(performance.now() - t0))
const publishers = [0, 4, 9]
const envs = await Promise.all(publishers.map(async i => { const w = wallet(`mesh-rp-${i}`); return await boundResourceOffer(w, resourceOffer(w.address), hosts[i].peerId.toString()) }))
console.log('publishing', Math.round(performance.now() - t0))
await Promise.all(publishers.map(async (p, k) => { await services[p].publishResourceOffer(envs[k]) }))
await new Promise(r => setTimeout(r, 8000))
console.log(services.map(s => s.book?.size).join(' '))
process.exit(0)
