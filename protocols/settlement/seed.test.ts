// The seed rules as pure functions: offer words and ids against the EIP-712 encoder, the seed's symmetry and its
// dependence on each input, and what a withheld seed pays (the property test compares them with the Market).
import test from 'ava'
import { Wallet, ZeroAddress, keccak256, toUtf8Bytes } from 'ethers'
import { idOf, type JobOffer, type ResourceOffer } from '../eip712.ts'
import { OFFER_WORDS, committeeSeed, deriveSeedSecret, offerIdFromWords, offerWords, seedCommitOf } from './seed.ts'
import { closeWithheld, newSeedPhase, revealSeed } from './committee.ts'

const domain = { chainId: 1337n, verifyingContract: '0x' + '11'.repeat(20) }
const secret = (s: string): string => keccak256(toUtf8Bytes(s))
const spec = { cpu: 1000, ramMb: 64, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: 'any', cudaVersion: 0 }
const job: JobOffer = { jobCreator: '0x' + 'aa'.repeat(20), module: 'cowsay:v0.0.1', inputs: '{"Message":"x"}', spec, maxPrice: 5n, mediators: ['0x' + 'bb'.repeat(20)], target: ZeroAddress, timeout: 60, auditPpm: 7, expiry: 99n, nonce: 3n, seedCommit: seedCommitOf(secret('jc')) }
const offer: ResourceOffer = { provider: '0x' + 'cc'.repeat(20), slot: 2, spec, modules: ['a', 'b'], price: 1n, collateral: 2n, mediators: ['0x' + 'bb'.repeat(20)], expiry: 99n, nonce: 4n, seedCommit: seedCommitOf(secret('rp')) }

test('an offer\'s words and secret give its EIP-712 id; anything else gives another or none', t => {
  t.is(offerWords('JobOffer', job).length, OFFER_WORDS.JobOffer)
  t.is(offerWords('ResourceOffer', offer).length, OFFER_WORDS.ResourceOffer)
  t.is(offerIdFromWords('JobOffer', domain, offerWords('JobOffer', job), secret('jc')), idOf('JobOffer', domain, job))
  t.is(offerIdFromWords('ResourceOffer', domain, offerWords('ResourceOffer', offer), secret('rp')), idOf('ResourceOffer', domain, offer))
  t.not(offerIdFromWords('JobOffer', domain, offerWords('JobOffer', job), secret('guess')), idOf('JobOffer', domain, job))
  t.is(offerIdFromWords('JobOffer', domain, offerWords('ResourceOffer', offer), secret('rp')), null)
  t.not(offerIdFromWords('JobOffer', { ...domain, chainId: 1n }, offerWords('JobOffer', job), secret('jc')), idOf('JobOffer', domain, job))
})

test('the seed is the same whoever revealed first, and changes with either secret and with the block', t => {
  const id = secret('deal')
  const block = secret('block')
  const s = committeeSeed(id, secret('jc'), secret('rp'), block)
  t.is(committeeSeed(id, secret('rp'), secret('jc'), block), s)
  t.not(committeeSeed(id, secret('jc2'), secret('rp'), block), s)
  t.not(committeeSeed(id, secret('jc'), secret('rp2'), block), s)
  t.not(committeeSeed(id, secret('jc'), secret('rp'), secret('other block')), s)
  t.not(committeeSeed(secret('deal2'), secret('jc'), secret('rp'), block), s)
})

test('a secret derived from a key is the same every time, and another offer\'s is another', async t => {
  const w = new Wallet(secret('key'))
  const sign = async (m: string): Promise<string> => await w.signMessage(m)
  const a = await deriveSeedSecret(sign, domain, 'ResourceOffer', w.address, 4n, 2)
  t.is(await deriveSeedSecret(sign, domain, 'ResourceOffer', w.address, 4n, 2), a)
  t.not(await deriveSeedSecret(sign, domain, 'ResourceOffer', w.address, 5n, 2), a)
  t.not(await deriveSeedSecret(sign, domain, 'JobOffer', w.address, 4n, 2), a)
})

test('reveal windows and a withheld seed\'s payouts (each sums to the escrow)', t => {
  const rules = { revealWindow: 100 }
  const p = newSeedPhase('0x01', 1000, 50, false)
  const named = '0x' + '22'.repeat(32)
  const at = (now: number, blockNumber: number, o: { provider?: boolean, proved?: string | null } = {}) => revealSeed(p, rules, { provider: o.provider ?? false, secret: secret('jc'), proved: o.proved === undefined ? named : o.proved, named, now, blockNumber })
  t.like(at(1001, 50), { ok: false, error: 'SeedRevealNotOpen' })
  t.like(at(1101, 51), { ok: false, error: 'SeedRevealClosed' })
  t.like(at(1001, 307), { ok: false, error: 'SeedRevealClosed' })
  t.like(at(1001, 306), { ok: true })
  t.like(at(1001, 51, { proved: null }), { ok: false, error: 'SeedMismatch' })
  const terms = { jobCreator: '0xjc', resourceProvider: '0xrp', mediators: [], price: 10n, collateral: 20n, mediationFee: 3n, auditPpm: 0, resultTimeout: 1, judgeWindow: 1, mediateTimeout: 1, expiry: 1n, nonce: 1n }
  t.like(closeWithheld(p, terms, rules, { now: 1100, blockNumber: 60 }), { ok: false, error: 'SeedRevealOpen' })
  const cases: Array<[string | null, string | null, number, Record<string, bigint>]> = [
    [secret('jc'), null, 6, { '0xjc': 33n }],
    [null, secret('rp'), 5, { '0xrp': 33n }],
    [null, null, 8, { '0xrp': 30n, '0xjc': 3n }]
  ]
  for (const [jcSecret, rpSecret, state, credits] of cases) {
    const r = closeWithheld({ ...p, jobCreatorSecret: jcSecret, providerSecret: rpSecret }, terms, rules, { now: 1101, blockNumber: 60 })
    if (!r.ok) { t.fail(r.error); continue }
    t.is(Number(r.settlement.state), state)
    t.deepEqual(Object.fromEntries(r.settlement.credits.map(c => [c.account, c.amount])), credits)
  }
})
