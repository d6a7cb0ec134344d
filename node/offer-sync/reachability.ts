// Which offers' peers this node can actually dial: those it has been connected to, or whose addresses it holds as
// their own peer signed them (identify, or a signed record that came with sync). The order book ranks their offers
// first (OrderBook.setPreference), so offers bound to peer ids nobody runs — the cheapest junk there is — cannot
// push the reachable providers out of a job creator's candidate list, however low they are priced. A set lookup per
// offer; bounded, least recently seen forgotten first.
import type { LilypadHost } from '../host/create-host.ts'

export class Reachability {
  private readonly known = new Map<string, true>()
  private readonly capacity: number
  private readonly host: LilypadHost
  private readonly onConnect = (evt: CustomEvent<{ remotePeer: { toString: () => string } }>): void => { this.note(evt.detail.remotePeer.toString()) }
  private readonly onIdentify = (evt: CustomEvent<{ peerId: { toString: () => string }, signedPeerRecord?: unknown }>): void => {
    if (evt.detail.signedPeerRecord !== undefined) this.note(evt.detail.peerId.toString())
  }

  constructor (host: LilypadHost, capacity = 10_000) {
    this.host = host
    this.capacity = capacity
  }

  start (): void {
    this.host.addEventListener('connection:open', this.onConnect as never)
    this.host.addEventListener('peer:identify', this.onIdentify as never)
    for (const c of this.host.getConnections()) this.note(c.remotePeer.toString())
  }

  stop (): void {
    this.host.removeEventListener('connection:open', this.onConnect as never)
    this.host.removeEventListener('peer:identify', this.onIdentify as never)
  }

  /** The peer's addresses are known first hand (a connection, or its own signed record). */
  note (peer: string): void {
    this.known.delete(peer)
    this.known.set(peer, true)
    while (this.known.size > this.capacity) this.known.delete(this.known.keys().next().value as string)
  }

  has (peer: string | undefined): boolean { return peer !== undefined && this.known.has(peer) }
}
