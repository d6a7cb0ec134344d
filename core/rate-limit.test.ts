import test from 'ava'
import { ManualClock } from './clock.ts'
import { RateLimit } from './rate-limit.ts'

test('a burst, then the refill rate; keys are separate; the table is bounded', async t => {
  const clock = new ManualClock(0)
  const r = new RateLimit(clock, { burst: 3, perSecond: 2, maxKeys: 2 })
  t.deepEqual([r.take('a'), r.take('a'), r.take('a'), r.take('a')], [true, true, true, false])
  t.is(r.waitMs('a'), 500)
  t.true(r.take('b'))
  await clock.advance(500)
  t.true(r.take('a'))
  t.false(r.take('a'))
  t.false(r.take('a', 5), 'a cost above the burst never passes')
  await clock.advance(10_000)
  t.is(r.tokens('a'), 3, 'never more than the burst')
  r.take('c')
  t.is(r.size, 2, 'the least recently used key was forgotten')
  t.throws(() => new RateLimit(clock, { burst: 0, perSecond: 1 }), { instanceOf: RangeError })
})
