// Wiring the dispute hand-off into the two parties of a deal.
// Job creator: when its deal is challenged (or audited), push the case to the drawn mediator; answer pulls from
// its deal store. Provider: answer pulls from its deal store, and — as a fallback for a job creator that is
// offline — push the case itself when a submission of its own was audited on chain.
import { signMessage, type Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import type { ChainClient } from '../chain/index.ts'
import { dhtRecords, type RecordReader } from './locate.ts'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DisputeService, type DisputeNode } from './dispute-service.ts'
import { handOffDispute } from './hand-off.ts'
import { caseSource, type KeptDeal } from './cases.ts'
import { closeUnmediated } from './keeper.ts'
import { drawnMediatorOnly } from './authorize.ts'

interface PartyInit {
  host: DisputeNode & { services?: { dht?: KadDHT }, getConnections?: (peer?: PeerId) => unknown[] }
  chain: ChainClient
  networkId: string
  /** signed node records (default: read from the host's DHT), for the mediator's addresses */
  directory?: RecordReader
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

function connectedOf (init: PartyInit): ((peerId: string) => boolean) | undefined {
  const get = init.host.getConnections
  if (get === undefined) return undefined
  return peerId => { try { return get.call(init.host, peerIdFromString(peerId)).length > 0 } catch { return false } }
}

function readerOf (init: PartyInit): RecordReader | undefined {
  if (init.directory !== undefined) return init.directory
  const dht = init.host.services?.dht
  return dht !== undefined ? dhtRecords({ services: { dht } }, init.chain.domain) : undefined
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
  const dropAuthorizer = disputes.setPullAuthorizer(drawnMediatorOnly(init.chain))
  await disputes.start()
  let stopped = false
  const ac = new AbortController()
  const pushes = new Set<Promise<void>>()
  const directory = readerOf(init)
  jc.onDispute(async d => {
    if (stopped) return
    const c = await toCase(d.dealId, d.deal, d.jobOffer)
    disputes.remember(c)
    // In the background: the job creator goes on to wait for the verdict at once, and the case stays pullable.
    const p = handOffDispute(disputes, d.mediator, c, { chain: init.chain, signal: ac.signal, connected: connectedOf(init), ...(directory !== undefined ? { directory } : {}) })
      .then(() => { init.log?.('dispute handed to the mediator', { dealId: d.dealId, mediator: d.mediator }) })
      .catch(err => { init.log?.('dispute push failed; the mediator can still pull the case', { dealId: d.dealId, error: (err as Error).name }) })
      // if no verdict comes, close the deal at the deadline (the job creator is waiting for it to end)
      .then(async () => { await closeUnmediated(init.chain, d.deal, { signal: ac.signal }) })
      .catch(() => { /* stopped, or the RPC failed: anyone can still call timeoutMediation */ })
      .finally(() => { pushes.delete(p) })
    pushes.add(p)
  })
  return { disputes, stop: async () => { stopped = true; ac.abort(); await Promise.allSettled([...pushes]); dropSource(); dropAuthorizer(); await disputes.stop() } }
}

/**
 * Starts the provider's side: pulls answered from its deal store, and a push of its own when one of its
 * submissions was audited on chain (the job creator may be offline). Returns the service and a stop function.
 */
export async function startProviderDisputes (rp: DisputingProvider, init: PartyInit): Promise<{ disputes: DisputeService, stop: () => Promise<void> }> {
  const disputes = DisputeService.shared(init.host, init.networkId)
  const directory = readerOf(init)
  const dropSource = disputes.addSource(caseSource(rp.deals))
  const dropAuthorizer = disputes.setPullAuthorizer(drawnMediatorOnly(init.chain))
  const pushed = new Set<string>()
  const ac = new AbortController()
  const keepers = new Set<Promise<void>>()
  const onDeal = (rec: KeptDeal & { state: string }): void => {
    if (rec.state !== 'submitted' || pushed.has(rec.dealId)) return
    pushed.add(rec.dealId)
    void (async () => {
      const onChain = await init.chain.dealRecord(rec.dealId)
      if (onChain.state !== 'Challenged') return
      const mediator = rec.deal.mediators[onChain.mediatorIndex]
      // the provider is paid by timeoutMediation, so it closes an unanswered mediation itself
      const keeper = closeUnmediated(init.chain, rec.deal, { signal: ac.signal }).then(() => {}, () => {}).finally(() => { keepers.delete(keeper) })
      keepers.add(keeper)
      await handOffDispute(disputes, mediator, { dealId: rec.dealId, deal: { kind: 'Deal', value: rec.deal, signature: rec.jobCreatorSignature }, jobOffer: rec.job },
        { chain: init.chain, signal: ac.signal, connected: connectedOf(init), ...(directory !== undefined ? { directory } : {}) })
    })().catch(err => { init.log?.('provider dispute push failed; the mediator can still pull', { dealId: rec.dealId, error: (err as Error).name }) })
  }
  // listening before the service starts: a provider resuming its deals emits them early
  rp.on('deal', onDeal)
  await disputes.start()
  return { disputes, stop: async () => { rp.off('deal', onDeal); ac.abort(); await Promise.allSettled([...keepers]); dropSource(); dropAuthorizer(); await disputes.stop() } }
}
