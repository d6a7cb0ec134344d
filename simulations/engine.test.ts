import test from 'ava'
import fc from 'fast-check'
import { Rng } from './rng.ts'
import { EventQueue } from './queue.ts'
import { Engine } from './engine.ts'
import { hopDistribution, Network, defaultNetworkParams } from './network.ts'

test('the PRNG is a pure function of its seed, and its draws have the right means', t => {
  const a = new Rng(42)
  const b = new Rng(42)
  const c = new Rng(43)
  const xs = Array.from({ length: 5 }, () => a.nextU32())
  t.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()))
  t.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextU32()))
  const r = new Rng('means')
  let u = 0; let e = 0
  const n = 200_000
  for (let i = 0; i < n; i++) { const x = r.next(); t.true(x >= 0 && x < 1) || t.fail(); u += x; e += r.exp(3) }
  t.true(Math.abs(u / n - 0.5) < 0.005)
  t.true(Math.abs(e / n - 3) < 0.05)
})

test('the event queue pops in time order, ties in insertion order', t => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 300 }), times => {
    const q = new EventQueue<number>()
    times.forEach((time, i) => { q.push(time, i) })
    const out: number[] = []
    for (let x = q.pop(); x !== undefined; x = q.pop()) out.push(x)
    const expected = times.map((time, i) => ({ time, i })).sort((p, r) => p.time - r.time || p.i - r.i).map(p => p.i)
    return JSON.stringify(out) === JSON.stringify(expected)
  }))
  t.pass()
})

test('the engine runs events in simulated time order and stops at the horizon', t => {
  const e = new Engine()
  const seen: Array<[number, string]> = []
  e.at(5, () => { seen.push([e.now, 'b']); e.after(10, () => { seen.push([e.now, 'late']) }) })
  e.at(1, () => { seen.push([e.now, 'a']) })
  e.run(10)
  t.deepEqual(seen, [[1, 'a'], [5, 'b']])
  t.is(e.now, 10)
  t.is(e.pending, 1)
  e.run(20)
  t.deepEqual(seen.at(-1), [15, 'late'])
})

test('gossip hop distances follow a D-regular mesh and partitions cut delivery', t => {
  const cdf = hopDistribution(10_000, 6)
  t.is(cdf.at(-1), 1)
  t.true(cdf.length >= 5 && cdf.length <= 7)
  const net = new Network(100, { ...defaultNetworkParams, loss: 0 }, new Rng(1))
  t.is(net.hops(3, 7), net.hops(7, 3))
  t.true(net.gossipDelay(3, 7) > 0)
  net.side[7] = 1
  net.partitioned = true
  t.is(net.gossipDelay(3, 7), -1)
  t.is(net.directDelay(3, 7), -1)
  net.partitioned = false
  t.true(net.directDelay(3, 7) > 0)
  net.up[7] = 0
  t.is(net.gossipDelay(3, 7), -1)
})
