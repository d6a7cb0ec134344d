import test from 'ava'
import fc from 'fast-check'
import { Wallet } from 'ethers'
import { askKey, jobOfferForSlot, slotAsk } from './slot-ask.ts'
import { isCompatible, match, type LiveOffer } from './matcher.ts'
import { idOf, signMessage, type JobOffer, type MachineSpec, type ResourceOffer } from './eip712.ts'
import { buildDeal, defaultDealTerms } from './negotiation/messages.ts'
import { checkProposal } from './negotiation/proposal.ts'
import { canaryAsk, defaultCanaryTemplates } from './incentives/canary.ts'

const NOW = 1_000_000n
const domain = { chainId: 31337n, verifyingContract: '0x' + '5'.repeat(40) }
const MEDIATOR = '0x' + 'a1'.repeat(20)
const spec = (cpu: number, ramMb: number, extra: Partial<MachineSpec> = {}): MachineSpec => ({ cpu, ramMb, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, ...extra })
const jobWith = (s: MachineSpec, maxPrice = 10n, jobCreator = '0x' + '2'.repeat(40)): JobOffer => ({
  jobCreator, module: 'cowsay:v0.0.1', inputs: '{"Message":"moo"}', spec: s, maxPrice, mediators: [MEDIATOR], target: '0x' + '0'.repeat(40),
  timeout: 60, auditPpm: 0, expiry: NOW + 600n, nonce: 7n, seedCommit: '0x' + '00'.repeat(32)
})
const offerOf = (provider: string, slot: number, s: MachineSpec, price = 1n): ResourceOffer => ({
  provider, slot, spec: s, modules: [], price, collateral: 2n, mediators: [MEDIATOR], expiry: NOW + 60n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32)
})
const live = (o: ResourceOffer): LiveOffer => ({ offer: o, id: idOf('ResourceOffer', domain, o), signature: '0x' })

test('a job asks for the whole slot it is matched to: its CPU and memory, the rest as required; never less than required', t => {
  t.deepEqual(slotAsk(spec(500, 64), spec(4000, 8192)), spec(4000, 8192))
  // disk and GPU terms stay the job's: a CPU job on a GPU slot asks no GPU; the result bound (disk) is the module's
  t.deepEqual(slotAsk(spec(500, 64, { diskMb: 50 }), spec(4000, 8192, { gpus: 2, gpuVramMb: 24_000, gpuModel: 'H100' })), spec(4000, 8192, { diskMb: 50 }))
  t.deepEqual(slotAsk(spec(2000, 4096, { gpus: 1, gpuModel: 'H100' }), spec(4000, 8192, { gpus: 2 })), spec(4000, 8192, { gpus: 1, gpuModel: 'H100' }))
  // a requirement above the slot (a slot the matcher would refuse) is never lowered: the provider then refuses the job
  t.deepEqual(slotAsk(spec(4000, 8192), spec(1000, 1024)), spec(4000, 8192))
  t.is(askKey(spec(4000, 8192)), askKey(slotAsk(spec(500, 64), spec(4000, 8192))))
  // only the spec moves: every other field, nonce and seed commitment included, as matched
  const job = jobWith(spec(500, 64))
  const bound = jobOfferForSlot(job, offerOf('0x' + '1'.repeat(40), 0, spec(4000, 8192)))
  t.deepEqual({ ...bound, spec: job.spec }, job)
})

test('a canary and real jobs proposed to one slot ask the same: a user\'s plain run, one with --cpu/--ram below the slot, the canary the validator planned', t => {
  const slot = offerOf('0x' + '1'.repeat(40), 0, spec(2000, 4096))
  const cowsay = defaultCanaryTemplates.find(c => c.module === 'cowsay:v0.0.1')!
  const canary = jobOfferForSlot(jobWith(spec(cowsay.cpu, cowsay.ramMb), 10n, '0x' + '3'.repeat(40)), slot)
  const plain = jobOfferForSlot(jobWith(spec(cowsay.cpu, cowsay.ramMb)), slot)
  const raised = jobOfferForSlot(jobWith(spec(1000, 2048)), slot)
  t.deepEqual(canary.spec, plain.spec)
  t.deepEqual(raised.spec, plain.spec)
  t.like(canary.spec, canaryAsk(cowsay, slot.spec), 'the validator\'s model of the canary (PlannedCanary.ask) is the same rule')
  // the attack, as a rule a provider could run: "a job asking exactly my slot is a canary"
  const looksLikeCanary = (j: JobOffer): boolean => j.spec.cpu === slot.spec.cpu && j.spec.ramMb === slot.spec.ramMb
  t.deepEqual([canary, plain, raised].map(looksLikeCanary), [true, true, true], 'every job asks exactly the slot: the rule tells nothing')
})

test('matching, price and fit are unchanged: the matched offer bound to its slot still fits it, pays the offer\'s price (never above the job\'s maximum), and a job that fits no slot is refused', t => {
  fc.assert(fc.property(
    fc.record({ cpu: fc.integer({ min: 0, max: 8000 }), ramMb: fc.integer({ min: 0, max: 16_384 }) }),
    fc.array(fc.record({ cpu: fc.integer({ min: 0, max: 8000 }), ramMb: fc.integer({ min: 0, max: 16_384 }), price: fc.bigInt({ min: 0n, max: 20n }) }), { maxLength: 8 }),
    fc.bigInt({ min: 0n, max: 20n }),
    (need, slots, maxPrice) => {
      const job = jobWith(spec(need.cpu, need.ramMb), maxPrice)
      const offers = slots.map((s, i) => live(offerOf('0x' + (i + 1).toString(16).padStart(40, '0'), 0, spec(s.cpu, s.ramMb), s.price)))
      const candidates = match(job, offers, { now: NOW, limit: 16 })
      const fitting = offers.filter(o => o.offer.spec.cpu >= need.cpu && o.offer.spec.ramMb >= need.ramMb && o.offer.price <= maxPrice)
      if (candidates.length !== fitting.length) return false
      for (const c of candidates) {
        const bound = jobOfferForSlot(job, c.live.offer)
        // exactly the slot, never more than it has, never less than required; the provider's compatibility check passes
        if (bound.spec.cpu !== c.live.offer.spec.cpu || bound.spec.ramMb !== c.live.offer.spec.ramMb) return false
        if (bound.spec.cpu < need.cpu || bound.spec.ramMb < need.ramMb) return false
        if (!isCompatible(bound, c.live, NOW)) return false
        // the deal pays the offer's price per job, whatever the job asks; the job's maximum still binds the match
        const deal = buildDeal(bound, idOf('JobOffer', domain, bound), c.live.offer, c.live.id, c.mediators, defaultDealTerms, NOW)
        if (deal.price !== c.live.offer.price || deal.price > maxPrice || deal.collateral !== c.live.offer.collateral || deal.nonce !== job.nonce) return false
      }
      return true
    }
  ))
  // a job too big for every slot: no candidate, as before
  t.deepEqual(match(jobWith(spec(8000, 4096)), [live(offerOf('0x' + '1'.repeat(40), 0, spec(4000, 8192)))], { now: NOW }), [])
})

test('the provider\'s own proposal check accepts the job offer bound to its slot, and the deal names that offer', async t => {
  const jc = Wallet.createRandom()
  const provider = '0x' + '1'.repeat(40)
  const offer = offerOf(provider, 0, spec(4000, 8192))
  const l = live(offer)
  const job = jobOfferForSlot(jobWith(spec(500, 64), 10n, jc.address), offer)
  const jobSig = await signMessage('JobOffer', domain, job, jc)
  const deal = buildDeal(job, idOf('JobOffer', domain, job), offer, l.id, [MEDIATOR], defaultDealTerms, NOW)
  const checked = checkProposal({ type: 'propose', job: { kind: 'JobOffer', value: job, signature: jobSig }, deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', domain, deal, jc) } }, {
    domain, now: NOW, provider, ownOffer: id => id === l.id ? { offer, signature: '0x' } : undefined
  })
  t.deepEqual(checked.job.spec, spec(4000, 8192))
  t.is(checked.jobOfferId, deal.jobOfferId)
})
