import test from 'ava'
import { recoverSigner } from '../../protocols/eip712.ts'
import { NoDealError } from './negotiator.ts'
import { Solver, CandidateReceiver } from '../solver/solver.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from '../gossip/gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, jobOffer, signedJobOffer, nowSec } from '../testing/fixtures.ts'
import { startProvider, startJobCreator, type Provider } from '../testing/parties.ts'
import type { LiveOffer } from '../../protocols/matcher.ts'
import { PeerGuard } from '../peer-guard/index.ts'
import { quietComponents } from '../components.ts'

function assertDoublySigned (t: { is: (a: unknown, b: unknown) => void }, d: { deal: import('../../protocols/eip712.ts').Deal, jobCreatorSignature: string, providerSignature: string }, jc: string, rp: string): void {
  t.is(recoverSigner('Deal', testDomain, d.deal, d.jobCreatorSignature), jc)
  t.is(recoverSigner('Deal', testDomain, d.deal, d.providerSignature), rp)
}

/** Resolves once `book` holds a live offer from each provider. */
async function booked (gossip: GossipService, providers: Provider[]): Promise<void> {
  const has = (): boolean => providers.every(p => gossip.book?.offers().some(l => l.offer.provider === p.wallet.address) === true)
  if (has()) return
  await new Promise<void>(resolve => { const off = gossip.onVerified(() => { if (has()) { off(); resolve() } }) })
}

test('JC matches itself: proposes to the cheapest, falls back past an unreachable and a declining candidate', async t => {
  const hosts = await startHosts(5)
  const [jcHost, rpA, rpB, rpC, silent] = hosts
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const jcW = wallet('jc-self')
  const jc = await startJobCreator(jcHost, jcW); stops.push(jc.stop)
  const a = await startProvider(rpA, wallet('rp-a'), { price: 10n }); stops.push(a.stop)
  const b = await startProvider(rpB, wallet('rp-b'), { price: 20n }); stops.push(b.stop)
  const c = await startProvider(rpC, wallet('rp-c'), { price: 30n }); stops.push(c.stop)
  await connectMesh(hosts)
  await waitForMesh(hosts.slice(0, 4), jc.gossip.topics.resourceOffers)
  await Promise.all([a, b, c].map(async p => await p.announcer.announce()))
  await booked(jc.gossip, [a, b, c])
  // rp-b is busy: its slot is held by another deal, so it must decline
  t.true(b.capacity.tryReserve(0, '0x' + '11'.repeat(32), 60_000))

  const job = await signedJobOffer(jcW, jobOffer(jcW.address))
  const ranked = jc.gossip.book?.match(job.value, { now: nowSec() }) ?? []
  t.deepEqual(ranked.map(r => r.live.offer.provider), [a, b, c].map(p => p.wallet.address))
  // the best candidate's peer hint points at a node that does not speak the deal protocol
  const unreachable = { ...ranked[0], live: { ...ranked[0].live, peer: silent.peerId.toString() } as LiveOffer }
  const agreed = await jc.negotiator.propose(job, [unreachable, ...ranked.slice(1)], jcW)
  t.is(agreed.deal.resourceProvider, c.wallet.address)
  t.is(agreed.providerPeer, rpC.peerId.toString())
  assertDoublySigned(t, agreed, jcW.address, c.wallet.address)
  t.is(agreed.deal.nonce, job.value.nonce)
  t.deepEqual(agreed.deal.mediators, job.value.mediators)
  t.is(jc.negotiator.metrics.declined.NO_CAPACITY, 1)
  t.is(jc.negotiator.metrics.failed, 1)
  t.is(c.accepted.length, 1)
  t.is(c.capacity.holder(0), agreed.dealId)
  // the provider re-announced without its booked slot
  t.deepEqual(c.capacity.freeSlots(), [])
})

test('a job creator running sixteen jobs at once paces its proposals to one provider: none refused RATE_LIMITED, none penalised', async t => {
  // the provider's limit is 8 at once and 2 a second per peer; before pacing, a job creator's jobs woken together by
  // one gossiped offer proposed in a burst, were refused RATE_LIMITED, and the provider's guard banned it (its own
  // offers then never reached the job creator, whose jobs waited as if the provider stayed busy)
  const hosts = await startHosts(2)
  const [jcHost, rpHost] = hosts
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const jcW = wallet('jc-paced')
  const guard = new PeerGuard(quietComponents(), { hangUp: async () => {} })
  const jc = await startJobCreator(jcHost, jcW); stops.push(jc.stop)
  const rp = await startProvider(rpHost, wallet('rp-paced'), { price: 10n, slots: [0, 1], guard }); stops.push(rp.stop)
  await connectMesh(hosts)
  await waitForMesh(hosts, jc.gossip.topics.resourceOffers)
  await rp.announcer.announce()
  await booked(jc.gossip, [rp])
  const jobs = await Promise.all(Array.from({ length: 16 }, async () => await signedJobOffer(jcW, jobOffer(jcW.address))))
  const outcomes = await Promise.all(jobs.map(async job => {
    const candidates = jc.gossip.book?.match(job.value, { now: nowSec() }) ?? []
    try {
      await jc.negotiator.propose(job, candidates, jcW)
      return ['accepted']
    } catch (err) {
      if (!(err instanceof NoDealError)) throw err
      return err.attempts.map(a => a.reason ?? a.outcome)
    }
  }))
  const all = outcomes.flat()
  t.true(all.length >= 16, `each job proposed: ${all.join(', ')}`)
  t.false(all.includes('RATE_LIMITED'), all.join(', '))
  // the rest heard why: its slots are taken, or this job creator already holds its share of them (a wait, no fault)
  t.true(all.every(o => o === 'accepted' || o === 'NO_CAPACITY'), all.join(', '))
  t.true(all.includes('accepted'))
  t.is(guard.points(jcHost.peerId.toString()), 0, 'the provider never penalised the job creator')
  t.false(guard.banned(jcHost.peerId.toString()))
})

test('race: two JCs want one RP slot at once → exactly one deal', async t => {
  const hosts = await startHosts(3)
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const rp = await startProvider(hosts[0], wallet('race-rp'), { slots: [0] }); stops.push(rp.stop)
  const jcs = await Promise.all([1, 2].map(async i => await startJobCreator(hosts[i], wallet(`race-jc-${i}`))))
  jcs.forEach(j => stops.push(j.stop))
  await connectMesh(hosts)
  await waitForMesh(hosts, rp.gossip.topics.resourceOffers)
  await rp.announcer.announce()
  await Promise.all(jcs.map(async j => { await booked(j.gossip, [rp]) }))
  const jobs = await Promise.all(jcs.map(async j => await signedJobOffer(j.wallet, jobOffer(j.wallet.address))))
  const outcomes = await Promise.allSettled(jcs.map(async (j, i) => await j.negotiator.propose(jobs[i], j.gossip.book?.match(jobs[i].value, { now: nowSec() }) ?? [], j.wallet)))
  const won = outcomes.filter(o => o.status === 'fulfilled')
  const lost = outcomes.filter(o => o.status === 'rejected')
  t.is(won.length, 1)
  t.is(lost.length, 1)
  t.is(((lost[0] as PromiseRejectedResult).reason as Error).name, NoDealError.name)
  t.regex(((lost[0] as PromiseRejectedResult).reason as Error).message, /NO_CAPACITY/)
  t.is(rp.accepted.length, 1)
  t.is(rp.capacity.holder(0), rp.accepted[0].dealId)
})

test('reservations lapse when the deal is not agreed in time', async t => {
  const { SlotCapacity } = await import('./capacity.ts')
  const cap = new SlotCapacity([0, 1])
  t.teardown(() => { cap.stop() })
  const freed = new Promise<number[]>(resolve => { cap.onChange(free => { if (free.length === 2) resolve(free) }) })
  t.true(cap.tryReserve(0, 'deal-1', 50))
  t.false(cap.tryReserve(0, 'deal-2', 50))
  t.true(cap.tryReserve(0, 'deal-1', 50))
  t.deepEqual(cap.freeSlots(), [1])
  t.deepEqual(await freed, [0, 1])
  t.true(cap.tryReserve(0, 'deal-2', 50))
  t.true(cap.confirm('deal-2'))
  t.true(cap.release('deal-2'))
})

test('solver path: a JC without an order book gets candidates from a solver and a doubly-signed deal', async t => {
  const hosts = await startHosts(4)
  const [jcHost, solverHost, rpHost, rp2Host] = hosts
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const rp = await startProvider(rpHost, wallet('solver-rp'), { price: 40n }); stops.push(rp.stop)
  const rp2 = await startProvider(rp2Host, wallet('solver-rp-2'), { price: 5000n }); stops.push(rp2.stop) // too expensive for the job
  const solverGossip = new GossipService(solverHost, { networkId: NETWORK, domain: testDomain, book: new OrderBook() })
  const solver = new Solver(solverHost, solverGossip, { networkId: NETWORK, domain: testDomain })
  solverGossip.start(); solver.start()
  stops.push(async () => { await solver.stop(); solverGossip.stop() })
  const jcW = wallet('solver-jc')
  const jc = await startJobCreator(jcHost, jcW, { keepBook: false }); stops.push(jc.stop)
  const receiver = new CandidateReceiver(jcHost, { networkId: NETWORK, domain: testDomain })
  await receiver.start(); stops.push(async () => { await receiver.stop() })
  await connectMesh(hosts)
  await waitForMesh([jcHost, solverHost], solverGossip.topics.jobOffers)
  await waitForMesh(hosts, solverGossip.topics.resourceOffers)
  await Promise.all([rp, rp2].map(async p => await p.announcer.announce()))
  await booked(solverGossip, [rp, rp2])
  t.is(jc.gossip.book, undefined)

  const job = await signedJobOffer(jcW, jobOffer(jcW.address))
  const candidates = receiver.awaitCandidates(job, { signal: AbortSignal.timeout(10_000) })
  await jc.gossip.publishJobOffer(job)
  const ranked = await candidates
  t.deepEqual(ranked.map(c => c.live.offer.provider), [rp.wallet.address])
  const agreed = await jc.negotiator.propose(job, ranked, jcW)
  assertDoublySigned(t, agreed, jcW.address, rp.wallet.address)
  t.is(agreed.deal.price, 40n)
  t.is(solver.metrics.delivered, 1)
  t.is(rp.accepted[0].dealId, agreed.dealId)
})
