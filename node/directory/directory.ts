// The directory: signed node records in the network's own kad-DHT and role discovery through provider
// records. A node publishes its record under /lilypad/node/<peer id> and provides the CID of
// `/lilypad/<network>/role/<role>` for each of its roles; findByRole() finds the providers and returns only
// records that verify (both signatures, right key, not expired) and list the role. Every DHT call has a
// timeout.
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { getBytes, type Signer } from 'ethers'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { protocols } from '../../protocols/protocol-id.ts'
import { encodeSignedNodeRecord, nodeRecordDigest, nodeRecordKey, signNodeRecord, verifyNodeRecord, type NodeRecord } from '../../protocols/directory/record.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'

export interface DirectoryNode {
  peerId: PeerId
  getMultiaddrs: () => Multiaddr[]
  services: { dht: KadDHT }
}

export interface DirectoryInit {
  networkId: string
  domain: LilypadDomain
  /** the Ethereum key the record binds to this peer */
  signer: Signer
  /** this node's libp2p key (the same the host runs with) */
  privateKey: PrivateKey
  timeoutMs?: number
}

export async function roleCid (networkId: string, role: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(protocols.role(networkId, role))))
}

export class Directory {
  private readonly node: DirectoryNode
  private readonly init: DirectoryInit
  private seq = 0n

  constructor (node: DirectoryNode, init: DirectoryInit) {
    if (!init.privateKey.publicKey.equals(node.peerId.publicKey)) throw new TypeError('privateKey is not the key of this node')
    this.node = node
    this.init = init
  }

  private signal (): AbortSignal { return AbortSignal.timeout(this.init.timeoutMs ?? 10_000) }

  /** Signs and stores this node's record, then announces its roles. Returns the record. */
  async publish (options: { roles: string[], ttlSec?: number }): Promise<NodeRecord> {
    const t = BigInt(Date.now())
    this.seq = t > this.seq ? t : this.seq + 1n
    const record: NodeRecord = {
      peerId: this.node.peerId.toString(),
      multiaddrs: this.node.getMultiaddrs().map(String).slice(0, 16),
      roles: [...options.roles].sort(),
      ethAddress: await this.init.signer.getAddress(),
      seq: this.seq,
      expiry: nowSeconds() + BigInt(options.ttlSec ?? 3600)
    }
    const signature = await signNodeRecord(this.init.domain, record, this.init.signer)
    const peerSignature = await this.init.privateKey.sign(getBytes(nodeRecordDigest(this.init.domain, record)))
    const value = encodeSignedNodeRecord({ record: { kind: 'NodeRecord', value: record, signature }, peerSignature })
    const dht = this.node.services.dht
    for await (const _ of dht.put(nodeRecordKey(record.peerId), value, { signal: this.signal() })) { /* drain */ }
    for (const role of record.roles) {
      for await (const _ of dht.provide(await roleCid(this.init.networkId, role), { signal: this.signal() })) { /* drain */ }
    }
    return record
  }

  /** The newest valid record of `peerId`, or undefined. */
  async get (peerId: string, options: { signal?: AbortSignal } = {}): Promise<NodeRecord | undefined> {
    const key = nodeRecordKey(peerId)
    let best: NodeRecord | undefined
    try {
      for await (const e of this.node.services.dht.get(key, { signal: options.signal ?? this.signal() })) {
        if (e.name !== 'VALUE') continue
        try {
          const r = await verifyNodeRecord(key, e.value, this.init.domain, nowSeconds())
          if (best === undefined || r.seq > best.seq) best = r
        } catch {
          // an invalid copy (forged, expired, for another network): the other copies may be valid
        }
      }
    } catch (err) {
      if (best === undefined && (err as Error).name !== 'NotFoundError' && (err as Error).name !== 'AbortError' && (err as Error).name !== 'TimeoutError') throw err
    }
    return best
  }

  /** Verified records of nodes that provide `role` (e.g. 'mediator', 'solver'). */
  async findByRole (role: string, options: { limit?: number, timeoutMs?: number } = {}): Promise<NodeRecord[]> {
    const limit = options.limit ?? 20
    const signal = AbortSignal.timeout(options.timeoutMs ?? this.init.timeoutMs ?? 10_000)
    const seen = new Set<string>()
    const out: NodeRecord[] = []
    try {
      for await (const e of this.node.services.dht.findProviders(await roleCid(this.init.networkId, role), { signal })) {
        if (e.name !== 'PROVIDER') continue
        for (const p of e.providers) {
          const id = p.id.toString()
          if (seen.has(id)) continue
          seen.add(id)
          const r = await this.get(id, { signal })
          if (r !== undefined && r.roles.includes(role)) out.push(r)
          if (out.length >= limit) return out
        }
      }
    } catch (err) {
      if (out.length === 0 && (err as Error).name !== 'AbortError' && (err as Error).name !== 'TimeoutError') throw err
    }
    return out
  }
}
