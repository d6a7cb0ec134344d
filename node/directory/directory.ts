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
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../observability/logger.ts'
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

/** The newest valid record of `peerId` in the DHT, or undefined (not found, timed out, or every copy invalid). */
export async function readNodeRecord (dht: KadDHT, domain: LilypadDomain, peerId: string, signal: AbortSignal): Promise<NodeRecord | undefined> {
  const key = nodeRecordKey(peerId)
  let best: NodeRecord | undefined
  try {
    for await (const e of dht.get(key, { signal })) {
      if (e.name !== 'VALUE') continue
      try {
        const r = await verifyNodeRecord(key, e.value, domain, nowSeconds())
        if (best === undefined || r.seq > best.seq) best = r
      } catch { /* an invalid copy: the validator already refuses to store them, a peer may still answer with one */ }
    }
  } catch (err) {
    if (best === undefined && (err as Error).name !== 'NotFoundError' && (err as Error).name !== 'AbortError' && (err as Error).name !== 'TimeoutError') throw err
  }
  return best
}

/**
 * Re-resolution from the directory: the addresses in the peer's own signed record (node/host/reach.ts). Both keys
 * signed them, so they come from the peer itself.
 */
export function directoryResolver (node: { services: { dht: KadDHT } }, domain: LilypadDomain): (peer: PeerId, signal: AbortSignal) => Promise<Multiaddr[]> {
  return async (peer, signal) => {
    const r = await readNodeRecord(node.services.dht, domain, peer.toString(), signal)
    const out: Multiaddr[] = []
    for (const a of r?.multiaddrs ?? []) {
      try { out.push(multiaddr(a)) } catch { /* a bad address in a signed record is the publisher's loss */ }
    }
    return out
  }
}

export interface PublishLoopOptions {
  roles: string[]
  /** record lifetime (default 1 h) */
  ttlSec?: number
  /** republish this often (default ttl / 3): a restarted DHT server, or new addresses, are covered within it */
  intervalMs?: number
  /** retry a failed publish after this long (default 10 s) */
  retryMs?: number
  log?: Logger
}

export class Directory {
  private readonly node: DirectoryNode
  private readonly init: DirectoryInit
  private seq = 0n
  private published = 0
  private loop: { timer?: NodeJS.Timeout, running: Promise<void>, stop: AbortController } | undefined

  constructor (node: DirectoryNode, init: DirectoryInit) {
    if (!init.privateKey.publicKey.equals(node.peerId.publicKey)) throw new TypeError('privateKey is not the key of this node')
    this.node = node
    this.init = init
  }

  /** each DHT call's own time limit, ended early by `cancel` */
  private signal (cancel?: AbortSignal): AbortSignal {
    const limit = AbortSignal.timeout(this.init.timeoutMs ?? 10_000)
    return cancel === undefined ? limit : AbortSignal.any([limit, cancel])
  }

  /** Signs and stores this node's record, then announces its roles (`signal` ends it early). Returns the record. */
  async publish (options: { roles: string[], ttlSec?: number, signal?: AbortSignal }): Promise<NodeRecord> {
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
    for await (const _ of dht.put(nodeRecordKey(record.peerId), value, { signal: this.signal(options.signal) })) { /* drain */ }
    for (const role of record.roles) {
      for await (const _ of dht.provide(await roleCid(this.init.networkId, role), { signal: this.signal(options.signal) })) { /* drain */ }
    }
    return record
  }

  /** The newest valid record of `peerId`, or undefined. */
  async get (peerId: string, options: { signal?: AbortSignal } = {}): Promise<NodeRecord | undefined> {
    return await readNodeRecord(this.node.services.dht, this.init.domain, peerId, options.signal ?? this.signal())
  }

  /**
   * Publishes now and keeps the record published (records expire; a DHT server that restarts forgets them), until
   * `stop()`. Failures are logged and retried, never thrown.
   */
  keepPublished (opts: PublishLoopOptions): void {
    this.stopPublishing()
    const ttlSec = opts.ttlSec ?? 3600
    const every = opts.intervalMs ?? Math.floor(ttlSec * 1000 / 3)
    const log = opts.log
    let failures = 0
    const stop = new AbortController()
    const run = async (): Promise<void> => {
      try {
        const r = await this.publish({ roles: opts.roles, ttlSec, signal: stop.signal })
        if (failures > 0 || this.published === 0) log?.info({ roles: r.roles, addrs: r.multiaddrs.length, expiry: Number(r.expiry), afterFailures: failures }, 'directory record published')
        else log?.debug({ expiry: Number(r.expiry) }, 'directory record republished')
        this.published++
        failures = 0
        arm(every)
      } catch (err) {
        if (stop.signal.aborted) return // stopped: the publish was cut short on purpose
        failures++
        if (failures === 1 || failures % 10 === 0) log?.warn({ err, failures }, 'could not publish the directory record: retrying')
        arm(opts.retryMs ?? 10_000)
      }
    }
    const loop: NonNullable<Directory['loop']> = { running: Promise.resolve(), stop }
    const arm = (ms: number): void => {
      if (stop.signal.aborted) return
      loop.timer = setTimeout(() => { loop.running = run() }, ms)
      loop.timer.unref()
    }
    this.loop = loop
    loop.running = run()
  }

  /**
   * Stops keepPublished's loop, cutting short a publish in flight (with no reachable DHT peer one waits out its whole
   * time limit); the record stays in the DHT until it expires.
   */
  async stop (): Promise<void> {
    const running = this.loop?.running
    this.stopPublishing()
    await running
  }

  private stopPublishing (): void {
    if (this.loop?.timer !== undefined) clearTimeout(this.loop.timer)
    this.loop?.stop.abort()
    this.loop = undefined
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
