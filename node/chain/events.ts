// Market events as typed deal transitions, a pure reduction of them into a deal's view, and a watcher that follows
// one deal through the chain follower (no log filters: see follower.ts).
import { EventEmitter } from 'node:events'
import type { Log } from 'ethers'
import { decodeMarketLog, type MarketEvent } from '../../contracts/generated/index.ts'
import type { DealStateName } from '../../protocols/settlement/index.ts'
import type { ChainFollower, MarketChainEvent } from './follower.ts'

interface EventBase { dealId: string, blockNumber: number, txHash: string, logIndex: number }
export type DealEvent = EventBase & (
  | { kind: 'DealAgreed', jobCreator: string, resourceProvider: string, price: bigint, collateral: bigint, mediationFee: bigint }
  | { kind: 'ResultSubmitted', resourceProvider: string, resultCid: string }
  | { kind: 'DealChallenged', jobCreator: string, mediator: string, audit: boolean }
  | { kind: 'MediatorDrawn', jobCreator: string, mediator: string }
  | { kind: 'DealMediated', mediator: string, resourceProvider: string, resultCorrect: boolean }
  | { kind: 'DealSettled', jobCreator: string, resourceProvider: string, acceptedEarly: boolean }
  | { kind: 'DealTimedOut', jobCreator: string, resourceProvider: string, which: 'result' | 'mediation' }
  | { kind: 'CommitteeDrawn', seed: string, members: string[], audit: boolean }
  | { kind: 'VoteCommitted', member: string }
  | { kind: 'VoteRevealed', member: string, vote: number }
  | { kind: 'CommitteeFinalized', state: number, majority: number, slashed: number, noCase: number }
  /** a committee dispute's seed phase ended without both reveals (bits: 1 the job creator revealed, 2 the provider) */
  | { kind: 'SeedWithheld', revealed: number }
)

/** A committee's dispute as its events tell it (docs/mediation.md, "Committees"). */
export interface CommitteeView {
  seed: string
  /** in draw order */
  members: string[]
  committed: string[]
  revealed: Array<{ member: string, vote: number }>
  /** bit i: the i-th member voted "no case"; known once finalized */
  noCase?: number
}

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
  /** the dispute is an audit (its draw hit), not a challenge */
  audited?: boolean
  mediator?: string
  resultCorrect?: boolean
  committee?: CommitteeView
  events: DealEvent[]
}

/** The deal transition a decoded Market event is, or null for events that are not about a deal. */
export function dealEventOf (e: MarketEvent, pos: { blockNumber: number, txHash: string, logIndex: number }): DealEvent | null {
  switch (e.name) {
    case 'DealAgreed': return { ...pos, kind: e.name, ...e.args }
    case 'ResultSubmitted': return { ...pos, kind: e.name, ...e.args }
    case 'DealChallenged': return { ...pos, kind: e.name, ...e.args }
    case 'MediatorDrawn': return { ...pos, kind: e.name, ...e.args }
    case 'DealMediated': return { ...pos, kind: e.name, ...e.args }
    case 'DealSettled': return { ...pos, kind: e.name, ...e.args }
    case 'DealTimedOut': return { ...pos, kind: e.name, ...e.args, which: Number(e.args.which) === 0 ? 'result' : 'mediation' }
    case 'CommitteeDrawn': return { ...pos, kind: e.name, dealId: e.args.dealId, seed: e.args.seed, members: [...e.args.members], audit: e.args.audit }
    case 'VoteCommitted': return { ...pos, kind: e.name, dealId: e.args.dealId, member: e.args.member }
    case 'VoteRevealed': return { ...pos, kind: e.name, dealId: e.args.dealId, member: e.args.member, vote: Number(e.args.vote) }
    case 'CommitteeFinalized': return { ...pos, kind: e.name, dealId: e.args.dealId, state: Number(e.args.state), majority: Number(e.args.majority), slashed: Number(e.args.slashed), noCase: Number(e.args.noCase) }
    case 'SeedWithheld': return { ...pos, kind: e.name, dealId: e.args.dealId, revealed: Number(e.args.revealed) }
    default: return null
  }
}

export function decodeDealLog (log: Log): DealEvent | null {
  const e = decodeMarketLog(log)
  return e === null ? null : dealEventOf(e, { blockNumber: log.blockNumber, txHash: log.transactionHash, logIndex: log.index })
}

export function emptyDealView (dealId: string): DealView {
  return { dealId, state: 'None', events: [] }
}

/** Pure: the view after one more event. */
export function reduceDeal (v: DealView, e: DealEvent): DealView {
  const events = [...v.events, e]
  switch (e.kind) {
    case 'DealAgreed': return { ...v, events, state: 'Agreed', jobCreator: e.jobCreator, resourceProvider: e.resourceProvider, price: e.price, collateral: e.collateral, mediationFee: e.mediationFee }
    case 'ResultSubmitted': return { ...v, events, state: 'ResultSubmitted', resultCid: e.resultCid }
    // the mediator is drawn after the challenge's block (MediatorDrawn), a committee from the seeds (CommitteeDrawn)
    case 'DealChallenged': return { ...v, events, state: 'Challenged', audited: e.audit }
    case 'MediatorDrawn': return { ...v, events, mediator: e.mediator }
    case 'DealMediated': return { ...v, events, state: e.resultCorrect ? 'MediatedCorrect' : 'MediatedWrong', resultCorrect: e.resultCorrect, mediator: e.mediator }
    case 'DealSettled': return { ...v, events, state: 'Settled' }
    case 'DealTimedOut': return { ...v, events, state: e.which === 'result' ? 'TimedOutResult' : 'TimedOutMediation' }
    // the committee's events do not move the state: DealChallenged came first, and
    // finalize also emits DealMediated or DealTimedOut
    case 'CommitteeDrawn': return { ...v, events, committee: { seed: e.seed, members: e.members, committed: [], revealed: [] } }
    case 'VoteCommitted': return v.committee === undefined ? { ...v, events } : { ...v, events, committee: { ...v.committee, committed: [...v.committee.committed, e.member] } }
    case 'VoteRevealed': return v.committee === undefined ? { ...v, events } : { ...v, events, committee: { ...v.committee, revealed: [...v.committee.revealed, { member: e.member, vote: e.vote }] } }
    case 'CommitteeFinalized': return v.committee === undefined ? { ...v, events } : { ...v, events, committee: { ...v.committee, noCase: e.noCase } }
    // finalize also emits DealMediated or DealTimedOut, which move the state
    case 'SeedWithheld': return { ...v, events }
  }
}

export class DealWatchTimeoutError extends Error {
  static override name = 'DealWatchTimeoutError'
  override name = 'DealWatchTimeoutError'
}

/**
 * Follows one deal: its past events (the follower's history query), then the follower's live delivery; an event
 * seen twice (history and live, or a reorg's re-delivery) counts once. Emits 'transition' with the new view.
 */
export class DealWatcher extends EventEmitter<{ transition: [DealView] }> {
  view: DealView
  readonly #follower: ChainFollower
  readonly #seen = new Set<string>()
  #off: (() => void) | undefined

  constructor (follower: ChainFollower, dealId: string) {
    super()
    this.#follower = follower
    this.view = emptyDealView(dealId)
  }

  async start (): Promise<this> {
    this.#off = this.#follower.onDeal(this.view.dealId, e => { if (e.contract === 'Market') this.#ingest(e) })
    for (const e of await this.#follower.history(this.view.dealId)) this.#ingest(e)
    return this
  }

  async stop (): Promise<void> {
    this.#off?.()
    this.#off = undefined
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

  #ingest (e: MarketChainEvent): void {
    const id = `${e.txHash}:${e.logIndex}`
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    const d = dealEventOf(e, { blockNumber: e.blockNumber, txHash: e.txHash, logIndex: e.logIndex })
    if (d === null) return
    this.view = reduceDeal(this.view, d)
    this.emit('transition', this.view)
  }
}
