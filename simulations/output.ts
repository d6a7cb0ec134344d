// Turning a scenario result into files: metrics.json, SVG plots and a short report.md.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cdfPoints, lineChart } from './plots.ts'
import { quantile, round } from './metrics.ts'
import type { ScenarioResult } from './scenarios.ts'
import type { RewardsScenarioResult } from './rewards.ts'
import type { CollusionResult } from './collusion.ts'

/** JSON with bigints as strings; stable for equal inputs. */
export function toJson (x: unknown): string {
  return JSON.stringify(x, (_k, v) => typeof v === 'bigint' ? v.toString() : typeof v === 'function' ? undefined : v, 2)
}

export function metricsOf (r: ScenarioResult): Record<string, unknown> {
  return { ...r.summary }
}

export function latencyCdfSvg (r: ScenarioResult): string {
  const ms = r.matchLatencies.map(x => x * 1000)
  const cut = quantile([...ms].sort((a, b) => a - b), 0.99)
  return lineChart([{ name: `${r.scenario} (${ms.length} matches)`, points: cdfPoints(ms.filter(x => x <= cut)) }], {
    title: `Match latency CDF — ${r.scenario} (to the 99th percentile)`, xLabel: 'job offer created → deal countersigned (ms)', yLabel: 'fraction of matches'
  })
}

export function utilisationSvg (r: ScenarioResult): string {
  const series = (r.summary.series as { utilisation: Array<{ t: number, value: number }> }).utilisation
  const marks = (r.summary.partition as { events: Array<{ t: number, event: string }> } | undefined)?.events.map(e => ({ x: e.t / 60, label: e.event })) ?? []
  return lineChart([{ name: 'busy slots / slots of providers online', points: series.map(u => [u.t / 60, u.value]) }], {
    title: `Utilisation over time — ${r.scenario}`, xLabel: 'simulated minutes', yLabel: 'utilisation', marks
  })
}

export function cheaterProfitSvg (r: ScenarioResult): string | undefined {
  if (r.sweep === undefined || r.threshold === undefined || r.sweep.length === 0) return undefined
  const t = r.threshold
  return lineChart([
    { name: 'cheater, simulated', points: r.sweep.map(s => [s.p, s.cheaterProfitPerDealLP]) },
    { name: 'honest, simulated', points: r.sweep.map(s => [s.p, s.honestProfitPerDealLP]) },
    { name: 'cheater, expected', points: r.sweep.map(s => [s.p, s.expectedCheaterLP]), dashed: true },
    { name: 'honest, expected', points: r.sweep.map(s => [s.p, s.expectedHonestLP]), dashed: true }
  ], {
    title: 'Provider profit per deal against audit probability',
    xLabel: 'audit probability p',
    yLabel: 'profit per deal (LP)',
    marks: [{ x: t.pHonest, label: `p_honest=${t.pHonest.toFixed(3)}` }, { x: t.pLoss, label: `p_loss=${t.pLoss.toFixed(3)}` }],
    yZeroLine: true
  })
}

/** The rewards scenario's table: income by strategy, per machine and per unit of resource. */
function rewardsTable (r: ScenarioResult): string[] {
  return ((r.summary as Record<string, any>).rewards as RewardsScenarioResult[]).flatMap(x => [`## ${x.demand} real jobs per machine per epoch`, '', ...rewardsLevel(x), ''])
}

function rewardsLevel (x: RewardsScenarioResult): string[] {
  const lines = [`${x.epochs} epochs of ${x.rounds} canary rounds; roots ${x.roots.map(h => h.slice(0, 10)).join(', ')}; distributed ${x.totalsLP.join(' + ')} LP.`, '',
    '| strategy | machines | identities | canaries passed / failed (declined) | races (deferred) / retries | paid deals counted | slashed | rewards LP | payments LP | costs LP | income / machine / epoch LP | per 1,000 units LP | banned at end |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
  for (const s of x.strategies) lines.push(`| ${s.strategy} | ${s.machines} | ${s.identities} | ${s.canaries.passed} / ${s.canaries.failed} (${s.canaries.declined}) | ${s.canaries.racesTolerated} / ${s.canaries.retries} | ${s.paidDeals} | ${s.slashed} | ${s.rewardsLP} | ${s.paymentsLP} | ${s.costsLP} | ${s.incomePerMachineLP} | ${s.incomePerKiloUnitLP} | ${s.bannedAtEnd} |`)
  lines.push('', `Highest income per unit of resource: **${x.best}**${x.honestEarnsMost ? ' (honest work earns most)' : ' — honest work does NOT earn most'}.`)
  return lines
}

/** The collusion scenario's plots: the chance of a wrong verdict, and what a dispute costs, by committee size. */
export function collusionSvgs (r: ScenarioResult): Array<[string, string]> {
  const c = r.summary as unknown as CollusionResult
  const fractions = [...new Set(c.points.map(p => p.fraction))]
  const wrong = lineChart(fractions.map(f => ({ name: `${Math.round(f * 100)} % colluding`, points: c.points.filter(p => p.fraction === f).map(p => [p.size, p.wrongVerdict] as [number, number]) })), {
    title: `Wrong verdicts against committee size (${c.mediators} mediators, honest ones absent ${Math.round(c.absentRate * 100)} %)`,
    xLabel: 'committee size k', yLabel: 'fraction of disputes decided wrongly',
    marks: [{ x: c.recommendation.size, label: `default k=${c.recommendation.size}` }]
  })
  const none = c.points.filter(p => p.fraction === fractions[0])
  const cost = lineChart([
    { name: 'mediation fee (LP): one re-run per member', points: none.map(p => [p.size, p.feeLP] as [number, number]) },
    { name: 'transactions per dispute', points: none.map(p => [p.size, p.transactions] as [number, number]), dashed: true }
  ], { title: 'What a dispute costs against committee size', xLabel: 'committee size k', yLabel: 'LP / transactions' })
  return [['wrong-verdict.svg', wrong], ['dispute-cost.svg', cost]]
}

function collusionReport (r: ScenarioResult, files: string[]): string[] {
  const c = r.summary as unknown as CollusionResult
  const lines = ['# Lilypad simulation — collusion', '',
    `${c.mediators} mediators; every dispute judged by a committee under the committee rules (commit ${c.rules.commitWindow} s, reveal ${c.rules.revealWindow} s, bond ${c.rules.minBondLP} LP, slash ${c.rules.slashLP} LP); ` +
    `colluders all vote the wrong verdict; honest mediators re-run (${c.rules.execCostLP} LP) and vote right, absent in ${Math.round(c.absentRate * 100)} % of disputes; half the disputes are about a wrong result. Seed ${c.seed}.`, '',
    `**Default committee size: ${c.recommendation.size}.** ${c.recommendation.why}`, '',
    '| k | colluding | wrong verdicts (simulated) | exact | no quorum | fee LP | transactions | honest bonds lost LP/dispute | colluders\' gain LP/dispute |',
    '|---|---|---|---|---|---|---|---|---|']
  for (const p of c.points) lines.push(`| ${p.size} | ${Math.round(p.fraction * 100)} % (${p.colluders}) | ${p.wrongVerdict} | ${p.wrongVerdictExact} | ${p.noQuorum} | ${p.feeLP} | ${p.transactions} | ${p.honestSlashedLP} | ${p.colluderGainLP} |`)
  lines.push('', '## Files', '', ...files.map(f => `- ${f}`), '')
  return lines
}

/** One side of the disputes table: how a run's disputes were judged and what they cost. */
function disputeRow (name: string, d: Record<string, any>): string {
  const c = d.costPerDispute
  const b = d.slashedBonds
  return `| ${name} | ${d.ended} | ${d.wrongVerdicts} (${round(d.wrongVerdictRate * 100, 2)} %) | ${d.unjudged} (${d.wrongResultsStood} wrong) | ${b.count} (${b.LP} LP: ${b.ofHonest} honest, ${b.ofLiars} liars, ${b.ofAbsent} absent) | ${c.feeLP} | ${c.reruns} (${c.rerunCostLP} LP) | ${c.slashedLP} | ${c.transactions} | ${d.durationS.max} |`
}

/** The disputes of a market run (audits and challenges), judged by one mediator or by committees. */
function disputesSection (r: ScenarioResult): string[] {
  const d = (r.summary as Record<string, any>).disputes as Record<string, any> | undefined
  if (d === undefined || d.count === 0) return []
  const a = r.analysis as Record<string, any> | undefined
  const committees = a?.committeeSize !== undefined
  const lines = ['## Disputes', '', `Judged by ${String(d.judgedBy)}${d.rules !== undefined && d.rules.size > 1 ? ` (commit ${String(d.rules.commitWindow)} s, reveal ${String(d.rules.revealWindow)} s, bond ${String(d.rules.bondLP)} LP, minimum ${String(d.rules.minBondLP)} LP, slash ${String(d.rules.slashLP)} LP)` : ''}. ` +
    'A wrong verdict goes against the truth (a wrong result upheld, a good one refunded); an unjudged dispute let the result stand (no verdict in time, or no quorum). Cost per dispute: the fee paid for a verdict, the re-runs, the bonds slashed, the transactions of mediators and parties.', '',
    '| judged by | disputes | wrong verdicts | unjudged (of them wrong) | bonds slashed | fee LP | re-runs (cost) | slashed LP | transactions | longest (s) |',
    '|---|---|---|---|---|---|---|---|---|---|']
  if (committees) {
    lines.push(disputeRow(`committees of ${String(a?.committeeSize)}`, d))
    const one = (r.summary as Record<string, any>).committeeAnalysis?.oneMediator as Record<string, any> | undefined
    if (one !== undefined) lines.push(`| one mediator (same seed) | ${one.disputes} | ${one.wrongVerdicts} (${round(one.wrongVerdictRate * 100, 2)} %) | ${one.unjudged} (${one.wrongResultsStood} wrong) | ${one.slashedBonds.count} | ${one.costPerDispute.feeLP} | ${one.costPerDispute.reruns} (${one.costPerDispute.rerunCostLP} LP) | ${one.costPerDispute.slashedLP} | ${one.costPerDispute.transactions} | ${one.longestDisputeS} |`)
  } else {
    lines.push(disputeRow(d.committeeOutcomes !== undefined && Object.keys(d.committeeOutcomes).length > 0 ? 'committees' : 'one mediator', d))
  }
  const ms = d.mediators as Array<Record<string, any>>
  if (ms.some(m => m.kind !== 'honest' || m.slashes > 0)) {
    lines.push('', '| mediator | kind | slashed (LP) | top-ups | bond at end LP | token change LP |', '|---|---|---|---|---|---|')
    for (const m of ms) lines.push(`| ${String(m.address)} | ${String(m.kind)} | ${m.slashes} (${m.slashedLP}) | ${m.topUps} | ${m.bondLP} | ${m.tokenDeltaLP} |`)
  }
  lines.push('')
  return lines
}

export function reportMarkdown (r: ScenarioResult, files: string[]): string {
  const s = r.summary as Record<string, any>
  const lines: string[] = []
  if (r.scenario === 'collusion') return collusionReport(r, files).join('\n')
  if (r.scenario === 'rewards') {
    lines.push('# Lilypad simulation — rewards', '', ...rewardsTable(r), '', '## Files', '', ...files.map(f => `- ${f}`), '')
    return lines.join('\n')
  }
  lines.push(`# Lilypad simulation — ${r.scenario}`, '')
  lines.push(`${s.nodes} nodes (${Object.entries(s.roles).map(([k, v]) => `${String(v)} ${k}`).join(', ')}), seed ${s.seed}, ${s.simulatedHours} h of arrivals, matching: ${s.matching}.`, '')
  lines.push('| metric | value |', '|---|---|')
  lines.push(`| jobs submitted / completed / unmatched / failed | ${s.jobs.submitted} / ${s.jobs.completed} / ${s.jobs.unmatched} / ${s.jobs.failed} |`)
  lines.push(`| jobs re-matched | ${s.jobs.rematched} |`)
  lines.push(`| match latency p50 / p90 / p99 (ms) | ${s.matchLatencyMs.p50} / ${s.matchLatencyMs.p90} / ${s.matchLatencyMs.p99} |`)
  lines.push(`| utilisation (mean, target) | ${s.utilisation.mean} (${s.utilisation.target}) |`)
  lines.push(`| deal price p10 / p50 / p90 (LP) | ${s.pricesLP.p10} / ${s.pricesLP.p50} / ${s.pricesLP.p90} |`)
  lines.push(`| deal end states | ${Object.entries(s.deals.states).map(([k, v]) => `${k} ${String(v)}`).join(', ')} |`)
  lines.push(`| tokens conserved (checks) | ${String(s.tokens.conserved)} (${s.tokens.checks}) |`)
  lines.push(`| proposals / declines / negotiation timeouts | ${s.negotiation.proposals} / ${Object.values(s.negotiation.declines as Record<string, number>).reduce((a, b) => a + b, 0)} / ${s.negotiation.timeouts} |`)
  if (r.scenario === 'churn') lines.push(`| providers left / jobs interrupted / result timeouts refunded | ${s.churn.left} / ${s.churn.jobsInterrupted} / ${s.churn.timeoutsRefunded} |`)
  lines.push('')
  if (r.threshold !== undefined) {
    const t = r.threshold
    lines.push('## Audit threshold', '')
    lines.push(`Price P = ${t.inputs.priceLP} LP, collateral C = ${t.inputs.collateralLP} LP, mediation fee F = ${t.inputs.mediationFeeLP} LP, execution cost c = ${t.inputs.execCostLP} LP.`)
    lines.push(`From the Market's payouts the provider nets ${t.net.settled / 1e18} LP when settled, ${t.net.mediatedCorrect / 1e18} when mediated correct, ${t.net.mediatedWrong / 1e18} when mediated wrong.`, '')
    lines.push(`- cheating loses money above **p_loss = P/(P+C) = ${t.pLoss.toFixed(4)}**`)
    lines.push(`- cheating earns less than honest work above **p_honest = c/(P+C) = ${t.pHonest.toFixed(4)}** (MODiCuM's condition)`, '')
    lines.push(`Main run at p = ${(s.audits.auditPpm / 1e6)}: cheaters ${s.providers.cheaters.profitPerDealLP} LP/deal, honest ${s.providers.honest.profitPerDealLP} LP/deal, detection rate ${s.cheats.detectionRate}.`, '')
    if (r.sweep !== undefined && r.sweep.length > 0) {
      lines.push('| p | cheater LP/deal | honest LP/deal | expected cheater | expected honest | cheats | detected |', '|---|---|---|---|---|---|---|')
      for (const p of r.sweep) lines.push(`| ${p.p} | ${p.cheaterProfitPerDealLP} | ${p.honestProfitPerDealLP} | ${p.expectedCheaterLP} | ${p.expectedHonestLP} | ${p.cheats} | ${p.detected} |`)
      lines.push('')
    }
  }
  lines.push(...disputesSection(r))
  if (r.analysis !== undefined) {
    lines.push('## Analysis', '', '```json', toJson(r.analysis), '```', '')
  }
  lines.push('## Files', '', ...files.map(f => `- ${f}`), '')
  return lines.join('\n')
}

export async function writeOutputs (r: ScenarioResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const files: Array<[string, string]> = r.scenario === 'rewards'
    ? [['metrics.json', toJson(metricsOf(r)) + '\n']]
    : r.scenario === 'collusion'
      ? [['metrics.json', toJson(metricsOf(r)) + '\n'], ...collusionSvgs(r)]
      : [
        ['metrics.json', toJson(metricsOf(r)) + '\n'],
        ['match-latency-cdf.svg', latencyCdfSvg(r)],
        ['utilisation.svg', utilisationSvg(r)]
      ]
  const profit = cheaterProfitSvg(r)
  if (profit !== undefined) files.push(['cheater-profit.svg', profit])
  const names = [...files.map(f => f[0]), 'report.md']
  files.push(['report.md', reportMarkdown(r, names.filter(n => n !== 'report.md'))])
  for (const [name, body] of files) await writeFile(join(dir, name), body)
  return names
}

export function textSummary (r: ScenarioResult): string {
  const s = r.summary as Record<string, any>
  if (r.scenario === 'collusion') {
    const c = s as unknown as CollusionResult
    return [`scenario collusion: ${c.mediators} mediators, honest ones absent ${Math.round(c.absentRate * 100)} % of disputes, seed ${c.seed}`,
      ...c.points.map(p => `  k=${p.size}  ${String(Math.round(p.fraction * 100)).padStart(2)} % colluding  wrong ${(p.wrongVerdict * 100).toFixed(2).padStart(6)} % (exact ${(p.wrongVerdictExact * 100).toFixed(2)} %)  no quorum ${(p.noQuorum * 100).toFixed(2)} %  fee ${p.feeLP} LP  ${p.transactions} txs`),
      `  default committee size: ${c.recommendation.size}. ${c.recommendation.why}`].join('\n')
  }
  if (r.scenario === 'rewards') {
    return (s.rewards as RewardsScenarioResult[]).flatMap(x => [`scenario rewards: ${x.demand} real jobs per machine per epoch, ${x.epochs} epochs, ${x.rounds} canary rounds each, seed ${s.seed as number}`,
      ...x.strategies.map(t => `  ${t.strategy.padEnd(13)} ${String(t.identities).padStart(3)} ids  canaries ${t.canaries.passed}/${t.canaries.failed}${t.canaries.declined > 0 ? ` (${t.canaries.declined} declined)` : ''}${t.canaries.racesTolerated > 0 ? ` (${t.canaries.racesTolerated} races deferred, ${t.canaries.retries} retries sent)` : ''}  rewards ${t.rewardsLP} LP  payments ${t.paymentsLP} LP  costs ${t.costsLP} LP  → ${t.incomePerKiloUnitLP} LP per 1,000 units per epoch${t.bannedAtEnd > 0 ? `  (${t.bannedAtEnd} banned)` : ''}`),
      `  highest income per unit of resource: ${x.best}${x.honestEarnsMost ? ' (honest work earns most)' : ' — honest work does NOT earn most'}`]).join('\n')
  }
  const out = [
    `scenario ${r.scenario}: ${s.nodes} nodes, seed ${s.seed}, ${s.simulatedHours} h (${s.eventsProcessed} events)`,
    `  jobs: ${s.jobs.submitted} submitted, ${s.jobs.completed} completed, ${s.jobs.unmatched} unmatched, ${s.jobs.failed} failed, ${s.jobs.rematched} re-matched`,
    `  match latency: p50 ${s.matchLatencyMs.p50} ms, p90 ${s.matchLatencyMs.p90} ms, p99 ${s.matchLatencyMs.p99} ms`,
    `  utilisation: ${s.utilisation.mean} (target ${s.utilisation.target}); deal price p50 ${s.pricesLP.p50} LP`,
    `  deals: ${Object.entries(s.deals.states).map(([k, v]) => `${k} ${String(v)}`).join(', ')}; tokens conserved: ${String(s.tokens.conserved)}`
  ]
  if (r.threshold !== undefined) {
    out.push(`  audit threshold: cheating loses money for p > p_loss = P/(P+C) = ${r.threshold.pLoss.toFixed(4)}; earns less than honest work for p > p_honest = c/(P+C) = ${r.threshold.pHonest.toFixed(4)}`)
    out.push(`  at p = ${s.audits.auditPpm / 1e6}: cheater ${s.providers.cheaters.profitPerDealLP} LP/deal, honest ${s.providers.honest.profitPerDealLP} LP/deal, detection rate ${s.cheats.detectionRate}`)
    for (const p of r.sweep ?? []) out.push(`    p=${p.p.toFixed(3)}  cheater ${p.cheaterProfitPerDealLP.toFixed(3)}  honest ${p.honestProfitPerDealLP.toFixed(3)} LP/deal (expected ${p.expectedCheaterLP.toFixed(3)} / ${p.expectedHonestLP.toFixed(3)})`)
  }
  const d = s.disputes as Record<string, any> | undefined
  if (d !== undefined && d.count > 0) {
    out.push(`  disputes: ${d.ended} judged by ${String(d.judgedBy)}: ${d.wrongVerdicts} wrong verdicts (${round(d.wrongVerdictRate * 100, 2)} %), ${d.unjudged} unjudged (${d.wrongResultsStood} of them wrong results), ${d.slashedBonds.count} bonds slashed (${d.slashedBonds.LP} LP); per dispute: fee ${d.costPerDispute.feeLP} LP, ${d.costPerDispute.reruns} re-runs, ${d.costPerDispute.transactions} transactions`)
  }
  if (r.scenario === 'churn') out.push(`  churn: ${s.churn.left} departures, ${s.churn.jobsInterrupted} jobs interrupted, ${s.churn.timeoutsRefunded} result timeouts refunded`)
  const one = (r.analysis as Record<string, any> | undefined)?.oneMediator as Record<string, any> | undefined
  if (r.scenario === 'committees' && one !== undefined) {
    out.push(`  one mediator per dispute (same seed): ${one.disputes} disputes, ${one.wrongVerdicts} wrong verdicts (${round(one.wrongVerdictRate * 100, 2)} %), ${one.unjudged} unjudged (${one.wrongResultsStood} of them wrong results); per dispute: fee ${one.costPerDispute.feeLP} LP, ${one.costPerDispute.reruns} re-runs, ${one.costPerDispute.transactions} transactions`)
  } else if (r.analysis !== undefined) {
    out.push(`  analysis: ${JSON.stringify(r.analysis)}`)
  }
  return out.join('\n')
}
