// Wiring the dispute hand-off into the two parties of a deal.
// Job creator: when its deal is challenged (or audited), push the case to the drawn mediator; answer pulls from
// its deal store. Provider: answer pulls from its deal store, and — as a fallback for a job creator that is
// offline — push the case itself when a submission of its own was audited on chain.
import { signMessage, type Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import type { ChainClient } from '../chain/index.ts'
import type { Directory } from '../directory/index.ts'
import { DisputeService, type DisputeNode } from './service.ts'
import { handOffDispute } from './hand-off.ts'
import { caseSource, type KeptDeal } from './cases.ts'

interface PartyInit {
  host: DisputeNode
  chain: ChainClient
  networkId: string
  /** the DHT directory, to find a mediator that registered no peer id on chain */
  directory?: Directory
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

/** What the wiring needs of node/roles/job-creator.ts `JobCreator`. */
export interface DisputingJobCreator {
  onDispute: (hook: (d: { dealId: string, deal: Deal, jobOffer: Envelope<'JobOffer'>, mediator: string }) => Promise<void>) => void
  deals: { get: (id: string) => Promise<{ dealId: string, deal: Deal, job: Envelope<'JobOffer'> } | undefined> }
}

/** What the wiring needs of node/roles/resource-provider.ts `ResourceProvider`. */
export interface DisputingProvider {
  deals: { get: (id: string) => Promise<KeptDeal | undefined> }
  on: (event: 'deal', listener: (rec: KeptDeal & { state: string }) => void) => unknown
  off: (event: 'deal', listener: (rec: KeptDeal & { state: string }) => void) => unknown
}

/**
 * Starts the job creator's side of disputes: every dispute hook call pushes the case to the mediator; pulls are
 * answered from the job creator's deal store (the deal envelope is signed again with the job creator's key, which
 * is its own). Uses the host's shared DisputeService; returns it and a stop function.
 */
export async function startJobCreatorDisputes (jc: DisputingJobCreator, init: PartyInit): Promise<{ disputes: DisputeService, stop: () => Promise<void> }> {
  const wallet = init.chain.wallet
  const domain = init.chain.domain
  const toCase = async (dealId: string, deal: Deal, jobOffer: Envelope<'JobOffer'>): Promise<DisputeCase> =>
    ({ dealId, deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', domain, deal, wallet) }, jobOffer })
  const disputes = DisputeService.shared(init.host, init.networkId)
  const dropSource = disputes.addSource(async dealId => {
    const rec = await jc.deals.get(dealId.toLowerCase()).catch(() => undefined)
    return rec === undefined ? undefined : await toCase(rec.dealId, rec.deal, rec.job)
  })
  await disputes.start()
  let stopped = false
  jc.onDispute(async d => {
    if (stopped) return
    const c = await toCase(d.dealId, d.deal, d.jobOffer)
    try {
      await handOffDispute(disputes, d.mediator, c, { chain: init.chain, ...(init.directory !== undefined ? { directory: init.directory } : {}) })
      init.log?.('dispute handed to the mediator', { dealId: d.dealId, mediator: d.mediator })
    } catch (err) {
      // the case stays available for the mediator's pull
      init.log?.('dispute push failed; the mediator can still pull the case', { dealId: d.dealId, error: (err as Error).name })
    }
  })
  return { disputes, stop: async () => { stopped = true; dropSource(); await disputes.stop() } }
}

/**
 * Starts the provider's side: pulls answered from its deal store, and a push of its own when one of its
 * submissions was audited on chain (the job creator may be offline). Returns the service and a stop function.
 */
export async function startProviderDisputes (rp: DisputingProvider, init: PartyInit): Promise<{ disputes: DisputeService, stop: () => Promise<void> }> {
  const disputes = DisputeService.shared(init.host, init.networkId)
  const dropSource = disputes.addSource(caseSource(rp.deals))
  await disputes.start()
  const pushed = new Set<string>()
  const onDeal = (rec: KeptDeal & { state: string }): void => {
    if (rec.state !== 'submitted' || pushed.has(rec.dealId)) return
    pushed.add(rec.dealId)
    void (async () => {
      const onChain = await init.chain.dealRecord(rec.dealId)
      if (onChain.state !== 'Challenged') return
      const mediator = rec.deal.mediators[onChain.mediatorIndex]
      await handOffDispute(disputes, mediator, { dealId: rec.dealId, deal: { kind: 'Deal', value: rec.deal, signature: rec.jobCreatorSignature }, jobOffer: rec.job },
        { chain: init.chain, ...(init.directory !== undefined ? { directory: init.directory } : {}) })
    })().catch(err => { init.log?.('provider dispute push failed; the mediator can still pull', { dealId: rec.dealId, error: (err as Error).name }) })
  }
  rp.on('deal', onDeal)
  return { disputes, stop: async () => { rp.off('deal', onDeal); dropSource(); await disputes.stop() } }
}
