export { Executor, DEFAULT_EXECUTOR_OPTIONS } from './executor.ts'
export type { ExecutorOptions, RunOptions, ExecutionResult } from './executor.ts'
export {
  DockerUnavailableError, ImageMissingError, InsufficientDiskError, GpuUnavailableError, OutputTooLargeError,
  ExecutionAbortedError
} from './errors.ts'
export { gpuDeviceRequests, gpuStartError } from './gpu-request.ts'
export type { DeviceRequest } from './gpu-request.ts'
