// Result delivery and order-book sync between real libp2p hosts on 127.0.0.1.
import test from 'ava'
import { ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { idOf, signMessage, type Deal, type Result } from '../../protocols/eip712.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { startHosts, connectMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, signedResourceOffer } from '../testing/fixtures.ts'
import { AcceptanceReceiver, ResultReceiver, deliverResult, sendAcceptance } from './result-delivery.ts'
import type { Accept } from '../../protocols/eip712.ts'

const provider = wallet('results-provider')
const stranger = wallet('results-stranger')
const jobCreator = wallet('results-jc')

function deal (nonce: bigint): Deal {
  return {
    jobOfferId: keccak256(toUtf8Bytes(`job ${nonce}`)), resourceOfferId: ZeroHash, jobCreator: jobCreator.address, resourceProvider: provider.address,
    mediators: [stranger.address], price: 1n, collateral: 2n, mediationFee: 1n, auditPpm: 0, resultTimeout: 60, judgeWindow: 30, mediateTimeout: 60, expiry: 2_000_000_000n, nonce
  }
}

async function signed (signer: typeof provider, dealId: string): Promise<{ result: Result, signature: string, addrs: string[] }> {
  const result: Result = { dealId, resultCid: 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq', exitCode: 0, timestamp: 1n }
  return { result, signature: await signMessage('Result', testDomain, result, signer), addrs: [] }
}

test('the job creator takes its provider\'s signed result and refuses forged or unexpected ones with named errors', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [jcHost, rpHost] = hosts
  await connectMesh(hosts)
  const receiver = new ResultReceiver(jcHost, { networkId: NETWORK, domain: testDomain })
  await receiver.start()
  t.teardown(async () => { await receiver.stop() })
  const d = deal(1n)
  const dealId = idOf('Deal', testDomain, d)
  receiver.expect({ deal: d, dealId })
  const peer = jcHost.peerId.toString()

  const forged = await t.throwsAsync(deliverResult(rpHost, NETWORK, peer, await signed(stranger, dealId)))
  t.is(forged?.name, 'ResultRejectedError')
  t.is((forged as Error & { code: string }).code, 'BAD_SIGNATURE')

  const other = idOf('Deal', testDomain, deal(2n))
  const unknown = await t.throwsAsync(deliverResult(rpHost, NETWORK, peer, await signed(provider, other)))
  t.is((unknown as Error & { code: string }).code, 'UNKNOWN_DEAL')

  // the real one, delivered before anyone waits (a fast provider), is kept until wait() asks
  const real = await signed(provider, dealId)
  t.deepEqual(await deliverResult(rpHost, NETWORK, peer, real), { type: 'ack' }, 'a plain ack: an acceptance may follow')
  const got = await receiver.wait({ deal: d, dealId }, AbortSignal.timeout(5000))
  t.deepEqual(got.result, real.result)
  t.is(got.from, rpHost.peerId.toString())

  // a job that will not accept (--no-accept): its ack tells the provider not to wait for an acceptance
  const d3 = deal(3n)
  const id3 = idOf('Deal', testDomain, d3)
  receiver.expect({ deal: d3, dealId: id3, accepting: false })
  t.deepEqual(await deliverResult(rpHost, NETWORK, peer, await signed(provider, id3)), { type: 'ack', acceptance: 'none' })
})

test('the provider takes the job creator\'s acceptance of its own result only, and refuses the rest with named errors', async t => {
  const hosts = await startHosts(3)
  t.teardown(async () => { await stopAll(hosts) })
  const [jcHost, rpHost, otherHost] = hosts
  await connectMesh(hosts)
  const d = deal(3n)
  const dealId = idOf('Deal', testDomain, d)
  const cid = 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq'
  const heard: Array<{ accept: Accept, signature: string }> = []
  const receiver = new AcceptanceReceiver(rpHost, {
    networkId: NETWORK,
    domain: testDomain,
    lookup: async id => id === dealId ? { deal: d, resultCid: cid, jobCreatorPeer: jcHost.peerId.toString() } : undefined,
    onAcceptance: (accept, signature) => { heard.push({ accept, signature }) }
  })
  await receiver.start()
  t.teardown(async () => { await receiver.stop() })
  const rp = rpHost.peerId.toString()
  const send = async (from: typeof jcHost, accept: Accept, signer = jobCreator, domain = testDomain): Promise<string> => {
    try {
      await sendAcceptance(from, NETWORK, rp, { accept, signature: await signMessage('Accept', domain, accept, signer) })
      return 'ack'
    } catch (err) { return (err as Error & { code?: string }).code ?? (err as Error).name }
  }
  t.is(await send(jcHost, { dealId, resultCid: 'bafkreiotherresult' }), 'WRONG_RESULT')
  t.is(await send(jcHost, { dealId, resultCid: cid }, stranger), 'BAD_SIGNATURE')
  t.is(await send(jcHost, { dealId, resultCid: cid }, jobCreator, { ...testDomain, chainId: testDomain.chainId + 1n }), 'BAD_SIGNATURE')
  t.is(await send(jcHost, { dealId: idOf('Deal', testDomain, deal(4n)), resultCid: cid }), 'UNKNOWN_DEAL')
  t.is(await send(otherHost, { dealId, resultCid: cid }), 'UNKNOWN_DEAL', 'only the peer the result went to')
  t.is(heard.length, 0)
  t.is(await send(jcHost, { dealId, resultCid: cid }), 'ack')
  t.is(heard.length, 1)
  t.deepEqual(heard[0].accept, { dealId, resultCid: cid })
})
