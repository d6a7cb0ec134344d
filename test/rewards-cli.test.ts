// `lilypad rewards` and `lilypad leaderboard` as a user runs them, against a real anvil with the contracts deployed:
// canary reports recorded from a file, the epoch's root computed from the chain, published by two publishers (one
// vetoing a root it cannot reproduce), made final, and claimed with a proof the contract verifies; the leaderboard
// showing a provider whose only record is a canary it passed.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Wallet, ZeroHash } from 'ethers'
import { startDevnet, agreeDeal, increaseTime, LP, type Devnet } from '../contracts/fixture.ts'
import { ChainClient, devKey, type ChainClient as Chain } from '../node/chain/index.ts'
import { RewardsClient } from '../node/incentives/rewards-client.ts'
import { signCanaryReport, canaryReportToJson, defaultRewardRules, CanaryOutcome, RewardsTree, type RewardRules } from '../protocols/incentives/index.ts'

const run = promisify(execFile)
const EPOCH = 3600
const WINDOW = 600
const DELAY = 600
const rules: RewardRules = { ...defaultRewardRules, epochBudget: LP(1000), canaryRewardPerUnit: LP(1), paidCapPerUnit: LP(10) }
const PUBLISHER_KEYS = [10, 11, 12].map(devKey)
const VALIDATOR = new Wallet(devKey(13))

let net: Devnet
let home: string
let networkFile: string
let genesis: number

test.before(async () => {
  net = await startDevnet({
    accounts: 14,
    rewards: {
      publishers: PUBLISHER_KEYS.map(k => new Wallet(k).address),
      validators: [VALIDATOR.address],
      rules,
      config: { epochLength: EPOCH, reportWindow: WINDOW, challengeDelay: DELAY, claimWindow: 7200, threshold: 2 },
      fund: LP(1000)
    }
  })
  home = await mkdtemp(join(tmpdir(), 'lilypad-rewards-cli-'))
  networkFile = join(home, 'testnet.json')
  await writeFile(networkFile, JSON.stringify({ ...net.deployment.network, rpcUrl: net.anvil.rpcUrl }, null, 2))
  genesis = net.deployment.network.rewards!.config.genesis
})
test.after.always(async () => {
  await net?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function cli (key: string | undefined, ...args: string[]): Promise<{ stdout: string, stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LILYPAD_HOME: home }
  if (key !== undefined) env.WEB3_PRIVATE_KEY = key
  else delete env.WEB3_PRIVATE_KEY
  return await run(process.execPath, ['cli/bin.ts', ...args, '--network', networkFile], { env })
}
async function cliJson<T> (key: string | undefined, ...args: string[]): Promise<T> {
  const { stdout } = await cli(key, ...args, '--json')
  return JSON.parse(stdout) as T
}
async function chainNow (): Promise<number> { return (await net.provider.getBlock('latest'))!.timestamp }
async function moveTo (t: number): Promise<void> { const now = await chainNow(); if (t > now) await increaseTime(net.provider, t - now) }

async function canaryJob (rp: Chain): Promise<string> {
  const c = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, rp)
  await rp.submitResult(c.deal, 'bafy-canary')
  await net.jc2.accept([c.deal])
  return c.id
}

test.serial('rewards end to end through the CLI: record, compute, leaderboard, publish (with a veto), finalize, claim', async t => {
  // epoch 0: rp does paid, audited work and passes a canary; rp2 has run nothing but a canary it passed; the
  // stranger's offer could not be reached
  // (the job creator pays another provider too, 2 × 10 LP: a job creator's deals count for a provider only up to
  // what it paid the others)
  await net.outsider.deposit(LP(100))
  for (const [price, provider] of [[LP(10), net.rp], [LP(20), net.rp], [LP(10), net.outsider], [LP(10), net.outsider]] as const) {
    const { deal, id } = await agreeDeal(net, { auditPpm: 10_000, price }, net.jc, provider)
    await provider.submitResult(deal, 'bafy-job')
    // the accept draws the audit: a miss settles, a hit sends the deal to mediation
    await net.jc.accept([deal])
    if ((await net.jc.dealRecord(id)).state === 'Challenged') await net.m1.mediate(deal, true).catch(async () => { await net.m2.mediate(deal, true) })
  }
  const domain = { chainId: BigInt(net.anvil.chainId), verifyingContract: net.deployment.contracts.rewards! }
  const observedAt = BigInt(await chainNow())
  const reports = [
    await signCanaryReport(domain, { epoch: 0n, provider: net.rp.address, dealId: await canaryJob(net.rp), outcome: CanaryOutcome.Passed, units: 2000, observedAt }, VALIDATOR),
    await signCanaryReport(domain, { epoch: 0n, provider: net.rp2.address, dealId: await canaryJob(net.rp2), outcome: CanaryOutcome.Passed, units: 2000, observedAt }, VALIDATOR),
    await signCanaryReport(domain, { epoch: 0n, provider: net.stranger.address, dealId: ZeroHash, outcome: CanaryOutcome.Unreachable, units: 2000, observedAt }, VALIDATOR)
  ]
  const file = join(home, 'reports.json')
  await writeFile(file, JSON.stringify(reports.map(canaryReportToJson)))

  await moveTo(genesis + EPOCH)
  const early = await t.throwsAsync(cli(undefined, 'rewards', 'compute', '--epoch', '0')) as Error & { code: number, stderr: string }
  t.is(early.code, 1)
  t.regex(early.stderr, /EpochNotClosedError: epoch 0 is not closed yet/)
  t.regex(early.stderr, /hint: wait \d+ s/)
  // anyone may record the validator's reports: here the stranger's key
  t.deepEqual((await cliJson<{ recorded: number }>(devKey(7), 'rewards', 'record', file)).recorded, 3)
  await moveTo(genesis + EPOCH + WINDOW)

  const computed = await cliJson<{ epoch: number, root: string, total: string, providers: Array<{ provider: string, amount: string, amountLP: string, noReward?: string }> }>(undefined, 'rewards', 'compute')
  t.is(computed.epoch, 0, 'the default epoch is the last closed one')
  const byAddr = new Map(computed.providers.map(p => [p.provider, p]))
  const rpAmount = BigInt(byAddr.get(net.rp.address.toLowerCase())!.amount)
  t.is(rpAmount, LP(2) + LP(4), 'a canary of 2 units at 1 LP each, and a fifth of 10 + 10 LP of paid work (the 20 LP deal counts at the 10 LP cap)')
  t.is(byAddr.get(net.rp2.address.toLowerCase())!.amountLP, '2')
  t.is(byAddr.get(net.stranger.address.toLowerCase())!.noReward, 'no-canary-pass')

  const board = await cliJson<{ providers: Array<{ provider: string, score: number, standing: string, settled: number, canaryPassed: number, canaryFailed: number, lastEpochRewardLP: string }> }>(undefined, 'leaderboard')
  const row = (a: string): (typeof board.providers)[number] => board.providers.find(p => p.provider === a.toLowerCase())!
  t.like(row(net.rp2.address), { settled: 0, canaryPassed: 1, score: 666_666, standing: 'ok', lastEpochRewardLP: '2' }, 'a provider that has run no job has a reputation from its canary')
  t.like(row(net.rp.address), { canaryPassed: 1, lastEpochRewardLP: '6' })
  t.like(row(net.stranger.address), { canaryFailed: 1, standing: 'demoted' })
  t.deepEqual(board.providers.map(p => p.score), [...board.providers.map(p => p.score)].sort((a, b) => b - a), 'best first')
  const human = await cli(undefined, 'leaderboard')
  t.regex(human.stdout, new RegExp(`${net.rp2.address.toLowerCase()}\\s+0\\.667\\s+ok`))

  // a rogue publisher proposes a root of its own; the honest publishers' publish vetoes it and proposes the real one
  const rogue = new RewardsClient(await ChainClient.create({ network: { ...net.deployment.network, rpcUrl: net.anvil.rpcUrl }, privateKey: PUBLISHER_KEYS[2] }), net.deployment.contracts.rewards)
  t.teardown(async () => { await rogue.chain.stop() })
  const theft = new RewardsTree(0, [{ account: rogue.chain.address, amount: LP(500) }])
  await rogue.proposeRoot(theft)
  const first = await cliJson<{ root: string, actions: string[] }>(PUBLISHER_KEYS[0], 'rewards', 'publish', '--epoch', '0')
  t.is(first.root, computed.root)
  t.is(first.actions.length, 2)
  t.regex(first.actions[1], new RegExp(`vetoed ${theft.root}`))
  await cliJson(PUBLISHER_KEYS[1], 'rewards', 'publish', '--epoch', '0')
  const again = await cliJson<{ actions: string[] }>(PUBLISHER_KEYS[1], 'rewards', 'publish', '--epoch', '0')
  t.deepEqual(again.actions, [], 'publishing twice does nothing more')
  const status = await cliJson<{ proposals: Array<{ root: string, approvals: number, vetoes: number, readyAt: number }>, final: unknown }>(undefined, 'rewards', 'status', '--epoch', '0')
  t.is(status.final, null)
  const honest = status.proposals.find(p => p.root === computed.root)!
  t.like(honest, { approvals: 2, vetoes: 0 })
  t.like(status.proposals.find(p => p.root === theft.root), { approvals: 1, vetoes: 2 })

  await moveTo(honest.readyAt)
  await cli(devKey(7), 'rewards', 'finalize', '--epoch', '0')
  const before = await net.rp.token.balanceOf(net.rp.address)
  const claimed = await cliJson<{ account: string, claimed: Array<{ epoch: number, amount: string }>, totalLP: string }>(devKey(3), 'rewards', 'claim')
  t.deepEqual(claimed.claimed.map(c => [c.epoch, BigInt(c.amount)]), [[0, rpAmount]])
  t.is(claimed.totalLP, '6')
  t.is(await net.rp.token.balanceOf(net.rp.address), before + rpAmount)
  // anyone may claim for a provider: the LP goes to the provider
  const forRp2 = await cliJson<{ claimed: Array<{ amount: string }> }>(devKey(7), 'rewards', 'claim', '--account', net.rp2.address)
  t.is(BigInt(forRp2.claimed[0].amount), LP(2))
  t.regex((await cli(devKey(3), 'rewards', 'claim')).stdout, /nothing to claim/)
  t.regex((await cli(undefined, 'rewards', 'compute', '--epoch', '0')).stdout, /the final root on chain is this one/)
})
