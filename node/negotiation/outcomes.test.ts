// The job creator's side against providers that fail it in every way, on real libp2p nodes: junk offers priced at 0
// whose peer never answers, peers that cannot be dialled, a peer that answers with someone else's signature, a
// busy provider. The ranking keeps going past them, and every candidate's outcome reaches the caller (the ban
// policy's input), so the next job skips them.
import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { OrderBook } from '../../protocols/order-book.ts'
import { encodeNegotiation, MAX_NEGOTIATION_MESSAGE } from '../../protocols/negotiation/messages.ts'
import { validateEnvelope } from '../../protocols/validation.ts'
import { liveOfferOf } from '../gossip/gossip.ts'
import { startHosts, connectMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, jobOffer, signedJobOffer, nowSec } from '../testing/fixtures.ts'
import { startProvider, startJobCreator } from '../testing/parties.ts'
import { proposalFailureOf, type CandidateOutcome } from './negotiator.ts'
import { afterProposal } from '../../core/policy/ban.ts'

test('junk offers priced at 0 cannot stop a job: the job creator goes past silent, unreachable and lying peers to the honest provider, and hears every outcome', async t => {
  const hosts = await startHosts(5)
  const [jcHost, rpHost, silentHost, liarHost, busyHost] = hosts
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const jcW = wallet('outcome-jc')
  // the silent peer costs one step timeout per attempt; long enough that an honest answer on a loaded machine is never cut off
  const jc = await startJobCreator(jcHost, jcW, { stepTimeoutMs: 8000 })
  stops.push(jc.stop)
  const honest = await startProvider(rpHost, wallet('outcome-honest'), { price: 100n })
  stops.push(honest.stop)
  const busy = await startProvider(busyHost, wallet('outcome-busy'), { price: 50n })
  stops.push(busy.stop)
  const announced = await Promise.all([honest, busy].map(async p => (await p.announcer.announce())[0]))
  t.true(busy.capacity.tryReserve(0, '0x' + '11'.repeat(32), 600_000))
  // the silent peer takes the proposal and never answers
  const protocol = `/lilypad/${NETWORK}/deal/1.0.0`
  await silentHost.handle(protocol, stream => { void lpStream(stream).read().catch(() => { /* the job creator gave up */ }) })
  // the liar answers "accept" with a signature of a key that is not the offer's
  const liarKey = wallet('outcome-liar')
  await liarHost.handle(protocol, stream => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
      await lp.read()
      await lp.write(encodeNegotiation({ type: 'accept', dealId: '0x' + '22'.repeat(32), providerSignature: await liarKey.signMessage('x') }))
      await stream.close()
    })().catch(err => { stream.abort(err as Error) })
  })
  await connectMesh(hosts)
  // the job creator knows every real peer's addresses (in a running node: from their signed records in sync)
  await Promise.all(hosts.slice(1).map(async h => await jcHost.dial(h.getMultiaddrs(), { signal: AbortSignal.timeout(60_000) })))
  const book = jc.gossip.book as OrderBook
  const now = nowSec()
  const put = async (w: ReturnType<typeof wallet>, peer: string, over: Parameters<typeof resourceOffer>[1] = {}): Promise<void> => {
    book.add(liveOfferOf(validateEnvelope(await boundResourceOffer(w, resourceOffer(w.address, over), peer), { domain: testDomain, now, requirePeerBinding: true })), now)
  }
  // 16 junk offers from one key at price 0, bound to the silent peer
  const junkKey = wallet('outcome-junk')
  for (let slot = 0; slot < 16; slot++) await put(junkKey, silentHost.peerId.toString(), { slot, price: 0n })
  // junk from four more keys at price 0, each bound to a peer id nobody runs
  const ghosts = await Promise.all(Array.from({ length: 4 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  for (let i = 0; i < 4; i++) await put(wallet(`outcome-ghost-${i}`), ghosts[i], { price: 0n })
  await put(liarKey, liarHost.peerId.toString(), { price: 1n })
  for (const offer of announced) book.add(liveOfferOf(validateEnvelope(offer, { domain: testDomain, now, requirePeerBinding: true })), now)

  const job = await signedJobOffer(jcW, jobOffer(jcW.address))
  const ranked = book.match(job.value, { now: nowSec() })
  t.true(ranked.some(c => c.live.offer.provider === honest.wallet.address), 'the honest provider is among the candidates')
  t.is(ranked.filter(c => c.live.offer.provider === junkKey.address).length, 1, 'one peer fills at most one place')
  const outcomes: CandidateOutcome[] = []
  const agreed = await jc.negotiator.propose(job, ranked, jcW, { onOutcome: o => { outcomes.push(o) } })
  t.is(agreed.deal.resourceProvider, honest.wallet.address)
  const kinds = outcomes.map(o => `${o.provider === junkKey.address ? 'junk' : o.provider === liarKey.address ? 'liar' : o.provider === busy.wallet.address ? 'busy' : o.provider === honest.wallet.address ? 'honest' : 'ghost'}:${o.outcome}${o.reason !== undefined ? `:${o.reason}` : ''}`)
  t.deepEqual(kinds.filter(k => k.startsWith('junk')), ['junk:timeout'])
  t.deepEqual(kinds.filter(k => k.startsWith('ghost')), Array(4).fill('ghost:unreachable'))
  t.deepEqual(kinds.filter(k => !k.startsWith('junk') && !k.startsWith('ghost')), ['liar:bad-countersignature', 'busy:declined:NO_CAPACITY', 'honest:accepted'])
  t.true(outcomes.every(o => o.peer !== undefined && o.ms >= 0))
  // the ban policy reads each outcome as it is (no text parsed back): the silent junk peer and the ghosts stay in
  // this job's queue but are marked (asked after the others; a second failure bans), the liar leaves it, the busy
  // provider waits unmarked
  const verdict = (who: string): unknown => outcomes.filter(o => o.provider === who).map(o => afterProposal(proposalFailureOf(o)))
  t.deepEqual(verdict(junkKey.address), [{ exclude: false, failure: 'declined' }])
  t.deepEqual(verdict(liarKey.address), [{ exclude: true, failure: 'declined' }])
  t.deepEqual(verdict(busy.wallet.address), [{ exclude: false }])
  t.deepEqual(outcomes.filter(o => o.outcome === 'unreachable').map(o => afterProposal(proposalFailureOf(o))), Array(4).fill({ exclude: false, failure: 'unreachable' }))

  // the job creator's ban policy keeps those that failed it: the next job's list starts with the honest provider
  const failed = new Set(outcomes.filter(o => o.outcome !== 'accepted' && !(o.outcome === 'declined' && o.reason === 'NO_CAPACITY')).map(o => o.peer))
  const next = await signedJobOffer(jcW, jobOffer(jcW.address))
  const again = book.match(next.value, { now: nowSec(), exclude: (_p, peer) => peer !== undefined && failed.has(peer) })
  t.is(again[0].live.offer.provider, busy.wallet.address)
  t.is(again[1].live.offer.provider, honest.wallet.address)
  t.is(again.length, 2)
})

test('jobs of one node at once spread over the offers: an offer another of its proposals holds is passed over (held, no mark), and each claim is released', async t => {
  const hosts = await startHosts(3)
  const [jcHost, cheapHost, dearHost] = hosts
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => { for (const s of stops.reverse()) await s(); await stopAll(hosts) })
  const jcW = wallet('held-jc')
  const jc = await startJobCreator(jcHost, jcW)
  stops.push(jc.stop)
  const cheap = await startProvider(cheapHost, wallet('held-cheap'), { price: 50n })
  stops.push(cheap.stop)
  const dear = await startProvider(dearHost, wallet('held-dear'), { price: 100n })
  stops.push(dear.stop)
  const announced = await Promise.all([cheap, dear].map(async p => (await p.announcer.announce())[0]))
  await connectMesh(hosts)
  const book = jc.gossip.book as OrderBook
  const now = nowSec()
  for (const offer of announced) book.add(liveOfferOf(validateEnvelope(offer, { domain: testDomain, now, requirePeerBinding: true })), now)
  const job = await signedJobOffer(jcW, jobOffer(jcW.address))
  const ranked = book.match(job.value, { now: nowSec() })
  t.deepEqual(ranked.map(c => c.live.offer.provider), [cheap.wallet.address, dear.wallet.address])
  // another job of this node is proposing on the cheap offer now
  const held = new Set([ranked[0].live.id])
  const claims: string[] = []
  const released: string[] = []
  const claim = (id: string): (() => void) | undefined => {
    if (held.has(id)) return undefined
    held.add(id)
    claims.push(id)
    return () => { held.delete(id); released.push(id) }
  }
  const outcomes: CandidateOutcome[] = []
  const agreed = await jc.negotiator.propose(job, ranked, jcW, { claim, onOutcome: o => { outcomes.push(o) } })
  t.is(agreed.deal.resourceProvider, dear.wallet.address)
  t.deepEqual(outcomes.map(o => o.outcome), ['held', 'accepted'])
  t.deepEqual(afterProposal(proposalFailureOf(outcomes[0])), { exclude: false }, 'our own other job holding it is no fault of the provider')
  t.deepEqual(claims, [ranked[1].live.id])
  t.deepEqual(released, [ranked[1].live.id], 'the claim ends with the proposal')
  t.true(held.has(ranked[0].live.id), 'the other job\'s claim is untouched')
})
