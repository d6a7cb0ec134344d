import test from 'ava'
import fc from 'fast-check'
import { match, prepareOffers, type LiveOffer } from './matcher.ts'
import type { JobOffer, ResourceOffer } from './eip712.ts'

const ZERO = '0x0000000000000000000000000000000000000000'
const providers = ['0x1000000000000000000000000000000000000001', '0x2000000000000000000000000000000000000002', '0x3000000000000000000000000000000000000003', '0xaBcD000000000000000000000000000000000004']
const mediators = ['0x00000000000000000000000000000000000000A1', '0x00000000000000000000000000000000000000b2', '0x00000000000000000000000000000000000000C3']
const modules = ['cowsay:v1', 'sdxl:v2', 'ollama:v3']
const NOW = 1_000_000n

const gpuFields = { cpu: fc.integer({ min: 0, max: 8 }), ramMb: fc.integer({ min: 0, max: 8 }), diskMb: fc.integer({ min: 0, max: 8 }), gpus: fc.integer({ min: 0, max: 3 }), gpuVramMb: fc.integer({ min: 0, max: 8 }), cudaVersion: fc.constantFrom(0, 12040, 13000) }
const OFFERED_MODELS = ['', 'NVIDIA H100 80GB HBM3', 'NVIDIA A100-SXM4-80GB']
const REQUIRED_MODELS = ['', 'H100', 'a100', 'NVIDIA H100 80GB HBM3', 'A10']
// Which required model each offered model satisfies, written out by hand (the oracle does not reuse the matcher).
const MODEL_OK: Record<string, string[]> = {
  '': REQUIRED_MODELS.filter(m => m === ''),
  'NVIDIA H100 80GB HBM3': ['', 'H100', 'NVIDIA H100 80GB HBM3'],
  'NVIDIA A100-SXM4-80GB': ['', 'a100']
}
const spec = fc.record({ ...gpuFields, gpuModel: fc.constantFrom(...OFFERED_MODELS) })
const requiredSpec = fc.record({ ...gpuFields, gpuModel: fc.constantFrom(...REQUIRED_MODELS) })

const offerArb = fc.record({
  provider: fc.constantFrom(...providers),
  slot: fc.integer({ min: 0, max: 3 }),
  spec,
  modules: fc.subarray(modules),
  price: fc.bigInt({ min: 0n, max: 20n }),
  collateral: fc.constant(10n),
  mediators: fc.subarray(mediators),
  expiry: fc.bigInt({ min: NOW - 5n, max: NOW + 50n }),
  nonce: fc.bigInt({ min: 0n, max: 5n }),
  seedCommit: fc.constant('0x' + '00'.repeat(32))
}) satisfies fc.Arbitrary<ResourceOffer>

const liveArb = fc.uniqueArray(fc.record({ offer: offerArb, id: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }).map(n => '0x' + n.toString(16).padStart(64, '0')), signature: fc.constant('0x') }), { selector: l => l.id, maxLength: 40 }) as fc.Arbitrary<LiveOffer[]>

const jobArb = fc.record({
  jobCreator: fc.constant(providers[0]),
  module: fc.constantFrom(...modules),
  inputs: fc.constant('{}'),
  spec: requiredSpec,
  maxPrice: fc.bigInt({ min: 0n, max: 20n }),
  mediators: fc.subarray(mediators, { minLength: 1 }),
  target: fc.constantFrom(ZERO, ZERO, providers[1]),
  timeout: fc.constant(60),
  auditPpm: fc.constant(0),
  expiry: fc.constant(NOW + 100n),
  nonce: fc.constant(1n), seedCommit: fc.constant('0x' + '00'.repeat(32))
}) satisfies fc.Arbitrary<JobOffer>

function compatible (job: JobOffer, o: ResourceOffer): boolean {
  const low = (xs: string[]): string[] => xs.map(x => x.toLowerCase())
  return o.expiry > NOW && o.price <= job.maxPrice &&
    o.spec.cpu >= job.spec.cpu && o.spec.ramMb >= job.spec.ramMb && o.spec.diskMb >= job.spec.diskMb && o.spec.gpus >= job.spec.gpus &&
    (job.spec.gpus === 0 || (o.spec.gpuVramMb >= job.spec.gpuVramMb && o.spec.cudaVersion >= job.spec.cudaVersion && MODEL_OK[o.spec.gpuModel].includes(job.spec.gpuModel))) &&
    (o.modules.length === 0 || o.modules.includes(job.module)) &&
    (job.target === ZERO || job.target.toLowerCase() === o.provider.toLowerCase()) &&
    low(o.mediators).some(m => low(job.mediators).includes(m))
}

/** The caps per provider and per peer lifted: these properties are about the order and the constraints. */
const UNCAPPED = { maxPerProvider: Infinity, maxPerPeer: Infinity }

const repArb = fc.dictionary(fc.constantFrom(...providers), fc.integer({ min: 0, max: 3 })).map(d => new Map(Object.entries(d)))

test('the same offers in any order give the same ranking', t => {
  fc.assert(fc.property(jobArb, liveArb, repArb, fc.infiniteStream(fc.nat()), (job, offers, reputation, seeds) => {
    const shuffled = [...offers]
    for (let i = shuffled.length - 1; i > 0; i--) { const j = seeds.next().value % (i + 1); [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]] }
    const a = match(job, offers, { now: NOW, reputation, limit: 100, ...UNCAPPED }).map(c => c.live.id)
    const b = match(job, shuffled, { now: NOW, reputation, limit: 100, ...UNCAPPED }).map(c => c.live.id)
    const c = match(job, prepareOffers(shuffled, reputation), { now: NOW, reputation, limit: 100, ...UNCAPPED }).map(c => c.live.id)
    t.deepEqual(a, b)
    t.deepEqual(a, c)
  }), { numRuns: 300 })
})

test('an incompatible offer is never returned; every compatible one is; price and resources hold', t => {
  fc.assert(fc.property(jobArb, liveArb, (job, offers) => {
    const got = match(job, offers, { now: NOW, limit: 1000, ...UNCAPPED })
    for (const c of got) {
      t.true(compatible(job, c.live.offer))
      t.true(c.price <= job.maxPrice)
      t.true(c.mediators.length > 0)
      const lower = c.mediators.map(m => m.toLowerCase())
      t.deepEqual(lower, [...lower].sort())
      t.true(lower.every(m => job.mediators.map(x => x.toLowerCase()).includes(m) && c.live.offer.mediators.map(x => x.toLowerCase()).includes(m)))
    }
    t.is(got.length, offers.filter(l => compatible(job, l.offer)).length)
  }), { numRuns: 300 })
})

test('with the default caps, the ranking is the uncapped one keeping each provider\'s first two, and a preference only reorders', t => {
  fc.assert(fc.property(jobArb, liveArb, repArb, (job, offers, reputation) => {
    const full = match(job, offers, { now: NOW, reputation, limit: 1000, ...UNCAPPED })
    const seen = new Map<string, number>()
    const expected = full.filter(c => { const p = c.live.offer.provider.toLowerCase(); const n = (seen.get(p) ?? 0) + 1; seen.set(p, n); return n <= 2 })
    t.deepEqual(match(job, offers, { now: NOW, reputation, limit: 1000, maxPerPeer: Infinity }).map(c => c.live.id), expected.map(c => c.live.id))
    const preferred = (p: string): boolean => p === providers[2].toLowerCase()
    const got = match(job, offers, { now: NOW, reputation, limit: 1000, ...UNCAPPED, prefer: p => preferred(p) })
    t.deepEqual(got.map(c => c.live.id), [...full.filter(c => preferred(c.live.offer.provider.toLowerCase())), ...full.filter(c => !preferred(c.live.offer.provider.toLowerCase()))].map(c => c.live.id))
  }), { numRuns: 300 })
})

test('ranking: price ascending, then reputation, then older nonce, then id', t => {
  fc.assert(fc.property(jobArb, liveArb, repArb, (job, offers, rep) => {
    const got = match(job, offers, { now: NOW, reputation: rep, limit: 1000, ...UNCAPPED })
    const rank = (l: LiveOffer): [bigint, number, bigint, string] => [l.offer.price, -(rep.get(l.offer.provider) ?? 0), l.offer.nonce, l.id]
    const expected = offers.filter(l => compatible(job, l.offer)).sort((a, b) => {
      const x = rank(a); const y = rank(b)
      for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1
      return 0
    })
    t.deepEqual(got.map(c => c.live.id), expected.map(l => l.id))
  }), { numRuns: 300 })
})

function live (id: number, over: Partial<ResourceOffer>): LiveOffer {
  return {
    id: '0x' + id.toString(16).padStart(64, '0'),
    signature: '0x',
    offer: { provider: providers[1], slot: 0, spec: { cpu: 4, ramMb: 4, diskMb: 4, gpus: 1, gpuVramMb: 4, gpuModel: '', cudaVersion: 0 }, modules: [], price: 5n, collateral: 10n, mediators: [mediators[0]], expiry: NOW + 10n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32), ...over }
  }
}
const job: JobOffer = { jobCreator: providers[0], module: 'cowsay:v1', inputs: '{}', spec: { cpu: 1, ramMb: 1, diskMb: 1, gpus: 1, gpuVramMb: 2, gpuModel: '', cudaVersion: 0 }, maxPrice: 10n, mediators: [mediators[2], mediators[0]], target: ZERO, timeout: 60, auditPpm: 0, expiry: NOW + 100n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32) }

test('ties: equal price → higher reputation first; equal reputation → older nonce; then smaller id', t => {
  const a = live(3, { provider: providers[1], nonce: 9n })
  const b = live(2, { provider: providers[2], nonce: 9n })
  const c = live(1, { provider: providers[3], nonce: 5n })
  const d = live(4, { provider: providers[3], nonce: 5n, price: 4n })
  const rep = new Map([[providers[2].toLowerCase(), 7], [providers[1], 7]])
  t.deepEqual(match(job, [a, b, c, d], { now: NOW, reputation: rep }).map(x => x.live.id), [d.id, b.id, a.id, c.id])
  t.deepEqual(match(job, [a, b, c, d], { now: NOW }).map(x => x.live.id), [d.id, c.id, b.id, a.id])
  t.deepEqual(match(job, [a, b, c, d], { now: NOW, limit: 2 }).map(x => x.live.id), [d.id, c.id])
})

test('constraints: gpu vram, module list, target, expiry, mediator intersection ascending', t => {
  const lowVram = live(1, { spec: { cpu: 4, ramMb: 4, diskMb: 4, gpus: 1, gpuVramMb: 1, gpuModel: '', cudaVersion: 0 } })
  const otherModule = live(2, { modules: ['sdxl:v2'] })
  const expired = live(3, { expiry: NOW })
  const tooPricey = live(4, { price: 11n })
  const noMediator = live(5, { mediators: [mediators[1]] })
  const good = live(6, { mediators: [mediators[2], mediators[1], mediators[0]], modules: ['cowsay:v1'] })
  const got = match(job, [lowVram, otherModule, expired, tooPricey, noMediator, good], { now: NOW })
  t.deepEqual(got.map(c => c.live.id), [good.id])
  t.deepEqual(got[0].mediators, [mediators[0], mediators[2]])
  t.deepEqual(match({ ...job, target: providers[2] }, [good], { now: NOW }), [])
  t.deepEqual(match({ ...job, expiry: NOW }, [good], { now: NOW }), [])
})

test('sixteen junk offers from one key priced at 0 cannot hide the seventeenth: per-key caps, and exclusions applied before the limit', t => {
  const junk = Array.from({ length: 16 }, (_, i) => ({ ...live(100 + i, { provider: providers[3], slot: i, price: 0n }), peer: 'junk-peer' }))
  const honest = { ...live(200, { provider: providers[1], price: 5n }), peer: 'honest-peer' }
  // the ranking takes at most one offer of one peer (and two of one key)
  const ranked = match(job, [...junk, honest], { now: NOW })
  t.deepEqual(ranked.map(c => c.live.id), [junk[0].id, honest.id])
  t.deepEqual(match(job, [...junk, honest], { now: NOW, maxPerPeer: 100 }).map(c => c.live.id), [junk[0].id, junk[1].id, honest.id])
  // with the caps lifted, the junk fills the limit…
  t.false(match(job, [...junk, honest], { now: NOW, maxPerProvider: 100, maxPerPeer: 100 }).some(c => c.live.id === honest.id))
  // …but a key the job creator excluded (it failed it) uses none of the limit
  const excluded = match(job, [...junk, honest], { now: NOW, maxPerProvider: 100, maxPerPeer: 100, exclude: p => p === providers[3].toLowerCase() })
  t.deepEqual(excluded.map(c => c.live.id), [honest.id])
  // many keys bound to one peer are capped by the peer
  const sybils = Array.from({ length: 16 }, (_, i) => ({ ...live(300 + i, { provider: '0x' + (0xabc00 + i).toString(16).padStart(40, '0'), price: 0n }), peer: 'one-peer' }))
  t.deepEqual(match(job, [...sybils, honest], { now: NOW }).map(c => c.live.peer), ['one-peer', 'honest-peer'])
  // an excluded peer is skipped whatever key it speaks for
  t.deepEqual(match(job, [...sybils, honest], { now: NOW, exclude: (_p, peer) => peer === 'one-peer' }).map(c => c.live.id), [honest.id])
})

test('GPUs: pairs by count, model (name tokens) and minimum VRAM; GPU terms do not bind CPU jobs', t => {
  const gpuOffer = (id: number, gpus: number, gpuModel: string, gpuVramMb: number, cudaVersion = 13000): LiveOffer =>
    live(id, { spec: { cpu: 4, ramMb: 4, diskMb: 4, gpus, gpuVramMb, gpuModel, cudaVersion } })
  const h200 = gpuOffer(1, 1, 'NVIDIA H200', 143771)
  const h100x2 = gpuOffer(2, 2, 'NVIDIA H100 80GB HBM3', 81559)
  const a100 = gpuOffer(3, 1, 'NVIDIA A100-SXM4-40GB', 40960, 12040)
  const rtx = gpuOffer(4, 1, 'NVIDIA GeForce RTX 4090', 24564)
  const cpuOnly = gpuOffer(5, 0, '', 0)
  const all = [h200, h100x2, a100, rtx, cpuOnly]
  const ids = (spec: Partial<JobOffer['spec']>): string[] =>
    match({ ...job, spec: { ...job.spec, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, ...spec } }, all, { now: NOW, ...UNCAPPED }).map(c => c.live.id).sort()
  t.deepEqual(ids({ gpus: 1, gpuModel: 'H200' }), [h200.id])
  t.deepEqual(ids({ gpus: 1, gpuModel: 'h100' }), [h100x2.id])
  t.deepEqual(ids({ gpus: 2 }), [h100x2.id])
  t.deepEqual(ids({ gpus: 1, gpuModel: 'RTX 4090' }), [rtx.id])
  t.deepEqual(ids({ gpus: 1, gpuModel: 'A10' }), [], '"A10" is not "A100"')
  t.deepEqual(ids({ gpus: 1, gpuVramMb: 80_000 }), [h200.id, h100x2.id].sort())
  t.deepEqual(ids({ gpus: 1, cudaVersion: 13000 }), [h200.id, h100x2.id, rtx.id].sort())
  t.deepEqual(ids({ gpus: 0 }), all.map(o => o.id).sort(), 'a CPU job may run on a GPU machine')
})
