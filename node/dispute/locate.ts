// Finding the libp2p peer behind an Ethereum address: first the peer id the address registered in the Directory
// contract (the root of trust for mediators), with its addresses from the DHT's signed node record when one is
// published; then the DHT records of nodes announcing `role` whose signed record names the address.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ChainClient } from '../chain/index.ts'
import type { NodeRecord } from '../../protocols/directory/record-types.ts'
import { nodeRecordKey, verifyNodeRecord } from '../../protocols/directory/record.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'

/** What peer lookups need of the directory (node/directory `Directory` fits; so does `dhtRecords`). */
export interface RecordReader {
  get: (peerId: string, options?: { signal?: AbortSignal }) => Promise<NodeRecord | undefined>
  findByRole?: (role: string, options?: { timeoutMs?: number }) => Promise<NodeRecord[]>
}

/** Reads verified node records straight from a host's DHT (no key needed: nothing is published). */
export function dhtRecords (node: { services: { dht: KadDHT } }, domain: LilypadDomain): RecordReader {
  return {
    get: async (peerId, options = {}) => {
      const key = nodeRecordKey(peerId)
      let best: NodeRecord | undefined
      try {
        for await (const e of node.services.dht.get(key, { signal: options.signal ?? AbortSignal.timeout(5000) })) {
          if (e.name !== 'VALUE') continue
          try {
            const r = await verifyNodeRecord(key, e.value, domain, nowSeconds())
            if (best === undefined || r.seq > best.seq) best = r
          } catch { /* an invalid copy */ }
        }
      } catch { /* not found, timed out */ }
      return best
    }
  }
}

export type PeerTarget = string | Multiaddr[]

export interface LocateOptions {
  chain: ChainClient
  directory?: RecordReader
  /** DHT role to search when the Directory contract names no peer ('mediator', 'job-creator', …) */
  roles?: string[]
  timeoutMs?: number
  /** true when this host already has a connection to the peer (then the peer id alone is tried first) */
  connected?: (peerId: string) => boolean
}

function dialable (r: NodeRecord): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const a of r.multiaddrs) {
    try {
      const m = multiaddr(a)
      out.push(a.includes('/p2p/') ? m : m.encapsulate(`/p2p/${r.peerId}`))
    } catch { /* a bad address in a signed record is the publisher's loss */ }
  }
  return out
}

/** Dial targets for `address`, best first (may be empty). */
export async function locatePeer (address: string, opts: LocateOptions): Promise<PeerTarget[]> {
  const out: PeerTarget[] = []
  const seen = new Set<string>()
  let registered = ''
  try { registered = (await opts.chain.directory.nodeOf(address)).peerId } catch { /* not registered */ }
  if (registered !== '') {
    try {
      peerIdFromString(registered)
      seen.add(registered)
      if (opts.connected?.(registered) === true) out.push(registered)
      // no record in the DHT (yet): the peer id alone is tried below
      const rec = opts.directory !== undefined ? await opts.directory.get(registered, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) }).catch(() => undefined) : undefined
      if (rec !== undefined && rec.ethAddress.toLowerCase() === address.toLowerCase()) {
        const addrs = dialable(rec)
        if (addrs.length > 0) out.push(addrs)
      }
      if (!out.includes(registered)) out.push(registered) // the host may know its addresses, or find them by peer routing
    } catch { /* not a peer id */ }
  }
  if (opts.directory?.findByRole !== undefined) {
    for (const role of opts.roles ?? []) {
      const recs = await opts.directory.findByRole!(role, { timeoutMs: opts.timeoutMs ?? 5000 }).catch(() => [])
      for (const r of recs) {
        if (r.ethAddress.toLowerCase() !== address.toLowerCase() || seen.has(r.peerId)) continue
        seen.add(r.peerId)
        const addrs = dialable(r)
        if (addrs.length > 0) out.push(addrs)
      }
    }
  }
  return out
}
