import test from 'ava'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from './gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, waitFor, nowSec } from '../testing/fixtures.ts'
import { startProvider } from '../testing/parties.ts'
import type { Verified } from '../../protocols/validation.ts'

test('a provider re-announces on its heartbeat and at once when capacity changes (withdrawing booked slots), each time with a fresh nonce', async t => {
  const hosts = await startHosts(3)
  const rpW = wallet('announcer-rp')
  const quietW = wallet('announcer-quiet-rp')
  const watcher = new GossipService(hosts[1], { networkId: NETWORK, domain: testDomain, book: new OrderBook() })
  watcher.start()
  const rp = await startProvider(hosts[0], rpW, { slots: [0, 1], intervalMs: 300 })
  // a second provider whose heartbeat is far away, so its only announcements come from capacity changes
  const quiet = await startProvider(hosts[2], quietW, { slots: [0, 1], intervalMs: 600_000 })
  t.teardown(async () => { await rp.stop(); await quiet.stop(); watcher.stop(); await stopAll(hosts) })
  await connectMesh(hosts)
  await waitForMesh(hosts, watcher.topics.resourceOffers)

  const seen: Array<Verified<'ResourceOffer'>> = []
  const quietSeen: Array<Verified<'ResourceOffer'>> = []
  const waiters: Array<() => void> = []
  const withdrawals: Array<Verified<'OfferWithdrawal'>> = []
  watcher.onVerified(v => {
    if (v.kind === 'OfferWithdrawal') withdrawals.push(v as Verified<'OfferWithdrawal'>)
    else (v.signer === rpW.address ? seen : quietSeen).push(v as Verified<'ResourceOffer'>)
    waiters.splice(0).forEach(w => { w() })
  })
  const until = async (cond: () => boolean): Promise<void> => { while (!cond()) await new Promise<void>(resolve => waiters.push(resolve)) }

  // two heartbeats' worth of both slots, each newer than the last
  await until(() => seen.filter(v => v.value.slot === 0).length >= 2 && seen.filter(v => v.value.slot === 1).length >= 2)
  const slot0 = seen.filter(v => v.value.slot === 0).map(v => v.value.nonce)
  t.true(slot0.every((n, i) => i === 0 || n > slot0[i - 1]))
  t.is(watcher.book?.providerCount(rpW.address), 2)

  // the quiet provider's start-up announcement may have gone out before the mesh formed: re-announce once
  if (quietSeen.length < 2) { await quiet.announcer.announce(); await until(() => quietSeen.length >= 2) }
  const before = quietSeen.length
  const lastNonce = quietSeen[before - 1].value.nonce
  t.truthy(watcher.book?.get(quietW.address, 1))
  // slot 1 gets booked: the provider withdraws it and re-announces at once, slot 0 only
  t.true(quiet.capacity.tryReserve(1, '0x' + 'ab'.repeat(32), 60_000))
  await until(() => quietSeen.length > before && withdrawals.length === 1)
  t.is(withdrawals[0].value.slot, 1)
  t.is(withdrawals[0].signer, quietW.address)
  // no longer a candidate, but not forgotten either: the watcher shows the slot busy (a job creator queues for it)
  t.is(watcher.book?.get(quietW.address, 1), undefined)
  t.is(watcher.book?.providerCount(quietW.address), 1)
  t.deepEqual(watcher.book?.busy(nowSec()).filter(b => b.live.offer.provider === quietW.address).map(b => [b.live.offer.slot, b.withdrawal.nonce]), [[1, withdrawals[0].value.nonce]])
  const next = quietSeen[before]
  t.is(next.value.slot, 0)
  t.true(next.value.nonce > lastNonce)
  t.is(watcher.book?.get(quietW.address, 0)?.offer.nonce, next.value.nonce)
  t.true(quiet.announcer.ownOffer(next.id, next.value.expiry - 1n) !== undefined)
  // released again: both slots come back at once
  t.true(quiet.capacity.release('0x' + 'ab'.repeat(32)))
  await until(() => quietSeen.length >= before + 3)
  t.deepEqual(quietSeen.slice(before + 1, before + 3).map(v => v.value.slot).sort(), [0, 1])
  t.is(watcher.book?.providerCount(quietW.address), 2)
  t.deepEqual(watcher.book?.busy(nowSec()).filter(b => b.live.offer.provider === quietW.address), [], 'freed: busy no more')
})

test('re-announcement storm: a peer toggling its subscription 50 times makes the provider sign and gossip once per gap, not 50 times', async t => {
  const hosts = await startHosts(2)
  const [rpHost, toggler] = hosts
  const { ManualClock } = await import('../../core/clock.ts')
  const clock = new ManualClock(Date.now())
  const rp = await startProvider(rpHost, wallet('storm-rp'), { slots: [0, 1], intervalMs: 600_000, clock, minGapMs: 1000 })
  t.teardown(async () => { await rp.stop(); await stopAll(hosts) })
  const topic = rp.gossip.topics.resourceOffers
  // what the resource-provider role does: a peer that subscribes to the offers topic asks for our offers
  let subscriptions = 0
  let notify: (() => void) | undefined
  rpHost.services.pubsub.addEventListener('subscription-change', evt => {
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === topic)) return
    subscriptions++
    notify?.()
    rp.announcer.requestAnnouncement()
  })
  await waitFor(() => rp.announcer.announcements === 1, 30_000, 'the start-up announcement')
  await clock.advance(10_000) // the start-up announcement's gap has passed
  const base = rp.announcer.announcements
  const signed: number[] = []
  const publish = rp.gossip.publishResourceOffer.bind(rp.gossip)
  rp.gossip.publishResourceOffer = async env => { signed.push(env.value.slot); await publish(env) }
  await toggler.dial(rpHost.getMultiaddrs()[0])
  for (let i = 0; i < 50; i++) {
    const seen = new Promise<void>(resolve => { notify = resolve })
    toggler.services.pubsub.subscribe(topic)
    await seen
    toggler.services.pubsub.unsubscribe(topic)
  }
  t.is(subscriptions, 50)
  // the first request went out at once; the other 49 came within the gap and wait for it, as one
  await waitFor(() => rp.announcer.announcements === base + 1, 30_000, 'the first announcement')
  t.deepEqual(signed.sort(), [0, 1], 'each slot signed once')
  await clock.advance(1000)
  await waitFor(() => rp.announcer.announcements === base + 2, 30_000, 'the deferred announcement')
  await clock.advance(10_000)
  t.is(rp.announcer.announcements, base + 2, 'nothing more without a new request (the heartbeat is 10 minutes away)')
  t.is(signed.length, 4, 'two rounds of two slots for 50 requests')
  // capacity flapping is held to the same gap: a slot is re-announced at most once per gap however often it is
  // taken and freed (each withdrawal follows a reservation, which the negotiator rate-limits per peer and caps
  // per job creator)
  const withdrawals: number[] = []
  const withdraw = rp.gossip.publishWithdrawal.bind(rp.gossip)
  rp.gossip.publishWithdrawal = async env => { withdrawals.push(env.value.slot); await withdraw(env) }
  const before = signed.length
  for (let i = 0; i < 20; i++) {
    rp.capacity.tryReserve(1, `0x${'ab'.repeat(32)}`, 60_000)
    rp.capacity.release(`0x${'ab'.repeat(32)}`)
  }
  t.true(rp.capacity.tryReserve(1, `0x${'cd'.repeat(32)}`, 60_000))
  await waitFor(() => withdrawals.length === 21, 30_000, 'every reservation withdrew the slot')
  t.true(signed.length - before <= 2, `${signed.length - before} offers signed for 20 flaps within one gap`)
  rp.capacity.release(`0x${'cd'.repeat(32)}`)
  await clock.advance(1000)
  await waitFor(() => signed.slice(before).filter(s => s === 1).length >= 1, 30_000, 'slot 1 announced again after the gap')
  t.true(signed.length - before <= 4, `${signed.length - before} offers signed in all`)
})
