// The dispute streams against strangers, on real libp2p nodes and a real chain: pulls of a case by anyone but the
// drawn mediator, floods, oversized and malformed requests, forged and replayed pushes.
import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { encode } from 'cborg'
import { startDevnet, agreeDeal, seededOffers, revealSeedOf, type Devnet } from '../../contracts/fixture.ts'
import { Roles } from '../chain/index.ts'
import { idOf, signMessage } from '../../protocols/eip712.ts'
import { decodeDispute, encodeDispute, verifyDisputeCase, MAX_DISPUTE_MESSAGE, type DisputeCase } from '../../protocols/dispute/index.ts'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { PeerGuard } from '../peer-guard/index.ts'
import { startHosts, stopAll, NETWORK, jobOffer } from '../testing/fixtures.ts'
import { DisputeService } from './dispute-service.ts'
import { drawnMediatorOnly } from './authorize.ts'
import type { LilypadHost } from '../host/create-host.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const PROTOCOL = `/lilypad/${NETWORK}/dispute/1.0.0`

/** A challenged deal on chain and its case as its job creator keeps it; the drawn mediator's client. */
async function challengedCase (): Promise<{ c: DisputeCase, mediator: Devnet['m1'] }> {
  const job = { kind: 'JobOffer' as const, value: jobOffer(net.jc.address, { mediators: [net.m1.address, net.m2.address] }), signature: '' }
  job.signature = await signMessage('JobOffer', net.domain, job.value, net.jc.wallet)
  const { deal, id } = await agreeDeal(net, { jobOfferId: idOf('JobOffer', net.domain, job.value), nonce: job.value.nonce })
  await net.rp.submitResult(deal, 'bafkreiresult')
  const drawn = await net.jc.challenge(deal)
  const mediator = [net.m1, net.m2].find(m => m.address.toLowerCase() === drawn.toLowerCase()) as Devnet['m1']
  return { c: { dealId: id, deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', net.domain, deal, net.jc.wallet) }, jobOffer: job }, mediator }
}

async function ask (from: LilypadHost, to: LilypadHost, bytes: Uint8Array): Promise<ReturnType<typeof decodeDispute>> {
  const stream = await from.dialProtocol(to.getMultiaddrs(), PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: MAX_DISPUTE_MESSAGE })
  await lp.write(bytes)
  const reply = decodeDispute((await lp.read()).subarray())
  await stream.close()
  return reply
}

test.serial('a case is handed only to the mediator the chain drew for it; a stranger asking gets what an unknown deal gets', async t => {
  const hosts = await startHosts(3)
  t.teardown(async () => { await stopAll(hosts) })
  const [partyHost, mediatorHost, strangerHost] = hosts
  const { c, mediator } = await challengedCase()
  // the drawn mediator registers its peer id, as the mediator role does on start
  await mediator.register(Roles.Mediator, mediatorHost.peerId.toString())
  const party = new DisputeService(partyHost, { networkId: NETWORK, authorizePull: drawnMediatorOnly(net.jc) })
  await party.start()
  t.teardown(async () => { await party.stop() })
  party.remember(c)
  t.deepEqual(await ask(strangerHost, partyHost, encodeDispute({ type: 'request', dealId: c.dealId })), { type: 'unknown' })
  t.is(party.metrics.pullsRefused, 1)
  const got = await ask(mediatorHost, partyHost, encodeDispute({ type: 'request', dealId: c.dealId }))
  t.is(got.type, 'case')
  t.is(party.metrics.pullsAnswered, 1)
  // a deal nobody here knows costs no chain read and gets the same answer
  t.deepEqual(await ask(strangerHost, partyHost, encodeDispute({ type: 'request', dealId: '0x' + '77'.repeat(32) })), { type: 'unknown' })
})

test.serial('a committee\'s dispute: every member the chain drew may pull the case; a stranger may not', async t => {
  const cnet = await startDevnet({ committee: { size: 3, commitWindow: 600, revealWindow: 600, unbondDelay: 61 * 86_400, minBond: 10n ** 18n, slash: 10n ** 17n } })
  const hosts = await startHosts(5)
  t.teardown(async () => { await stopAll(hosts); await cnet.stop() })
  const [partyHost, strangerHost, ...memberHosts] = hosts
  const members = [cnet.m1, cnet.m2, cnet.m3!]
  const offers = seededOffers(cnet, { jobCreator: cnet.jc.address, resourceProvider: cnet.rp.address, mediators: members.map(m => m.address) })
  const job = { kind: 'JobOffer' as const, value: offers.jobOffer, signature: '' }
  job.signature = await signMessage('JobOffer', cnet.domain, job.value, cnet.jc.wallet)
  const { deal, id } = await agreeDeal(cnet, { mediators: members.map(m => m.address), ...offers.ids, nonce: job.value.nonce })
  await cnet.rp.submitResult(deal, 'bafkreiresult')
  t.is(await cnet.jc.challenge(deal), '0x0000000000000000000000000000000000000000', 'a committee has no single mediator')
  t.is(await cnet.jc.committee(id, deal), null, 'drawn only once both parties revealed their seeds')
  await revealSeedOf(cnet, deal, offers, false)
  await revealSeedOf(cnet, deal, offers, true)
  t.is((await cnet.jc.committee(id, deal))?.members.length, 3)
  await Promise.all(members.map(async (m, i) => { await m.register(Roles.Mediator, memberHosts[i].peerId.toString()) }))
  const c: DisputeCase = { dealId: id, deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', cnet.domain, deal, cnet.jc.wallet) }, jobOffer: job }
  const party = new DisputeService(partyHost, { networkId: NETWORK, authorizePull: drawnMediatorOnly(cnet.jc) })
  await party.start()
  t.teardown(async () => { await party.stop() })
  party.remember(c)
  t.deepEqual(await ask(strangerHost, partyHost, encodeDispute({ type: 'request', dealId: id })), { type: 'unknown' })
  for (const h of memberHosts) t.is((await ask(h, partyHost, encodeDispute({ type: 'request', dealId: id }))).type, 'case')
  t.is(party.metrics.pullsAnswered, 3)
  t.is(party.metrics.pullsRefused, 1)
})

test.serial('floods, oversized, malformed and forged requests are refused, charged to the sender, and end in a ban and a cut connection', async t => {
  const hosts = await startHosts(3)
  t.teardown(async () => { await stopAll(hosts) })
  const [mediatorHost, attacker, honest] = hosts
  const { c } = await challengedCase()
  const clock = new ManualClock(Date.now())
  const guard = new PeerGuard(quietComponents(clock), { hangUp: async p => { await mediatorHost.hangUp(peerIdFromString(p)) } }, { banThreshold: 30 })
  const taken: string[] = []
  // the mediator's side: a pushed case must match the challenged deal on chain (what the mediator role checks)
  const mediatorSide = new DisputeService(mediatorHost, {
    networkId: NETWORK,
    components: quietComponents(clock),
    guard,
    rate: { burst: 6, perSecond: 1 },
    onCase: async (pushed, from) => { verifyDisputeCase(pushed, net.domain, c.dealId); taken.push(from) }
  })
  await mediatorSide.start()
  t.teardown(async () => { await mediatorSide.stop() })
  const who = attacker.peerId.toString()
  // a forged job offer (signed by someone else) and a case for another deal
  const forged = { ...c, jobOffer: { ...c.jobOffer, signature: await signMessage('JobOffer', net.domain, c.jobOffer.value, net.stranger.wallet) } }
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...forged })), { type: 'refuse', code: 'FORGED_JOB_OFFER' })
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...c, dealId: '0x' + '55'.repeat(32) })), { type: 'refuse', code: 'DEAL_MISMATCH' })
  t.is(guard.points(who), 10)
  // garbage and a message that is not a request
  t.deepEqual(await ask(attacker, mediatorHost, new TextEncoder().encode('garbage')), { type: 'refuse', code: 'MALFORMED' })
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'ack' })), { type: 'refuse', code: 'MALFORMED' })
  t.is(guard.points(who), 20)
  // the honest case, pushed twice (a retry): both acknowledged, the second changes nothing
  t.deepEqual(await ask(honest, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'ack' })
  t.deepEqual(await ask(honest, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'ack' })
  t.is(guard.points(honest.peerId.toString()), 0)
  // over its rate: BUSY, without the case being looked at
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'ack' }, 'the fifth request is still within the burst')
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'ack' })
  t.deepEqual(await ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'refuse', code: 'BUSY' })
  t.is(taken.filter(p => p === who).length, 2)
  t.true(mediatorSide.metrics.busy >= 1)
  // oversized: the stream is cut, and it costs; past the threshold the peer is banned and disconnected
  const closed = new Promise<void>(resolve => { mediatorHost.addEventListener('peer:disconnect', evt => { if (evt.detail.equals(attacker.peerId)) resolve() }) })
  await clock.advance(10_000)
  for (let i = 0; i < 10 && !guard.banned(who); i++) {
    const stream = await attacker.dialProtocol(mediatorHost.getMultiaddrs(), PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    await lp.write(encode(['x'.repeat(MAX_DISPUTE_MESSAGE + 100)])).catch(() => { /* cut off mid-write */ })
    await t.throwsAsync(lp.read())
  }
  t.true(guard.banned(who))
  await closed
  // banned: its streams are refused outright
  await t.throwsAsync(ask(attacker, mediatorHost, encodeDispute({ type: 'case', ...c })))
  t.deepEqual(await ask(honest, mediatorHost, encodeDispute({ type: 'case', ...c })), { type: 'ack' }, 'others are still served')
})
