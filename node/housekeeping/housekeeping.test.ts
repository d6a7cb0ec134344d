// Housekeeping against real parts: a libp2p host, an order book, a deal store on disk and anvil, with an injected
// clock so the minutes between status lines pass without sleeping.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider } from 'ethers'
import { ManualClock } from '../../core/clock.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import { createLogger } from '../observability/logger.ts'
import { LilypadMetrics } from '../observability/metrics.ts'
import { startAnvil } from '../chain/anvil.ts'
import { startHosts, stopAll, wallet, resourceOffer, signedResourceOffer } from '../testing/fixtures.ts'
import { idOf } from '../../protocols/eip712.ts'
import { testDomain } from '../testing/fixtures.ts'
import { Housekeeping } from './housekeeping.ts'

test('a status line every interval says what the node holds; sweeps bound the book and the deal records; an RPC outage is logged', async t => {
  const clock = new ManualClock(Date.now())
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level: 'debug', format: 'json', destination: { write (l: string) { lines.push(JSON.parse(l) as Record<string, unknown>) } } })
  const metrics = new LilypadMetrics({ defaultMetrics: false })
  const c = { clock, logger, metrics }
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  await hosts[0].dial(hosts[1].getMultiaddrs()[0])
  const anvil = await startAnvil()
  t.teardown(async () => { await anvil.stop() })
  // no response cache: the injected clock makes minutes pass in milliseconds
  const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 })
  t.teardown(() => { provider.destroy() })
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-housekeeping-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const deals = new DealStore<StoredRecord>(dir, { clock })
  await deals.put({ id: 'settled-1', terminal: true, updatedAt: 0 })
  await deals.put({ id: 'open-1', terminal: false, updatedAt: 0 })
  const book = new OrderBook()
  const w = wallet('housekeeping-rp')
  const nowSec = BigInt(Math.floor(clock.now() / 1000))
  const offer = await signedResourceOffer(w, resourceOffer(w.address, { expiry: nowSec + 90n }))
  book.add({ offer: offer.value, id: idOf('ResourceOffer', testDomain, offer.value), signature: offer.signature }, nowSec)

  const hk = new Housekeeping(c, { host: hosts[0], book, stores: () => [{ name: 'rp-deals', store: deals }], chain: { provider } }, { statusIntervalMs: 60_000, sweepIntervalMs: 60_000, dealRetentionMs: 120_000 })
  hk.start()
  t.teardown(async () => { await hk.stop() })
  await clock.advance(60_000)
  const status = (): Array<Record<string, unknown>> => lines.filter(l => l.msg === 'status')
  await waitForLine(() => status().length === 1, 'step 1')
  const first = status()[0]
  t.like(first, { component: 'node', peers: 1, connections: 1, offers: 1, providers: 1, dealsOpen: 1, dealRecords: 2, chainHead: 0 })
  for (const k of ['rssMb', 'heapMb', 'heapTotalMb', 'externalMb', 'codeMb', 'largeObjectsMb', 'handles', 'streams', 'bootstrap', 'storedPeers', 'unreachable']) t.true(k in first, k)
  t.is((await metrics.offersKnown.get()).values[0].value, 1)

  // two minutes on: the offer expired and was swept; the settled record is past its retention and removed
  await clock.advance(60_000)
  await waitForLine(() => status().length === 2, 'step 2')
  await clock.advance(60_000)
  await waitForLine(() => status().length === 3, 'step 2b')
  t.like(status()[2], { offers: 0, providers: 0, dealsOpen: 1, dealRecords: 1 })
  await waitForLine(() => lines.some(l => l.msg === 'removed terminal deal records past their retention' && l.removed === 1), 'step 3')

  // the chain stops answering (anvil paused): the status line says so, and so does a warning with the reason
  process.kill(anvil.pid, 'SIGSTOP')
  t.teardown(() => { process.kill(anvil.pid, 'SIGCONT') })
  await clock.advance(60_000)
  await waitForLine(() => status().length === 4, 'step 4') // after the RPC call's own timeout (5 s of real time: it is I/O)
  t.is(status()[3].chainHead, null)
  t.truthy(lines.find(l => l.msg === 'chain RPC not answering' && l.level === 40))
  process.kill(anvil.pid, 'SIGCONT')
  await clock.advance(60_000)
  await waitForLine(() => status().length === 5, 'step 5')
  t.is(status()[4].chainHead, 0)
  t.truthy(lines.find(l => l.msg === 'chain RPC answers again'))
})

/** A status line is written after async reads (deal store, RPC); this waits for that, not for a time. */
async function waitForLine (cond: () => boolean, what = ''): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise(resolve => setImmediate(resolve))
  if (!cond()) await new Promise<void>((resolve, reject) => {
    // a bound for failing, not a wait: the RPC-outage step alone spends the call's 5 s timeout, and on a loaded
    // machine (load 20 seen) the reads around it add seconds more
    const end = Date.now() + 30_000
    const poll = (): void => { if (cond()) resolve(); else if (Date.now() > end) reject(new Error(`no status line (${what})`)); else setTimeout(poll, 20) }
    poll()
  })
}
