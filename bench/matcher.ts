// Matcher benchmark: 1,000 job offers against 10,000 live resource offers on one core, fixed seed,
// median of several runs. Time includes preparing (sorting/indexing) the offers once.
// Run: npx node bench/matcher.ts   (or import { benchMatcher })
import { fileURLToPath } from 'node:url'
import { match, prepareOffers, type LiveOffer } from '../protocols/matcher.ts'
import type { JobOffer } from '../protocols/eip712.ts'

export interface MatcherBenchOptions { jobs?: number, offers?: number, runs?: number, seed?: number, /** candidates per job (default 16) */ limit?: number }
export interface MatcherBenchResult { jobs: number, offers: number, ms: number, runsMs: number[], matchedJobs: number }

function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s + 0x6D2B79F5) >>> 0; let x = s; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296 }
}

const hex = (n: number, width: number): string => '0x' + n.toString(16).padStart(width, '0')

export function generate (jobs: number, offers: number, seed: number): { jobOffers: JobOffer[], live: LiveOffer[], now: bigint } {
  const r = rng(seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
  const now = 1_700_000_000n
  const mediators = Array.from({ length: 6 }, (_, i) => hex(0xa0 + i, 40))
  const modules = Array.from({ length: 20 }, (_, i) => `module-${i}:v1`)
  const pick = <T>(xs: T[], k: number): T[] => [...xs].sort(() => r() - 0.5).slice(0, k)
  const live: LiveOffer[] = Array.from({ length: offers }, (_, i) => ({
    id: hex(i + 1, 64),
    signature: '0x',
    peer: `peer-${i % 2000}`,
    offer: {
      provider: hex(0x10000 + (i % 2000), 40),
      slot: Math.floor(i / 2000),
      spec: { cpu: int(1, 64) * 1000, ramMb: int(1, 256) * 1024, diskMb: int(10, 2000) * 1024, gpus: int(0, 8), gpuVramMb: int(0, 80) * 1024, gpuModel: '', cudaVersion: 0 },
      modules: r() < 0.5 ? [] : pick(modules, int(1, 5)),
      price: BigInt(int(1, 1000)) * 10n ** 15n,
      collateral: 10n ** 18n,
      mediators: pick(mediators, int(1, 3)),
      expiry: now + BigInt(int(-30, 600)),
      nonce: BigInt(int(1, 1_000_000)),
      seedCommit: '0x' + '00'.repeat(32)
    }
  }))
  const jobOffers: JobOffer[] = Array.from({ length: jobs }, (_, i) => ({
    jobCreator: hex(0x90000 + i, 40),
    module: modules[int(0, modules.length - 1)],
    inputs: '{}',
    spec: { cpu: int(1, 32) * 1000, ramMb: int(1, 128) * 1024, diskMb: int(1, 500) * 1024, gpus: int(0, 2), gpuVramMb: int(0, 24) * 1024, gpuModel: '', cudaVersion: 0 },
    maxPrice: BigInt(int(1, 1000)) * 10n ** 15n,
    mediators: pick(mediators, int(1, 3)),
    target: '0x0000000000000000000000000000000000000000',
    timeout: 600,
    auditPpm: 0,
    expiry: now + 600n,
    nonce: BigInt(i + 1),
    seedCommit: '0x' + '00'.repeat(32)
  }))
  return { jobOffers, live, now }
}

export function benchMatcher (options: MatcherBenchOptions = {}): MatcherBenchResult {
  const jobs = options.jobs ?? 1000
  const offers = options.offers ?? 10_000
  const { jobOffers, live, now } = generate(jobs, offers, options.seed ?? 42)
  const runsMs: number[] = []
  let matchedJobs = 0
  for (let run = 0; run < (options.runs ?? 7); run++) {
    const t0 = performance.now()
    const prepared = prepareOffers(live)
    matchedJobs = 0
    for (const job of jobOffers) if (match(job, prepared, { now, limit: options.limit ?? 16 }).length > 0) matchedJobs++
    runsMs.push(performance.now() - t0)
  }
  const sorted = [...runsMs].sort((a, b) => a - b)
  return { jobs, offers, ms: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10, runsMs: runsMs.map(x => Math.round(x * 10) / 10), matchedJobs }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(benchMatcher()))
  console.log(JSON.stringify({ ...benchMatcher({ limit: 100_000 }), note: 'every compatible offer returned (no early exit)' }))
}
