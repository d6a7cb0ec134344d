// The node's reputation feed on anvil: the history read at start, then only the new blocks; the same records
// `chainRecords` computes from the same facts; a slashed provider banned for a job creator's ban list.
import test from 'ava'
import { startDevnet, agreeDeal, LP, type Devnet } from '../../contracts/fixture.ts'
import type { ChainClient } from '../chain/index.ts'
import { createComponents } from '../components.ts'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReputationFeed, type ReputationFeedInit } from './reputation-feed.ts'
import { createLogger } from '../observability/logger.ts'
import { BanList } from '../../core/policy/ban.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

async function settled (jc: ChainClient, rp: ChainClient): Promise<void> {
  const { deal } = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, jc, rp)
  await rp.submitResult(deal, 'bafy-ok')
  await jc.accept([deal])
}

test.serial('history at start, then the new blocks only; a slash bans the provider for a job creator reading the chain', async t => {
  await settled(net.jc, net.rp)
  await settled(net.jc2, net.rp)
  const feed = new ReputationFeed(createComponents({ logger: { level: 'warn' } }), {
    source: { provider: net.provider, market: net.deployment.contracts.market, deployBlock: net.deployment.deployBlock }
  })
  await feed.sync()
  t.like(feed.book.record(net.rp.address), { settled: 2, jobCreators: 2, slashed: 0 })
  const bans = new BanList({}, feed.book)
  t.is(bans.standing(net.rp2.address, 0), 'ok', 'a provider nobody knows is not held back')

  // rp2 returns junk, the job creator challenges, a mediator finds it wrong: slashed on chain
  const { deal } = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc, net.rp2)
  await net.rp2.submitResult(deal, 'bafy-junk')
  const drawn = await net.jc.challenge(deal)
  await (drawn.toLowerCase() === net.m1.address.toLowerCase() ? net.m1 : net.m2).mediate(deal, false)
  await settled(net.jc, net.rp)
  await feed.sync()
  t.like(feed.book.record(net.rp.address), { settled: 3 }, 'each deal counted once across the two reads')
  t.like(feed.book.record(net.rp2.address), { slashed: 1 })
  t.is(bans.standing(net.rp2.address, 0), 'banned', 'one slash and nothing good: banned by the chain record, with no failure of this job creator')
  t.deepEqual(bans.rank([net.rp2.address, net.rp.address], x => x, 0), [net.rp.address])
  await feed.sync()
  t.like(feed.book.record(net.rp.address), { settled: 3 }, 'a read with no new block changes nothing')
})

/** The devnet's provider, with every eth_getLogs range and eth_getTransactionByHash counted. */
function counting (): { provider: typeof net.provider, logs: Array<{ fromBlock: number, toBlock: number, ids: boolean }>, txs: () => number } {
  const logs: Array<{ fromBlock: number, toBlock: number, ids: boolean }> = []
  let txs = 0
  const p = net.provider
  const provider = {
    getBlockNumber: async () => await p.getBlockNumber(),
    getBlock: async (b: number | string) => await p.getBlock(b),
    getTransaction: async (h: string) => { txs++; return await p.getTransaction(h) },
    getLogs: async (f: { fromBlock: number, toBlock: number, topics?: Array<string | string[] | null> }) => {
      logs.push({ fromBlock: f.fromBlock, toBlock: f.toBlock, ids: f.topics?.[1] !== undefined && f.topics?.[1] !== null })
      return await p.getLogs(f)
    }
  } as unknown as typeof net.provider
  return { provider, logs, txs: () => txs }
}

test.serial('the book is kept in the data dir: a restart reads only the blocks since, a deal open across it is counted once, and no agree transaction is fetched', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-rep-'))
  const stateFile = join(dir, 'reputation.json')
  const source = (provider: typeof net.provider): ReputationFeedInit['source'] => ({ provider, market: net.deployment.contracts.market, deployBlock: net.deployment.deployBlock })
  await settled(net.jc, net.rp)
  // agreed and given a result before the stop, accepted after it
  const { deal } = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc2, net.rp)
  await net.rp.submitResult(deal, 'bafy-open')

  const first = counting()
  const a = new ReputationFeed(createComponents({ logger: { level: 'warn' } }), { source: source(first.provider), stateFile })
  await a.start()
  await a.stop()
  const before = a.book.record(net.rp.address)
  t.is(first.txs(), 0, 'reputation reads no agree transaction')
  t.false(first.logs.some(l => l.ids), 'the first read is the whole history: no second read of closed deals')
  const savedAt = a.nextBlock

  await net.jc2.accept([deal])
  await settled(net.jc, net.rp)
  const second = counting()
  const b = new ReputationFeed(createComponents({ logger: { level: 'warn' } }), { source: source(second.provider), stateFile })
  await b.start()
  t.true(second.logs.length > 0 && second.logs.every(l => l.fromBlock >= savedAt), `only blocks from ${savedAt} on were read: ${JSON.stringify(second.logs)}`)
  t.false(second.logs.some(l => l.ids), 'the deal open across the restart was completed from the kept events, not read again')
  t.is(b.book.record(net.rp.address).settled, before.settled + 2, 'the deal open across the restart and the new one, each once')

  // the same records as a feed reading everything from the deploy block
  const fresh = new ReputationFeed(createComponents({ logger: { level: 'warn' } }), { source: source(net.provider) })
  await fresh.sync()
  t.deepEqual(b.book.snapshot().records, fresh.book.snapshot().records)
  await b.stop()
})

test.serial('a deal whose start this feed never held is read whole when it closes; an unreadable or foreign state file starts over, saying so', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-rep-'))
  const stateFile = join(dir, 'reputation.json')
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level: 'debug', format: 'json', destination: { write (l: string) { lines.push(JSON.parse(l) as Record<string, unknown>) } } })
  const src = { market: net.deployment.contracts.market, deployBlock: net.deployment.deployBlock }

  const { deal } = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, net.jc, net.rp2)
  await net.rp2.submitResult(deal, 'bafy-x')
  // maxOpen 0: the open deal's events are dropped at once, so its close must fetch its history
  const a = new ReputationFeed({ ...createComponents(), logger }, { source: { ...src, provider: net.provider }, stateFile, maxOpen: 0 })
  await a.start()
  await a.stop()
  const settledBefore = a.book.record(net.rp2.address).settled
  await net.jc.accept([deal])
  const c = counting()
  const b = new ReputationFeed({ ...createComponents(), logger }, { source: { ...src, provider: c.provider }, stateFile, maxOpen: 0 })
  await b.start()
  await b.stop()
  t.true(c.logs.some(l => l.ids), 'the closing deal was read by id')
  t.is(b.book.record(net.rp2.address).settled, settledBefore + 1)

  await writeFile(stateFile, '{"v":1,"market":')
  const d = new ReputationFeed({ ...createComponents(), logger }, { source: { ...src, provider: net.provider }, stateFile })
  await d.start()
  t.true(lines.some(l => l.msg === 'the kept reputation book is unreadable; reading the chain from its deploy block' && l.file === stateFile))
  t.deepEqual(d.book.snapshot().records, b.book.snapshot().records, 'read again from the deploy block: the same records')
  await d.stop()

  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>
  await writeFile(stateFile, JSON.stringify({ ...saved, market: '0x' + '11'.repeat(20), next: 999_999 }))
  const e = new ReputationFeed({ ...createComponents(), logger }, { source: { ...src, provider: net.provider }, stateFile })
  await e.start()
  t.true(lines.some(l => l.msg === 'the kept reputation book is of another deployment; reading the chain from its deploy block'))
  t.deepEqual(e.book.snapshot().records, b.book.snapshot().records)
  await e.stop()
})
