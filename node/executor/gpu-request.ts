// How a job's GPUs reach its container: Docker's DeviceRequests with the "nvidia" driver (what
// `docker run --gpus` sends), by device UUID when the provider assigned GPUs to the slot, else by count
// (-1 = all, for Bacalhau's Resources.GPU "all").
import type { Resources } from '../modules/spec.ts'
import { GpuUnavailableError } from './errors.ts'

export interface DeviceRequest {
  Driver: string
  Count?: number
  DeviceIDs?: string[]
  Capabilities: string[][]
}

/** The container's DeviceRequests, or undefined for a job without GPUs. */
export function gpuDeviceRequests (r: Pick<Resources, 'gpus' | 'allGpus'>, deviceIds?: readonly string[]): DeviceRequest[] | undefined {
  if (r.gpus <= 0 && !r.allGpus) return undefined
  if (deviceIds !== undefined && deviceIds.length > 0) {
    if (deviceIds.length < r.gpus) throw new GpuUnavailableError(r.gpus, `this slot has ${deviceIds.length}`)
    // Count and DeviceIDs are exclusive in Docker's API: ids only.
    return [{ Driver: 'nvidia', DeviceIDs: r.allGpus ? [...deviceIds] : deviceIds.slice(0, r.gpus), Capabilities: [['gpu']] }]
  }
  return [{ Driver: 'nvidia', Count: r.allGpus ? -1 : r.gpus, Capabilities: [['gpu']] }]
}

/**
 * The engine's refusal to start a container whose device request no driver can serve ("could not select
 * device driver "nvidia" with capabilities: [[gpu]]"), as a GpuUnavailableError; undefined for other errors.
 */
export function gpuStartError (e: unknown, r: Pick<Resources, 'gpus' | 'allGpus'>): GpuUnavailableError | undefined {
  const msg = (e as Error)?.message ?? ''
  if (!/could not select device driver/.test(msg)) return undefined
  const err = new GpuUnavailableError(Math.max(1, r.gpus), `the container engine cannot give containers GPUs (${msg.replace(/^\(HTTP code \d+\) [\w ]+ - /, '').trim()}); install the NVIDIA Container Toolkit and restart dockerd`)
  ;(err as { cause?: unknown }).cause = e
  return err
}
