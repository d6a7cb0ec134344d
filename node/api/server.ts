// The node's local job API (fastify): jobs, their events as server-sent events, result files, balances,
// deposit/withdraw, offers and providers. Every request is hostile until checked, in this order: the Host header
// must name loopback (a DNS-rebinding page cannot reach it through a name of its own), no Origin header (no
// browser page may call it; no CORS headers are ever sent), the bearer token (constant-time compare), then the
// route's schema (bounded bodies, strings, lists). Failures are `{ error: { name, message, hint } }` with a 4xx.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, realpath } from 'node:fs/promises'
import { basename, join, sep } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { getAddress } from 'ethers'
import type { ChainClient } from '../chain/index.ts'
import type { OrderBook } from '../../protocols/order-book.ts'
import type { JobCreator } from '../roles/job-creator.ts'
import { JobNotDoneError, BadResultPathError, ResultFileNotFoundError, RemoteSigner, SignatureRequestNotFoundError, type SignatureRequest, type JobService, type JobRecord, type JobSubmission, type JobEvent } from '../jobs/index.ts'
import { formatLP, parseLP } from '../../core/lp.ts'
import { SAFE_HEADERS, TEXT_NAMES } from '../result-store/gateway.ts'
import type { Logger } from '../observability/logger.ts'
import { ApiError, bodyOf, statusOf } from './errors.ts'
import { ROUTES, openApiDocument, type RouteSpec } from './routes.ts'
import { amount, builtinModules, moduleView, networkView, providersView, type MeshView, type ReputationView } from './views.ts'
import type { NetworkFile } from '../config/network.ts'
import { chainsOf, findChain, UnknownChainError } from '../config/chains.ts'
import { depositTx, permitFor } from './wallet.ts'

/** One chain of the network as the API serves it: its chain client, order book and job creator (the node's key there). */
export interface ApiChain {
  chainId: number
  chain: ChainClient
  book: OrderBook
  jobCreator: () => Promise<JobCreator>
  /** providers' records on this chain (its job creator's ban list and ranking), once its job creator runs */
  reputation?: () => ReputationView | undefined
  /** the network seen from this chain (its contracts, mediators, RPC at the top level) */
  network?: NetworkFile
  /** this chain's gossip topics, as the mesh view shows them */
  topics?: MeshView['topics']
}

export interface ApiNode {
  jobs: JobService
  /** the node's key's address (default: the first chain's client's) */
  address?: string
  /** why the network's first chain is not served now (ChainUnavailableError, 503: not joined yet), if it is not */
  firstChainUnavailable?: () => ApiError | undefined
  jobCreator: JobCreator
  chain: ChainClient
  book: OrderBook
  networkId: string
  peerId: string
  roles: string[]
  logger: Logger
  /** the network file (chain id, contracts, mediators): GET /v1/network and the console's wallet need it */
  network?: NetworkFile
  /** the mesh as the node's host sees it (GET /v1/network) */
  mesh?: MeshView
  /** providers' chain records (GET /v1/providers) */
  reputation?: ReputationView
  /** the devnet: the console says its node's key is a well-known test key */
  devnet?: boolean
  modulesDir?: string
  /**
   * A further chain of the network (not the first: that is `chain`, `book`, `jobCreator`), when this node serves
   * it; else an ApiError: UnknownChainError (not served), ChainUnavailableError (not joined yet). Absent: the node
   * serves the first chain only.
   */
  furtherChain?: (chainId: number) => ApiChain
}

export interface ApiOptions {
  /** default 0: the system picks */
  port?: number
  /** default 127.0.0.1; the API is for this machine */
  host?: string
  token: string
  /** request bodies at most (default 64 KiB) */
  bodyLimit?: number
  /** event streams open at once (default 64) */
  maxStreams?: number
  /** a comment line on each event stream this often (default 15 s), so proxies and clients see it alive */
  heartbeatMs?: number
  version?: string
  /** serve the console (the web app under /ui/, console/) from this origin; its requests carry an Origin header of this origin, which is then let through */
  console?: boolean
}

export class ApiPortError extends Error {
  static override name = 'ApiPortError'
  override name = 'ApiPortError'
}

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?$/i
/** an event stream whose client stops reading is dropped once this much is buffered */
const STREAM_BUFFER_LIMIT = 1 << 20
const MAX_LISTED_FILES = 10_000

/** A job as JSON: amounts in LP and wei, times as ISO strings; events only when asked; `chainId` the chain it settles on. */
export function jobJson (j: JobRecord, withEvents: boolean, chainId?: number): Record<string, unknown> {
  const { maxPrice, chainId: _asked, ...request } = j.request
  const on = j.chainId ?? chainId
  return {
    id: j.id,
    state: j.state,
    ...(on !== undefined ? { chainId: on } : {}),
    ...(j.phase !== undefined ? { phase: j.phase } : {}),
    createdAt: new Date(j.createdAt).toISOString(),
    updatedAt: new Date(j.updatedAt).toISOString(),
    request: { ...request, ...(maxPrice !== undefined ? { maxPrice: amount(maxPrice) } : {}) },
    dealIds: j.dealIds,
    ...(j.outcome !== undefined ? { outcome: j.outcome } : {}),
    ...(j.error !== undefined ? { error: j.error } : {}),
    ...(j.resumed === true ? { resumed: true } : {}),
    ...(withEvents ? { events: j.events, eventsDropped: j.eventsDropped } : {})
  }
}

function tokenDigest (t: string): Buffer { return createHash('sha256').update(t).digest() }

/** The submission's checked, typed form (the schema checked the shapes; this checks the values). */
async function submission (b: Record<string, unknown>, chainId: number): Promise<JobSubmission> {
  const bad = (m: string): ApiError => new ApiError(400, 'ValidationError', m)
  const address = (v: string, what: string): string => { try { return getAddress(v.toLowerCase()) } catch { throw bad(`${what} "${v}" is not an address`) } }
  const gpu = b.gpu as { gpus?: number, model?: string, vramMb?: number } | undefined
  const machine = b.machine as { cpu?: number, ramMb?: number } | undefined
  const inputFiles = b.inputFiles as Record<string, string> | undefined
  const inputs = (b.inputs ?? {}) as Record<string, string>
  if (inputFiles !== undefined) {
    for (const [name, path] of Object.entries(inputFiles)) {
      if (name in inputs) throw new ApiError(400, 'InputNameConflictError', `input ${name} is given both in inputs and in inputFiles`)
      const st = await lstat(path).catch(() => undefined)
      if (st === undefined || !(st.isFile() || st.isDirectory())) throw new ApiError(400, 'InputFileError', `inputFiles.${name}: ${path} is not a file or directory on the node's machine`)
    }
  }
  return {
    module: (b.module as string).trim(),
    inputs,
    ...(inputFiles !== undefined ? { inputFiles } : {}),
    ...(b.maxPrice !== undefined ? { maxPrice: parseLP(b.maxPrice as string) } : {}),
    ...(b.target !== undefined ? { target: address(b.target as string, 'target') } : {}),
    ...(b.mediators !== undefined ? { mediators: (b.mediators as string[]).map(m => address(m, 'mediator')) } : {}),
    ...(b.audit !== undefined ? { auditProbability: b.audit as number } : {}),
    ...(gpu !== undefined ? { gpu: { ...(gpu.gpus !== undefined ? { gpus: gpu.gpus } : {}), ...(gpu.model !== undefined ? { gpuModel: gpu.model } : {}), ...(gpu.vramMb !== undefined ? { gpuVramMb: gpu.vramMb } : {}) } } : {}),
    ...(machine !== undefined ? { machine: { ...(machine.cpu !== undefined ? { cpu: machine.cpu } : {}), ...(machine.ramMb !== undefined ? { ramMb: machine.ramMb } : {}) } } : {}),
    ...(b.accept !== undefined ? { accept: b.accept as boolean } : {}),
    chainId
  }
}

/** A path inside a result directory: plain segments only, resolved without leaving it, a regular file. */
export async function resultFile (root: string, rel: string): Promise<{ path: string, bytes: number }> {
  const segs = rel.split('/')
  if (rel.length > 1024 || segs.some(s => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) throw new BadResultPathError(`"${rel.slice(0, 100)}" is not a path inside the result`)
  const full = join(root, ...segs)
  const st = await lstat(full).catch(() => undefined)
  if (st === undefined || !st.isFile()) throw new ResultFileNotFoundError(`no file ${rel.slice(0, 200)} in the result`)
  // a directory on the way that is a link out of the result is refused, whatever the segments say
  const [r, f] = await Promise.all([realpath(root), realpath(full)])
  if (!f.startsWith(r + sep)) throw new BadResultPathError(`"${rel.slice(0, 100)}" leaves the result`)
  return { path: full, bytes: st.size }
}

async function listFiles (root: string): Promise<Array<{ name: string, bytes: number }>> {
  const out: Array<{ name: string, bytes: number }> = []
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    if (depth > 32) return
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (out.length >= MAX_LISTED_FILES) return
      const name = prefix === '' ? e.name : `${prefix}/${e.name}`
      if (e.isDirectory()) await walk(join(dir, e.name), name, depth + 1)
      else if (e.isFile()) out.push({ name, bytes: (await lstat(join(dir, e.name))).size })
    }
  }
  await walk(root, '', 0)
  return out
}

export interface ApiServer { url: string, port: number, close: () => Promise<void> }

export async function serveApi (node: ApiNode, opts: ApiOptions): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1'
  const expected = tokenDigest(opts.token)
  const maxStreams = opts.maxStreams ?? 64
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const log = node.logger.child({ component: 'api' })
  const streams = new Set<() => void>()
  let port = opts.port ?? 0
  const app: FastifyInstance = Fastify({
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    logger: false,
    // unknown fields are refused (not silently dropped), and nothing is coerced into another type
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    connectionTimeout: 0,
    requestTimeout: 30_000
  })

  // bodies are JSON or nothing: a text/plain body is refused (415) rather than handed to a route as a string
  app.removeContentTypeParser('text/plain')
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const m = LOOPBACK_HOST.exec(req.headers.host ?? '')
    if (m === null || (m[2] !== undefined && Number(m[2]) !== port)) throw new ApiError(403, 'ForeignHostError', `the Host header "${String(req.headers.host ?? '').slice(0, 100)}" is not this machine's loopback`, 'call the API at 127.0.0.1 or localhost')
    // the console is served from this very origin (scheme http, the Host just checked); any other page is refused
    if (req.headers.origin !== undefined && !(opts.console === true && req.headers.origin === `http://${req.headers.host ?? ''}`)) throw new ApiError(403, 'BrowserOriginError', 'requests from web pages (an Origin header) are refused', opts.console === true ? 'only the console this node serves (/ui/) may call it from a browser' : 'call the API from a program on this machine (the SDK, curl), not from a browser page')
    if (opts.console === true && isConsolePath(req.routeOptions.url)) return
    const route = ROUTES.find(r => r.method === req.method && r.url === req.routeOptions.url)
    if (route?.public === true) return
    const auth = req.headers.authorization ?? ''
    const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : ''
    if (given === '' || !timingSafeEqual(tokenDigest(given), expected)) throw new ApiError(401, 'UnauthorizedError', given === '' ? 'no bearer token' : 'wrong bearer token', 'send Authorization: Bearer <token>; the token is in the node\'s data dir, file api-token')
  })

  app.setErrorHandler((err: Error & { validation?: unknown, statusCode?: number, code?: string }, req, reply) => {
    let e: unknown = err
    if (err.validation !== undefined) e = new ApiError(400, 'ValidationError', err.message, 'GET /v1/openapi.json describes every route\'s input')
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new ApiError(413, 'BodyTooLargeError', 'the request body is too large')
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new ApiError(415, 'UnsupportedMediaTypeError', 'send the body as application/json')
    else if (err instanceof RangeError) e = new ApiError(400, 'BadAmountError', err.message)
    else if (!(err instanceof ApiError) && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = new ApiError(err.statusCode, 'BadRequestError', err.message)
    const status = statusOf(e)
    if (status >= 500) log.warn({ err, method: req.method, url: req.routeOptions.url }, 'API request failed')
    void reply.code(status).type('application/json').send(bodyOf(e, status))
  })
  app.setNotFoundHandler(async (req, reply) => {
    await reply.code(404).send(bodyOf(new ApiError(404, 'RouteNotFoundError', `no route ${req.method} ${req.url.split('?')[0].slice(0, 200)}`, 'GET /v1/openapi.json lists the routes'), 404))
  })

  const doc = openApiDocument(opts.version ?? '0.1.0')
  const firstChainId = node.network?.chainId ?? node.chain.network.chainId
  // (read when a request uses it: the first chain may join after the API started)
  const first: ApiChain = { chainId: firstChainId, get chain () { return node.chain }, book: node.book, jobCreator: async () => node.jobCreator, reputation: () => node.reputation }
  const ownAddress = (): string => node.address ?? node.chain.address
  /** the chain a request names, by id or name (absent: the network's first), as this node serves it */
  const chainIdOf = (asked: string | number | undefined): number => {
    if (asked === undefined) return firstChainId
    if (node.network === undefined) {
      if (String(asked) === String(firstChainId)) return firstChainId
      throw new ApiError(400, 'UnknownChainError', `this node serves chain ${firstChainId} only, not "${String(asked)}"`, `leave out chain, or name ${firstChainId}`)
    }
    try {
      return findChain(node.network, String(asked)).chainId
    } catch (err) {
      if (!(err instanceof UnknownChainError)) throw err
      throw new ApiError(400, 'UnknownChainError', err.message, `name a chain by its id or its name: ${err.known.join(', ')} (GET /v1/node lists them)`)
    }
  }
  const chainOf = (asked: string | number | undefined): ApiChain => {
    const chainId = chainIdOf(asked)
    if (chainId === firstChainId) {
      const why = node.firstChainUnavailable?.()
      if (why !== undefined) throw why
      return first
    }
    if (node.furtherChain === undefined) throw new ApiError(400, 'UnknownChainError', `this node serves the network's first chain (${firstChainId}) only, not chain ${chainId}`, 'start the node with every chain of the network')
    return node.furtherChain(chainId)
  }
  const balances = async (c: ApiChain): Promise<Record<string, unknown>> => {
    const jc = await c.jobCreator()
    const [wallet, deposit, open] = await Promise.all([c.chain.tokenBalance(), c.chain.depositOf(), jc.deals.open()])
    let locked = 0n
    for (const r of open) if (r.agreedAt !== undefined) locked += r.deal.price + r.deal.mediationFee
    return { address: c.chain.address, wallet: amount(wallet), deposit: amount(deposit), locked: amount(locked), chainId: c.chainId }
  }
  /** each chain of the network, first first: its name, contracts, and whether this node serves it now */
  const chainList = (): Array<Record<string, unknown>> => node.network === undefined
    ? [{ chainId: firstChainId, served: true }]
    : chainsOf(node.network).map(c => {
      let served = true
      let error: { name: string, message: string } | undefined
      try { chainOf(c.chainId) } catch (err) { served = false; error = { name: (err as Error).name, message: (err as Error).message } }
      return { chainId: c.chainId, ...(c.name !== undefined ? { name: c.name } : {}), contracts: { market: c.contracts.market, token: c.contracts.token }, ...(c.explorerUrl !== undefined ? { explorerUrl: c.explorerUrl } : {}), served, ...(error !== undefined ? { error } : {}) }
    })
  const chainQuery = (req: FastifyRequest): ApiChain => chainOf((req.query as { chain?: string }).chain)
  const chainBody = (req: FastifyRequest): ApiChain => chainOf((req.body as { chain?: string | number }).chain)
  const positive = (lp: string): bigint => {
    const wei = parseLP(lp)
    if (wei === 0n) throw new ApiError(400, 'BadAmountError', 'the amount must be more than 0')
    return wei
  }
  const lpBody = (req: FastifyRequest): bigint => positive((req.body as { amount: string }).amount)
  const needNetwork = (): NetworkFile => {
    if (node.network === undefined) throw new ApiError(404, 'RouteNotFoundError', 'this node serves no wallet routes')
    return node.network
  }
  const doneJob = (id: string): JobRecord & { outcome: NonNullable<JobRecord['outcome']> } => {
    const j = node.jobs.get(id)
    if (j.state !== 'done' || j.outcome === undefined) throw new JobNotDoneError(id, j.state)
    return j as JobRecord & { outcome: NonNullable<JobRecord['outcome']> }
  }

  const handlers: Record<string, (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>> = {
    openapi: async () => doc,
    node: async () => ({
      network: node.networkId, address: ownAddress(), peerId: node.peerId, roles: node.roles, pid: process.pid, devnet: node.devnet === true,
      ...(node.network !== undefined ? { chainId: node.network.chainId, contracts: { market: node.network.contracts.market, token: node.network.contracts.token }, ...(node.network.explorerUrl !== undefined ? { explorerUrl: node.network.explorerUrl } : {}) } : {}),
      chains: chainList()
    }),
    modules: async () => ({ modules: await builtinModules(node.modulesDir) }),
    module: async req => await moduleView((req.query as { ref: string }).ref.trim(), { ...(node.modulesDir !== undefined ? { modulesDir: node.modulesDir } : {}), signal: AbortSignal.timeout(60_000) }),
    network: async req => {
      if (node.network === undefined) throw new ApiError(404, 'RouteNotFoundError', 'this node serves no network view')
      // one chain's view (?chain=, default the first): its head, mediators, book, deals and gossip topics; the peers are the host's
      const c = chainQuery(req)
      const mesh = node.mesh !== undefined ? { mesh: { connections: node.mesh.connections, topics: c.topics ?? node.mesh.topics } } : {}
      return await networkView({ network: c.network ?? node.network, chain: c.chain, book: c.book, jobCreator: await c.jobCreator(), peerId: node.peerId, ...mesh })
    },
    submitJob: async (req, reply) => {
      const body = req.body as Record<string, unknown>
      // the chain is checked now: one the network lacks, or one this node has not joined, is refused before a job exists
      const sub = await submission(body, chainBody(req).chainId)
      if (typeof body.wallet !== 'string') return await reply.code(201).send(jobJson(node.jobs.submit(sub), false))
      // the wallet's signature requests become the job's `sign` events (those asked before the id exists, right after)
      let jobId: string | undefined
      const early: SignatureRequest[] = []
      // a transaction request (a challenge) comes only after a deal, so once the job id exists: a `send` event
      const signer = new RemoteSigner(body.wallet, r => { if (jobId === undefined) early.push(r); else node.jobs.note(jobId, 'sign', { ...r }) }, {
        askSend: r => { if (jobId !== undefined) node.jobs.note(jobId, 'send', { ...r }) }
      })
      const job = node.jobs.submit(sub, { signer })
      jobId = job.id
      node.jobs.note(job.id, 'note', { message: `job creator: the wallet ${signer.address} signs the job offer, each deal and the acceptance of a verified result; its deposit pays; it sends the challenge of a result that fails` })
      for (const r of early) node.jobs.note(job.id, 'sign', { ...r })
      return await reply.code(201).send(jobJson(job, false))
    },
    signJob: async req => {
      const id = (req.params as { id: string }).id
      const b = req.body as { request: string, signature: string }
      const signer = node.jobs.signerOf(id)
      if (signer === undefined) { node.jobs.get(id); throw new SignatureRequestNotFoundError(`job ${id} waits for no wallet signature`) }
      signer.answer(b.request, b.signature)
      node.jobs.note(id, 'signed', { request: b.request })
      return { request: b.request, accepted: true }
    },
    walletTxJob: async req => {
      const id = (req.params as { id: string }).id
      const b = req.body as { request: string, hash: string }
      const signer = node.jobs.signerOf(id)
      if (signer === undefined) { node.jobs.get(id); throw new SignatureRequestNotFoundError(`job ${id} waits for no wallet transaction`) }
      signer.answerTransaction(b.request, b.hash)
      node.jobs.note(id, 'sent', { request: b.request, hash: b.hash.toLowerCase() })
      return { request: b.request, accepted: true }
    },
    listJobs: async req => {
      const q = req.query as { state?: string, limit?: string, chain?: string }
      const limit = q.limit !== undefined ? Number(q.limit) : 100
      const on = q.chain !== undefined ? chainIdOf(q.chain) : undefined
      const jobs = node.jobs.list().filter(j => (q.state === undefined || j.state === q.state) && (on === undefined || node.jobs.chainOf(j) === on)).slice(0, limit)
      return { jobs: await Promise.all(jobs.map(async j => ({ ...jobJson(j, false, node.jobs.chainOf(j)), ...(await dealOf(j)) }))) }
    },
    getJob: async req => { const j = node.jobs.get((req.params as { id: string }).id); return { ...jobJson(j, true, node.jobs.chainOf(j)), ...(await dealOf(j)) } },
    cancelJob: async req => await node.jobs.cancel((req.params as { id: string }).id),
    jobEvents: async (req, reply) => { await events(req, reply) },
    listFiles: async req => {
      const j = doneJob((req.params as { id: string }).id)
      return { cid: j.outcome.resultCid, files: await listFiles(j.outcome.path) }
    },
    getFile: async (req, reply) => {
      const p = req.params as { id: string, '*': string }
      const j = doneJob(p.id)
      const f = await resultFile(j.outcome.path, p['*'])
      return await reply.headers({ ...SAFE_HEADERS, 'content-type': TEXT_NAMES.test(basename(f.path)) ? 'text/plain; charset=utf-8' : 'application/octet-stream', 'content-length': String(f.bytes) }).send(createReadStream(f.path))
    },
    balance: async req => {
      const c = chainQuery(req)
      const q = (req.query as { address?: string }).address
      if (q === undefined || q.toLowerCase() === c.chain.address.toLowerCase()) return await balances(c)
      const address = getAddress(q.toLowerCase())
      const [wallet, deposit] = await Promise.all([c.chain.tokenBalance(address), c.chain.depositOf(address)])
      return { address, wallet: amount(wallet), deposit: amount(deposit), locked: amount(0n), chainId: c.chainId }
    },
    balances: async req => {
      const q = (req.query as { address?: string }).address
      const address = q === undefined ? ownAddress() : getAddress(q.toLowerCase())
      const own = address.toLowerCase() === ownAddress().toLowerCase()
      // every chain, each on its own: a chain whose RPC is down (or not joined) shows its error, the others their LP
      const chains = await Promise.all(chainList().map(async row => {
        const id = { chainId: row.chainId, ...(row.name !== undefined ? { name: row.name } : {}) }
        try {
          const c = chainOf(row.chainId as number)
          if (own) { const { address: _a, chainId: _c, ...b } = await balances(c); return { ...id, ...b } }
          const [wallet, deposit] = await Promise.all([c.chain.tokenBalance(address), c.chain.depositOf(address)])
          return { ...id, wallet: amount(wallet), deposit: amount(deposit), locked: amount(0n) }
        } catch (err) {
          return { ...id, error: { name: (err as Error).name, message: String((err as Error).message).slice(0, 500) } }
        }
      }))
      return { address, chains }
    },
    walletPermit: async req => {
      const b = req.body as { owner: string, amount: string }
      const c = chainBody(req)
      needNetwork()
      return await permitFor(c.chain, c.chain.network, { owner: b.owner, value: positive(b.amount) })
    },
    walletDepositTx: async req => {
      const b = req.body as { owner: string, amount: string, deadline: string, signature: string }
      const c = chainBody(req)
      needNetwork()
      return await depositTx(c.chain, c.chain.network, { owner: b.owner, value: positive(b.amount), deadline: BigInt(b.deadline), signature: b.signature })
    },
    deposit: async req => {
      const wei = lpBody(req)
      const c = chainBody(req)
      const have = await c.chain.tokenBalance()
      if (have < wei) throw new ApiError(409, 'InsufficientBalanceError', `depositing ${formatLP(wei)} LP on chain ${c.chainId}: the wallet holds ${formatLP(have)} LP there`, 'get LP with "lilypad faucet" (on a test network) or send some to this address')
      // through that chain's queue, which owns this key's nonce there
      await c.chain.deposit(wei)
      log.info({ lp: formatLP(wei), chainId: c.chainId }, 'deposited')
      return await balances(c)
    },
    withdraw: async req => {
      const wei = lpBody(req)
      const c = chainBody(req)
      const have = await c.chain.depositOf()
      if (have < wei) throw new ApiError(409, 'InsufficientDepositError', `withdrawing ${formatLP(wei)} LP on chain ${c.chainId}: the Market deposit holds ${formatLP(have)} LP free there (amounts locked in open deals are not in it)`, '"lilypad balance" shows what is free and what is locked')
      await c.chain.withdraw(wei)
      log.info({ lp: formatLP(wei), chainId: c.chainId }, 'withdrawn')
      return await balances(c)
    },
    offers: async req => ({
      offers: chainQuery(req).book.offers().slice(0, 1000).map(l => ({
        id: l.id, provider: l.offer.provider, ...(l.peer !== undefined ? { peer: l.peer } : {}), slot: l.offer.slot, spec: l.offer.spec, modules: l.offer.modules,
        price: amount(l.offer.price), collateral: amount(l.offer.collateral), mediators: l.offer.mediators, expiry: Number(l.offer.expiry)
      }))
    }),
    providers: async req => {
      const c = chainQuery(req)
      // (a chain's records are kept by its job creator: made now if no job ran there yet)
      await c.jobCreator()
      return { providers: providersView(c.book, c.reputation?.()) }
    }
  }
  /** the job's latest deal as the job creator keeps it: provider, price (its cost once settled), phase */
  const dealOf = async (j: JobRecord): Promise<Record<string, unknown>> => {
    const id = j.dealIds[j.dealIds.length - 1]
    if (id === undefined) return {}
    const chainId = node.jobs.chainOf(j)
    let jc: JobCreator
    // (a job on a chain not joined now: its deal is shown once the chain is back)
    try { jc = await chainOf(chainId).jobCreator() } catch { return {} }
    const r = await jc.deals.get(id)
    if (r === undefined) return {}
    return { deal: { id, provider: r.deal.resourceProvider, jobCreator: r.deal.jobCreator, price: amount(r.deal.price), mediationFee: amount(r.deal.mediationFee), phase: r.phase, chainId } }
  }

  /** Server-sent events: the history after Last-Event-ID (or ?after), then live events until the job ends. */
  const events = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const id = (req.params as { id: string }).id
    const job = node.jobs.get(id)
    if (streams.size >= maxStreams) throw new ApiError(429, 'TooManyStreamsError', `${maxStreams} event streams are open, this node's limit`, 'close some (lilypad logs -f), or poll GET /v1/jobs/{id}')
    const lastHeader = req.headers['last-event-id']
    const afterText = (req.query as { after?: string }).after ?? (typeof lastHeader === 'string' && /^\d{1,12}$/.test(lastHeader) ? lastHeader : '0')
    let sent = Number(afterText)
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' })
    let closed = false
    const buffered: JobEvent[] = []
    let replaying = true
    const close = (): void => {
      if (closed) return
      closed = true
      off()
      clearInterval(beat)
      streams.delete(close)
      res.end()
    }
    const write = (text: string): void => {
      if (closed) return
      res.write(text)
      // a client that stops reading is not buffered for without end
      if (res.writableLength > STREAM_BUFFER_LIMIT) { log.info({ job: id }, 'event stream dropped: its client does not read'); res.destroy(); close() }
    }
    const send = (e: JobEvent): void => {
      if (e.seq <= sent) return
      sent = e.seq
      write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
      if (e.type === 'state' && (e.data.state === 'done' || e.data.state === 'failed' || e.data.state === 'cancelled')) {
        write(`event: end\ndata: ${JSON.stringify(jobJson(node.jobs.get(id), false))}\n\n`)
        close()
      }
    }
    // subscribed before the history is read, so nothing falls between the two
    const off = node.jobs.subscribe(id, e => { if (replaying) buffered.push(e); else send(e) })
    const beat = setInterval(() => { write(': heartbeat\n\n') }, heartbeatMs)
    streams.add(close)
    res.on('close', close)
    write(': lilypad job events\n\n')
    for (const e of job.events) send(e)
    replaying = false
    for (const e of buffered.splice(0)) send(e)
    // a job that ended before the history began with its end (dropped from the front) still ends the stream
    if (!closed && job.terminal) {
      write(`event: end\ndata: ${JSON.stringify(jobJson(job, false))}\n\n`)
      close()
    }
  }

  if (opts.console === true) {
    const { registerConsole } = await import('./console.ts')
    await registerConsole(app)
  }
  for (const r of ROUTES) {
    const handler = handlers[r.operationId]
    if (handler === undefined) throw new Error(`no handler for ${r.operationId}`)
    app.route({ method: r.method, url: r.url, schema: schemaOf(r), handler })
  }

  try {
    await app.listen({ port, host })
  } catch (err) {
    throw new ApiPortError(`cannot serve the API on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const addr = app.server.address()
  port = typeof addr === 'object' && addr !== null ? addr.port : port
  const url = `http://${host}:${port}`
  log.info({ url }, 'API serving')
  return {
    url,
    port,
    close: async () => {
      for (const c of [...streams]) c()
      await app.close()
    }
  }
}

function isConsolePath (url: string | undefined): boolean { return url === '/' || url === '/ui/' || url === '/ui/*' }

function schemaOf (r: RouteSpec): Record<string, unknown> {
  return { ...(r.params !== undefined ? { params: r.params } : {}), ...(r.querystring !== undefined ? { querystring: r.querystring } : {}), ...(r.body !== undefined ? { body: r.body } : {}) }
}
