// Market events decoded into typed deal transitions, and a watcher that follows one deal from its events.
import { EventEmitter } from 'node:events'
import { Interface, type Log, type Provider } from 'ethers'
import { MarketAbi } from '../../contracts/generated/index.ts'
import type { DealStateName } from '../../protocols/settlement/index.ts'

const market = new Interface(MarketAbi as unknown as string[])

interface EventBase { dealId: string, blockNumber: number, txHash: string, logIndex: number }
export type DealEvent = EventBase & (
  | { kind: 'DealAgreed', jobCreator: string, resourceProvider: string, price: bigint, collateral: bigint, mediationFee: bigint }
  | { kind: 'ResultSubmitted', resourceProvider: string, resultCid: string, audited: boolean }
  | { kind: 'DealChallenged', jobCreator: string, mediator: string, audit: boolean }
  | { kind: 'DealMediated', mediator: string, resourceProvider: string, resultCorrect: boolean }
  | { kind: 'DealSettled', jobCreator: string, resourceProvider: string, acceptedEarly: boolean }
  | { kind: 'DealTimedOut', jobCreator: string, resourceProvider: string, which: 'result' | 'mediation' }
)

/** The deal as its events tell it. */
export interface DealView {
  dealId: string
  state: DealStateName
  jobCreator?: string
  resourceProvider?: string
  price?: bigint
  collateral?: bigint
  mediationFee?: bigint
  resultCid?: string
  audited?: boolean
  mediator?: string
  resultCorrect?: boolean
  events: DealEvent[]
}

export function decodeDealLog (log: Log): DealEvent | null {
  let parsed
  try { parsed = market.parseLog({ topics: [...log.topics], data: log.data }) } catch { return null }
  if (parsed == null) return null
  const a = parsed.args
  const base: EventBase = { dealId: a.dealId as string, blockNumber: log.blockNumber, txHash: log.transactionHash, logIndex: log.index }
  switch (parsed.name) {
    case 'DealAgreed': return { ...base, kind: 'DealAgreed', jobCreator: a.jobCreator, resourceProvider: a.resourceProvider, price: a.price, collateral: a.collateral, mediationFee: a.mediationFee }
    case 'ResultSubmitted': return { ...base, kind: 'ResultSubmitted', resourceProvider: a.resourceProvider, resultCid: a.resultCid, audited: a.audited }
    case 'DealChallenged': return { ...base, kind: 'DealChallenged', jobCreator: a.jobCreator, mediator: a.mediator, audit: a.audit }
    case 'DealMediated': return { ...base, kind: 'DealMediated', mediator: a.mediator, resourceProvider: a.resourceProvider, resultCorrect: a.resultCorrect }
    case 'DealSettled': return { ...base, kind: 'DealSettled', jobCreator: a.jobCreator, resourceProvider: a.resourceProvider, acceptedEarly: a.acceptedEarly }
    case 'DealTimedOut': return { ...base, kind: 'DealTimedOut', jobCreator: a.jobCreator, resourceProvider: a.resourceProvider, which: Number(a.which) === 0 ? 'result' : 'mediation' }
    default: return null
  }
}

export function emptyDealView (dealId: string): DealView {
  return { dealId, state: 'None', events: [] }
}

/** Pure: the view after one more event. */
export function reduceDeal (v: DealView, e: DealEvent): DealView {
  const events = [...v.events, e]
  switch (e.kind) {
    case 'DealAgreed': return { ...v, events, state: 'Agreed', jobCreator: e.jobCreator, resourceProvider: e.resourceProvider, price: e.price, collateral: e.collateral, mediationFee: e.mediationFee }
    case 'ResultSubmitted': return { ...v, events, state: e.audited ? 'Challenged' : 'ResultSubmitted', resultCid: e.resultCid, audited: e.audited }
    case 'DealChallenged': return { ...v, events, state: 'Challenged', mediator: e.mediator }
    case 'DealMediated': return { ...v, events, state: e.resultCorrect ? 'MediatedCorrect' : 'MediatedWrong', resultCorrect: e.resultCorrect, mediator: e.mediator }
    case 'DealSettled': return { ...v, events, state: 'Settled' }
    case 'DealTimedOut': return { ...v, events, state: e.which === 'result' ? 'TimedOutResult' : 'TimedOutMediation' }
  }
}

export class DealWatchTimeoutError extends Error {
  static override name = 'DealWatchTimeoutError'
  override name = 'DealWatchTimeoutError'
}

/**
 * Follows one deal: replays its past events from `fromBlock`, then listens for new ones (every Market deal event
 * has the deal id as its first indexed topic). Emits 'transition' with the new DealView.
 */
export class DealWatcher extends EventEmitter<{ transition: [DealView] }> {
  view: DealView
  readonly #provider: Provider
  readonly #filter: { address: string, topics: Array<string | null> }
  readonly #fromBlock: number
  readonly #seen = new Set<string>()
  #listener: ((log: Log) => void) | undefined

  constructor (provider: Provider, marketAddress: string, dealId: string, fromBlock = 0) {
    super()
    this.#provider = provider
    this.#filter = { address: marketAddress, topics: [null, dealId] }
    this.#fromBlock = fromBlock
    this.view = emptyDealView(dealId)
  }

  async start (): Promise<this> {
    this.#listener = (log: Log) => { this.#ingest(log) }
    await this.#provider.on(this.#filter, this.#listener)
    const past = await this.#provider.getLogs({ ...this.#filter, fromBlock: this.#fromBlock, toBlock: 'latest' })
    for (const log of past) this.#ingest(log)
    return this
  }

  async stop (): Promise<void> {
    if (this.#listener !== undefined) await this.#provider.off(this.#filter, this.#listener)
    this.#listener = undefined
  }

  /** Resolves with the view once the deal reaches one of `states`. */
  async waitFor (states: DealStateName | DealStateName[], timeoutMs = 30_000): Promise<DealView> {
    const wanted = new Set(Array.isArray(states) ? states : [states])
    if (wanted.has(this.view.state)) return this.view
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('transition', onT); reject(new DealWatchTimeoutError(`deal ${this.view.dealId} did not reach ${[...wanted].join('|')} within ${timeoutMs} ms (at ${this.view.state})`)) }, timeoutMs)
      const onT = (v: DealView): void => {
        if (!wanted.has(v.state)) return
        clearTimeout(timer)
        this.off('transition', onT)
        resolve(v)
      }
      this.on('transition', onT)
    })
  }

  #ingest (log: Log): void {
    const id = `${log.transactionHash}:${log.index}`
    if (this.#seen.has(id)) return // a log can arrive both from the backfill and the live subscription
    this.#seen.add(id)
    const e = decodeDealLog(log)
    if (e === null) return
    this.view = reduceDeal(this.view, e)
    this.emit('transition', this.view)
  }
}
