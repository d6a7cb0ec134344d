import test from 'ava'
import { ReplayCache } from './replay-cache.ts'

const id = (n: number): string => '0x' + n.toString(16).padStart(64, '0')

test('upkeep: prune() drops the entries of expired messages before the cache fills', t => {
  const cache = new ReplayCache({ capacity: 100_000 })
  for (let i = 0; i < 1000; i++) cache.add(id(i), '0xabc', BigInt(i), 100n + BigInt(i % 10), 0n)
  t.is(cache.size, 1000)
  t.is(cache.check(id(5), '0xabc', 5n, 104n), 'duplicate')
  cache.prune(105n)
  t.is(cache.size, 400, 'expiries 100..105 went, 106..109 stay')
  t.is(cache.check(id(5), '0xabc', 5n, 105n), undefined)
  t.is(cache.check(id(9), '0xabc', 9n, 105n), 'duplicate')
  cache.prune(110n)
  t.is(cache.size, 0)
})

test('the cache never holds more than its capacity: the oldest go when nothing has expired', t => {
  const cache = new ReplayCache({ capacity: 100 })
  for (let i = 0; i < 250; i++) cache.add(id(i), '0xabc', BigInt(i), 10_000n, 0n)
  t.true(cache.size <= 100)
  t.is(cache.check(id(249), '0xabc', 249n, 1n), 'duplicate')
  t.is(cache.check(id(0), '0xabc', 0n, 1n), undefined)
})
