// Connection policy that libp2p's connection manager lacks: a cap on open connections per remote IP (so
// one machine cannot fill our connection table with fresh peer ids), streams that may use a relayed
// connection when that is all there is, and a log of how each peer is connected (direct or relayed).
import { getNetConfig, isNetworkAddress } from '@libp2p/utils'
import { Circuit } from '@multiformats/multiaddr-matcher'
import { multiaddr } from '@multiformats/multiaddr'
import { cidrContains } from '@chainsafe/netmask'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId, Stream, AbortOptions } from '@libp2p/interface'

/** The remote IP of a direct connection; undefined for relayed or non-IP ones. */
export function remoteIp (addr: Connection['remoteAddr']): string | undefined {
  if (Circuit.matches(addr) || !isNetworkAddress(addr)) return undefined
  try { return getNetConfig(addr).host } catch { return undefined }
}

/** `/ip4/…/ipcidr/N` or `/ip6/…/ipcidr/N` → a matcher on IP strings (the form libp2p's allow-list takes). */
function cidrMatcher (range: string): (ip: string) => boolean {
  const config = getNetConfig(multiaddr(range))
  if ((config.type !== 'ip4' && config.type !== 'ip6') || config.cidr === undefined) throw new TypeError(`"${range}" is not an /ip4/…/ipcidr/N or /ip6/…/ipcidr/N range`)
  const cidr = `${config.host}/${config.cidr}`
  return ip => { try { return cidrContains(cidr, ip) } catch { return false } }
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
  private readonly allowed: Array<(ip: string) => boolean>
  private readonly admitted = new Map<string, Set<MultiaddrConnection>>()
  /** inbound connections refused by this gate */
  refused = 0

  constructor (maxPerIp: number, maxInbound: number, allow: string[] = []) {
    this.maxPerIp = maxPerIp
    this.maxInbound = maxInbound
    this.allowed = allow.map(cidrMatcher)
    this.gater = {
      denyInboundConnection: (maConn: MultiaddrConnection) => this.deny(maConn)
    }
  }

  private deny (maConn: MultiaddrConnection): boolean {
    const ip = remoteIp(maConn.remoteAddr)
    if (ip === undefined || this.allowed.some(a => a(ip))) return false
    const set = this.admitted.get(ip) ?? new Set<MultiaddrConnection>()
    for (const c of set) if (c.status === 'closed') { set.delete(c); this.total-- }
    if (set.size >= this.maxPerIp || this.total >= this.maxInbound) {
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
 * Opens a stream for one of our protocols: on an open unlimited connection if there is one, else on an open
 * relayed (limited) one — libp2p would dial again instead, which fails for a peer reachable only through a
 * relay — else by dialing (direct addresses first, relayed last). DCUtR upgrades relayed connections in the
 * background, so later streams go direct when they can.
 */
export async function openStream (host: Pick<Libp2p, 'getConnections' | 'dialProtocol'>, peer: PeerId, protocol: string, options: AbortOptions = {}): Promise<Stream> {
  const open = host.getConnections(peer).filter(c => c.status === 'open')
  const best = open.find(c => c.limits === undefined) ?? open[0]
  if (best !== undefined) return await best.newStream(protocol, { ...options, runOnLimitedConnection: true })
  return await host.dialProtocol(peer, protocol, { ...options, runOnLimitedConnection: true })
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

/** Calls `log` on every connection opened and closed; returns the unsubscribe function. */
export function watchConnections (host: Pick<Libp2p, 'addEventListener' | 'removeEventListener'>, log: (msg: string, fields: Record<string, unknown>) => void): () => void {
  const fields = (c: Connection): ConnectionEvent => ({ peer: c.remotePeer.toString(), addr: c.remoteAddr.toString(), direction: c.direction, relayed: isRelayed(c), limited: c.limits !== undefined })
  const opened = (e: CustomEvent<Connection>): void => { log('connection open', { ...fields(e.detail) }) }
  const closed = (e: CustomEvent<Connection>): void => { log('connection close', { ...fields(e.detail) }) }
  host.addEventListener('connection:open', opened)
  host.addEventListener('connection:close', closed)
  return () => {
    host.removeEventListener('connection:open', opened)
    host.removeEventListener('connection:close', closed)
  }
}
