export { Executor, DEFAULT_EXECUTOR_OPTIONS } from './executor.ts'
export type { JobExecutor } from './interface.ts'
export { LABEL_OWNER, LABEL_JOB, LABEL_CONFIG, LABEL_OUTPUTS } from './container.ts'
export type { ExecutorOptions, RunOptions, ExecutionResult, ExecutorEvents, ReconcileReport } from './executor.ts'
export type { OutputChunk } from './engine.ts'
export { loadExecutorOwner, OWNER_FILE } from './owner.ts'
export {
  STATUS_FILE, RESULT_STATUSES, encodeResultStatus, parseResultStatus, readResultStatus, describeResultStatus, ResultStatusError
} from './status.ts'
export type { ResultStatus, ResultStatusCode } from './status.ts'
export {
  DockerUnavailableError, ImageMissingError, InsufficientDiskError, DiskFullError, GpuUnavailableError, OutputTooLargeError,
  ExecutionAbortedError, EngineLostError, JobAlreadyRunningError, ExecutorOwnerError, ExecutorConfigError, SwarmUnavailableError, SwarmConfigError
} from './errors.ts'
export type { EngineLostReason, ClusterLostReason } from './errors.ts'
export { gpuDeviceRequests, gpuStartError } from './gpu-request.ts'
export type { DeviceRequest } from './gpu-request.ts'
export { SwarmExecutor, SwarmCluster, DEFAULT_SWARM_OPTIONS } from './swarm.ts'
export type { SwarmExecutorOptions, SwarmNode } from './swarm.ts'
export { LABEL_ENGINE } from './swarm-service.ts'
