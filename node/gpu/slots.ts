// From a GPU inventory to what each capacity slot offers, and which devices its jobs get. Each slot gets its
// own GPUs (by UUID), so two jobs running at once never share one; the offer's terms are those every one of
// the slot's GPUs meets (the smallest VRAM, the model they share).
import type { MachineSpec } from '../../protocols/eip712.ts'
import { MAX_GPU_MODEL_LENGTH } from '../modules/spec.ts'
import { usableDevices, type GpuInventory } from './detect.ts'

export interface SlotGpus {
  /** The GPU part of the slot's MachineSpec. */
  spec: Pick<MachineSpec, 'gpus' | 'gpuVramMb' | 'gpuModel' | 'cudaVersion'>
  /** What the executor passes as DeviceIDs for this slot's jobs. */
  deviceIds: string[]
}

const NONE: SlotGpus['spec'] = { gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }

/** Splits the usable GPUs between `slots` slots (as evenly as they go; same-model GPUs kept together). */
export function gpuSlots (inv: GpuInventory, slots: number): SlotGpus[] {
  if (!Number.isInteger(slots) || slots < 1) throw new TypeError('slots must be a positive integer')
  const devices = [...usableDevices(inv)].sort((a, b) => a.name.localeCompare(b.name) || a.index - b.index)
  const base = Math.floor(devices.length / slots)
  const extra = devices.length % slots
  const out: SlotGpus[] = []
  let next = 0
  for (let k = 0; k < slots; k++) {
    const mine = devices.slice(next, next + base + (k < extra ? 1 : 0))
    next += mine.length
    if (mine.length === 0) { out.push({ spec: { ...NONE }, deviceIds: [] }); continue }
    const names = [...new Set(mine.map(d => d.name))]
    // Mixed models in one slot: a job asking for either model matches, and gets all of the slot's GPUs.
    let gpuModel = names.join(' + ')
    if (gpuModel.length > MAX_GPU_MODEL_LENGTH) gpuModel = names[0]
    out.push({
      spec: { gpus: mine.length, gpuVramMb: Math.min(...mine.map(d => d.vramMb)), gpuModel, cudaVersion: inv.cudaVersion },
      deviceIds: mine.map(d => d.uuid)
    })
  }
  return out
}

/** One line per GPU for logs and `lilypad node` output. */
export function describeGpus (inv: GpuInventory): string[] {
  if (inv.devices.length === 0) return [`no GPUs (${inv.notes.join('; ') || inv.source})`]
  const cuda = inv.cudaVersion > 0 ? `, CUDA ${Math.floor(inv.cudaVersion / 1000)}.${(inv.cudaVersion % 1000) / 10}` : ''
  return inv.devices.map(d => `GPU ${d.index}: ${d.name || '(unknown model)'}, ${d.vramMb} MiB${d.mig === true ? ', MIG (not offered)' : ''} (${d.uuid}; driver ${inv.driverVersion || '?'}${cuda}; from ${inv.source})`)
}
