// Job inputs end to end on one in-process devnet (real anvil, libp2p, Helia, Docker): `lilypad run
// --input-file` has the job creator's node serve a file that the provider fetches over bitswap and wordcount
// counts; a URL input from a provider whose policy allows the job creator's local server; a URL the provider's
// default policy refuses, which ends in a result naming the error (the provider is paid for it, the job creator
// pays only the price); an audited job whose input the mediator stages again and upholds.
// Serial: the tests share the devnet's accounts and check exact ledger movements.
import test from 'ava'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { computeAddress, parseEther } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_TERMS, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { ResultStore } from '../node/result-store/index.ts'
import type { JobCreator } from '../node/roles/job-creator.ts'

const execFileP = promisify(execFile)

let home: string
let devnet: Devnet
let reader: ChainClient
let server: http.Server
let base: string
let connections = 0
const extra: LilypadNode[] = []
/** a provider whose input policy allows the job creator's local server (the devnet's mediator's does not) */
let rp2: LilypadNode | undefined

const WORDS = 'one two three\nfour five six seven\n'
const POEM = 'so much depends\nupon\na red wheel\nbarrow\n'
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-inputs-e2e-'))
  devnet = await startDevnet({ home, port: 0, slots: 2 })
  reader = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
  server = http.createServer((_req, res) => { res.end(POEM) })
  server.on('connection', () => { connections++ })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.after.always(async () => {
  server?.closeAllConnections()
  server?.close()
  await reader?.stop()
  for (const n of extra) await n.stop().catch(() => {})
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

function cli (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 90_000 })
}

async function jobCreatorNode (keyIndex: number, name: string): Promise<JobCreator> {
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(keyIndex), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  extra.push(node)
  return await node.createJobCreator({ network: devnet.network, dataDir: join(home, name) })
}

test.serial('lilypad run --input-file: the provider fetches the file from the job creator\'s node, wordcount counts it, the deal settles as priced, the file is released', async t => {
  const file = join(home, 'words.txt')
  await writeFile(file, WORDS)
  const jcAddr = computeAddress(devKey(DEVNET_KEYS.user))
  const rpAddr = devnet.provider.chain.address
  const [jcBefore, rpBefore] = await Promise.all([reader.depositOf(jcAddr), reader.depositOf(rpAddr)])
  const { stdout } = await cli('run', 'wordcount:v0.1.0', '--input-file', `Data=${file}`, '--json')
  const out = JSON.parse(stdout) as { dealId: string, path: string, exitCode: number, inputFiles: Record<string, string> }
  t.is(out.exitCode, 0)
  t.regex(out.inputFiles.Data, /^bafk/)
  t.is(await readFile(join(out.path, 'outputs', 'counts.txt'), 'utf8'), 'text lines=0 words=0 bytes=0\ndata lines=2 words=7 bytes=34\n')
  t.is((await reader.dealRecord(out.dealId)).state, 'Settled')
  const [jcAfter, rpAfter] = await Promise.all([reader.depositOf(jcAddr), reader.depositOf(rpAddr)])
  t.is(jcBefore - jcAfter, DEVNET_PRICE)
  t.is(rpAfter - rpBefore, DEVNET_PRICE)
  // the provider keeps what it fetched for the next job that names it
  t.true((await devnet.provider.store.list()).some(r => r.kind === 'cached-input' && r.cid.toString() === out.inputFiles.Data))
  // the job creator's node released the file when the job ended: only the downloaded result stays pinned
  const jcStore = await ResultStore.create({ dataDir: join(home, 'data') })
  t.teardown(async () => { await jcStore.stop() })
  const pins = await jcStore.list()
  t.false(pins.some(r => r.kind === 'input'), JSON.stringify(pins.map(r => r.kind)))
  t.false(await jcStore.has(out.inputFiles.Data))
})

test.serial('a URL input, fetched by a provider whose policy allows the job creator\'s local server', async t => {
  rp2 = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp2'), roles: ['resource-provider'], local: true,
    inputPolicy: { allowAddresses: ['127.0.0.1/32'] },
    provider: { slots: 1, price: DEVNET_PRICE, collateral: parseEther('2'), announceIntervalMs: 2000 }
  })
  extra.push(rp2)
  const jc = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-url')
  const outcome = await jc.run({ module: 'wordcount:v0.1.0', inputs: { URL: `${base}/texts/poem.txt`, Checksum: `sha256:${sha(POEM)}` }, target: rp2.chain.address })
  t.is(outcome.deal.resourceProvider, rp2.chain.address)
  t.is(outcome.exitCode, 0)
  t.is(await readFile(join(outcome.path, 'outputs', 'counts.txt'), 'utf8'), 'text lines=0 words=0 bytes=0\nurl/poem.txt lines=4 words=8 bytes=40\n')
})

test.serial('a URL the provider refuses (its own loopback) ends in a result naming the error: the provider is paid, the job creator pays the price only', async t => {
  const jc = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-refused')
  const rpAddr = devnet.provider.chain.address
  const [jcBefore, rpBefore] = await Promise.all([reader.depositOf(jc.address), reader.depositOf(rpAddr)])
  const seen = connections
  const outcome = await jc.run({ module: 'wordcount:v0.1.0', inputs: { URL: `${base}/admin` }, target: rpAddr })
  t.is(outcome.exitCode, 125)
  t.regex(await readFile(join(outcome.path, 'stderr'), 'utf8'), /^lilypad: the job's inputs were not staged: InputAddressRefusedError: input 0 \(url http:\/\/127\.0\.0\.1:\d+\/admin at \/inputs\/url\): 127\.0\.0\.1 \(loopback, 127\.0\.0\.0\/8\) is an address this provider does not fetch from\nhint: /)
  t.is(connections, seen, 'the provider never connected to it')
  t.is((await reader.dealRecord(outcome.dealId)).state, 'Settled')
  const [jcAfter, rpAfter] = await Promise.all([reader.depositOf(jc.address), reader.depositOf(rpAddr)])
  t.is(jcBefore - jcAfter, DEVNET_PRICE)
  t.is(rpAfter - rpBefore, DEVNET_PRICE)
})

test.serial('an audited job with an input file: the mediator stages the same input, re-runs the job and upholds the result', async t => {
  const jc = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-audit')
  const file = join(home, 'audited.txt')
  await writeFile(file, WORDS)
  const outcome = await jc.run({ module: 'wordcount:v0.1.0', inputs: {}, inputFiles: { Data: file }, auditProbability: 1, target: devnet.provider.chain.address })
  t.true(outcome.challenged)
  t.is(outcome.verdict, 'correct')
  t.is(outcome.exitCode, 0)
  t.is(await readFile(join(outcome.path, 'outputs', 'counts.txt'), 'utf8'), 'text lines=0 words=0 bytes=0\ndata lines=2 words=7 bytes=34\n')
})

test.serial('an audited job whose URL both the provider and the mediator refuse: the mediator writes the same input-error result and upholds it', async t => {
  const jc = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-both-refuse')
  const outcome = await jc.run({ module: 'wordcount:v0.1.0', inputs: { URL: `${base}/admin` }, auditProbability: 1, target: devnet.provider.chain.address })
  t.true(outcome.challenged)
  t.is(outcome.verdict, 'correct')
  t.is(outcome.exitCode, 125)
  t.regex(await readFile(join(outcome.path, 'stderr'), 'utf8'), /^lilypad: the job's inputs were not staged: InputAddressRefusedError: /)
})

// last: it moves the chain's clock ahead of the wall clock, which the deals of later tests would be built on
test.serial('an audited job whose URL input the mediator may not fetch: it abstains, the mediation times out, the provider is paid', async t => {
  if (rp2 === undefined) { t.fail('needs the URL-input test\'s provider'); return }
  const provider = rp2
  const mediator = devnet.mediator?.mediator
  if (mediator === undefined) { t.fail('the devnet has no mediator'); return }
  const jc = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-abstain')
  const [jcBefore, rpBefore, medBefore] = await Promise.all([reader.depositOf(jc.address), reader.depositOf(provider.chain.address), reader.depositOf(mediator.address)])
  const abandoned = new Promise<{ dealId: string, reason: string }>(resolve => { mediator.on('abandoned', resolve) })
  let onDownloaded: () => void = () => {}
  const downloaded = new Promise<void>(resolve => { onDownloaded = resolve })
  const running = jc.run({
    module: 'wordcount:v0.1.0', inputs: { URL: `${base}/texts/poem.txt`, Checksum: `sha256:${sha(POEM)}` }, auditProbability: 1, target: provider.chain.address,
    onProgress: e => { if (e.type === 'lilypad:job:phase' && (e.detail as { phase: string }).phase === 'downloaded') onDownloaded() }
  })
  // the mediator's default policy refuses the loopback server the provider fetched from: it cannot judge
  const gaveUp = await abandoned
  // (the job creator's fetch deadline runs on chain time too: the jump below waits for its download)
  await Promise.race([downloaded, running])
  t.regex(gaveUp.reason, /InputsNotStagedError: the job's inputs could not be staged here \(InputAddressRefusedError: /)
  // the mediation window passes (chain time): the provider's lifecycle closes the deal
  await reader.provider.send('evm_increaseTime', [DEVNET_TERMS.mediateTimeout + 5])
  await reader.provider.send('evm_mine', [])
  const outcome = await running
  t.is(outcome.dealId, gaveUp.dealId)
  t.is(outcome.verdict, 'timed-out')
  t.is(outcome.exitCode, 0)
  t.is(await readFile(join(outcome.path, 'outputs', 'counts.txt'), 'utf8'), 'text lines=0 words=0 bytes=0\nurl/poem.txt lines=4 words=8 bytes=40\n')
  const [jcAfter, rpAfter, medAfter] = await Promise.all([reader.depositOf(jc.address), reader.depositOf(provider.chain.address), reader.depositOf(mediator.address)])
  t.is(jcBefore - jcAfter, DEVNET_PRICE, 'the job creator pays the price; its mediation fee comes back')
  t.is(rpAfter - rpBefore, DEVNET_PRICE, 'the provider is paid and keeps its collateral')
  t.is(medAfter, medBefore, 'the mediator that did not rule earns nothing')
})

