// GPU detection on a provider: the NVIDIA driver's own report (nvidia-smi, XML first, the CSV query if the
// XML fails) and what the container runtime says it can hand to containers (a registered nvidia runtime, CDI
// devices). A machine without nvidia-smi simply has no NVIDIA GPUs; one whose driver answers garbage is
// reported, not guessed at.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import type Docker from 'dockerode'
import { CSV_QUERY_FIELDS, MAX_OUTPUT_BYTES, parseNvidiaSmiCsv, parseNvidiaSmiXml, type GpuDevice } from './nvidia-smi.ts'

const run = promisify(execFile)

export interface ContainerGpuSupport {
  /**
   * nvidia-container-runtime-hook is installed: dockerd then registers its "nvidia" device driver, which is
   * what DeviceRequests { Driver: "nvidia" } need (checked on this host: the engine must run here too).
   */
  nvidiaHook: boolean
  /** A runtime named like "nvidia" is registered with the engine (nvidia-container-toolkit's legacy mode). */
  nvidiaRuntime: boolean
  /** CDI device names the engine discovered ("nvidia.com/gpu=0"; Docker 28+). */
  cdiDevices: string[]
}

export interface GpuInventory {
  devices: GpuDevice[]
  driverVersion: string
  /** NVML-encoded (13.0 → 13000); 0 when unknown. */
  cudaVersion: number
  source: 'nvidia-smi-xml' | 'nvidia-smi-csv' | 'container-runtime' | 'none'
  /** Undefined when no engine was asked. */
  containers?: ContainerGpuSupport
  /** Why a source was passed over (a failing driver, an engine that did not answer). */
  notes: string[]
}

export interface DetectOptions {
  /** The nvidia-smi to run (default "nvidia-smi" on PATH). */
  nvidiaSmi?: string
  /** Per nvidia-smi call (default 15 s: a driver waking its GPUs can be slow). */
  timeoutMs?: number
  /** Ask this engine what it can hand to containers. */
  docker?: Docker
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export const NO_GPUS: GpuInventory = Object.freeze({ devices: [], driverVersion: '', cudaVersion: 0, source: 'none', notes: [] }) as unknown as GpuInventory

async function smi (bin: string, args: string[], opts: DetectOptions): Promise<string> {
  const { stdout } = await run(bin, args, { timeout: opts.timeoutMs ?? 15_000, maxBuffer: MAX_OUTPUT_BYTES, env: opts.env, signal: opts.signal, encoding: 'utf8' })
  return stdout
}

const HOOK = 'nvidia-container-runtime-hook'

function onPath (bin: string, env: NodeJS.ProcessEnv): boolean {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']
  return dirs.some(d => d !== '' && existsSync(join(d, bin)))
}

export async function containerGpuSupport (docker: Docker, env: NodeJS.ProcessEnv = process.env): Promise<ContainerGpuSupport> {
  const info = await docker.info() as { Runtimes?: Record<string, unknown>, DiscoveredDevices?: Array<{ Source?: string, ID?: string }> }
  return {
    nvidiaHook: onPath(HOOK, env),
    nvidiaRuntime: Object.keys(info.Runtimes ?? {}).some(r => r.toLowerCase().includes('nvidia')),
    cdiDevices: (info.DiscoveredDevices ?? []).filter(d => d.Source === 'cdi' && typeof d.ID === 'string' && d.ID.startsWith('nvidia.com/gpu=')).map(d => d.ID as string)
  }
}

/** What GPUs this machine has, from the driver, with what the container engine can do with them. */
export async function detectGpus (opts: DetectOptions = {}): Promise<GpuInventory> {
  const bin = opts.nvidiaSmi ?? 'nvidia-smi'
  const notes: string[] = []
  let inv: GpuInventory = { ...NO_GPUS, notes }
  try {
    inv = { ...parseNvidiaSmiXml(await smi(bin, ['-q', '-x'], opts)), source: 'nvidia-smi-xml', notes }
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === 'ENOENT') notes.push(`${bin} not found: no NVIDIA driver`)
    else {
      notes.push(`${bin} -q -x failed: ${(e as Error).message.split('\n')[0]}`)
      try {
        inv = { ...parseNvidiaSmiCsv(await smi(bin, [`--query-gpu=${CSV_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'], opts)), source: 'nvidia-smi-csv', notes }
      } catch (e2) {
        notes.push(`${bin} --query-gpu failed: ${(e2 as Error).message.split('\n')[0]}`)
      }
    }
  }
  if (opts.docker !== undefined) {
    try {
      inv.containers = await containerGpuSupport(opts.docker, opts.env)
      // Without a driver report, the engine's CDI list still says how many GPUs containers can get.
      if (inv.source === 'none' && inv.containers.cdiDevices.length > 0) {
        inv = { ...inv, source: 'container-runtime', devices: inv.containers.cdiDevices.map((id, i) => ({ index: i, uuid: id, name: '', vramMb: 0 })) }
      }
    } catch (e) {
      notes.push(`the container engine did not answer: ${(e as Error).message.split('\n')[0]}`)
    }
  }
  return inv
}

/** GPUs a container can actually be given: whole (not MIG-split) GPUs, when the engine has a way to pass them. */
export function usableDevices (inv: GpuInventory): GpuDevice[] {
  const c = inv.containers
  if (c !== undefined && !c.nvidiaHook && !c.nvidiaRuntime && c.cdiDevices.length === 0) return []
  return inv.devices.filter(d => d.mig !== true)
}
