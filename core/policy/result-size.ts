// How big a job's result may be. One rule for both sides: the provider's executor keeps a job's outputs within the
// disk the job asked for (and its own cap), so an honest result is never bigger than `resultBytesBound`; the job
// creator stops fetching a result DAG at that bound, so a hostile provider cannot make it write more than the job
// could have produced. The allowance covers what is not the outputs: stdout and stderr (each capped by the
// executor), exitCode, status.json and the DAG's own blocks.

/** Bytes of the result directory besides the outputs: the two streams, small files, and the DAG's links. */
export const RESULT_ALLOWANCE_BYTES = 64 * 1024 * 1024

/** The most an executor may keep of each of stdout and stderr so that an honest result fits the bound. */
export const MAX_STREAM_CAP_BYTES = 16 * 1024 * 1024

/** The outputs a job that asked for `diskMb` MB of disk may leave (before the provider's own, maybe lower, cap). */
export function outputsBytesBound (diskMb: number): number {
  return Math.max(0, diskMb) * 1e6
}

/** Every block of a job's result DAG, counted as fetched, stays within this. */
export function resultBytesBound (diskMb: number): number {
  return outputsBytesBound(diskMb) + RESULT_ALLOWANCE_BYTES
}
