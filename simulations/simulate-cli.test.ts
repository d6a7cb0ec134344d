import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const run = promisify(execFile)
const cli = async (...args: string[]): Promise<{ stdout: string, stderr: string }> => await run(process.execPath, ['cli/bin.ts', ...args])

test('simulate steady --nodes 50 --json prints one JSON object of metrics', async t => {
  const { stdout } = await cli('simulate', 'steady', '--nodes', '50', '--hours', '0.2', '--json')
  const m = JSON.parse(stdout)
  t.is(m.scenario, 'steady')
  t.is(m.nodes, 50)
  t.true(m.tokens.conserved)
  t.true(m.jobs.submitted > 0)
  t.is(m.jobs.withoutOutcome, 0)
})

test('simulate cheaters --out writes metrics, three plots and a report', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-sim-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { stdout } = await cli('simulate', 'cheaters', '--nodes', '30', '--hours', '0.2', '--sweep', '0.05,0.6', '--out', dir)
  t.regex(stdout, /p_loss = P\/\(P\+C\) = 0\.3333/)
  t.deepEqual((await readdir(dir)).sort(), ['cheater-profit.svg', 'match-latency-cdf.svg', 'metrics.json', 'report.md', 'utilisation.svg'])
  t.regex(await readFile(join(dir, 'cheater-profit.svg'), 'utf8'), /^<svg[\s\S]*<polyline[\s\S]*<\/svg>$/)
  t.regex(await readFile(join(dir, 'report.md'), 'utf8'), /## Audit threshold/)
  t.is(JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')).scenario, 'cheaters')
})

test('simulate rewards --json: one JSON document with each strategy\'s income at two levels of demand, honest work strictly the highest', async t => {
  const { stdout } = await cli('simulate', 'rewards', '--nodes', '30', '--json')
  const m = JSON.parse(stdout)
  t.is(m.scenario, 'rewards')
  t.deepEqual(m.rewards.map((r: { demand: number }) => r.demand), [40, 200])
  for (const r of m.rewards) {
    t.deepEqual(r.strategies.map((s: { strategy: string }) => s.strategy), ['honest', 'idle', 'sybil', 'sybil-decline', 'cheater', 'colluder', 'overclaim'])
    const honest = r.strategies[0].incomePerKiloUnitLP
    for (const s of r.strategies.slice(1)) t.true(s.incomePerKiloUnitLP < honest, s.strategy)
    t.is(r.best, 'honest')
    t.true(r.honestEarnsMost)
  }
})

test('simulate collusion --out writes metrics, two plots and a report naming the default committee size', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-sim-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { stdout } = await cli('simulate', 'collusion', '--nodes', '90', '--out', dir)
  t.regex(stdout, /default committee size: \d+\./)
  t.deepEqual((await readdir(dir)).sort(), ['dispute-cost.svg', 'metrics.json', 'report.md', 'wrong-verdict.svg'])
  t.regex(await readFile(join(dir, 'wrong-verdict.svg'), 'utf8'), /^<svg[\s\S]*<polyline[\s\S]*<\/svg>$/)
  t.regex(await readFile(join(dir, 'report.md'), 'utf8'), /\*\*Default committee size: \d+\.\*\*/)
  const m = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'))
  t.is(m.scenario, 'collusion')
  t.is(m.mediators, 9)
  t.is(m.points.length, 30)
})

test('simulate committees --out: the event-level market with committees of 3, its disputes table against one mediator', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-sim-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { stdout } = await cli('simulate', 'committees', '--nodes', '40', '--hours', '0.2', '--out', dir)
  t.regex(stdout, /disputes: \d+ judged by committees \(size 3 wanted/)
  t.regex(stdout, /one mediator per dispute \(same seed\)/)
  t.deepEqual((await readdir(dir)).sort(), ['match-latency-cdf.svg', 'metrics.json', 'report.md', 'utilisation.svg'])
  const m = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'))
  t.true(m.tokens.conserved)
  t.is(m.committeeAnalysis.committeeSize, 3)
  t.regex(await readFile(join(dir, 'report.md'), 'utf8'), /## Disputes\n[\s\S]*\| committees of 3 \|[\s\S]*\| one mediator \(same seed\) \|/)
})

test('an unknown scenario and bad flags exit 2 with a clear message', async t => {
  for (const [args, msg] of [
    [['simulate', 'meltdown'], /unknown scenario "meltdown" \(known: steady, churn, cheaters, partition, spam, rewards, collusion, committees\)/],
    [['simulate', 'steady', '--nodes', 'lots'], /--nodes must be a whole number, got "lots"/],
    [['simulate', 'steady', '--nodes', '3'], /--nodes must be between 10 and 20000/],
    [['simulate', 'steady', '--hours', '0'], /--hours must be between 0.01 and 24, got 0/],
    [['simulate', 'steady', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['simulate'], /name a scenario/]
  ] as const) {
    const err = await t.throwsAsync(cli(...args)) as Error & { code: number, stderr: string }
    t.is(err.code, 2, args.join(' '))
    t.regex(err.stderr, msg)
    t.notRegex(err.stderr, /at .*\.ts:\d+/)
  }
})
