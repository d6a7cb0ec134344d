// Connection policy that libp2p's connection manager lacks: a cap on open connections per remote IP (so
// one machine cannot fill our connection table with fresh peer ids), streams that may use a relayed
// connection when that is all there is, and a log of how each peer is connected (direct or relayed).
import { getNetConfig, isLoopback, isNetworkAddress, isPrivate } from '@libp2p/utils'
import { Circuit, DNS } from '@multiformats/multiaddr-matcher'
import { DIRECT_DIAL_TIMEOUT_MS } from './constants.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { cidrContains, IpNet } from '@chainsafe/netmask'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId, Stream, AbortOptions } from '@libp2p/interface'

/** The remote IP of a direct connection; undefined for relayed or non-IP ones. */
export function remoteIp (addr: Connection['remoteAddr']): string | undefined {
  if (Circuit.matches(addr) || !isNetworkAddress(addr)) return undefined
  // an address without a host part (e.g. /p2p/…) has no IP to count
  try { return getNetConfig(addr).host } catch { return undefined }
}

/**
 * What the per-IP limits count an address under: an IPv4 address itself; for IPv6 its /64, the block a single
 * subscriber or server is routinely given (counted per address, one such holder would pass as 2^64 machines).
 */
export function addressGroup (ip: string): string {
  if (!ip.includes(':')) return ip
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return mapped[1]
  return new IpNet(ip, 64).toString()
}

/** `/ip4/…/ipcidr/N` or `/ip6/…/ipcidr/N` → a matcher on IP strings (the form libp2p's allow-list takes). */
function cidrMatcher (range: string): (ip: string) => boolean {
  const config = getNetConfig(multiaddr(range))
  if ((config.type !== 'ip4' && config.type !== 'ip6') || config.cidr === undefined) throw new TypeError(`"${range}" is not an /ip4/…/ipcidr/N or /ip6/…/ipcidr/N range`)
  const cidr = `${config.host}/${config.cidr}`
  // an IPv6 string against an IPv4 range (or the reverse) throws: not in the range
  return ip => { try { return cidrContains(cidr, ip) } catch { return false } }
}

/** What the gate reads of a relay's reservations: who holds one, made from which address. */
export interface ReservationsView {
  entries: () => Iterable<[PeerId, { addr: Multiaddr }]>
}

/**
 * A connection gater refusing an inbound connection from an IP that already holds `maxPerIp` admitted ones,
 * or when `maxInbound` are admitted in all — counted from admission, handshakes in progress included, until
 * they close. libp2p's own maxConnections counts only finished connections, so a burst of simultaneous
 * handshakes overshoots it until the pruner catches up; this gate does not. Allow-listed ranges are exempt,
 * as they are from libp2p's limits.
 */
export class PerIpConnectionGate {
  readonly gater: ConnectionGater
  readonly maxPerIp: number
  readonly maxInbound: number
  private total = 0
  private node?: Pick<Libp2p, 'getConnections'>
  private reservations?: ReservationsView
  private maxReservationsPerIp = Infinity
  private readonly allowed: Array<(ip: string) => boolean>
  private readonly admitted = new Map<string, Set<MultiaddrConnection>>()
  /** inbound connections refused by this gate */
  refused = 0
  /** relay reservations refused by the per-IP cap */
  refusedReservations = 0

  constructor (maxPerIp: number, maxInbound: number, allow: string[] = []) {
    this.maxPerIp = maxPerIp
    this.maxInbound = maxInbound
    this.allowed = allow.map(cidrMatcher)
    this.gater = {
      denyInboundConnection: (maConn: MultiaddrConnection) => this.deny(maConn),
      denyInboundRelayReservation: (source: PeerId) => this.denyReservation(source)
    }
  }

  /**
   * For a relay: refuse a new reservation when reservations made from the asker's IP already number
   * `maxPerIp` (libp2p caps reservations only in all, so one machine minting peer ids could take every slot).
   * A refresh by a holder is never refused. Allow-listed ranges and loopback (a reverse proxy) are exempt.
   */
  limitReservations (node: Pick<Libp2p, 'getConnections'>, reservations: ReservationsView, maxPerIp: number): void {
    this.node = node
    this.reservations = reservations
    this.maxReservationsPerIp = maxPerIp
  }

  private exempt (addr: Multiaddr, ip: string): boolean {
    return isLoopback(addr) || this.allowed.some(a => a(ip))
  }

  private denyReservation (source: PeerId): boolean {
    if (this.reservations === undefined || this.node === undefined) return false
    const ips = new Set<string>()
    for (const c of this.node.getConnections(source)) {
      const ip = remoteIp(c.remoteAddr)
      if (ip !== undefined && !this.exempt(c.remoteAddr, ip)) ips.add(addressGroup(ip))
    }
    // relayed askers are refused by the relay itself; exempt ones are not counted
    if (ips.size === 0) return false
    let held = 0
    for (const [peer, r] of this.reservations.entries()) {
      if (peer.equals(source)) return false
      const ip = remoteIp(r.addr)
      if (ip !== undefined && ips.has(addressGroup(ip))) held++
    }
    if (held < this.maxReservationsPerIp) return false
    this.refusedReservations++
    return true
  }

  private deny (maConn: MultiaddrConnection): boolean {
    const remote = remoteIp(maConn.remoteAddr)
    if (remote === undefined || this.allowed.some(a => a(remote))) return false
    const ip = addressGroup(remote)
    const set = this.admitted.get(ip) ?? new Set<MultiaddrConnection>()
    for (const c of set) if (c.status === 'closed') { set.delete(c); this.total-- }
    // loopback is a local tool or a reverse proxy (TLS in front of /ws): its one IP stands for many clients
    const perIpFull = set.size >= this.maxPerIp && !isLoopback(maConn.remoteAddr)
    if (perIpFull || this.total >= this.maxInbound) {
      this.refused++
      return true
    }
    set.add(maConn)
    this.total++
    this.admitted.set(ip, set)
    maConn.addEventListener('close', () => {
      if (set.delete(maConn)) this.total--
      if (set.size === 0 && this.admitted.get(ip) === set) this.admitted.delete(ip)
    }, { once: true })
    return false
  }
}

/** Whether a connection goes through a circuit relay. */
export function isRelayed (c: Pick<Connection, 'remoteAddr'>): boolean {
  return Circuit.matches(c.remoteAddr)
}

/**
 * Opens a stream for one of our protocols: on an open unlimited connection if there is one; else, when all we
 * have is a relayed (limited) connection, first a short direct dial if the peer advertises a public address
 * (a node behind NAT can always dial out to a public one, whether or not DCUtR got there first), then the
 * relayed connection itself — libp2p would dial again instead, which fails for a peer reachable only through
 * a relay; else a dial (direct addresses first, relayed last).
 */
export type StreamOpener = Pick<Libp2p, 'getConnections' | 'dialProtocol' | 'dial' | 'peerStore'> & {
  /** the host's reach service (node/host/reach.ts): a dial that re-resolves a peer whose addresses went stale */
  services?: { reach?: { dialProtocol: (peer: PeerId, protocol: string, options?: AbortOptions) => Promise<Stream> } }
}

export async function openStream (host: StreamOpener, peer: PeerId, protocol: string, options: AbortOptions = {}): Promise<Stream> {
  const open = host.getConnections(peer).filter(c => c.status === 'open')
  const unlimited = open.find(c => c.limits === undefined)
  if (unlimited !== undefined) return await unlimited.newStream(protocol, { ...options, runOnLimitedConnection: true })
  if (open.length > 0) {
    if (await hasPublicAddress(host, peer)) {
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(DIRECT_DIAL_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
        const conn = await host.dial(peer, { signal })
        if (conn.limits === undefined) return await conn.newStream(protocol, { ...options, runOnLimitedConnection: true })
      } catch {
        // expected whenever the peer's public address is not reachable from here: the relayed connection serves
      }
    }
    const relayed = open.find(c => c.status === 'open')
    if (relayed !== undefined) return await relayed.newStream(protocol, { ...options, runOnLimitedConnection: true })
  }
  return await (host.services?.reach ?? host).dialProtocol(peer, protocol, { ...options, runOnLimitedConnection: true })
}

async function hasPublicAddress (host: Pick<Libp2p, 'peerStore'>, peer: PeerId): Promise<boolean> {
  try {
    const { addresses } = await host.peerStore.get(peer)
    return addresses.some(({ multiaddr: ma }) => !Circuit.matches(ma) && (DNS.matches(ma) || (isNetworkAddress(ma) && isPrivate(ma) !== true)))
  } catch {
    // NotFoundError: nothing known of the peer, so no public address
    return false
  }
}

export interface ConnectionEvent {
  peer: string
  addr: string
  direction: 'inbound' | 'outbound'
  /** through a circuit relay */
  relayed: boolean
  /** carries relay limits (data / duration) */
  limited: boolean
}

/**
 * Calls `log` on every connection opened and closed, and with the node's addresses whenever they change (a
 * relay reservation made or lost, an address AutoNAT confirmed); returns the unsubscribe function.
 */
export function watchConnections (host: Pick<Libp2p, 'addEventListener' | 'removeEventListener' | 'getMultiaddrs'>, log: (msg: string, fields: Record<string, unknown>) => void): () => void {
  const fields = (c: Connection): ConnectionEvent => ({ peer: c.remotePeer.toString(), addr: c.remoteAddr.toString(), direction: c.direction, relayed: isRelayed(c), limited: c.limits !== undefined })
  const opened = (e: CustomEvent<Connection>): void => { log('connection open', { ...fields(e.detail) }) }
  const closed = (e: CustomEvent<Connection>): void => { log('connection close', { ...fields(e.detail) }) }
  let last = ''
  const updated = (): void => {
    const addrs = host.getMultiaddrs().map(String)
    if (addrs.join() === last) return
    last = addrs.join()
    log('addresses', { addrs })
  }
  host.addEventListener('connection:open', opened)
  host.addEventListener('connection:close', closed)
  host.addEventListener('self:peer:update', updated)
  return () => {
    host.removeEventListener('connection:open', opened)
    host.removeEventListener('connection:close', closed)
    host.removeEventListener('self:peer:update', updated)
  }
}
