// The local API's routes in one table: each route's request schemas (JSON Schema, checked by fastify's validator)
// and its documented responses. The server registers exactly these; the OpenAPI document is built from them, so
// the document cannot drift from what is checked.

export type Method = 'GET' | 'POST'
export type JsonSchema = Record<string, unknown>

export interface RouteSpec {
  method: Method
  /** fastify path syntax (`:id`, `*`) */
  url: string
  operationId: string
  summary: string
  params?: JsonSchema
  querystring?: JsonSchema
  body?: JsonSchema
  /** status → description and, for JSON, the body's schema */
  responses: Record<number, { description: string, schema?: JsonSchema, contentType?: string }>
  /** served without the bearer token */
  public?: boolean
}

export const LP_AMOUNT = { type: 'string', pattern: '^[0-9]{1,30}(\\.[0-9]{1,18})?$', maxLength: 50, description: 'LP as a decimal, e.g. "1.5" (18 decimals at most)' }
const ADDRESS = { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' }
const JOB_ID = { type: 'string', pattern: '^job-[0-9a-f]{16}$' }
const CHAIN_NAME = '^[a-z0-9][a-z0-9-]{0,31}$'
/** a chain of the network in a body: its id (a number or a decimal string) or its name in the network file */
export const CHAIN = { anyOf: [{ type: 'string', pattern: CHAIN_NAME }, { type: 'integer', minimum: 1, maximum: 9007199254740991 }], description: 'the chain: its id or its name in the network file (default: the network\'s first; GET /v1/node lists them)' }
/** the same in a query string */
const CHAIN_QUERY = { type: 'string', pattern: CHAIN_NAME, description: 'the chain: its id or its name (default: the network\'s first)' }
const AMOUNT_OUT = { type: 'object', properties: { lp: { type: 'string' }, wei: { type: 'string' } }, required: ['lp', 'wei'] }
export const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'object', properties: { name: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } }, required: ['name', 'message'] } },
  required: ['error']
}
const JOB = {
  type: 'object',
  description: 'A job: its state (queued, matching, running, done, failed, cancelled), phase, deals, outcome or error; `events` only on GET /v1/jobs/{id}',
  properties: {
    id: JOB_ID,
    state: { type: 'string', enum: ['queued', 'matching', 'running', 'done', 'failed', 'cancelled'] },
    chainId: { type: 'integer', description: 'the chain the job settles on' },
    phase: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    request: { type: 'object' },
    dealIds: { type: 'array', items: { type: 'string' } },
    outcome: { type: 'object' },
    error: { type: 'object' },
    resumed: { type: 'boolean' },
    events: { type: 'array', items: { type: 'object', properties: { seq: { type: 'integer' }, at: { type: 'integer' }, type: { type: 'string' }, data: { type: 'object' } } } },
    eventsDropped: { type: 'integer' }
  },
  required: ['id', 'state']
}
const BALANCE = {
  type: 'object',
  properties: { address: ADDRESS, wallet: AMOUNT_OUT, deposit: AMOUNT_OUT, locked: AMOUNT_OUT, chainId: { type: 'integer' } },
  required: ['address', 'wallet', 'deposit', 'locked', 'chainId']
}
const BALANCES = {
  type: 'object',
  properties: {
    address: ADDRESS,
    chains: {
      type: 'array',
      description: 'each chain of the network, the first first: its balances, or the error that kept it from being read',
      items: { type: 'object', properties: { chainId: { type: 'integer' }, name: { type: 'string' }, wallet: AMOUNT_OUT, deposit: AMOUNT_OUT, locked: AMOUNT_OUT, error: { type: 'object', properties: { name: { type: 'string' }, message: { type: 'string' } } } }, required: ['chainId'] }
    }
  },
  required: ['address', 'chains']
}
const MODULE = {
  type: 'object',
  properties: {
    ref: { type: 'string' },
    description: { type: 'string' },
    inputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, required: { type: 'boolean' }, default: { type: 'string' } }, required: ['name', 'required'] } }
  },
  required: ['ref', 'inputs']
}
const ID_PARAMS = { type: 'object', properties: { id: JOB_ID }, required: ['id'], additionalProperties: false }
const AMOUNT_BODY = { type: 'object', properties: { amount: LP_AMOUNT, chain: CHAIN }, required: ['amount'], additionalProperties: false }

export const SUBMIT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['module'],
  properties: {
    module: { type: 'string', minLength: 1, maxLength: 512, description: 'a module reference, e.g. cowsay:v0.0.1' },
    inputs: { type: 'object', maxProperties: 64, propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }, additionalProperties: { type: 'string', maxLength: 8192 } },
    inputFiles: { type: 'object', maxProperties: 16, propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }, additionalProperties: { type: 'string', pattern: '^/', maxLength: 4096 }, description: 'absolute paths on the node\'s machine, served while the job runs' },
    maxPrice: LP_AMOUNT,
    target: ADDRESS,
    mediators: { type: 'array', items: ADDRESS, minItems: 1, maxItems: 16 },
    audit: { type: 'number', minimum: 0, maximum: 1, description: 'probability of an audit by a mediator' },
    gpu: {
      type: 'object',
      additionalProperties: false,
      properties: { gpus: { type: 'integer', minimum: 0, maximum: 65535 }, model: { type: 'string', minLength: 1, maxLength: 64 }, vramMb: { type: 'integer', minimum: 0, maximum: 4294967295 } }
    },
    machine: {
      type: 'object',
      additionalProperties: false,
      description: 'CPU and memory asked for on top of the module\'s (raise only): the provider runs the job\'s container with them',
      properties: { cpu: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'millicores' }, ramMb: { type: 'integer', minimum: 0, maximum: 4294967295 } }
    },
    accept: { type: 'boolean', description: 'accept the result early on success (default true)' },
    chain: { ...CHAIN, description: 'the chain the job settles on: its id or its name in the network file (default: the network\'s first); the job creator\'s deposit on that chain pays' },
    wallet: { ...ADDRESS, description: 'the job creator is this account (a browser wallet), not the node\'s key: the job asks it for each signature (`sign` events; answer with POST /v1/jobs/{id}/signatures); its Market deposit pays; it is asked to sign the acceptance of a result the node verified, and to send the challenge (`send` events; answer with POST /v1/jobs/{id}/transactions) of one that fails' }
  }
}

const errors = (...codes: number[]): Record<number, { description: string, schema: JsonSchema }> =>
  Object.fromEntries(codes.map(c => [c, { description: 'a named error', schema: ERROR_SCHEMA }]))

export const ROUTES: RouteSpec[] = [
  { method: 'GET', url: '/v1/openapi.json', operationId: 'openapi', summary: 'This document', public: true, responses: { 200: { description: 'the OpenAPI 3 document' } } },
  { method: 'GET', url: '/v1/node', operationId: 'node', summary: 'The node: network, address, peer id, roles, and the network\'s chains (id, name, contracts, whether this node serves it now)', responses: { 200: { description: 'the node', schema: { type: 'object' } }, ...errors(401) } },
  {
    method: 'POST', url: '/v1/jobs', operationId: 'submitJob', summary: 'Submit a job; it runs at once or waits as queued', body: SUBMIT_BODY,
    responses: { 201: { description: 'the job', schema: JOB }, ...errors(400, 401, 413, 415, 429) }
  },
  {
    method: 'GET', url: '/v1/jobs', operationId: 'listJobs', summary: 'Jobs, newest first',
    querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['queued', 'matching', 'running', 'done', 'failed', 'cancelled'] }, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' }, chain: CHAIN_QUERY } },
    responses: { 200: { description: 'the jobs (without events)', schema: { type: 'object', properties: { jobs: { type: 'array', items: JOB } } } }, ...errors(400, 401) }
  },
  { method: 'GET', url: '/v1/jobs/:id', operationId: 'getJob', summary: 'One job with its event history', params: ID_PARAMS, responses: { 200: { description: 'the job', schema: JOB }, ...errors(400, 401, 404) } },
  {
    method: 'POST', url: '/v1/jobs/:id/cancel', operationId: 'cancelJob', summary: 'Cancel a job: aborted when no deal is agreed yet (nothing spent); else its deal runs to its end, and the answer says what happens to the money',
    params: ID_PARAMS,
    responses: { 200: { description: 'what cancel did', schema: { type: 'object', properties: { id: JOB_ID, cancelled: { type: 'boolean' }, state: { type: 'string' }, dealId: { type: 'string' }, money: { type: 'string' } }, required: ['id', 'cancelled', 'state', 'money'] } }, ...errors(400, 401, 404, 409) }
  },
  {
    method: 'POST', url: '/v1/jobs/:id/signatures', operationId: 'signJob', summary: 'A wallet\'s answer to one of the job\'s `sign` events (the EIP-712 signature of its typed data by the job\'s wallet account)',
    params: ID_PARAMS,
    body: { type: 'object', additionalProperties: false, required: ['request', 'signature'], properties: { request: { type: 'string', pattern: '^[0-9a-f]{16}$' }, signature: { type: 'string', pattern: '^0x[0-9a-fA-F]{130}$' } } },
    responses: { 200: { description: 'taken', schema: { type: 'object', properties: { request: { type: 'string' }, accepted: { type: 'boolean' } } } }, ...errors(400, 401, 404, 413, 415) }
  },
  {
    method: 'POST', url: '/v1/jobs/:id/transactions', operationId: 'walletTxJob', summary: 'A wallet\'s answer to one of the job\'s `send` events: the hash of the transaction it sent (the node checks on chain what it did)',
    params: ID_PARAMS,
    body: { type: 'object', additionalProperties: false, required: ['request', 'hash'], properties: { request: { type: 'string', pattern: '^[0-9a-f]{16}$' }, hash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } } },
    responses: { 200: { description: 'taken', schema: { type: 'object', properties: { request: { type: 'string' }, accepted: { type: 'boolean' } } } }, ...errors(400, 401, 404, 413, 415) }
  },
  {
    method: 'GET', url: '/v1/jobs/:id/events', operationId: 'jobEvents', summary: 'The job\'s events as server-sent events (event types state, phase, tx, note, log; then end): the history after Last-Event-ID or ?after, then live until the job ends',
    params: ID_PARAMS, querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'string', pattern: '^[0-9]{1,12}$' } } },
    responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' }, ...errors(400, 401, 404, 429) }
  },
  {
    method: 'GET', url: '/v1/jobs/:id/files', operationId: 'listFiles', summary: 'The files of a done job\'s result', params: ID_PARAMS,
    responses: { 200: { description: 'the result\'s files', schema: { type: 'object', properties: { cid: { type: 'string' }, files: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, bytes: { type: 'integer' } } } } } } }, ...errors(400, 401, 404, 409) }
  },
  {
    method: 'GET', url: '/v1/jobs/:id/files/*', operationId: 'getFile', summary: 'One file of a done job\'s result (a path inside the result, e.g. stdout or outputs/x.txt)',
    params: { type: 'object', properties: { id: JOB_ID, '*': { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['id', '*'] },
    responses: { 200: { description: 'the file\'s bytes', contentType: 'application/octet-stream' }, ...errors(400, 401, 404, 409) }
  },
  {
    method: 'GET', url: '/v1/balance', operationId: 'balance', summary: 'LP in the wallet, in the Market deposit, and locked in this node\'s open deals, on one chain (?chain=, default the first); ?address= another account\'s wallet and deposit (a browser wallet\'s)',
    querystring: { type: 'object', additionalProperties: false, properties: { address: ADDRESS, chain: CHAIN_QUERY } },
    responses: { 200: { description: 'balances (LP decimals and wei)', schema: BALANCE }, ...errors(400, 401, 503) }
  },
  {
    method: 'GET', url: '/v1/balances', operationId: 'balances', summary: 'The balances on each chain of the network (a chain that cannot be read shows its error); ?address= another account\'s',
    querystring: { type: 'object', additionalProperties: false, properties: { address: ADDRESS } },
    responses: { 200: { description: 'balances per chain (LP decimals and wei)', schema: BALANCES }, ...errors(400, 401) }
  },
  {
    method: 'POST', url: '/v1/wallet/permit', operationId: 'walletPermit', summary: 'The ERC-2612 permit (EIP-712 typed data for eth_signTypedData_v4) a browser wallet signs to deposit `amount` LP; the node signs nothing',
    body: { type: 'object', additionalProperties: false, required: ['owner', 'amount'], properties: { owner: ADDRESS, amount: LP_AMOUNT, chain: CHAIN } },
    responses: { 200: { description: 'the typed data and its deadline', schema: { type: 'object', properties: { typedData: { type: 'object' }, deadline: { type: 'string' } }, required: ['typedData', 'deadline'] } }, ...errors(400, 401, 404, 409, 413, 415) }
  },
  {
    method: 'POST', url: '/v1/wallet/deposit-tx', operationId: 'walletDepositTx', summary: 'The Market depositWithPermit transaction (to, data) for the browser wallet to send, once the permit\'s signature is checked to be the owner\'s',
    body: { type: 'object', additionalProperties: false, required: ['owner', 'amount', 'deadline', 'signature'], properties: { owner: ADDRESS, amount: LP_AMOUNT, deadline: { type: 'string', pattern: '^[0-9]{1,20}$' }, signature: { type: 'string', pattern: '^0x[0-9a-fA-F]{130}$' }, chain: CHAIN } },
    responses: { 200: { description: 'the transaction', schema: { type: 'object', properties: { to: ADDRESS, data: { type: 'string' }, chainId: { type: 'integer' } }, required: ['to', 'data', 'chainId'] } }, ...errors(400, 401, 404, 413, 415) }
  },
  { method: 'POST', url: '/v1/deposit', operationId: 'deposit', summary: 'Move LP from the wallet into the Market deposit, on one chain (`chain`, default the first)', body: AMOUNT_BODY, responses: { 200: { description: 'balances after', schema: BALANCE }, ...errors(400, 401, 409, 413, 415, 503) } },
  { method: 'POST', url: '/v1/withdraw', operationId: 'withdraw', summary: 'Move LP from the Market deposit back to the wallet, on one chain (`chain`, default the first)', body: AMOUNT_BODY, responses: { 200: { description: 'balances after', schema: BALANCE }, ...errors(400, 401, 409, 413, 415, 503) } },
  { method: 'GET', url: '/v1/offers', operationId: 'offers', summary: 'Resource offers in this node\'s order book of one chain (?chain=, default the first)', querystring: { type: 'object', additionalProperties: false, properties: { chain: CHAIN_QUERY } }, responses: { 200: { description: 'offers', schema: { type: 'object', properties: { offers: { type: 'array', items: { type: 'object' } } } } }, ...errors(400, 401, 503) } },
  { method: 'GET', url: '/v1/providers', operationId: 'providers', summary: 'Providers known from the order book of one chain (?chain=, default the first): their offers\' slots, modules and machine, the lowest price, and their reputation from that chain\'s records (score 0..1,000,000, standing ok/demoted/banned) when this node keeps them', querystring: { type: 'object', additionalProperties: false, properties: { chain: CHAIN_QUERY } }, responses: { 200: { description: 'providers', schema: { type: 'object', properties: { providers: { type: 'array', items: { type: 'object' } } } } }, ...errors(400, 401, 503) } },
  {
    method: 'GET', url: '/v1/modules', operationId: 'modules', summary: 'The built-in modules, each with the inputs its template declares (required or with a default)',
    responses: { 200: { description: 'modules', schema: { type: 'object', properties: { modules: { type: 'array', items: MODULE } } } }, ...errors(401) }
  },
  {
    method: 'GET', url: '/v1/module', operationId: 'module', summary: 'One module by reference (name:version, a git repository with a tag or commit): where it resolved and the inputs its template declares',
    querystring: { type: 'object', additionalProperties: false, required: ['ref'], properties: { ref: { type: 'string', minLength: 1, maxLength: 512 } } },
    responses: { 200: { description: 'the module', schema: MODULE }, ...errors(400, 401, 404) }
  },
  {
    method: 'GET', url: '/v1/network', operationId: 'network', summary: 'The network as this node sees it on one chain (?chain=, default the first): chain head and follower lag, mesh peers and that chain\'s gossip topics, mediators (on chain, in the network file, in offers), this node\'s deals on it by phase',
    querystring: { type: 'object', additionalProperties: false, properties: { chain: CHAIN_QUERY } },
    responses: { 200: { description: 'the network view', schema: { type: 'object', properties: { chain: { type: 'object' }, mesh: { type: 'object' }, mediators: { type: 'array', items: { type: 'object' } }, deals: { type: 'object' } } } }, ...errors(400, 401, 404, 503) }
  }
]

/** The OpenAPI 3 document of ROUTES. */
export function openApiDocument (version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of ROUTES) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{path}')
    const parameters: unknown[] = []
    for (const [name, schema] of Object.entries((r.params?.properties ?? {}) as Record<string, JsonSchema>)) {
      parameters.push({ name: name === '*' ? 'path' : name, in: 'path', required: true, schema })
    }
    for (const [name, schema] of Object.entries((r.querystring?.properties ?? {}) as Record<string, JsonSchema>)) {
      parameters.push({ name, in: 'query', required: false, schema })
    }
    const responses = Object.fromEntries(Object.entries(r.responses).map(([code, x]) => [code, {
      description: x.description,
      ...(x.schema !== undefined ? { content: { 'application/json': { schema: x.schema } } } : x.contentType !== undefined ? { content: { [x.contentType]: {} } } : {})
    }]))
    paths[path] ??= {}
    paths[path][r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body !== undefined ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses,
      security: r.public === true ? [] : [{ bearer: [] }]
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Lilypad node API', version, description: 'The local API of a Lilypad node: jobs, results, balances. Loopback only; every route but this document needs `Authorization: Bearer <token>` (the token is in the node\'s data dir, file api-token).' },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: ERROR_SCHEMA } },
    paths
  }
}
