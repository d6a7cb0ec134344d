import test from 'ava'
import { ManualClock, systemClock, nowSeconds } from './clock.ts'

test('a manual clock fires timers in time order, each seeing its own due time, only when advanced', async t => {
  const clock = new ManualClock(1000)
  const seen: Array<[string, number]> = []
  clock.setTimeout(() => { seen.push(['b', clock.now()]) }, 200)
  clock.setTimeout(() => { seen.push(['a', clock.now()]) }, 100)
  const c = clock.setTimeout(() => { seen.push(['cancelled', clock.now()]) }, 150)
  c.cancel()
  t.deepEqual(seen, [])
  await clock.advance(150)
  t.deepEqual(seen, [['a', 1100]])
  t.is(clock.now(), 1150)
  await clock.advance(1000)
  t.deepEqual(seen, [['a', 1100], ['b', 1200]])
  t.is(clock.now(), 2150)
  t.is(clock.pending, 0)
})

test('timers set by a firing timer within the advanced span fire too; sleep resolves and aborts', async t => {
  const clock = new ManualClock(0)
  const order: number[] = []
  clock.setTimeout(() => { order.push(clock.now()); clock.setTimeout(() => { order.push(clock.now()) }, 10) }, 10)
  const slept = clock.sleep(25).then(() => clock.now())
  await clock.advance(30)
  t.deepEqual(order, [10, 20])
  t.is(await slept, 25)
  const ac = new AbortController()
  const aborted = clock.sleep(1000, ac.signal)
  ac.abort(new Error('stop'))
  await t.throwsAsync(aborted, { message: 'stop' })
  t.is(clock.pending, 0, 'an aborted sleep leaves no timer')
})

test('the system clock sleeps on real timers and reports seconds', async t => {
  const before = Date.now()
  // the system clock's timers are unref'd (they never keep a stopping process alive): something else must keep
  // this test's process alive meanwhile, or a worker with nothing else pending exits before the sleep ends (seen
  // under load: 'Promise returned by test never resolved')
  const alive = setInterval(() => {}, 60_000)
  // a timer set now runs once its loop's cached time has moved 5 ms past the cached time it was set at, and that
  // cached time lags the wall clock when the loop is busy: on a loaded machine the sleep can end with Date.now()
  // fewer than 5 ms on (seen under two CPU burners), so only the order is asserted, not the elapsed time
  const immediate = new Promise<number>(resolve => { setImmediate(() => { resolve(Date.now()) }) })
  try { await systemClock.sleep(5) } finally { clearInterval(alive) }
  t.true(systemClock.now() >= await immediate, 'the sleep ended on a timer, after this loop turn')
  t.true(systemClock.now() >= before)
  t.is(nowSeconds({ now: () => 12_999 }), 12)
})
