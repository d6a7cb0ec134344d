// The Swarm executor: each job a one-shot replicated-job service on a Docker Swarm, so one provider identity
// offers a cluster's capacity and the cluster's own scheduler places the jobs. The task's container is the plain
// executor's container (swarm-service.ts maps the sandbox), and once it is placed the plain executor's machinery
// follows it: the same deadline, output cap, OOM classification, stream capture and result files, hence the
// same result (and CID) whichever executor ran the job. What differs is only how the container comes to be
// (a service, not a create+start: its output is read by following its log from the first byte) and what can
// end a job besides itself: its node drained or gone, its task shut down by the cluster, no node to take it.
import Docker from 'dockerode'
import type { JobSpec } from '../modules/spec.ts'
import { clusterSlots, largestNode, type ClusterNode, type SlotShape } from '../../core/policy/cluster-slots.ts'
import { LABEL_JOB, LABEL_OWNER } from './container.ts'
import { bounded, isConnError, pause, statusCodeOf, type DemuxSink } from './engine.ts'
import { DockerUnavailableError, EngineLostError, GpuUnavailableError, ImageMissingError, SwarmConfigError, SwarmUnavailableError } from './errors.ts'
import { Executor, streamEnd, type ExecutorOptions, type Job, type Launched, type ReconcileReport } from './executor.ts'
import { gpuStartError } from './gpu-request.ts'
import { engineAddress, LABEL_ENGINE, serviceName, serviceSpec } from './swarm-service.ts'

export interface SwarmExecutorOptions extends ExecutorOptions {
  /** How long a job's task may wait for a node before the run ends in EngineLostError('unschedulable') (default 30 s). */
  scheduleTimeoutMs?: number
  /** How often a task being placed is looked at (default 100 ms). */
  placePollMs?: number
  /** The generic-resource kind the nodes advertise GPUs as (default "NVIDIA-GPU"). */
  gpuKind?: string
}

export const DEFAULT_SWARM_OPTIONS = { scheduleTimeoutMs: 30_000, placePollMs: 100, gpuKind: 'NVIDIA-GPU' }

/** A task state that has (or had) a container of its own. */
const CONTAINER_STATES = new Set(['running', 'complete', 'failed', 'shutdown'])
/** Task states that hold their node's resources. */
const HOLDING_STATES = new Set(['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'])

/** A node as the cluster view keeps it: its schedulable resources, and the engine address it is labelled with. */
export interface SwarmNode extends ClusterNode { engine: string | undefined }

interface Placement { serviceId: string, taskId: string, nodeId: string }

// (the swarm objects come untyped from dockerode: `any` where they are read)
const generic = (resources: any[] | undefined, kind: string): number => (resources ?? []).reduce((n: number, r: any) =>
  n + (r?.NamedResourceSpec?.Kind === kind ? 1 : 0) + (r?.DiscreteResourceSpec?.Kind === kind ? Number(r.DiscreteResourceSpec.Value ?? 0) : 0), 0)

export class SwarmExecutor extends Executor {
  private readonly swarm: typeof DEFAULT_SWARM_OPTIONS
  /** The node id of the engine this executor talks to (a manager). */
  private selfNode: string | undefined
  private apiVersion = '1.41'
  private versionKnown = false
  /** Engines of other nodes, by their LABEL_ENGINE address. */
  private readonly engines = new Map<string, Docker>()
  /** Where each running job's task is. */
  private readonly placements = new Map<string, Placement>()
  /** Whether a task that joins no network is isolated on this engine (checked once, at the first such job). */
  private isolated = false

  constructor (opts: SwarmExecutorOptions = {}) {
    super(opts)
    this.swarm = { ...DEFAULT_SWARM_OPTIONS, ...Object.fromEntries(Object.entries(opts).filter(([k, v]) => k in DEFAULT_SWARM_OPTIONS && v !== undefined)) }
  }

  /** The engine answers and is a manager of an active swarm; SwarmUnavailableError otherwise. */
  override async ping (signal?: AbortSignal): Promise<void> {
    await super.ping(signal)
    let info: any
    try {
      info = await bounded('info', Math.min(this.opts.callTimeoutMs, 10_000), signal, async s => await (this.docker.info as (o: object) => Promise<unknown>).call(this.docker, { abortSignal: s }))
    } catch (e) {
      if (signal?.aborted === true) throw e
      this.reachable = false
      throw new DockerUnavailableError(`Docker engine unreachable: ${(e as Error).message}`, { cause: e })
    }
    if (info?.Swarm?.LocalNodeState !== 'active' || info?.Swarm?.ControlAvailable !== true) {
      this.reachable = false
      throw new SwarmUnavailableError(`the Docker engine is not a manager of an active swarm (swarm state: ${info?.Swarm?.LocalNodeState ?? 'unknown'}${info?.Swarm?.LocalNodeState === 'active' ? ', a worker' : ''})`)
    }
    this.selfNode = info.Swarm.NodeID
    if (!this.versionKnown) {
      // (what the service spec may say: no-new-privileges from API 1.44)
      const v = await bounded('version', Math.min(this.opts.callTimeoutMs, 10_000), signal, async s => await (this.docker.version as (o: object) => Promise<{ ApiVersion?: string }>).call(this.docker, { abortSignal: s })).catch(() => undefined)
      if (v?.ApiVersion !== undefined) { this.apiVersion = v.ApiVersion; this.versionKnown = true }
    }
  }

  /** The cluster's nodes with what other work reserves on each (this executor's own jobs are not counted). */
  async nodes (signal?: AbortSignal): Promise<SwarmNode[]> {
    const [nodes, tasks] = await bounded('nodes', this.opts.callTimeoutMs, signal, async s => await Promise.all([
      this.docker.listNodes({ abortSignal: s } as object), this.docker.listTasks({ abortSignal: s })
    ]))
    const reserved = new Map<string, ClusterNode['reserved']>()
    const own = new Map<string, Array<{ jobId: string, cpu: number, ramMb: number, gpus: number }>>()
    for (const t of tasks as any[]) {
      if (t?.NodeID === undefined || !HOLDING_STATES.has(t?.Status?.State)) continue
      const r = t?.Spec?.Resources?.Reservations ?? {}
      const use = { cpu: Math.ceil(Number(r.NanoCPUs ?? 0) / 1e6), ramMb: Math.ceil(Number(r.MemoryBytes ?? 0) / 1048576), gpus: generic(r.GenericResources, this.swarm.gpuKind) }
      const labels = t?.Spec?.ContainerSpec?.Labels ?? {}
      // this owner's jobs are listed apart: the provider's booked slots already count its own
      if (labels[LABEL_OWNER] === this.owner) { own.set(t.NodeID, [...(own.get(t.NodeID) ?? []), { jobId: labels[LABEL_JOB] ?? '', ...use }]); continue }
      const sum = reserved.get(t.NodeID) ?? { cpu: 0, ramMb: 0, gpus: 0 }
      sum.cpu += use.cpu
      sum.ramMb += use.ramMb
      sum.gpus += use.gpus
      reserved.set(t.NodeID, sum)
    }
    return (nodes as any[]).map((n): SwarmNode => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? n.ID,
      ready: n.Status?.State === 'ready',
      active: n.Spec?.Availability === 'active',
      cpu: Math.floor(Number(n.Description?.Resources?.NanoCPUs ?? 0) / 1e6),
      ramMb: Math.floor(Number(n.Description?.Resources?.MemoryBytes ?? 0) / 1048576),
      gpus: generic(n.Description?.Resources?.GenericResources, this.swarm.gpuKind),
      reserved: reserved.get(n.ID) ?? { cpu: 0, ramMb: 0, gpus: 0 },
      own: own.get(n.ID) ?? [],
      engine: n.Spec?.Labels?.[LABEL_ENGINE]
    }))
  }

  /** Nodes whose engine this executor can follow a container on: its own, and those labelled with an address. */
  private followable (n: SwarmNode): boolean { return n.id === this.selfNode || n.engine !== undefined }

  /** The most GPUs one followable node offers (a job runs on one node). */
  override async detectGpus (signal?: AbortSignal): Promise<number> {
    if (this.opts.gpusAvailable !== undefined) return this.opts.gpusAvailable
    try {
      return Math.max(0, ...(await this.nodes(signal)).filter(n => n.ready && n.active && this.followable(n)).map(n => n.gpus))
    } catch (e) { this.unreachable(e, 'listing the swarm\'s nodes') }
  }

  override async preflight (spec: JobSpec, resultDir: string, signal?: AbortSignal): Promise<void> {
    if (spec.resources.allGpus) throw new GpuUnavailableError(Math.max(1, spec.resources.gpus), 'a cluster cannot give a job "all" of a node\'s GPUs: ask for a count')
    await super.preflight(spec, resultDir, signal)
    if (spec.network === 'none' && !this.isolated) {
      // A service cannot join the "none" network: its task joins the engine's default bridge, if there is one.
      const nets = await bounded('networks', this.opts.callTimeoutMs, signal, async s => await this.docker.listNetworks({ abortSignal: s } as object)).catch(e => this.unreachable(e, 'listing networks'))
      if (nets.some(n => n.Name === 'bridge' && n.Scope === 'local')) {
        throw new SwarmConfigError('this engine has a default bridge network, which a swarm task that joins no network is attached to: a job that asks for no network cannot be isolated',
          'run dockerd with --bridge=none on every swarm node (a task without networks then has only its loopback), or run with --executor docker')
      }
      this.isolated = true
    }
  }

  /**
   * Creates the job's service and waits for its task's container: its output is followed from the engine's log
   * (from the first byte, whenever the follow begins), the container then watched like a plain one.
   */
  protected override async launch (job: Job, spec: JobSpec, create: Docker.ContainerCreateOptions, sink: DemuxSink, created: (c: Docker.Container) => void): Promise<Launched> {
    const { jobId, signal } = job
    // a service an earlier run of this job left that was not adopted (still pending, or on another node)
    await this.removeServices(id => id === jobId, signal)
    let nodes: SwarmNode[]
    try { nodes = await this.nodes(signal) } catch (e) { this.unreachable(e, 'listing the swarm\'s nodes') }
    const constraints = nodes.filter(n => !this.followable(n)).map(n => `node.id!=${n.id}`)
    const body = serviceSpec(serviceName(this.owner, jobId), create, {
      labels: create.Labels ?? {}, gpuKind: this.swarm.gpuKind, gpus: spec.resources.gpus, allGpus: spec.resources.allGpus, constraints, apiVersion: this.apiVersion
    })
    let serviceId: string
    try {
      serviceId = (await bounded('service create', this.opts.callTimeoutMs, signal, async s => await this.docker.createService({ ...body, abortSignal: s } as unknown as Docker.CreateServiceOptions))).id
    } catch (e) { this.unreachable(e, 'creating the service') }
    let container: Docker.Container | undefined
    try {
      const task = await this.placed(job, serviceId, spec)
      const engine = await this.engineOf(task.NodeID, signal)
      container = engine.getContainer(task.Status.ContainerStatus.ContainerID)
      this.placements.set(jobId, { serviceId, taskId: task.ID, nodeId: task.NodeID })
      this.emit('job:placed', { jobId, serviceId, taskId: task.ID, nodeId: task.NodeID })
      created(container)
      job.containerId = container.id
      this.following.add(container.id)
      this.emit('container:create', { jobId, containerId: container.id })
      const c = container
      const log = await this.call(job, 'logs', async s => await c.logs({ follow: true, stdout: true, stderr: true, abortSignal: s })) as unknown as Launched['attach']
      const attachClean = streamEnd(log)
      log.pipe(sink)
      const started = Date.parse((await this.inspect(job, c)).State.StartedAt)
      return { container: c, attach: log, attachClean, startedAt: Number.isFinite(started) && started > 0 ? started : Date.now() }
    } catch (e) {
      // no container to remove yet: the service is removed here (else the run's cleanup removes it with the container)
      if (container === undefined) await this.removeService(serviceId).catch(() => { /* the next run of this job, or reconcile() */ })
      throw e
    }
  }

  /** Waits for the service's task to have a container; the named error when the cluster rejects or cannot place it. */
  private async placed (job: Job, serviceId: string, spec: JobSpec): Promise<any> {
    const until = Date.now() + this.swarm.scheduleTimeoutMs
    for (;;) {
      const tasks = await this.call(job, 'tasks', async s => await this.docker.listTasks({ filters: { service: [serviceId] }, abortSignal: s } as object)) as any[]
      const task = tasks.sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt))[0]
      const state: string | undefined = task?.Status?.State
      const err: string = task?.Status?.Err ?? ''
      const exited = typeof task?.Status?.ContainerStatus?.ExitCode === 'number' && /non-zero exit|^$/.test(err)
      if (task?.Status?.ContainerStatus?.ContainerID !== undefined && state !== undefined && CONTAINER_STATES.has(state) && (state === 'running' || state === 'complete' || exited)) return task
      if (state === 'rejected' || state === 'failed' || state === 'orphaned') {
        if (/No such image|pull access denied|manifest unknown|not found: manifest/i.test(err)) throw new ImageMissingError(spec.image, `a swarm node has no such image: load it on every node (${err})`)
        throw gpuStartError(new Error(err), spec.resources) ?? new SwarmConfigError(`the swarm ${state} the job's task: ${err}`)
      }
      if (Date.now() >= until) {
        throw new EngineLostError('unschedulable', `no node took the job within ${this.swarm.scheduleTimeoutMs} ms (task ${state ?? 'not created'}${err !== '' ? `: ${err}` : ''})`, { jobId: job.jobId, containerLeft: false })
      }
      await pause(this.swarm.placePollMs, job.signal)
      job.signal.throwIfAborted()
    }
  }

  /** The engine of the node a task runs on: this one, or the address its LABEL_ENGINE label gives. */
  private async engineOf (nodeId: string, signal: AbortSignal): Promise<Docker> {
    if (nodeId === this.selfNode) return this.docker
    const node = await bounded('node inspect', this.opts.callTimeoutMs, signal, async s => await this.docker.getNode(nodeId).inspect({ abortSignal: s }))
    const address = node?.Spec?.Labels?.[LABEL_ENGINE] as string | undefined
    if (address === undefined) throw new SwarmConfigError(`the job was placed on node ${node?.Description?.Hostname ?? nodeId}, whose engine this provider cannot reach`, `label the node with its engine address: docker node update --label-add ${LABEL_ENGINE}=tcp://HOST:2376 ${nodeId}`)
    let engine = this.engines.get(address)
    if (engine === undefined) { engine = new Docker(engineAddress(address)); this.engines.set(address, engine) }
    return engine
  }

  /** An adopted task container names its service, task and node in the labels the swarm gave it. */
  protected override adopted (job: Job, info: Docker.ContainerInspectInfo): void {
    const l = info.Config.Labels ?? {}
    const [serviceId, taskId, nodeId] = [l['com.docker.swarm.service.id'], l['com.docker.swarm.task.id'], l['com.docker.swarm.node.id']]
    if (serviceId !== undefined && taskId !== undefined && nodeId !== undefined) this.placements.set(job.jobId, { serviceId, taskId, nodeId })
  }

  /** A running job's node drained, paused or down, or its task shut down: the job is ended (its service removed by the cleanup). */
  protected override async stillPlaced (job: Job): Promise<void> {
    const p = this.placements.get(job.jobId)
    if (p === undefined) return
    const node = await this.call(job, 'node inspect', async s => await this.docker.getNode(p.nodeId).inspect({ abortSignal: s }))
    const availability: string = node?.Spec?.Availability ?? 'unknown'
    const state: string = node?.Status?.State ?? 'unknown'
    if (availability !== 'active' || state !== 'ready') {
      throw new EngineLostError('node-drained', `node ${node?.Description?.Hostname ?? p.nodeId} is ${availability !== 'active' ? availability : state}: the job is stopped there`, { jobId: job.jobId, containerId: job.containerId, containerLeft: false })
    }
    await this.taskNotShutDown(job, p)
  }

  protected override async exitedByItself (job: Job): Promise<void> {
    const p = this.placements.get(job.jobId)
    if (p !== undefined) await this.taskNotShutDown(job, p)
  }

  private async taskNotShutDown (job: Job, p: Placement): Promise<void> {
    let task: any
    try {
      task = await this.call(job, 'task inspect', async s => await this.docker.getTask(p.taskId).inspect({ abortSignal: s }))
    } catch (e) {
      if (statusCodeOf(e) !== 404) throw e
      throw new EngineLostError('task-shutdown', 'the job\'s task no longer exists (its service was removed by someone else)', { jobId: job.jobId, containerId: job.containerId, containerLeft: false, cause: e })
    }
    // A task that failed or completed by itself is set to shutdown afterwards too: only one told to stop before it
    // ended (its state not failed or complete) was stopped by the cluster.
    const desired: string = task?.DesiredState ?? ''
    const state: string = task?.Status?.State ?? ''
    if ((desired === 'shutdown' || desired === 'remove' || desired === 'orphaned') && state !== 'failed' && state !== 'complete') {
      throw new EngineLostError('task-shutdown', `the swarm set the job's task to ${desired} (${task?.Status?.Message ?? ''})`, { jobId: job.jobId, containerId: job.containerId, containerLeft: false })
    }
  }

  /** The container's service goes first (so the cluster never starts it again), then the container. */
  protected override async removeContainer (id: string, jobId: string, why: 'done' | 'replaced' | 'orphan' | 'aborted' | 'failed', ms: number, signal?: AbortSignal): Promise<void> {
    let serviceId = this.placements.get(jobId)?.serviceId
    if (serviceId === undefined) {
      try {
        const info = await bounded('inspect', ms, signal, async s => await this.docker.getContainer(id).inspect({ abortSignal: s }))
        serviceId = info.Config.Labels?.['com.docker.swarm.service.id']
      } catch (e) { if (statusCodeOf(e) !== 404) throw e }
    }
    if (serviceId !== undefined) await this.removeService(serviceId, ms, signal)
    this.placements.delete(jobId)
    await super.removeContainer(id, jobId, why, ms, signal)
  }

  private async removeService (id: string, ms = this.opts.cleanupTimeoutMs, signal?: AbortSignal): Promise<void> {
    try {
      await bounded('service remove', ms, signal, async s => await this.docker.getService(id).remove({ abortSignal: s }))
    } catch (e) { if (statusCodeOf(e) !== 404) throw e }
  }

  /** Removes this owner's services whose job `which` names; returns their job ids. */
  private async removeServices (which: (jobId: string) => boolean, signal?: AbortSignal): Promise<string[]> {
    const removed: string[] = []
    try {
      const list = await bounded('services', this.opts.callTimeoutMs, signal, async s => await this.docker.listServices({ filters: { label: [`${LABEL_OWNER}=${this.owner}`] }, abortSignal: s } as object))
      for (const svc of list) {
        const jobId = svc.Spec?.Labels?.[LABEL_JOB] ?? ''
        if (!which(jobId)) continue
        await this.removeService(svc.ID, this.opts.callTimeoutMs, signal)
        removed.push(jobId)
      }
    } catch (e) { this.unreachable(e, 'removing services') }
    return removed
  }

  /** As the plain executor's, and this owner's services that have no container here (pending, or on another node). */
  override async reconcile (keep: (jobId: string) => boolean, signal?: AbortSignal): Promise<ReconcileReport> {
    const report = await super.reconcile(keep, signal)
    const more = await this.removeServices(jobId => !keep(jobId) && !this.active.has(jobId), signal)
    for (const j of more) if (!report.removed.includes(j)) report.removed.push(j)
    return report
  }

  /** A view of the cluster's capacity for the provider's offers, kept current by node events and a timer. */
  cluster (opts: { refreshMs?: number, onError?: ClusterErrorHandler } = {}): SwarmCluster {
    return new SwarmCluster(this, opts.refreshMs ?? 5_000, opts.onError)
  }
}

/** Told of what the cluster view could not do (the provider logs and counts it); the view carries on. */
export type ClusterErrorHandler = (err: unknown, what: string) => void

/** The swarm's nodes as the resource provider sees them: refreshed on node events (joins, leaves, drains) and a timer. */
export class SwarmCluster {
  private readonly executor: SwarmExecutor
  private readonly refreshMs: number
  private readonly onError: ClusterErrorHandler
  private nodes: SwarmNode[] = []
  private timer: NodeJS.Timeout | undefined
  private events: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined
  private readonly listeners = new Set<(nodes: readonly SwarmNode[]) => void>()
  private refreshing: Promise<void> | undefined
  private following = false
  private stopped = true

  constructor (executor: SwarmExecutor, refreshMs: number, onError: ClusterErrorHandler = () => {}) {
    this.executor = executor
    this.refreshMs = refreshMs
    this.onError = onError
  }

  /** A refresh from a timer or an event: its failure is reported, and the next one tries again. */
  private refreshSoon (): void {
    void this.refresh().catch(err => { this.onError(err, 'could not read the cluster\'s nodes; the last view stands until the next refresh') })
  }

  /** The last snapshot (empty until the first refresh, and while the engine does not answer). */
  snapshot (): readonly SwarmNode[] { return this.nodes }

  /** Slot-shaped jobs the cluster can hold now, besides what other work reserves (`booked`: core/policy/cluster-slots.ts). */
  slots (shape: SlotShape, booked?: (jobId: string) => boolean): number { return clusterSlots(this.nodes, shape, booked) }

  largest (): SwarmNode | undefined { return largestNode(this.nodes) as SwarmNode | undefined }

  onChange (fn: (nodes: readonly SwarmNode[]) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Reads the nodes again (one read at a time); a silent engine leaves an empty cluster: nothing is offered. */
  async refresh (): Promise<readonly SwarmNode[]> {
    this.refreshing ??= (async () => {
      let next: SwarmNode[]
      try { next = await this.executor.nodes() } catch (e) { if (!isConnError(e) && !(e instanceof DockerUnavailableError)) throw e; next = [] }
      const changed = JSON.stringify(next) !== JSON.stringify(this.nodes)
      this.nodes = next
      if (changed) for (const fn of this.listeners) fn(next)
    })().finally(() => { this.refreshing = undefined })
    await this.refreshing
    return this.nodes
  }

  async start (): Promise<void> {
    if (!this.stopped) return
    this.stopped = false
    await this.refresh().catch(err => { this.onError(err, 'could not read the cluster\'s nodes at start; the timer tries again') })
    this.timer = setInterval(() => {
      this.refreshSoon()
      // a lost event stream is followed again on the timer's beat
      if (this.events === undefined) void this.follow()
    }, this.refreshMs)
    this.timer.unref()
    await this.follow()
  }

  /** Node events (a node joins, leaves, is drained or comes back) refresh at once; the timer covers a lost stream. */
  private async follow (): Promise<void> {
    if (this.stopped || this.following) return
    this.following = true
    try {
      const stream = await bounded('events', 10_000, undefined, async s => await this.executor.docker.getEvents({ filters: { type: ['node'] }, abortSignal: s } as object)) as NodeJS.ReadableStream & { destroy?: () => void }
      if (this.stopped) { stream.destroy?.(); return }
      this.events = stream
      stream.on('data', () => { this.refreshSoon() })
      stream.once('error', err => { this.onError(err, 'the cluster\'s node event stream failed; the timer keeps the view current and follows it again') })
      stream.once('close', () => { if (this.events === stream) this.events = undefined })
    } catch (err) {
      this.onError(err, 'no node event stream from the engine now; the timer keeps the view current and tries again')
    } finally {
      this.following = false
    }
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
    this.events?.destroy?.()
    this.events = undefined
  }
}
