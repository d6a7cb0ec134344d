// A real headless Chromium (Debian's chromium, driven by playwright-core) loads the bundled mesh peer from a
// page, joins the mesh over WebSockets through a Lilypad node, and receives a resource offer that another
// node gossips: it arrives through the mesh, verified in the browser (signature, canonical encoding).
import test from 'ava'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { chromium, type Browser } from 'playwright-core'
import { bundleMeshPeer } from './bundle.ts'
import { createHost, localMeshOptions, type LilypadHost } from '../node/host/create-host.ts'
import { GossipService } from '../node/gossip/gossip.ts'
import { OrderBook } from '../protocols/order-book.ts'
import { idOf } from '../protocols/eip712.ts'
import { testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, waitFor } from '../node/testing/fixtures.ts'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--no-sandbox', '--headless=new', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']

declare global {
  // what the page keeps (set by page.evaluate below)
  var offers: Array<{ id: string, provider: string, from: string }> | undefined
  var lilypad: typeof import('./mesh-peer.ts') | undefined
}

test('a browser joins the mesh over WebSockets and receives gossiped offers, verified', async t => {
  t.timeout(180_000)
  const js = await bundleMeshPeer()
  const server: Server = createServer((req, res) => {
    if (req.url === '/peer.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(js); return }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>Lilypad mesh</title><script type="module" src="/peer.js"></script>')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })

  // the entry node listens on WebSockets (and TCP for the other node); the publisher reaches it over TCP
  const hosts: LilypadHost[] = []
  const services: GossipService[] = []
  t.teardown(async () => { services.forEach(s => { s.stop() }); await Promise.all(hosts.map(async h => { await h.stop() })) })
  const entry = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, listen: ['/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/tcp/0'] })
  const publisher = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions })
  hosts.push(entry, publisher)
  for (const h of hosts) services.push(new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  services.forEach(s => { s.start() })
  const tcp = entry.getMultiaddrs().find(a => !a.toString().includes('/ws'))
  const ws = entry.getMultiaddrs().map(String).find(a => a.includes('/ws/'))
  t.truthy(tcp)
  t.truthy(ws)
  await publisher.dial(tcp!, { signal: AbortSignal.timeout(10_000) })

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: false, args: CHROMIUM_ARGS })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', e => { errors.push(e.message) })
  await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)
  await page.waitForFunction(() => globalThis.lilypad !== undefined, undefined, { timeout: 60_000 })
  const browserPeer = await page.evaluate(async (o) => {
    globalThis.offers = []
    const peer = await globalThis.lilypad!.joinMesh({ ...o, onOffer: offer => { globalThis.offers!.push(offer) } })
    return peer.node.peerId.toString()
  }, { networkId: NETWORK, chainId: testDomain.chainId.toString(), verifyingContract: testDomain.verifyingContract, bootstrap: [ws!] })
  t.true(entry.getConnections().some(c => c.remotePeer.toString() === browserPeer && c.remoteAddr.toString().includes('/ws')), 'the browser is connected over WebSockets')

  const topic = services[0].topics.resourceOffers
  await waitFor(() => entry.services.pubsub.getSubscribers(topic).some(p => p.toString() === browserPeer) && entry.services.pubsub.getSubscribers(topic).some(p => p.equals(publisher.peerId)), 30_000, 'the browser and the publisher subscribed at the entry node')

  // the publisher's offer crosses the mesh (publisher → entry → browser)
  const w = wallet('browser-provider')
  const env = await boundResourceOffer(w, resourceOffer(w.address), publisher.peerId.toString())
  const id = idOf('ResourceOffer', testDomain, env.value)
  await services[1].publishResourceOffer(env)
  await page.waitForFunction(i => globalThis.offers!.some(o => o.id === i), id, { timeout: 60_000 })
  const got = await page.evaluate(() => globalThis.offers!)
  t.is(got.length, 1)
  t.is(got[0].provider, w.address)
  t.is(got[0].from, entry.peerId.toString())
  t.deepEqual(errors, [])
})
