// The job creator's acceptance given off chain (EIP-712 `Accept(dealId, resultCid)`) and settled by the provider with
// its result in one transaction (Market.submitAcceptedResult), on a real anvil. Each attack on it is performed: a
// signature must settle exactly one deal, with exactly the result it names, on exactly this chain and Market, once;
// a job creator that never signs leaves today's path unchanged; no path locks funds.
import test from 'ava'
import { Signature, TypedDataEncoder, id as keccakText } from 'ethers'
import { startDevnet, agreeDeal, increaseTime, marketBalances, marketTokenBalance, LP, idOf, type Devnet } from '../fixture.ts'
import { AcceptTypes, signMessage, type Deal, type LilypadDomain } from '../../protocols/eip712.ts'
import { toStruct, type ChainClient } from '../../node/chain/index.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const P = LP(10)
const C = LP(20)
const F = LP(2)
const CID = 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq'

/** Deltas of [jc, rp, m1, m2, market token balance] across `run`. */
async function deltas (run: () => Promise<void>): Promise<bigint[]> {
  const who = [net.jc.address, net.rp.address, net.m1.address, net.m2.address]
  const before = [...await marketBalances(net, who), await marketTokenBalance(net)]
  await run()
  const after = [...await marketBalances(net, who), await marketTokenBalance(net)]
  return after.map((v, i) => v - before[i])
}

async function acceptance (dealId: string, resultCid = CID, signer: ChainClient = net.jc, domain: LilypadDomain = net.domain): Promise<string> {
  return await signMessage('Accept', domain, { dealId, resultCid }, signer.wallet)
}

async function reason (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { reason?: string }).reason ?? (err as Error).name }
  return 'succeeded'
}

test.serial('the Accept type matches protocols/eip712.ts: the Market settles exactly what idOf(\'Accept\') signs', async t => {
  t.is(keccakText(TypedDataEncoder.from(AcceptTypes).encodeType('Accept')), keccakText('Accept(bytes32 dealId,string resultCid)'))
  const { deal, id } = await agreeDeal(net)
  // a raw signature over idOf('Accept', …) (no typed-data helper) is what the Market recovers
  const digest = idOf('Accept', net.domain, { dealId: id, resultCid: CID })
  const r = await net.rp.submitAcceptedResult(deal, CID, net.jc.wallet.signingKey.sign(digest).serialized)
  t.true(r.settled)
})

test.serial('a result with its acceptance settles the deal in the same transaction: 2 transactions per job', async t => {
  let deal: Deal | undefined
  let id = ''
  const txs = net.rp.gasLog.length + net.jc.gasLog.length
  const d = await deltas(async () => {
    ({ deal, id } = await agreeDeal(net))
    const r = await net.rp.submitAcceptedResult(deal, CID, await acceptance(id))
    t.true(r.settled)
  })
  t.deepEqual(d, [-P, P, 0n, 0n, 0n], 'the job creator paid the price, got its fee back; the provider was paid and got its collateral back')
  t.is(net.rp.gasLog.length + net.jc.gasLog.length - txs, 2)
  const rec = await net.jc.dealRecord(id)
  t.is(rec.state, 'Settled')
  t.is(rec.resultHash, (await net.jc.market.deals(id)).resultHash)
  const events = (await net.jc.follower.history(id)).map(e => e.name)
  t.deepEqual(events, ['DealAgreed', 'ResultSubmitted', 'DealSettled'])
})

test.serial('an acceptance cannot settle the deal with another result', async t => {
  const { deal, id } = await agreeDeal(net)
  const sig = await acceptance(id, CID)
  t.is(await reason(net.rp.submitAcceptedResult(deal, 'bafy-some-other-result', sig)), 'InvalidSignature')
  t.is((await net.jc.dealRecord(id)).state, 'Agreed', 'nothing changed')
  // the provider can still submit the result the job creator accepted
  await net.rp.submitAcceptedResult(deal, CID, sig)
  t.is((await net.jc.dealRecord(id)).state, 'Settled')
})

test.serial('an acceptance is usable once: a replay on the settled deal and on another deal both fail', async t => {
  const { deal, id } = await agreeDeal(net)
  const sig = await acceptance(id)
  await net.rp.submitAcceptedResult(deal, CID, sig)
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, sig)), 'DealClosed')
  t.is(await reason(net.rp.submitResult(deal, CID)), 'DealClosed')
  const { deal: other, id: otherId } = await agreeDeal(net)
  t.is(await reason(net.rp.submitAcceptedResult(other, CID, sig)), 'InvalidSignature', 'same parties, same result, another deal')
  t.is((await net.jc.dealRecord(otherId)).state, 'Agreed')
})

test.serial('an acceptance signed for another chain or another Market is refused', async t => {
  const { deal, id } = await agreeDeal(net)
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, await acceptance(id, CID, net.jc, { ...net.domain, chainId: 1n }))), 'InvalidSignature')
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, await acceptance(id, CID, net.jc, { ...net.domain, verifyingContract: net.deployment.contracts.jobManager }))), 'InvalidSignature')
  t.is((await net.jc.dealRecord(id)).state, 'Agreed')
})

test.serial('only the deal\'s job creator can accept: the provider\'s own signature, a stranger\'s and garbage are refused', async t => {
  const { deal, id } = await agreeDeal(net)
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, await acceptance(id, CID, net.rp))), 'InvalidSignature')
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, await acceptance(id, CID, net.stranger))), 'InvalidSignature')
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, '0x' + '11'.repeat(65))), 'InvalidSignature')
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, '0x')), 'InvalidSignature')
  // the same signature made malleable (s -> n - s, v flipped) recovers the same key; OpenZeppelin refuses high s
  const sig = Signature.from(await acceptance(id))
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
  const high = '0x' + sig.r.slice(2) + (n - BigInt(sig.s)).toString(16).padStart(64, '0') + (sig.v === 27 ? '1c' : '1b')
  t.is(await reason(net.rp.submitAcceptedResult(deal, CID, high)), 'InvalidSignature')
  t.is((await net.jc.dealRecord(id)).state, 'Agreed')
})

// ChainClient sends a job creator's ECDSA acceptance (and deal signature) in EIP-2098's 64 bytes; the Market takes
// both forms. The compact form must bind exactly as the long one does.
test.serial('a compact (EIP-2098) acceptance settles like the 65-byte one, and binds the same signer, deal and result', async t => {
  const market = net.rp.market
  const from = { from: net.rp.address }
  const revertName = async (p: Promise<unknown>): Promise<string | undefined> => {
    try { await p } catch (err) { return (err as { revert?: { name?: string } }).revert?.name ?? (err as Error).message }
    return 'succeeded'
  }
  const compact = (sig: string): string => Signature.from(sig).compactSerialized
  const { deal, id } = await agreeDeal(net)
  t.is(compact(await acceptance(id)).length, 2 + 128)
  t.is(await revertName(market.submitAcceptedResult.staticCall(toStruct(deal), CID, compact(await acceptance(id, CID, net.stranger)), from)), 'InvalidSignature', 'a stranger\'s')
  t.is(await revertName(market.submitAcceptedResult.staticCall(toStruct(deal), CID, compact(await acceptance(id, CID, net.rp)), from)), 'InvalidSignature', 'the provider\'s own')
  t.is(await revertName(market.submitAcceptedResult.staticCall(toStruct(deal), 'bafy-another', compact(await acceptance(id)), from)), 'InvalidSignature', 'another result')
  t.is(await revertName(market.submitAcceptedResult.staticCall(toStruct(deal), CID, compact(await acceptance(id, CID, net.jc, { ...net.domain, chainId: 1n })), from)), 'InvalidSignature', 'another chain')
  t.is(await revertName(market.submitAcceptedResult.staticCall(toStruct(deal), CID, '0x' + '11'.repeat(64), from)), 'InvalidSignature', '64 bytes of garbage')
  // sent through the provider's own queue (it owns the key's nonces), the signature as given
  const send = async (dl: Deal, sig: string): Promise<void> => { await net.rp.queue.send('submitAcceptedResult', async () => await market.submitAcceptedResult.populateTransaction(toStruct(dl), CID, sig)) }
  const d = await deltas(async () => { await send(deal, compact(await acceptance(id))) })
  t.deepEqual(d, [F, P + C, 0n, 0n, 0n], 'settled: the provider paid, the job creator\'s fee back')
  t.is((await net.jc.dealRecord(id)).state, 'Settled')
  // and the 65-byte form still settles (sent raw: ChainClient would compact it)
  const second = await agreeDeal(net)
  const long = await acceptance(second.id)
  t.is(long.length, 2 + 130)
  await send(second.deal, long)
  t.is((await net.jc.dealRecord(second.id)).state, 'Settled')
})

test.serial('only the deal\'s provider can submit: a stranger holding a valid acceptance cannot', async t => {
  const { deal, id } = await agreeDeal(net)
  const sig = await acceptance(id)
  t.is(await reason(net.stranger.submitAcceptedResult(deal, CID, sig)), 'NotResourceProvider')
  t.is(await reason(net.jc.submitAcceptedResult(deal, CID, sig)), 'NotResourceProvider', 'the job creator cannot close it as accepted either')
  t.is((await net.jc.dealRecord(id)).state, 'Agreed')
})

test.serial('a late provider is not rescued by an acceptance: the result window is enforced and the job creator is refunded', async t => {
  const d = await deltas(async () => {
    const { deal, id } = await agreeDeal(net)
    const sig = await acceptance(id)
    await increaseTime(net.provider, 601)
    t.is(await reason(net.rp.submitAcceptedResult(deal, CID, sig)), 'ResultWindowClosed')
    await net.stranger.timeoutResult(deal)
  })
  t.deepEqual(d, [C, -C, 0n, 0n, 0n])
})

test.serial('a job creator that never signs: the provider submits alone, and the acceptance path is closed once the result is on chain', async t => {
  const d = await deltas(async () => {
    const { deal, id } = await agreeDeal(net)
    await net.rp.submitResult(deal, CID)
    // an acceptance arriving after the plain submission cannot skip the judge window or be used twice
    t.is(await reason(net.rp.submitAcceptedResult(deal, CID, await acceptance(id))), 'WrongState')
    t.is(await reason(net.rp.settle([deal])), 'JudgeWindowOpen')
    await increaseTime(net.provider, 301)
    await net.rp.settle([deal])
  })
  t.deepEqual(d, [-P, P, 0n, 0n, 0n])
})

test.serial('a job creator that signs cannot then challenge or take the collateral: the deal is closed', async t => {
  const { deal, id } = await agreeDeal(net)
  t.is(await reason(net.jc.challenge(deal)), 'WrongState', 'nothing to challenge before the result')
  await net.rp.submitAcceptedResult(deal, CID, await acceptance(id))
  t.is(await reason(net.jc.challenge(deal)), 'DealClosed')
  t.is(await reason(net.jc.accept([deal])), 'DealClosed')
  await increaseTime(net.provider, 601)
  t.is(await reason(net.stranger.timeoutResult(deal)), 'DealClosed')
})

test.serial('an acceptance does not skip the audit: the draw from the submission\'s block sends it to mediation and the mediator is paid', async t => {
  let mediator = ''
  const d = await deltas(async () => {
    const { deal, id } = await agreeDeal(net, { auditPpm: 1_000_000 })
    const r = await net.rp.submitAcceptedResult(deal, CID, await acceptance(id))
    t.false(r.settled, 'a deal with audits waits for its draw')
    t.is((await net.jc.dealRecord(id)).state, 'ResultSubmitted')
    t.is(await reason(net.jc.challenge(deal)), 'AlreadyAccepted', 'the job creator gave its judgement')
    const drawn = await net.stranger.drawAudit(deal)
    if (drawn.outcome !== 'audited') throw new Error(`drew ${drawn.outcome}`)
    mediator = drawn.mediator
    t.is((await net.jc.dealRecord(id)).state, 'Challenged')
    await (mediator === net.m1.address ? net.m1 : net.m2).mediate(deal, true)
  })
  const m1 = mediator === net.m1.address ? F : 0n
  t.deepEqual(d, [-(P + F), P, m1, F - m1, 0n])
})
