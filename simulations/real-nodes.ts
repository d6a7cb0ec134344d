// The real-node engine: the same small market on real libp2p nodes in this process — the mesh's host,
// gossip service, order book, announcer (with withdrawals), capacity and deal negotiation, composed as the
// mesh's own test parties do. Jobs arrive on a seeded schedule; the job creator matches on its own book and
// negotiates; the provider "runs" the job by holding the slot for the job's duration, then frees it (and
// re-announces). No chain: the match latency ends when the countersigned deal is back at the job creator.
import { OrderBook } from '../protocols/order-book.ts'
import { buildDeal, defaultDealTerms } from '../protocols/negotiation/messages.ts'
import { checkProposal } from '../protocols/negotiation/proposal.ts'
import { idOf, recoverSigner, signMessage, type JobOffer } from '../protocols/eip712.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, wallet, jobOffer, resourceOffer, signedJobOffer, nowSec, freshNonce } from '../node/testing/fixtures.ts'
import { startProvider, startJobCreator, type Provider, type JobCreator } from '../node/testing/parties.ts'
import type { LilypadHost } from '../node/host/create-host.ts'
import { Rng } from './rng.ts'

export interface RealRunOptions {
  providers: number
  jobCreators: number
  jobs: number
  seed: number
  /** mean time between job arrivals (ms) */
  arrivalMeanMs: number
  /** median job duration (ms), log-normal with sigma 0.5 */
  durationMedianMs: number
  /** a job creator retries after this when nobody agreed (ms) */
  retryMs: number
  /** give up a job after this long (ms) */
  patienceMs: number
}

// patience is long enough that no job runs out of it on a loaded machine (it then counted as unmatched and
// failed the calibration test); both engines get the same patience, and an uncontended match takes milliseconds
export const defaultRealRun: RealRunOptions = { providers: 6, jobCreators: 4, jobs: 30, seed: 1, arrivalMeanMs: 350, durationMedianMs: 400, retryMs: 200, patienceMs: 120_000 }

/** Set-up steps wait for their event however long a loaded machine takes; the test's own timeout bounds them. */
const SETUP_TIMEOUT_MS = 300_000

export interface RealRunResult {
  latenciesMs: number[]
  matched: number
  unmatched: number
  proposals: number
  declines: number
  declineReasons: Record<string, number>
  pingRttMs: number[]
  probeMs: number[]
  /** matches agreed by the first candidate asked: the uncontended path under the run's own load */
  firstTryMs: number[]
  setupS: number
  wallS: number
}

/** The schedule both engines run: arrival offsets, job creator index and duration of every job. */
export function realSchedule (o: RealRunOptions): Array<{ at: number, jc: number, durationMs: number }> {
  const rng = new Rng(`real-schedule:${o.seed}`)
  let t = 0
  return Array.from({ length: o.jobs }, () => {
    t += rng.exp(o.arrivalMeanMs)
    return { at: t, jc: rng.int(o.jobCreators), durationMs: rng.lognormal(o.durationMedianMs, 0.5) }
  })
}

export function providerPrice (i: number, seed: number): bigint {
  const rng = new Rng(`real-price:${seed}:${i}`)
  return 100n + BigInt(rng.int(100))
}

export async function runRealNodes (o: RealRunOptions = defaultRealRun): Promise<RealRunResult> {
  const t0 = performance.now()
  let hosts: LilypadHost[] = []
  const stops: Array<() => Promise<void>> = []
  try {
    hosts = await startHosts(o.providers + o.jobCreators)
    const providers: Provider[] = []
    const jcs: JobCreator[] = []
    for (let i = 0; i < o.providers; i++) {
      const p = await startProvider(hosts[i], wallet(`sim-rp-${o.seed}-${i}`), { price: providerPrice(i, o.seed), intervalMs: 10_000 })
      providers.push(p); stops.push(p.stop)
    }
    for (let j = 0; j < o.jobCreators; j++) {
      const jc = await startJobCreator(hosts[o.providers + j], wallet(`sim-jc-${o.seed}-${j}`))
      jcs.push(jc); stops.push(jc.stop)
    }
    await connectMesh(hosts)
    await waitForMesh(hosts, jcs[0].gossip.topics.resourceOffers, SETUP_TIMEOUT_MS)
    await Promise.all(providers.map(async p => await p.announcer.announce()))
    // every job creator's book holds every provider's offer
    await Promise.all(jcs.map(async jc => await new Promise<void>(resolve => {
      const has = (): boolean => providers.every(p => jc.gossip.book?.offers().some(l => l.offer.provider === p.wallet.address) === true)
      if (has()) { resolve(); return }
      const off = jc.gossip.onVerified(() => { if (has()) { off(); resolve() } })
    })))
    const pingRttMs: number[] = []
    for (let k = 0; k < Math.min(8, hosts.length - 1); k++) {
      // a ping that times out only leaves one calibration sample out
      try { pingRttMs.push(await hosts[k].services.ping.ping(hosts[k + 1].peerId, { signal: AbortSignal.timeout(2000) })) } catch {}
    }
    // job creators keep connections to the providers they deal with: open them first, as a running node has
    // (by address: a job creator the ring did not connect to a provider may not have learnt its addresses yet)
    await Promise.all(jcs.flatMap((_, j) => providers.map(async (_p, i) => await hosts[o.providers + j].dial(hosts[i].getMultiaddrs(), { signal: AbortSignal.timeout(SETUP_TIMEOUT_MS) }))))
    // probes: uncontended matches, one at a time, to calibrate the model's per-hop latency
    const probeMs: number[] = []
    for (let k = 0; k < 4; k++) {
      const jc = jcs[k % jcs.length]
      const start = performance.now()
      const job = await signedJobOffer(jc.wallet, jobOffer(jc.wallet.address, { nonce: freshNonce(), expiry: nowSec() + 300n }))
      const candidates = (jc.gossip.book as OrderBook).match(job.value, { now: nowSec(), limit: 32 })
      const agreed = await jc.negotiator.propose(job, candidates, jc.wallet)
      probeMs.push(performance.now() - start)
      const p = providers.find(x => x.wallet.address === agreed.deal.resourceProvider) as Provider
      // wait for the slot's fresh offer to reach this job creator before the next probe
      const back = new Promise<void>(resolve => { const off = jc.gossip.onVerified(v => { if (v.kind === 'ResourceOffer' && (v.value as { provider: string }).provider === p.wallet.address) { off(); resolve() } }) })
      p.capacity.release(agreed.dealId)
      await back
    }
    const setupS = (performance.now() - t0) / 1000
    const byAddress = new Map(providers.map(p => [p.wallet.address.toLowerCase(), p]))
    const latenciesMs: number[] = []
    const firstTryMs: number[] = []
    let unmatched = 0
    const timers = new Set<NodeJS.Timeout>()
    const sleep = async (ms: number): Promise<void> => await new Promise(resolve => { const h = setTimeout(() => { timers.delete(h); resolve() }, ms); timers.add(h) })
    stops.push(async () => { for (const h of timers) clearTimeout(h) })
    const runJob = async (s: { at: number, jc: number, durationMs: number }): Promise<void> => {
      const jc = jcs[s.jc]
      const start = performance.now()
      const job = await signedJobOffer(jc.wallet, jobOffer(jc.wallet.address, { nonce: freshNonce(), expiry: nowSec() + 300n }))
      const book = jc.gossip.book as OrderBook
      while (performance.now() - start < o.patienceMs) {
        const candidates = book.match(job.value, { now: nowSec(), limit: 32 })
        if (candidates.length > 0) {
          try {
            const agreed = await jc.negotiator.propose(job, candidates, jc.wallet)
            latenciesMs.push(performance.now() - start)
            if (agreed.deal.resourceOfferId === candidates[0].live.id) firstTryMs.push(performance.now() - start)
            const p = byAddress.get(agreed.deal.resourceProvider.toLowerCase()) as Provider
            p.capacity.confirm(agreed.dealId)
            await sleep(s.durationMs)
            p.capacity.release(agreed.dealId)
            return
          } catch (err) {
            if ((err as Error).name !== 'NoDealError') throw err
          }
        }
        await sleep(o.retryMs)
      }
      unmatched++
    }
    const runStart = performance.now()
    const work: Array<Promise<void>> = []
    for (const s of realSchedule(o)) {
      const wait = s.at - (performance.now() - runStart)
      if (wait > 0) await sleep(wait)
      work.push(runJob(s))
    }
    await Promise.all(work)
    const proposals = jcs.reduce((n, jc) => n + jc.negotiator.metrics.proposed, 0)
    const declines = jcs.reduce((n, jc) => n + Object.values(jc.negotiator.metrics.declined).reduce((a, b) => a + (b ?? 0), 0), 0)
    const declineReasons: Record<string, number> = {}
    for (const jc of jcs) for (const [k, v] of Object.entries(jc.negotiator.metrics.declined)) declineReasons[k] = (declineReasons[k] ?? 0) + (v ?? 0)
    return { latenciesMs, matched: latenciesMs.length, unmatched, proposals, declines, declineReasons, pingRttMs, probeMs, firstTryMs, setupS, wallS: (performance.now() - t0) / 1000 }
  } finally {
    // tearing down: a party that fails to stop must not keep the others (and the hosts) running
    for (const s of stops.reverse()) { try { await s() } catch (err) { console.error('a party did not stop cleanly:', (err as Error).message) } }
    await stopAll(hosts)
  }
}

/** Median cost (seconds) of the real protocol's CPU work per step, measured here (the DES processing delays). */
export async function measureProcessing (samples = 15): Promise<{ matchProcessing: number, proposalProcessing: number, rpProcessing: number, jcProcessing: number }> {
  const jcW = wallet('calibrate-jc')
  const rpW = wallet('calibrate-rp')
  const med = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
  const m: number[] = []; const pp: number[] = []; const rp: number[] = []; const jc: number[] = []
  for (let i = 0; i < samples; i++) {
    const offer = resourceOffer(rpW.address, { nonce: freshNonce() })
    const offerId = idOf('ResourceOffer', testDomain, offer)
    const book = new OrderBook()
    book.add({ offer, id: offerId, signature: '0x' }, nowSec())
    let t = performance.now()
    const job: JobOffer = jobOffer(jcW.address, { nonce: freshNonce() })
    const env = await signedJobOffer(jcW, job)
    const cands = book.match(job, { now: nowSec(), limit: 32 })
    m.push(performance.now() - t)
    t = performance.now()
    const jobId = idOf('JobOffer', testDomain, job)
    const deal = buildDeal(job, jobId, offer, offerId, cands[0].mediators, defaultDealTerms, nowSec())
    const dealId = idOf('Deal', testDomain, deal)
    const sig = await signMessage('Deal', testDomain, deal, jcW)
    pp.push(performance.now() - t)
    t = performance.now()
    const offerSig = await signMessage('ResourceOffer', testDomain, offer, rpW)
    const tRp = performance.now()
    checkProposal({ type: 'propose', job: env, deal: { kind: 'Deal', value: deal, signature: sig } }, { domain: testDomain, now: nowSec(), provider: rpW.address, ownOffer: id => id === offerId ? { offer, signature: offerSig } : undefined })
    const rpSig = await signMessage('Deal', testDomain, deal, rpW)
    rp.push(performance.now() - tRp)
    t = performance.now()
    recoverSigner('Deal', testDomain, deal, rpSig)
    jc.push(performance.now() - t)
    void dealId
  }
  return { matchProcessing: med(m) / 1000, proposalProcessing: med(pp) / 1000, rpProcessing: med(rp) / 1000, jcProcessing: med(jc) / 1000 }
}
