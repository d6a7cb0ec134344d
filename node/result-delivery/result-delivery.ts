// Result delivery over /lilypad/<network>/result/1.0.0: the provider sends the signed Result to the job creator,
// which checks it against the deal it waits on — or a notice that its own agree failed, so the job creator moves
// on at once. One request, one reply, every step with a timeout. The job creator's answer to a result it fetched and
// checked, its acceptance signed off chain, goes back to the provider on /lilypad/<network>/acceptance/1.0.0.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { openStream } from '../host/connections.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import {
  checkAcceptance, decodeAcceptance, encodeAcceptance, MAX_ACCEPTANCE_MESSAGE, type AcceptanceDelivery,
  checkResult, decodeResultAck, decodeProviderMessage, encodeResultAck, encodeResultDelivery, encodeDealNotice,
  ResultRejectedError, MAX_RESULT_MESSAGE, type ResultDelivery, type DealNotice, type ResultAck
} from '../../protocols/result/index.ts'
import type { Accept, Deal, LilypadDomain, Result } from '../../protocols/eip712.ts'
import type { LilypadHost } from '../host/create-host.ts'

const STEP_MS = 5000

export interface ExpectedResult {
  deal: Deal
  dealId: string
  /** false: this job creator will not send its acceptance of the result (the ack says so; the provider submits at once) */
  accepting?: boolean
}
export interface ReceivedResult { result: Result, signature: string, addrs: string[], from: string }
export interface ReceivedNotice { notice: DealNotice, from: string }

/**
 * A protocol this node answers while its role runs: at most 64 inbound streams per connection, relayed
 * connections too (a job creator behind a NAT is reached through a relay).
 */
abstract class ProtocolReceiver {
  readonly protocol: string
  protected readonly host: LilypadHost
  protected readonly domain: LilypadDomain
  private running = false

  constructor (host: LilypadHost, domain: LilypadDomain, protocol: string) {
    this.host = host
    this.domain = domain
    this.protocol = protocol
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await this.host.handle(this.protocol, (stream, connection) => { void this.answer(stream, connection) }, { maxInboundStreams: 64, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.host.unhandle(this.protocol)
    this.stopped()
  }

  protected stopped (): void {}
  protected abstract answer (stream: Stream, connection: Connection): Promise<void>
}

/** Job creator side: receives results for the deals it waits on. */
export class ResultReceiver extends ProtocolReceiver {
  private readonly waiting = new Map<string, { expected: ExpectedResult, resolve: (r: ReceivedResult) => void }>()
  /** results that arrived before anyone waited (the provider can be faster than our agree watcher) */
  private readonly early = new Map<string, ReceivedResult>()
  private readonly resultListeners = new Set<(r: ReceivedResult) => void>()
  private readonly noticeListeners = new Set<(n: ReceivedNotice) => void>()

  constructor (host: LilypadHost, init: { networkId: string, domain: LilypadDomain }) {
    super(host, init.domain, protocols.result(init.networkId))
  }

  protected override stopped (): void { this.waiting.clear() }

  /** Registers interest before the deal is proposed, so a fast provider's result is never dropped. */
  expect (expected: ExpectedResult): void {
    this.waiting.set(expected.dealId.toLowerCase(), { expected, resolve: () => {} })
  }

  /** Every accepted result (checked against the deal it names), as it arrives. */
  onResult (fn: (r: ReceivedResult) => void): () => void {
    this.resultListeners.add(fn)
    return () => { this.resultListeners.delete(fn) }
  }

  /** Every notice about a deal we expect a result for (the caller checks who sent it). */
  onNotice (fn: (n: ReceivedNotice) => void): () => void {
    this.noticeListeners.add(fn)
    return () => { this.noticeListeners.delete(fn) }
  }

  forget (dealId: string): void {
    this.waiting.delete(dealId.toLowerCase())
    this.early.delete(dealId.toLowerCase())
  }

  async wait (expected: ExpectedResult, signal: AbortSignal): Promise<ReceivedResult> {
    const key = expected.dealId.toLowerCase()
    const got = this.early.get(key)
    if (got !== undefined) { this.early.delete(key); return got }
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => { this.waiting.delete(key); reject(signal.reason) }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.set(key, { expected, resolve: r => { signal.removeEventListener('abort', onAbort); this.waiting.delete(key); resolve(r) } })
    })
  }

  protected async answer (stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_RESULT_MESSAGE })
    try {
      let ack: Uint8Array
      let accepted: ReceivedResult | undefined
      let notice: ReceivedNotice | undefined
      try {
        const msg = decodeProviderMessage((await lp.read({ signal: AbortSignal.timeout(STEP_MS) })).subarray())
        const id = msg.type === 'result' ? msg.delivery.result.dealId : msg.notice.dealId
        const w = this.waiting.get(id.toLowerCase())
        if (w === undefined) throw new ResultRejectedError('UNKNOWN_DEAL', `not waiting for deal ${id}`)
        if (msg.type === 'notice') {
          notice = { notice: msg.notice, from: connection.remotePeer.toString() }
          ack = encodeResultAck({ type: 'ack' })
        } else {
          const d = msg.delivery
          checkResult(d, w.expected.deal, w.expected.dealId, this.domain)
          accepted = { result: d.result, signature: d.signature, addrs: d.addrs, from: connection.remotePeer.toString() }
          ack = encodeResultAck(w.expected.accepting === false ? { type: 'ack', acceptance: 'none' } : { type: 'ack' })
        }
      } catch (err) {
        const code = err instanceof ResultRejectedError ? err.code : 'MALFORMED'
        ack = encodeResultAck({ type: 'reject', code })
      }
      await lp.write(ack, { signal: AbortSignal.timeout(STEP_MS) })
      await stream.close({ signal: AbortSignal.timeout(STEP_MS) }).catch(() => { stream.abort(new Error('close failed')) })
      if (notice !== undefined) for (const fn of this.noticeListeners) fn(notice)
      if (accepted !== undefined) {
        for (const fn of this.resultListeners) fn(accepted)
        const key = accepted.result.dealId.toLowerCase()
        const w = this.waiting.get(key)
        if (w !== undefined) w.resolve(accepted)
        // expect() registered a no-op resolver: keep the result until wait() asks
        if (w !== undefined && this.waiting.has(key)) { this.early.set(key, accepted); this.waiting.delete(key) }
      }
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}

/** What the provider holds for a deal an acceptance names: its terms and its result, if it has one. */
export interface AcceptableDeal { deal: Deal, resultCid?: string, jobCreatorPeer?: string }

/**
 * Provider side: receives job creators' acceptances. Each is checked (the deal is ours, the result is ours, the
 * deal's job creator signed it under this network's domain, and it comes from the peer we gave the result to) before
 * `onAcceptance` hears of it; anything else is refused with a named code.
 */
export class AcceptanceReceiver extends ProtocolReceiver {
  private readonly lookup: (dealId: string) => Promise<AcceptableDeal | undefined>
  private readonly onAcceptance: (accept: Accept, signature: string) => void

  constructor (host: LilypadHost, init: { networkId: string, domain: LilypadDomain, lookup: (dealId: string) => Promise<AcceptableDeal | undefined>, onAcceptance: (accept: Accept, signature: string) => void }) {
    super(host, init.domain, protocols.acceptance(init.networkId))
    this.lookup = init.lookup
    this.onAcceptance = init.onAcceptance
  }

  protected async answer (stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_ACCEPTANCE_MESSAGE })
    try {
      let ack: Uint8Array
      let accepted: AcceptanceDelivery | undefined
      try {
        const msg = decodeAcceptance((await lp.read({ signal: AbortSignal.timeout(STEP_MS) })).subarray())
        const held = await this.lookup(msg.accept.dealId)
        if (held === undefined) throw new ResultRejectedError('UNKNOWN_DEAL', `no deal ${msg.accept.dealId} here`)
        // only the peer the result went to answers for the deal (the signature is the real check; this keeps strangers from making us recover signatures)
        if (held.jobCreatorPeer !== undefined && held.jobCreatorPeer !== connection.remotePeer.toString()) throw new ResultRejectedError('UNKNOWN_DEAL', 'not the deal\'s job creator peer')
        checkAcceptance(msg, held.deal, msg.accept.dealId, held.resultCid, this.domain)
        accepted = msg
        ack = encodeResultAck({ type: 'ack' })
      } catch (err) {
        const code = err instanceof ResultRejectedError ? err.code : 'MALFORMED'
        ack = encodeResultAck({ type: 'reject', code })
      }
      await lp.write(ack, { signal: AbortSignal.timeout(STEP_MS) })
      await stream.close({ signal: AbortSignal.timeout(STEP_MS) }).catch(() => { stream.abort(new Error('close failed')) })
      if (accepted !== undefined) this.onAcceptance(accepted.accept, accepted.signature)
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}

/** Job creator side: gives the deal's provider our signed acceptance of its result; throws ResultRejectedError if refused. */
export async function sendAcceptance (host: LilypadHost, networkId: string, peer: string, delivery: AcceptanceDelivery, signal?: AbortSignal): Promise<void> {
  await send(host, networkId, peer, encodeAcceptance(delivery), signal, protocols.acceptance(networkId))
}

/**
 * Provider side: sends a signed result to the job creator; resolves with its ack (which may say that no acceptance
 * will follow), throws ResultRejectedError when refused.
 */
export async function deliverResult (host: LilypadHost, networkId: string, peer: string, delivery: ResultDelivery, signal?: AbortSignal): Promise<ResultAck & { type: 'ack' }> {
  return await send(host, networkId, peer, encodeResultDelivery(delivery), signal)
}

/** Provider side: tells the job creator something about a deal it countersigned (its agree failed). */
export async function sendDealNotice (host: LilypadHost, networkId: string, peer: string, notice: DealNotice, signal?: AbortSignal): Promise<void> {
  await send(host, networkId, peer, encodeDealNotice(notice), signal)
}

async function send (host: LilypadHost, networkId: string, peer: string, message: Uint8Array, signal?: AbortSignal, protocol = protocols.result(networkId)): Promise<ResultAck & { type: 'ack' }> {
  const sig = (): AbortSignal => AbortSignal.any([AbortSignal.timeout(STEP_MS), ...(signal !== undefined ? [signal] : [])])
  // openStream goes through reach: a peer whose addresses aged out of the peer store is re-resolved
  const stream = await openStream(host, peerIdFromString(peer), protocol, { signal: sig() })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RESULT_MESSAGE })
    await lp.write(message, { signal: sig() })
    const ack = decodeResultAck((await lp.read({ signal: sig() })).subarray())
    await stream.close({ signal: sig() }).catch(() => { stream.abort(new Error('close failed')) })
    if (ack.type === 'reject') throw new ResultRejectedError(ack.code, 'the job creator refused it')
    return ack
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
