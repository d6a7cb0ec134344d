// The network model. Gossip is not simulated message by message: a message's arrival at a node is computed
// from the node's hop distance to the publisher in a random D-regular mesh (gossipsub's mesh degree), the
// per-link latency distribution and the per-hop validation time. Direct streams (negotiation, result fetches)
// cost link latencies plus transfer time at the link's bandwidth. Loss, churn (nodes down) and partitions
// (two sides that cannot reach each other) decide whether anything arrives at all.
import { mix32, type Rng } from './rng.ts'

export interface NetworkParams {
  /** median one-way link latency, seconds */
  linkLatencyMedian: number
  /** sigma of the log-normal link latency */
  linkLatencySigma: number
  /** time a node spends validating a gossip message before forwarding it, seconds */
  hopProcessing: number
  /** gossipsub mesh degree D */
  meshDegree: number
  /** probability that one transmission is lost */
  loss: number
  /** gossip repairs a lost transmission from other mesh peers and IHAVE/IWANT: this many independent tries per hop */
  gossipRedundancy: number
  /** bytes per second on a direct stream */
  bandwidth: number
  /** fixed cost of opening a stream (dial reuse assumed), seconds */
  streamSetup: number
}

export const defaultNetworkParams: NetworkParams = {
  linkLatencyMedian: 0.04,
  linkLatencySigma: 0.5,
  hopProcessing: 0.004,
  meshDegree: 6,
  loss: 0.01,
  gossipRedundancy: 3,
  bandwidth: 12.5e6, // 100 Mbit/s
  streamSetup: 0.002
}

export class Network {
  readonly params: NetworkParams
  readonly size: number
  /** 1 = up, 0 = down (churned out) */
  readonly up: Uint8Array
  /** partition side of each node; only consulted while a partition is active */
  readonly side: Uint8Array
  partitioned = false
  private readonly hopCdf: number[]
  private readonly rng: Rng
  private readonly salt: number

  constructor (size: number, params: NetworkParams, rng: Rng) {
    this.params = params
    this.size = size
    this.up = new Uint8Array(size).fill(1)
    this.side = new Uint8Array(size)
    this.rng = rng
    this.salt = rng.nextU32()
    this.hopCdf = hopDistribution(size, params.meshDegree)
  }

  /** Can a message from a get to b right now (both up, same side of any partition)? */
  reachable (a: number, b: number): boolean {
    return this.up[a] === 1 && this.up[b] === 1 && (!this.partitioned || this.side[a] === this.side[b])
  }

  /** Hop distance of b from a in the modelled mesh: fixed per pair, distributed as BFS depths of a random D-regular graph. */
  hops (a: number, b: number): number {
    if (a === b) return 0
    const u = mix32(mix32(a < b ? a : b, a < b ? b : a), this.salt) / 4294967296
    const cdf = this.hopCdf
    for (let h = 0; h < cdf.length; h++) if (u < cdf[h]) return h + 1
    return cdf.length
  }

  linkLatency (): number {
    return this.rng.lognormal(this.params.linkLatencyMedian, this.params.linkLatencySigma)
  }

  /** Delay until gossip published by `from` reaches `to`, or -1 if it never does (loss, partition, down). */
  gossipDelay (from: number, to: number): number {
    if (!this.reachable(from, to)) return -1
    const h = this.hops(from, to)
    const p = this.params
    const missPerHop = Math.pow(p.loss, p.gossipRedundancy)
    if (missPerHop > 0 && this.rng.next() < 1 - Math.pow(1 - missPerHop, h)) return -1
    let d = 0
    for (let i = 0; i < h; i++) d += this.linkLatency() + p.hopProcessing
    return d
  }

  /** One-way delay of a direct stream message, or -1 if lost or unreachable. */
  directDelay (from: number, to: number, bytes = 0): number {
    if (!this.reachable(from, to)) return -1
    if (this.rng.bernoulli(this.params.loss)) return -1
    return this.params.streamSetup + this.linkLatency() + bytes / this.params.bandwidth
  }
}

/** Cumulative distribution of BFS depth (1, 2, …) from a node in a random D-regular graph of n nodes. */
export function hopDistribution (n: number, degree: number): number[] {
  const others = Math.max(1, n - 1)
  const cdf: number[] = []
  let reached = 0
  let frontier = Math.min(degree, others)
  while (reached < others) {
    const add = Math.min(frontier, others - reached)
    reached += add
    cdf.push(reached / others)
    frontier = frontier * (degree - 1)
  }
  cdf[cdf.length - 1] = 1
  return cdf
}
