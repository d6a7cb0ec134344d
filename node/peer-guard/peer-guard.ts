// What a peer costs us when it misbehaves outside gossip (offer sync, deal proposals, dispute streams): every bad
// thing it sends adds penalty points that decay over time; past a threshold the peer is banned for a while — its
// connections are closed, its streams refused and we stop pulling from it — and gossipsub hears of it through a
// behaviour penalty, so the same peer also loses standing in the mesh (as an invalid gossip message would cost it).
// The table is bounded: a flood of fresh peer ids forgets the quietest first.
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Components } from '../components.ts'

export interface PeerGuardInit {
  /** points at which a peer is banned (default 20) */
  banThreshold?: number
  /** how long a ban lasts (default 10 min) */
  banMs?: number
  /** points forgotten per minute (default 10) */
  decayPerMinute?: number
  /** peers remembered (default 10,000) */
  maxPeers?: number
}

export type BanListener = (peer: string, reason: string) => void

interface Record { points: number, at: number, bannedUntil: number }

const behaviourPenalty = (pubsub: unknown): ((peer: string, n: number) => void) | undefined => {
  const score = (pubsub as { score?: { addPenalty?: (id: string, n: number, label: string) => void } } | undefined)?.score
  if (typeof score?.addPenalty !== 'function') return undefined
  return (peer, n) => { score.addPenalty?.(peer, n, 'broken_promise') }
}

export class PeerGuard {
  readonly banThreshold: number
  readonly banMs: number
  private readonly decayPerMinute: number
  private readonly maxPeers: number
  private readonly components: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly peers = new Map<string, Record>()
  private readonly listeners = new Set<BanListener>()
  private readonly hangUp: ((peer: string) => Promise<void>) | undefined
  private readonly penalty: ((peer: string, n: number) => void) | undefined

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, node: { hangUp?: (peer: string) => Promise<void>, pubsub?: unknown } = {}, init: PeerGuardInit = {}) {
    this.components = components
    this.banThreshold = init.banThreshold ?? 20
    this.banMs = init.banMs ?? 10 * 60_000
    this.decayPerMinute = init.decayPerMinute ?? 10
    this.maxPeers = init.maxPeers ?? 10_000
    this.hangUp = node.hangUp
    this.penalty = behaviourPenalty(node.pubsub)
  }

  /** Adds `points` for something bad `peer` sent; bans it when it crosses the threshold. Returns whether it is banned now. */
  penalize (peer: string, points: number, reason: string, service: string): boolean {
    const r = this.current(peer)
    r.points += points
    this.components.metrics.limited.inc({ service, action: 'penalty' }, points)
    // one behaviour-penalty unit per penalty event; gossipsub squares the count, so repeated offences add up fast
    try { this.penalty?.(peer, 1) } catch (err) { this.components.logger.debug({ err, peer }, 'gossipsub penalty not applied') }
    if (r.points >= this.banThreshold && r.bannedUntil <= this.components.clock.now()) {
      r.bannedUntil = this.components.clock.now() + this.banMs
      this.components.metrics.limited.inc({ service, action: 'ban' })
      this.components.logger.info({ peer, reason, service, points: r.points }, 'peer banned')
      for (const fn of this.listeners) fn(peer, reason)
      if (this.hangUp !== undefined) {
        this.hangUp(peer).catch(err => { this.components.logger.debug({ err, peer }, 'hang-up of a banned peer failed (already gone)') })
      }
    }
    return this.banned(peer)
  }

  banned (peer: string): boolean {
    const r = this.peers.get(peer)
    return r !== undefined && r.bannedUntil > this.components.clock.now()
  }

  points (peer: string): number {
    return this.peers.has(peer) ? this.current(peer).points : 0
  }

  onBan (fn: BanListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private current (peer: string): Record {
    const now = this.components.clock.now()
    let r = this.peers.get(peer)
    if (r === undefined) {
      r = { points: 0, at: now, bannedUntil: 0 }
    } else {
      this.peers.delete(peer)
      r.points = Math.max(0, r.points - (now - r.at) * this.decayPerMinute / 60_000)
      r.at = now
    }
    this.peers.set(peer, r)
    if (this.peers.size > this.maxPeers) {
      // forget the least recently touched peer that is not banned
      for (const [k, v] of this.peers) {
        if (v.bannedUntil <= now) { this.peers.delete(k); break }
      }
      while (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value as string)
    }
    return r
  }
}

/** What a guard needs of a libp2p host: closing a banned peer's connections, and its gossipsub for penalties. */
export interface GuardedHost {
  hangUp: (peer: PeerId) => Promise<void>
  services: { pubsub?: unknown }
}

const perHost = new WeakMap<object, PeerGuard>()

/**
 * The host's guard, made on first use: the node's services share one, so a peer banned for a bad sync answer is
 * also refused on the deal and dispute protocols. A node that assembles its services itself passes its own.
 */
export function guardOf (host: GuardedHost, components: Pick<Components, 'clock' | 'logger' | 'metrics'>): PeerGuard {
  let g = perHost.get(host)
  if (g === undefined) {
    g = new PeerGuard(components, { hangUp: async peer => { await host.hangUp(peerIdFromString(peer)) }, pubsub: host.services.pubsub })
    perHost.set(host, g)
  }
  return g
}
