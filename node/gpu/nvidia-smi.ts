// Parsers for what nvidia-smi prints: `nvidia-smi -q -x` (XML: every GPU with the driver's CUDA version) and
// `nvidia-smi --query-gpu=… --format=csv` (with or without header and units; no CUDA version). Both are read
// defensively (bounded sizes and counts, every field checked) though they come from the local driver.
import { XMLParser } from 'fast-xml-parser'
import { MAX_GPU_MODEL_LENGTH } from '../modules/spec.ts'

export interface GpuDevice {
  index: number
  /** "GPU-…": what Docker's DeviceIDs take, stable across reboots (indexes are not). */
  uuid: string
  /** Product name as the driver reports it, e.g. "NVIDIA H200". */
  name: string
  /** Total framebuffer memory, MiB. */
  vramMb: number
  pciBusId?: string
  /** "9.0" (CSV only). */
  computeCap?: string
  /** MIG enabled: the GPU is split into instances and is not handed out whole (XML only). */
  mig?: boolean
}

export interface NvidiaSmiReport {
  devices: GpuDevice[]
  driverVersion: string
  /** The highest CUDA version the driver supports, NVML-encoded (13.0 → 13000); 0 when the output lacks it. */
  cudaVersion: number
}

export class NvidiaSmiParseError extends Error {
  static override name = 'NvidiaSmiParseError'
  override name = 'NvidiaSmiParseError'
  readonly hint = 'run "nvidia-smi -q -x" by hand: the driver may be failing, or its output format is one this node does not know'
}

/** The query the CSV parser expects when the output has no header. */
export const CSV_QUERY_FIELDS = ['index', 'name', 'uuid', 'memory.total', 'driver_version', 'compute_cap', 'pci.bus_id'] as const
export const MAX_GPUS = 64
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024

function mib (v: unknown, what: string): number {
  const m = /^\s*(\d{1,9})\s*(MiB)?\s*$/.exec(String(v ?? ''))
  if (m === null) throw new NvidiaSmiParseError(`${what}: expected a size in MiB, got ${JSON.stringify(v)}`)
  return Number(m[1])
}

function text (v: unknown, what: string, max = 128): string {
  const s = (typeof v === 'string' || typeof v === 'number') ? String(v).trim() : ''
  if (s === '' || s.length > max) throw new NvidiaSmiParseError(`${what}: expected text of 1 to ${max} characters, got ${JSON.stringify(v)}`)
  return s
}

function modelName (v: unknown): string {
  return text(v, 'GPU name', MAX_GPU_MODEL_LENGTH)
}

/** "13.0" → 13000, as NVML's cudaDriverVersion encodes it. */
export function parseCudaVersionText (v: string): number {
  const m = /^\s*(\d{1,3})\.(\d{1,2})\s*$/.exec(v)
  if (m === null) throw new NvidiaSmiParseError(`CUDA version: expected major.minor, got ${JSON.stringify(v)}`)
  return Number(m[1]) * 1000 + Number(m[2]) * 10
}

function checkSize (out: string): void {
  if (out.length > MAX_OUTPUT_BYTES) throw new NvidiaSmiParseError(`nvidia-smi printed more than ${MAX_OUTPUT_BYTES} bytes`)
}

/** `nvidia-smi -q -x`. */
export function parseNvidiaSmiXml (xml: string): NvidiaSmiReport {
  checkSize(xml)
  let doc: Record<string, unknown>
  try {
    // Attributes (gpu id="…") are not needed; entities stay unexpanded, values stay strings.
    doc = new XMLParser({ ignoreAttributes: true, processEntities: false, parseTagValue: false, trimValues: true }).parse(xml) as Record<string, unknown>
  } catch (e) {
    throw new NvidiaSmiParseError(`not XML: ${(e as Error).message}`, { cause: e })
  }
  const log = doc.nvidia_smi_log as Record<string, unknown> | undefined
  if (log === undefined || typeof log !== 'object') throw new NvidiaSmiParseError('no <nvidia_smi_log> element')
  const driverVersion = text(log.driver_version, 'driver version', 32)
  const cudaVersion = log.cuda_version === undefined ? 0 : parseCudaVersionText(text(log.cuda_version, 'CUDA version', 16))
  const raw = log.gpu === undefined ? [] : Array.isArray(log.gpu) ? log.gpu : [log.gpu]
  if (raw.length > MAX_GPUS) throw new NvidiaSmiParseError(`more than ${MAX_GPUS} GPUs`)
  const devices = raw.map((g, i): GpuDevice => {
    if (typeof g !== 'object' || g === null) throw new NvidiaSmiParseError(`<gpu> ${i} is empty`)
    const gpu = g as Record<string, Record<string, unknown> | undefined>
    const minor = Number(gpu.minor_number)
    const d: GpuDevice = {
      index: Number.isInteger(minor) ? minor : i,
      uuid: text(gpu.uuid, `GPU ${i} uuid`, 80),
      name: modelName(gpu.product_name),
      vramMb: mib(gpu.fb_memory_usage?.total, `GPU ${i} fb_memory_usage.total`)
    }
    const bus = gpu.pci?.pci_bus_id
    if (typeof bus === 'string' && bus !== '') d.pciBusId = bus
    const mig = gpu.mig_mode?.current_mig
    if (typeof mig === 'string') d.mig = mig.toLowerCase() === 'enabled'
    return d
  })
  return { devices, driverVersion, cudaVersion }
}

/** `nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`. */
export function parseNvidiaSmiCsv (csv: string): NvidiaSmiReport {
  checkSize(csv)
  const lines = csv.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '')
  let fields: string[] = [...CSV_QUERY_FIELDS]
  if (lines.length > 0 && /(^|,\s*)(index|name)(\s|,|$)/.test(lines[0])) {
    // "memory.total [MiB]" → "memory.total"
    fields = (lines.shift() as string).split(',').map(f => f.trim().replace(/\s*\[.*\]$/, ''))
  }
  if (lines.length > MAX_GPUS) throw new NvidiaSmiParseError(`more than ${MAX_GPUS} GPUs`)
  const col = (name: string): number => fields.indexOf(name)
  for (const need of ['name', 'uuid', 'memory.total']) if (col(need) === -1) throw new NvidiaSmiParseError(`the CSV has no ${need} column (query ${CSV_QUERY_FIELDS.join(',')})`)
  let driverVersion = ''
  const devices = lines.map((line, i): GpuDevice => {
    const cells = line.split(',').map(c => c.trim())
    if (cells.length !== fields.length) throw new NvidiaSmiParseError(`line ${i + 1}: ${cells.length} values for ${fields.length} columns`)
    const at = (name: string): string | undefined => col(name) === -1 ? undefined : cells[col(name)]
    const index = Number(at('index') ?? i)
    const d: GpuDevice = {
      index: Number.isInteger(index) ? index : i,
      uuid: text(at('uuid'), `GPU ${i} uuid`, 80),
      name: modelName(at('name')),
      vramMb: mib(at('memory.total'), `GPU ${i} memory.total`)
    }
    const cap = at('compute_cap'); if (cap !== undefined && cap !== '' && cap !== '[N/A]') d.computeCap = cap
    const bus = at('pci.bus_id'); if (bus !== undefined && bus !== '') d.pciBusId = bus
    driverVersion = at('driver_version') ?? driverVersion
    return d
  })
  return { devices, driverVersion, cudaVersion: 0 }
}
