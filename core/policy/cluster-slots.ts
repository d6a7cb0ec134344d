// How many slot-shaped jobs a cluster can hold: pure, over a snapshot of its nodes. A job runs on one node, so
// capacity is counted per node (a slot never spans two machines) and summed. Every job asks for at most the
// slot's shape in each dimension, so a node with room for f shapes holds any f of them, and the cluster's
// scheduler can always place k ≤ Σ f jobs: booking no more than that never over-commits the cluster.

/** One node's schedulable resources (cpu in millicores, memory in MiB), and what is already reserved on it. */
export interface ClusterNode {
  id: string
  hostname: string
  /** the node answers (swarm: Status.State ready) */
  ready: boolean
  /** the node takes new work (swarm: Spec.Availability active; a drained or paused node does not) */
  active: boolean
  cpu: number
  ramMb: number
  gpus: number
  /** reserved by tasks that are not this provider's jobs (other services) */
  reserved: { cpu: number, ramMb: number, gpus: number }
  /** what this provider's own jobs reserve, by job id (its booked slots already count them) */
  own?: ReadonlyArray<{ jobId: string, cpu: number, ramMb: number, gpus: number }>
}

export interface SlotShape { cpu: number, ramMb: number, gpus: number }

/**
 * Slot-shaped jobs one node can hold besides what others reserved there (0 when it is not ready or not active).
 * `booked` tells this provider's jobs that hold a slot (not counted again) from others under the same owner id
 * (a mediator's re-runs sharing the executor), which are counted like any other work.
 */
export function nodeSlots (n: ClusterNode, shape: SlotShape, booked: (jobId: string) => boolean = () => true): number {
  if (!n.ready || !n.active) return 0
  const used = { ...n.reserved }
  for (const o of n.own ?? []) if (!booked(o.jobId)) { used.cpu += o.cpu; used.ramMb += o.ramMb; used.gpus += o.gpus }
  const fit = (have: number, taken: number, need: number): number => need <= 0 ? Infinity : Math.floor(Math.max(0, have - taken) / need)
  const k = Math.min(fit(n.cpu, used.cpu, shape.cpu), fit(n.ramMb, used.ramMb, shape.ramMb), fit(n.gpus, used.gpus, shape.gpus))
  // a shape that asks for nothing at all is not a slot
  return Number.isFinite(k) ? k : 0
}

/** Slot-shaped jobs the whole cluster can hold. */
export function clusterSlots (nodes: readonly ClusterNode[], shape: SlotShape, booked?: (jobId: string) => boolean): number {
  return nodes.reduce((n, node) => n + nodeSlots(node, shape, booked), 0)
}

/** The largest ready, active node (by cpu, then memory): what one slot may at most be. */
export function largestNode (nodes: readonly ClusterNode[]): ClusterNode | undefined {
  return nodes.filter(n => n.ready && n.active).sort((a, b) => b.cpu - a.cpu || b.ramMb - a.ramMb)[0]
}
