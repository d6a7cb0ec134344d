// Executor failures. A job that runs and exits non-zero (or times out, runs out of memory, writes too much) is
// NOT one of these: that is a result, with its status file. These are what stops the executor from producing a
// result at all; each carries a hint, and those that trying again can cure say so (`retryable`).
export { InsufficientDiskError, DiskFullError } from '../result-store/disk.ts'
export class DockerUnavailableError extends Error {
  static override name = 'DockerUnavailableError'
  override name = 'DockerUnavailableError'
  readonly hint: string = 'start the Docker engine (dockerd) or point DOCKER_HOST / the socket path at a running one'
  /** Nothing ran: run again once the engine answers. */
  readonly retryable = true
}

export class ImageMissingError extends Error {
  static override name = 'ImageMissingError'
  override name = 'ImageMissingError'
  readonly image: string
  readonly hint = 'build built-in module images with ensureBuiltinImages(), or load/pull the image on this machine'
  constructor (image: string, detail?: string, cause?: unknown) {
    super(`image ${image} is not present${detail !== undefined ? ` (${detail})` : ''}`, { cause })
    this.image = image
  }
}

export class GpuUnavailableError extends Error {
  static override name = 'GpuUnavailableError'
  override name = 'GpuUnavailableError'
  readonly requested: number
  constructor (requested: number, reason: string) {
    super(`the job asks for ${requested} GPU(s) but ${reason}`)
    this.requested = requested
  }
}

export class OutputTooLargeError extends Error {
  static override name = 'OutputTooLargeError'
  override name = 'OutputTooLargeError'
  readonly limitBytes: number
  constructor (limitBytes: number) {
    super(`the job's outputs exceeded the ${limitBytes}-byte cap`)
    this.limitBytes = limitBytes
  }
}

export class ExecutionAbortedError extends Error {
  static override name = 'ExecutionAbortedError'
  override name = 'ExecutionAbortedError'
}

/**
 * The engine connection was lost after the container was created, and the run could not be finished from what
 * the engine still holds. reason:
 *   unreachable    the engine did not answer again within the reconnect window;
 *   container-gone the container vanished (removed by someone else, or the engine restarted without it);
 *   output-lost    the engine came back but the job's stdout/stderr from the gap cannot be proven complete
 *                  (its log rotated), so no result is made up.
 * `containerLeft`: a container of this job may still exist on the engine; the next run() of the same job id
 * adopts or removes it before anything new starts, and reconcile() removes it when the job is not kept.
 */
export type EngineLostReason = 'unreachable' | 'container-gone' | 'output-lost' | ClusterLostReason

/**
 * A cluster executor's ways of losing a job (node/executor/swarm.ts), retryable like a lost engine:
 *   node-drained   the node the job ran on was drained (or paused, or went down) while it ran: the job is
 *                  stopped there, to run again wherever the cluster has room;
 *   task-shutdown  the cluster shut the job's task down (the job did not exit by itself);
 *   unschedulable  no node took the job within the executor's scheduling window (every node drained or full).
 */
export type ClusterLostReason = 'node-drained' | 'task-shutdown' | 'unschedulable'
const CLUSTER_REASONS: ReadonlySet<string> = new Set<ClusterLostReason>(['node-drained', 'task-shutdown', 'unschedulable'])

export class EngineLostError extends Error {
  static override name = 'EngineLostError'
  override name = 'EngineLostError'
  readonly reason: EngineLostReason
  readonly jobId: string
  readonly containerId: string | undefined
  readonly containerLeft: boolean
  /** Running the job again (same job id) is sound: it adopts what is left or starts afresh, never beside it. */
  readonly retryable = true
  readonly hint: string
  constructor (reason: EngineLostReason, detail: string, opts: { jobId: string, containerId?: string, containerLeft: boolean, cause?: unknown }) {
    super(`${CLUSTER_REASONS.has(reason) ? 'the cluster lost' : 'lost the Docker engine during'} job ${opts.jobId}: ${detail}`, { cause: opts.cause })
    this.reason = reason
    this.jobId = opts.jobId
    this.containerId = opts.containerId
    this.containerLeft = opts.containerLeft
    this.hint = reason === 'unreachable'
      ? 'check that dockerd is running and its socket reachable; run the job again (same job id) once it answers'
      : CLUSTER_REASONS.has(reason)
        ? 'run the job again (same job id) once a node is ready and active (docker node ls; docker node update --availability active NODE)'
        : 'run the job again (same job id) while its deadline leaves time'
  }
}

/** A second run() of a job id this executor is already running: refused, so one job never has two containers. */
export class JobAlreadyRunningError extends Error {
  static override name = 'JobAlreadyRunningError'
  override name = 'JobAlreadyRunningError'
  readonly hint = 'wait for the running attempt to finish or abort it before starting the job again'
}

/** The executor's owner id file (one per provider data directory) is not what this program wrote. */
export class ExecutorOwnerError extends Error {
  static override name = 'ExecutorOwnerError'
  override name = 'ExecutorOwnerError'
  readonly hint = 'the file names this provider\'s containers on the Docker engine; restore it, or delete it (containers left by an earlier run then have to be removed by hand: docker ps -a --filter label=org.lilypad.owner)'
}

/** An executor option that would let an honest result break the rule job creators fetch by (core/policy/result-size.ts). */
export class ExecutorConfigError extends Error {
  static override name = 'ExecutorConfigError'
  override name = 'ExecutorConfigError'
  readonly hint = 'streamCapBytes must be at most 16 MiB: job creators stop fetching a result at the job\'s disk plus 64 MiB'
}

/** The engine answers but is not a Swarm manager: the Swarm executor has no cluster to run on. */
export class SwarmUnavailableError extends DockerUnavailableError {
  static override name = 'SwarmUnavailableError'
  override name = 'SwarmUnavailableError'
  override readonly hint = 'point DOCKER_HOST at a manager of the swarm (docker swarm init, or docker node promote), or run with --executor docker'
}

/** What a job or the cluster asks for cannot be expressed as a Swarm service with the plain executor's sandbox. */
export class SwarmConfigError extends Error {
  static override name = 'SwarmConfigError'
  override name = 'SwarmConfigError'
  readonly hint: string
  constructor (message: string, hint = 'see docs/operators.md, "Running a provider on a cluster"') {
    super(message)
    this.hint = hint
  }
}
