import test from 'ava'
import { encode } from 'cborg'
import { Wallet, ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { signMessage, idOf, type Deal, type LilypadDomain, type Result } from '../eip712.ts'
import { MessageValidationError } from '../errors.ts'
import {
  checkAcceptance, decodeAcceptance, encodeAcceptance,
  checkResult, decodeResultDelivery, encodeResultDelivery, decodeResultAck, encodeResultAck,
  ResultRejectedError, type ResultDelivery
} from './messages.ts'

const domain: LilypadDomain = { chainId: 1337n, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' }
const provider = Wallet.createRandom()
const jobCreator = Wallet.createRandom()
const stranger = Wallet.createRandom()

const deal: Deal = {
  jobOfferId: keccak256(toUtf8Bytes('job')), resourceOfferId: ZeroHash, jobCreator: jobCreator.address, resourceProvider: provider.address,
  mediators: [stranger.address], price: 10n, collateral: 20n, mediationFee: 1n, auditPpm: 0, resultTimeout: 60, judgeWindow: 30,
  mediateTimeout: 120, expiry: 2_000_000_000n, nonce: 7n
}
const dealId = idOf('Deal', domain, deal)

async function delivery (signer = provider, over: Partial<Result> = {}, d: LilypadDomain = domain): Promise<ResultDelivery> {
  const result: Result = { dealId, resultCid: 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq', exitCode: 0, timestamp: 1_700_000_000n, ...over }
  return { result, signature: await signMessage('Result', d, result, signer), addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample'] }
}

test('a result signed by the deal\'s provider round-trips and checks', async t => {
  const d = await delivery()
  const back = decodeResultDelivery(encodeResultDelivery(d))
  t.deepEqual(back, d)
  t.deepEqual(checkResult(back, deal, dealId, domain), d.result)
})

test('a negative exit code survives the wire', async t => {
  const d = await delivery(provider, { exitCode: -9 })
  t.is(decodeResultDelivery(encodeResultDelivery(d)).result.exitCode, -9)
})

test('a result signed by someone else is rejected as BAD_SIGNATURE', async t => {
  const err = t.throws(() => { checkResult(decodeResultDelivery(encodeResultDelivery(d0)), deal, dealId, domain) }, { instanceOf: ResultRejectedError })
  t.is(err?.name, 'ResultRejectedError')
  t.is((err as ResultRejectedError).code, 'BAD_SIGNATURE')
})
let d0: ResultDelivery
test.before(async () => { d0 = await delivery(stranger) })

test('a result signed for another network is rejected as BAD_SIGNATURE', async t => {
  const other = await delivery(provider, {}, { ...domain, chainId: 31337n })
  const err = t.throws(() => checkResult(other, deal, dealId, domain), { instanceOf: ResultRejectedError })
  t.is((err as ResultRejectedError).code, 'BAD_SIGNATURE')
})

test('a result for another deal is rejected as WRONG_DEAL', async t => {
  const other = await delivery(provider, { dealId: keccak256(toUtf8Bytes('other deal')) })
  const err = t.throws(() => checkResult(other, deal, dealId, domain), { instanceOf: ResultRejectedError })
  t.is((err as ResultRejectedError).code, 'WRONG_DEAL')
})

test('a tampered CID no longer matches the provider\'s signature', async t => {
  const d = await delivery()
  const err = t.throws(() => checkResult({ ...d, result: { ...d.result, resultCid: 'bafkreitampered' } }, deal, dealId, domain), { instanceOf: ResultRejectedError })
  t.is((err as ResultRejectedError).code, 'BAD_SIGNATURE')
})

test('malformed bytes are a MessageValidationError, never a crash', t => {
  for (const bytes of [new Uint8Array([1, 2, 3]), encodeResultAck({ type: 'ack' }), new Uint8Array(20_000)]) {
    t.throws(() => decodeResultDelivery(bytes), { instanceOf: MessageValidationError })
  }
})

test('acks and rejections round-trip', t => {
  t.deepEqual(decodeResultAck(encodeResultAck({ type: 'ack' })), { type: 'ack' })
  t.deepEqual(decodeResultAck(encodeResultAck({ type: 'ack', acceptance: 'none' })), { type: 'ack', acceptance: 'none' }, 'no acceptance will follow')
  for (const bad of [[1, 'ack', 'maybe'], [1, 'ack', 1], [1, 'ack', 'no-acceptance', 'x']]) t.throws(() => decodeResultAck(encode(bad)), { instanceOf: MessageValidationError }, JSON.stringify(bad))
  t.deepEqual(decodeResultAck(encodeResultAck({ type: 'reject', code: 'WRONG_DEAL' })), { type: 'reject', code: 'WRONG_DEAL' })
})

test('an acceptance round-trips, and checks only for the deal, the result and the job creator it names', async t => {
  const cid = 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq'
  const accept = { dealId, resultCid: cid }
  const d = { accept, signature: await signMessage('Accept', domain, accept, jobCreator) }
  const back = decodeAcceptance(encodeAcceptance(d))
  t.deepEqual(back, d)
  t.deepEqual(checkAcceptance(back, deal, dealId, cid, domain), accept)
  const code = (f: () => unknown): string | undefined => (t.throws(f, { instanceOf: ResultRejectedError }) as ResultRejectedError | undefined)?.code
  t.is(code(() => checkAcceptance(back, deal, dealId, 'bafkreiother', domain)), 'WRONG_RESULT')
  t.is(code(() => checkAcceptance(back, deal, dealId, undefined, domain)), 'WRONG_RESULT', 'no result of ours yet')
  t.is(code(() => checkAcceptance(back, deal, keccak256(toUtf8Bytes('other deal')), cid, domain)), 'WRONG_DEAL')
  t.is(code(() => checkAcceptance({ accept, signature: providerAcceptance }, deal, dealId, cid, domain)), 'BAD_SIGNATURE', 'signed by the provider')
  t.is(code(() => checkAcceptance(back, deal, dealId, cid, { ...domain, chainId: 31337n })), 'BAD_SIGNATURE', 'another network')
  for (const bytes of [encodeResultAck({ type: 'ack' }), new Uint8Array([1, 2, 3]), new Uint8Array(2000)]) t.throws(() => decodeAcceptance(bytes), { instanceOf: MessageValidationError })
  t.deepEqual(decodeResultAck(encodeResultAck({ type: 'reject', code: 'WRONG_RESULT' })), { type: 'reject', code: 'WRONG_RESULT' })
})
let providerAcceptance = ''
test.before(async () => { providerAcceptance = await signMessage('Accept', domain, { dealId, resultCid: 'bafybeiamb5fiaai6eo4hj3xucpej3nj3ji3dk7xozsxe76v5363dlgbjjq' }, provider) })
