import test from 'ava'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from './gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, waitFor } from '../testing/fixtures.ts'
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
  t.is(watcher.book?.get(quietW.address, 1), undefined)
  t.is(watcher.book?.providerCount(quietW.address), 1)
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
})

test('re-announcement storm: a peer toggling its subscription 50 times makes the provider sign and gossip once per interval, not 50 times', async t => {
  const hosts = await startHosts(2)
  const [rpHost, toggler] = hosts
  const { ManualClock } = await import('../../core/clock.ts')
  const clock = new ManualClock(Date.now())
  const rp = await startProvider(rpHost, wallet('storm-rp'), { slots: [0, 1], intervalMs: 600_000, clock, minIntervalMs: 1000 })
  const BURST = 3
  t.teardown(async () => { await rp.stop(); await stopAll(hosts) })
  const topic = rp.gossip.topics.resourceOffers
  // what the resource-provider role does: a peer that subscribes to the offers topic is told our offers at once
  let subscriptions = 0
  let notify: (() => void) | undefined
  rpHost.services.pubsub.addEventListener('subscription-change', evt => {
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === topic)) return
    subscriptions++
    notify?.()
    void rp.announcer.announce().catch(() => { /* stopped */ })
  })
  await clock.advance(10_000) // the start-up announcement is out; the bucket is full again
  const base = rp.announcer.announcements
  await toggler.dial(rpHost.getMultiaddrs()[0])
  for (let i = 0; i < 50; i++) {
    const seen = new Promise<void>(resolve => { notify = resolve })
    toggler.services.pubsub.subscribe(topic)
    await seen
    toggler.services.pubsub.unsubscribe(topic)
  }
  t.is(subscriptions, 50)
  // a burst went out at once; the other 47 wait for the next token and go out as one
  await waitFor(() => rp.announcer.announcements === base + BURST, 30_000, 'the burst')
  t.is(rp.announcer.coalesced, 50 - BURST)
  await clock.advance(1000)
  await waitFor(() => rp.announcer.announcements === base + BURST + 1, 30_000, 'the coalesced announcement')
  await clock.advance(10_000)
  t.is(rp.announcer.announcements, base + BURST + 1, 'nothing more without a new request (the heartbeat is 10 minutes away)')
  // capacity changes coalesce the same way, withdrawals included
  const withdrawals: number[] = []
  const publish = rp.gossip.publishWithdrawal.bind(rp.gossip)
  rp.gossip.publishWithdrawal = async env => { withdrawals.push(env.value.slot); await publish(env) }
  for (let i = 0; i < 20; i++) {
    rp.capacity.tryReserve(1, `0x${'ab'.repeat(32)}`, 60_000)
    rp.capacity.release(`0x${'ab'.repeat(32)}`)
  }
  t.true(rp.capacity.tryReserve(1, `0x${'cd'.repeat(32)}`, 60_000))
  await waitFor(() => rp.announcer.announcements === base + 2 * BURST + 1, 30_000, 'a burst of capacity announcements, at once')
  t.is(rp.announcer.coalesced, 50 - BURST + 41 - BURST, 'the other changes wait for a token')
  await clock.advance(1000)
  await waitFor(() => rp.announcer.announcements === base + 2 * BURST + 2, 30_000, 'the coalesced capacity announcement')
  t.true(withdrawals.filter(s => s === 1).length <= BURST + 1, `slot 1 withdrawn ${withdrawals.length} times`)
})
