export { Executor, DEFAULT_EXECUTOR_OPTIONS } from './executor.ts'
export type { ExecutorOptions, RunOptions, ExecutionResult } from './executor.ts'
export {
  DockerUnavailableError, ImageMissingError, InsufficientDiskError, GpuUnavailableError, OutputTooLargeError,
  ExecutionAbortedError
} from './errors.ts'
