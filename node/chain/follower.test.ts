// The chain follower against a real anvil with the contracts: typed events by deal, by event and by argument,
// delivered once; confirmations; a reorg (anvil's snapshot and revert replace blocks) detected and the replaced
// range read again; a cursor resumed after a restart; an RPC that fails now and then (a real proxy) costs nothing
// but retries, and nothing is printed on stdout.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevnet, agreeDeal, type Devnet } from '../../contracts/fixture.ts'
import { ChainFollower, type ChainEvent } from './follower.ts'
import { RetryingProvider } from './rpc.ts'
import { quietComponents } from '../components.ts'
import { RpcProxy } from '../testing/rpc-proxy.ts'

let net: Devnet
let tmp: string

test.before(async () => {
  net = await startDevnet()
  tmp = await mkdtemp(join(tmpdir(), 'lilypad-follower-'))
})

test.after.always(async () => {
  await net?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

function follower (over: Partial<ConstructorParameters<typeof ChainFollower>[1]> = {}, url = net.anvil.rpcUrl): { f: ChainFollower, source: RetryingProvider } {
  const source = new RetryingProvider(url, net.anvil.chainId, { attempts: 2, timeoutMs: 2000 }, 100)
  const c = net.deployment.network.contracts
  const f = new ChainFollower(quietComponents(), { source, contracts: { market: c.market, jobManager: c.jobManager }, deployBlock: net.deployment.network.deployBlock, pollMs: 50, ...over })
  return { f, source }
}

/** Resolves with the first event `pick` accepts. */
function next (f: ChainFollower, pick: (e: ChainEvent) => boolean): Promise<ChainEvent> {
  return new Promise(resolve => { const off = f.subscribe({}, e => { if (pick(e)) { off(); resolve(e) } }) })
}

test.serial('typed events reach subscribers by deal, by event and by argument, each once', async t => {
  const { f, source } = follower()
  t.teardown(async () => { await f.stop(); source.destroy() })
  await f.start()
  const byProvider: ChainEvent[] = []
  f.subscribe({ contract: 'Market', event: 'DealAgreed', args: { resourceProvider: net.rp.address.toLowerCase() } }, e => { byProvider.push(e) })
  const agreed = next(f, e => e.name === 'DealAgreed')
  const { id, deal } = await agreeDeal(net)
  const e = await agreed
  await f.caughtUp()
  const byDeal: ChainEvent[] = []
  f.onDeal(id, e => { byDeal.push(e) })
  t.is(e.contract, 'Market')
  if (e.contract === 'Market' && e.name === 'DealAgreed') {
    t.is(e.args.dealId, id)
    t.is(e.args.price, deal.price, 'amounts decode as bigints')
    t.is(e.args.resourceProvider, net.rp.address)
  } else t.fail('not a DealAgreed')
  t.is(byProvider.filter(x => (x.args as { dealId: string }).dealId === id).length, 1)
  // the deal's later events reach its subscriber; the history query finds the past ones
  await net.rp.submitResult(deal, 'bafyfollower')
  await f.caughtUp()
  t.deepEqual(byDeal.map(x => x.name), ['ResultSubmitted'])
  t.deepEqual((await f.history(id)).map(x => x.name), ['DealAgreed', 'ResultSubmitted'])
})

test.serial('with confirmations, an event waits until enough blocks are on top of it', async t => {
  const { f, source } = follower({ confirmations: 2 })
  t.teardown(async () => { await f.stop(); source.destroy() })
  await f.start()
  const seen: string[] = []
  f.subscribe({ event: 'DealAgreed' }, e => { seen.push((e.args as { dealId: string }).dealId) })
  const { id } = await agreeDeal(net)
  const mined = await net.provider.getBlockNumber()
  await net.provider.send('evm_mine', [])
  await f.caughtUp(mined - 1)
  t.false(seen.includes(id), 'one block on top is not enough')
  await net.provider.send('evm_mine', [])
  await f.caughtUp(mined)
  t.true(seen.includes(id))
})

test.serial('a cursor kept on disk: a restarted follower delivers what happened while it was down', async t => {
  const cursorFile = join(tmp, 'cursor.json')
  const a = follower({ cursorFile, startBlock: 'latest' })
  await a.f.start()
  await a.f.caughtUp()
  await a.f.stop()
  a.source.destroy()
  const { id } = await agreeDeal(net)
  const b = follower({ cursorFile, startBlock: 'latest' })
  t.teardown(async () => { await b.f.stop(); b.source.destroy() })
  const got = next(b.f, e => e.name === 'DealAgreed')
  await b.f.start()
  t.is(((await got).args as { dealId: string }).dealId, id)
})

test.serial('an RPC that drops requests now and then: the follower retries, misses nothing, prints nothing', async t => {
  const proxy = await RpcProxy.start(net.anvil.rpcUrl)
  const { f, source } = follower({}, proxy.url)
  t.teardown(async () => { await f.stop(); source.destroy(); await proxy.stop() })
  const written: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => { written.push(String(chunk)); return (write as (...a: unknown[]) => boolean)(chunk, ...rest) }) as typeof process.stdout.write
  t.teardown(() => { process.stdout.write = write })
  await f.start()
  proxy.failEvery = 3
  const ids = new Set<string>()
  f.subscribe({ event: 'DealAgreed' }, e => { ids.add((e.args as { dealId: string }).dealId) })
  const made = []
  for (let i = 0; i < 4; i++) made.push((await agreeDeal(net)).id)
  await f.caughtUp()
  t.true(proxy.counts.dropped > 0, 'the proxy dropped requests')
  t.deepEqual(made.filter(id => !ids.has(id)), [], 'every deal was delivered')
  t.deepEqual(written, [], 'nothing on stdout')
})

// last: the replaced block takes rp's transaction with it, and rp's queue would wait for that nonce
test.serial('a reorg: the replaced blocks are read again and the new chain\'s events delivered', async t => {
  const { f, source } = follower()
  t.teardown(async () => { await f.stop(); source.destroy() })
  await f.start()
  const snapshot = await net.provider.send('evm_snapshot', []) as string
  const first = await agreeDeal(net)
  await f.caughtUp()
  const reorg = new Promise<{ from: number, depth: number }>(resolve => { f.once('reorg', resolve) })
  // the chain drops that block and grows another one in its place, with another deal
  await net.provider.send('evm_revert', [snapshot])
  const ids: string[] = []
  f.subscribe({ event: 'DealAgreed' }, e => { ids.push((e.args as { dealId: string }).dealId) })
  // rp2's nonce was not used in the replaced block (rp's was: its transaction is gone with the block)
  const second = await agreeDeal(net, {}, net.jc, net.rp2)
  const r = await reorg
  t.true(r.depth >= 1, `depth ${r.depth}`)
  await f.caughtUp()
  t.true(ids.includes(second.id), 'the new chain\'s deal is delivered')
  t.false(ids.includes(first.id), 'the replaced deal is not delivered again')
})
