// One network settling on two chains (docs/multichain.md), against a two-chain devnet: two anvils with different chain
// ids, the contracts deployed and the parties funded on both, one provider serving both from one pool of 2 slots.
// Jobs on both chains at once settle each on its own chain with exact balances, never more than 2 running; a deal
// signed for one chain is refused on the other; one chain's RPC down does not stop jobs on the other. The user's node
// (its local API, the SDK, the CLI as its client) runs jobs and moves LP on the chain each call names; a disputed job
// on chain B is judged by the mediator on chain B, with exact balances there and none moved on chain A.
// Serial: the tests share the devnet's accounts and check exact ledger movements.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Wallet, ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_CHAIN_ID, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { chainsOf, chainView } from '../node/config/chains.ts'
import { chainNamespace } from '../node/chain-context.ts'
import type { ResourceProvider } from '../node/roles/resource-provider.ts'
import { recoverSigner, signMessage, type Deal } from '../protocols/eip712.ts'
import { connectExampleClient } from '../contracts/generated/index.ts'
import type { JobBridge } from '../node/roles/job-bridge.ts'
import { contractCowsay } from './support/bridge.ts'
import { disputeFinished } from './support/disputes.ts'
import { domainOfNetwork } from '../node/host/index.ts'
import { startUserNode } from '../node/api/user-node.ts'
import { Lilypad, LilypadError } from '../sdk/index.ts'
import type { Mediator } from '../node/roles/mediator.ts'

const A = DEVNET_CHAIN_ID
const B = DEVNET_CHAIN_ID + 1
let home: string
let devnet: Devnet
let jcNode: LilypadNode
const readers = new Map<number, ChainClient>()

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-multichain-'))
  devnet = await startDevnet({ home, port: 0, slots: 2, chains: 2, bridge: true })
  for (const c of chainsOf(devnet.network)) readers.set(c.chainId, await ChainClient.create({ network: c, privateKey: devKey(DEVNET_KEYS.admin) }))
  jcNode = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user), dataDir: join(home, 'jc'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
})

test.after.always(async () => {
  await jcNode?.stop()
  for (const r of readers.values()) await r.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

function reader (chainId: number): ChainClient {
  const r = readers.get(chainId)
  if (r === undefined) throw new Error(`no reader for chain ${chainId}`)
  return r
}

/** The devnet provider's role on each chain (one pool of slots). */
function providers (): ResourceProvider[] {
  const p = devnet.provider
  return [p.provider!, ...[...p.chainContexts.values()].map(c => c.provider!)]
}

const user = new Wallet(devKey(DEVNET_KEYS.user)).address

test.serial('the devnet: two anvils with their own chain ids and contracts; every node serves both chains', async t => {
  const chains = chainsOf(devnet.network)
  t.deepEqual(chains.map(c => c.chainId), [A, B])
  t.deepEqual(devnet.anvils.map(a => a.chainId), [A, B])
  t.not(chains[0].rpcUrl, chains[1].rpcUrl)
  t.deepEqual(chains.map(c => c.name), [`devnet-${A}`, `devnet-${B}`])
  for (const node of [devnet.bootstrap, devnet.provider, jcNode]) {
    t.deepEqual([...node.chainContexts.keys()], [B])
    t.is(node.chainContexts.get(B)?.network.networkId, chainNamespace(devnet.network, B))
    t.is(node.chainOf(B).network.chainId, B)
  }
  t.is(chainNamespace(devnet.network, A), 'devnet')
  t.is(chainNamespace(devnet.network, B), `devnet.${B}`)
  // one pool: both chains' providers hold the same slots
  const [pa, pb] = providers()
  t.is(pa.capacity, pb.capacity)
  t.is(pb.slotCount, 2)
  // each chain's follower reports its head: the first unlabelled (as on a one-chain node), the further one by chain id
  const text = await devnet.components.metrics.registry.metrics()
  t.regex(text, /^lilypad_chain_head_block \d+$/m)
  t.regex(text, new RegExp(`^lilypad_chain_head_block\\{chain="${B}"\\} \\d+$`, 'm'))
})

test.serial('jobs on both chains at once: each settles on its own chain with exact balances, and the 2 slots never run more than 2 jobs', async t => {
  const rp = devnet.provider.chain.address
  const before = await Promise.all([A, B].map(async id => ({ jc: await reader(id).depositOf(user), rp: await reader(id).depositOf(rp) })))
  // the pool's occupancy, from the providers' own job events on both chains
  let running = 0
  let maxRunning = 0
  const startedOn = new Map<number, number>()
  const offs: Array<() => void> = []
  for (const [i, p] of providers().entries()) {
    const chainId = i === 0 ? A : B
    const start = (): void => { running++; maxRunning = Math.max(maxRunning, running); startedOn.set(chainId, (startedOn.get(chainId) ?? 0) + 1) }
    const end = (): void => { running-- }
    p.on('job:start', start)
    p.on('job:end', end)
    offs.push(() => { p.off('job:start', start); p.off('job:end', end) })
  }
  t.teardown(() => { for (const off of offs) off() })
  const jcA = await jcNode.jobCreatorOn(A)
  const jcB = await jcNode.jobCreatorOn(B)
  const job = { module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '1', Timeout: '20' } }
  const outcomes = await Promise.all([jcA.run(job), jcB.run(job), jcA.run(job), jcB.run(job)])
  t.true(outcomes.every(o => o.exitCode === 0))
  t.true(maxRunning <= 2, `at most 2 jobs ran at once on the 2 slots (saw ${maxRunning})`)
  t.deepEqual([startedOn.get(A), startedOn.get(B)], [2, 2])
  const onA = [outcomes[0], outcomes[2]]
  const onB = [outcomes[1], outcomes[3]]
  for (const o of onA) {
    t.is((await reader(A).dealRecord(o.dealId)).state, 'Settled')
    t.is((await reader(B).dealRecord(o.dealId)).state, 'None', 'chain B never heard of chain A\'s deal')
  }
  for (const o of onB) {
    t.is((await reader(B).dealRecord(o.dealId)).state, 'Settled')
    t.is((await reader(A).dealRecord(o.dealId)).state, 'None')
  }
  const after = await Promise.all([A, B].map(async id => ({ jc: await reader(id).depositOf(user), rp: await reader(id).depositOf(rp) })))
  for (const i of [0, 1]) {
    t.is(before[i].jc - after[i].jc, 2n * DEVNET_PRICE, `chain ${[A, B][i]}: the job creator paid two prices there, its mediation fees came back`)
    t.is(after[i].rp - before[i].rp, 2n * DEVNET_PRICE, `chain ${[A, B][i]}: the provider earned two prices there, its collateral came back`)
  }
})

test.serial('a deal signed for one chain is refused on the other (real Markets, different chain ids)', async t => {
  // two parties no devnet node plays, funded and deposited on both chains
  const jcKey = devKey(DEVNET_KEYS.user2)
  const rpKey = devKey(DEVNET_KEYS.provider2)
  const jcWallet = new Wallet(jcKey)
  const rpWallet = new Wallet(rpKey)
  const netB = chainView(devnet.network, B)
  const rpOnB = await ChainClient.create({ network: netB, privateKey: rpKey })
  t.teardown(async () => { await rpOnB.stop() })
  const now = Math.floor(Date.now() / 1000)
  const deal: Deal = {
    jobOfferId: keccak256(toUtf8Bytes('multichain-replay')),
    resourceOfferId: ZeroHash,
    jobCreator: jcWallet.address,
    resourceProvider: rpWallet.address,
    mediators: devnet.network.mediators ?? [],
    price: DEVNET_PRICE,
    collateral: DEVNET_PRICE * 2n,
    mediationFee: DEVNET_PRICE,
    auditPpm: 0,
    resultTimeout: 60,
    judgeWindow: 30,
    mediateTimeout: 120,
    expiry: BigInt(now + 600),
    nonce: BigInt(now) * 1000n + 7n
  }
  const domainA = domainOfNetwork(devnet.network)
  const domainB = domainOfNetwork(netB)
  const sigA = await signMessage('Deal', domainA, deal, jcWallet)
  // off chain: under chain B's domain the signature names someone else
  t.not(recoverSigner('Deal', domainB, deal, sigA), jcWallet.address)
  t.is(recoverSigner('Deal', domainA, deal, sigA), jcWallet.address)
  // on chain B's Market: refused
  const err = await t.throwsAsync(rpOnB.agree(deal, sigA, '0x'))
  t.is(err?.name, 'ContractRevertError')
  t.is((err as Error & { reason: string }).reason, 'InvalidSignature')
  t.is((await rpOnB.dealRecord(rpOnB.dealId(deal))).state, 'None')
  // the same deal signed for chain B is agreed there (the refusal was the domain, nothing else)
  const sigB = await signMessage('Deal', domainB, deal, jcWallet)
  const { dealId } = await rpOnB.agree(deal, sigB, '0x')
  t.is((await rpOnB.dealRecord(dealId)).state, 'Agreed')
})

test.serial('one chain\'s RPC down (its anvil stopped) does not stop jobs on the other; back up, its jobs run again', async t => {
  const anvilB = devnet.anvils[1]
  const rp = devnet.provider.chain.address
  const before = { jc: await reader(A).depositOf(user), rp: await reader(A).depositOf(rp) }
  process.kill(anvilB.pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => { if (stopped) { process.kill(anvilB.pid, 'SIGCONT'); stopped = false } }
  t.teardown(resume)
  const jcA = await jcNode.jobCreatorOn(A)
  const outcome = await jcA.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'one chain down' } })
  t.is(outcome.exitCode, 0)
  t.is((await reader(A).dealRecord(outcome.dealId)).state, 'Settled')
  const after = { jc: await reader(A).depositOf(user), rp: await reader(A).depositOf(rp) }
  t.is(before.jc - after.jc, DEVNET_PRICE)
  t.is(after.rp - before.rp, DEVNET_PRICE)
  resume()
  const jcB = await jcNode.jobCreatorOn(B)
  const onB = await jcB.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'chain B is back' } })
  t.is(onB.exitCode, 0)
  t.is((await reader(B).dealRecord(onB.dealId)).state, 'Settled')
})

test.serial('a chain down when a node starts is joined once it is back, without a restart: the node\'s job creator runs a job on it', async t => {
  const anvilB = devnet.anvils[1]
  process.kill(anvilB.pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => { if (stopped) { process.kill(anvilB.pid, 'SIGCONT'); stopped = false } }
  t.teardown(resume)
  const late = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user2), dataDir: join(home, 'late'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  t.teardown(async () => { await late.stop() })
  t.deepEqual([...late.unavailableChains.keys()], [B], 'chain B left out at start')
  await t.throwsAsync(late.jobCreatorOn(B))
  resume()
  // the node tries again on its own (2 s, doubling)
  const joined = await late.chainJoined(B)
  t.is(joined.chainId, B)
  t.false(late.unavailableChains.has(B))
  const jcB = await late.jobCreatorOn(B)
  const payer = new Wallet(devKey(DEVNET_KEYS.user2)).address
  const before = await reader(B).depositOf(payer)
  const onB = await jcB.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'joined late' } })
  t.is(onB.exitCode, 0)
  t.is((await reader(B).dealRecord(onB.dealId)).state, 'Settled')
  t.is(before - await reader(B).depositOf(payer), DEVNET_PRICE)
})

test.serial('the first chain down when a node starts: the node starts, serves chain B (API and SDK), answers ChainUnavailableError for A, and joins A once it is back', async t => {
  const anvilA = devnet.anvils[0]
  process.kill(anvilA.pid, 'SIGSTOP')
  let stopped = true
  const resume = (): void => { if (stopped) { process.kill(anvilA.pid, 'SIGCONT'); stopped = false } }
  t.teardown(resume)
  const payer = new Wallet(devKey(DEVNET_KEYS.user2)).address
  const dataDir = join(home, 'nodes', 'first-down')
  const user = await startUserNode({ home, network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user2), dataDir, roles: [], local: true, components: { logger: { level: 'warn' } }, api: { port: 0 } })
  t.teardown(async () => { await user.stop() })
  const node = user.node
  t.deepEqual([...node.unavailableChains.keys()], [A], 'the first chain is not joined; the node started anyway')
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_chain_joined'), new RegExp(`lilypad_chain_joined\\{chain="${A}"\\} 0`))
  t.throws(() => node.chain, { name: 'ChainUnavailableError' })
  const lp = await Lilypad.connect({ dataDir })
  const chains = await lp.chains()
  t.deepEqual(chains.map(c => [c.chainId, c.served]), [[A, false], [B, true]])
  // the first chain (named, or by default) is a 503 ChainUnavailableError, before any job is made
  for (const opts of [{}, { chain: A }]) {
    const err = await t.throwsAsync(lp.submit('cowsay:v0.0.1', { Message: 'x' }, opts)) as LilypadError
    t.is(err.name, 'ChainUnavailableError')
    t.is(err.status, 503)
  }
  t.deepEqual(await lp.jobs(), [])

  // chain B is served meanwhile: a job there settles with exact deposits
  const rp = devnet.provider.address
  const beforeB = { jc: await reader(B).depositOf(payer), rp: await reader(B).depositOf(rp) }
  const onB = await lp.run('cowsay:v0.0.1', { Message: 'A is down' }, { chain: B })
  t.is(onB.exitCode, 0)
  t.is((await reader(B).dealRecord(onB.dealId)).state, 'Settled')
  t.is(beforeB.jc - await reader(B).depositOf(payer), DEVNET_PRICE)
  t.is(await reader(B).depositOf(rp) - beforeB.rp, DEVNET_PRICE)

  // chain A comes back: the node joins it on its own, and a job there settles with exact deposits
  resume()
  await node.firstChainJoined()
  t.false(node.unavailableChains.has(A))
  t.regex(await node.components.metrics.registry.getSingleMetricAsString('lilypad_chain_joined'), new RegExp(`lilypad_chain_joined\\{chain="${A}"\\} 1`))
  t.deepEqual((await lp.chains()).map(c => c.served), [true, true])
  const beforeA = { jc: await reader(A).depositOf(payer), rp: await reader(A).depositOf(rp) }
  const onA = await lp.run('cowsay:v0.0.1', { Message: 'A is back' })
  t.is(onA.exitCode, 0)
  t.is((await reader(A).dealRecord(onA.dealId)).state, 'Settled')
  t.is(beforeA.jc - await reader(A).depositOf(payer), DEVNET_PRICE)
  t.is(await reader(A).depositOf(rp) - beforeA.rp, DEVNET_PRICE)
})

const execFileP = promisify(execFile)
async function cli (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return await execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 90_000 })
}

test.serial('the CLI: "lilypad balance" shows each chain (--json: one document), "lilypad run --chain" settles on the chain named', async t => {
  const balances = async (): Promise<Array<{ chainId: number, name: string, deposit: { lp: string, wei: string } }>> => {
    const { stdout } = await cli('balance', '--json')
    const doc = JSON.parse(stdout) as { address: string, via: string, chains: Array<{ chainId: number, name: string, deposit: { lp: string, wei: string } }> }
    t.is(doc.address, user)
    t.is(doc.via, 'chain')
    return doc.chains
  }
  const before = await balances()
  t.deepEqual(before.map(c => [c.chainId, c.name]), [[A, `devnet-${A}`], [B, `devnet-${B}`]])
  for (const c of before) t.is(BigInt(c.deposit.wei), await reader(c.chainId).depositOf(user))
  const human = await cli('balance')
  t.regex(human.stdout, new RegExp(`chain    devnet-${B} \\(${B}\\)\\nwallet   [\\d.]+ LP\\ndeposit  [\\d.]+ LP`))

  const { stdout } = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=chain B', '--chain', `devnet-${B}`, '--json')
  const out = JSON.parse(stdout) as { dealId: string, exitCode: number }
  t.is(out.exitCode, 0)
  t.is((await reader(B).dealRecord(out.dealId)).state, 'Settled')
  t.is((await reader(A).dealRecord(out.dealId)).state, 'None')
  const after = await balances()
  t.is(BigInt(before[1].deposit.wei) - BigInt(after[1].deposit.wei), DEVNET_PRICE, 'paid on chain B')
  t.is(after[0].deposit.wei, before[0].deposit.wei, 'nothing moved on chain A')
  const one = JSON.parse((await cli('balance', '--chain', String(B), '--json')).stdout) as Record<string, unknown>
  t.deepEqual(Object.keys(one), ['address', 'wallet', 'deposit', 'locked', 'chainId', 'via'])
  t.like(one, { address: user, deposit: after[1].deposit, chainId: B, via: 'chain' })

  const err = await t.throwsAsync(cli('run', 'cowsay:v0.0.1', '--chain', 'nope')) as Error & { code: number, stderr: string }
  t.is(err.code, 2)
  t.regex(err.stderr, /the network "devnet" has no chain "nope" \(its chains: devnet-1337 \(1337\), devnet-1338 \(1338\)\)/)
  t.regex(err.stderr, /--chain takes a chain id or name/)
  t.notRegex(err.stderr, /at .*\.ts:\d+/)
})

test.serial('a contract on chain B: its job is run by the bridge on chain B, settled there, and its callback comes on chain B', async t => {
  const bridgeB = devnet.bridge!.chainBridges.get(B) as JobBridge
  t.truthy(bridgeB)
  const netB = chainView(devnet.network, B)
  const caller = await ChainClient.create({ network: netB, privateKey: devKey(DEVNET_KEYS.user2) })
  t.teardown(async () => { await caller.stop() })
  const client = connectExampleClient(netB.contracts.exampleClient as string, caller.wallet)
  const bridgeABefore = devnet.bridge!.bridge!.metrics.requested
  const rec = await contractCowsay(t, { client, caller, bridge: bridgeB, message: 'moo on chain B' })
  t.is((await reader(B).dealRecord(rec.dealId ?? '')).state !== 'None', true, 'the deal is on chain B')
  t.is((await reader(A).dealRecord(rec.dealId ?? '')).state, 'None', 'and not on chain A')
  t.is(devnet.bridge!.bridge!.metrics.requested, bridgeABefore, 'chain A\'s bridge never saw it')
})

test.serial('the user\'s node: its API and the SDK run jobs, list them and move LP on the chain each call names; an unknown chain is a named error listing the chains', async t => {
  const dataDir = join(home, 'nodes', 'devnet', user.toLowerCase())
  const node = await startUserNode({ home, network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user), dataDir, roles: [], local: true, components: { logger: { level: 'warn' } }, api: { port: 0 } })
  t.teardown(async () => { await node.stop() })
  const lp = await Lilypad.connect({ dataDir })
  const chains = await lp.chains()
  t.deepEqual(chains.map(c => [c.chainId, c.name, c.served]), [[A, `devnet-${A}`, true], [B, `devnet-${B}`, true]])
  t.is(chains[1].contracts?.market, chainView(devnet.network, B).contracts.market)

  // balances: each chain's, read by the node on that chain
  const all = await lp.balances()
  t.is(all.address, user)
  for (const c of all.chains) {
    t.false('error' in c)
    if (!('error' in c)) t.is(BigInt(c.deposit.wei), await reader(c.chainId).depositOf(user))
  }
  const onB = await lp.balance({ chain: `devnet-${B}` })
  t.is(onB.chainId, B)
  t.is(BigInt(onB.deposit.wei), await reader(B).depositOf(user))
  t.is((await lp.balance()).chainId, A, 'no chain named: the network\'s first')

  // an unknown chain, by name or by id: refused before any job exists, and the hint lists the chains
  for (const chain of ['nope', 4242]) {
    const err = await t.throwsAsync(lp.submit('cowsay:v0.0.1', { Message: 'x' }, { chain })) as LilypadError
    t.is(err.name, 'UnknownChainError')
    t.is(err.status, 400)
    t.regex(err.hint ?? '', new RegExp(`devnet-${A} \\(${A}\\), devnet-${B} \\(${B}\\)`))
  }
  for (const call of [async () => await lp.balance({ chain: 'nope' }), async () => await lp.deposit('1', { chain: 'nope' }), async () => await lp.jobs({ chain: 'nope' })]) {
    t.is((await t.throwsAsync(call()) as LilypadError).name, 'UnknownChainError')
  }
  t.is((await lp.jobs()).length, 0, 'no job was made by the refused calls')

  // one job on chain B (by name) and one on the first chain (named by none) at once, with the node's one key
  const rp = devnet.provider.chain.address
  const before = await Promise.all([A, B].map(async id => ({ jc: await reader(id).depositOf(user), rp: await reader(id).depositOf(rp) })))
  const [outB, outA] = await Promise.all([
    lp.run('cowsay:v0.0.1', { Message: 'API on chain B' }, { chain: `devnet-${B}` }),
    lp.run('cowsay:v0.0.1', { Message: 'API on the first chain' })
  ])
  t.is((await reader(B).dealRecord(outB.dealId)).state, 'Settled')
  t.is((await reader(A).dealRecord(outB.dealId)).state, 'None')
  t.is((await reader(A).dealRecord(outA.dealId)).state, 'Settled')
  t.is((await reader(B).dealRecord(outA.dealId)).state, 'None')
  t.regex(new TextDecoder().decode(await lp.get(outB.jobId, 'stdout')), /API on chain B/)
  const after = await Promise.all([A, B].map(async id => ({ jc: await reader(id).depositOf(user), rp: await reader(id).depositOf(rp) })))
  for (const i of [0, 1]) {
    t.is(before[i].jc - after[i].jc, DEVNET_PRICE, `chain ${[A, B][i]}: the job creator paid one price there`)
    t.is(after[i].rp - before[i].rp, DEVNET_PRICE, `chain ${[A, B][i]}: the provider earned one price there`)
  }
  // each job says which chain it settles on; the list filters by chain (id or name)
  const jobB = await lp.job(outB.jobId)
  t.is(jobB.chainId, B)
  t.is((jobB as unknown as { deal: { chainId: number } }).deal.chainId, B)
  t.is((await lp.job(outA.jobId)).chainId, A)
  t.deepEqual((await lp.jobs({ chain: B })).map(j => j.id), [outB.jobId])
  t.deepEqual((await lp.jobs({ chain: `devnet-${A}` })).map(j => j.id), [outA.jobId])
  // the network view of chain B: its head, its contracts, its gossip topics (under its own namespace); the peers are the host's
  const netView = await (await fetch(`${node.api!.url}/v1/network?chain=devnet-${B}`, { headers: { authorization: `Bearer ${node.token!}` } })).json() as { network: string, chain: { chainId: number, contracts: { market: string } }, mesh: { topics: Array<{ topic: string }> } }
  t.is(netView.network, 'devnet')
  t.is(netView.chain.chainId, B)
  t.is(netView.chain.contracts.market, chainView(devnet.network, B).contracts.market)
  t.true(netView.mesh.topics.length > 0 && netView.mesh.topics.every(x => x.topic.includes(`/devnet.${B}/`)), JSON.stringify(netView.mesh.topics))
  // each chain's order book, with that chain's reputation records
  for (const chain of [A, B]) {
    // the provider's offer on that chain may be between a job's booking of its slot and its next announcement (a
    // run of .ci/run read the book in that gap): then its next offer gossiped on that chain is waited for
    const inBook = async (): Promise<Awaited<ReturnType<typeof lp.providers>>[number] | undefined> => (await lp.providers({ chain })).find(p => p.address === rp)
    const gossip = chain === A ? node.node.gossip : node.node.chainContexts.get(chain)!.gossip
    let off = (): void => {}
    const announced = new Promise<void>(resolve => { off = gossip.onVerified(() => { void inBook().then(l => { if (l !== undefined) resolve() }) }) })
    let listed = await inBook()
    if (listed === undefined) { await announced; listed = await inBook() }
    off()
    t.truthy(listed, `the devnet's provider is in chain ${chain}'s book`)
    t.is(listed?.reputation?.standing, 'ok')
  }

  // deposit and withdraw on chain B through the node (its queue on B owns the key's nonce there); chain A untouched
  const b0 = await reader(B).depositOf(user)
  const a0 = await reader(A).depositOf(user)
  const dep = await lp.deposit('3', { chain: B })
  t.is(dep.chainId, B)
  t.is(await reader(B).depositOf(user) - b0, 3n * 10n ** 18n)
  t.is(BigInt(dep.deposit.wei), b0 + 3n * 10n ** 18n)
  const wd = await lp.withdraw('2.5', { chain: `devnet-${B}` })
  t.is(BigInt(wd.deposit.wei), b0 + 5n * 10n ** 17n)
  t.is(await reader(B).depositOf(user), b0 + 5n * 10n ** 17n)
  t.is(await reader(A).depositOf(user), a0, 'nothing moved on chain A')
  const tooMuch = await t.throwsAsync(lp.withdraw('1000000', { chain: B })) as LilypadError
  t.is(tooMuch.name, 'InsufficientDepositError')
  t.regex(tooMuch.message, new RegExp(`on chain ${B}`))
})

test.serial('the CLI with a node running for the key: "run --chain", "deposit/withdraw --chain" and "jobs --chain" go through the node, on the chain named', async t => {
  const dataDir = join(home, 'nodes', 'devnet', user.toLowerCase())
  const node = await startUserNode({ home, network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user), dataDir, roles: [], local: true, components: { logger: { level: 'warn' } }, api: { port: 0 } })
  t.teardown(async () => { await node.stop() })
  const b0 = await reader(B).depositOf(user)
  const a0 = await reader(A).depositOf(user)
  const ran = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=CLI through the node on B', '--chain', `devnet-${B}`, '--json')
  const out = JSON.parse(ran.stdout) as { dealId: string, exitCode: number }
  t.is(out.exitCode, 0)
  t.is((await reader(B).dealRecord(out.dealId)).state, 'Settled')
  t.is((await reader(A).dealRecord(out.dealId)).state, 'None')
  t.is(b0 - await reader(B).depositOf(user), DEVNET_PRICE, 'paid on chain B')
  t.is(await reader(A).depositOf(user), a0)
  // the node has the job, on chain B
  const listed = JSON.parse((await cli('jobs', '--chain', String(B), '--json')).stdout) as { jobs: Array<{ id: string, chainId: number, dealIds: string[] }> }
  t.true(listed.jobs.some(j => j.chainId === B && j.dealIds.includes(out.dealId)))
  t.true(listed.jobs.every(j => j.chainId === B))

  const b1 = await reader(B).depositOf(user)
  const dep = JSON.parse((await cli('deposit', '2', '--chain', `devnet-${B}`, '--json')).stdout) as { chainId: number, via: string, deposit: { wei: string } }
  t.like(dep, { chainId: B, via: 'node' })
  t.is(BigInt(dep.deposit.wei), b1 + 2n * 10n ** 18n)
  const wd = JSON.parse((await cli('withdraw', '2', '--chain', String(B), '--json')).stdout) as { chainId: number, via: string, deposit: { wei: string } }
  t.like(wd, { chainId: B, via: 'node' })
  t.is(await reader(B).depositOf(user), b1)
  t.is(await reader(A).depositOf(user), a0, 'nothing moved on chain A')
  const one = JSON.parse((await cli('balance', '--chain', String(B), '--json')).stdout) as Record<string, unknown>
  t.deepEqual(Object.keys(one), ['address', 'wallet', 'deposit', 'locked', 'chainId', 'via'])
  t.like(one, { chainId: B, via: 'node' })
  // every chain's balance, from the node (its locked LP are its open deals')
  const every = JSON.parse((await cli('balance', '--json')).stdout) as { address: string, via: string, chains: Array<{ chainId: number, deposit: { wei: string }, locked: { wei: string } }> }
  t.is(every.via, 'node')
  t.deepEqual(every.chains.map(c => c.chainId), [A, B])
  for (const c of every.chains) t.is(BigInt(c.deposit.wei), await reader(c.chainId).depositOf(user))
})

test.serial('a disputed job on chain B is judged by the mediator on chain B: exact balances there, nothing moved on chain A', async t => {
  // a provider that tampers with its results, serving both chains; the job creator asks for an audit on every deal
  const cheaterKey = devKey(DEVNET_KEYS.provider2)
  const cheater = new Wallet(cheaterKey).address
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: cheaterKey, dataDir: join(home, 'cheater'), roles: ['resource-provider'], local: true, host: { privateKey: await generateKeyPair('Ed25519') }, components: { logger: { level: 'warn' } }, provider: { fault: 'wrong-result', slots: 1 } })
  t.teardown(async () => { await node.stop() })
  const mediatorNode = devnet.mediator as LilypadNode
  const mediator = mediatorNode.chain.address
  const mB = mediatorNode.chainMediators.get(B) as Mediator
  t.truthy(mB, 'the devnet\'s mediator serves chain B')
  const parties = [user, cheater, mediator]
  const deposits = async (chainId: number): Promise<bigint[]> => await Promise.all(parties.map(async a => await reader(chainId).depositOf(a)))
  const [a0, b0] = [await deposits(A), await deposits(B)]
  const jcB = await jcNode.jobCreatorOn(B)
  const out = await jcB.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'judged on chain B' }, target: cheater, auditProbability: 1 })
  t.true(out.challenged)
  t.is(out.verdict, 'wrong')
  t.is((await reader(B).dealRecord(out.dealId)).state, 'MediatedWrong')
  t.is((await reader(A).dealRecord(out.dealId)).state, 'None', 'chain A never heard of it')
  const dispute = await disputeFinished(mB, out.dealId)
  t.is(dispute.resultCorrect, false)
  t.not(dispute.mediatorCid, out.resultCid)
  t.is(await mediatorNode.mediator?.records.get(out.dealId), undefined, 'chain A\'s mediator never had the case')
  const d = out.deal
  t.is(d.mediationFee, BigInt(devnet.network.dealTerms?.mediationFee ?? 0))
  const [jc1, rp1, m1] = await deposits(B)
  t.is(jc1 - b0[0], d.collateral - d.mediationFee, 'chain B: the job creator got its price back and the slashed collateral, less the fee')
  t.is(rp1 - b0[1], -d.collateral, 'chain B: the provider lost its collateral and got no payment')
  t.is(m1 - b0[2], d.mediationFee, 'chain B: the mediator was paid the fee')
  t.deepEqual(await deposits(A), a0, 'chain A: no party\'s deposit moved')

  // each chain's records are its own: a job creator on chain B that never dealt with the provider bans it by chain
  // B's record (one slash), while on chain A its record is clean
  const fresh = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user2), dataDir: join(home, 'fresh'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') }, components: { logger: { level: 'warn' } } })
  t.teardown(async () => { await fresh.stop() })
  const freshB = await fresh.jobCreatorOn(B)
  await fresh.createJobCreator({ network: devnet.network, dataDir: join(home, 'fresh') })
  const onB = fresh.chainContexts.get(B)?.reputation?.book
  t.is(onB?.record(cheater).slashed, 1)
  t.is(onB?.standing(cheater), 'banned')
  t.is(fresh.reputation?.book.record(cheater).slashed, 0)
  t.is(fresh.reputation?.book.standing(cheater), 'ok')
  const b1 = await reader(B).depositOf(new Wallet(devKey(DEVNET_KEYS.user2)).address)
  const refused = await t.throwsAsync(freshB.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'not for a banned provider' }, target: cheater }))
  t.is(refused?.name, 'NoMatchingProviderError')
  t.regex(refused?.message ?? '', new RegExp(`${cheater.toLowerCase()}: its record on chain`))
  t.is(await reader(B).depositOf(new Wallet(devKey(DEVNET_KEYS.user2)).address), b1, 'nothing spent')
})
