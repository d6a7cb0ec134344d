// Reach: keeps the peers a node works with dialable for as long as it runs (a libp2p service, `host.services.reach`).
//
// Why it exists (issue 20, the hour-old devnet): libp2p's peer store forgets an address one hour after it was FIRST
// stored (`maxAddressAge`); storing the same address again keeps its first time, and an address that has expired
// stays expired when stored again. A bootstrap node learns a provider's addresses once, by identify, when the
// provider connects; the connection lives on, so identify never runs again, and an hour later the bootstrap hands
// the provider's (still live) offers to joining job creators with no address. Their dial then fails with
// NoValidAddressesError, and peer routing cannot help: the DHT answers from the same expired peer store.
//
// What it does:
// - re-stores the addresses of connected peers (from identify, signed by the peer) when they identify and every
//   `refreshIntervalMs`, writing them so that libp2p starts their hour afresh;
// - `learn()`: the one way our code writes addresses it heard (order-book sync, directory records);
// - `dialProtocol()`: dials a peer by id; when it has no address or the dial fails, re-resolves it (addresses we
//   learned, the signed directory record in the DHT, the peers that told us about it, peer routing) and dials what
//   was found; a peer that still cannot be reached is demoted (`isDemoted`) and the reason logged;
// - keeps the bootstrap peers connected (a restarted bootstrap is redialled with backoff);
// - walks the peer store every `sweepIntervalMs` (libp2p deletes expired peers only when they are read) and caps it.
import { type AbortOptions, type Connection, type Libp2pEvents, type Peer, type PeerId, type PeerStore, type TagOptions, type PeerRouting, type Stream, type TypedEventTarget, type Startable } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { systemClock, type Clock, type Timer } from '../../core/clock.ts'
import { silentLogger, type Logger } from '../observability/logger.ts'
import type { LilypadMetrics } from '../observability/metrics.ts'
import * as C from './constants.ts'

export interface ReachInit {
  /** bootstrap multiaddrs (ending in /p2p/<peer id>) to keep connected */
  bootstrap?: string[]
  logger?: Logger
  metrics?: LilypadMetrics
  clock?: Clock
  refreshIntervalMs?: number
  sweepIntervalMs?: number
  maxPeers?: number
  bootstrapCheckMs?: number
  bootstrapRetryMinMs?: number
  bootstrapRetryMaxMs?: number
  hintTtlMs?: number
  maxHints?: number
  maxAddrsPerPeer?: number
  demoteTtlMs?: number
  maxUnreachable?: number
  resolveTimeoutMs?: number
  /** names of the resolvers to ask ('directory', 'offer-sync', 'peer-routing', …); default every registered one */
  resolvers?: string[]
}

/** What the service uses of libp2p's components. */
export interface ReachComponents {
  peerId: PeerId
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: {
    openConnection: (peer: PeerId | Multiaddr | Multiaddr[], options?: AbortOptions) => Promise<Connection>
    getConnections: (peerId?: PeerId) => Connection[]
  }
  peerRouting: PeerRouting
}

/** Where addresses came from. `peer`: the peer itself (identify, its signed record, its own sync answer). */
export type AddressSource = 'peer' | 'hearsay'

/** Finds addresses of a peer (a signed directory record, a peer that knows it…); [] when it found none. */
export type Resolver = (peer: PeerId, signal: AbortSignal) => Promise<Multiaddr[]>

export class UnreachablePeerError extends Error {
  static override name = 'UnreachablePeerError'
  override name = 'UnreachablePeerError'
  readonly peer: string
  readonly reason: string
  constructor (peer: string, reason: string, options?: ErrorOptions) {
    super(`peer ${peer} cannot be reached: ${reason}`, options)
    this.peer = peer
    this.reason = reason
  }
}

interface Hint { addrs: Multiaddr[], at: number, source: string }
interface Unreachable { since: number, reason: string, failures: number }
interface BootstrapPeer { id: PeerId, addrs: Multiaddr[], failures: number, nextAt: number, lostAt?: number }

export interface ReachStats {
  /** peer-store entries at the last sweep */
  storedPeers: number
  connectedBootstrap: number
  bootstrap: number
  unreachable: number
  hints: number
}

/** Strips a trailing /p2p/<peer>; undefined for what does not parse. */
function clean (peer: string, a: Multiaddr | string): Multiaddr | undefined {
  let s: string
  try { s = (typeof a === 'string' ? multiaddr(a) : a).toString() } catch { return undefined }
  const suffix = `/p2p/${peer}`
  if (s.endsWith(suffix)) s = s.slice(0, -suffix.length)
  if (s === '' || s === '/') return undefined
  try { return multiaddr(s) } catch { return undefined }
}

function unique (addrs: Multiaddr[]): Multiaddr[] {
  const seen = new Set<string>()
  return addrs.filter(a => { const k = a.toString(); if (seen.has(k)) return false; seen.add(k); return true })
}

/** Errors of reaching a peer (as opposed to the peer refusing a protocol, or our own abort). */
function isReachError (err: unknown): boolean {
  const name = (err as Error)?.name
  return name !== 'UnsupportedProtocolError' && name !== 'AbortError' && name !== 'InvalidParametersError'
}

export class Reach implements Startable {
  readonly [Symbol.toStringTag] = 'lilypad/reach'
  private readonly c: ReachComponents
  private readonly init: ReachInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly connected = new Map<string, { addrs: Multiaddr[], certified: boolean }>()
  private readonly hints = new Map<string, Hint>()
  private readonly unreachable = new Map<string, Unreachable>()
  private readonly resolving = new Map<string, Promise<Multiaddr[]>>()
  private readonly resolvers: Array<{ name: string, fn: Resolver }> = []
  private readonly bootstrap = new Map<string, BootstrapPeer>()
  private readonly timers = new Set<Timer>()
  private readonly stopController = new AbortController()
  private readonly inflight = new Set<Promise<unknown>>()
  private running = false
  private storedPeers = 0

  constructor (components: ReachComponents, init: ReachInit = {}) {
    this.c = components
    this.init = init
    this.log = (init.logger ?? silentLogger()).child({ component: 'reach' })
    this.clock = init.clock ?? systemClock
    this.addResolver('peer-routing', async (peer, signal) => {
      const info = await this.c.peerRouting.findPeer(peer, { signal, useCache: false } as AbortOptions)
      return info.multiaddrs
    })
  }

  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, listenAddrs: Multiaddr[], signedPeerRecord?: { addresses: Multiaddr[] } }>): void => {
    const { peerId, listenAddrs, signedPeerRecord } = evt.detail
    const certified = signedPeerRecord !== undefined && signedPeerRecord.addresses.length > 0
    const addrs = this.capped(peerId.toString(), certified ? signedPeerRecord.addresses : listenAddrs)
    if (addrs.length === 0) return
    this.connected.set(peerId.toString(), { addrs, certified })
    // identify has just stored them, but with the time they were first stored: store them afresh
    this.track(this.store(peerId, addrs, certified))
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    const was = this.unreachable.get(id)
    if (was !== undefined) {
      this.unreachable.delete(id)
      this.log.info({ peer: id, unreachableForS: Math.round((this.clock.now() - was.since) / 1000) }, 'peer reachable again')
    }
    const b = this.bootstrap.get(id)
    if (b !== undefined) {
      if (b.lostAt !== undefined) this.log.info({ peer: id, afterS: Math.round((this.clock.now() - b.lostAt) / 1000), tries: b.failures }, 'reconnected to bootstrap peer')
      b.failures = 0
      b.lostAt = undefined
    }
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.connected.delete(id)
    const b = this.bootstrap.get(id)
    if (b !== undefined && this.running) {
      b.lostAt ??= this.clock.now()
      b.nextAt = this.clock.now() + (this.init.bootstrapRetryMinMs ?? C.DEFAULT_BOOTSTRAP_RETRY_MIN_MS)
      this.log.warn({ peer: id }, 'lost the connection to a bootstrap peer: redialling')
      this.schedule(() => { this.checkBootstrap() }, this.init.bootstrapRetryMinMs ?? C.DEFAULT_BOOTSTRAP_RETRY_MIN_MS)
    }
  }

  start (): void {
    if (this.running) return
    this.running = true
    for (const a of this.init.bootstrap ?? []) {
      try {
        const m = multiaddr(a)
        const id = m.getComponents().findLast(c => c.name === 'p2p')?.value
        if (id === undefined || id === this.c.peerId.toString()) continue
        const b = this.bootstrap.get(id) ?? { id: peerIdFromString(id), addrs: [], failures: 0, nextAt: 0 }
        const cleaned = clean(id, m)
        if (cleaned !== undefined) b.addrs.push(cleaned)
        this.bootstrap.set(id, b)
      } catch (err) {
        this.log.warn({ addr: a, err }, 'ignoring a bootstrap address that does not parse')
      }
    }
    this.c.events.addEventListener('peer:identify', this.onIdentify as never)
    this.c.events.addEventListener('peer:connect', this.onConnect)
    this.c.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.every(this.init.refreshIntervalMs ?? C.DEFAULT_ADDRESS_REFRESH_MS, () => { this.track(this.refresh()) })
    this.every(this.init.sweepIntervalMs ?? C.DEFAULT_PEER_SWEEP_MS, () => { this.track(this.sweep()) })
    if (this.bootstrap.size > 0) this.every(this.init.bootstrapCheckMs ?? C.DEFAULT_BOOTSTRAP_CHECK_MS, () => { this.checkBootstrap() })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopController.abort(new Error('reach stopping'))
    for (const t of this.timers) t.cancel()
    this.timers.clear()
    this.c.events.removeEventListener('peer:identify', this.onIdentify as never)
    this.c.events.removeEventListener('peer:connect', this.onConnect)
    this.c.events.removeEventListener('peer:disconnect', this.onDisconnect)
    await Promise.allSettled([...this.inflight])
  }

  /** Adds a source of addresses for re-resolution (tried after what we learned ourselves). Returns a remover. */
  addResolver (name: string, fn: Resolver): () => void {
    const r = { name, fn }
    this.resolvers.push(r)
    return () => { const i = this.resolvers.indexOf(r); if (i >= 0) this.resolvers.splice(i, 1) }
  }

  /**
   * Addresses our code heard for `peer`. From the peer itself they replace what the peer store holds (and start
   * libp2p's hour afresh); hearsay only fills a peer store that has no live address, and is kept for re-resolution
   * either way, so a stranger cannot push out a peer's real addresses.
   */
  async learn (peer: PeerId | string, addrs: Array<Multiaddr | string>, source: AddressSource): Promise<void> {
    const id = typeof peer === 'string' ? peerIdFromString(peer) : peer
    if (id.equals(this.c.peerId)) return
    const list = this.capped(id.toString(), addrs)
    if (list.length === 0) return
    this.hint(id.toString(), list, source)
    if (source === 'peer' || (await this.storedAddresses(id)).length === 0) await this.store(id, list, false)
  }

  /** Addresses the peer store holds for `peer` (libp2p leaves out the expired ones). */
  async storedAddresses (peer: PeerId): Promise<Multiaddr[]> {
    try {
      return (await this.c.peerStore.get(peer)).addresses.map(a => a.multiaddr)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return []
      throw err
    }
  }

  /** True while `peer` is recently unreachable: candidates on it go last. */
  isDemoted (peer: string): boolean {
    const u = this.unreachable.get(peer)
    if (u === undefined) return false
    if (this.clock.now() - u.since > (this.init.demoteTtlMs ?? C.DEFAULT_DEMOTE_TTL_MS)) { this.unreachable.delete(peer); return false }
    return true
  }

  /** Why `peer` is demoted, if it is. */
  whyUnreachable (peer: string): string | undefined {
    return this.isDemoted(peer) ? this.unreachable.get(peer)?.reason : undefined
  }

  stats (): ReachStats {
    let connectedBootstrap = 0
    for (const b of this.bootstrap.values()) if (this.c.connectionManager.getConnections(b.id).length > 0) connectedBootstrap++
    return { storedPeers: this.storedPeers, connectedBootstrap, bootstrap: this.bootstrap.size, unreachable: this.unreachable.size, hints: this.hints.size }
  }

  /**
   * Opens a stream to `peer` for `protocol`. With no address known, or when the dial fails, the peer is
   * re-resolved and what was found is dialled; if that fails too the peer is demoted and UnreachablePeerError thrown.
   */
  async dialProtocol (peer: PeerId, protocol: string | string[], options: AbortOptions = {}): Promise<Stream> {
    const conn = await this.connect(peer, options)
    return await conn.newStream(protocol, options)
  }

  /** A connection to `peer`, re-resolving it when needed (see dialProtocol). */
  async connect (peer: PeerId, options: AbortOptions = {}): Promise<Connection> {
    const open = this.c.connectionManager.getConnections(peer).find(c => c.status === 'open')
    if (open !== undefined) return open
    const known = await this.storedAddresses(peer)
    let why = 'no address known'
    if (known.length > 0) {
      try {
        return await this.c.connectionManager.openConnection(peer, options)
      } catch (err) {
        if (options.signal?.aborted === true || !isReachError(err)) throw err
        why = `${(err as Error).name} (${(err as Error).message.slice(0, 120)}) dialling ${known.length} known address${known.length === 1 ? '' : 'es'}`
      }
    }
    return await this.connectResolved(peer, known, why, options)
  }

  private async connectResolved (peer: PeerId, tried: Multiaddr[], why: string, options: AbortOptions): Promise<Connection> {
    const id = peer.toString()
    const triedSet = new Set(tried.map(String))
    const found = await this.resolve(peer, options.signal)
    const fresh = found.filter(a => !triedSet.has(a.toString()))
    if (fresh.length === 0) {
      const reason = `${why}; re-resolving found ${found.length === 0 ? 'nothing' : 'only the addresses that failed'}`
      this.demote(id, reason)
      throw new UnreachablePeerError(id, reason)
    }
    try {
      const conn = await this.c.connectionManager.openConnection(fresh.map(a => a.encapsulate(`/p2p/${id}`)), options)
      this.init.metrics?.reach.inc({ outcome: 'reresolved' })
      this.log.info({ peer: id, why, addrs: fresh.map(String) }, 'reached a peer at re-resolved addresses')
      return conn
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      const reason = `${why}; re-resolved addresses failed too (${(err as Error).name}: ${(err as Error).message.slice(0, 120)})`
      this.demote(id, reason)
      throw new UnreachablePeerError(id, reason, { cause: err })
    }
  }

  /** Addresses for `peer` from what we learned and then every resolver at once (first answer wins); [] if none. */
  async resolve (peer: PeerId, signal?: AbortSignal): Promise<Multiaddr[]> {
    const id = peer.toString()
    const running = this.resolving.get(id)
    if (running !== undefined) return await running
    const p = this.resolveNow(peer, signal).finally(() => { this.resolving.delete(id) })
    this.resolving.set(id, p)
    return await p
  }

  private async resolveNow (peer: PeerId, signal?: AbortSignal): Promise<Multiaddr[]> {
    const id = peer.toString()
    const hint = this.hints.get(id)
    const hinted = hint !== undefined && this.clock.now() - hint.at <= (this.init.hintTtlMs ?? C.DEFAULT_HINT_TTL_MS) ? hint.addrs : []
    const stored = await this.storedAddresses(peer)
    const local = unique([...hinted, ...stored])
    const timeout = AbortSignal.timeout(this.init.resolveTimeoutMs ?? C.DEFAULT_RESOLVE_TIMEOUT_MS)
    const done = new AbortController()
    const sig = AbortSignal.any([timeout, done.signal, this.stopController.signal, ...(signal !== undefined ? [signal] : [])])
    const known = new Set(local.map(String))
    const allowed = this.init.resolvers
    const answers = this.resolvers.filter(r => allowed === undefined || allowed.includes(r.name)).map(async r => {
      const addrs = this.capped(id, await r.fn(peer, sig))
      // an answer that only repeats what we already know does not win the race
      if (addrs.length === 0 || addrs.every(a => known.has(a.toString()))) throw new Error(`${r.name}: nothing new`)
      return { name: r.name, addrs }
    })
    let won: { name: string, addrs: Multiaddr[] } | undefined
    try {
      won = await Promise.any(answers)
    } catch {
      // every resolver failed or found nothing new: what we knew is all there is
    } finally {
      done.abort()
    }
    for (const a of answers) a.catch(() => {}) // losers settle after the winner; their outcome is not needed
    this.init.metrics?.resolutions.inc({ source: won?.name ?? 'none' })
    if (won === undefined) return local
    this.log.debug({ peer: id, source: won.name, addrs: won.addrs.map(String) }, 'resolved peer addresses')
    this.hint(id, won.addrs, won.name)
    return unique([...won.addrs, ...local])
  }

  private demote (id: string, reason: string): void {
    const u = this.unreachable.get(id)
    if (u === undefined) {
      this.unreachable.set(id, { since: this.clock.now(), reason, failures: 1 })
      const max = this.init.maxUnreachable ?? C.DEFAULT_MAX_UNREACHABLE
      for (const k of this.unreachable.keys()) { if (this.unreachable.size <= max) break; this.unreachable.delete(k) }
      this.log.warn({ peer: id, reason }, 'peer unreachable: its offers go last until it is reached again')
    } else {
      u.failures++
      u.reason = reason
      this.log.debug({ peer: id, reason, failures: u.failures }, 'peer still unreachable')
    }
    this.init.metrics?.reach.inc({ outcome: 'unreachable' })
  }

  private hint (id: string, addrs: Multiaddr[], source: string): void {
    this.hints.delete(id)
    this.hints.set(id, { addrs, at: this.clock.now(), source })
    const max = this.init.maxHints ?? C.DEFAULT_MAX_HINTS
    for (const k of this.hints.keys()) { if (this.hints.size <= max) break; this.hints.delete(k) }
  }

  private capped (id: string, addrs: Array<Multiaddr | string>): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const a of addrs) { const m = clean(id, a); if (m !== undefined) out.push(m) }
    return unique(out).slice(0, this.init.maxAddrsPerPeer ?? C.DEFAULT_MAX_ADDRS_PER_PEER)
  }

  /**
   * Replaces the peer's addresses so that libp2p dates them now. `save` is libp2p's one write that does not copy the
   * old timestamps (patch and merge do); it replaces the whole entry, so the entry's other fields are read and
   * written back in the same step. Two writes (clear, then add) would leave a moment with no address, and the DHT
   * reads the entry just after identify.
   */
  private async store (peer: PeerId, addrs: Multiaddr[], certified: boolean): Promise<void> {
    try {
      let existing: Peer | undefined
      try { existing = await this.c.peerStore.get(peer) } catch (err) { if ((err as Error).name !== 'NotFoundError') throw err }
      const tags = new Map<string, TagOptions>()
      for (const [k, tag] of existing?.tags ?? []) {
        // libp2p keeps a tag's expiry as an absolute time on its own clock (Date.now)
        const expiry = (tag as { expiry?: bigint }).expiry
        if (expiry === undefined) tags.set(k, { value: tag.value })
        else if (Number(expiry) > Date.now()) tags.set(k, { value: tag.value, ttl: Number(expiry) - Date.now() })
      }
      await this.c.peerStore.save(peer, {
        addresses: addrs.map(multiaddr => ({ multiaddr, isCertified: certified })),
        protocols: existing?.protocols ?? [],
        metadata: existing?.metadata ?? new Map(),
        tags,
        ...(existing?.peerRecordEnvelope !== undefined ? { peerRecordEnvelope: existing.peerRecordEnvelope } : {})
      })
    } catch (err) {
      this.log.warn({ peer: peer.toString(), err }, 'could not store peer addresses')
    }
  }

  /** Re-stores the addresses of every connected peer (well inside libp2p's address hour). */
  async refresh (): Promise<number> {
    let n = 0
    for (const [id, { addrs, certified }] of this.connected) {
      if (!this.running) break
      const peer = peerIdFromString(id)
      if (this.c.connectionManager.getConnections(peer).length === 0) { this.connected.delete(id); continue }
      await this.store(peer, addrs, certified)
      n++
    }
    for (const [id, h] of this.hints) if (this.clock.now() - h.at > (this.init.hintTtlMs ?? C.DEFAULT_HINT_TTL_MS)) this.hints.delete(id)
    this.log.debug({ peers: n }, 'refreshed the addresses of connected peers')
    return n
  }

  /** Reads the whole peer store (libp2p deletes expired entries as it reads them), then caps it. */
  async sweep (): Promise<{ peers: number, removed: number }> {
    const max = this.init.maxPeers ?? C.DEFAULT_MAX_PEERS
    const spare: PeerId[] = []
    let peers = 0
    for (const p of await this.c.peerStore.all()) {
      peers++
      // only a safety valve: over the cap, any disconnected peer but a bootstrap peer may go (also ones libp2p or the
      // DHT tagged keep-alive: with no connection left they are being redialled at best, and that gives up anyway)
      if (this.c.connectionManager.getConnections(p.id).length > 0 || this.bootstrap.has(p.id.toString())) continue
      spare.push(p.id)
    }
    let removed = 0
    for (const id of spare) {
      if (peers - removed <= max) break
      await this.c.peerStore.delete(id)
      removed++
    }
    this.storedPeers = peers - removed
    const now = this.clock.now()
    for (const [id, u] of this.unreachable) if (now - u.since > (this.init.demoteTtlMs ?? C.DEFAULT_DEMOTE_TTL_MS)) this.unreachable.delete(id)
    this.init.metrics?.peerStorePeers.set(this.storedPeers)
    if (removed > 0) this.log.info({ peers: this.storedPeers, removed }, 'peer store over its cap: removed disconnected peers')
    return { peers: this.storedPeers, removed }
  }

  private checkBootstrap (): void {
    if (!this.running) return
    const now = this.clock.now()
    for (const b of this.bootstrap.values()) {
      if (this.c.connectionManager.getConnections(b.id).length > 0 || now < b.nextAt) continue
      b.nextAt = Number.POSITIVE_INFINITY // one dial at a time per bootstrap peer
      this.track(this.c.connectionManager.openConnection(b.addrs.length > 0 ? b.addrs.map(a => a.encapsulate(`/p2p/${b.id.toString()}`)) : b.id, { signal: AbortSignal.any([AbortSignal.timeout(C.DEFAULT_DIAL_TIMEOUT_MS), this.stopController.signal]) }).then(() => {
        b.nextAt = 0
      }, (err: Error) => {
        b.failures++
        b.lostAt ??= now
        const min = this.init.bootstrapRetryMinMs ?? C.DEFAULT_BOOTSTRAP_RETRY_MIN_MS
        const wait = Math.min(this.init.bootstrapRetryMaxMs ?? C.DEFAULT_BOOTSTRAP_RETRY_MAX_MS, min * 2 ** Math.min(b.failures - 1, 20))
        b.nextAt = this.clock.now() + wait
        if (!this.running) return
        // the first failure and then every tenth: the log shows the outage without a line per retry
        const fields = { peer: b.id.toString(), tries: b.failures, downForS: Math.round((this.clock.now() - (b.lostAt ?? now)) / 1000), reason: `${err.name}: ${err.message}`.slice(0, 200) }
        if (b.failures === 1 || b.failures % 10 === 0) this.log.warn(fields, 'bootstrap peer unreachable: retrying')
        else this.log.debug(fields, 'bootstrap redial failed')
        this.schedule(() => { this.checkBootstrap() }, wait)
      }))
    }
  }

  private every (ms: number, fn: () => void): void {
    const arm = (): void => {
      const t = this.clock.setTimeout(() => { this.timers.delete(t); if (!this.running) return; fn(); arm() }, ms)
      this.timers.add(t)
    }
    arm()
  }

  private schedule (fn: () => void, ms: number): void {
    const t = this.clock.setTimeout(() => { this.timers.delete(t); if (this.running) fn() }, ms)
    this.timers.add(t)
  }

  private track (p: Promise<unknown>): void {
    const q = p.catch(err => { this.log.warn({ err }, 'reach task failed') })
    this.inflight.add(q)
    void q.finally(() => { this.inflight.delete(q) })
  }
}

/** The libp2p service factory (`services: { reach: reach({ bootstrap }) }`). */
export function reach (init: ReachInit = {}): (components: ReachComponents) => Reach {
  return components => new Reach(components, init)
}
