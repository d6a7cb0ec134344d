// Jobs at once with one key through the user's node (issue 12): a second provider joins the devnet (2 providers ×
// 2 slots), the user's node (job creation only, its local API) gets `jobs` cowsay jobs submitted at once through
// the SDK, and each job's submit → end time is taken from the node's job records. jobsPerMin counts from the first
// submit to the last end; success is the share that ended `done` with exit code 0.
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { LilypadNode } from '../node/node.ts'
import { DEVNET_KEYS, DEVNET_PRICE, DEVNET_COLLATERAL, type Devnet } from '../node/devnet.ts'
import { devKey } from '../node/chain/index.ts'
import { startUserNode, type UserNode } from '../node/api/user-node.ts'
import type { JobRecord } from '../node/jobs/index.ts'
import { Lilypad } from '../sdk/index.ts'
import { median, percentile, round } from './stats.ts'

/** what a nonce collision looks like from ethers, the node or the contract (the job offer's own nonce is no error) */
const NONCE_ERROR = /nonce too low|nonce has already been used|replacement (fee|transaction) too low|NonceUsed|NONCE_EXPIRED/i

export interface ThroughputResult {
  jobs: number
  done: number
  failed: Array<{ id: string, error: string }>
  jobsPerMin: number
  jobMs: { p50: number, p95: number }
  /** jobs whose events mention a nonce problem (must be 0) */
  nonceErrors: number
  /** deals per provider */
  perProvider: Record<string, number>
}

/** Starts the second provider (2 slots, same price as the devnet's) and returns it; the caller stops it. */
export async function secondProvider (devnet: Devnet, home: string): Promise<LilypadNode> {
  return await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp2'), roles: ['resource-provider'], local: true,
    components: { logger: { level: 'warn' } },
    provider: { slots: 2, price: DEVNET_PRICE, collateral: DEVNET_COLLATERAL, announceIntervalMs: 5000 }
  })
}

/** The user's node for `keyIndex` on the devnet, serving its API. */
export async function userNode (devnet: Devnet, home: string, keyIndex: number = DEVNET_KEYS.user): Promise<UserNode> {
  const key = devKey(keyIndex)
  return await startUserNode({
    home, network: devnet.network, networkPath: devnet.networkPath, privateKey: key, roles: [], local: true,
    dataDir: join(home, 'nodes', 'devnet', new Wallet(key).address.toLowerCase()),
    components: { logger: { level: 'warn' } },
    api: { port: 0 }
  })
}

/** Submits `jobs` jobs at once through `user`'s API and waits for all of them to end. */
export async function measureThroughput (user: UserNode, opts: { jobs?: number } = {}): Promise<ThroughputResult> {
  const n = opts.jobs ?? 30
  const service = user.node.jobs
  if (service === undefined || user.api === undefined || user.token === undefined) throw new Error('the user node runs no job API')
  const lp = await Lilypad.connect({ url: user.api.url, token: user.token })
  const t0 = Date.now()
  const ids = (await Promise.all(Array.from({ length: n }, async (_, i) => await lp.submit('cowsay:v0.0.1', { Message: `throughput ${i}` })))).map(j => j.id)
  const ended = await Promise.all(ids.map(async id => await new Promise<JobRecord>(resolve => {
    const check = (): boolean => { const j = service.get(id); if (j.terminal) { resolve(j); return true } return false }
    if (check()) return
    const on = (jobId: string): void => { if (jobId === id && check()) service.off('event', on) }
    service.on('event', on)
  })))
  const last = Math.max(...ended.map(j => j.updatedAt))
  const durations = ended.map(j => j.updatedAt - j.createdAt)
  const perProvider: Record<string, number> = {}
  for (const j of ended) {
    const dealId = j.outcome?.dealId
    if (dealId === undefined) continue
    const rec = await user.node.jobCreator?.deals.get(dealId)
    if (rec !== undefined) perProvider[rec.deal.resourceProvider] = (perProvider[rec.deal.resourceProvider] ?? 0) + 1
  }
  return {
    jobs: n,
    done: ended.filter(j => j.state === 'done' && j.outcome?.exitCode === 0).length,
    failed: ended.filter(j => j.state !== 'done').map(j => ({ id: j.id, error: `${j.error?.name ?? j.state}: ${j.error?.message ?? ''}` })),
    jobsPerMin: round(n / ((last - t0) / 60_000)),
    jobMs: { p50: round(median(durations)), p95: round(percentile(durations, 0.95)) },
    nonceErrors: ended.filter(j => j.events.some(e => NONCE_ERROR.test(JSON.stringify(e.data)))).length,
    perProvider
  }
}
