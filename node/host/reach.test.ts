// Keeping providers dialable for hours (issue 20). The hour-old devnet is reproduced with libp2p's own address TTL
// shortened (the real `maxAddressAge`, no fake time inside libp2p): the bootstrap node learned the provider's
// addresses once, when it connected, and an "hour" later hands joining job creators live offers with no address.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { OrderBook } from '../../protocols/order-book.ts'
import { OfferSync } from '../offer-sync/offer-sync.ts'
import { GossipService } from '../gossip/gossip.ts'
import { Directory, readNodeRecord } from '../directory/directory.ts'
import { createLogger } from '../observability/logger.ts'
import { LilypadMetrics } from '../observability/metrics.ts'
import { ManualClock } from '../../core/clock.ts'
import { startHosts, stopAll, testDomain, NETWORK, wallet, jobOffer, signedJobOffer, nowSec, waitFor } from '../testing/fixtures.ts'
import { startProvider, startJobCreator, type Provider } from '../testing/parties.ts'
import { NoDealError } from '../negotiation/negotiator.ts'
import { loadOrCreatePeerKey } from './keys.ts'
import type { HostOptions, LilypadHost } from './create-host.ts'
import type { ExecutionContext } from 'ava'
import type { SingleKadDHT } from '@libp2p/kad-dht'

/** the shortened address lifetime: long enough that a loaded machine's event-loop stalls stay well inside it */
const TTL = 3000
const LOADED = { dialTimeoutMs: 20_000, stepTimeoutMs: 10_000 }

async function tempKey (t: ExecutionContext): Promise<PrivateKey> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-reach-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return await loadOrCreatePeerKey(join(dir, 'peer.key'))
}
/** reach's periodic work is off unless a test asks for it: each test turns on what it shows */
const OFF = { refreshIntervalMs: 3_600_000, sweepIntervalMs: 3_600_000 }

function logs (): { lines: Array<Record<string, unknown>>, logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = []
  return { lines, logger: createLogger({ level: 'debug', format: 'json', destination: { write (l: string) { lines.push(JSON.parse(l) as Record<string, unknown>) } } }) }
}

interface Scene { boot: LilypadHost, rpHost: LilypadHost, rp: Provider, bootBook: OrderBook }

/** A bootstrap (order book, sync serving and pulling) and a provider that dials it, as in the devnet. */
async function scene (t: ExecutionContext, boot: Partial<HostOptions>, rpHostOpts: Partial<HostOptions> = {}): Promise<Scene> {
  const [bootHost] = await startHosts(1, boot)
  const [rpHost] = await startHosts(1, rpHostOpts)
  t.teardown(async () => { await stopAll([bootHost, rpHost]) })
  const rp = await startProvider(rpHost, wallet('reach-rp'), { intervalMs: 300 })
  const rpSync = new OfferSync(rpHost, { networkId: NETWORK, domain: testDomain, ownOffers: () => rp.announcer.liveOffers(nowSec()) })
  await rpSync.start({ serve: true })
  const bootBook = new OrderBook()
  const bootGossip = new GossipService(bootHost, { networkId: NETWORK, domain: testDomain, book: bootBook })
  bootGossip.start()
  const bootSync = new OfferSync(bootHost, { networkId: NETWORK, domain: testDomain, book: bootBook })
  await bootSync.start({ serve: true, pull: true })
  t.teardown(async () => { await rpSync.stop(); await bootSync.stop(); bootGossip.stop(); await rp.stop() })
  await rpHost.dial(bootHost.getMultiaddrs()[0])
  await waitFor(() => bootBook.size > 0, 30_000, 'the provider\'s offers at the bootstrap')
  return { boot: bootHost, rpHost, rp, bootBook }
}

/** A job creator joining through the bootstrap, like `lilypad run`: it syncs the bootstrap's book on connect. */
async function joiningJobCreator (t: ExecutionContext, boot: LilypadHost, over: Partial<HostOptions> = {}): Promise<{ host: LilypadHost, jc: Awaited<ReturnType<typeof startJobCreator>>, sync: OfferSync, w: ReturnType<typeof wallet> }> {
  const [host] = await startHosts(1, over)
  const w = wallet('reach-jc')
  // generous dial budgets: re-resolution and the dial share them, and the machine may be loaded
  const jc = await startJobCreator(host, w, LOADED)
  const sync = new OfferSync(host, { networkId: NETWORK, domain: testDomain, book: jc.gossip.book })
  await sync.start({ serve: false, pull: true })
  t.teardown(async () => { await sync.stop(); await jc.stop(); await host.stop() })
  const synced = new Promise<void>(resolve => { sync.onSynced(resolve) })
  await host.dial(boot.getMultiaddrs()[0])
  await synced
  return { host, jc, sync, w }
}

async function propose (jc: Awaited<ReturnType<typeof startJobCreator>>, w: ReturnType<typeof wallet>): ReturnType<Awaited<ReturnType<typeof startJobCreator>>['negotiator']['propose']> {
  const job = await signedJobOffer(w, jobOffer(w.address))
  return await jc.negotiator.propose(job, jc.gossip.book?.match(job.value, { now: nowSec() }) ?? [], w)
}

const storedAddrs = async (h: LilypadHost, of: LilypadHost): Promise<Multiaddr[]> => (await h.peerStore.get(of.peerId)).addresses.map(a => a.multiaddr)

test.serial('the hour-old devnet, reproduced: libp2p expires the bootstrap\'s address for a provider it is still connected to; without the signed peer record sync now carries, a joining job creator gets the offer and NoValidAddressesError', async t => {
  const { boot, rpHost } = await scene(t, { addressTtlMs: TTL, reach: OFF })
  t.true((await storedAddrs(boot, rpHost)).length > 0)
  // storing the same address again does not renew it: libp2p keeps the time it was first stored
  await boot.peerStore.merge(rpHost.peerId, { multiaddrs: rpHost.getMultiaddrs().map(m => m.decapsulateCode(421)) })
  await waitFor(async () => (await storedAddrs(boot, rpHost)).length === 0, 30_000, 'the bootstrap\'s addresses for the provider to expire')
  await boot.peerStore.merge(rpHost.peerId, { multiaddrs: rpHost.getMultiaddrs().map(m => m.decapsulateCode(421)) })
  t.is((await storedAddrs(boot, rpHost)).length, 0, 'an expired address stays expired when stored again')
  t.true(boot.getConnections(rpHost.peerId).length > 0, 'still connected: the offers keep coming')

  // Offer sync 2.0.0 hands joining nodes the provider's own signed peer record, which outlives the expired
  // addresses (node/offer-sync/offer-sync.test.ts). Without it — a bootstrap that has no record: here it forgets
  // the peer's entry, record included — the joining job creator resolves nothing: sync and the DHT answer from
  // the same peer store
  await boot.peerStore.delete(rpHost.peerId)
  const { host, jc, w } = await joiningJobCreator(t, boot, { reach: { ...OFF, resolveTimeoutMs: 5000 } })
  t.is((await storedAddrs(host, rpHost).catch(() => [])).length, 0)
  // libp2p's own dial gives the error the issue reported (once the DHT, its last resort, knows the bootstrap)
  await waitFor(() => (host.services.dht as SingleKadDHT).routingTable.size > 0, 30_000, 'the job creator\'s DHT routing table')
  const raw = await t.throwsAsync(host.dialProtocol(rpHost.peerId, '/lilypad/testnet/deal/1.0.0', { signal: AbortSignal.timeout(20_000) }))
  t.is(raw?.name, 'NoValidAddressesError')
  // through reach the job creator says why, and demotes the provider
  const err = await t.throwsAsync(propose(jc, w), { instanceOf: NoDealError })
  t.regex(err?.message ?? '', /unreachable \(UnreachablePeerError\)/)
  t.true(host.services.reach.isDemoted(rpHost.peerId.toString()))
})

test.serial('the fix: the bootstrap re-stores the addresses of connected peers, so an hour later a joining job creator still dials the provider', async t => {
  const { boot, rpHost } = await scene(t, { addressTtlMs: TTL, reach: { ...OFF, refreshIntervalMs: 500 } })
  const firstStored = Date.now()
  // more than two address lifetimes pass (waiting on the clock is what an expiry test is about)
  await waitFor(() => Date.now() - firstStored > 2.5 * TTL, 30_000, 'two address lifetimes')
  t.true((await storedAddrs(boot, rpHost)).length > 0, 'the bootstrap still has the provider\'s addresses')
  const { jc, w } = await joiningJobCreator(t, boot)
  const deal = await propose(jc, w)
  t.is(deal.providerPeer, rpHost.peerId.toString())
})

test.serial('a provider the job creator cannot dial is demoted, logged with the reason, and re-resolved from its signed directory record', async t => {
  const log = logs()
  const rpKey = await tempKey(t)
  const { boot, rpHost } = await scene(t, { addressTtlMs: TTL, reach: OFF }, { privateKey: rpKey })
  await waitFor(async () => (await storedAddrs(boot, rpHost)).length === 0, 30_000, 'the bootstrap\'s addresses for the provider to expire')
  // the bootstrap forgets the provider's signed peer record too, so sync cannot pass it on (see the test above)
  await boot.peerStore.delete(rpHost.peerId)
  // a DHT client, so the provider's publish cannot reach it directly: the record must be looked up. Only the
  // directory is asked (the bootstrap may meanwhile relearn the address from DHT traffic; the test above covers it)
  const metrics = new LilypadMetrics({ defaultMetrics: false })
  const { host, jc, w } = await joiningJobCreator(t, boot, { dhtServer: false, reach: { ...OFF, resolveTimeoutMs: 10_000, resolvers: ['directory'] }, components: { logger: log.logger, metrics } })
  await t.throwsAsync(propose(jc, w), { instanceOf: NoDealError })
  t.true(host.services.reach.isDemoted(rpHost.peerId.toString()))
  const line = log.lines.find(l => l.msg === 'peer unreachable: its offers go last until it is reached again')
  t.is(line?.peer, rpHost.peerId.toString())
  t.regex(String(line?.reason), /no address known/)

  // the provider publishes its record (node/node.ts keeps it published); the next attempt finds it there
  await waitFor(() => (rpHost.services.dht as SingleKadDHT).routingTable.size > 0, 30_000, 'the provider\'s DHT routing table')
  const directory = new Directory(rpHost, { networkId: NETWORK, domain: testDomain, signer: wallet('reach-rp'), privateKey: rpKey, timeoutMs: 10_000 })
  await directory.publish({ roles: ['resource-provider'] })
  const deal = await propose(jc, w)
  t.is(deal.providerPeer, rpHost.peerId.toString())
  t.truthy(log.lines.find(l => l.msg === 'reached a peer at re-resolved addresses' && l.peer === rpHost.peerId.toString()))
  t.truthy(log.lines.find(l => l.msg === 'peer reachable again'))
  const sources = (await metrics.resolutions.get()).values.filter(v => v.value > 0).map(v => v.labels.source)
  t.deepEqual(sources.sort(), ['directory', 'none'], 'nothing the first time, the directory record the second')
  t.false(host.services.reach.isDemoted(rpHost.peerId.toString()))
})

test.serial('an offer heard by gossip with no address: the job creator asks the peers that know the provider', async t => {
  const [boot] = await startHosts(1)
  const { host, jc, w } = await (async () => {
    // the job creator joins first, so sync gives it nothing; the provider's offers reach it by gossip only. Both
    // are DHT clients: a DHT server is handed out by the bootstrap's routing table, and the other one's DHT would
    // dial it (a routing-table ping) and learn its address by identify before the test begins
    const [h] = await startHosts(1, { dhtServer: false })
    const jw = wallet('reach-jc')
    const j = await startJobCreator(h, jw, LOADED)
    t.teardown(async () => { await j.stop(); await stopAll([boot, h]) })
    await h.dial(boot.getMultiaddrs()[0])
    return { host: h, jc: j, w: jw }
  })()
  const bootBook = new OrderBook()
  const bootGossip = new GossipService(boot, { networkId: NETWORK, domain: testDomain, book: bootBook })
  bootGossip.start()
  t.teardown(() => { bootGossip.stop() })
  const bootSync = new OfferSync(boot, { networkId: NETWORK, domain: testDomain, book: bootBook })
  await bootSync.start({ serve: true, pull: true })
  const jcSync = new OfferSync(host, { networkId: NETWORK, domain: testDomain, book: jc.gossip.book })
  await jcSync.start({ serve: false, pull: true })
  const [rpHost] = await startHosts(1, { dhtServer: false })
  const rp = await startProvider(rpHost, wallet('reach-rp'), { intervalMs: 300 })
  t.teardown(async () => { await jcSync.stop(); await bootSync.stop(); await rp.stop(); await rpHost.stop() })
  await rpHost.dial(boot.getMultiaddrs()[0])
  await waitFor(() => (jc.gossip.book?.size ?? 0) > 0, 30_000, 'the provider\'s offer by gossip')
  t.is((await host.services.reach.storedAddresses(rpHost.peerId)).length, 0, 'gossip carries no address')
  const deal = await propose(jc, w)
  t.is(deal.providerPeer, rpHost.peerId.toString())
})

test.serial('unreachable providers go last: a dead cheaper provider is tried once, then ranked after the live one', async t => {
  const [jcHost, deadHost, liveHost] = await startHosts(3, { reach: { resolveTimeoutMs: 2000 } })
  const dead = await startProvider(deadHost, wallet('reach-dead'), { price: 10n, intervalMs: 300 })
  const live = await startProvider(liveHost, wallet('reach-live'), { price: 20n, intervalMs: 300 })
  const w = wallet('reach-jc')
  const jc = await startJobCreator(jcHost, w, LOADED)
  t.teardown(async () => { await jc.stop(); await live.stop(); await dead.stop(); await stopAll([jcHost, deadHost, liveHost]) })
  await Promise.all([deadHost, liveHost].map(async h => await jcHost.dial(h.getMultiaddrs()[0])))
  await waitFor(() => (jc.gossip.book?.size ?? 0) === 2, 30_000, 'both offers')
  await dead.stop()
  await deadHost.stop()
  const first = await propose(jc, w)
  t.is(first.deal.resourceProvider, live.wallet.address)
  t.is(jc.negotiator.metrics.failed, 1, 'the dead provider was tried first (cheaper) and failed')
  t.true(jcHost.services.reach.isDemoted(deadHost.peerId.toString()))
  live.capacity.release(first.dealId)
  await waitFor(() => jc.gossip.book?.get(live.wallet.address, 0)?.offer.nonce !== undefined, 15_000, 'the live offer')
  const second = await propose(jc, w)
  t.is(second.deal.resourceProvider, live.wallet.address)
  t.is(jc.negotiator.metrics.failed, 1, 'the demoted provider was not tried before the live one')
})

test.serial('the peer store stays bounded: departed peers go once libp2p\'s ages pass, and the store is capped', async t => {
  const [hub] = await startHosts(1, { addressTtlMs: 5000, peerTtlMs: 8000, reach: { ...OFF, maxPeers: 3 } })
  t.teardown(async () => { await hub.stop() })
  // six short-lived peers (like `lilypad run` nodes) connect, identify and leave
  const visitors = await startHosts(6)
  for (const v of visitors) await v.dial(hub.getMultiaddrs()[0])
  await waitFor(async () => (await hub.peerStore.all()).length === 6, 30_000, 'six identified visitors')
  await stopAll(visitors)
  await waitFor(() => hub.getConnections().length === 0, 30_000, 'the visitors to leave')
  const capped = await hub.services.reach.sweep()
  t.deepEqual(capped, { peers: 3, removed: 3 }, 'over the cap: disconnected peers removed down to it')
  // the rest age out: libp2p drops an entry with no live address once it is older than peerTtlMs (the DHT's redials of
  // its closest peers keep updating theirs until they give up), and the sweep is what reads them
  await waitFor(async () => (await hub.services.reach.sweep()).peers === 0, 60_000, 'the departed peers to age out')
  t.is((await hub.peerStore.all()).length, 0)
})

test.serial('a restarted bootstrap node (same key, same address) is redialled; the node did not restart', async t => {
  const key = await tempKey(t)
  let [boot] = await startHosts(1, { privateKey: key })
  const bootAddr = boot.getMultiaddrs()[0]
  const log = logs()
  const [node] = await startHosts(1, { bootstrap: [bootAddr.toString()], reach: { ...OFF, bootstrapCheckMs: 200, bootstrapRetryMinMs: 100, bootstrapRetryMaxMs: 400 }, components: { logger: log.logger } })
  t.teardown(async () => { await stopAll([boot, node]) })
  await waitFor(() => node.getConnections(boot.peerId).length > 0, 30_000, 'the first connection to the bootstrap')
  t.is(node.services.reach.stats().connectedBootstrap, 1)
  await boot.stop()
  await waitFor(() => log.lines.some(l => l.msg === 'bootstrap peer unreachable: retrying'), 30_000, 'a failed redial while it is down')
  t.is(node.services.reach.stats().connectedBootstrap, 0)
  ;[boot] = await startHosts(1, { privateKey: key, listen: [bootAddr.decapsulateCode(421).toString()] })
  await waitFor(() => node.getConnections(boot.peerId).length > 0, 30_000, 'the node to reconnect by itself')
  await waitFor(() => log.lines.some(l => l.msg === 'reconnected to bootstrap peer'), 15_000, 'the reconnect to be logged')
  t.truthy(log.lines.find(l => l.msg === 'lost the connection to a bootstrap peer: redialling'))
})

test.serial('the directory record is kept published: republished before it expires, with a higher sequence number', async t => {
  const key = await tempKey(t)
  const [pub] = await startHosts(1, { privateKey: key })
  const [reader] = await startHosts(1)
  t.teardown(async () => { await stopAll([pub, reader]) })
  await reader.dial(pub.getMultiaddrs()[0])
  await waitFor(() => (pub.services.dht as SingleKadDHT).routingTable.size > 0 && (reader.services.dht as SingleKadDHT).routingTable.size > 0, 30_000, 'DHT routing tables')
  const directory = new Directory(pub, { networkId: NETWORK, domain: testDomain, signer: wallet('reach-dir'), privateKey: key, timeoutMs: 5000 })
  directory.keepPublished({ roles: ['resource-provider'], ttlSec: 60, intervalMs: 300 })
  t.teardown(async () => { await directory.stop() })
  const get = async (): Promise<bigint | undefined> => (await readNodeRecord(reader.services.dht, testDomain, pub.peerId.toString(), AbortSignal.timeout(5000)))?.seq
  await waitFor(async () => (await get()) !== undefined, 30_000, 'the first record')
  const first = await get() as bigint
  await waitFor(async () => ((await get()) ?? 0n) > first, 30_000, 'a republished record')
  const rec = await readNodeRecord(reader.services.dht, testDomain, pub.peerId.toString(), AbortSignal.timeout(5000))
  t.deepEqual(rec?.roles, ['resource-provider'])
  t.true((rec?.multiaddrs.length ?? 0) > 0)
})

test.serial('demotions and addresses heard second-hand expire on the node\'s clock', async t => {
  const clock = new ManualClock(Date.now())
  const [host, gone] = await startHosts(2, { reach: { ...OFF, demoteTtlMs: 60_000, hintTtlMs: 30_000, resolveTimeoutMs: 1000, resolvers: [] }, components: { clock } })
  const goneId = gone.peerId
  const goneAddrs = gone.getMultiaddrs().map(m => m.decapsulateCode(421))
  await gone.stop()
  t.teardown(async () => { await host.stop() })
  // heard from a third party: kept for re-resolution, and (nothing better being stored) written to the peer store
  await host.services.reach.learn(goneId, goneAddrs, 'hearsay')
  t.is((await host.services.reach.resolve(goneId)).length, goneAddrs.length)
  await t.throwsAsync(host.services.reach.dialProtocol(goneId, '/x/1.0.0', { signal: AbortSignal.timeout(5000) }), { name: 'UnreachablePeerError' })
  t.true(host.services.reach.isDemoted(goneId.toString()))
  await clock.advance(30_001)
  t.true(host.services.reach.isDemoted(goneId.toString()), 'still demoted inside its minute')
  await host.peerStore.delete(goneId)
  t.deepEqual(await host.services.reach.resolve(goneId), [], 'the hearsay is forgotten after its 30 s')
  await clock.advance(30_000)
  t.false(host.services.reach.isDemoted(goneId.toString()), 'the demotion lapsed')
})
