// Real libp2p nodes against the discrete-event model on the same small market (12 nodes, ~36 jobs).
import test from 'ava'
import { compareEngines, ksDistance, TOLERANCE } from './calibration.ts'

test('ksDistance is the largest gap between two empirical CDFs', t => {
  t.is(ksDistance([1, 2, 3], [1, 2, 3]), 0)
  t.is(ksDistance([1, 2], [3, 4]), 1)
  t.is(ksDistance([1, 2, 3, 4], [3, 4, 5, 6]), 0.5)
})

test('real nodes and the DES agree on the match-latency distribution within the stated tolerance', async t => {
  const c = await compareEngines()
  t.log(JSON.stringify({ real: c.real, des: c.des, ks: c.ksDistance, medianRatio: c.medianRatio, link: c.calibration.linkLatencyMedian, sigma: c.calibration.linkLatencySigma }))
  t.is(c.real.unmatched, 0)
  t.true(c.real.n >= 25)
  t.true(c.des.n >= 250)
  t.true(c.ksDistance <= TOLERANCE.ksDistance, `KS ${c.ksDistance}`)
  t.true(c.medianRatio <= TOLERANCE.medianRatio || c.medianDiffMs <= TOLERANCE.medianAbsMs, `medians ${c.real.p50Ms} vs ${c.des.p50Ms}`)
})
