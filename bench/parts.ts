// The parts `lilypad bench` measures. Each part runs on this machine with fixed seeds, returns the JSON figure
// under a stable key, and describes its rows for the table: the figure, its target and the anchor it is
// compared with (MODiCuM's gas table, Lilypad v2's 4 transactions per job and 5-second executor polling).
import { round } from './stats.ts'
import type { Devnet } from '../node/devnet.ts'
import type { E2eBenchResult } from './e2e.ts'
import type { NodeBenchResult } from './node.ts'
import type { AdversarialBenchResult } from './adversarial.ts'
import type { ThroughputResult } from './throughput.ts'

export interface BenchContext {
  quick: boolean
  seed: number
  log: (line: string) => void
  /** One devnet shared by the parts that need a running network, started on first use (random port, temp home). */
  devnet: () => Promise<{ devnet: Devnet, home: string }>
  /** soak: run length (default: minutes) and where its report goes */
  hours?: number
  outDir?: string
}

export interface Row { figure: string, value: string, target: string, anchor: string, met?: boolean }

export interface BenchPart<R = unknown> {
  key: string
  title: string
  /** runs only when named with --only (long, or with its own devnet) */
  optIn?: boolean
  run: (ctx: BenchContext) => Promise<R>
  rows: (r: R) => Row[]
}

const ms = (x: number): string => `${round(x)} ms`
const within = (value: number, target: number): boolean => value <= target

/** A 3-mediator committee's dispute, challenge to the vote's close (the last reveal closes it) (issue 15's target: ≤ 450,000 gas). */
function committeeRows (c: Record<'unanimous' | 'oneLiar' | 'oneAbsent', { gasPerJob: number, txsPerJob: number }> | undefined): Array<{ figure: string, value: string, target: string, anchor: string, met?: boolean }> {
  if (c === undefined) return []
  return [
    { figure: 'committee of 3, one outvoted: dispute gas / txs', value: `${c.oneLiar.gasPerJob} / ${c.oneLiar.txsPerJob}`, target: '≤ 450,000 (issue 15)', anchor: `unanimous ${c.unanimous.gasPerJob}; one absent ${c.oneAbsent.gasPerJob}`, met: c.oneLiar.gasPerJob <= 450_000 && c.unanimous.gasPerJob <= 450_000 }
  ]
}

export const gasPart: BenchPart<Record<string, unknown>> = {
  key: 'gas',
  title: 'Gas per job (anvil)',
  async run () {
    const { gasReport } = await import('../contracts/gas-report.ts')
    const r = await gasReport()
    const paths = {
      happy: r.happyPiggyback,
      happyBatched: r.happy,
      happyAccepted: r.happyAccepted,
      happyAcceptedOffChain: r.happyAcceptedOffChain,
      challengedCorrect: r.challengedCorrect,
      challengedWrong: r.challengedWrong,
      audited: r.audited,
      timeoutResult: r.timeoutResult,
      timeoutMediation: r.timeoutMediation
    }
    return { ...paths, committee: r.committee, batchedSettlementPerDeal: r.batchedSettlementPerDeal, batchSize: r.batchSize, contractJob: r.contractJob }
  },
  rows (r) {
    const path = (k: string): { gasPerJob: number, txsPerJob: number } => r[k] as { gasPerJob: number, txsPerJob: number }
    const rows: Row[] = [
      { figure: 'happy path gas/job', value: String(path('happy').gasPerJob), target: '≤ 200,000', anchor: 'MODiCuM ≈ 1,160,000', met: within(path('happy').gasPerJob, 200_000) },
      { figure: 'happy path txs/job', value: String(path('happy').txsPerJob), target: '≤ 2', anchor: 'Lilypad v2: 4, MODiCuM: 6', met: within(path('happy').txsPerJob, 2) },
      { figure: 'happy, batched settle ×10: gas/job', value: String(path('happyBatched').gasPerJob), target: '≤ 200,000', anchor: '', met: within(path('happyBatched').gasPerJob, 200_000) },
      { figure: 'happy, acceptance signed off chain (agree + submitAcceptedResult): txs / gas', value: `${path('happyAcceptedOffChain').txsPerJob} / ${path('happyAcceptedOffChain').gasPerJob}`, target: '≤ 2 / ≤ 140,000 (issue 15)', anchor: `accepted on chain: ${path('happyAccepted').txsPerJob} / ${path('happyAccepted').gasPerJob}`, met: path('happyAcceptedOffChain').txsPerJob <= 2 && path('happyAcceptedOffChain').gasPerJob <= 140_000 },
      { figure: 'challenged (correct) gas/job', value: String(path('challengedCorrect').gasPerJob), target: '≤ 400,000', anchor: 'Lilypad v2: mediation off', met: within(path('challengedCorrect').gasPerJob, 400_000) },
      { figure: 'challenged (wrong) gas/job', value: String(path('challengedWrong').gasPerJob), target: '≤ 400,000', anchor: '', met: within(path('challengedWrong').gasPerJob, 400_000) },
      ...committeeRows(r.committee as Record<'unanimous' | 'oneLiar' | 'oneAbsent', { gasPerJob: number, txsPerJob: number }> | undefined),
      { figure: 'timeout (no result) gas/job', value: String(path('timeoutResult').gasPerJob), target: '', anchor: 'Lilypad v2 timeouts broken' },
      { figure: 'timeout (no verdict) gas/job', value: String(path('timeoutMediation').gasPerJob), target: '', anchor: '' },
      { figure: 'batched settlement gas/deal', value: String(r.batchedSettlementPerDeal), target: '', anchor: '' }
    ]
    const cj = r.contractJob as { request: number, complete: number, perCallbackByte: number, perJob: number } | undefined
    if (cj !== undefined) {
      rows.push(
        { figure: 'contract job: request / completion gas', value: `${cj.request} / ${cj.complete}`, target: '', anchor: '' },
        { figure: 'contract job: gas per callback byte', value: String(cj.perCallbackByte), target: '', anchor: '' },
        { figure: 'contract job: gas per job (request, pickup, completion, release)', value: String(cj.perJob), target: '', anchor: '' }
      )
    }
    return rows
  }
}

export const matcherPart: BenchPart<{ jobs: number, offers: number, ms: number }> = {
  key: 'matcher',
  title: 'Matcher (one core)',
  async run (ctx) {
    const { benchMatcher } = await import('./matcher.ts')
    const r = benchMatcher({ jobs: 1000, offers: 10_000, runs: ctx.quick ? 3 : 7, seed: ctx.seed })
    return { jobs: r.jobs, offers: r.offers, ms: round(r.ms) }
  },
  rows: r => [{ figure: `${r.jobs} jobs × ${r.offers} offers`, value: ms(r.ms), target: '≤ 200 ms', anchor: 'Lilypad v2 solver: 10 s loop, ≤ 1,000 offers', met: within(r.ms, 200) }]
}

/** p99 targets of the issue "Ready for the internet", per mesh size */
const GOSSIP_P99_TARGET_MS: Record<number, number> = { 20: 150, 50: 200, 100: 300 }

export const gossipPart: BenchPart<Array<{ nodes: number, p50Ms: number, p99Ms: number }>> = {
  key: 'gossip',
  title: 'Offer propagation (local mesh)',
  async run (ctx) {
    const { benchGossip } = await import('./gossip.ts')
    const r = await benchGossip({ sizes: [20, 50, 100], messages: ctx.quick ? 10 : 50, warmup: ctx.quick ? 3 : 10 })
    return r.map(x => ({ nodes: x.nodes, p50Ms: round(x.p50Ms), p99Ms: round(x.p99Ms) }))
  },
  rows: r => r.map(x => {
    const target = GOSSIP_P99_TARGET_MS[x.nodes]
    return {
      figure: `${x.nodes} nodes p50 / p99`,
      value: `${x.p50Ms} / ${x.p99Ms} ms`,
      target: target !== undefined ? `p99 ≤ ${target} ms` : '',
      anchor: 'Lilypad v2: central solver',
      ...(target !== undefined ? { met: within(x.p99Ms, target) } : {})
    }
  })
}

export const executorPart: BenchPart<{ cowsayOverheadMs: number, fetch10MbMs: number }> = {
  key: 'executor',
  title: 'Executor and result transfer',
  async run (ctx) {
    const { benchExecutor } = await import('./executor.ts')
    const r = await benchExecutor({ runs: ctx.quick ? 3 : 9, fetchRuns: ctx.quick ? 2 : 5 })
    return { cowsayOverheadMs: round(r.cowsayOverheadMs), fetch10MbMs: round(r.fetch10MbMs) }
  },
  rows: r => [
    { figure: 'cowsay create → exit → CID', value: ms(r.cowsayOverheadMs), target: '≤ 400 ms', anchor: 'Lilypad v2 polls its executor every 5 s', met: within(r.cowsayOverheadMs, 400) },
    { figure: '10 MB result over bitswap', value: ms(r.fetch10MbMs), target: '≤ 1,000 ms', anchor: 'Lilypad v2: results tarred through the solver', met: within(r.fetch10MbMs, 1000) }
  ]
}

export const e2ePart: BenchPart<E2eBenchResult> = {
  key: 'e2e',
  title: 'lilypad run cowsay against a running devnet',
  async run (ctx) {
    const { benchE2e } = await import('./e2e.ts')
    const { devnet, home } = await ctx.devnet()
    return await benchE2e(devnet, home, { runs: ctx.quick ? 3 : 10 })
  },
  rows: r => [
    { figure: 'command start → result on disk, p50', value: ms(r.resultOnDiskMs.p50), target: '≤ 2,000 ms', anchor: 'Lilypad v2: RP polls its executor every 5 s', met: within(r.resultOnDiskMs.p50, 2000) },
    { figure: 'command start → settled, p50 / p95', value: `${round(r.totalMs.p50)} / ${round(r.totalMs.p95)} ms`, target: '', anchor: '' },
    { figure: 'overhead (total − container run), p50', value: ms(r.overheadMs.p50), target: '', anchor: '' },
    ...Object.entries(r.phasesMs).map(([k, v]) => ({ figure: `  phase ${k}, p50`, value: ms(v.p50), target: '', anchor: '' })),
    { figure: 'devnet ready', value: ms(r.devnetReadyMs), target: '≤ 15,000 ms', anchor: '', met: within(r.devnetReadyMs, 15_000) },
    { figure: 'through a running node, p50 / p95', value: `${round(r.viaNodeMs.p50)} / ${round(r.viaNodeMs.p95)} ms`, target: '≤ 700 ms', anchor: 'an ephemeral node: the row above', met: within(r.viaNodeMs.p50, 700) },
    { figure: 'on chain per job, as lilypad run does it (happyCli): txs / gas', value: `${r.chain.txsPerJob} / ${r.chain.gasPerJob}`, target: '≤ 2 / ≤ 140,000 (issue 15)', anchor: `by event: ${Object.entries(r.chain.txs).map(([k, v]) => `${k} ${v}`).join(', ')}`, met: r.chain.txsPerJob <= 2 && r.chain.gasPerJob <= 140_000 }
  ]
}

export const throughputPart: BenchPart<ThroughputResult> = {
  key: 'throughput',
  title: 'Jobs at once with one key through the user\'s node (2 providers × 2 slots)',
  async run (ctx) {
    const { secondProvider, userNode, measureThroughput } = await import('./throughput.ts')
    const { devnet, home } = await ctx.devnet()
    const rp2 = await secondProvider(devnet, home)
    try {
      const user = await userNode(devnet, home)
      try { return await measureThroughput(user, { jobs: ctx.quick ? 10 : 30 }) } finally { await user.stop() }
    } finally { await rp2.stop() }
  },
  rows: r => [
    { figure: `${r.jobs} cowsay jobs at once: jobs/min`, value: String(r.jobsPerMin), target: '≥ 60', anchor: 'issue 12: 28.7 jobs/min at 4 CLI processes', met: r.jobsPerMin >= 60 },
    { figure: 'succeeded', value: `${r.done}/${r.jobs}`, target: '100 %', anchor: 'issue 12: 31–35 of 50 at 25 processes', met: r.done === r.jobs },
    { figure: 'submit → end, p50 / p95', value: `${round(r.jobMs.p50)} / ${round(r.jobMs.p95)} ms`, target: '', anchor: '' },
    { figure: 'jobs with a nonce error', value: String(r.nonceErrors), target: '0', anchor: '', met: r.nonceErrors === 0 }
  ]
}

export const nodePart: BenchPart<NodeBenchResult> = {
  key: 'node',
  title: 'Resource-provider node',
  async run (ctx) {
    const { benchNode } = await import('./node.ts')
    const { devnet, home } = await ctx.devnet()
    return await benchNode(devnet, home, { runs: ctx.quick ? 1 : 3, idleMs: ctx.quick ? 2000 : 10_000 })
  },
  rows: r => [
    { figure: 'start → ready', value: ms(r.readyMs), target: '', anchor: '' },
    { figure: 'idle resident memory', value: `${r.idleRssMb} MB`, target: '', anchor: '' }
  ]
}

export const simulationPart: BenchPart<{ nodes: number, simulatedHours: number, wallS: number }> = {
  key: 'simulation',
  title: 'Discrete-event simulation (steady market)',
  async run (ctx) {
    const { benchSimulation } = await import('../simulations/bench.ts')
    // quick: a tenth of the network for a tenth of the hour, enough to show the part runs
    const r = await benchSimulation(ctx.quick ? { nodes: 1000, hours: 0.1, seed: ctx.seed } : { nodes: 10_000, hours: 1, seed: ctx.seed })
    return { nodes: r.nodes, simulatedHours: r.simulatedHours, wallS: r.wallS }
  },
  rows: r => [{
    figure: `${r.nodes} nodes × ${r.simulatedHours} simulated h`,
    value: `${r.wallS} s`,
    target: r.nodes >= 10_000 && r.simulatedHours >= 1 ? '≤ 60 s' : '(quick)',
    anchor: '',
    ...(r.nodes >= 10_000 && r.simulatedHours >= 1 ? { met: within(r.wallS, 60) } : {})
  }]
}

export const soakPart: BenchPart<SoakSummary> = {
  key: 'soak',
  title: 'Soak: a devnet under a steady job rate, with restarts and an RPC outage',
  optIn: true,
  async run (ctx) {
    const { runSoak } = await import('./soak.ts')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const outDir = ctx.outDir ?? join(tmpdir(), `lilypad-soak-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    ctx.log(`soak: ${ctx.hours ?? 0.05} h; report, plot and logs in ${outDir}`)
    const r = await runSoak({ ...(ctx.hours !== undefined ? { hours: ctx.hours } : {}), quick: ctx.quick, outDir, log: ctx.log })
    const rss = Object.fromEntries(Object.entries(r.processes).map(([k, p]) => [k, { firstMb: p.rssFirstMb, lastMb: p.rssLastMb, slopeMbPerHour: p.rssSlopeMbPerHour, anonSlopeMbPerHour: p.anonSlopeMbPerHour ?? null, heapSlopeMbPerHour: p.heapSlopeMbPerHour ?? null, heapTotalSlopeMbPerHour: p.heapTotalSlopeMbPerHour ?? null, handlesFirst: p.handlesFirst ?? null, handlesLast: p.handlesLast ?? null }]))
    return { durationS: r.durationS, jobs: r.jobs, completed: r.completed, failed: r.failed, retried: r.retried, completionRate: r.completionRate, p50Ms: r.latency.p50Ms, p95Ms: r.latency.p95Ms, latencySlopeMsPerHour: r.latency.slopeMsPerHour, processes: rss, outDir }
  },
  rows: r => [
    { figure: `jobs completed (${Math.round(r.durationS / 60)} min)`, value: `${r.completed} / ${r.jobs}`, target: 'all', anchor: 'Lilypad v2: "job hanging", lost reconnects', met: r.failed === 0 },
    { figure: 'jobs that needed a retry', value: String(r.retried), target: '', anchor: '' },
    { figure: 'latency p50 / p95', value: `${round(r.p50Ms)} / ${round(r.p95Ms)} ms`, target: '', anchor: '' },
    { figure: 'latency trend', value: `${r.latencySlopeMsPerHour} ms/h`, target: '', anchor: '' },
    ...Object.entries(r.processes).map(([k, p]) => ({ figure: `  ${k} RSS first → last, trend`, value: `${p.firstMb} → ${p.lastMb} MB, ${p.slopeMbPerHour} MB/h`, target: '', anchor: '' })),
    { figure: 'report, plot, logs', value: r.outDir, target: '', anchor: '' }
  ]
}

export interface SoakSummary {
  durationS: number
  jobs: number
  completed: number
  failed: number
  retried: number
  completionRate: number
  p50Ms: number
  p95Ms: number
  latencySlopeMsPerHour: number
  processes: Record<string, { firstMb: number, lastMb: number, slopeMbPerHour: number, anonSlopeMbPerHour: number | null, heapSlopeMbPerHour: number | null, heapTotalSlopeMbPerHour: number | null, handlesFirst: number | null, handlesLast: number | null }>
  outDir: string
}

// The parts that share the in-process devnet run last: its nodes would otherwise share the event loop with the
// gossip and executor measurements.
export const adversarialPart: BenchPart<AdversarialBenchResult> = {
  key: 'adversarial',
  title: 'lilypad run with junk offers live (1,000 from 1,000 keys; --quick: 200)',
  async run (ctx) {
    const { benchAdversarial } = await import('./adversarial.ts')
    const { devnet, home } = await ctx.devnet()
    return await benchAdversarial(devnet, home, { runs: ctx.quick ? 1 : 5, junk: ctx.quick ? 200 : 1000 })
  },
  rows: r => [
    { figure: `run p50 with ${r.junkOffers} junk offers (clean)`, value: `${ms(r.totalMs.p50)} (${ms(r.cleanTotalMs.p50)})`, target: '', anchor: 'before: 16 junk offers stopped every job' },
    { figure: 'new job creator: start → countersigned, p50 (clean)', value: `${ms(r.timeToMatchMs.p50)} (${ms(r.cleanTimeToMatchMs.p50)})`, target: '', anchor: '' },
    { figure: 'runs matched with the honest provider', value: `${r.honest} / ${r.runs}`, target: `${r.runs} / ${r.runs}`, anchor: '', met: r.honest === r.runs }
  ]
}

export const allParts: BenchPart<any>[] = [gasPart, matcherPart, gossipPart, executorPart, simulationPart, e2ePart, nodePart, adversarialPart, throughputPart, soakPart]
