// The whole loop against one in-process devnet (real anvil, libp2p, Docker, Helia): the CLI runs cowsay and the
// deal settles as priced; a failing container is reported promptly; two job creators and two providers run ten
// jobs at once without double-booking; a provider killed mid-job is timed out, refunded and replaced.
// Serial: the tests share the devnet's accounts and check exact ledger movements.
import test from 'ava'
import { waitFor } from '../node/testing/fixtures.ts'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { computeAddress, parseEther, keccak256, toUtf8Bytes, ZeroHash, ZeroAddress, Wallet } from 'ethers'
import { signMessage, idOf, type Deal, type JobOffer } from '../protocols/eip712.ts'
import { buildDeal, defaultDealTerms } from '../protocols/negotiation/messages.ts'
import type { RpDealRecord } from '../node/roles/resource-provider.ts'
import { DealStore } from '../node/deal-store/deal-store.ts'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_BOUNDS, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import type { JobCreator, JcDealRecord } from '../node/roles/job-creator.ts'
import { jobCreatorDeal } from '../core/lifecycle/job-creator.ts'
import { countersignedDeal } from '../core/lifecycle/provider.ts'

const execFileP = promisify(execFile)

// The cow from the seed's quick start (shared/seed): what `lilypad run cowsay:v0.0.1 -i Message="moo"` must print.
const SEED_COW = [
  ' _____',
  '< moo >',
  ' -----',
  '        \\   ^__^',
  '         \\  (oo)\\_______',
  '            (__)\\       )\\/\\',
  '                ||----w |',
  '                ||     ||',
  ''
].join('\n')

const VICTIM_COLLATERAL = parseEther('3')
let home: string
let devnet: Devnet
let reader: ChainClient
const extra: LilypadNode[] = []

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-e2e-'))
  devnet = await startDevnet({ home, port: 0, slots: 2 })
  reader = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
})

test.after.always(async () => {
  await reader?.stop()
  for (const n of extra) await n.stop().catch(() => {})
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

function cli (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 60_000 })
}

async function jobCreatorNode (keyIndex: number, name: string): Promise<{ node: LilypadNode, jc: JobCreator }> {
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(keyIndex), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  extra.push(node)
  const jc = await node.createJobCreator({ network: devnet.network, dataDir: join(home, name) })
  return { node, jc }
}

test.serial('1. lilypad run cowsay moo: the cow on disk, the deal settled, the ledger moved exactly as priced', async t => {
  const jcAddr = computeAddress(devKey(DEVNET_KEYS.user))
  const rpAddr = devnet.provider.chain.address
  const [jcBefore, rpBefore] = await Promise.all([reader.depositOf(jcAddr), reader.depositOf(rpAddr)])
  const { stdout } = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=moo', '--json')
  const out = JSON.parse(stdout) as { dealId: string, resultCid: string, path: string, exitCode: number, status: unknown, phasesMs: Record<string, number>, txs: Array<{ what: string, hash: string, gasUsed: string }> }
  t.deepEqual(Object.keys(out).filter(k => k !== 'totalMs').sort(), ['dealId', 'exitCode', 'path', 'phasesMs', 'resultCid', 'status', 'txs'])
  t.deepEqual(out.status, { status: 'ok' })
  t.regex(out.dealId, /^0x[0-9a-f]{64}$/)
  t.is(out.exitCode, 0)
  t.is(out.path, join(home, 'data', 'downloaded-files', out.resultCid))
  t.deepEqual(Object.keys(out.phasesMs), ['offered', 'matched', 'agreed', 'running', 'result', 'downloaded', 'settled'])
  t.deepEqual(out.txs.map(x => x.what).sort(), ['agree (provider)', 'submitAcceptedResult (provider)'], 'the two transactions of the happy path: the acceptance was signed off chain')
  t.true(out.txs.every(x => /^0x[0-9a-f]{64}$/.test(x.hash) && /^\d+$/.test(x.gasUsed) && BigInt(x.gasUsed) > 0n))
  t.is(await readFile(join(out.path, 'stdout'), 'utf8'), SEED_COW)
  t.is((await reader.dealRecord(out.dealId)).state, 'Settled')
  const [jcAfter, rpAfter] = await Promise.all([reader.depositOf(jcAddr), reader.depositOf(rpAddr)])
  t.is(jcBefore - jcAfter, DEVNET_PRICE, 'the job creator paid the price, its mediation fee came back')
  t.is(rpAfter - rpBefore, DEVNET_PRICE, 'the provider earned the price, its collateral came back')

  // the human form: phases on stderr, the cow itself on stdout
  const human = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=moo')
  t.is(human.stdout, SEED_COW)
  for (const label of ['offer sent', 'matched', 'agreed on chain', 'running', 'result', 'downloaded', 'settled']) t.true(human.stderr.includes(label), label)
  t.regex(human.stderr, /result: .*downloaded-files\/bafy/)
})

test.serial('5. a container that exits non-zero: exit code and stderr shown promptly, non-zero exit', async t => {
  const err = await t.throwsAsync(cli('run', 'stress:v0.1.0', '-i', 'Mode=exit', '-i', 'Arg=3')) as Error & { code: number, stdout: string, stderr: string }
  t.is(err.code, 1)
  t.regex(err.stderr, /the job exited with code 3/)
  t.regex(err.stderr, /stress: failing on purpose with 3/)
  t.regex(err.stdout, /stress: exiting with 3/)
  t.notRegex(err.stderr, /at .*\.ts:\d+/)
})

test.serial('5b. a job killed at its memory limit: the CLI names the cause and the limit, non-zero exit', async t => {
  // a job asks for the whole slot it is proposed to (protocols/slot-ask.ts), so its memory limit is its slot's: a
  // provider whose one slot has 32 MB (only this job fits it; the next test's provider replaces its offer)
  const small = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp-small'), roles: ['resource-provider'], local: true,
    provider: { slots: 1, machine: { ramMb: 32 }, announceIntervalMs: 5000 }
  })
  t.teardown(async () => { await small.stop() })
  const err = await t.throwsAsync(cli('run', 'stress:v0.1.0', '-i', 'Mode=oom', '-i', 'RamMb=16', '--target', small.chain.address)) as Error & { code: number, stdout: string, stderr: string }
  t.is(err.code, 1)
  t.regex(err.stderr, /error: the job was killed \(SIGKILL\) before it exited: most likely it ran out of memory \(limit 32 MB\)/)
  t.notRegex(err.stderr, /at .*\.ts:\d+/)
})

test.serial('6. two job creators and two providers run 10 jobs at once: all complete, no slot double-booked', async t => {
  const rp2 = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp2'), roles: ['resource-provider'], local: true,
    provider: { slots: 2, price: parseEther('0.5'), collateral: VICTIM_COLLATERAL, announceIntervalMs: 5000 }
  })
  extra.push(rp2)
  const providers = [devnet.provider.provider!, rp2.provider!]
  // every slot holds at most one deal at a time, checked on each start
  const holding = new Map<string, string>()
  let overlaps = 0
  for (const p of providers) {
    p.on('job:start', e => { const k = `${p.address}:${e.slot}`; if (holding.has(k)) overlaps++; holding.set(k, e.dealId) })
    p.on('job:end', e => { const k = `${p.address}:${e.slot}`; if (holding.get(k) === e.dealId) holding.delete(k) })
  }
  const a = await jobCreatorNode(DEVNET_KEYS.user, 'jc-a')
  const b = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-b')
  const jobs = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '1', Timeout: '20' } }))
  const outcomes = await Promise.all(jobs)
  t.is(outcomes.length, 10)
  t.true(outcomes.every(o => o.exitCode === 0))
  t.is(new Set(outcomes.map(o => o.dealId)).size, 10)
  // each job creator's nonces, drawn at once, are distinct and share the Market's nonce-bitmap word of the hour
  // (core/policy/nonce.ts: an agree on a word already in use costs ~17,000 gas less); two words only across an hour
  for (const jc of new Set(outcomes.map(o => o.deal.jobCreator))) {
    const nonces = outcomes.filter(o => o.deal.jobCreator === jc).map(o => o.deal.nonce)
    t.is(new Set(nonces).size, nonces.length)
    t.true(new Set(nonces.map(n => n >> 8n)).size <= 2, `words of ${jc}: ${nonces.map(n => n >> 8n).join(', ')}`)
  }
  t.is(overlaps, 0)
  for (const p of providers) t.true(p.maxRunning <= 2, `${p.address} ran ${p.maxRunning} at once`)
  t.true(providers.every(p => p.maxRunning >= 1), 'both providers took jobs')
  const states = await Promise.all(outcomes.map(async o => (await reader.dealRecord(o.dealId)).state))
  t.true(states.every(s => s === 'Settled'))
  // nothing of a finished job stays in memory once the job creator's lifecycle has settled (a 2-hour soak found one
  // entry of chain details kept per job): stopping awaits every facts read still in flight
  for (const x of [a, b]) {
    await x.node.stop()
    t.is((x.jc as unknown as { details: Map<string, unknown> }).details.size, 0, 'chain details of finished deals')
  }
})

test.serial('4. a provider killed mid-job: the deal times out, the job creator is refunded and the job succeeds on another provider', async t => {
  const victim = extra.find(n => n.provider !== undefined && n.chain.address === computeAddress(devKey(DEVNET_KEYS.provider2)))
  t.truthy(victim, 'test 6 started the second provider (the cheaper one, ranked first)')
  const { jc, node: jcNode } = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-c')
  // the victim's offers must be in this new node's book (synced or gossiped), or the job goes straight to the other
  const victimAddress = victim!.chain.address.toLowerCase()
  await waitFor(() => jcNode.book.offers().some(o => o.offer.provider.toLowerCase() === victimAddress), 60_000, 'the victim\'s offer at the new job creator')
  const before = await reader.depositOf(jc.address)
  // kill it once its deal is agreed on chain and its container runs
  let killed: Promise<void> | undefined
  let agreed = false
  let running = false
  const maybeKill = (): void => { if (agreed && running && killed === undefined) killed = victim!.stop() }
  victim!.provider!.on('deal', r => { if (r.agreedAt !== undefined) { agreed = true; maybeKill() } })
  victim!.provider!.on('job:start', () => { running = true; maybeKill() })
  const notes: string[] = []
  const t0 = Date.now()
  const outcome = await jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '2', Timeout: '4' }, onProgress: e => { if (e.type === 'lilypad:job:note') notes.push(e.detail.message) } })
  const elapsed = Date.now() - t0
  await killed
  t.log(outcome.retries.map(r => r.reason).join('; '), notes.join(' | '))
  t.is(outcome.retries.length, 1)
  const failed = outcome.retries[0]
  t.is(failed.provider, victim!.chain.address)
  t.is((await reader.dealRecord(failed.dealId!)).state, 'TimedOutResult')
  t.is(outcome.deal.resourceProvider, devnet.provider.chain.address)
  t.is(outcome.exitCode, 0)
  t.true(notes.some(n => /refund|timeoutResult/i.test(n)), notes.join(' | '))
  // refunded in full for the dead provider and compensated with its collateral; paid only the one that delivered
  t.is((await reader.depositOf(jc.address)) - before, VICTIM_COLLATERAL - DEVNET_PRICE)
  t.log(`killed provider detected, refunded and retried: ${elapsed} ms`)
})

test.serial('a job creator that was interrupted after agreement refunds the deal on its next start (resume)', async t => {
  // the state a Ctrl-C leaves: an agreed deal without result, recorded by the job creator
  const jcKey = devKey(DEVNET_KEYS.user2)
  const rpClient = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.provider2) })
  t.teardown(async () => { await rpClient.stop() })
  const jcAddress = computeAddress(jcKey)
  const deal: Deal = {
    jobOfferId: keccak256(toUtf8Bytes(`interrupted ${Date.now()}`)), resourceOfferId: ZeroHash, jobCreator: jcAddress, resourceProvider: rpClient.address,
    mediators: [...(devnet.network.mediators ?? [])], price: DEVNET_PRICE, collateral: parseEther('2'), mediationFee: parseEther('1'), auditPpm: 0,
    resultTimeout: DEVNET_BOUNDS.minResultTimeout, judgeWindow: 30, mediateTimeout: 60, expiry: BigInt(Math.floor(Date.now() / 1000) + 600), nonce: BigInt(Date.now()) * 1000n + 999n
  }
  const [jcSig, rpSig] = await Promise.all([signMessage('Deal', rpClient.domain, deal, new Wallet(jcKey)), signMessage('Deal', rpClient.domain, deal, rpClient.wallet)])
  const { dealId } = await rpClient.agree(deal, jcSig, rpSig)
  const dataDir = join(home, 'jc-resume')
  const store = new DealStore<JcDealRecord>(join(dataDir, 'jc-deals'))
  await store.put(jobCreatorDeal({ dealId, deal, job: { kind: 'JobOffer', value: {} as never, signature: '0x' }, providerPeer: '' }, Date.now()))
  const before = await reader.depositOf(jcAddress)
  const watcher = await reader.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  // the next job creator with this key resumes it
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: jcKey, dataDir, roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  extra.push(node)
  await node.createJobCreator({ network: devnet.network, dataDir })
  await watcher.waitFor('TimedOutResult', 40_000)
  t.is((await reader.depositOf(jcAddress)) - before, DEVNET_PRICE + parseEther('1') + parseEther('2'), 'price and fee back, plus the provider\'s collateral')
})

test.serial('a resource provider restarted with an accepted deal agrees, runs and submits it (resume)', async t => {
  const jcWallet = new Wallet(devKey(DEVNET_KEYS.user2))
  const rpWallet = new Wallet(devKey(DEVNET_KEYS.provider2))
  const domain = { chainId: BigInt(devnet.network.chainId), verifyingContract: devnet.network.contracts.market }
  const now = BigInt(Math.floor(Date.now() / 1000))
  const job: JobOffer = {
    jobCreator: jcWallet.address, module: 'cowsay:v0.0.1', inputs: JSON.stringify({ Message: 'resumed' }), spec: { cpu: 500, ramMb: 64, diskMb: 10, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: DEVNET_PRICE, mediators: [...(devnet.network.mediators ?? [])], target: ZeroAddress, timeout: 30, auditPpm: 0, expiry: now + 600n, nonce: BigInt(Date.now()) * 1000n + 998n, seedCommit: '0x' + '00'.repeat(32)
  }
  const jobEnv = { kind: 'JobOffer' as const, value: job, signature: await signMessage('JobOffer', domain, job, jcWallet) }
  const offer = { provider: rpWallet.address, slot: 0, spec: { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: DEVNET_PRICE, collateral: parseEther('2'), mediators: job.mediators, expiry: now + 600n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32) }
  const deal = buildDeal(job, idOf('JobOffer', domain, job), offer, idOf('ResourceOffer', domain, offer), job.mediators, { ...defaultDealTerms, resultSlack: 10, mediationFee: parseEther('1') }, now)
  const dealId = idOf('Deal', domain, deal)
  const [jcSig, rpSig] = await Promise.all([signMessage('Deal', domain, deal, jcWallet), signMessage('Deal', domain, deal, rpWallet)])
  // what a provider that crashed right after countersigning has on disk
  const dataDir = join(home, 'rp-resume')
  await new DealStore<RpDealRecord>(join(dataDir, 'rp-deals')).put(countersignedDeal({ dealId, deal, job: jobEnv, jobCreatorSignature: jcSig, providerSignature: rpSig, slot: 0 }, Date.now()))
  const watcher = await reader.watchDeal(dealId)
  t.teardown(async () => { await watcher.stop() })
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: rpWallet.privateKey, dataDir, roles: ['resource-provider'], local: true, provider: { slots: 1, price: DEVNET_PRICE } })
  extra.push(node)
  const view = await watcher.waitFor('ResultSubmitted', 30_000)
  t.regex(view.resultCid ?? '', /^bafy/)
})

// Last: it leaves the chain's clock two hours ahead of the nodes'.
test.serial('the chain\'s clock two hours ahead of the nodes\': the deal\'s expiry is set and checked by block time, the job completes', async t => {
  const { jc, node } = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-ahead')
  await reader.provider.send('evm_increaseTime', [7200])
  await reader.provider.send('evm_mine', [])
  const head = await reader.provider.getBlock('latest')
  // every node has read the block that moved the clock (a follower only learns the chain's time from blocks)
  const providers = [devnet.provider, ...extra].filter(n => n.provider !== undefined && n.host.status === 'started')
  await Promise.all([node, ...providers].map(async n => await n.chain.follower.caughtUp(head!.number)))
  const outcome = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'ahead' } })
  t.is(outcome.exitCode, 0)
  t.is(outcome.retries.length, 0, 'no deal failed on its expiry')
  const expiry = Number(outcome.deal.expiry)
  t.true(expiry > head!.timestamp, `the deal's expiry ${expiry} is after the block time ${head!.timestamp}, not the wall clock's ${Math.floor(Date.now() / 1000)}`)
  t.is((await reader.dealRecord(outcome.dealId)).state, 'Settled')
})
