// `lilypad run cowsay` against a running devnet, as a user runs it: each run spawns the CLI, which starts an
// ephemeral job-creator node, and ends when the result is on disk and the deal accepted. totalMs is the CLI
// process's own clock at its JSON output (process start → result on disk → settled); overheadMs subtracts the
// container's own run time, which the devnet's provider reports for the same deal.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Devnet } from '../node/devnet.ts'
import { median, percentile, round } from './stats.ts'

const execFileP = promisify(execFile)
const CLI = fileURLToPath(new URL('../cli/bin.ts', import.meta.url))

export interface E2eBenchResult {
  runs: number
  totalMs: { p50: number, p95: number }
  /** command start → result on disk (before the early accept that settles the deal) */
  resultOnDiskMs: { p50: number }
  overheadMs: { p50: number }
  phasesMs: Record<string, { p50: number }>
  devnetReadyMs: number
  /** the same command while the user's node runs (`lilypad node --roles none`): the CLI submits through its API */
  viaNodeMs: { p50: number, p95: number }
  /**
   * What the flow `lilypad run` really performs costs on chain per job (issue 15's `happyCli`): every transaction
   * that emitted an event of the job's deal (the provider's agree and result, the job creator's accept, a batched
   * settle), a transaction carrying several deals shared evenly among them; `txs` the same by the deal event each
   * transaction emitted.
   */
  chain: { txsPerJob: number, gasPerJob: number, txs: Record<string, number> }
}

/** On-chain cost of the given deals: see E2eBenchResult.chain. */
async function chainCostOf (devnet: Devnet, dealIds: string[]): Promise<E2eBenchResult['chain']> {
  const chain = devnet.provider.chain
  const market = devnet.network.contracts.market.toLowerCase()
  let txs = 0
  let gas = 0
  const byEvent: Record<string, number> = {}
  const receipts = new Map<string, { gasUsed: bigint, deals: number }>()
  for (const id of dealIds) {
    const seen = new Set<string>()
    for (const e of await chain.follower.history(id)) {
      if (seen.has(e.txHash)) continue
      seen.add(e.txHash)
      let r = receipts.get(e.txHash)
      if (r === undefined) {
        const receipt = await chain.provider.getTransactionReceipt(e.txHash)
        if (receipt === null) throw new Error(`no receipt for ${e.txHash}`)
        // the deals this transaction carried: the first indexed topic of each Market event is its deal id
        const deals = new Set(receipt.logs.filter(l => l.address.toLowerCase() === market && l.topics[1] !== undefined).map(l => l.topics[1].toLowerCase()))
        r = { gasUsed: receipt.gasUsed, deals: Math.max(1, deals.size) }
        receipts.set(e.txHash, r)
      }
      txs += 1 / r.deals
      gas += Number(r.gasUsed) / r.deals
      byEvent[e.name] = (byEvent[e.name] ?? 0) + 1 / r.deals
    }
  }
  const n = Math.max(1, dealIds.length)
  return { txsPerJob: round(txs / n, 2), gasPerJob: Math.round(gas / n), txs: Object.fromEntries(Object.entries(byEvent).map(([k, v]) => [k, round(v / n, 2)])) }
}

export async function benchE2e (devnet: Devnet, home: string, opts: { runs?: number } = {}): Promise<E2eBenchResult> {
  const runs = opts.runs ?? 10
  const runMsByDeal = new Map<string, number>()
  const provider = devnet.provider.provider
  if (provider === undefined) throw new Error('the devnet started without a resource provider')
  const onEnd = (e: { dealId: string, runMs?: number }): void => { if (e.runMs !== undefined) runMsByDeal.set(e.dealId, e.runMs) }
  provider.on('job:end', onEnd)
  try {
    const env = { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data') }
    const totals: number[] = []
    const onDisk: number[] = []
    const overheads: number[] = []
    const phases: Record<string, number[]> = {}
    const dealIds: string[] = []
    // one warm-up run: first module resolution, compile cache, first connection
    for (let i = -1; i < runs; i++) {
      const { stdout } = await execFileP(process.execPath, [CLI, 'run', 'cowsay:v0.0.1', '-i', `Message=moo ${i}`, '--json'], { env })
      if (i < 0) continue
      const o = JSON.parse(stdout) as { dealId: string, totalMs: number, phasesMs: Record<string, number> }
      totals.push(o.totalMs)
      dealIds.push(o.dealId)
      onDisk.push(o.totalMs - (o.phasesMs.settled ?? 0))
      const runMs = runMsByDeal.get(o.dealId)
      if (runMs !== undefined) overheads.push(o.totalMs - runMs)
      for (const [k, v] of Object.entries(o.phasesMs)) (phases[k] ??= []).push(v)
    }
    // the fast path: the node that owns the key runs; each CLI process only submits and follows the job
    const { userNode } = await import('./throughput.ts')
    const user = await userNode(devnet, home)
    const viaNode: number[] = []
    try {
      for (let i = -1; i < runs; i++) {
        const { stdout } = await execFileP(process.execPath, [CLI, 'run', 'cowsay:v0.0.1', '-i', `Message=via node ${i}`, '--json'], { env })
        if (i >= 0) viaNode.push((JSON.parse(stdout) as { totalMs: number }).totalMs)
      }
    } finally {
      await user.stop()
    }
    return {
      runs,
      viaNodeMs: { p50: round(median(viaNode)), p95: round(percentile(viaNode, 0.95)) },
      totalMs: { p50: round(median(totals)), p95: round(percentile(totals, 0.95)) },
      resultOnDiskMs: { p50: round(median(onDisk)) },
      overheadMs: { p50: round(median(overheads)) },
      phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { p50: round(median(v)) }])),
      devnetReadyMs: Math.round(devnet.readyMs),
      chain: await chainCostOf(devnet, dealIds)
    }
  } finally {
    provider.off('job:end', onEnd)
  }
}
