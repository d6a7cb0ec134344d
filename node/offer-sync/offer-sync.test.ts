// Order-book sync between real libp2p hosts on 127.0.0.1, honest and hostile. Serial: some tests sign hundreds of
// offers, which would hold up the other tests' dials if they ran side by side in this process.
import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Wallet } from 'ethers'
import { OrderBook } from '../../protocols/order-book.ts'
import { encodeEnvelope, type Envelope } from '../../protocols/codec.ts'
import { encodeSyncAnswer, encodeSyncRequest, decodeSyncAnswer, MAX_SYNC_MESSAGE, type SyncedOffer } from '../../protocols/offer-sync/index.ts'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { PeerGuard } from '../peer-guard/index.ts'
import { GossipService, liveOfferOf } from '../gossip/gossip.ts'
import { validateEnvelope } from '../../protocols/validation.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, signedResourceOffer, boundResourceOffer, nowSec, jobOffer } from '../testing/fixtures.ts'
import { startProvider } from '../testing/parties.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { OfferSync } from './offer-sync.ts'
import { signWithdrawal } from '../../protocols/withdrawal.ts'

/** A hostile peer's sync handler: answers every pull with what `answer` makes of the request. */
async function serveRaw (host: LilypadHost, protocol: string, answer: (req: Uint8Array) => Uint8Array): Promise<{ requests: number }> {
  const stats = { requests: 0 }
  await host.handle(protocol, (stream) => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE })
      const req = (await lp.read()).subarray()
      stats.requests++
      await lp.write(answer(req))
      await stream.close()
    })().catch(err => { stream.abort(err as Error) })
  })
  return stats
}

/** Resolves with the next sync outcome of `sync` (its pulls on connect run in the background). */
function nextSync (sync: OfferSync): Promise<void> {
  return new Promise(resolve => { const off = sync.onSynced(() => { off(); resolve() }) })
}

async function signedJunk (n: number, keys: number, peer: string): Promise<Array<Envelope<'ResourceOffer'>>> {
  const wallets: Wallet[] = Array.from({ length: keys }, (_, i) => wallet(`sync-junk-${i}`))
  return await Promise.all(Array.from({ length: n }, async (_, i) => {
    const w = wallets[i % keys]
    return await boundResourceOffer(w, resourceOffer(w.address, { slot: Math.floor(i / keys), price: 0n }), peer)
  }))
}

test.serial('a node that connects gets live offers, verified, and the providers\' addresses as the providers signed them', async t => {
  const hosts = await startHosts(3)
  const [rpHost, bootHost, jcHost] = hosts
  const rpW = wallet('sync-rp')
  const boot = new GossipService(bootHost, { networkId: NETWORK, domain: testDomain, book: new OrderBook() })
  boot.start()
  const rp = await startProvider(rpHost, rpW, { intervalMs: 600_000 })
  const serving = new OfferSync(bootHost, { networkId: NETWORK, domain: testDomain, book: boot.book })
  await serving.start({ serve: true })
  const book = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book })
  await pulling.start({ serve: false, pull: true })
  t.teardown(async () => { await pulling.stop(); await serving.stop(); await rp.stop(); boot.stop(); await stopAll(hosts) })
  // the provider reaches the bootstrap node only (gossip + identify: the bootstrap holds its signed peer record)
  await rpHost.dial(bootHost.getMultiaddrs()[0])
  await waitForMesh([rpHost, bootHost], boot.topics.resourceOffers)
  const inBook = new Promise<void>(resolve => { const off = boot.onVerified(v => { if (v.signer === rpW.address) { off(); resolve() } }) })
  await rp.announcer.announce()
  await inBook
  t.is(boot.book?.get(rpW.address, 0)?.peer, rpHost.peerId.toString())
  // the job creator knows only the bootstrap node
  const synced = nextSync(pulling)
  await jcHost.dial(bootHost.getMultiaddrs()[0])
  await synced
  t.is(book.size, 1)
  t.is(book.offers()[0].offer.provider, rpW.address)
  t.is(book.offers()[0].peer, rpHost.peerId.toString())
  t.is(pulling.metrics.peerRecords, 1)
  const known = await jcHost.peerStore.get(rpHost.peerId)
  t.true(known.addresses.some(a => a.isCertified && a.multiaddr.toString() === rpHost.getMultiaddrs()[0].toString().replace(/\/p2p\/.*/, '')))
  // …so it can dial the provider directly
  await jcHost.dial(rpHost.peerId, { signal: AbortSignal.timeout(30_000) })
  t.true(jcHost.getConnections(rpHost.peerId).length > 0)
  // junk priced at 0 from 20 keys bound to peer ids nobody runs ranks after the provider it can reach
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  for (let i = 0; i < 20; i++) {
    const w = wallet(`sync-ghost-${i}`)
    const ghost = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    book.add(liveOfferOf(validateEnvelope(await boundResourceOffer(w, resourceOffer(w.address, { price: 0n }), ghost), { domain: testDomain, now: nowSec(), requirePeerBinding: true })), nowSec())
  }
  const ranked = book.match(jobOffer(wallet('sync-jc').address, { mediators: resourceOffer(rpW.address).mediators }), { now: nowSec() })
  t.is(ranked[0].live.offer.provider, rpW.address)
  t.is(ranked.length, 16)
})

test.serial('sync cannot be captured by volume: with 300 junk offers from 150 new keys live and the honest offers re-announced, a newcomer\'s first page holds the honest providers', async t => {
  const hosts = await startHosts(2)
  const [bootHost, jcHost] = hosts
  const book = new OrderBook()
  const now = nowSec()
  const add = async (env: Envelope<'ResourceOffer'>): Promise<void> => { book.add(liveOfferOf(validateEnvelope(env, { domain: testDomain, now, requirePeerBinding: true })), now) }
  const honest = [wallet('sync-honest-a'), wallet('sync-honest-b')]
  const honestPeer = bootHost.peerId.toString()
  for (const w of honest) await add(await boundResourceOffer(w, resourceOffer(w.address, { price: 100n }), honestPeer))
  const junk = await signedJunk(300, 150, (await startHosts(1).then(async h => { t.teardown(async () => { await stopAll(h) }); return h[0].peerId.toString() })))
  for (const j of junk) await add(j)
  // the honest providers re-announce after the flood: in insertion order they would now come last
  for (const w of honest) await add(await boundResourceOffer(w, resourceOffer(w.address, { price: 100n }), honestPeer))
  t.is(book.size, 302)
  // (one asker pulls many pages here: the per-peer serving limit is not what this test is about)
  const serving = new OfferSync(bootHost, { networkId: NETWORK, domain: testDomain, book, pageSize: 128, serveRate: { burst: 100, perSecond: 10 } })
  await serving.start({ serve: true })
  const mine = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book: mine, pageSize: 128 })
  await pulling.start({ serve: false })
  t.teardown(async () => { await pulling.stop(); await serving.stop(); await stopAll(hosts) })
  await connectMesh(hosts)

  const first = await pulling.syncFrom(bootHost.peerId, { maxPages: 1 })
  t.is(first.pages, 1)
  for (const w of honest) t.truthy(mine.get(w.address, 0), 'an honest provider is on the first page')
  t.true(mine.size <= 128)
  // paging on reaches everything, each offer once
  const rest = await pulling.syncFrom(bootHost.peerId, { maxPages: 10 })
  t.is(mine.size, 302)
  t.true(rest.skipped >= first.added, 'offers already held are not verified again')
  // a job creator asking for its job's needs gets only offers that fit it
  const picky = new OrderBook()
  const filtered = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book: picky })
  await filtered.start({ serve: false })
  t.teardown(async () => { await filtered.stop() })
  const jc = wallet('sync-picky-jc')
  const job = jobOffer(jc.address, { spec: { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, maxPrice: 1000n, module: 'cowsay:v0.0.1', mediators: resourceOffer(jc.address).mediators })
  await filtered.syncFrom(bootHost.peerId, { filter: { spec: { ...job.spec, gpus: 1 }, maxPrice: job.maxPrice, module: job.module, mediators: job.mediators }, maxPages: 1 })
  t.is(picky.size, 0, 'nobody offers a GPU')
  await filtered.syncFrom(bootHost.peerId, { filter: { spec: job.spec, maxPrice: 50n, module: job.module, mediators: job.mediators }, maxPages: 10 })
  t.is(picky.size, 300, 'the junk priced at 0 fits; the honest offers at 100 do not')
})

test.serial('a peer serving forged, unbound or garbled offers is penalised, not verified past a few, banned and disconnected', async t => {
  const hosts = await startHosts(2)
  const [evilHost, jcHost] = hosts
  const clock = new ManualClock(Date.now())
  const components = quietComponents(clock)
  // a high threshold, so each offence can be seen before the ban: forgeries 16 × 2, unbound 8 × 2, garbage 10
  const guard = new PeerGuard(components, { hangUp: async p => { await jcHost.hangUp(peerIdFromString(p)) } }, { banThreshold: 50 })
  const book = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book, components, guard })
  await pulling.start({ serve: false })
  t.teardown(async () => { await pulling.stop(); await stopAll(hosts) })
  const victim = wallet('sync-victim')
  const evil = wallet('sync-evil')
  const evilPeer = evilHost.peerId.toString()
  // forgeries: offers claiming the victim's address, signed by the attacker
  const forged: SyncedOffer[] = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const env = await signedResourceOffer(evil, resourceOffer(victim.address, { slot: i }))
    return { offer: { ...env, peer: evilPeer } }
  }))
  const stats = await serveRaw(evilHost, pulling.protocol, () => encodeSyncAnswer({ type: 'offers', offers: forged }))
  await connectMesh(hosts)
  const out = await pulling.syncFrom(evilHost.peerId)
  t.is(out.added, 0)
  t.true(out.rejected >= 4 && out.rejected <= 16, `only the first chunk was verified (${out.rejected})`)
  t.is(stats.requests, 1, 'no second page was asked for')
  t.is(guard.points(evilPeer), out.rejected * 2)
  t.false(guard.banned(evilPeer))
  t.is(book.size, 0)

  // an honest provider's offer with the attacker's own peer id as the place to dial it, unbound
  const honestEnv = await signedResourceOffer(victim, resourceOffer(victim.address))
  await evilHost.unhandle(pulling.protocol)
  await serveRaw(evilHost, pulling.protocol, () => encodeSyncAnswer({ type: 'offers', offers: Array.from({ length: 8 }, () => ({ offer: { ...honestEnv, peer: evilPeer } })) }))
  const unbound = await pulling.syncFrom(evilHost.peerId)
  t.is(unbound.added, 0)
  t.true(unbound.rejected >= 1)
  // garbage: a malformed answer costs the most; by now the peer is over the threshold
  await evilHost.unhandle(pulling.protocol)
  await serveRaw(evilHost, pulling.protocol, () => new TextEncoder().encode('not cbor'))
  const closed = new Promise<void>(resolve => { jcHost.addEventListener('peer:disconnect', evt => { if (evt.detail.equals(evilHost.peerId)) resolve() }) })
  await pulling.syncFrom(evilHost.peerId)
  t.true(guard.banned(evilPeer))
  await closed
  t.is(jcHost.getConnections(evilHost.peerId).length, 0, 'the banned peer was disconnected')
  // while banned, it is neither pulled from nor served
  t.deepEqual(await pulling.syncFrom(evilHost.peerId), { added: 0, pages: 0, rejected: 0, skipped: 0 })
  // the ban lifts with time (injected clock)
  await clock.advance(guard.banMs + 1)
  t.false(guard.banned(evilPeer))
})

test.serial('addresses from sync enter the peer store only when the peer they belong to signed them', async t => {
  const hosts = await startHosts(3)
  const [evilHost, jcHost, rpHost] = hosts
  const book = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book })
  await pulling.start({ serve: false })
  t.teardown(async () => { await pulling.stop(); await stopAll(hosts) })
  const rpW = wallet('sync-addr-rp')
  const env = await boundResourceOffer(rpW, resourceOffer(rpW.address), rpHost.peerId.toString())
  // the attacker's own signed peer record (its addresses), passed off as the provider's
  const identified = new Promise<void>(resolve => { jcHost.addEventListener('peer:identify', evt => { if (evt.detail.peerId.equals(evilHost.peerId)) resolve() }) })
  await evilHost.dial(jcHost.getMultiaddrs()[0])
  await identified
  const evilRecord = (await jcHost.peerStore.get(evilHost.peerId)).peerRecordEnvelope
  t.truthy(evilRecord)
  await serveRaw(evilHost, pulling.protocol, () => encodeSyncAnswer({ type: 'offers', offers: [{ offer: env, ...(evilRecord !== undefined ? { peerRecord: evilRecord } : {}) }] }))
  const out = await pulling.syncFrom(evilHost.peerId)
  t.is(out.added, 1, 'the offer itself is honest and bound')
  t.is(pulling.metrics.peerRecords, 0)
  const stored = await jcHost.peerStore.get(rpHost.peerId).catch(() => undefined)
  t.is(stored?.addresses.length ?? 0, 0, 'no address was merged for the provider')
})

test.serial('serving is rate-limited per peer and bounded: a flood of pulls gets "busy" while honest pullers are served', async t => {
  const hosts = await startHosts(7)
  const [server, honestHost, ...flooders] = hosts
  const clock = new ManualClock(Date.now())
  const components = quietComponents(clock)
  const guard = new PeerGuard(components)
  const book = new OrderBook()
  const w = wallet('sync-flood-rp')
  const env = await boundResourceOffer(w, resourceOffer(w.address), server.peerId.toString())
  book.add(liveOfferOf(validateEnvelope(env, { domain: testDomain, now: nowSec(), requirePeerBinding: true })), nowSec())
  const serving = new OfferSync(server, { networkId: NETWORK, domain: testDomain, book, components, guard, serveRate: { burst: 2, perSecond: 0.1 }, maxServing: 100 })
  await serving.start({ serve: true })
  t.teardown(async () => { await serving.stop(); await stopAll(hosts) })
  await Promise.all([honestHost, ...flooders].map(async h => await h.dial(server.getMultiaddrs()[0])))
  const pull = async (h: LilypadHost): Promise<string> => {
    const stream = await h.dialProtocol(server.peerId, serving.protocol)
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE })
    await lp.write(encodeSyncRequest({ type: 'pull', limit: 256 }))
    const a = decodeSyncAnswer((await lp.read()).subarray())
    await stream.close()
    return a.type
  }
  // five flooders pull ten times each, all at once (each one's pulls back to back)
  const answers = (await Promise.all(flooders.map(async h => { const out: string[] = []; for (let i = 0; i < 10; i++) out.push(await pull(h)); return out }))).flat()
  t.is(answers.filter(a => a === 'offers').length, flooders.length * 2, 'each flooder got its burst, no more')
  t.is(answers.filter(a => a === 'busy').length, flooders.length * 8)
  t.is(await pull(honestHost), 'offers', 'an honest newcomer is still served')
  t.is(serving.metrics.busy, flooders.length * 8)
  // a garbled request costs the sender
  const stream = await flooders[0].dialProtocol(server.peerId, serving.protocol)
  const lp = lpStream(stream)
  await lp.write(new Uint8Array([0xff, 0x00]))
  await t.throwsAsync(lp.read())
  t.true(guard.points(flooders[0].peerId.toString()) > 0)
})

test.serial('pulling is bounded too: connecting to many peers starts only the burst of pulls, and each peer is pulled once per window', async t => {
  const hosts = await startHosts(12)
  const [jcHost, ...peers] = hosts
  const clock = new ManualClock(Date.now())
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book: new OrderBook(), components: quietComponents(clock), pullRate: { burst: 4, perSecond: 0.1 } })
  await pulling.start({ serve: false, pull: true })
  const servers = await Promise.all(peers.map(async h => { const s = new OfferSync(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }); await s.start({ serve: true }); return s }))
  t.teardown(async () => { await pulling.stop(); for (const s of servers) await s.stop(); await stopAll(hosts) })
  await Promise.all(peers.map(async h => await jcHost.dial(h.getMultiaddrs()[0])))
  t.is(pulling.metrics.pulls, 4)
  t.is(pulling.metrics.limited, peers.length - 4)
  // later connections to a peer already pulled do not pull again within the window, even with budget back
  await clock.advance(60_000)
  await jcHost.hangUp(peers[0].peerId)
  await jcHost.dial(peers[0].getMultiaddrs()[0])
  t.is(pulling.metrics.pulls, 4)
})

test.serial('a newcomer learns a provider\'s booked slot as busy (its signed withdrawal travels with its offer); a forged withdrawal costs the peer that serves it', async t => {
  const hosts = await startHosts(3)
  const [rpHost, jcHost, evilHost] = hosts
  const rpW = wallet('sync-busy-rp')
  const rp = await startProvider(rpHost, rpW, { slots: [0, 1], intervalMs: 600_000 })
  const clock = new ManualClock(Date.now())
  const now = (): bigint => BigInt(Math.floor(clock.now() / 1000))
  const serving = new OfferSync(rpHost, { networkId: NETWORK, domain: testDomain, ownOffers: () => rp.announcer.liveOffers(now()), ownBusy: () => rp.announcer.busySlots(now()) })
  await serving.start({ serve: true })
  const components = quietComponents(clock)
  const guard = new PeerGuard(components, {}, { banThreshold: 50 })
  const book = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book, components, guard })
  await pulling.start({ serve: false, pull: true })
  t.teardown(async () => { await pulling.stop(); await serving.stop(); await rp.stop(); await stopAll(hosts) })
  await rp.announcer.announce()
  // slot 1 is booked: withdrawn at once, and kept visible as busy
  rp.announcer.setFreeSlots([0], [1])
  await rp.announcer.announce()
  t.is(rp.announcer.busySlots(now()).length, 1)
  const synced = nextSync(pulling)
  await jcHost.dial(rpHost.getMultiaddrs()[0])
  await synced
  t.deepEqual(book.offers().map(o => o.offer.slot), [0], 'the free slot is a candidate')
  const busy = book.busy(now())
  t.deepEqual(busy.map(b => b.live.offer.slot), [1], 'the booked slot is known, as busy')
  const job = jobOffer(wallet('sync-busy-jc').address, { maxPrice: 1000n })
  t.is(book.busyMatching(job, { now: now() }).length, 1)

  // a peer serving the honest offer with a withdrawal it forged (to hide the slot as busy) is caught and penalised:
  // here jcHost turns liar and a third host (evilHost's name notwithstanding, the newcomer) pulls from it
  const honest = rp.announcer.liveOffers(now())[0]
  const forger = wallet('sync-busy-forger')
  const w = { provider: rpW.address, slot: 0, expiry: honest.value.expiry, nonce: honest.value.nonce + 1n }
  const forged: Envelope<'OfferWithdrawal'> = { kind: 'OfferWithdrawal', value: w, signature: await signWithdrawal(testDomain, w, forger) }
  const book2 = new OrderBook()
  const pulling2 = new OfferSync(evilHost, { networkId: NETWORK, domain: testDomain, book: book2, components, guard })
  t.teardown(async () => { await pulling2.stop() })
  await serveRaw(jcHost, `/lilypad/${NETWORK}/offers/3.0.0`, () => encodeSyncAnswer({ type: 'offers', offers: [{ offer: honest, withdrawal: forged }] }))
  await pulling2.start({ serve: false, pull: false })
  await evilHost.dial(jcHost.getMultiaddrs()[0])
  const out = await pulling2.syncFrom(jcHost.peerId)
  t.is(out.rejected, 1)
  t.is(guard.points(jcHost.peerId.toString()), 2)
  t.deepEqual(book2.busy(now()), [], 'the forged withdrawal changed nothing')
  t.is(book2.offers().length, 1, 'the honest offer itself is still taken, free')
})
