// Gossip on a host serving two chains (docs/multichain.md): one gossip service per chain, each on its chain's own
// topics under its own EIP-712 domain. Each message gets exactly one verdict, from the service of its topic; an offer
// signed for one chain lands only in that chain's book; one signed for chain B and published on chain A's topic is
// REJECTed there (its signature names someone else under A's domain) and never reaches either book.
import test from 'ava'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { OrderBook } from '../../protocols/order-book.ts'
import { idOf, type LilypadDomain } from '../../protocols/eip712.ts'
import { GossipService } from './gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, jobOffer, signedJobOffer } from '../testing/fixtures.ts'

const domainA = testDomain
const domainB: LilypadDomain = { chainId: testDomain.chainId + 1n, verifyingContract: '0x' + 'b0'.repeat(20) }
const nsA = NETWORK
const nsB = `${NETWORK}.${domainB.chainId}`

test('two chains on one host: each offer in its own chain\'s book, one verdict per message, a cross-chain replay rejected', async t => {
  const hosts = await startHosts(2)
  const make = (h: (typeof hosts)[number]): { a: GossipService, b: GossipService } => ({
    a: new GossipService(h, { networkId: nsA, domain: domainA, book: new OrderBook() }),
    b: new GossipService(h, { networkId: nsB, domain: domainB, book: new OrderBook() })
  })
  const [sender, receiver] = hosts.map(make)
  t.teardown(async () => { for (const s of [sender, receiver]) { s.a.stop(); s.b.stop() } await stopAll(hosts) })
  for (const s of [sender, receiver]) { s.a.start(); s.b.start() }
  await connectMesh(hosts)
  for (const topic of [sender.a.topics.resourceOffers, sender.b.topics.resourceOffers, sender.a.topics.jobOffers]) await waitForMesh(hosts, topic)
  t.not(sender.a.topics.resourceOffers, sender.b.topics.resourceOffers)

  const verdicts: Array<{ chain: 'a' | 'b', verdict: TopicValidatorResult, code: string | undefined, msgId: string }> = []
  receiver.a.onVerdict((verdict, code, _from, msgId) => { verdicts.push({ chain: 'a', verdict, code, msgId }) })
  receiver.b.onVerdict((verdict, code, _from, msgId) => { verdicts.push({ chain: 'b', verdict, code, msgId }) })
  const settled = async (n: number): Promise<void> => {
    if (verdicts.length >= n) return
    await new Promise<void>(resolve => {
      const check = (): void => { if (verdicts.length >= n) resolve() }
      receiver.a.onVerdict(check)
      receiver.b.onVerdict(check)
    })
  }

  const rp = wallet('multichain-rp')
  const offer = resourceOffer(rp.address)
  const peer = hosts[0].peerId.toString()
  // the same slot offered on both chains: two messages, each signed under its chain's domain
  await sender.a.publishResourceOffer(await boundResourceOffer(rp, offer, peer, domainA))
  await sender.b.publishResourceOffer(await boundResourceOffer(rp, offer, peer, domainB))
  await settled(2)
  t.deepEqual(verdicts.map(v => [v.chain, v.verdict]).sort(), [['a', TopicValidatorResult.Accept], ['b', TopicValidatorResult.Accept]])
  t.deepEqual(receiver.a.book?.offers().map(o => o.id), [idOf('ResourceOffer', domainA, offer)])
  t.deepEqual(receiver.b.book?.offers().map(o => o.id), [idOf('ResourceOffer', domainB, offer)])

  // attacks: an offer and a job offer signed for chain B, published on chain A's topics
  const other = resourceOffer(rp.address, { slot: 1 })
  await sender.a.publishResourceOffer(await boundResourceOffer(rp, other, peer, domainB))
  const jc = wallet('multichain-jc')
  const heard: string[] = []
  receiver.a.onVerified(v => { heard.push(v.kind) })
  await sender.a.publishJobOffer(await signedJobOffer(jc, jobOffer(jc.address), domainB))
  await settled(4)
  const replayed = verdicts.slice(2)
  t.deepEqual(replayed.map(v => [v.chain, v.verdict]), [['a', TopicValidatorResult.Reject], ['a', TopicValidatorResult.Reject]], 'rejected by chain A\'s service, and only by it')
  t.deepEqual(replayed.map(v => v.code), ['BAD_SIGNATURE', 'BAD_SIGNATURE'])
  t.deepEqual(heard, [])
  t.is(receiver.a.book?.size, 1)
  t.is(receiver.b.book?.size, 1)
  // one verdict per message
  t.is(new Set(verdicts.map(v => v.msgId)).size, verdicts.length)
  t.is(receiver.b.metrics.received, 1, "chain B's service never saw chain A's messages")
  t.is(receiver.a.metrics.received, 3)
})
