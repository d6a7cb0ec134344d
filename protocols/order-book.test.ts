import test from 'ava'
import { OrderBook } from './order-book.ts'
import type { LiveOffer } from './matcher.ts'
import type { ResourceOffer } from './eip712.ts'

const NOW = 1000n
let idc = 0
function live (provider: number, over: Partial<ResourceOffer> = {}): LiveOffer {
  return {
    id: '0x' + (++idc).toString(16).padStart(64, '0'),
    signature: '0x',
    offer: { provider: '0x' + provider.toString(16).padStart(40, '0'), slot: 0, spec: { cpu: 1, ramMb: 1, diskMb: 1, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: 1n, collateral: 1n, mediators: ['0x00000000000000000000000000000000000000a1'], expiry: NOW + 100n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32), ...over }
  }
}

test('a newer nonce replaces the offer of a slot; an older or equal one is stale', t => {
  const book = new OrderBook()
  t.is(book.add(live(1, { nonce: 5n }), NOW), 'added')
  t.is(book.add(live(1, { nonce: 5n }), NOW), 'stale')
  t.is(book.add(live(1, { nonce: 4n }), NOW), 'stale')
  const newer = live(1, { nonce: 6n, price: 9n })
  t.is(book.add(newer, NOW), 'replaced')
  t.is(book.size, 1)
  t.is(book.get(newer.offer.provider, 0)?.id, newer.id)
  t.is(book.add(live(1, { slot: 1 }), NOW), 'added')
  t.is(book.size, 2)
})

test('offers expire', t => {
  const book = new OrderBook()
  t.is(book.add(live(1, { expiry: NOW }), NOW), 'expired')
  book.add(live(1, { expiry: NOW + 10n }), NOW)
  book.add(live(2, { expiry: NOW + 20n }), NOW)
  t.is(book.evictExpired(NOW + 10n), 1)
  t.is(book.size, 1)
  t.is(book.match({ jobCreator: '0x' + '0'.repeat(40), module: 'm', inputs: '', spec: { cpu: 0, ramMb: 0, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, maxPrice: 5n, mediators: ['0x00000000000000000000000000000000000000A1'], target: '0x' + '0'.repeat(40), timeout: 1, auditPpm: 0, expiry: NOW + 500n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32) }, { now: NOW + 20n }).length, 0)
  t.is(book.size, 0)
})

test('memory stays bounded under spam, with deterministic eviction', t => {
  const book = new OrderBook({ maxOffers: 100, maxPerProvider: 5 })
  // one spammer with thousands of slots: only its 5 longest-lived survive
  for (let s = 0; s < 5000; s++) book.add(live(666, { slot: s, expiry: NOW + BigInt(s % 97) + 1n }), NOW)
  t.is(book.providerCount('0x' + (666).toString(16).padStart(40, '0')), 5)
  t.true(book.offers().every(l => l.offer.expiry >= NOW + 93n))
  // many providers: the total cap holds and the offers expiring first go
  for (let p = 1; p <= 3000; p++) book.add(live(p, { expiry: NOW + BigInt(p) }), NOW)
  t.is(book.size, 100)
  const expiries = book.offers().map(l => l.offer.expiry)
  t.true(Math.min(...expiries.map(Number)) >= Number(NOW) + 2900)
  // a same-input replay gives the same contents
  const again = new OrderBook({ maxOffers: 100, maxPerProvider: 5 })
  idc = 0
  for (let s = 0; s < 5000; s++) again.add(live(666, { slot: s, expiry: NOW + BigInt(s % 97) + 1n }), NOW)
  for (let p = 1; p <= 3000; p++) again.add(live(p, { expiry: NOW + BigInt(p) }), NOW)
  t.deepEqual(again.offers().map(l => `${l.offer.provider}:${l.offer.slot}`).sort(), book.offers().map(l => `${l.offer.provider}:${l.offer.slot}`).sort())
})

test('a withdrawal removes an older offer of the slot and keeps older copies out until it expires', t => {
  const book = new OrderBook()
  const offer = live(7, { nonce: 10n, slot: 2 })
  book.add(offer, NOW)
  t.false(book.withdraw(offer.offer.provider, 2, 9n, NOW + 50n, NOW)) // older than the offer: no effect on it
  t.is(book.size, 1)
  t.true(book.withdraw(offer.offer.provider, 2, 11n, NOW + 50n, NOW))
  t.is(book.size, 0)
  t.is(book.nonceOf(offer.offer.provider, 2), 11n)
  t.is(book.add(live(7, { nonce: 10n, slot: 2 }), NOW), 'stale')
  t.is(book.add(live(7, { nonce: 12n, slot: 2 }), NOW), 'added')
  book.withdraw(offer.offer.provider, 3, 20n, NOW + 5n, NOW)
  t.is(book.add(live(7, { nonce: 15n, slot: 3, expiry: NOW + 100n }), NOW + 6n), 'added') // the withdrawal expired
})

test('upkeep: a slot re-announced all day keeps one offer and leaves no leftovers past their expiry', t => {
  const book = new OrderBook()
  const provider = 7
  // one re-announcement every 10 s for 24 h, each offer living 60 s
  for (let i = 0n; i < 8640n; i++) {
    const now = NOW + i * 10n
    t.not(book.add(live(provider, { nonce: i + 1n, expiry: now + 60n }), now), 'stale')
  }
  t.is(book.size, 1)
  t.true(book.heapSize <= 8, `replaced offers leave the heap once expired (heap ${book.heapSize})`)
  // withdrawals are remembered until they expire, then swept
  book.withdraw('0x' + provider.toString(16).padStart(40, '0'), 1, 10n ** 6n, NOW + 90_000n, NOW + 86_400n)
  t.is(book.withdrawals, 1)
  t.deepEqual(book.sweep(NOW + 86_400n), { offers: 0, withdrawals: 0 })
  t.deepEqual(book.sweep(NOW + 90_000n), { offers: 1, withdrawals: 1 })
  t.is(book.size, 0)
  t.is(book.providers, 0)
  t.is(book.heapSize, 0)
})

test('a withdrawn (booked) slot stays visible as busy: never a candidate, found by busyMatching, passed on by sync, gone when freed or expired', t => {
  const book = new OrderBook({ maxPerProvider: 2 })
  const job = { jobCreator: '0x' + '0'.repeat(40), module: 'm', inputs: '{}', spec: { cpu: 1, ramMb: 1, diskMb: 1, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, maxPrice: 10n, mediators: ['0x00000000000000000000000000000000000000a1'], target: '0x' + '0'.repeat(40), timeout: 1, auditPpm: 0, expiry: NOW + 500n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32) }
  const a = live(7, { nonce: 10n, slot: 0 })
  book.add(a, NOW)
  t.true(book.withdraw(a.offer.provider, 0, 11n, NOW + 60n, NOW, '0xsig'))
  t.is(book.size, 0)
  t.deepEqual(book.match(job, { now: NOW }), [], 'a busy slot is no candidate')
  t.deepEqual(book.busyMatching(job, { now: NOW }).map(l => l.id), [a.id])
  t.deepEqual(book.busyMatching({ ...job, maxPrice: 0n }, { now: NOW }), [], 'busy offers are matched like free ones (price here)')
  t.deepEqual(book.busyMatching(job, { now: NOW, exclude: p => p === a.offer.provider }), [])
  t.deepEqual(book.busy(NOW)[0].withdrawal, { nonce: 11n, expiry: NOW + 60n, signature: '0xsig' })
  // the heartbeat's refresh: the withdrawal (nonce 13) may arrive before its offer (nonce 12), either way the slot stays busy
  book.withdraw(a.offer.provider, 0, 13n, NOW + 70n, NOW)
  const b = live(7, { nonce: 12n, slot: 0, expiry: NOW + 70n })
  t.is(book.offerNonceOf(a.offer.provider, 0), 10n)
  t.is(book.add(b, NOW), 'busy')
  t.is(book.add(live(7, { nonce: 9n, slot: 0 }), NOW), 'stale', 'an older copy shows nothing new')
  t.deepEqual(book.busy(NOW).map(x => x.live.id), [b.id])
  t.is(book.size, 0)
  // sync passes busy slots on with their withdrawal
  const page = book.syncPage({ limit: 10, perProvider: 4, now: NOW })
  t.deepEqual(page.offers, [])
  t.deepEqual(page.busy.map(x => [x.live.id, x.withdrawal.nonce]), [[b.id, 13n]])
  // freed: a newer offer is live again and no longer busy
  const c = live(7, { nonce: 14n, slot: 0 })
  t.is(book.add(c, NOW), 'added')
  t.deepEqual(book.busy(NOW), [])
  t.is(book.match(job, { now: NOW }).length, 1)
  // a busy slot whose provider stopped refreshing it disappears with its offer
  book.withdraw(c.offer.provider, 0, 15n, NOW + 1000n, NOW)
  t.is(book.busy(NOW).length, 1)
  t.is(book.busy(c.offer.expiry).length, 0)
  book.sweep(c.offer.expiry)
  t.is(book.busy(NOW).length, 0, 'swept')
  // one provider shows at most maxPerProvider busy slots
  for (let slot = 1; slot <= 5; slot++) { book.add(live(8, { nonce: 1n, slot }), NOW); book.withdraw(live(8).offer.provider, slot, 2n, NOW + 60n, NOW) }
  t.is(book.busy(NOW).length, 2)
})
