// Order-book sync over /lilypad/<network>/offers/1.0.0: a node that connects asks the peer for the live offers it
// knows; synced offers are validated like gossip (signature, expiry) before they enter the book. One request, one
// reply, every step with a timeout.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { openStream } from '../host/connections.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import { decodeOfferSync, encodeOfferSync, MAX_OFFERS_MESSAGE, type SyncedOffer } from '../../protocols/result/index.ts'
import { validateEnvelope, nowSeconds } from '../../protocols/validation.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { OrderBook } from '../../protocols/order-book.ts'
import type { LilypadHost } from '../host/create-host.ts'

const STEP_MS = 5000

export interface OfferSyncInit {
  networkId: string
  domain: LilypadDomain
  /** offers this node knows from gossip (solvers, bootstrap nodes, job creators) */
  book?: OrderBook
  /** this node's own live offers (resource providers) */
  ownOffers?: () => Array<Envelope<'ResourceOffer'>>
}

/**
 * Order-book sync: on every new connection, ask the peer for the live offers it knows and add the valid ones
 * to our book, with the providers' addresses in the peer store. A job creator that just started can match at
 * once instead of waiting for the next heartbeat (up to 10 s).
 */
export class OfferSync {
  readonly protocol: string
  private readonly host: LilypadHost
  private readonly init: OfferSyncInit
  private running = false
  private serving = false
  private pulling = false
  private readonly listeners = new Set<() => void>()
  private readonly inflight = new Set<Promise<void>>()
  private readonly onConnect = (evt: CustomEvent<Connection>): void => { this.track(this.syncFrom(evt.detail.remotePeer)) }

  constructor (host: LilypadHost, init: OfferSyncInit) {
    this.host = host
    this.init = init
    this.protocol = protocols.offers(init.networkId)
  }

  /** `serve`: answer others' sync requests; `pull`: sync from every peer we connect to (needs a book). */
  async start (opts: { serve?: boolean, pull?: boolean } = {}): Promise<void> {
    if (this.running) return
    this.running = true
    if (opts.serve !== false) {
      this.serving = true
      await this.host.handle(this.protocol, (stream, connection) => { void this.answer(stream, connection) }, { maxInboundStreams: 32, runOnLimitedConnection: true })
    }
    if (opts.pull === true) this.enablePull()
  }

  /** Syncs from every connected peer now and from every peer we connect to later. */
  enablePull (): void {
    if (this.pulling || this.init.book === undefined || !this.running) return
    this.pulling = true
    this.host.addEventListener('connection:open', this.onConnect)
    for (const c of this.host.getConnections()) this.track(this.syncFrom(c.remotePeer))
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.host.removeEventListener('connection:open', this.onConnect)
    this.pulling = false
    if (this.serving) await this.host.unhandle(this.protocol)
    this.serving = false
    await Promise.allSettled([...this.inflight])
  }

  /** Called whenever a sync added offers. */
  onSynced (fn: () => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private track (p: Promise<void>): void {
    this.inflight.add(p)
    void p.finally(() => { this.inflight.delete(p) })
  }

  private live (): SyncedOffer[] {
    const now = nowSeconds()
    const out: SyncedOffer[] = []
    const self = this.host.peerId.toString()
    const selfAddrs = this.host.getMultiaddrs().map(a => a.toString())
    for (const o of this.init.ownOffers?.() ?? []) out.push({ offer: { ...o, peer: self }, addrs: selfAddrs })
    for (const l of this.init.book?.offers() ?? []) {
      if (l.offer.expiry <= now || l.peer === undefined) continue
      out.push({ offer: { kind: 'ResourceOffer', value: l.offer, signature: l.signature, peer: l.peer }, addrs: [] })
    }
    return out
  }

  private async answer (stream: Stream, _connection: Connection): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_OFFERS_MESSAGE })
      const offers = this.live()
      // the providers' addresses from our peer store: the asker can then dial them directly, or through their
      // relay (a provider behind NAT has only its relayed address to offer)
      for (const o of offers) {
        if (o.addrs.length > 0 || o.offer.peer === undefined) continue
        try {
          const p = await this.host.peerStore.get(peerIdFromString(o.offer.peer))
          o.addrs = p.addresses.map(a => a.multiaddr.toString())
        } catch {}
      }
      await lp.write(encodeOfferSync(offers), { signal: AbortSignal.timeout(STEP_MS) })
      await stream.close({ signal: AbortSignal.timeout(STEP_MS) }).catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Pulls one peer's offers into the book; resolves with how many were added (0 if the peer does not serve sync). */
  async syncFrom (peer: PeerId): Promise<void> {
    const book = this.init.book
    if (book === undefined || !this.running) return
    let stream: Stream
    try {
      stream = await openStream(this.host, peer, this.protocol, { signal: AbortSignal.timeout(STEP_MS) })
    } catch { return } // the peer does not serve sync, or went away
    let added = 0
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_OFFERS_MESSAGE })
      const synced = decodeOfferSync((await lp.read({ signal: AbortSignal.timeout(STEP_MS) })).subarray())
      await stream.close().catch(() => {})
      const now = nowSeconds()
      const self = this.host.peerId.toString()
      for (const s of synced) {
        try {
          const v = validateEnvelope(s.offer, { domain: this.init.domain, now })
          if (s.offer.peer === undefined || s.offer.peer === self) continue
          if (s.addrs.length > 0) {
            try {
              const pid = peerIdFromString(s.offer.peer)
              await this.host.peerStore.merge(pid, { multiaddrs: s.addrs.map(a => multiaddr(a.replace(/\/p2p\/[^/]+$/, ''))) })
            } catch {}
          }
          const r = book.add({ offer: v.value, id: v.id, signature: v.signature, peer: s.offer.peer }, now)
          if (r === 'added' || r === 'replaced') added++
        } catch {} // an invalid offer from a peer is skipped, like an invalid gossip message
      }
    } catch (err) {
      stream.abort(err as Error)
      return
    }
    if (added > 0) for (const fn of this.listeners) fn()
  }
}
