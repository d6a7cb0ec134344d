// Which addresses a provider fetches a stranger's URL from. Only public unicast addresses, unless the operator
// allows a range: a job must not make a provider reach its own loopback services, its LAN, a cloud metadata
// service (169.254.169.254, fd00:ec2::254) or anything else behind its firewall. Names are resolved once, every
// address checked, and the connection made to the address that was checked (no second lookup that a DNS
// rebinding could answer differently).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { InputAddressRefusedError, type InputRef } from './errors.ts'

const SPECIAL: ReadonlyArray<[cidr: string, name: string]> = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/96', 'unspecified, loopback or IPv4-compatible'],
  ['64:ff9b::/96', 'NAT64'],
  ['64:ff9b:1::/48', 'local NAT64'],
  ['100::/64', 'discard'],
  ['2001::/32', 'Teredo'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast']
]

function blockListOf (cidr: string): BlockList {
  const list = new BlockList()
  const slash = cidr.lastIndexOf('/')
  const net = slash === -1 ? cidr : cidr.slice(0, slash)
  const family = isIP(net)
  if (family === 0) throw new RangeError(`not an address range: ${JSON.stringify(cidr)} (expected e.g. "10.0.0.0/8" or "fd00::/8")`)
  const bits = slash === -1 ? (family === 4 ? 32 : 128) : Number(cidr.slice(slash + 1))
  if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) throw new RangeError(`bad prefix length in ${JSON.stringify(cidr)}`)
  list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6')
  return list
}

const SPECIAL_LISTS = SPECIAL.map(([cidr, name]) => ({ cidr, name, list: blockListOf(cidr) }))

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is; anything else unchanged. */
function unmap (ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (m !== null) return m[1]
  const h = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip)
  if (h !== null) {
    const hi = parseInt(h[1], 16)
    const lo = parseInt(h[2], 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return ip
}

/** The special range an address falls in ("loopback", "private", …), or undefined for a public address. */
export function specialRange (ip: string): string | undefined {
  const a = unmap(ip)
  const family = isIP(a) === 6 ? 'ipv6' : 'ipv4'
  for (const s of SPECIAL_LISTS) if (s.list.check(a, family)) return `${s.name}, ${s.cidr}`
  return undefined
}

/** Throws a RangeError naming the first entry that is not an address range (for flags and config files). */
export function checkAddressRanges (ranges: readonly string[]): void {
  for (const r of ranges) blockListOf(r)
}

/** The operator's allowed ranges, compiled once. */
export class AddressPolicy {
  private readonly allowed: BlockList[]
  constructor (allowAddresses: readonly string[]) {
    this.allowed = allowAddresses.map(blockListOf)
  }

  /** Throws InputAddressRefusedError unless the address is public or in an allowed range. */
  check (host: string, ip: string, input?: InputRef): void {
    const range = specialRange(ip)
    if (range === undefined) return
    const a = unmap(ip)
    const family = isIP(a) === 6 ? 'ipv6' : 'ipv4'
    if (this.allowed.some(l => l.check(a, family))) return
    throw new InputAddressRefusedError(input, host, ip, range)
  }

  /**
   * A lookup for http.request: resolves every address of the name, refuses the name when any of them is not
   * allowed (a name that also points inside is not trusted for its outside addresses), and hands the socket
   * exactly the addresses it checked.
   */
  lookup (input?: InputRef): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints ?? 0 }, (err, addresses: LookupAddress[]) => {
        if (err !== null) { callback(err, '', 0); return }
        try {
          if (addresses.length === 0) throw Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' })
          for (const a of addresses) this.check(hostname, a.address, input)
        } catch (e) {
          callback(e as NodeJS.ErrnoException, '', 0)
          return
        }
        if (options.all === true) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
        else callback(null, addresses[0].address, addresses[0].family)
      })
    }
  }
}
