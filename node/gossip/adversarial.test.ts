import test from 'ava'
import { encode } from 'cborg'
import { encodeEnvelope } from '../../protocols/codec.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService, routerOf } from './gossip.ts'
import { createSwarmKey } from '../host/keys.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, jobOffer, signedResourceOffer, signedJobOffer, nowSec, waitFor } from '../testing/fixtures.ts'

test('each invalid kind from a misbehaving peer is rejected or ignored, its score drops, honest offers keep flowing and matching', async t => {
  const hosts = await startHosts(4) // 0..2 honest, 3 the attacker (gossipsub only, no validation of its own)
  const honest = hosts.slice(0, 3)
  const attacker = hosts[3]
  const services = honest.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  t.teardown(async () => { services.forEach(s => { s.stop() }); await stopAll(hosts) })
  services.forEach(s => { s.start() })
  await connectMesh(honest)
  await attacker.dial(honest[0].getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
  const topic = services[0].topics.resourceOffers
  await waitForMesh(honest, topic)
  await waitFor(() => attacker.services.pubsub.getSubscribers(topic).length === 1, 10_000, 'attacker sees a subscriber')

  const victim = services[0]
  const attackerId = attacker.peerId.toString()
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
  const honestOffer = await signedResourceOffer(rp, resourceOffer(rp.address))
  const firstHonest = new Promise<void>(resolve => victim.onVerified(v => { if (v.signer === rp.address) resolve() }))
  await services[2].publishResourceOffer(honestOffer)
  await firstHonest

  const own = resourceOffer(evil.address)
  // IGNORE first: they must not cost the sender
  t.deepEqual(await sendRaw(encodeEnvelope(await signedResourceOffer(evil, resourceOffer(evil.address, { expiry: nowSec() - 5n })))), { verdict: 'ignore', code: 'EXPIRED' })
  // an offer the book already holds, re-wrapped (new bytes, same signed content) with a forged peer hint
  t.deepEqual(await sendRaw(encodeEnvelope({ ...honestOffer, peer: attackerId })), { verdict: 'ignore', code: 'STALE_NONCE' })
  const evilJob = await signedJobOffer(evil, jobOffer(evil.address))
  t.deepEqual(await sendRaw(encodeEnvelope({ ...evilJob, peer: 'a' }), services[0].topics.jobOffers), { verdict: 'accept', code: undefined })
  t.deepEqual(await sendRaw(encodeEnvelope({ ...evilJob, peer: 'b' }), services[0].topics.jobOffers), { verdict: 'ignore', code: 'DUPLICATE' })
  t.deepEqual(await sendRaw(encodeEnvelope(await signedResourceOffer(evil, own))), { verdict: 'accept', code: undefined })
  t.deepEqual(await sendRaw(encodeEnvelope(await signedResourceOffer(evil, { ...own, slot: 3 }))), { verdict: 'ignore', code: 'REPLAYED_NONCE' })
  t.true(routerOf(honest[0].services.pubsub).getScore(attackerId) >= 0)

  // REJECT: each costs the sender
  t.deepEqual(await sendRaw(new TextEncoder().encode('not cbor at all')), { verdict: 'reject', code: 'MALFORMED' })
  const forged = await signedResourceOffer(evil, resourceOffer(rp.address))
  t.deepEqual(await sendRaw(encodeEnvelope(forged)), { verdict: 'reject', code: 'BAD_SIGNATURE' })
  // gossipsub caches scores for one heartbeat and emits no event when they change: poll with a timeout
  const score = (): number => routerOf(honest[0].services.pubsub).getScore(attackerId)
  await waitFor(() => score() < 0, 5000, 'attacker score below 0')
  const scoreAfterTwo = score()
  t.deepEqual(await sendRaw(encodeEnvelope(await signedResourceOffer(evil, resourceOffer(evil.address), { ...testDomain, chainId: 5n }))), { verdict: 'reject', code: 'BAD_SIGNATURE' })
  t.deepEqual(await sendRaw(encodeEnvelope(await signedJobOffer(evil, jobOffer(evil.address)))), { verdict: 'reject', code: 'WRONG_KIND' })
  const raw = (await import('cborg')).decode(encodeEnvelope(await signedResourceOffer(evil, resourceOffer(evil.address)))) as unknown[]
  t.deepEqual(await sendRaw(encode([...raw.slice(0, 4), 'p'.repeat(5000)])), { verdict: 'reject', code: 'OVERSIZED' })
  await waitFor(() => score() < scoreAfterTwo, 5000, 'attacker score to drop further')
  t.true(score() < scoreAfterTwo)
  t.is(victim.metrics.byCode.BAD_SIGNATURE, 2)

  // nothing invalid was forwarded to the other honest nodes, and honest traffic still flows and matches
  t.is(services[1].metrics.rejected + services[2].metrics.rejected, 0)
  const rp2 = wallet('honest-rp-2')
  const later = await signedResourceOffer(rp2, resourceOffer(rp2.address, { price: 50n }))
  const arrived = Promise.all(services.slice(0, 2).map(async s => await new Promise<void>(resolve => s.onVerified(v => { if (v.signer === rp2.address) resolve() }))))
  await services[2].publishResourceOffer(later)
  await arrived
  const jc = wallet('adv-jc')
  const ranked = victim.book?.match(jobOffer(jc.address), { now: nowSec() }) ?? []
  t.true(ranked.some(c => c.live.offer.provider === rp.address))
  t.is(ranked[0].live.offer.provider, rp2.address)
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
  await services[0].publishResourceOffer(await signedResourceOffer(w, resourceOffer(w.address)))
  await marker
  t.is(services[1].metrics.received, 1)
  t.deepEqual(services[1].book?.offers().map(l => l.offer.provider), [w.address])
  t.is(insiders[0].getConnections().filter(c => !insiders.some(h => h.peerId.equals(c.remotePeer))).length, 0)
})
