// The container a job runs in: its create options (the sandbox), and the labels by which an executor finds its
// own containers again on a shared engine (owner, job, a hash of the options, the identity of the output
// directories it was given).
import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import type Docker from 'dockerode'
import type { JobSpec } from '../modules/spec.ts'
import { gpuDeviceRequests } from './gpu-request.ts'

export const LABEL_OWNER = 'org.lilypad.owner'
export const LABEL_JOB = 'org.lilypad.job'
export const LABEL_CONFIG = 'org.lilypad.config'
/** Identity (inode and birth time) of the output directories the container was given at creation. */
export const LABEL_OUTPUTS = 'org.lilypad.outputs'

export interface SandboxOptions {
  user: string
  pidsLimit: number
  fullNetworkMode: string
  binds: string[]
  logMaxBytes: number
  /** GPUs (UUIDs) assigned to the job's slot; without them, GPUs are requested by count. */
  gpuDeviceIds?: readonly string[]
  /**
   * The engine's CPUs (its info's NCPU): a job's CPU quota is capped at them, since the engine refuses a quota above
   * its cores — a job asking its whole slot (a canary) on a machine whose engine sees fewer cores than the node
   * counted (Docker Desktop's VM) still runs, with all the engine has.
   */
  engineCpus?: number
}

/** The Docker create options for a job, without the per-run scratch bind (added by the caller). */
export function containerConfig (spec: JobSpec, o: SandboxOptions): Docker.ContainerCreateOptions {
  const wantsNet = spec.network !== 'none'
  const r = spec.resources
  const memory = Math.max(6, r.ramMb) * 1024 * 1024
  return {
    Image: spec.image,
    Entrypoint: spec.entrypoint.length > 0 ? spec.entrypoint : undefined,
    Cmd: spec.args.length > 0 ? spec.args : (spec.entrypoint.length > 0 ? [] : undefined),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: spec.workingDir !== '' ? spec.workingDir : undefined,
    User: o.user,
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: !wantsNet,
    HostConfig: {
      NetworkMode: wantsNet ? o.fullNetworkMode : 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: o.pidsLimit,
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.min(Math.max(1, r.cpu), o.engineCpus !== undefined && o.engineCpus > 0 ? o.engineCpus * 1000 : Infinity) * 1_000_000,
      Binds: o.binds,
      // The engine keeps a bounded log per container (byte-exact, uncompressed): what a run reads back after a
      // reconnect or a restart. Two files, both read back, so anything readable under max-size proves that
      // nothing rotated away (with one file, the engine reads only the newest part). Live output comes from
      // the attach stream.
      LogConfig: { Type: 'local', Config: { 'max-size': String(o.logMaxBytes), 'max-file': '2', compress: 'false' } },
      DeviceRequests: gpuDeviceRequests(r, o.gpuDeviceIds)
    }
  }
}

/**
 * Which directories these are, not just their names: a container writes into the directory it was given even
 * after that was deleted and another made at the same path, so it is adopted only if its outputs are still there.
 */
export async function dirIdentity (dirs: string[]): Promise<string> {
  const ids: string[] = []
  for (const d of dirs) {
    try { const st = await stat(d, { bigint: true }); ids.push(`${st.ino}.${st.birthtimeNs}`) } catch { ids.push('-') }
  }
  return ids.join(',')
}

export const configHash = (c: Docker.ContainerCreateOptions): string => createHash('sha256').update(JSON.stringify(c)).digest('hex')
