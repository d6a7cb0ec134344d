// The developer package (contracts/package): a client written only against it compiles with one remapping,
// deploys next to the real contracts, pays its quote and gets its callback; the package's JSON ABIs are the
// generated ones; its sources import nothing outside it. (test/e2e-2-contract-job.test.ts runs the same client
// against a real bridge, provider and Docker.)
import test from 'ava'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Contract, ContractFactory } from 'ethers'
import { startDevnet, agreeJobDeal, type Devnet } from '../fixture.ts'
import { JobManagerAbi, LilypadTokenAbi } from '../generated/index.ts'
import { requestedJobId } from '../../node/chain/index.ts'
import { compileAgainstPackage } from '../../test/fixtures/package-client/compile.ts'

const packageDir = fileURLToPath(new URL('../package/', import.meta.url))
const fixture = fileURLToPath(new URL('../../test/fixtures/package-client/CowsayOracle.sol', import.meta.url))

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

test('the package is self-contained and ships the generated ABIs', t => {
  for (const f of readdirSync(packageDir).filter(f => f.endsWith('.sol'))) {
    for (const m of readFileSync(packageDir + f, 'utf8').matchAll(/import\s*\{[^}]*\}\s*from\s*"([^"]+)"/g)) {
      t.true(m[1].startsWith('./') && !m[1].includes('..'), `${f} imports ${m[1]}`)
    }
  }
  t.deepEqual(JSON.parse(readFileSync(packageDir + 'abi/JobManager.json', 'utf8')), JSON.parse(JSON.stringify(JobManagerAbi)))
  t.deepEqual(JSON.parse(readFileSync(packageDir + 'abi/LilypadToken.json', 'utf8')), JSON.parse(JSON.stringify(LilypadTokenAbi)))
  const iface = JSON.parse(readFileSync(packageDir + 'abi/IJobManager.json', 'utf8')) as Array<{ type: string, name?: string }>
  for (const fn of ['quote', 'runJob', 'cancelJob', 'disputeJob', 'retryCallback', 'resultOf', 'refundExpired', 'inputsJson']) {
    t.true(iface.some(i => i.type === 'function' && i.name === fn), fn)
  }
  t.regex(readFileSync(packageDir + 'remappings.txt', 'utf8'), /^lilypad-contracts\/=node_modules\/lilypad-contracts\/$/m)
})

test('a client written only against the package compiles, deploys, pays its quote and receives its callback', async t => {
  const { abi, bytecode } = compileAgainstPackage(fixture, 'CowsayOracle')
  const factory = new ContractFactory(abi as never, bytecode, net.admin.wallet)
  const deployed = await net.admin.queue.send('deploy CowsayOracle', async () => await factory.getDeployTransaction(net.deployment.contracts.jobManager))
  const oracle = new Contract(deployed.contractAddress!, abi as never, net.stranger.wallet)
  const quote = await net.stranger.quote('cowsay:v0.0.1', 500_000)
  await net.stranger.queue.send('approve', async () => await net.stranger.token.approve.populateTransaction(deployed.contractAddress!, quote))
  const before = await net.stranger.tokenBalance()
  const jobId = requestedJobId(await net.stranger.queue.send('ask', async () => await oracle.ask.populateTransaction('hello from a package client')))
  t.is(await net.stranger.tokenBalance(), before - quote, 'the asker paid exactly the quote')

  const { offer, deal } = await agreeJobDeal(net, { inputs: { Message: 'hello from a package client' }, cid: 'bafy-package' })
  const cow = new TextEncoder().encode('< hello from a package client >')
  await net.bridge.completeJob(jobId, offer, deal, 'bafy-package', 0, cow)
  const answer = await oracle.answers(jobId) as unknown as [string, string, bigint, boolean, string]
  t.is(answer[0], 'bafy-package')
  t.is(Buffer.from(answer[1].slice(2), 'hex').toString(), '< hello from a package client >')
  t.true(answer[3])
  t.is((await net.stranger.contractJob(jobId)).status, 'Delivered')
  // the only-JobManager check of the base contract
  await t.throwsAsync(net.stranger.queue.send('forge', async () => await oracle.lilypadJobFailed.populateTransaction(jobId, 'forged')), { message: /NotJobManager/ })
})
