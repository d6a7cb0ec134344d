// Order-book sync over /lilypad/<network>/offers/3.0.0 (protocols/offer-sync): a node that connects asks the peer
// for the live offers it knows, a page at a time; synced offers are verified like gossip (signature, peer binding,
// expiry, nonce reuse) before they enter the book.
//
// Sync is a way in for a stranger, so everything it can make us spend is bounded:
//   - serving: per-peer rate limit and a cap on answers in progress; a page comes from the book's sync index
//     (cost: the page, not the book); peers the guard banned get nothing;
//   - pulling: a global rate of pulls and at most one per peer per `repullMs`, a budget of offers verified per
//     second, verification off the event loop (node/verifier), offers the book already has skipped before any
//     signature is recovered;
//   - penalties: a peer whose page holds forged or malformed offers loses points in the peer guard (and gossipsub
//     standing); after a few bad offers the rest of its page is not even verified; past the threshold it is banned
//     and disconnected;
//   - addresses: only what the peer they belong to signed (libp2p signed peer records) enters the peer store.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { openStream } from '../host/connections.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import {
  decodeCursor, decodeSyncAnswer, decodeSyncRequest, encodeCursor, encodeSyncAnswer, encodeSyncRequest,
  MAX_PEER_RECORD, MAX_SYNC_MESSAGE, MAX_SYNC_OFFERS, MAX_SYNC_REQUEST, type SyncAnswer, type SyncedOffer
} from '../../protocols/offer-sync/index.ts'
import { bindingNeedsRecovery, checkRecovered } from '../../protocols/validation.ts'
import { MessageValidationError } from '../../protocols/errors.ts'
import { ReplayCache } from '../../protocols/replay-cache.ts'
import { PeerBindingCache } from '../../protocols/peer-binding.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import { encodeEnvelope, type Envelope } from '../../protocols/codec.ts'
import type { OrderBook, SyncFilter } from '../../protocols/order-book.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { RateLimit } from '../../core/rate-limit.ts'
import { requestReply } from '../request-reply.ts'
import { sharedVerifier, type SignatureVerifier } from '../verifier/index.ts'
import { quietComponents, reportError, type Components } from '../components.ts'
import { guardOf, type PeerGuard } from '../peer-guard/index.ts'
import { liveOfferOf } from '../gossip/gossip.ts'
import { Reachability } from './reachability.ts'

const STEP_MS = 5000

export interface OfferSyncInit {
  networkId: string
  domain: LilypadDomain
  /** offers this node knows from gossip (solvers, bootstrap nodes, job creators) */
  book?: OrderBook
  /** this node's own live offers (resource providers), with their bound peer hint */
  ownOffers?: () => Array<Envelope<'ResourceOffer'>>
  /** this node's booked slots: their last offers with the withdrawals that mark them busy */
  ownBusy?: () => Array<{ offer: Envelope<'ResourceOffer'>, withdrawal: Envelope<'OfferWithdrawal'> }>
  components?: Pick<Components, 'clock' | 'logger' | 'metrics'>
  /** penalties and bans shared with the node's other protocols */
  guard?: PeerGuard
  verifier?: SignatureVerifier
  /** offers per page served and asked for (default 128, at most 256) */
  pageSize?: number
  /** offers per provider in a served page (default 4) */
  perProvider?: number
  /** answers one peer may get: burst and per second (default 4 and 0.2) */
  serveRate?: { burst: number, perSecond: number }
  /** answers being written at once (default 8); beyond, peers are told to come back later */
  maxServing?: number
  /** pulls this node starts: burst and per second, over all peers (default 8 and 0.5) */
  pullRate?: { burst: number, perSecond: number }
  /** a peer is pulled from at most once per this long (default 10 min) */
  repullMs?: number
  /** pages a pull takes unless its caller asks for more (default 2: the providers a serving node has known longest) */
  maxPages?: number
  /** offers verified from sync: burst and per second (default 1,024 and 200) */
  verifyRate?: { burst: number, perSecond: number }
  /** bad offers in one page after which the rest is not verified (default 4) */
  badOffersBeforeAbort?: number
  /** rank offers whose peer this node can reach first in the book's matches (default true) */
  preferReachable?: boolean
}

export interface OfferSyncMetrics {
  served: number
  busy: number
  pulls: number
  pages: number
  added: number
  /** offers skipped before verification: the book already had them (or newer) */
  skipped: number
  /** offers refused: forged, malformed, unbound */
  rejected: number
  /** pulls not started: rate limit, peer banned, pulled recently, or no verification budget left */
  limited: number
  /** signed peer records taken into the peer store */
  peerRecords: number
}

export interface SyncOutcome { added: number, pages: number, rejected: number, skipped: number }

/** Penalty points: a malformed answer or request, and each forged or malformed offer in an answer. */
const MALFORMED_POINTS = 10
const BAD_OFFER_POINTS = 2

export class OfferSync {
  readonly protocol: string
  readonly metrics: OfferSyncMetrics = { served: 0, busy: 0, pulls: 0, pages: 0, added: 0, skipped: 0, rejected: 0, limited: 0, peerRecords: 0 }
  private readonly host: LilypadHost
  private readonly init: OfferSyncInit
  private readonly components: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly guard: PeerGuard
  private readonly serveLimit: RateLimit
  private readonly pullLimit: RateLimit
  private readonly verifyBudget: RateLimit
  private readonly lastPull = new Map<string, number>()
  readonly reachability: Reachability
  private readonly replay = new ReplayCache()
  private readonly bindings = new PeerBindingCache()
  private serving = 0
  private running = false
  private handling = false
  private pulling = false
  private readonly listeners = new Set<() => void>()
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly open = new Set<Stream>()
  /** each book offer's encoded envelope, made once: encoding a page afresh cost ~20 ms per answer at 128 offers */
  private readonly encoded = new WeakMap<object, Uint8Array>()
  private readonly onConnect = (evt: CustomEvent<Connection>): void => { this.pullOnConnect(evt.detail.remotePeer) }

  constructor (host: LilypadHost, init: OfferSyncInit) {
    this.host = host
    this.init = init
    this.protocol = protocols.offers(init.networkId)
    this.components = init.components ?? quietComponents()
    this.guard = init.guard ?? guardOf(host, this.components)
    const clock = this.components.clock
    this.serveLimit = new RateLimit(clock, init.serveRate ?? { burst: 4, perSecond: 0.2 })
    this.pullLimit = new RateLimit(clock, init.pullRate ?? { burst: 8, perSecond: 0.5 })
    this.verifyBudget = new RateLimit(clock, init.verifyRate ?? { burst: 1024, perSecond: 200 })
    this.reachability = new Reachability(host)
  }

  private get pageSize (): number { return Math.min(MAX_SYNC_OFFERS, this.init.pageSize ?? 128) }
  private get verifier (): SignatureVerifier { return this.init.verifier ?? sharedVerifier() }
  private get nowSec (): bigint { return BigInt(Math.floor(this.components.clock.now() / 1000)) }

  /** `serve`: answer others' sync requests; `pull`: sync from every peer we connect to (needs a book). */
  async start (opts: { serve?: boolean, pull?: boolean } = {}): Promise<void> {
    if (this.running) return
    this.running = true
    this.reachability.start()
    if (this.init.book !== undefined && this.init.preferReachable !== false) {
      const r = this.reachability
      this.init.book.setPreference((_provider, peer) => r.has(peer))
    }
    if (opts.serve !== false) {
      this.handling = true
      await this.host.handle(this.protocol, (stream, connection) => { this.track(this.answer(stream, connection)) }, { maxInboundStreams: 4, runOnLimitedConnection: true })
    }
    if (opts.pull === true) this.enablePull()
  }

  /** Syncs from every connected peer now and from every peer we connect to later (within the rate limits). */
  enablePull (): void {
    if (this.pulling || this.init.book === undefined || !this.running) return
    this.pulling = true
    this.host.addEventListener('connection:open', this.onConnect)
    for (const c of this.host.getConnections()) this.pullOnConnect(c.remotePeer)
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.reachability.stop()
    this.host.removeEventListener('connection:open', this.onConnect)
    this.pulling = false
    if (this.handling) await this.host.unhandle(this.protocol)
    this.handling = false
    for (const s of this.open) s.abort(new Error('offer sync stopped'))
    await Promise.allSettled([...this.inflight])
  }

  /** Pulls under way now (a job creator that finds no offer yet waits for them before it gives up). */
  get pullsInFlight (): number { return this.inflight.size }

  /** Called whenever a sync added offers. */
  onSynced (fn: () => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private notify (): void {
    for (const fn of this.listeners) {
      try { fn() } catch (err) { reportError(this.components, 'offer-sync', err, 'a sync listener threw') }
    }
  }

  private track<T> (p: Promise<T>): void {
    this.inflight.add(p)
    void p.finally(() => { this.inflight.delete(p) })
  }

  private pullOnConnect (peer: PeerId): void {
    const id = peer.toString()
    const now = this.components.clock.now()
    const last = this.lastPull.get(id)
    if (this.guard.banned(id) === true || (last !== undefined && now - last < (this.init.repullMs ?? 600_000)) || !this.pullLimit.take('*')) {
      this.metrics.limited++
      this.components.metrics.limited.inc({ service: 'offer-sync', action: 'pull-skipped' })
      return
    }
    this.lastPull.set(id, now)
    while (this.lastPull.size > 10_000) this.lastPull.delete(this.lastPull.keys().next().value as string)
    this.track(this.syncFrom(peer).catch(err => { reportError(this.components, 'offer-sync', err, 'sync pull failed', { peer: id }) }))
  }

  // ---- serving ----

  private async ownPage (): Promise<SyncedOffer[]> {
    const self = this.host.peerId.toString()
    // only bound offers: an unbound one would be refused by every asker and counted against us
    const free: SyncedOffer[] = (this.init.ownOffers?.() ?? []).filter(o => o.binding !== undefined && o.peer === self).map(o => ({ offer: o }))
    const busy: SyncedOffer[] = (this.init.ownBusy?.() ?? []).filter(b => b.offer.binding !== undefined && b.offer.peer === self).map(b => ({ offer: b.offer, withdrawal: b.withdrawal }))
    return [...free, ...busy]
  }

  /** The signed peer record our peer store holds for `peer`, if any and small enough. */
  private async peerRecordOf (peer: string): Promise<Uint8Array | undefined> {
    try {
      const p = await this.host.peerStore.get(peerIdFromString(peer))
      const r = p.peerRecordEnvelope
      return r !== undefined && r.length <= MAX_PEER_RECORD ? r : undefined
    } catch {
      return undefined // a peer we never connected to: its addresses are not ours to vouch for
    }
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.guard.banned(peer) === true) { stream.abort(new Error('banned peer')); return }
    this.open.add(stream)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE })
      const bytes = (await lp.read({ signal: AbortSignal.timeout(STEP_MS) })).subarray()
      if (bytes.length > MAX_SYNC_REQUEST) throw new MessageValidationError('OVERSIZED', `sync request of ${bytes.length} bytes`)
      const request = decodeSyncRequest(bytes)
      let reply: SyncAnswer
      if (this.serving >= (this.init.maxServing ?? 8) || !this.serveLimit.take(peer)) {
        this.metrics.busy++
        this.components.metrics.limited.inc({ service: 'offer-sync', action: 'busy' })
        reply = { type: 'busy', retryAfterMs: Math.max(1000, this.serveLimit.waitMs(peer)) }
      } else {
        this.serving++
        try {
          reply = await this.page(request)
        } finally {
          this.serving--
        }
        this.metrics.served++
      }
      await lp.write(encodeSyncAnswer(reply), { signal: AbortSignal.timeout(STEP_MS) })
      await stream.close({ signal: AbortSignal.timeout(STEP_MS) }).catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      if (err instanceof MessageValidationError) this.guard.penalize(peer, MALFORMED_POINTS, `sync request: ${err.code}`, 'offer-sync')
      stream.abort(err as Error)
    } finally {
      this.open.delete(stream)
    }
  }

  private async page (req: { filter?: SyncFilter, cursor?: Uint8Array, limit: number }): Promise<SyncAnswer> {
    const limit = Math.min(req.limit, this.pageSize)
    const own = req.cursor === undefined ? await this.ownPage() : []
    const book = this.init.book
    if (book === undefined) return { type: 'offers', offers: own.slice(0, limit) }
    const page = book.syncPage({ ...(req.cursor !== undefined ? { after: decodeCursor(req.cursor) ?? 0 } : {}), ...(req.filter !== undefined ? { filter: req.filter } : {}), limit: Math.max(1, limit - own.length), perProvider: this.init.perProvider ?? 4, now: this.nowSec })
    const self = this.host.peerId.toString()
    const withRecord = new Set<string>()
    const offers: SyncedOffer[] = [...own]
    for (const l of page.offers) {
      if (l.peer === undefined || l.binding === undefined) continue // offers reach the book only bound; nothing to pass on otherwise
      const env: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: l.offer, signature: l.signature, peer: l.peer, binding: l.binding }
      let bytes = this.encoded.get(l)
      if (bytes === undefined) { bytes = encodeEnvelope(env); this.encoded.set(l, bytes) }
      let peerRecord: Uint8Array | undefined
      if (l.peer !== self && !withRecord.has(l.peer)) {
        withRecord.add(l.peer)
        peerRecord = await this.peerRecordOf(l.peer)
      }
      offers.push({ offer: env, bytes, ...(peerRecord !== undefined ? { peerRecord } : {}) })
    }
    // booked slots, with the withdrawal that marks each busy (passed on only when its signature was kept)
    for (const b of page.busy) {
      const l = b.live
      if (l.peer === undefined || l.binding === undefined || b.withdrawal.signature === undefined) continue
      const env: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: l.offer, signature: l.signature, peer: l.peer, binding: l.binding }
      const withdrawal: Envelope<'OfferWithdrawal'> = { kind: 'OfferWithdrawal', value: { provider: l.offer.provider, slot: l.offer.slot, expiry: b.withdrawal.expiry, nonce: b.withdrawal.nonce }, signature: b.withdrawal.signature }
      offers.push({ offer: env, withdrawal })
    }
    return { type: 'offers', offers, ...(page.next !== undefined ? { next: encodeCursor(page.next) } : {}) }
  }

  // ---- pulling ----

  /**
   * Pulls `peer`'s offers into the book, page by page (at most `maxPages`, and only while the verification budget
   * lasts). `filter` asks only for offers that could serve a job like it (a job creator looking for a match).
   */
  async syncFrom (peer: PeerId, opts: { filter?: SyncFilter, maxPages?: number, signal?: AbortSignal } = {}): Promise<SyncOutcome> {
    const book = this.init.book
    const out: SyncOutcome = { added: 0, pages: 0, rejected: 0, skipped: 0 }
    if (book === undefined || !this.running) return out
    const id = peer.toString()
    if (this.guard.banned(id) === true) return out
    this.metrics.pulls++
    let cursor: Uint8Array | undefined
    const maxPages = opts.maxPages ?? this.init.maxPages ?? 2
    for (let n = 0; n < maxPages && this.running; n++) {
      if (!this.verifyBudget.take('*', this.pageSize)) {
        this.metrics.limited++
        this.components.metrics.limited.inc({ service: 'offer-sync', action: 'verify-budget' })
        break
      }
      let answer: SyncAnswer
      try {
        const bytes = await requestReply(async signal => await openStream(this.host, peer, this.protocol, { signal }), encodeSyncRequest({ type: 'pull', limit: this.pageSize, ...(opts.filter !== undefined ? { filter: opts.filter } : {}), ...(cursor !== undefined ? { cursor } : {}) }), {
          maxDataLength: MAX_SYNC_MESSAGE, dialTimeoutMs: STEP_MS, stepMs: STEP_MS, open: this.open, ...(opts.signal !== undefined ? { signal: opts.signal } : {})
        })
        answer = decodeSyncAnswer(bytes)
      } catch (err) {
        if (err instanceof MessageValidationError) {
          this.guard.penalize(id, MALFORMED_POINTS, `sync answer: ${err.code}`, 'offer-sync')
          this.metrics.rejected++
        }
        // otherwise the peer does not serve sync, went away, or was slow: nothing to hold against it
        break
      }
      if (answer.type === 'busy') break
      out.pages++
      this.metrics.pages++
      const before = out.added
      const stop = await this.take(id, answer.offers, out)
      // a job creator waiting for offers matches after each page, not after the whole pull
      if (out.added > before) this.notify()
      if (stop || answer.next === undefined) break
      cursor = answer.next
    }
    return out
  }

  /** Verifies and stores one page; true when the page was bad enough to stop pulling from this peer. */
  private async take (from: string, offers: SyncedOffer[], out: SyncOutcome): Promise<boolean> {
    const book = this.init.book as OrderBook
    const self = this.host.peerId.toString()
    const domain = this.init.domain
    const limit = this.init.badOffersBeforeAbort ?? 4
    let bad = 0
    const records = new Map<string, Uint8Array>()
    // booked slots first: a withdrawal newer than what the book holds is verified (the provider's signature) and
    // applied, so the offer that comes with it enters the book as busy, not as a free candidate
    for (const s of offers) {
      const w = s.withdrawal
      if (w === undefined || bad >= limit) continue
      const known = book.nonceOf(w.value.provider, w.value.slot)
      if ((known !== undefined && known >= w.value.nonce) || w.value.expiry <= this.nowSec) continue
      // a withdrawal costs a recovery like an offer: out of the same budget
      if (!this.verifyBudget.take('*', 1)) break
      try {
        const r = await this.verifier.recover(w, s.withdrawalBytes ?? encodeEnvelope(w), domain, false)
        const v = checkRecovered(w, r, { domain, now: this.nowSec })
        book.withdraw(v.value.provider, v.value.slot, v.value.nonce, v.value.expiry, this.nowSec, v.signature)
      } catch (err) {
        if (!(err instanceof MessageValidationError)) { reportError(this.components, 'offer-sync', err, 'withdrawal check failed'); continue }
        this.components.metrics.gossipVerdicts.inc({ topic: 'offer-sync', verdict: err.action === 'REJECT' ? 'reject' : 'ignore', code: err.code })
        if (err.action === 'REJECT') {
          bad++
          out.rejected++
          this.metrics.rejected++
          this.guard.penalize(from, BAD_OFFER_POINTS, `sync withdrawal: ${err.code}`, 'offer-sync')
        }
      }
    }
    const fresh = offers.filter(s => {
      const o = s.offer.value
      // an offer older than the slot's withdrawal is still news: it is what the busy slot shows
      const known = book.offerNonceOf(o.provider, o.slot)
      if (s.offer.peer === self || (known !== undefined && known >= o.nonce) || o.expiry <= this.nowSec) {
        out.skipped++
        this.metrics.skipped++
        // an offer we hold already (from gossip) may still bring its peer's address, if it is the peer we know it by
        const held = book.get(o.provider, o.slot)
        if (s.peerRecord !== undefined && held?.peer !== undefined && held.peer === s.offer.peer && held.peer !== from && !this.reachability.has(held.peer)) records.set(held.peer, s.peerRecord)
        return false
      }
      return true
    })
    // in small chunks: a page of forgeries stops being verified after the first few. A waiting job creator hears of
    // each chunk as it is done (not of each offer: it would match the first provider verified rather than the
    // cheapest of the chunk), so the providers a serving node lists first — those it has known longest — are in the
    // book while the rest of the page is still being verified.
    for (let i = 0; i < fresh.length && bad < limit; i += 16) {
      const chunk = fresh.slice(i, i + 16)
      const pending = chunk.map(async s => {
        try {
          return await this.verifier.recover(s.offer, s.bytes ?? new Uint8Array(), domain, bindingNeedsRecovery(s.offer, this.bindings))
        } catch (err) {
          reportError(this.components, 'offer-sync', err, 'verifier failed')
          return undefined
        }
      })
      for (let k = 0; k < chunk.length; k++) {
        const s = chunk[k]
        const r = await pending[k]
        if (r === undefined) continue
        const now = this.nowSec
        try {
          const v = checkRecovered(s.offer, r, { domain, now, replay: this.replay, bindings: this.bindings, requirePeerBinding: true })
          const res = book.add(liveOfferOf(v), now)
          if (res === 'added' || res === 'replaced' || res === 'busy') {
            out.added++
            this.metrics.added++
            if (s.peerRecord !== undefined && v.peer !== undefined && v.peer !== self && v.peer !== from) records.set(v.peer, s.peerRecord)
          }
          this.components.metrics.gossipVerdicts.inc({ topic: 'offer-sync', verdict: 'accept', code: '' })
        } catch (err) {
          if (!(err instanceof MessageValidationError)) { reportError(this.components, 'offer-sync', err, 'offer check failed'); continue }
          this.components.metrics.gossipVerdicts.inc({ topic: 'offer-sync', verdict: err.action === 'REJECT' ? 'reject' : 'ignore', code: err.code })
          if (err.action === 'REJECT') {
            bad++
            out.rejected++
            this.metrics.rejected++
            this.guard.penalize(from, BAD_OFFER_POINTS, `sync offer: ${err.code}`, 'offer-sync')
          }
        }
      }
      // the providers of this chunk become reachable (ranked first) and a waiting job creator hears of them, before
      // the rest of the page is verified
      const had = out.added
      await this.consumeRecords(from, records)
      if (had > 0) this.notify()
    }
    await this.consumeRecords(from, records)
    return bad >= limit
  }

  /** Addresses only as their own peer signed them; one record per peer per page. */
  private async consumeRecords (from: string, records: Map<string, Uint8Array>): Promise<void> {
    for (const [peer, record] of records) {
      try {
        if (await this.host.peerStore.consumePeerRecord(record, { expectedPeer: peerIdFromString(peer) })) {
          this.metrics.peerRecords++
          this.reachability.note(peer)
        }
      } catch (err) {
        // a record that does not verify is the sender's fault like a forged offer
        this.guard.penalize(from, BAD_OFFER_POINTS, 'sync peer record', 'offer-sync')
        this.components.logger.debug({ err, peer, from }, 'peer record refused')
      }
    }
    records.clear()
  }
}

