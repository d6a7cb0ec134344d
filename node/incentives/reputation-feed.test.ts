// The node's reputation feed on anvil: the history read at start, then only the new blocks; the same records
// `chainRecords` computes from the same facts; a slashed provider banned for a job creator's ban list.
import test from 'ava'
import { startDevnet, agreeDeal, LP, type Devnet } from '../../contracts/fixture.ts'
import type { ChainClient } from '../chain/index.ts'
import { createComponents } from '../components.ts'
import { ReputationFeed } from './reputation-feed.ts'
import { BanList } from '../../core/policy/ban.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

async function settled (jc: ChainClient, rp: ChainClient): Promise<void> {
  const { deal } = await agreeDeal(net, { auditPpm: 0, price: LP(1) }, jc, rp)
  await rp.submitResult(deal, 'bafy-ok')
  await jc.accept([deal])
}

test('history at start, then the new blocks only; a slash bans the provider for a job creator reading the chain', async t => {
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
