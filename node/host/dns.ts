// Name resolution for bootstrap lists and dials: /dnsaddr (TXT records `dnsaddr=<multiaddr>`, libp2p's own
// resolver) and /dns, /dns4, /dns6 (A / AAAA, ours), all through one resolver with a hard timeout, so a
// slow or silent DNS server costs a dial at most DNS_TIMEOUT_MS and never a libuv thread (c-ares, not
// getaddrinfo). Addresses carrying TLS (/tls, /wss, /sni) keep their name: the certificate is checked
// against it, so the transport resolves those itself.
import { Resolver } from 'node:dns/promises'
import { dns, RecordType, type DNS, type DNSResponse, type Answer } from '@multiformats/dns'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrResolver, MultiaddrResolveOptions } from '@libp2p/interface'
import { DNS_CACHE_SIZE, DNS_TIMEOUT_MS, DNS_TRIES } from './constants.ts'

export class DnsTimeoutError extends Error {
  static override name = 'DnsTimeoutError'
  override name = DnsTimeoutError.name
}

export interface DnsOptions {
  /** `host` or `host:port` of the DNS servers to ask; default: the system's (/etc/resolv.conf) */
  servers?: string[]
  timeoutMs?: number
  tries?: number
}

/** A @multiformats/dns instance (libp2p's `dns` component) that asks c-ares with a timeout. */
export function createDns (options: DnsOptions = {}): DNS {
  const timeoutMs = options.timeoutMs ?? DNS_TIMEOUT_MS
  const tries = options.tries ?? DNS_TRIES
  const resolve = async (fqdn: string, query: { signal?: AbortSignal, types?: RecordType | RecordType[] } = {}): Promise<DNSResponse> => {
    // c-ares splits its own timeout over the tries; ours bounds the whole query, cancellation included
    const resolver = new Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / (tries + 1))), tries })
    if (options.servers !== undefined && options.servers.length > 0) resolver.setServers(options.servers)
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = query.signal !== undefined ? AbortSignal.any([query.signal, deadline]) : deadline
    const cancel = (): void => { resolver.cancel() }
    signal.addEventListener('abort', cancel, { once: true })
    const types = query.types === undefined ? [RecordType.A] : Array.isArray(query.types) ? query.types : [query.types]
    try {
      const answers = await Promise.all(types.map(async (type): Promise<Answer[]> => {
        switch (type) {
          case RecordType.A: return (await resolver.resolve4(fqdn, { ttl: true })).map(r => ({ name: fqdn, type, TTL: r.ttl, data: r.address }))
          case RecordType.AAAA: return (await resolver.resolve6(fqdn, { ttl: true })).map(r => ({ name: fqdn, type, TTL: r.ttl, data: r.address }))
          case RecordType.TXT: return (await resolver.resolveTxt(fqdn)).map(chunks => ({ name: fqdn, type, TTL: 60, data: chunks.join('') }))
          default: throw new TypeError(`DNS record type ${type} is not supported`)
        }
      }))
      return { Status: 0, TC: false, RD: true, RA: true, AD: false, CD: false, Question: types.map(type => ({ name: fqdn, type })), Answer: answers.flat() }
    } catch (err) {
      if (deadline.aborted) throw new DnsTimeoutError(`resolving ${fqdn} took longer than ${timeoutMs} ms`, { cause: err })
      throw err
    } finally {
      signal.removeEventListener('abort', cancel)
    }
  }
  return dns({ resolvers: { '.': resolve }, cacheSize: DNS_CACHE_SIZE })
}

const NAME_PROTOCOLS = new Set(['dns', 'dns4', 'dns6'])
const KEEPS_NAME = new Set(['tls', 'wss', 'sni', 'https'])

/** Resolves /dns, /dns4 and /dns6 addresses (without TLS) to /ip4 and /ip6 ones through the `dns` component. */
export const dnsNameResolver: MultiaddrResolver = {
  canResolve (ma: Multiaddr): boolean {
    const parts = ma.getComponents()
    return parts.length > 0 && NAME_PROTOCOLS.has(parts[0].name) && !parts.some(c => KEEPS_NAME.has(c.name))
  },
  async resolve (ma: Multiaddr, options: MultiaddrResolveOptions): Promise<Multiaddr[]> {
    const [head, ...rest] = ma.getComponents()
    const name = head.value as string
    const types = head.name === 'dns4' ? [RecordType.A] : head.name === 'dns6' ? [RecordType.AAAA] : [RecordType.A, RecordType.AAAA]
    const resolver = options.dns ?? createDns()
    // dns4 and dns6 ask for one family; dns for both, and either may legitimately be empty
    const responses = await Promise.allSettled(types.map(async type => await resolver.query(name, { types: [type], ...(options.signal !== undefined ? { signal: options.signal } : {}) })))
    const answers = responses.flatMap(r => r.status === 'fulfilled' ? r.value.Answer : [])
    if (answers.length === 0 && responses[0].status === 'rejected') throw responses[0].reason
    const tail = rest.map(c => c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`).join('')
    return answers
      .filter(a => a.type === RecordType.A || a.type === RecordType.AAAA)
      .map(a => multiaddr(`/${a.type === RecordType.A ? 'ip4' : 'ip6'}/${a.data}${tail}`))
  }
}
