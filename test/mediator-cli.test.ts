// Committees from the product, as an operator runs them against a real anvil: `lilypad network init --deploy
// --committee-size 3` deploys a Market with committee rules derived from the deal windows; a mediator gets LP from
// the faucet, deposits, and `lilypad mediator bond|unbond|withdraw-bond|status` move its bond, each refusal a named
// error with a hint and an exit code, each --json one document.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { JsonRpcProvider, Wallet, parseEther } from 'ethers'
import { startAnvil, devKey, type Anvil } from '../node/chain/index.ts'
import { ChainClient } from '../node/chain/index.ts'
import { defaultMarketBounds } from '../contracts/deploy.ts'
import { minUnbondDelay } from '../protocols/settlement/committee.ts'
import { parseNetworkFile } from '../node/config/load.ts'

const run = promisify(execFile)
const MEDIATORS = [3, 4, 5].map(i => new Wallet(devKey(i)).address)
const MEDIATOR_KEY = devKey(3)

let anvil: Anvil
let provider: JsonRpcProvider
let home: string
let networkFile: string

interface CliError extends Error { code: number, stdout: string, stderr: string }

async function cli (key: string | undefined, ...args: string[]): Promise<{ stdout: string, stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LILYPAD_HOME: home, DEPLOYER_KEY: devKey(0) }
  if (key !== undefined) env.WEB3_PRIVATE_KEY = key
  else delete env.WEB3_PRIVATE_KEY
  return await run(process.execPath, ['cli/bin.ts', ...args], { env })
}
async function failing (t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, key: string | undefined, ...args: string[]): Promise<CliError> {
  return await t.throwsAsync(cli(key, ...args)) as CliError
}
/** exactly one JSON document on stdout */
function one<T> (stdout: string): T {
  const lines = stdout.trim().split('\n')
  if (lines.length !== 1) throw new Error(`expected one line of JSON, got ${lines.length}: ${stdout}`)
  return JSON.parse(lines[0]) as T
}

interface Status {
  network: string
  address: string
  approvedMediator: boolean
  registeredMediator: boolean
  deposit: { lp: string, wei: string }
  bond: { lp: string, wei: string }
  unbonding: { lp: string, wei: string }
  unbondAt: string | null
  withdrawable: boolean
  eligible: boolean
  committeeRules: { size: number, commitWindowSec: number, revealWindowSec: number, unbondDelaySec: number, minBond: { lp: string }, slash: { lp: string } }
  action?: string
  amount?: { lp: string, wei: string }
}

test.before(async () => {
  anvil = await startAnvil({ accounts: 10 })
  provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 })
  home = await mkdtemp(join(tmpdir(), 'lilypad-mediator-cli-'))
  networkFile = join(home, 'networks', 'comm.json')
})
test.after.always(async () => {
  provider?.destroy()
  await anvil?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function chainNow (): Promise<number> { return (await provider.getBlock('latest'))!.timestamp }

test.serial('network init --deploy --committee-size 3: the Market judges by committees of three, the rules derived from the deal windows', async t => {
  // an unbond delay the Market would refuse is named with the least it accepts, before anything is deployed
  const short = await failing(t, undefined, 'network', 'init', 'comm', '--rpc', anvil.rpcUrl, '--deploy', '--key-env', 'DEPLOYER_KEY', '--committee-size', '3', '--unbond-delay', '7d', '--out', join(home, 'networks'))
  t.is(short.code, 2)
  t.regex(short.stderr, /error: committee rules: unbondDelay must be at least 1220400 s/)
  t.regex(short.stderr, /hint: leave --unbond-delay out \(it is then 15 d\), or give at least 1220400 \(14 d 3 h\)/)
  t.notRegex(short.stderr, /at .*\.ts:\d+/)

  const { stdout } = await cli(undefined, 'network', 'init', 'comm', '--rpc', anvil.rpcUrl, '--deploy', '--key-env', 'DEPLOYER_KEY', '--committee-size', '3', '--out', join(home, 'networks'), '--open', ...MEDIATORS.flatMap(m => ['--mediator', m]))
  t.regex(stdout, /mediation: committees of 3: commit window 1 h, reveal window 1 h, bond at least 100 LP, slash 10 LP, unbonding takes 15 d/)
  t.regex(stdout, /each runs "lilypad mediator bond <LP> --network comm"/)
  const net = parseNetworkFile(await readFile(networkFile, 'utf8'), networkFile)
  t.deepEqual(net.mediators, MEDIATORS)
  const chain = await ChainClient.create({ network: net, privateKey: devKey(9) })
  t.teardown(async () => { await chain.stop() })
  const rules = await chain.committeeRules()
  t.deepEqual(rules, { size: 3, commitWindow: 3600, revealWindow: 3600, unbondDelay: 15 * 86_400, minBond: parseEther('100'), slash: parseEther('10') })
  t.true(rules.unbondDelay >= minUnbondDelay(defaultMarketBounds, rules))
})

test.serial('a mediator bonds, unbonds, is told how long to wait, and withdraws its bond; every answer in LP, --json one document', async t => {
  await cli(MEDIATOR_KEY, 'faucet', '--network', networkFile)
  await cli(MEDIATOR_KEY, 'deposit', '500', '--network', networkFile)

  const fresh = one<Status>((await cli(MEDIATOR_KEY, 'mediator', 'status', '--network', networkFile, '--json')).stdout)
  t.like(fresh, { network: 'comm', address: MEDIATORS[0], approvedMediator: true, registeredMediator: false, bond: { lp: '0' }, unbonding: { lp: '0' }, unbondAt: null, eligible: false, deposit: { lp: '500' } })
  t.like(fresh.committeeRules, { size: 3, commitWindowSec: 3600, revealWindowSec: 3600, unbondDelaySec: 15 * 86_400, minBond: { lp: '100' }, slash: { lp: '10' } })

  const tooMuch = await failing(t, MEDIATOR_KEY, 'mediator', 'bond', '600', '--network', networkFile)
  t.is(tooMuch.code, 1)
  t.regex(tooMuch.stderr, /error: bonding 600 LP: the Market deposit of 0x[0-9a-fA-F]{40} holds 500 LP free/)
  t.regex(tooMuch.stderr, /hint: a bond comes from the Market deposit: "lilypad deposit 100" first/)
  const nothing = await failing(t, MEDIATOR_KEY, 'mediator', 'unbond', '--network', networkFile)
  t.is(nothing.code, 1)
  t.regex(nothing.stderr, /error: nothing is bonded for 0x/)
  t.regex(nothing.stderr, /hint: "lilypad mediator bond <LP>"/)

  const bonded = one<Status>((await cli(MEDIATOR_KEY, 'mediator', 'bond', '150.5', '--network', networkFile, '--json')).stdout)
  t.like(bonded, { action: 'bond', amount: { lp: '150.5', wei: parseEther('150.5').toString() }, bond: { lp: '150.5' }, deposit: { lp: '349.5' }, eligible: true })
  const human = await cli(MEDIATOR_KEY, 'mediator', 'status', '--network', networkFile)
  t.regex(human.stdout, /bond\s+150\.5 LP: enough to be named in committee deals \(at least 100 LP\)/)
  t.regex(human.stdout, /rules\s+committees of 3/)

  const unbonding = one<Status>((await cli(MEDIATOR_KEY, 'mediator', 'unbond', '50', '--network', networkFile, '--json')).stdout)
  const dueAt = Date.parse(unbonding.unbondAt!) / 1000
  t.like(unbonding, { action: 'unbond', amount: { lp: '50' }, bond: { lp: '100.5' }, unbonding: { lp: '50' }, withdrawable: false, eligible: true })
  t.true(Math.abs(dueAt - (await chainNow() + 15 * 86_400)) <= 2, 'withdrawable after the unbond delay, on the chain\'s clock')

  // a second unbond would restart the wait for what is already unbonding: refused unless asked for
  const twice = await failing(t, MEDIATOR_KEY, 'mediator', 'unbond', '--network', networkFile)
  t.is(twice.code, 1)
  t.regex(twice.stderr, /error: 50 LP is already unbonding \(withdrawable at .*, in 15 d\); unbonding more restarts that wait for all of it/)
  t.regex(twice.stderr, /hint: .*add --restart-wait/)
  const early = await failing(t, MEDIATOR_KEY, 'mediator', 'withdraw-bond', '--network', networkFile, '--json')
  t.is(early.code, 1)
  t.is(early.stdout, '', 'nothing on stdout when it fails')
  t.regex(early.stderr, /error: too early: 50 LP can be withdrawn at \d{4}-\d\d-\d\dT[\d:.]+Z, in (15 d|14 d 23 h)/)
  t.regex(early.stderr, /hint: the bond stays slashable for the unbond delay \(15 d\)/)
  t.notRegex(early.stderr, /at .*\.ts:\d+/)

  await provider.send('evm_increaseTime', [15 * 86_400 - 3600])
  await provider.send('evm_mine', [])
  const stillEarly = await failing(t, MEDIATOR_KEY, 'mediator', 'withdraw-bond', '--network', networkFile)
  t.regex(stillEarly.stderr, /error: too early: 50 LP can be withdrawn at .*, in (1 h|59 min \d+ s)/)
  await provider.send('evm_increaseTime', [3600])
  await provider.send('evm_mine', [])

  const withdrawn = one<Status>((await cli(MEDIATOR_KEY, 'mediator', 'withdraw-bond', '--network', networkFile, '--json')).stdout)
  t.like(withdrawn, { action: 'withdraw-bond', amount: { lp: '50' }, bond: { lp: '100.5' }, unbonding: { lp: '0' }, unbondAt: null, deposit: { lp: '399.5' } })
  const again = await failing(t, MEDIATOR_KEY, 'mediator', 'withdraw-bond', '--network', networkFile)
  t.is(again.code, 1)
  t.regex(again.stderr, /error: nothing is unbonding for 0x[0-9a-fA-F]{40} \(100\.5 LP is bonded\)/)
  t.regex(again.stderr, /hint: "lilypad mediator unbond" starts the withdrawal; the LP can be withdrawn 15 d later/)

  // all of the rest, then a second unbond: nothing left to unbond
  const all = one<Status>((await cli(MEDIATOR_KEY, 'mediator', 'unbond', '--network', networkFile, '--json')).stdout)
  t.like(all, { amount: { lp: '100.5' }, bond: { lp: '0' }, unbonding: { lp: '100.5' }, eligible: false })
  const empty = await failing(t, MEDIATOR_KEY, 'mediator', 'unbond', '--network', networkFile)
  t.regex(empty.stderr, /error: nothing is bonded for 0x[0-9a-fA-F]{40} \(100\.5 LP is already unbonding: withdrawable at/)
})

test.serial('a key the owner never approved is told so by status: deals cannot name it, bonded or not', async t => {
  const stranger = devKey(8)
  const s = one<Status>((await cli(stranger, 'mediator', 'status', '--network', networkFile, '--json')).stdout)
  t.like(s, { approvedMediator: false, registeredMediator: false, bond: { lp: '0' }, eligible: false })
  const human = await cli(stranger, 'mediator', 'status', '--network', networkFile)
  t.regex(human.stdout, /not approved as a mediator in the Directory/)
})
