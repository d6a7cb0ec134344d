import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { usageError, formatLP } from '../usage.ts'

const USAGE = 'lilypad leaderboard [--epochs K] [--network N] [--json]'

export const leaderboard: Command = {
  name: 'leaderboard',
  summary: 'Providers by reputation: deals, canaries passed and failed, last epoch\'s reward (in LP)',
  usage: USAGE,
  async run (argv) {
    let v
    try { v = parseArgs({ args: argv, options: { epochs: { type: 'string' }, network: { type: 'string', short: 'n' }, json: { type: 'boolean' } } }) } catch (err) { throw usageError((err as Error).message, USAGE) }
    let epochs = 7
    if (v.values.epochs !== undefined) {
      if (!/^\d{1,4}$/.test(v.values.epochs) || Number(v.values.epochs) < 1) throw usageError(`--epochs "${v.values.epochs}" must be a whole number from 1 to 9999`, USAGE)
      epochs = Number(v.values.epochs)
    }
    const { toUserError } = await import('../context.ts')
    const { loadNetwork } = await import('../../node/config/load.ts')
    const { openRewardsReader, leaderboard: board } = await import('../../node/incentives/compute.ts')
    try {
      const reader = await openRewardsReader((await loadNetwork(v.values.network)).network)
      try {
        const b = await board(reader, epochs)
        if (v.values.json === true) {
          console.log(JSON.stringify({
            fromEpoch: b.fromEpoch,
            lastClosedEpoch: b.lastClosedEpoch,
            providers: b.rows.map(r => ({ provider: r.provider, score: r.score, standing: r.standing, ...r.record, lastEpochReward: r.lastEpochReward.toString(), lastEpochRewardLP: formatLP(r.lastEpochReward), ...(r.noReward !== undefined ? { noReward: r.noReward } : {}) }))
          }, null, 2))
          return 0
        }
        console.log(`providers since epoch ${b.fromEpoch} (last closed epoch: ${b.lastClosedEpoch < 0 ? 'none yet' : b.lastClosedEpoch})`)
        console.log(`${'provider'.padEnd(42)} ${'score'.padStart(6)}  ${'standing'.padEnd(8)} ${'settled'.padStart(7)} ${'upheld'.padStart(6)} ${'slashed'.padStart(7)} ${'timeouts'.padStart(8)} ${'canaries'.padStart(11)}  last reward`)
        for (const r of b.rows) {
          const c = r.record
          console.log(`${r.provider.padEnd(42)} ${(r.score / 1e6).toFixed(3).padStart(6)}  ${r.standing.padEnd(8)} ${String(c.settled).padStart(7)} ${String(c.upheld).padStart(6)} ${String(c.slashed).padStart(7)} ${String(c.timedOut).padStart(8)} ${`${c.canaryPassed}✓ ${c.canaryFailed}✗`.padStart(11)}  ${formatLP(r.lastEpochReward, 6)} LP${r.noReward !== undefined ? ` (${r.noReward})` : ''}`)
        }
        if (b.rows.length === 0) console.log('(no provider has a deal or a canary report on chain yet)')
        return 0
      } finally {
        reader.stop()
      }
    } catch (err) {
      throw toUserError(err)
    }
  }
}
