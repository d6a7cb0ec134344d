// A job's container options (container.ts: the sandbox of the single-engine executor) as a Swarm service: a
// one-shot replicated job that never restarts. Everything the service API can say is said the same way, so the
// task's container is the plain executor's container; what it cannot say is enforced elsewhere (see
// docs/architecture.md, "Executors"):
//   NetworkMode none     a service cannot join the "none" network: it joins no network, which is the loopback
//                        only on engines without a default bridge (dockerd --bridge=none); SwarmExecutor refuses
//                        network-less jobs on an engine that has one.
//   no-new-privileges    not in the service API before 1.44: sent from 1.44 on; before that, all capabilities
//                        dropped (an empty bounding set) means a setuid binary gains no capability.
//   MemorySwap           no swap limit in the service API: nodes run without swap (as Kubernetes asks too).
//   DeviceRequests       GPUs are the nodes' generic resources (dockerd --node-generic-resource), reserved by kind.
import { createHash, randomBytes } from 'node:crypto'
import type Docker from 'dockerode'
import { GpuUnavailableError, SwarmConfigError } from './errors.ts'

/** The node label that names the engine address of a node other than the one the executor talks to. */
export const LABEL_ENGINE = 'org.lilypad.engine'

export interface ServiceOptions {
  /** labels for the service and its task's container (owner, job, config hash, outputs identity) */
  labels: Record<string, string>
  /** the generic-resource kind nodes advertise GPUs as (dockerd --node-generic-resource KIND=UUID) */
  gpuKind: string
  gpus: number
  allGpus: boolean
  /** placement constraints (nodes whose engine this executor cannot reach are excluded) */
  constraints: string[]
  /** the engine's API version: no-new-privileges is sent from 1.44 on */
  apiVersion: string
}

/** A bind string of the plain executor ("source:target[:ro|rw]") as a service mount. */
export function bindMount (bind: string): { Type: 'bind', Source: string, Target: string, ReadOnly: boolean } {
  const [source, target, mode] = bind.split(':')
  if (source === undefined || target === undefined || !source.startsWith('/') || !target.startsWith('/')) throw new SwarmConfigError(`cannot express bind ${JSON.stringify(bind)} as a service mount`)
  return { Type: 'bind', Source: source, Target: target, ReadOnly: mode === 'ro' }
}

const versionAtLeast = (v: string, want: [number, number]): boolean => {
  const [a, b] = v.split('.').map(Number)
  return a > want[0] || (a === want[0] && b >= want[1])
}

/** A unique, valid service name for a job (names are [a-zA-Z0-9-], at most 63 characters). */
export function serviceName (owner: string, jobId: string): string {
  return `lilypad-${createHash('sha256').update(`${owner}/${jobId}`).digest('hex').slice(0, 16)}-${randomBytes(3).toString('hex')}`
}

/** The service for a job's container create options (with its binds, scratch included). */
export function serviceSpec (name: string, create: Docker.ContainerCreateOptions, o: ServiceOptions): Record<string, unknown> {
  const hc = create.HostConfig ?? {}
  if (o.allGpus) throw new GpuUnavailableError(1, 'a cluster cannot give a job "all" of a node\'s GPUs: ask for a count')
  const network = hc.NetworkMode !== undefined && hc.NetworkMode !== 'none' ? hc.NetworkMode : undefined
  const cpu = hc.NanoCpus ?? 0
  const mem = hc.Memory ?? 0
  const gpuRes = o.gpus > 0 ? [{ DiscreteResourceSpec: { Kind: o.gpuKind, Value: o.gpus } }] : undefined
  return {
    Name: name,
    Labels: o.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: create.Image,
        // Command replaces the image's entrypoint and Args its command, as Entrypoint and Cmd do for a container.
        ...(create.Entrypoint !== undefined ? { Command: create.Entrypoint } : {}),
        ...(create.Cmd !== undefined ? { Args: create.Cmd } : {}),
        Env: create.Env,
        ...(create.WorkingDir !== undefined ? { Dir: create.WorkingDir } : {}),
        User: create.User,
        Labels: o.labels,
        ReadOnly: hc.ReadonlyRootfs === true,
        CapabilityDrop: hc.CapDrop,
        ...(versionAtLeast(o.apiVersion, [1, 44]) && (hc.SecurityOpt ?? []).includes('no-new-privileges') ? { Privileges: { NoNewPrivileges: true } } : {}),
        Mounts: (hc.Binds ?? []).map(bindMount),
        // the deadline and an abort kill the container; swarm's own stop is only for a removed service
        StopGracePeriod: 1_000_000_000
      },
      Resources: {
        Limits: { NanoCPUs: cpu, MemoryBytes: mem, Pids: hc.PidsLimit ?? 0 },
        // reserved as well as limited: the scheduler books them, so two jobs never share a node's share
        Reservations: { NanoCPUs: cpu, MemoryBytes: mem, ...(gpuRes !== undefined ? { GenericResources: gpuRes } : {}) }
      },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: { Constraints: o.constraints },
      ...(hc.LogConfig?.Type !== undefined ? { LogDriver: { Name: hc.LogConfig.Type, Options: hc.LogConfig.Config } } : {}),
      Networks: network !== undefined ? [{ Target: network }] : []
    },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }
  }
}

/** A node's engine address from its LABEL_ENGINE label (tcp://host:port or unix:///path), as dockerode options. */
export function engineAddress (label: string): Docker.DockerOptions {
  let u: URL
  try { u = new URL(label) } catch { throw new SwarmConfigError(`node label ${LABEL_ENGINE}=${JSON.stringify(label)} is not an engine address (tcp://host:port or unix:///path)`) }
  if (u.protocol === 'unix:') return { socketPath: u.pathname }
  if (u.protocol === 'tcp:' || u.protocol === 'http:') return { host: u.hostname, port: Number(u.port !== '' ? u.port : 2375), protocol: 'http' }
  if (u.protocol === 'https:') return { host: u.hostname, port: Number(u.port !== '' ? u.port : 2376), protocol: 'https' }
  throw new SwarmConfigError(`node label ${LABEL_ENGINE}=${JSON.stringify(label)}: only tcp://, https:// and unix:// engines are supported`)
}
