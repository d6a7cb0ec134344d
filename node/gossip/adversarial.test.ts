import test from 'ava'
import { encode } from 'cborg'
import { encodeEnvelope } from '../../protocols/codec.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService, routerOf } from './gossip.ts'
import { createSwarmKey } from '../host/keys.ts'
import { signPeerBinding } from '../../protocols/peer-binding.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, jobOffer, signedResourceOffer, boundResourceOffer, signedJobOffer, nowSec, waitFor } from '../testing/fixtures.ts'

test('each invalid kind from a misbehaving peer is rejected or ignored, its score drops, honest offers keep flowing and matching', async t => {
  const hosts = await startHosts(4) // 0..2 honest, 3 the attacker (gossipsub only, no validation of its own)
  const honest = hosts.slice(0, 3)
  const attacker = hosts[3]
  const services = honest.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(hosts) })
  services.forEach(s => { s.start() })
  await connectMesh(honest)
  await attacker.dial(honest[0].getMultiaddrs()[0], { signal: AbortSignal.timeout(60_000) })
  const topic = services[0].topics.resourceOffers
  await waitForMesh(honest, topic)
  await waitFor(() => attacker.services.pubsub.getSubscribers(topic).length === 1, 60_000, 'attacker sees a subscriber')

  const victim = services[0]
  const attackerId = attacker.peerId.toString()
  let rejectedFromHonest = 0
  services.slice(1).forEach(s => s.onVerdict((verdict, _code, from) => { if (verdict === 'reject' && from !== attackerId) rejectedFromHonest++ }))
  const verdicts: Array<{ verdict: string, code: string | undefined }> = []
  let notify: (() => void) | undefined
  victim.onVerdict((verdict, code, from) => { if (from === attackerId) { verdicts.push({ verdict, code }); notify?.() } })
  const sendRaw = async (data: Uint8Array, t2 = topic): Promise<{ verdict: string, code: string | undefined }> => {
    const n = verdicts.length
    const got = new Promise<void>(resolve => { notify = () => { if (verdicts.length > n) resolve() } })
    await attacker.services.pubsub.publish(t2, data)
    await got
    return verdicts[n]
  }

  const evil = wallet('evil')
  const rp = wallet('honest-rp')
  const honestOffer = await boundResourceOffer(rp, resourceOffer(rp.address), hosts[2].peerId.toString())
  const firstHonest = new Promise<void>(resolve => victim.onVerified(v => { if (v.signer === rp.address) resolve() }))
  await services[2].publishResourceOffer(honestOffer)
  await firstHonest

  const own = resourceOffer(evil.address)
  // IGNORE first: they must not cost the sender
  t.deepEqual(await sendRaw(encodeEnvelope(await boundResourceOffer(evil, resourceOffer(evil.address, { expiry: nowSec() - 5n }), attackerId))), { verdict: 'ignore', code: 'EXPIRED' })
  const evilJob = await signedJobOffer(evil, jobOffer(evil.address))
  t.deepEqual(await sendRaw(encodeEnvelope({ ...evilJob, peer: 'a' }), services[0].topics.jobOffers), { verdict: 'accept', code: undefined })
  t.deepEqual(await sendRaw(encodeEnvelope({ ...evilJob, peer: 'b' }), services[0].topics.jobOffers), { verdict: 'ignore', code: 'DUPLICATE' })
  t.deepEqual(await sendRaw(encodeEnvelope(await boundResourceOffer(evil, own, attackerId))), { verdict: 'accept', code: undefined })
  t.deepEqual(await sendRaw(encodeEnvelope(await boundResourceOffer(evil, { ...own, slot: 3 }, attackerId))), { verdict: 'ignore', code: 'REPLAYED_NONCE' })
  t.true(routerOf(honest[0].services.pubsub).getScore(attackerId) >= 0)

  // REJECT: each costs the sender
  t.deepEqual(await sendRaw(new TextEncoder().encode('not cbor at all')), { verdict: 'reject', code: 'MALFORMED' })
  const forged = await signedResourceOffer(evil, resourceOffer(rp.address))
  t.deepEqual(await sendRaw(encodeEnvelope({ ...forged, peer: attackerId })), { verdict: 'reject', code: 'BAD_SIGNATURE' })
  // gossipsub caches scores for one heartbeat and emits no event when they change: poll (the test's own timeout bounds it)
  const score = (): number => routerOf(honest[0].services.pubsub).getScore(attackerId)
  await waitFor(() => score() < 0, 60_000, 'attacker score below 0')
  const scoreAfterTwo = score()
  t.deepEqual(await sendRaw(encodeEnvelope(await boundResourceOffer(evil, resourceOffer(evil.address), attackerId, { ...testDomain, chainId: 5n }))), { verdict: 'reject', code: 'BAD_SIGNATURE' })
  t.deepEqual(await sendRaw(encodeEnvelope(await signedJobOffer(evil, jobOffer(evil.address)))), { verdict: 'reject', code: 'WRONG_KIND' })
  const raw = (await import('cborg')).decode(encodeEnvelope(await signedResourceOffer(evil, resourceOffer(evil.address)))) as unknown[]
  t.deepEqual(await sendRaw(encode([...raw.slice(0, 4), 'p'.repeat(5000)])), { verdict: 'reject', code: 'OVERSIZED' })
  await waitFor(() => score() < scoreAfterTwo, 60_000, 'attacker score to drop further')
  t.true(score() < scoreAfterTwo)
  t.is(victim.metrics.byCode.BAD_SIGNATURE, 2)

  // nothing invalid was forwarded to the other honest nodes, and honest traffic still flows and matches
  // (the attacker may have reached them directly through the DHT's own dials; nothing came through an honest node)
  t.is(rejectedFromHonest, 0)
  const rp2 = wallet('honest-rp-2')
  const later = await boundResourceOffer(rp2, resourceOffer(rp2.address, { price: 50n }), hosts[2].peerId.toString())
  const arrived = Promise.all(services.slice(0, 2).map(async s => await new Promise<void>(resolve => s.onVerified(v => { if (v.signer === rp2.address) resolve() }))))
  await services[2].publishResourceOffer(later)
  await arrived
  const jc = wallet('adv-jc')
  // both honest keys speak through one peer here; the matcher's default takes one candidate per peer
  const ranked = victim.book?.match(jobOffer(jc.address), { now: nowSec(), maxPerPeer: 2 }) ?? []
  t.true(ranked.some(c => c.live.offer.provider === rp.address))
  t.is(ranked[0].live.offer.provider, rp2.address)
  t.true(ranked.filter(c => [rp.address, rp2.address].includes(c.live.offer.provider)).every(c => c.live.peer === hosts[2].peerId.toString()), 'every honest offer is dialled at its own provider')
})

test('swarm key isolation: an outsider can neither connect nor get messages in', async t => {
  const swarmKey = createSwarmKey()
  const insiders = await startHosts(2, { swarmKey })
  const [outsider, otherNetwork] = await startHosts(2, {})
  const wrongKey = await startHosts(1, { swarmKey: createSwarmKey() })
  const all = [...insiders, outsider, otherNetwork, ...wrongKey]
  const services = insiders.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(all) })
  services.forEach(s => { s.start() })
  await connectMesh(insiders)
  await waitForMesh(insiders, services[0].topics.resourceOffers)
  for (const stranger of [outsider, wrongKey[0]]) {
    await t.throwsAsync(stranger.dial(insiders[0].getMultiaddrs()[0], { signal: AbortSignal.timeout(1500) }))
    await t.throwsAsync(insiders[1].dial(stranger.getMultiaddrs()[0], { signal: AbortSignal.timeout(1500) }))
  }
  const evil = wallet('outsider')
  const result = await outsider.services.pubsub.publish(services[0].topics.resourceOffers, encodeEnvelope(await signedResourceOffer(evil, resourceOffer(evil.address))))
  t.is(result.recipients.length, 0)
  // a marker from an insider arrives; the outsider's message never did
  const w = wallet('insider')
  const marker = new Promise<void>(resolve => services[1].onVerified(() => { resolve() }))
  await services[0].publishResourceOffer(await boundResourceOffer(w, resourceOffer(w.address), insiders[0].peerId.toString()))
  await marker
  t.is(services[1].metrics.received, 1)
  t.deepEqual(services[1].book?.offers().map(l => l.offer.provider), [w.address])
  t.is(insiders[0].getConnections().filter(c => !insiders.some(h => h.peerId.equals(c.remotePeer))).length, 0)
})

test('a relay cannot point job creators at itself: an honest offer with the relay\'s peer id is REJECTed however it is wrapped', async t => {
  const hosts = await startHosts(3) // 0 victim, 1 honest provider's node, 2 the relay
  const [victimHost, rpHost, relay] = hosts
  const victim = new GossipService(victimHost, { networkId: NETWORK, domain: testDomain, book: new OrderBook() })
  t.teardown(async () => { victim.stop(); await stopAll(hosts) })
  victim.start()
  await relay.dial(victimHost.getMultiaddrs()[0], { signal: AbortSignal.timeout(60_000) })
  await rpHost.dial(victimHost.getMultiaddrs()[0], { signal: AbortSignal.timeout(60_000) })
  const topic = victim.topics.resourceOffers
  relay.services.pubsub.subscribe(topic)
  await waitFor(() => relay.services.pubsub.getSubscribers(topic).length === 1, 60_000, 'relay sees the victim subscribed')
  const relayId = relay.peerId.toString()
  const verdicts: Array<{ verdict: string, code: string | undefined }> = []
  const waiters: Array<() => void> = []
  victim.onVerdict((verdict, code, from) => { if (from === relayId) { verdicts.push({ verdict, code }); waiters.splice(0).forEach(w => { w() }) } })
  const sendRaw = async (data: Uint8Array): Promise<{ verdict: string, code: string | undefined }> => {
    const n = verdicts.length
    const got = new Promise<void>(resolve => { const check = (): void => { if (verdicts.length > n) resolve(); else waiters.push(check) }; waiters.push(check) })
    await relay.services.pubsub.publish(topic, data)
    await got
    return verdicts[n]
  }
  const rp = wallet('hint-rp')
  const evil = wallet('hint-relay')
  const fresh = await boundResourceOffer(rp, resourceOffer(rp.address, { slot: 7 }), rpHost.peerId.toString())
  // (a) the relay's peer id with no binding, (b) the provider's binding moved onto the relay's peer id, (c) a binding the relay signed
  t.deepEqual(await sendRaw(encodeEnvelope({ kind: fresh.kind, value: fresh.value, signature: fresh.signature, peer: relayId })), { verdict: 'reject', code: 'UNBOUND_PEER' })
  t.deepEqual(await sendRaw(encodeEnvelope({ ...fresh, peer: relayId })), { verdict: 'reject', code: 'BAD_PEER_BINDING' })
  const expiry = nowSec() + 600n
  const relaySigned = { expiry, signature: await signPeerBinding(testDomain, { account: rp.address, peerId: relayId, expiry }, evil) }
  t.deepEqual(await sendRaw(encodeEnvelope({ ...fresh, peer: relayId, binding: relaySigned })), { verdict: 'reject', code: 'BAD_PEER_BINDING' })
  t.is(victim.book?.get(rp.address, 7), undefined, 'no forged copy reached the book')
  // relaying the provider's own envelope unchanged is honest forwarding, and the book keeps the provider's peer
  t.deepEqual(await sendRaw(encodeEnvelope(fresh)), { verdict: 'accept', code: undefined })
  t.is(victim.book?.get(rp.address, 7)?.peer, rpHost.peerId.toString())
})

test('a neighbour flooding valid offers is held to its rate (RATE_LIMITED, IGNOREd before the queue); another neighbour\'s offer still gets through', async t => {
  const hosts = await startHosts(3) // 0 the victim, 1 an honest neighbour, 2 the flooder (gossipsub only)
  const peerRate = { burst: 10, perSecond: 0.001 }
  const victim = new GossipService(hosts[0], { networkId: NETWORK, domain: testDomain, book: new OrderBook(), peerRate })
  const honest = new GossipService(hosts[1], { networkId: NETWORK, domain: testDomain, book: new OrderBook() })
  t.teardown(async () => { victim.stop(); honest.stop(); await stopAll(hosts) })
  victim.start()
  honest.start()
  await connectMesh(hosts.slice(0, 2))
  const flooder = hosts[2]
  await flooder.dial(hosts[0].getMultiaddrs()[0], { signal: AbortSignal.timeout(60_000) })
  const topic = victim.topics.resourceOffers
  await waitForMesh(hosts.slice(0, 2), topic)
  await waitFor(() => flooder.services.pubsub.getSubscribers(topic).some(p => p.equals(hosts[0].peerId)), 60_000, 'the flooder sees the victim subscribed')

  // 30 distinct, validly signed and bound offers from the flooder's own keys
  const flooderId = flooder.peerId.toString()
  const offers = await Promise.all(Array.from({ length: 30 }, async (_, i) => { const w = wallet(`flood-${i}`); return await boundResourceOffer(w, resourceOffer(w.address), flooderId) }))
  const fromFlooder: Array<string | undefined> = []
  const all = new Promise<void>(resolve => { victim.onVerdict((_v, code, from) => { if (from === flooderId) { fromFlooder.push(code); if (fromFlooder.length === offers.length) resolve() } }) })
  for (const o of offers) await flooder.services.pubsub.publish(topic, encodeEnvelope(o))
  await all
  t.is(fromFlooder.filter(c => c === 'RATE_LIMITED').length, 20, 'past its burst of 10, every offer was ignored unverified')
  t.is(fromFlooder.filter(c => c === undefined).length, 10, 'the burst itself was verified and accepted')
  t.is(victim.metrics.rateLimited, 20)
  t.is(victim.metrics.dropped, 0, 'the queue never filled')

  // the honest neighbour's offer is verified and accepted as ever
  const rp = wallet('rate-honest-rp')
  const offer = await boundResourceOffer(rp, resourceOffer(rp.address), hosts[1].peerId.toString())
  const accepted = new Promise<void>(resolve => { victim.onVerified(v => { if (v.signer === rp.address) resolve() }) })
  await honest.publishResourceOffer(offer)
  await accepted
  t.is(victim.metrics.accepted, 11, 'the burst and the honest offer')
})
