// Resource units: one number per machine slot, so rewards can be weighted by what a provider really offers.
// Milli-units (integers, so every node computes the same sums): 1,000 = one CPU core, or 4 GiB of memory, or a tenth
// of a GPU; a GPU also counts its memory (1,000 per 8 GiB of VRAM). Disk is not counted: every job needs a little,
// and a large disk is not what job creators pay for.
import type { MachineSpec } from '../eip712.ts'

export const MAX_UNITS = 0xffff_ffff

export function resourceUnits (spec: Pick<MachineSpec, 'cpu' | 'ramMb' | 'gpus' | 'gpuVramMb'>): number {
  const cpu = spec.cpu
  const ram = Math.floor(spec.ramMb * 1000 / 4096)
  const gpu = spec.gpus * (10_000 + Math.floor(spec.gpuVramMb * 1000 / 8192))
  return Math.min(MAX_UNITS, cpu + ram + gpu)
}
