import test from 'ava'
import { idOf, signMessage, type Deal } from '../eip712.ts'
import { buildDeal, decodeNegotiation, encodeNegotiation, decodeCandidates, encodeCandidates, defaultDealTerms } from './messages.ts'
import { checkProposal, DeclineError } from './proposal.ts'
import { MessageValidationError } from '../errors.ts'
import { testDomain, wallet, resourceOffer, jobOffer, signedJobOffer, signedResourceOffer, nowSec, mediatorA, mediatorB } from '../../node/testing/fixtures.ts'

const rp = wallet('neg-rp')
const jc = wallet('neg-jc')

async function setup (dealOver: Partial<Deal> = {}) {
  const offer = resourceOffer(rp.address, { mediators: [mediatorB, mediatorA] })
  const offerEnv = await signedResourceOffer(rp, offer)
  const offerId = idOf('ResourceOffer', testDomain, offer)
  const job = await signedJobOffer(jc, jobOffer(jc.address, { mediators: [mediatorA, mediatorB] }))
  const now = nowSec()
  const deal = { ...buildDeal(job.value, idOf('JobOffer', testDomain, job.value), offer, offerId, [mediatorB, mediatorA], defaultDealTerms, now), ...dealOver }
  const propose = { type: 'propose' as const, job, deal: { kind: 'Deal' as const, value: deal, signature: await signMessage('Deal', testDomain, deal, jc) } }
  const ctx = { domain: testDomain, now, provider: rp.address, ownOffer: (id: string) => id === offerId ? { offer, signature: offerEnv.signature } : undefined }
  return { propose, ctx, deal, offerEnv }
}

test('messages round-trip; a good proposal passes the provider\'s checks', async t => {
  const { propose, ctx, deal, offerEnv } = await setup()
  const back = decodeNegotiation(encodeNegotiation(propose))
  t.deepEqual(back, propose)
  const checked = checkProposal(back as typeof propose, ctx)
  t.is(checked.dealId, idOf('Deal', testDomain, deal))
  const lower = deal.mediators.map(m => m.toLowerCase())
  t.deepEqual(lower, [...lower].sort())
  t.deepEqual(decodeNegotiation(encodeNegotiation({ type: 'decline', reason: 'NO_CAPACITY' })), { type: 'decline', reason: 'NO_CAPACITY' })
  const accept = { type: 'accept' as const, dealId: checked.dealId, providerSignature: await signMessage('Deal', testDomain, deal, rp) }
  t.deepEqual(decodeNegotiation(encodeNegotiation(accept)), accept)
  const c = { type: 'candidates' as const, jobOfferId: deal.jobOfferId, offers: [{ ...offerEnv, peer: '12D3KooWpeer' }] }
  t.deepEqual(decodeCandidates(encodeCandidates(c)), c)
  t.throws(() => decodeNegotiation(new Uint8Array([0x83, 0x01])), { instanceOf: MessageValidationError })
})

test('the provider declines bad proposals with the right reason', async t => {
  const reason = async (over: Partial<Deal>, mutate?: (p: Awaited<ReturnType<typeof setup>>) => void): Promise<string> => {
    const s = await setup(over)
    mutate?.(s)
    return t.throws(() => checkProposal(s.propose, s.ctx), { instanceOf: DeclineError })?.reason ?? ''
  }
  t.is(await reason({ price: 1n }), 'TERMS')
  t.is(await reason({ mediationFee: 10n ** 6n }), 'TERMS')
  t.is(await reason({ mediators: [mediatorA, mediatorB].sort((a, b) => a.toLowerCase() < b.toLowerCase() ? 1 : -1) }), 'TERMS')
  t.is(await reason({ resourceProvider: wallet('other').address }), 'WRONG_PROVIDER')
  t.is(await reason({ resourceOfferId: '0x' + '00'.repeat(32) }), 'UNKNOWN_OFFER')
  t.is(await reason({ expiry: nowSec() - 1n }), 'EXPIRED')
  t.is(await reason({ nonce: 1n }), 'TERMS')
  t.is(await reason({}, s => { s.propose.deal.signature = s.propose.job.signature }), 'BAD_SIGNATURE')
  t.is(await reason({}, s => { s.propose.job = { ...s.propose.job, value: { ...s.propose.job.value, maxPrice: 1n } } }), 'BAD_SIGNATURE')
})

test('a deal\'s expiry is judged by the chain\'s clock, the offers\' by the provider\'s own', async t => {
  // the chain two hours ahead of the provider's clock: a deal built from the chain's time passes only when the check
  // uses it too; one built from the provider's clock is already expired on chain
  const ahead = 7200n
  const s = await setup({ expiry: nowSec() + ahead + 100n })
  t.is(checkProposal(s.propose, { ...s.ctx, chainNow: s.ctx.now + ahead }).dealId, idOf('Deal', testDomain, s.propose.deal.value))
  t.is(t.throws(() => checkProposal(s.propose, s.ctx), { instanceOf: DeclineError })?.reason, 'TERMS', 'two hours ahead of the provider\'s clock: too long a countersignature')
  const stale = await setup()
  t.is(t.throws(() => checkProposal(stale.propose, { ...stale.ctx, chainNow: stale.ctx.now + ahead }), { instanceOf: DeclineError })?.reason, 'EXPIRED', 'expired by block time')
})

test('the provider\'s terms: a result window it can meet, bounded durations, a short-lived countersignature, no unpaid audits', async t => {
  const { checkTerms, minResultTimeout, defaultProviderTerms, UnacceptableTermsError } = await import('./terms.ts')
  const rule = async (over: Partial<Deal>, job: Partial<import('../eip712.ts').JobOffer> = {}, fetchSec = 0): Promise<string | undefined> => {
    const s = await setup(over)
    try { checkTerms(s.deal, { ...s.propose.job.value, ...job }, nowSec(), defaultProviderTerms, fetchSec); return undefined } catch (err) {
      t.true(err instanceof UnacceptableTermsError)
      return (err as InstanceType<typeof UnacceptableTermsError>).rule
    }
  }
  t.is(minResultTimeout(60, defaultProviderTerms, 0), 68)
  t.is(minResultTimeout(60, defaultProviderTerms, 30), 98)
  t.is(await rule({}), undefined, 'the job creator\'s defaults are signed')
  t.is(await rule({ resultTimeout: 0 }, { timeout: 0 }), 'job.timeout')
  t.is(await rule({ resultTimeout: 61 }), 'resultTimeout')
  t.is(await rule({ resultTimeout: 80 }, {}, 30), 'resultTimeout', 'a module that must be fetched needs the fetch time too')
  t.is(await rule({ resultTimeout: 26 * 3600 }), 'resultTimeout')
  t.is(await rule({}, { timeout: 25 * 3600 }), 'job.timeout')
  t.is(await rule({ judgeWindow: 30 * 86400 }), 'judgeWindow')
  t.is(await rule({ mediateTimeout: 30 * 86400 }), 'mediateTimeout')
  t.is(await rule({ expiry: 16_725_225_600n }), 'expiry')
  t.is(await rule({ auditPpm: 10 }), 'mediationFee')
  t.is(await rule({ auditPpm: 10, mediationFee: 1n }), undefined)
  // checkProposal declines them with TERMS
  const s = await setup({ resultTimeout: 1 })
  t.is(t.throws(() => checkProposal(s.propose, s.ctx), { instanceOf: DeclineError })?.reason, 'TERMS')
})
