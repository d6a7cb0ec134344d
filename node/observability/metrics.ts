// Prometheus metrics (prom-client). One registry per node; every metric is defined here, so an operator finds the
// whole list in one place (docs/operators.md repeats it). libp2p's own metrics join the same registry through
// @libp2p/prometheus-metrics.
import { createServer, type Server } from 'node:http'
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'

export class LilypadMetrics {
  readonly registry: Registry
  /** open deals by role and lifecycle state (set from the deal records) */
  readonly deals: Gauge<'role' | 'state'>
  /** every lifecycle transition */
  readonly dealTransitions: Counter<'role' | 'state'>
  /** jobs the executor ran, by how they ended (ok, exit-nonzero, timeout, oom, output-limit, engine-lost, …) */
  readonly jobs: Counter<'status'>
  /** seconds containers ran */
  readonly containerSeconds: Counter
  /** transactions sent, by method and outcome (mined, reverted, failed) */
  readonly chainTxs: Counter<'method' | 'outcome'>
  readonly chainGas: Counter<'method'>
  /** RPC requests retried, by method */
  readonly chainRetries: Counter<'method'>
  /** lifecycle actions retried until their deadline, by action */
  readonly actionRetries: Counter<'action'>
  /** gossip and sync verdicts: accept, ignore, reject, with the validation code */
  readonly gossipVerdicts: Counter<'topic' | 'verdict' | 'code'>
  /** deal negotiation outcomes by side (proposer, provider) */
  readonly negotiations: Counter<'side' | 'outcome'>
  /** contract jobs' disputes a mediator was drawn for, and how each ended (correct, wrong, abstained, closed) */
  readonly jobDisputes: Counter<'outcome'>
  readonly chainJoined: Gauge
  readonly parkedDeals: Gauge
  readonly parkedExpired: Counter
  readonly peers: Gauge
  /** chain head seen by the follower, and how far behind the RPC's head it is */
  /** unlabelled: the node's first chain; `chain`: each further one (docs/multichain.md) */
  readonly chainHead: Gauge<'chain'>
  readonly chainLagBlocks: Gauge<'chain'>
  /** what strangers were refused or charged: rate-limited requests, penalty points, bans, by service */
  readonly limited: Counter<'service' | 'action'>
  /** errors that were handled (logged, retried, reported), by component — none is swallowed silently */
  readonly errors: Counter<'component' | 'kind'>
  /** job phases as the job creator saw them */
  readonly phaseSeconds: Histogram<'phase'>
  /** peers reached only after re-resolving their addresses, and peers found unreachable (node/host/reach.ts) */
  readonly reach: Counter<'outcome'>
  /** re-resolutions by the source that answered first ('none': nothing new was found) */
  readonly resolutions: Counter<'source'>
  /** libp2p peer-store entries at the last sweep */
  readonly peerStorePeers: Gauge
  /** peers currently demoted as unreachable */
  readonly unreachablePeers: Gauge
  /** bootstrap peers this node is connected to */
  readonly bootstrapConnected: Gauge
  /** open libp2p connections and streams */
  readonly connections: Gauge
  readonly streams: Gauge
  /** live resource offers in this node's order book, and the providers they come from */
  readonly offersKnown: Gauge
  readonly providersKnown: Gauge
  /** records removed from the deal stores after their retention period, by store */
  readonly dealRecordsPruned: Counter<'store'>
  /** live log bytes by side (provider, job-creator) and what became of them (sent, dropped, received, refused) */
  readonly logBytes: Counter<'side' | 'what'>
  /** live log streams open now, by side */
  readonly logStreams: Gauge<'side'>
  /** jobs waiting for a busy provider's slot (the job creator's queue), and how long they waited */
  readonly queuedJobs: Gauge
  readonly queueSeconds: Histogram
  /** the validator's canary rounds, canaries by outcome (Passed, WrongResult, NoResult, Unreachable), reports recorded on chain */
  readonly canaryRounds: Counter
  readonly canaries: Counter<'outcome'>
  readonly canaryReportsRecorded: Counter
  /** jobs the node's job service holds (its local API's jobs), by state */
  readonly userJobs: Gauge<'state'>
  /** a cluster provider's nodes by state (usable: ready and active; unusable: drained, paused or down) */
  readonly clusterNodes: Gauge<'state'>
  /** slot-shaped jobs the cluster holds now besides other work (the most a cluster provider books) */
  readonly clusterSlots: Gauge

  constructor (opts: { registry?: Registry, defaultMetrics?: boolean } = {}) {
    const registers = [this.registry = opts.registry ?? new Registry()]
    this.deals = new Gauge({ name: 'lilypad_deals', help: 'Open deals by role and lifecycle state', labelNames: ['role', 'state'], registers })
    this.dealTransitions = new Counter({ name: 'lilypad_deal_transitions_total', help: 'Deal lifecycle transitions', labelNames: ['role', 'state'], registers })
    this.jobs = new Counter({ name: 'lilypad_jobs_total', help: 'Jobs run by the executor, by final status', labelNames: ['status'], registers })
    this.containerSeconds = new Counter({ name: 'lilypad_container_seconds_total', help: 'Seconds containers ran', registers })
    this.chainTxs = new Counter({ name: 'lilypad_chain_transactions_total', help: 'Transactions sent, by method and outcome', labelNames: ['method', 'outcome'], registers })
    this.chainGas = new Counter({ name: 'lilypad_chain_gas_total', help: 'Gas used by mined transactions', labelNames: ['method'], registers })
    this.chainRetries = new Counter({ name: 'lilypad_chain_retries_total', help: 'RPC requests retried', labelNames: ['method'], registers })
    this.actionRetries = new Counter({ name: 'lilypad_action_retries_total', help: 'Lifecycle actions retried before their deadline', labelNames: ['action'], registers })
    this.gossipVerdicts = new Counter({ name: 'lilypad_gossip_verdicts_total', help: 'Gossip and offer-sync validation verdicts', labelNames: ['topic', 'verdict', 'code'], registers })
    this.negotiations = new Counter({ name: 'lilypad_negotiations_total', help: 'Deal negotiation outcomes', labelNames: ['side', 'outcome'], registers })
    this.jobDisputes = new Counter({ name: 'lilypad_job_disputes_total', help: 'Contract-job disputes this mediator was drawn for (drawn), and their outcomes (correct, wrong, abstained, closed)', labelNames: ['outcome'], registers })
    this.chainJoined = new Gauge({ name: 'lilypad_chain_joined', help: 'Whether the node has joined each chain of the network it serves (1) or waits for its RPC (0)', labelNames: ['chain'], registers })
    this.parkedDeals = new Gauge({ name: 'lilypad_parked_deals', help: 'A provider\'s deals of a chain not joined yet whose containers and slots are kept for it', labelNames: ['chain'], registers })
    this.parkedExpired = new Counter({ name: 'lilypad_parked_deals_expired_total', help: 'Parked deals whose chain did not join before their result window closed (their containers removed)', labelNames: ['chain'], registers })
    this.peers = new Gauge({ name: 'lilypad_peers', help: 'Connected libp2p peers', registers })
    this.chainHead = new Gauge({ name: 'lilypad_chain_head_block', help: 'Last block the chain follower processed', labelNames: ['chain'], registers })
    this.chainLagBlocks = new Gauge({ name: 'lilypad_chain_lag_blocks', help: 'Blocks between the RPC head and the follower', labelNames: ['chain'], registers })
    this.limited = new Counter({ name: 'lilypad_limited_total', help: 'Requests refused by rate limits, penalty points and bans, by service', labelNames: ['service', 'action'], registers })
    this.errors = new Counter({ name: 'lilypad_errors_total', help: 'Handled errors by component and kind', labelNames: ['component', 'kind'], registers })
    this.phaseSeconds = new Histogram({ name: 'lilypad_job_phase_seconds', help: 'Job phases as the job creator saw them', labelNames: ['phase'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers })
    this.reach = new Counter({ name: 'lilypad_peer_reach_total', help: 'Peers reached after re-resolution, and peers found unreachable', labelNames: ['outcome'], registers })
    this.resolutions = new Counter({ name: 'lilypad_peer_resolutions_total', help: 'Peer address re-resolutions by the source that answered', labelNames: ['source'], registers })
    this.peerStorePeers = new Gauge({ name: 'lilypad_peer_store_peers', help: 'libp2p peer-store entries at the last sweep', registers })
    this.unreachablePeers = new Gauge({ name: 'lilypad_unreachable_peers', help: 'Peers demoted as unreachable', registers })
    this.bootstrapConnected = new Gauge({ name: 'lilypad_bootstrap_connected', help: 'Bootstrap peers connected', registers })
    this.connections = new Gauge({ name: 'lilypad_connections', help: 'Open libp2p connections', registers })
    this.streams = new Gauge({ name: 'lilypad_streams', help: 'Open libp2p streams', registers })
    this.offersKnown = new Gauge({ name: 'lilypad_offers_known', help: 'Live resource offers in the order book', registers })
    this.providersKnown = new Gauge({ name: 'lilypad_providers_known', help: 'Providers with live offers in the order book', registers })
    this.dealRecordsPruned = new Counter({ name: 'lilypad_deal_records_pruned_total', help: 'Terminal deal records removed after their retention period', labelNames: ['store'], registers })
    this.logBytes = new Counter({ name: 'lilypad_log_bytes_total', help: 'Live container log bytes by side and outcome (sent, dropped, received, refused)', labelNames: ['side', 'what'], registers })
    this.logStreams = new Gauge({ name: 'lilypad_log_streams', help: 'Live log streams open now, by side', labelNames: ['side'], registers })
    this.queuedJobs = new Gauge({ name: 'lilypad_jobs_queued', help: 'Jobs waiting for a busy provider to free a slot', registers })
    this.queueSeconds = new Histogram({ name: 'lilypad_job_queue_seconds', help: 'Time jobs waited for a busy provider before a deal or giving up', buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers })
    this.canaryRounds = new Counter({ name: 'lilypad_canary_rounds_total', help: 'Canary rounds the validator ran', registers })
    this.canaries = new Counter({ name: 'lilypad_canaries_total', help: 'Canary jobs checked by the validator, by outcome', labelNames: ['outcome'], registers })
    this.canaryReportsRecorded = new Counter({ name: 'lilypad_canary_reports_recorded_total', help: 'Signed canary reports the validator recorded in the Rewards contract', registers })
    this.userJobs = new Gauge({ name: 'lilypad_user_jobs', help: 'Jobs held by the node\'s job service (local API), by state', labelNames: ['state'], registers })
    this.clusterNodes = new Gauge({ name: 'lilypad_cluster_nodes', help: 'A cluster provider\'s nodes, by state (usable, unusable)', labelNames: ['state'], registers })
    this.clusterSlots = new Gauge({ name: 'lilypad_cluster_slots', help: 'Slots the cluster holds now besides other work (the most a cluster provider books)', registers })
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'lilypad_process_' })
  }

  async text (): Promise<string> { return await this.registry.metrics() }
}

export class MetricsPortError extends Error {
  static override name = 'MetricsPortError'
  override name = 'MetricsPortError'
}

/** Serves GET /metrics on host:port (loopback by default). Resolves once listening; close() stops it. */
export async function serveMetrics (metrics: LilypadMetrics, opts: { port: number, host?: string }): Promise<{ url: string, close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') { res.writeHead(404).end('not found: try GET /metrics\n'); return }
    metrics.text().then(body => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body)
    }, (err: Error) => { res.writeHead(500).end(`metrics failed: ${err.message}\n`) })
  })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(new MetricsPortError(`cannot serve metrics on ${host}:${opts.port}: ${err.code ?? err.message}`)) })
    server.listen(opts.port, host, () => { resolve() })
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port
  return {
    url: `http://${host}:${port}/metrics`,
    close: async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() }) }
  }
}
