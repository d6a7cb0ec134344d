// What a job asks of a machine: the module's resources, raised by what the person running it asks for
// (`lilypad run --cpu CORES --ram MB --gpu N --gpu-model NAME --vram MB`). The result is the JobOffer's MachineSpec,
// and the provider runs the job's container with the CPU and memory it asks (node/roles/resource-provider.ts).
import type { MachineSpec } from '../../protocols/eip712.ts'
import { MAX_GPU_MODEL_LENGTH, type Resources } from './spec.ts'

export interface GpuRequirement {
  /** At least this many GPUs. */
  gpus?: number
  /** This model ('' or absent = the module's, if any). */
  gpuModel?: string
  /** At least this much VRAM on each GPU, MiB. */
  gpuVramMb?: number
}

/** CPU and memory asked for on top of the module's (`lilypad run --cpu --ram`; a validator's canary asks for a whole slot) */
export interface CpuRequirement {
  /** At least this many millicores. */
  cpu?: number
  /** At least this much memory, MiB. */
  ramMb?: number
}

export class GpuRequirementError extends Error {
  static override name = 'GpuRequirementError'
  override name = 'GpuRequirementError'
  readonly hint = '--gpu takes a count (0-65535), --vram megabytes of VRAM per GPU, --gpu-model a model name like "H100" or "RTX 4090"'
}

export class CpuRequirementError extends Error {
  static override name = 'CpuRequirementError'
  override name = 'CpuRequirementError'
  readonly hint = '--cpu takes cores (e.g. 1 or 0.5), --ram megabytes of memory'
}

const UINT16 = 0xffff
const UINT32 = 0xffffffff

/**
 * The MachineSpec a job offer requires. Counts and VRAM can only be raised (the module knows what it needs
 * at least); a model given replaces the module's. Asking for a model or VRAM implies at least one GPU.
 */
export function machineRequirement (r: Resources, want: GpuRequirement = {}, machine: CpuRequirement = {}): MachineSpec {
  for (const [k, v] of [['CPU', machine.cpu], ['memory', machine.ramMb]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= UINT32)) throw new CpuRequirementError(`${k} ${v} is not a whole number from 0 to ${UINT32}`)
  }
  if (want.gpus !== undefined && !(Number.isInteger(want.gpus) && want.gpus >= 0 && want.gpus <= UINT16)) throw new GpuRequirementError(`GPU count ${want.gpus} is not a whole number from 0 to ${UINT16}`)
  if (want.gpuVramMb !== undefined && !(Number.isInteger(want.gpuVramMb) && want.gpuVramMb >= 0 && want.gpuVramMb <= UINT32)) throw new GpuRequirementError(`VRAM ${want.gpuVramMb} is not a whole number of megabytes`)
  const model = (want.gpuModel ?? '').trim()
  if (model.length > MAX_GPU_MODEL_LENGTH) throw new GpuRequirementError(`GPU model name longer than ${MAX_GPU_MODEL_LENGTH} characters`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(model)) throw new GpuRequirementError('GPU model name has control characters')
  const gpuModel = model !== '' ? model : r.gpuModel
  const gpuVramMb = Math.max(r.gpuVramMb, want.gpuVramMb ?? 0)
  let gpus = Math.max(r.gpus, want.gpus ?? 0)
  if (gpus === 0 && (gpuModel !== '' || gpuVramMb > 0)) gpus = 1
  return { cpu: Math.max(r.cpu, machine.cpu ?? 0), ramMb: Math.max(r.ramMb, machine.ramMb ?? 0), diskMb: r.diskMb, gpus, gpuVramMb, gpuModel, cudaVersion: r.cudaVersion }
}

/**
 * The CPU and memory a job's container is given: the module's, raised to what the job offer asks (`lilypad run --cpu
 * --ram`; a canary asks for its whole slot). The provider matched the offer against its slot, so it is never more than
 * the slot offers; GPUs stay as the module and the slot's devices say.
 */
export function containerResources (module: Resources, asked: Pick<MachineSpec, 'cpu' | 'ramMb'>): Resources {
  return { ...module, cpu: Math.max(module.cpu, asked.cpu), ramMb: Math.max(module.ramMb, asked.ramMb) }
}
