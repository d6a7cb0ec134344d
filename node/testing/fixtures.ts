// Shared by tests and benchmarks: deterministic keys, signed offers, and meshes of real libp2p nodes on
// 127.0.0.1.
import { Wallet, keccak256, toUtf8Bytes } from 'ethers'
import { multiaddr } from '@multiformats/multiaddr'
import { signMessage, type JobOffer, type LilypadDomain, type ResourceOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { signPeerBinding } from '../../protocols/peer-binding.ts'
import { createHost, localMeshOptions, type HostOptions, type LilypadHost } from '../host/create-host.ts'
import { routerOf } from '../gossip/gossip.ts'

export const testDomain: LilypadDomain = { chainId: 1337n, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' }
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

export function wallet (label: string): Wallet {
  return new Wallet(keccak256(toUtf8Bytes(`lilypad-test:${label}`)))
}

export const mediatorA = wallet('mediator-a').address
export const mediatorB = wallet('mediator-b').address

export function nowSec (): bigint { return BigInt(Math.floor(Date.now() / 1000)) }

let nonceCounter = BigInt(Date.now()) * 1000n
export function freshNonce (): bigint { return ++nonceCounter }

export function resourceOffer (provider: string, over: Partial<ResourceOffer> = {}): ResourceOffer {
  return {
    provider,
    slot: 0,
    spec: { cpu: 4000, ramMb: 8192, diskMb: 50000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    modules: [],
    price: 100n,
    collateral: 1000n,
    mediators: [mediatorA],
    expiry: nowSec() + 300n,
    nonce: freshNonce(),
    seedCommit: '0x' + '00'.repeat(32),
    ...over
  }
}

export function jobOffer (jobCreator: string, over: Partial<JobOffer> = {}): JobOffer {
  return {
    jobCreator,
    module: 'cowsay:v0.0.1',
    inputs: '{"Message":"moo"}',
    spec: { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: 1000n,
    mediators: [mediatorA],
    target: ZERO_ADDRESS,
    timeout: 60,
    auditPpm: 0,
    expiry: nowSec() + 300n,
    nonce: freshNonce(),
    seedCommit: '0x' + '00'.repeat(32),
    ...over
  }
}

export async function signedResourceOffer (w: Wallet, o: ResourceOffer, domain = testDomain): Promise<Envelope<'ResourceOffer'>> {
  return { kind: 'ResourceOffer', value: o, signature: await signMessage('ResourceOffer', domain, o, w) }
}

const bindings = new Map<string, { expiry: bigint, signature: string }>()

/** A resource offer with its provider's signed binding to `peerId` (what an announcer sends: one binding per provider and peer). */
export async function boundResourceOffer (w: Wallet, o: ResourceOffer, peerId: string, domain = testDomain): Promise<Envelope<'ResourceOffer'>> {
  const key = `${w.address}|${peerId}|${domain.chainId}|${domain.verifyingContract}`
  let b = bindings.get(key)
  if (b === undefined || b.expiry < nowSec() + 600n) {
    const expiry = nowSec() + 3600n
    b = { expiry, signature: await signPeerBinding(domain, { account: w.address, peerId, expiry }, w) }
    bindings.set(key, b)
  }
  return { ...(await signedResourceOffer(w, o, domain)), peer: peerId, binding: b }
}

export async function signedJobOffer (w: Wallet, o: JobOffer, domain = testDomain): Promise<Envelope<'JobOffer'>> {
  return { kind: 'JobOffer', value: o, signature: await signMessage('JobOffer', domain, o, w) }
}

/** Polls `cond` until true or the timeout; for conditions libp2p signals with no event (mesh formation). */
export async function waitFor (cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export const NETWORK = 'testnet'

export async function startHosts (n: number, over: Partial<HostOptions> = {}): Promise<LilypadHost[]> {
  return await Promise.all(Array.from({ length: n }, async () => await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, ...over })))
}

/**
 * Connects node i to i-1 and i-3 (a ring with chords): connected, low diameter, degree ~4. Dials run
 * `concurrency` at a time (default all at once): a hundred simultaneous handshakes in one process can starve
 * the event loop past the dial timeout on a loaded machine.
 */
export async function connectMesh (hosts: LilypadHost[], extra: Array<{ multiaddrs: string[] }> = [], opts: { concurrency?: number, timeoutMs?: number } = {}): Promise<void> {
  const targets = [...hosts.map(h => h.getMultiaddrs().map(String)), ...extra.map(e => e.multiaddrs)]
  const dials: Array<() => Promise<unknown>> = []
  for (let i = 1; i < targets.length; i++) {
    for (const j of new Set([i - 1, i >= 3 ? i - 3 : 0])) {
      if (j === i) continue
      const from = hosts[i] ?? hosts[j]
      const to = hosts[i] !== undefined ? targets[j] : targets[i]
      if (from === undefined || to === undefined) continue
      // generous by default: on a loaded machine a dial can take seconds; the test's own timeout bounds the whole.
      // A dial the remote drops while it opens (its inbound upgrades queue up under load: "Remote closed connection
      // during opening") is dialled again until the deadline, as a node's own reconnects would.
      dials.push(async () => {
        const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
        for (let attempt = 1; ; attempt++) {
          try {
            return await from.dial(multiaddr(to[0]), { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
          } catch (err) {
            if (attempt >= 5 || Date.now() >= deadline) throw err
          }
        }
      })
    }
  }
  const width = opts.concurrency ?? dials.length
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, dials.length) }, async () => {
    while (next < dials.length) await dials[next++]()
  }))
}

/** Waits until every host has gossip mesh peers on `topic` (min of its subscribed neighbours and 3). */
export async function waitForMesh (hosts: LilypadHost[], topic: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => hosts.every(h => {
    const subs = h.services.pubsub.getSubscribers(topic).length
    const mesh = routerOf(h.services.pubsub).getMeshPeers(topic).length
    return subs > 0 && mesh >= Math.min(subs, 3)
  }), timeoutMs, `gossip mesh on ${topic}`)
}

export async function stopAll (hosts: LilypadHost[]): Promise<void> {
  await Promise.all(hosts.map(async h => { await h.stop() }))
}
