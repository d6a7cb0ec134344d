// The TypeScript SDK: a client of a Lilypad node's local API (node/api), or of a node it starts in this process.
//
//   import { Lilypad } from 'lilypad'
//   const lp = await Lilypad.connect({ dataDir })            // or { url, token }, or Lilypad.embedded({ network })
//   const out = await lp.run('cowsay:v0.0.1', { Message: 'hi' }, { onProgress: e => console.log(e.type, e.data) })
//   console.log(new TextDecoder().decode(await lp.get(out.jobId, 'stdout')))
//
// On a network of several chains, `chain` (an id or a name; default the network's first) picks where a job settles
// and where LP moves: lp.run(ref, inputs, { chain: 'beta' }), lp.balance({ chain: 1338 }), lp.balances().
//
// Every failure the node names arrives as a LilypadError with the same `name` (branch on it, never on the text).
import { join } from 'node:path'
import type { ApiErrorBody } from '../node/api/errors.ts'
import type { ApiFile } from '../node/api/discovery.ts'
import type { JobState, JobResult, JobError, CancelAnswer } from '../node/jobs/index.ts'
import type { Phase } from '../node/roles/job-creator.ts'
import type { UserNode } from '../node/api/user-node.ts'

export type { JobState, JobResult, JobError, CancelAnswer, Phase }

/** The names of the errors the API and the SDK raise. */
export type LilypadErrorName =
  | 'ValidationError' | 'BadAmountError' | 'BadRequestError' | 'UnauthorizedError' | 'ForeignHostError' | 'BrowserOriginError'
  | 'JobNotFoundError' | 'RouteNotFoundError' | 'JobNotDoneError' | 'JobEndedError' | 'JobCancelledError' | 'TooManyJobsError'
  | 'TooManyStreamsError' | 'BodyTooLargeError' | 'UnsupportedMediaTypeError' | 'InsufficientDepositError' | 'InsufficientBalanceError'
  | 'BadResultPathError' | 'ResultFileNotFoundError' | 'NoProviderError' | 'ProvidersFailedError' | 'ResultUnavailableError'
  | 'NodeRestartedError' | 'DealEndedError' | 'NoNodeError' | 'InternalError' | 'UnknownChainError' | 'ChainUnavailableError'

export class LilypadError extends Error {
  override name: LilypadErrorName | (string & {})
  /** the HTTP status it came with (0: it did not come from the API) */
  readonly status: number
  readonly hint?: string
  constructor (name: string, message: string, opts: { status?: number, hint?: string } = {}) {
    super(message)
    this.name = name
    this.status = opts.status ?? 0
    if (opts.hint !== undefined) this.hint = opts.hint
  }
}

export interface Amount { lp: string, wei: string }
/** a chain of the network: its id, or its name in the network file */
export type ChainRef = number | string
export interface Balance { address: string, wallet: Amount, deposit: Amount, locked: Amount, /** the chain these are on */ chainId: number }
/** One chain's balances, or why they could not be read. */
export type ChainBalance = { chainId: number, name?: string } & ({ wallet: Amount, deposit: Amount, locked: Amount } | { error: { name: string, message: string } })
/** A chain of the network, as the node sees it. */
export interface ChainInfo { chainId: number, name?: string, contracts?: { market: string, token: string }, explorerUrl?: string, served: boolean, error?: { name: string, message: string } }

/** One event of a job, as the node records it and streams it. */
export type JobProgress =
  | { seq: number, at: number, type: 'state', data: { state: JobState } }
  | { seq: number, at: number, type: 'phase', data: { phase: Phase, detail?: string, ms: number, dealId?: string } }
  | { seq: number, at: number, type: 'tx', data: { what: string, hash: string, gasUsed: string } }
  | { seq: number, at: number, type: 'note', data: { message: string } }
  | { seq: number, at: number, type: 'log', data: { stream: 'stdout' | 'stderr', data: string } }

export interface Job {
  id: string
  state: JobState
  /** the chain the job settles on */
  chainId?: number
  phase?: Phase
  createdAt: string
  updatedAt: string
  request: Record<string, unknown>
  dealIds: string[]
  outcome?: JobResult
  error?: JobError
  resumed?: boolean
  events?: JobProgress[]
  eventsDropped?: number
}

export interface JobOptions {
  /** LP as a decimal string, e.g. "2.5" */
  maxPrice?: string
  target?: string
  mediators?: string[]
  audit?: number
  gpu?: { gpus?: number, model?: string, vramMb?: number }
  /** CPU (millicores) and memory (MiB) on top of the module's */
  machine?: { cpu?: number, ramMb?: number }
  /** absolute paths on the node's machine */
  inputFiles?: Record<string, string>
  accept?: boolean
  /** the chain the job settles on (default: the network's first) */
  chain?: ChainRef
}

export interface RunOptions extends JobOptions {
  /** aborting cancels the job (see cancel() for what that means once a deal is agreed) */
  signal?: AbortSignal
  onProgress?: (e: JobProgress) => void
}

export interface RunResult extends JobResult { jobId: string }

export interface EmbeddedOptions {
  /** a network name or network file path (default devnet) */
  network?: string
  /** the key; on the devnet the CLI user's dev key by default */
  privateKey?: string
  /** default <home>/nodes/<network>/<address> */
  dataDir?: string
  /** default $LILYPAD_HOME or ~/.lilypad */
  home?: string
  /** roles besides running jobs (default none) */
  roles?: Array<'resource-provider' | 'solver' | 'mediator' | 'job-bridge' | 'directory'>
}

async function apiError (res: Response): Promise<LilypadError> {
  let body: Partial<ApiErrorBody> = {}
  try { body = await res.json() as ApiErrorBody } catch { body = {} }
  const e = body.error
  return new LilypadError(e?.name ?? 'InternalError', e?.message ?? `the node answered ${res.status}`, { status: res.status, ...(e?.hint !== undefined ? { hint: e.hint } : {}) })
}

export class Lilypad {
  readonly url: string
  private readonly token: string
  private readonly embeddedNode?: UserNode

  private constructor (url: string, token: string, embeddedNode?: UserNode) {
    this.url = url.replace(/\/+$/, '')
    this.token = token
    if (embeddedNode !== undefined) this.embeddedNode = embeddedNode
  }

  /** A client of a running node: its URL and token, or its data dir (api.json and api-token in it). */
  static async connect (opts: { url: string, token: string } | { dataDir: string }): Promise<Lilypad> {
    let url: string
    let token: string
    if ('dataDir' in opts) {
      const { readApiFile, readToken } = await import('../node/api/discovery.ts')
      const f = await readApiFile(opts.dataDir)
      const t = await readToken(opts.dataDir)
      if (f === undefined || t === undefined) throw new LilypadError('NoNodeError', `no node runs for ${opts.dataDir}`, { hint: 'start one with "lilypad node --roles none" (or any roles), or use Lilypad.embedded()' })
      url = f.url
      token = t
    } else {
      url = opts.url
      token = opts.token
    }
    const lp = new Lilypad(url, token)
    await lp.node()
    return lp
  }

  /**
   * The client of the node that owns `address` on `network` under `home`, when one runs and answers; else undefined
   * (a stale api.json or lock, a refused connection).
   */
  static async find (opts: { home: string, network: string, address: string }): Promise<Lilypad | undefined> {
    const { lockedDataDir } = await import('../node/api/discovery.ts')
    const dataDir = await lockedDataDir(opts.home, opts.network, opts.address)
    if (dataDir === undefined) return undefined
    try {
      const lp = await Lilypad.connect({ dataDir })
      const n = await lp.node()
      return n.network === opts.network && n.address.toLowerCase() === opts.address.toLowerCase() ? lp : undefined
    } catch (err) {
      if (err instanceof LilypadError && (err.name === 'NoNodeError' || err.status === 0)) return undefined
      throw err
    }
  }

  /** Starts a node in this process (no roles but running jobs, unless asked) and returns its client; close() stops it. */
  static async embedded (opts: EmbeddedOptions = {}): Promise<Lilypad> {
    const { loadNetwork, lilypadHome } = await import('../node/config/load.ts')
    const { startUserNode } = await import('../node/api/user-node.ts')
    const { Wallet } = await import('ethers')
    const home = opts.home ?? lilypadHome()
    const name = opts.network ?? 'devnet'
    const loaded = await loadNetwork(name, { ...process.env, LILYPAD_HOME: home })
    const isDevnet = loaded.network.networkId === 'devnet'
    let key = opts.privateKey
    if (key === undefined) {
      if (!isDevnet) throw new LilypadError('ValidationError', 'privateKey is needed off the devnet')
      const { devKey } = await import('../node/chain/anvil.ts')
      const { DEVNET_KEYS } = await import('../node/devnet.ts')
      key = devKey(DEVNET_KEYS.user)
    }
    const address = new Wallet(key).address
    const user = await startUserNode({
      home, network: loaded.network, networkPath: loaded.path, privateKey: key, roles: opts.roles ?? [], local: isDevnet,
      dataDir: opts.dataDir ?? join(home, 'nodes', loaded.network.networkId, address.toLowerCase()),
      components: { logger: { level: (process.env.LILYPAD_LOG_LEVEL as 'warn' | undefined) ?? 'warn' } },
      api: { port: 0 }
    })
    return new Lilypad(user.api?.url as string, user.token as string, user)
  }

  /** Stops the embedded node (a connected client has nothing to close). */
  async close (): Promise<void> { await this.embeddedNode?.stop() }

  private async call<T> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal !== undefined ? { signal } : {})
      })
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      throw new LilypadError('NoNodeError', `the node at ${this.url} does not answer (${(err as Error).message})`, { hint: 'is "lilypad node" still running?' })
    }
    if (!res.ok) throw await apiError(res)
    return await res.json() as T
  }

  async node (): Promise<{ network: string, address: string, peerId: string, roles: string[], pid: number, chainId?: number, chains: ChainInfo[] }> { return await this.call('GET', '/v1/node') }

  /** The network's chains, the first first, and whether this node serves each now. */
  async chains (): Promise<ChainInfo[]> { return (await this.node()).chains }

  async submit (module: string, inputs: Record<string, string> = {}, opts: JobOptions = {}): Promise<Job> {
    return await this.call('POST', '/v1/jobs', { module, inputs, ...opts })
  }

  /** Runs a job to its end: resolves to its result, rejects with a LilypadError naming why it failed. */
  async run (module: string, inputs: Record<string, string> = {}, opts: RunOptions = {}): Promise<RunResult> {
    const { signal, onProgress, ...jobOpts } = opts
    signal?.throwIfAborted()
    const job = await this.submit(module, inputs, jobOpts)
    const onAbort = (): void => { void this.cancel(job.id).catch(() => { /* the job may have ended meanwhile */ }) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const e of this.logs(job.id, signal !== undefined ? { signal } : {})) onProgress?.(e)
      signal?.throwIfAborted()
      const end = await this.job(job.id)
      if (end.state === 'done' && end.outcome !== undefined) return { jobId: job.id, ...end.outcome }
      const err = end.error ?? { name: 'InternalError', message: `the job ended ${end.state}` }
      throw new LilypadError(err.name, err.message, err.hint !== undefined ? { hint: err.hint } : {})
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async jobs (filter: { state?: JobState, limit?: number, chain?: ChainRef } = {}): Promise<Job[]> {
    const q = new URLSearchParams()
    if (filter.state !== undefined) q.set('state', filter.state)
    if (filter.chain !== undefined) q.set('chain', String(filter.chain))
    if (filter.limit !== undefined) q.set('limit', String(filter.limit))
    return (await this.call<{ jobs: Job[] }>('GET', `/v1/jobs${q.size > 0 ? `?${q.toString()}` : ''}`)).jobs
  }

  async job (id: string): Promise<Job> { return await this.call('GET', `/v1/jobs/${encodeURIComponent(id)}`) }

  /** Before a deal is agreed: the job ends, nothing spent. After: the deal runs to its end; `money` says how it is paid. */
  async cancel (id: string): Promise<CancelAnswer> { return await this.call('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`) }

  /**
   * The job's events: its history (after `after`), then live ones until the job ends. A dropped stream is taken up
   * again where it stopped (Last-Event-ID), a few times.
   */
  async * logs (id: string, opts: { after?: number, signal?: AbortSignal, follow?: boolean } = {}): AsyncGenerator<JobProgress> {
    let after = opts.after ?? 0
    if (opts.follow === false) {
      const j = await this.job(id)
      for (const e of j.events ?? []) if (e.seq > after) yield e
      return
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response
      try {
        res = await fetch(`${this.url}/v1/jobs/${encodeURIComponent(id)}/events?after=${after}`, { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) })
      } catch (err) {
        if (opts.signal?.aborted === true) throw opts.signal.reason
        throw new LilypadError('NoNodeError', `the node at ${this.url} does not answer (${(err as Error).message})`)
      }
      if (!res.ok) throw await apiError(res)
      const decoder = new TextDecoder()
      let buf = ''
      let end = false
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true })
          let cut: number
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut)
            buf = buf.slice(cut + 2)
            let type = 'message'
            let data = ''
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7)
              else if (line.startsWith('data: ')) data += line.slice(6)
            }
            if (type === 'end') { end = true; continue }
            if (data === '') continue
            const e = JSON.parse(data) as JobProgress
            after = e.seq
            yield e
          }
        }
      } catch (err) {
        if (opts.signal?.aborted === true) throw opts.signal.reason
        if (attempt >= 5) throw err
      }
      if (end) return
      // the stream dropped before its end: taken up again after the last event seen (an ended job replays to its end)
      if (attempt >= 5) throw new LilypadError('NoNodeError', 'the event stream kept dropping')
      await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)))
    }
  }

  /** The result's file list. */
  async files (id: string): Promise<{ cid: string, files: Array<{ name: string, bytes: number }> }> {
    return await this.call('GET', `/v1/jobs/${encodeURIComponent(id)}/files`)
  }

  /** One file of a done job's result, e.g. get(id, 'stdout') or get(id, 'outputs/x.txt'). */
  async get (id: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const enc = path.split('/').map(encodeURIComponent).join('/')
    const res = await fetch(`${this.url}/v1/jobs/${encodeURIComponent(id)}/files/${enc}`, { headers: { authorization: `Bearer ${this.token}` }, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) })
    if (!res.ok) throw await apiError(res)
    return new Uint8Array(await res.arrayBuffer())
  }

  /** The balances on one chain (default: the network's first). */
  async balance (opts: { chain?: ChainRef } = {}): Promise<Balance> { return await this.call('GET', `/v1/balance${chainQuery(opts.chain)}`) }
  /** The balances on each chain of the network; a chain that cannot be read has `error`. */
  async balances (): Promise<{ address: string, chains: ChainBalance[] }> { return await this.call('GET', '/v1/balances') }
  /** `amount` in LP as a decimal string, e.g. "10" or "0.5"; on `chain` (default: the network's first) */
  async deposit (amount: string, opts: { chain?: ChainRef } = {}): Promise<Balance> { return await this.call('POST', '/v1/deposit', { amount, ...(opts.chain !== undefined ? { chain: opts.chain } : {}) }) }
  async withdraw (amount: string, opts: { chain?: ChainRef } = {}): Promise<Balance> { return await this.call('POST', '/v1/withdraw', { amount, ...(opts.chain !== undefined ? { chain: opts.chain } : {}) }) }
  async offers (opts: { chain?: ChainRef } = {}): Promise<Array<Record<string, unknown>>> { return (await this.call<{ offers: Array<Record<string, unknown>> }>('GET', `/v1/offers${chainQuery(opts.chain)}`)).offers }
  /** Providers in one chain's order book (default the first), with their reputation from that chain's records. */
  async providers (opts: { chain?: ChainRef } = {}): Promise<Array<{ address: string, peer?: string, offers: number, minPrice: Amount, reputation?: { score: number, standing: 'ok' | 'demoted' | 'banned', record?: Record<string, number> } }>> {
    return (await this.call<{ providers: Array<{ address: string, peer?: string, offers: number, minPrice: Amount }> }>('GET', `/v1/providers${chainQuery(opts.chain)}`)).providers
  }
}

function chainQuery (chain: ChainRef | undefined): string {
  return chain === undefined ? '' : `?chain=${encodeURIComponent(String(chain))}`
}

export type { ApiFile }
