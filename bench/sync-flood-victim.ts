// The node under attack in bench/sync-flood.ts, in its own process so its event loop and CPU are its own: a host
// with an order book that serves offer sync and pulls from every peer that connects (what a bootstrap node or a
// job creator does). It reports its event-loop delay and CPU time over the measured window on IPC. It uses only
// the OfferSync constructor and start() that both sync versions share, so it also runs against older code.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { OrderBook } from '../protocols/order-book.ts'
import { OfferSync } from '../node/offer-sync/index.ts'
import { startHosts, testDomain, NETWORK, wallet, resourceOffer } from '../node/testing/fixtures.ts'

const bookSize = Number(process.argv[2] ?? 10_000)
const [host] = await startHosts(1)
const book = new OrderBook()
// a full book (signatures are not checked when serving; this is what walking it costs)
const now = BigInt(Math.floor(Date.now() / 1000))
for (let i = 0; i < bookSize; i++) {
  const provider = wallet(`victim-book-${i % 2000}`).address
  const live = { offer: resourceOffer(provider, { slot: Math.floor(i / 2000), expiry: now + 3000n }), id: '0x' + i.toString(16).padStart(64, '0'), signature: '0x' + '11'.repeat(65), peer: wallet(`victim-peer-${i % 2000}`).address, binding: { expiry: now + 3600n, signature: '0x' + '22'.repeat(65) } }
  book.add(live, now)
}
const sync = new OfferSync(host, { networkId: NETWORK, domain: testDomain, book })
await sync.start({ serve: true, pull: true })
const h = monitorEventLoopDelay({ resolution: 5 })
let cpu0 = process.cpuUsage()
process.on('message', (m: { type: string }) => {
  if (m.type === 'start') { h.reset(); h.enable(); cpu0 = process.cpuUsage() }
  if (m.type === 'stop') {
    h.disable()
    const cpu = process.cpuUsage(cpu0)
    const metrics = (sync as unknown as { metrics?: unknown }).metrics
    process.send?.({ type: 'report', lagP50Ms: h.percentile(50) / 1e6, lagP99Ms: h.percentile(99) / 1e6, lagMaxMs: h.max / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, bookSize: book.size, metrics })
  }
  if (m.type === 'exit') { void sync.stop().then(async () => { await host.stop(); process.exit(0) }) }
})
process.send?.({ type: 'ready', addrs: host.getMultiaddrs().map(String), peer: host.peerId.toString() })
