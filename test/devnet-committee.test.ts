// `lilypad devnet --mediators 3 --committee-size 3`, in process: three mediator nodes, each approved, registered and
// bonded, and a Market that judges by committees of three. A job run through the CLI with audits certain is
// re-run by all three, who commit, reveal and finalize: the committee's verdict settles the deal and its members
// share the fee. (test/e2e-committee.test.ts covers liars, absentees and cases nobody hands over.)
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startDevnet, DEVNET_TERMS, DEVNET_MEDIATOR_KEYS, type Devnet } from '../node/devnet.ts'
import { devKey } from '../node/chain/index.ts'

const execFileP = promisify(execFile)
let home: string
let devnet: Devnet

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-devnet-committee-'))
  devnet = await startDevnet({ home, port: 0, slots: 2, mediators: 3, committee: { size: 3 }, components: { logger: { level: 'warn' } } })
})

test.after.always(async () => {
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function cli (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return await execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 120_000 })
}

test.serial('the devnet names three mediators, each running and bonded, and its Market judges by committees of three', async t => {
  t.is(devnet.mediators.length, 3)
  t.deepEqual(devnet.network.mediators, devnet.mediators.map(m => m.chain.address))
  const chain = devnet.provider.chain
  const rules = await chain.committeeRules()
  t.like(rules, { size: 3, commitWindow: DEVNET_TERMS.mediateTimeout, revealWindow: DEVNET_TERMS.mediateTimeout })
  for (const m of devnet.mediators) t.is((await chain.mediatorBond(m.chain.address)).amount, rules.minBond * 5n)
  // what its operator sees
  const { stdout } = await execFileP(process.execPath, ['cli/bin.ts', 'mediator', 'status', '--json'], { env: { ...process.env, LILYPAD_HOME: home, WEB3_PRIVATE_KEY: devKey(DEVNET_MEDIATOR_KEYS[2]) } })
  t.like(JSON.parse(stdout), { network: 'devnet', address: devnet.mediators[2].chain.address, approvedMediator: true, registeredMediator: true, bond: { lp: '500' }, eligible: true, committeeRules: { size: 3 } })
})

test.serial('a job audited for certain: the committee of three re-runs it, votes, and its verdict settles the deal; the members share the fee', async t => {
  const chain = devnet.provider.chain
  const members = devnet.mediators.map(m => m.chain.address)
  const before = await Promise.all(members.map(async a => await chain.depositOf(a)))
  const bondsBefore = await Promise.all(members.map(async a => (await chain.mediatorBond(a)).amount))
  const { stdout } = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=judged by three', '--audit', '1', '--json')
  const out = JSON.parse(stdout) as { dealId: string, exitCode: number }
  t.is(out.exitCode, 0)
  t.is((await chain.dealRecord(out.dealId)).state, 'MediatedCorrect', 'the committee upheld the honest result')
  const after = await Promise.all(members.map(async a => await chain.depositOf(a)))
  const gained = after.map((x, i) => x - before[i])
  const fee = BigInt(DEVNET_TERMS.mediationFee)
  t.is(gained.reduce((a, b) => a + b, 0n), fee, 'the fee went to the committee')
  for (const g of gained) t.true(g >= fee / 3n, 'split over all three: each voted with the majority')
  t.deepEqual(await Promise.all(members.map(async a => (await chain.mediatorBond(a)).amount)), bondsBefore, 'nobody slashed')
})

test.serial('a listed mediator takes its bond back: the job creator leaves it out of its deals instead of every agree failing with MediatorUnbonded', async t => {
  const chain = devnet.provider.chain
  const leaving = devnet.mediators[2].chain.address
  await execFileP(process.execPath, ['cli/bin.ts', 'mediator', 'unbond', '--json'], { env: { ...process.env, LILYPAD_HOME: home, WEB3_PRIVATE_KEY: devKey(DEVNET_MEDIATOR_KEYS[2]) } })
  t.is((await chain.mediatorBond(leaving)).amount, 0n)
  const { stdout } = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=two left', '--audit', '1', '--json')
  const out = JSON.parse(stdout) as { dealId: string, exitCode: number }
  t.is(out.exitCode, 0)
  const terms = await chain.dealTermsFromAgree(out.dealId)
  t.deepEqual(terms?.mediators, devnet.mediators.slice(0, 2).map(m => m.chain.address), 'the deal names the two bonded ones')
  // two mediators named: one of them is drawn and judges alone
  t.is((await chain.dealRecord(out.dealId)).state, 'MediatedCorrect')
})
