// The dispute hand-off's pure parts: the wire messages round-trip, and a mediator's checks refuse a forged job
// offer, another deal, or another job with named errors.
import test from 'ava'
import { ZeroHash } from 'ethers'
import { idOf, signMessage, type Deal } from '../eip712.ts'
import { wallet, jobOffer, signedJobOffer, testDomain, mediatorA } from '../../node/testing/fixtures.ts'
import {
  decodeDispute, encodeDispute, verifyDisputeCase, DealMismatchError, ForgedJobOfferError, JobOfferMismatchError,
  DisputeVerificationError, type DisputeCase
} from './index.ts'
import { MessageValidationError } from '../errors.ts'

const jc = wallet('dispute-jc')
const rp = wallet('dispute-rp')
const stranger = wallet('dispute-stranger')

async function makeCase (): Promise<DisputeCase> {
  const job = await signedJobOffer(jc, jobOffer(jc.address))
  const deal: Deal = {
    jobOfferId: idOf('JobOffer', testDomain, job.value),
    resourceOfferId: ZeroHash,
    jobCreator: jc.address,
    resourceProvider: rp.address,
    mediators: [mediatorA],
    price: 10n ** 19n,
    collateral: 2n * 10n ** 19n,
    mediationFee: 10n ** 18n,
    auditPpm: 0,
    resultTimeout: 600,
    judgeWindow: 300,
    mediateTimeout: 900,
    expiry: 2_000_000_000n,
    nonce: job.value.nonce
  }
  return { dealId: idOf('Deal', testDomain, deal), deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', testDomain, deal, jc) }, jobOffer: job }
}

test('a case, a request and every reply round-trip through the codec', async t => {
  const c = await makeCase()
  const back = decodeDispute(encodeDispute({ type: 'case', ...c }))
  t.deepEqual(back, { type: 'case', ...c })
  t.deepEqual(decodeDispute(encodeDispute({ type: 'request', dealId: c.dealId })), { type: 'request', dealId: c.dealId })
  t.deepEqual(decodeDispute(encodeDispute({ type: 'refuse', code: 'FORGED_JOB_OFFER' })), { type: 'refuse', code: 'FORGED_JOB_OFFER' })
  t.deepEqual(decodeDispute(encodeDispute({ type: 'ack' })), { type: 'ack' })
  t.deepEqual(decodeDispute(encodeDispute({ type: 'unknown' })), { type: 'unknown' })
})

test('garbage, unknown messages and unknown refusal codes are MALFORMED', t => {
  for (const bytes of [new Uint8Array([0xff, 0x00]), encodeDispute({ type: 'ack' }).subarray(0, 1)]) {
    const err = t.throws(() => decodeDispute(bytes), { instanceOf: MessageValidationError })
    t.is(err?.code, 'MALFORMED')
  }
  const bogus = encodeDispute({ type: 'refuse', code: 'INTERNAL' })
  bogus[bogus.length - 1] = 0x58 // 'INTERNAX'
  t.is(t.throws(() => decodeDispute(bogus), { instanceOf: MessageValidationError })?.code, 'MALFORMED')
})

test('an honest case verifies against the challenged deal id', async t => {
  const c = await makeCase()
  t.notThrows(() => { verifyDisputeCase(c, testDomain, c.dealId) })
})

test('a case for another deal than the challenged one is DealMismatchError', async t => {
  const c = await makeCase()
  const other = await makeCase()
  const err = t.throws(() => { verifyDisputeCase(c, testDomain, other.dealId) }, { instanceOf: DealMismatchError })
  t.is(err?.name, 'DealMismatchError')
  t.is(err?.code, 'DEAL_MISMATCH')
  // the right id with altered terms: the deal no longer hashes to it
  const altered = { ...c, deal: { ...c.deal, value: { ...c.deal.value, price: 1n } } }
  t.is(t.throws(() => { verifyDisputeCase(altered, testDomain, c.dealId) })?.name, 'DealMismatchError')
})

test('another job offer of the same job creator is JobOfferMismatchError', async t => {
  const c = await makeCase()
  const otherJob = await signedJobOffer(jc, jobOffer(jc.address, { inputs: '{"Message":"not what was agreed"}' }))
  const err = t.throws(() => { verifyDisputeCase({ ...c, jobOffer: otherJob }, testDomain, c.dealId) }, { instanceOf: JobOfferMismatchError })
  t.is(err?.code, 'JOB_OFFER_MISMATCH')
})

test('the right job offer signed by someone else is ForgedJobOfferError', async t => {
  const c = await makeCase()
  const forged = { ...c.jobOffer, signature: await signMessage('JobOffer', testDomain, c.jobOffer.value, stranger) }
  const err = t.throws(() => { verifyDisputeCase({ ...c, jobOffer: forged }, testDomain, c.dealId) }, { instanceOf: ForgedJobOfferError })
  t.is(err?.code, 'FORGED_JOB_OFFER')
  t.true(err instanceof DisputeVerificationError)
  // a signature for another network recovers another address: also forged
  const otherNet = { ...c.jobOffer, signature: await signMessage('JobOffer', { ...testDomain, chainId: 1n }, c.jobOffer.value, jc) }
  t.is(t.throws(() => { verifyDisputeCase({ ...c, jobOffer: otherNet }, testDomain, c.dealId) })?.name, 'ForgedJobOfferError')
})
