// Faults against the real parts (one in-process devnet: anvil, libp2p, Docker, Helia), each ending with the money
// where it belongs:
// - the provider's RPC freezes for 65 s while it submits its result: it keeps trying and is paid;
// - a provider is restarted 15 s (of chain time) after agree with time left: the restarted node runs the job again;
// - a provider without deposit does not advertise; one whose deposit vanished has its agree revert, tells the job
//   creator, and the job creator moves on at once (not after its agree timeout);
// - the provider's own agree fails, then the job creator agrees the deal itself: the provider runs it and is paid;
// - `lilypad run --json` prints exactly one JSON document while its RPC drops requests now and then.
// Serial: the tests share the devnet's accounts and check exact ledger movements.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { AbiCoder, keccak256, parseEther, ZeroAddress, zeroPadValue } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, type Devnet } from '../node/devnet.ts'
import { LilypadNode, type ProviderSettings } from '../node/node.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { connectLilypadToken } from '../contracts/generated/index.ts'
import { RpcProxy } from '../node/testing/rpc-proxy.ts'
import { createHost, localMeshOptions } from '../node/host/index.ts'
import { DealNegotiator } from '../node/negotiation/negotiator.ts'
import { createLogger } from '../node/observability/logger.ts'
import { idOf, signMessage, type JobOffer } from '../protocols/eip712.ts'
import { defaultDealTerms } from '../protocols/negotiation/messages.ts'
import type { JobCreator } from '../node/roles/job-creator.ts'
import type { RpDealRecord } from '../node/roles/resource-provider.ts'

const execFileP = promisify(execFile)

let home: string
let devnet: Devnet
let admin: ChainClient
const nodes: LilypadNode[] = []
const proxies: RpcProxy[] = []

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-faults-'))
  devnet = await startDevnet({ home, port: 0, slots: 1, components: { logger: { level: 'warn' } } })
  admin = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
})

test.after.always(async () => {
  await stopNodes()
  for (const p of proxies) await p.stop()
  await admin?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

/** Gives anvil account `i` LP and deposits `deposit` of it into the Market. */
async function fund (i: number, deposit: bigint): Promise<ChainClient> {
  const c = await ChainClient.create({ network: devnet.network, privateKey: devKey(i) })
  const token = connectLilypadToken(devnet.network.contracts.token, admin.wallet)
  await admin.queue.send('fund', async () => await token.transfer.populateTransaction(c.address, parseEther('100')))
  if (deposit > 0n) await c.deposit(deposit)
  return c
}

/** Each test's nodes stop when it ends: two tests never run two nodes with one key. */
async function stopNodes (): Promise<void> {
  for (const n of nodes.splice(0).reverse()) await n.stop().catch(err => { console.error('node stop', err) })
}
test.afterEach.always(async () => { await stopNodes() })

async function providerNode (key: number, name: string, settings: ProviderSettings, extra: Partial<Parameters<typeof LilypadNode.create>[0]> = {}): Promise<LilypadNode> {
  const n = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(key), dataDir: join(home, name), roles: ['resource-provider'], local: true,
    provider: { slots: 1, price: DEVNET_PRICE, collateral: parseEther('2'), announceIntervalMs: 2000, ...settings },
    components: { logger: { level: (process.env.FAULTS_LOG ?? 'warn') as 'warn' } },
    ...extra
  })
  nodes.push(n)
  return n
}

async function jobCreator (key: number, name: string, settings: Parameters<LilypadNode['createJobCreator']>[0]['jobCreator'] = {}): Promise<{ node: LilypadNode, jc: JobCreator }> {
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(key), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') }, components: { logger: { level: 'warn' } } })
  nodes.push(node)
  return { node, jc: await node.createJobCreator({ network: devnet.network, dataDir: join(home, name), jobCreator: settings }) }
}

/**
 * Resolves when the bootstrap node's order book holds an offer of this provider node (bound to its peer id: an
 * earlier test's node with the same key may have left offers that have not expired yet).
 */
async function advertised (node: LilypadNode): Promise<void> {
  const provider = node.chain.address
  const peer = node.host.peerId.toString()
  const has = (): boolean => devnet.bootstrap.book.offers().some(o => o.offer.provider === provider && o.peer === peer)
  if (has()) return
  await new Promise<void>(resolve => { const off = devnet.bootstrap.gossip.onVerified(() => { if (has()) { off(); resolve() } }) })
}

/** Resolves once `book` holds a live offer of `provider` (it heard it through gossip or sync). */
async function knows (book: { offers: () => Array<{ offer: { provider: string } }> }, provider: string, gossip: { onVerified: (fn: () => void) => () => void }): Promise<void> {
  const has = (): boolean => book.offers().some(o => o.offer.provider === provider)
  if (has()) return
  await new Promise<void>(resolve => {
    const off = gossip.onVerified(() => { if (has()) { off(); clearInterval(timer); resolve() } })
    // synced offers enter the book without a gossip event: look again on a short interval as well
    const timer = setInterval(() => { if (has()) { off(); clearInterval(timer); resolve() } }, 100)
  })
}

/** Resolves with the provider's record of its first deal that satisfies `pred`. */
async function dealWhere (node: LilypadNode, pred: (r: RpDealRecord) => boolean): Promise<RpDealRecord> {
  return await new Promise(resolve => {
    const on = (r: RpDealRecord): void => { if (pred(r)) { node.provider!.off('deal', on); resolve(r) } }
    node.provider!.on('deal', on)
  })
}

async function retriesOf (node: LilypadNode, action: string): Promise<number> {
  const m = await node.components.metrics.actionRetries.get()
  return m.values.filter(v => v.labels.action === action).reduce((s, v) => s + v.value, 0)
}

test.serial('the provider\'s RPC freezes for 65 s while it submits: it keeps trying until the deadline and is paid', async t => {
  t.timeout(240_000)
  const proxy = await RpcProxy.start(devnet.anvil.rpcUrl)
  proxies.push(proxy)
  const rpClient = await fund(7, parseEther('20'))
  const rp = await providerNode(7, 'rp-frozen', {}, { network: { ...devnet.network, rpcUrl: proxy.url } })
  await advertised(rp)
  // a result window that outlasts the freeze: 60 s job timeout + 120 s
  const { jc } = await jobCreator(DEVNET_KEYS.user2, 'jc-frozen', { terms: { resultSlack: 120 } })
  const [jc0, rp0] = await Promise.all([admin.depositOf(jc.address), admin.depositOf(rp.chain.address)])
  let thawed: Promise<void> | undefined
  // frozen the moment the result exists, before its submission goes out
  rp.provider!.on('deal', r => {
    if (r.phase !== 'ran' || thawed !== undefined) return
    proxy.stall()
    thawed = new Promise(resolve => { setTimeout(() => { proxy.thaw(); resolve() }, 65_000) })
  })
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'frozen' }, target: rp.chain.address })
  await thawed
  t.is(out.exitCode, 0)
  t.is(out.retries.length, 0)
  t.true(proxy.counts.held > 0, 'requests were held by the frozen RPC')
  t.true(await retriesOf(rp, 'provider:submit') > 0, 'the submission was retried')
  t.is((await admin.dealRecord(out.dealId)).state, 'Settled')
  const [jc1, rp1] = await Promise.all([admin.depositOf(jc.address), admin.depositOf(rp.chain.address)])
  t.is(jc0 - jc1, DEVNET_PRICE, 'the job creator paid the price, its fee came back')
  t.is(rp1 - rp0, DEVNET_PRICE, 'the provider was paid, its collateral came back')
  await rpClient.stop()
})

test.serial('a provider restarted 15 s after agree with time left: the restarted node runs the job again and is paid', async t => {
  const rpClient = await fund(8, parseEther('20'))
  const dataDir = 'rp-restarted'
  let rp = await providerNode(8, dataDir, {})
  await advertised(rp)
  const { jc } = await jobCreator(DEVNET_KEYS.user2, 'jc-restart')
  const rp0 = await admin.depositOf(rp.chain.address)
  // stopped once the deal is agreed on chain and its container runs
  const first = rp
  let stopped: Promise<void> | undefined
  let agreed = false
  let running = false
  const maybeStop = (): void => {
    if (!agreed || !running || stopped !== undefined) return
    stopped = (async () => {
      await first.stop()
      // 15 s of chain time pass while it is down
      await admin.provider.send('evm_increaseTime', [15])
      await admin.provider.send('evm_mine', [])
      rp = await providerNode(8, dataDir, {})
    })()
  }
  first.provider!.on('deal', r => { if (r.agreedAt !== undefined) { agreed = true; maybeStop() } })
  first.provider!.on('job:start', () => { running = true; maybeStop() })
  // 90 s job timeout + the devnet's 10 s: after 15 s gone, the re-run has time even on a loaded machine
  const run = jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '2', Timeout: '90' }, target: first.chain.address })
  const out = await run
  await stopped
  t.is(out.exitCode, 0)
  t.is(out.retries.length, 0, 'the same provider delivered')
  const rec = await rp.provider!.deals.get(out.dealId)
  t.is(rec?.runs, 2, 'run before the restart, and once more by the restarted node')
  t.not(rp, first, 'a new node')
  t.is((await admin.dealRecord(out.dealId)).state, 'Settled')
  t.is((await admin.depositOf(rp.chain.address)) - rp0, DEVNET_PRICE, 'paid the price, collateral back')
  await rpClient.stop()
})

/** The Market's storage slot of `account`'s deposit (found by reading the chain, not assumed). */
async function depositSlot (account: string, known: bigint): Promise<string> {
  const coder = AbiCoder.defaultAbiCoder()
  for (let slot = 0; slot < 16; slot++) {
    const key = keccak256(coder.encode(['address', 'uint256'], [account, slot]))
    if (BigInt(await admin.provider.getStorage(devnet.network.contracts.market, key)) === known) return key
  }
  throw new Error('deposits mapping not found')
}

test.serial('a provider without deposit does not advertise; one whose deposit vanished reverts, tells the job creator, and the job moves on at once', async t => {
  const lines: string[] = []
  const logger = createLogger({ format: 'json', level: 'debug', destination: { write: (s: string) => { lines.push(s); if (process.env.FAULTS_DUMP !== undefined) process.stderr.write('C ' + s) } } })
  const rpClient = await fund(9, 0n)
  const cheap = parseEther('0.5')
  const rp = await providerNode(9, 'rp-no-deposit', { price: cheap, healthIntervalMs: 600_000 }, { components: { logger } })
  t.deepEqual(rp.provider!.liveOffers(BigInt(Math.floor(Date.now() / 1000))), [], 'no offers without a deposit')
  t.true(lines.some(l => l.includes('not advertising')), 'and the log says why')
  // a deposit for one collateral: the follower sees it, the provider advertises
  await rpClient.deposit(parseEther('2'))
  await advertised(rp)
  // the deposit disappears without the provider hearing of it (as if spent elsewhere in the same block)
  await admin.provider.send('anvil_setStorageAt', [devnet.network.contracts.market, await depositSlot(rp.chain.address, parseEther('2')), zeroPadValue('0x', 32)])
  // an agree timeout far away: only the provider's notice can make the job move on
  const { jc } = await jobCreator(DEVNET_KEYS.user2, 'jc-no-deposit', { agreeTimeoutMs: 600_000 })
  // the new job creator must know the victim's (cheapest) offer before it runs, or it may match the devnet's
  // provider first and never propose to the victim (sync and gossip bring the offers in either order)
  await knows(jc.book, rp.chain.address, jc.gossip)
  let revertedAt = 0
  let movedOnAt = 0
  rp.provider!.on('deal', r => { if (r.agreeFailed !== undefined && revertedAt === 0) revertedAt = performance.now() })
  const out = await jc.run({
    module: 'cowsay:v0.0.1', inputs: { Message: 'moved on' },
    onProgress: e => { if (e.type === 'lilypad:job:note' && e.detail.message.startsWith('retrying') && movedOnAt === 0) movedOnAt = performance.now() }
  })
  t.is(out.exitCode, 0)
  t.is(out.retries.length, 1)
  t.is(out.retries[0].provider, rp.chain.address)
  t.regex(out.retries[0].reason, /could not agree: InsufficientBalance/)
  t.not(out.deal.resourceProvider, rp.chain.address)
  t.true(revertedAt > 0 && movedOnAt >= revertedAt)
  t.log(`the job moved on ${Math.round(movedOnAt - revertedAt)} ms after the provider's agree reverted (agree timeout: 600 s)`)
  // the provider released its slot at once and stopped advertising once it re-read its deposit
  t.deepEqual(rp.provider!.capacity.freeSlots(), [0])
  t.deepEqual(rp.provider!.liveOffers(BigInt(Math.floor(Date.now() / 1000))), [])
  await rpClient.stop()
})

test.serial('the provider\'s own agree fails, then the job creator agrees the deal itself: the provider runs it and is paid', async t => {
  const proxy = await RpcProxy.start(devnet.anvil.rpcUrl)
  proxies.push(proxy)
  const rpClient = await fund(7, parseEther('20'))
  t.teardown(async () => { await rpClient.stop() })
  const rp = await providerNode(7, 'rp-late-agree', { lifecycle: { agreeWindowMs: 3000 } }, { network: { ...devnet.network, rpcUrl: proxy.url } })
  await advertised(rp)
  // a job creator by hand: its own host, the deal proposed straight to this provider
  const jcClient = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.user2) })
  const domain = jcClient.domain
  const host = await createHost({ networkId: devnet.network.networkId, domain, ...localMeshOptions })
  const negotiator = new DealNegotiator(host, { networkId: devnet.network.networkId, domain })
  await negotiator.start()
  t.teardown(async () => { await negotiator.stop(); await host.stop(); await jcClient.stop() })
  await host.dial(multiaddr(rp.host.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
  const now = BigInt(Math.floor(Date.now() / 1000))
  const job: JobOffer = {
    jobCreator: jcClient.address, module: 'cowsay:v0.0.1', inputs: JSON.stringify({ Message: 'agreed by the job creator' }), spec: { cpu: 500, ramMb: 64, diskMb: 10, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: DEVNET_PRICE, mediators: [...(devnet.network.mediators ?? [])], target: ZeroAddress, timeout: 30, auditPpm: 0, expiry: now + 600n, nonce: BigInt(Date.now()) * 1000n + 7n, seedCommit: '0x' + '00'.repeat(32)
  }
  const jobOffer = { kind: 'JobOffer' as const, value: job, signature: await signMessage('JobOffer', domain, job, jcClient.wallet) }
  // the offer as the mesh saw it, from this node (the provider's own list is empty while a health check of a loaded
  // engine is late)
  const live = devnet.bootstrap.book.offers().find(o => o.offer.provider === rp.chain.address && o.peer === rp.host.peerId.toString())!
  const candidate = { live: { ...live, peer: rp.host.peerId.toString() }, mediators: job.mediators, price: live.offer.price }
  // the provider's RPC takes no transactions while it tries to agree (reads pass: the job creator's deposit, which
  // the provider checks before it countersigns, is read)
  for (const m of ['eth_sendRawTransaction', 'eth_sendTransaction']) proxy.refuseMethods.add(m)
  const failed = dealWhere(rp, r => r.agreeFailed !== undefined && !r.holding)
  const agreed = await negotiator.propose(jobOffer, [candidate], jcClient.wallet, { terms: { ...defaultDealTerms, resultSlack: 30, judgeWindow: 30, mediationFee: parseEther('1') } })
  const rec = await failed
  t.regex(rec.agreeFailed ?? '', /deadline|Rpc|took longer/)
  t.deepEqual(rp.provider!.capacity.freeSlots(), [0], 'its slot was released at once')
  // the balances before anything is agreed: read while the provider's transactions are still refused, since its
  // lifecycle retries its agree as soon as they pass and may have it mined before a read after clear()
  const [jc0, rp0] = await Promise.all([admin.depositOf(jcClient.address), admin.depositOf(rp.chain.address)])
  // the RPC is back; the job creator agrees with both signatures
  proxy.refuseMethods.clear()
  const submitted = dealWhere(rp, r => r.dealId === agreed.dealId && r.phase === 'submitted')
  // the provider's lifecycle may retry its own agree once transactions pass again, and win the race: either way the
  // deal is agreed on chain with both signatures, and the provider must run it
  await jcClient.agree(agreed.deal, agreed.jobCreatorSignature, agreed.providerSignature).catch(async err => {
    if (!/NonceUsed/.test((err as Error).message) || (await admin.dealRecord(agreed.dealId)).state === 'None') throw err
  })
  const delivered = dealWhere(rp, r => r.dealId === agreed.dealId && r.delivered)
  const done = await submitted
  t.is(done.runs >= 1, true)
  t.is((await admin.dealRecord(agreed.dealId)).state, 'ResultSubmitted')
  // this job creator's host does not serve the result protocol: the provider gives up handing the result over at
  // the first refusal (the job creator reads the CID from chain) instead of dialling it until the deadline
  await delivered
  t.is(await retriesOf(rp, 'provider:deliver'), 0)
  await jcClient.accept([agreed.deal])
  const [jc1, rp1] = await Promise.all([admin.depositOf(jcClient.address), admin.depositOf(rp.chain.address)])
  t.is(jc0 - jc1, DEVNET_PRICE)
  t.is(rp1 - rp0, DEVNET_PRICE, 'paid the price, its collateral came back')
})

test.serial('lilypad run --json prints exactly one JSON document while the RPC drops requests now and then', async t => {
  t.timeout(240_000)
  const proxy = await RpcProxy.start(devnet.anvil.rpcUrl)
  proxies.push(proxy)
  proxy.failEvery = 5
  const { stdout } = await execFileP(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '-i', 'Message=flaky', '--json'], {
    env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '', WEB3_RPC_URL: proxy.url }, timeout: 200_000
  })
  t.true(proxy.counts.dropped > 0, `the proxy dropped ${proxy.counts.dropped} of ${proxy.counts.requests} requests`)
  const doc = JSON.parse(stdout) as { exitCode: number, dealId: string }
  t.is(doc.exitCode, 0)
  t.is(stdout.trimEnd().split('\n').length, 1, 'one line, one document')
})

test.serial('the devnet serves its metrics: the lifecycles\' deals and transitions, chain transactions, libp2p\'s own', async t => {
  const { serveMetrics } = await import('../node/observability/metrics.ts')
  const { jc } = await jobCreator(DEVNET_KEYS.user2, 'jc-metrics')
  await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'measured' }, target: devnet.provider.chain.address })
  const server = await serveMetrics(devnet.components.metrics, { port: 0 })
  t.teardown(async () => { await server.close() })
  const text = await (await fetch(server.url)).text()
  t.regex(text, /lilypad_deal_transitions_total\{role="provider",state="submitted"\} [1-9]/, "the devnet provider submitted results")
  t.regex(text, /lilypad_chain_transactions_total\{method="agree",outcome="mined"\} [1-9]/)
  t.regex(text, /lilypad_jobs_total\{status="ok"\} [1-9]/)
  t.regex(text, /lilypad_peers [1-9]/)
  t.regex(text, /^libp2p_/m, 'libp2p\'s metrics in the same registry')
})
