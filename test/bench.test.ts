// Smoke test of `lilypad bench`: every part runs in quick mode and reports every key the JSON promises.
// It does not judge the figures: targets are read off the benchmark, never asserted in tests.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x)

test('lilypad bench --quick --json produces every key', async t => {
  // every part runs, the 100-node mesh included: minutes on a loaded machine
  t.timeout(900_000)
  const { stdout } = await run(process.execPath, ['cli/bin.ts', 'bench', '--quick', '--json'], { maxBuffer: 16 * 1024 * 1024, timeout: 880_000 })
  const r = JSON.parse(stdout) as Record<string, any>

  t.true(isNum(r.e2e.totalMs.p50) && isNum(r.e2e.totalMs.p95), 'e2e.totalMs')
  t.true(isNum(r.e2e.overheadMs.p50), 'e2e.overheadMs')
  t.true(isNum(r.e2e.viaNodeMs?.p50) && isNum(r.e2e.viaNodeMs?.p95), 'e2e.viaNodeMs')
  // each job's deal has exactly one agree and one result on chain, whatever settles it
  t.like(r.e2e.chain?.txs, { DealAgreed: 1, ResultSubmitted: 1 }, 'e2e.chain.txs')
  t.true(r.e2e.chain.txsPerJob >= 2 && r.e2e.chain.gasPerJob > 0, 'e2e.chain')
  t.true(isNum(r.throughput?.jobsPerMin) && isNum(r.throughput?.jobMs?.p50) && isNum(r.throughput?.done) && isNum(r.throughput?.nonceErrors), 'throughput')
  for (const phase of ['offered', 'matched', 'agreed', 'result', 'downloaded', 'settled']) t.true(isNum(r.e2e.phasesMs[phase]?.p50), `e2e.phasesMs.${phase}`)

  for (const path of ['happy', 'happyAcceptedOffChain', 'challengedCorrect', 'challengedWrong', 'timeoutResult', 'timeoutMediation']) {
    t.true(isNum(r.gas[path]?.gasPerJob) && isNum(r.gas[path]?.txsPerJob), `gas.${path}`)
  }
  t.true(isNum(r.gas.batchedSettlementPerDeal), 'gas.batchedSettlementPerDeal')
  for (const k of ['request', 'pickUp', 'complete', 'perCallbackByte', 'releasePerJob', 'perJob']) t.true(isNum(r.gas.contractJob?.[k]), `gas.contractJob.${k}`)

  t.is(r.matcher.jobs, 1000)
  t.is(r.matcher.offers, 10_000)
  t.true(isNum(r.matcher.ms))

  t.deepEqual(r.gossip.map((g: { nodes: number }) => g.nodes), [20, 50, 100])
  for (const g of r.gossip) t.true(isNum(g.p50Ms) && isNum(g.p99Ms), 'gossip percentiles')

  t.true(isNum(r.executor.cowsayOverheadMs) && isNum(r.executor.fetch10MbMs), 'executor')
  t.true(isNum(r.node.readyMs) && isNum(r.node.idleRssMb), 'node')
  t.true(isNum(r.simulation.nodes) && isNum(r.simulation.simulatedHours) && isNum(r.simulation.wallS), 'simulation')
  t.true(isNum(r.adversarial.junkOffers) && isNum(r.adversarial.totalMs.p50) && isNum(r.adversarial.timeToMatchMs.p50) && isNum(r.adversarial.honest), 'adversarial')
})

test('an unknown part or a bad flag is a usage error (exit 2)', async t => {
  for (const args of [['--only', 'warp-drive'], ['--frobnicate'], ['--seed', 'x'], ['--hours', '2'], ['--only', 'soak', '--hours', '-1'], ['--only', 'soak', '--hours', 'x']]) {
    const err = await t.throwsAsync(run(process.execPath, ['cli/bin.ts', 'bench', ...args])) as Error & { code: number, stderr: string }
    t.is(err.code, 2, args.join(' '))
    t.regex(err.stderr, /^error: /m)
  }
})
