// Order-book sync between real libp2p hosts on 127.0.0.1.
import test from 'ava'
import { ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { idOf, signMessage, type Deal, type Result } from '../../protocols/eip712.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { startHosts, connectMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, signedResourceOffer } from '../testing/fixtures.ts'
import { OfferSync } from './offer-sync.ts'

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

test('order-book sync: a node that connects gets the peer\'s live offers, validated, with the providers\' addresses', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  const [rpHost, jcHost] = hosts
  const good = { ...(await signedResourceOffer(provider, resourceOffer(provider.address))), peer: rpHost.peerId.toString() }
  const forged = { ...(await signedResourceOffer(stranger, resourceOffer(provider.address, { slot: 1 }))), peer: rpHost.peerId.toString() }
  const serving = new OfferSync(rpHost, { networkId: NETWORK, domain: testDomain, ownOffers: () => [good, forged] })
  await serving.start({ serve: true })
  const book = new OrderBook()
  const pulling = new OfferSync(jcHost, { networkId: NETWORK, domain: testDomain, book })
  await pulling.start({ serve: false, pull: true })
  t.teardown(async () => { await pulling.stop(); await serving.stop() })
  const synced = new Promise<void>(resolve => { pulling.onSynced(resolve) })
  await connectMesh(hosts)
  await synced
  t.is(book.size, 1, 'the forged offer was dropped')
  t.is(book.offers()[0].offer.provider, provider.address)
  t.is(book.offers()[0].peer, rpHost.peerId.toString())
})
