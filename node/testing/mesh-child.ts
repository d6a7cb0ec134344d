// A child process running a few Lilypad nodes, driven by the parent test over IPC: it reports its
// multiaddrs, dials what it is told, reports every resource offer its nodes accept, and publishes on demand.
import { OrderBook } from '../../protocols/order-book.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { GossipService } from '../gossip/gossip.ts'
import { startHosts, connectMesh, waitForMesh, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, waitFor } from './fixtures.ts'

type Command = { type: 'connect', addrs: string[][] } | { type: 'await-mesh' } | { type: 'publish', label: string } | { type: 'stop' }

const count = Number(process.argv[2] ?? 5)
const hosts = await startHosts(count)
const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
services.forEach((s, i) => {
  s.start()
  s.onVerified(v => { process.send?.({ type: 'received', node: i, id: v.id }) })
})
await connectMesh(hosts)
await waitForMesh(hosts, services[0].topics.resourceOffers)

process.on('message', (m: Command) => {
  void (async () => {
    if (m.type === 'connect') {
      await Promise.all(m.addrs.map(async (a, i) => await hosts[i % hosts.length].dial(multiaddr(a[0]), { signal: AbortSignal.timeout(60_000) })))
      process.send?.({ type: 'connected' })
    } else if (m.type === 'await-mesh') {
      await waitForMesh(hosts, services[0].topics.resourceOffers)
      await waitFor(() => hosts.some(h => h.getConnections().length > 3) && hosts.every(h => h.services.pubsub.getSubscribers(services[0].topics.resourceOffers).length >= 2), 60_000, 'cross-process subscribers')
      process.send?.({ type: 'meshed' })
    } else if (m.type === 'publish') {
      const w = wallet(m.label)
      const env = await boundResourceOffer(w, resourceOffer(w.address), hosts[0].peerId.toString())
      await services[0].publishResourceOffer(env)
      process.send?.({ type: 'published' })
    } else if (m.type === 'stop') {
      services.forEach(s => { s.stop() })
      await Promise.all(hosts.map(async h => { await h.stop() }))
      process.exit(0)
    }
  })()
})
process.send?.({ type: 'ready', addrs: hosts.map(h => h.getMultiaddrs().map(String)), peers: hosts.map(h => h.peerId.toString()) })
