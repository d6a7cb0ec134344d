// Attacks on the provider's side of negotiation, performed against real libp2p nodes and a real chain (anvil with
// the contracts deployed): a job creator that proposes terms meant to take the provider's collateral, one that
// cannot pay, one that asks for modules the provider does not serve, and one that tries to hold every slot.
import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { parseEther } from 'ethers'
import { startDevnet, increaseTime, marketBalances, type Devnet } from '../../contracts/fixture.ts'
import { idOf, signMessage, type Deal, type JobOffer } from '../../protocols/eip712.ts'
import { buildDeal, decodeNegotiation, encodeNegotiation, defaultDealTerms, MAX_NEGOTIATION_MESSAGE, type DeclineReason } from '../../protocols/negotiation/messages.ts'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { PeerGuard } from '../peer-guard/index.ts'
import { startHosts, stopAll, NETWORK, jobOffer, freshNonce } from '../testing/fixtures.ts'
import { startProvider, type Provider, type ProviderPolicy } from '../testing/parties.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { depositReader } from './deposit.ts'
import type { Wallet } from 'ethers'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const nowSec = (): bigint => BigInt(Math.floor(Date.now() / 1000))

/** A provider on the devnet's chain: its key is the devnet's rp, its offer's mediators the devnet's. */
async function provider (t: { teardown: (fn: () => Promise<void>) => void }, host: LilypadHost, policy: ProviderPolicy = {}, extra: Parameters<typeof startProvider>[2] = {}): Promise<Provider> {
  const p = await startProvider(host, net.rp.wallet as unknown as Wallet, {
    domain: net.domain,
    price: parseEther('1'),
    template: { collateral: parseEther('2'), mediators: [net.m1.address, net.m2.address] },
    policy: { depositOf: depositReader(net.rp), ...policy },
    // no rate limit on announcing here: these tests move an injected clock only when they mean to
    minGapMs: 0,
    ...extra
  })
  t.teardown(async () => { await p.stop() })
  await p.announcer.announce()
  return p
}

/** The job creator's side, hand-made as an attacker would: any deal it likes, signed, on a raw stream. */
async function propose (from: LilypadHost, to: LilypadHost, jc: Wallet, job: JobOffer, deal: Deal): Promise<{ type: 'accept', providerSignature: string } | { type: 'decline', reason: DeclineReason }> {
  const jobEnv = { kind: 'JobOffer' as const, value: job, signature: await signMessage('JobOffer', net.domain, job, jc) }
  const dealEnv = { kind: 'Deal' as const, value: deal, signature: await signMessage('Deal', net.domain, deal, jc) }
  const stream = await from.dialProtocol(to.getMultiaddrs(), `/lilypad/${NETWORK}/deal/1.0.0`)
  const lp = lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
  await lp.write(encodeNegotiation({ type: 'propose', job: jobEnv, deal: dealEnv }))
  const reply = decodeNegotiation((await lp.read()).subarray())
  await stream.close()
  if (reply.type === 'propose') throw new Error('a proposal in reply')
  return reply.type === 'accept' ? { type: 'accept', providerSignature: reply.providerSignature } : { type: 'decline', reason: reply.reason }
}

function jobFor (jc: Wallet, over: Partial<JobOffer> = {}): JobOffer {
  return jobOffer(jc.address, { mediators: [net.m1.address], maxPrice: parseEther('5'), nonce: freshNonce(), expiry: nowSec() + 300n, ...over })
}

function dealFor (p: Provider, job: JobOffer, over: Partial<Deal> = {}): Deal {
  const offer = p.announcer.liveOffers(nowSec())[0]
  const deal = buildDeal(job, idOf('JobOffer', net.domain, job), offer.value, idOf('ResourceOffer', net.domain, offer.value), [net.m1.address], { ...defaultDealTerms, mediationFee: parseEther('1') }, nowSec())
  return { ...deal, ...over }
}

test.serial('zero-window theft: the provider refuses a result window it cannot meet, so the job creator has nothing to take its collateral with', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost] = hosts
  const rp = await provider(t, rpHost)
  const jc = net.jc.wallet as unknown as Wallet
  const before = await marketBalances(net, [net.rp.address, net.jc.address])
  // the attack as it worked: job timeout 0, result window 0, no fee
  const job0 = jobFor(jc, { timeout: 0 })
  const theft = await propose(jcHost, rpHost, jc, job0, dealFor(rp, job0, { resultTimeout: 0, mediationFee: 0n }))
  t.deepEqual(theft, { type: 'decline', reason: 'TERMS' })
  // a window that only covers the job's own run time, not start-up and submission
  const job = jobFor(jc, { timeout: 60 })
  t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job, { resultTimeout: 61 })), { type: 'decline', reason: 'TERMS' })
  // a countersignature valid until the year 2500, and months of locked collateral
  t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job, { expiry: 16_725_225_600n })), { type: 'decline', reason: 'TERMS' })
  t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job, { judgeWindow: 90 * 86_400 })), { type: 'decline', reason: 'TERMS' })
  t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job, { resultTimeout: 365 * 86_400 })), { type: 'decline', reason: 'TERMS' })
  // random audits with no mediation fee: no mediator would work for it
  const audited = jobFor(jc, { auditPpm: 500_000 })
  t.deepEqual(await propose(jcHost, rpHost, jc, audited, dealFor(rp, audited, { mediationFee: 0n })), { type: 'decline', reason: 'TERMS' })
  t.is(rp.accepted.length, 0, 'nothing was countersigned')
  t.deepEqual(rp.capacity.freeSlots(), [0], 'nothing was reserved')
  // without the provider's signature the chain refuses the deal: nothing to time out, nothing to take
  const forgedDeal = dealFor(rp, job0, { resultTimeout: 0, mediationFee: 0n })
  const jcSig = await signMessage('Deal', net.domain, forgedDeal, jc)
  await t.throwsAsync(net.jc.agree(forgedDeal, jcSig, jcSig))
  t.deepEqual(await marketBalances(net, [net.rp.address, net.jc.address]), before)
  // fair terms are signed, and the deal they make is one the chain takes
  const fair = dealFor(rp, job)
  const ok = await propose(jcHost, rpHost, jc, job, fair)
  t.is(ok.type, 'accept')
  const { dealId } = await net.rp.agree(fair, await signMessage('Deal', net.domain, fair, jc), (ok as { providerSignature: string }).providerSignature)
  t.is(dealId, idOf('Deal', net.domain, fair))
  t.true(fair.resultTimeout >= job.timeout + 8)
})

test.serial('a countersignature cannot be cashed in later: the job creator\'s deposit is read before signing, and the signature dies within minutes', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost] = hosts
  const rp = await provider(t, rpHost)
  // the stranger holds tokens but has deposited nothing
  const broke = net.stranger.wallet as unknown as Wallet
  t.is((await marketBalances(net, [broke.address]))[0], 0n)
  const job = jobFor(broke)
  t.deepEqual(await propose(jcHost, rpHost, broke, job, dealFor(rp, job)), { type: 'decline', reason: 'UNFUNDED' })
  t.is(rp.accepted.length, 0)
  t.deepEqual(rp.capacity.freeSlots(), [0])
  // once it has deposited enough it is served
  await net.stranger.deposit(parseEther('3'))
  const job2 = jobFor(broke)
  const deal = dealFor(rp, job2)
  const ok = await propose(jcHost, rpHost, broke, job2, deal)
  t.is(ok.type, 'accept')
  t.true(deal.expiry <= nowSec() + 300n, 'the countersignature is valid for minutes, not years')
  // held back and presented after its expiry, the countersignature is worthless on chain
  await increaseTime(net.provider, Number(deal.expiry - nowSec()) + 10)
  const err = await t.throwsAsync(net.stranger.agree(deal, await signMessage('Deal', net.domain, deal, broke), (ok as { providerSignature: string }).providerSignature))
  t.regex(`${(err as { reason?: string }).reason ?? ''} ${err?.message ?? ''}`, /DealExpired/)
})

test.serial('a deposit read that hangs costs the proposal a decline within its timeout, never a stuck stream', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost] = hosts
  // an RPC endpoint that takes the request and never answers
  const { createServer } = await import('node:http')
  const stalled = createServer(() => { /* never responds */ })
  await new Promise<void>(resolve => { stalled.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { stalled.closeAllConnections(); await new Promise(resolve => { stalled.close(resolve) }) })
  const port = (stalled.address() as { port: number }).port
  const { JsonRpcProvider, Network } = await import('ethers')
  const { connectMarket } = await import('../../contracts/generated/index.ts')
  const rpc = new JsonRpcProvider(`http://127.0.0.1:${port}`, Network.from(net.anvil.chainId), { staticNetwork: true })
  t.teardown(() => { rpc.destroy() })
  const market = connectMarket(net.deployment.contracts.market, rpc)
  const rp = await provider(t, rpHost, { depositOf: depositReader({ depositOf: async a => await market.deposits(a) }), depositTimeoutMs: 300 })
  const jc = net.jc.wallet as unknown as Wallet
  const job = jobFor(jc)
  t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job)), { type: 'decline', reason: 'INTERNAL' })
  t.deepEqual(rp.capacity.freeSlots(), [0])
})

test.serial('modules: a provider refuses, before reserving anything, every module it does not serve', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost] = hosts
  const rp = await provider(t, rpHost)
  let changes = 0
  rp.capacity.onChange(() => { changes++ })
  const jc = net.jc.wallet as unknown as Wallet
  const commit = 'a'.repeat(40)
  for (const module of [
    `file:///etc#${commit}`, // a local repository
    `http://git.example.org/x.git#${commit}`, // plain http
    `git@github.com:someone/x.git#${commit}`, // ssh
    `https://github.com/someone/x#${commit}`, // https, but git modules are off by default
    'nosuchmodule:v0.0.0', // an unknown name (would be fetched from a public forge)
    './lilypad_module.json.tmpl', '/etc/passwd' // local paths
  ]) {
    const job = jobFor(jc, { module })
    t.deepEqual(await propose(jcHost, rpHost, jc, job, dealFor(rp, job)), { type: 'decline', reason: 'MODULE' }, module)
  }
  t.is(changes, 0, 'no slot was reserved for any of them')
  t.is(rp.accepted.length, 0)
  // a built-in is served
  const job = jobFor(jc, { module: 'cowsay:v0.0.1' })
  t.is((await propose(jcHost, rpHost, jc, job, dealFor(rp, job))).type, 'accept')
})

test.serial('slot lock: one job creator cannot hold the provider\'s slots with proposals it never agrees; a released or expired reservation frees the slot at once', async t => {
  const hosts = await startHosts(3)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost, otherHost] = hosts
  const clock = new ManualClock(Date.now())
  const rp = await provider(t, rpHost, {}, { slots: [0, 1], clock })
  const jc = net.jc.wallet as unknown as Wallet
  const offers = rp.announcer.liveOffers(BigInt(Math.floor(clock.now() / 1000)))
  t.is(offers.length, 2)
  const dealOn = (slot: number, job: JobOffer): Deal => {
    const o = offers.find(x => x.value.slot === slot)!
    return { ...buildDeal(job, idOf('JobOffer', net.domain, job), o.value, idOf('ResourceOffer', net.domain, o.value), [net.m1.address], { ...defaultDealTerms, mediationFee: parseEther('1') }, nowSec()) }
  }
  // six proposals in a row from one job creator: the first reserves slot 0, the rest are refused
  const answers: string[] = []
  for (let i = 0; i < 6; i++) {
    const job = jobFor(jc)
    const r = await propose(jcHost, rpHost, jc, job, dealOn(i % 2, job))
    answers.push(r.type === 'accept' ? 'accept' : r.reason)
  }
  t.deepEqual(answers, ['accept', 'NO_CAPACITY', 'NO_CAPACITY', 'NO_CAPACITY', 'NO_CAPACITY', 'NO_CAPACITY'])
  t.deepEqual(rp.capacity.freeSlots(), [1], 'one slot is still on the market')
  // another job creator gets the other slot
  const jc2 = net.jc2.wallet as unknown as Wallet
  const job2 = jobFor(jc2)
  t.is((await propose(otherHost, rpHost, jc2, job2, dealOn(1, job2))).type, 'accept')
  t.deepEqual(rp.capacity.freeSlots(), [])
  // the first deal is never agreed: when the lifecycle sees its agree fail it releases the slot at once
  t.true(rp.capacity.release(rp.accepted[0].dealId))
  t.deepEqual(rp.capacity.freeSlots(), [0])
  // the second is never agreed either: its reservation lapses no later than the deal's expiry (clock moved, no sleep)
  const expiresIn = Number(rp.accepted[1].deal.expiry - nowSec()) * 1000
  await clock.advance(expiresIn + 1)
  t.deepEqual(rp.capacity.freeSlots(), [0, 1])
})

test.serial('a peer flooding proposals is rate-limited and penalised; garbage and forgeries cost it more', async t => {
  const hosts = await startHosts(3)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost, honestHost] = hosts
  const clock = new ManualClock(Date.now())
  const guard = new PeerGuard(quietComponents(clock), { hangUp: async () => {} })
  const rp = await provider(t, rpHost, {}, { clock, guard })
  const jc = net.jc.wallet as unknown as Wallet
  const flooder = jcHost.peerId.toString()
  const reasons: string[] = []
  for (let i = 0; i < 12; i++) {
    const job = jobFor(jc, { timeout: 0 })
    const r = await propose(jcHost, rpHost, jc, job, dealFor(rp, job))
    reasons.push(r.type === 'decline' ? r.reason : 'accept')
  }
  t.deepEqual(reasons.slice(0, 8), Array(8).fill('TERMS'))
  t.deepEqual(reasons.slice(8), Array(4).fill('RATE_LIMITED'))
  t.true(guard.points(flooder) >= 4)
  // a forged job offer (signed by someone else) and plain garbage
  const stream = await jcHost.dialProtocol(rpHost.getMultiaddrs(), `/lilypad/${NETWORK}/deal/1.0.0`)
  const lp = lpStream(stream, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
  await lp.write(new TextEncoder().encode('garbage'))
  t.deepEqual(decodeNegotiation((await lp.read()).subarray()), { type: 'decline', reason: 'RATE_LIMITED' }, 'still over its rate: not even decoded')
  await clock.advance(10_000)
  const stream2 = await jcHost.dialProtocol(rpHost.getMultiaddrs(), `/lilypad/${NETWORK}/deal/1.0.0`)
  const lp2 = lpStream(stream2, { maxDataLength: MAX_NEGOTIATION_MESSAGE })
  const before = guard.points(flooder)
  await lp2.write(new TextEncoder().encode('garbage'))
  t.deepEqual(decodeNegotiation((await lp2.read()).subarray()), { type: 'decline', reason: 'MALFORMED' })
  t.true(guard.points(flooder) >= before + 5)
  // an honest job creator on another peer is unaffected
  const jc2 = net.jc2.wallet as unknown as Wallet
  const job = jobFor(jc2)
  t.is((await propose(honestHost, rpHost, jc2, job, dealFor(rp, job))).type, 'accept')
})
