// What the roles ask of an executor: run a JobSpec to Lilypad's result directory, say whether the engine answers,
// and tidy what an earlier process left. Two implementations: Executor (one Docker engine) and SwarmExecutor (a
// Docker Swarm). Another cluster engine (Kubernetes, Bacalhau) plugs in here too: docs/operators.md says how.
import type Docker from 'dockerode'
import type { JobSpec } from '../modules/spec.ts'
import type { ExecutionResult, ReconcileReport, RunOptions } from './executor.ts'

export interface JobExecutor {
  /** The id that labels this provider's work on the engine (stable per data directory). */
  readonly owner: string
  /** The local engine that module images are built and pinned on (node/modules/images.ts). */
  readonly docker: Docker
  /** The engine (or cluster) answers; the named error with a hint otherwise (DockerUnavailableError, SwarmUnavailableError). */
  ping: (signal?: AbortSignal) => Promise<void>
  /** True once the engine answers again, false when timeoutMs passes first. */
  waitForEngine: (opts: { timeoutMs: number, signal?: AbortSignal }) => Promise<boolean>
  /**
   * Runs the job to its result directory. A non-zero exit, the deadline, an OOM kill or too much output is a
   * result (its status file says which); what stops a result from being made at all is a named error, and one
   * that a later run of the same job id can cure is `retryable` (EngineLostError: the engine or, on a cluster,
   * the job's node lost).
   */
  run: (spec: JobSpec, opts: RunOptions) => Promise<ExecutionResult>
  /** Removes this owner's left-over work whose job `keep` does not name; keeps the rest for a later run to adopt. */
  reconcile: (keep: (jobId: string) => boolean, signal?: AbortSignal) => Promise<ReconcileReport>
  /** Aborts every run in progress and releases every handle. */
  stop: () => Promise<void>
}
