// The console's only way out: the node's API on this origin, with the bearer token the node printed in the
// console's URL (#token=…). The token is kept in sessionStorage (this tab) and taken out of the address bar.
// Event streams are read with fetch (EventSource cannot send the Authorization header).

// the node's own error class: the same name, status and hint the API answered with
import { ApiError } from '../../node/api/errors.ts'
export { ApiError }

const TOKEN_KEY = 'lilypad-api-token'

/** Takes a token from the URL's fragment (the node prints it there) into this tab's storage. */
export function adoptTokenFromUrl (): void {
  const m = /(?:^#|[&#])token=([A-Za-z0-9_-]{16,200})/.exec(location.hash)
  if (m === null) return
  sessionStorage.setItem(TOKEN_KEY, m[1])
  history.replaceState(null, '', `${location.pathname}#/run`)
}

export function token (): string | undefined { return sessionStorage.getItem(TOKEN_KEY) ?? undefined }
export function setToken (t: string): void { sessionStorage.setItem(TOKEN_KEY, t.trim()) }
export function forgetToken (): void { sessionStorage.removeItem(TOKEN_KEY) }

async function failure (res: Response): Promise<ApiError> {
  try {
    const b = await res.json() as { error?: { name?: string, message?: string, hint?: string } }
    if (b.error?.name !== undefined) return new ApiError(res.status, b.error.name, b.error.message ?? '', b.error.hint)
  } catch { /* not the API's error body */ }
  return new ApiError(res.status, 'HttpError', `the node answered ${res.status} ${res.statusText}`)
}

export async function call (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token() ?? ''}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(signal !== undefined ? { signal } : {}), cache: 'no-store' })
  if (!res.ok) throw await failure(res)
  return res
}

export async function get<T> (path: string, signal?: AbortSignal): Promise<T> { return await (await call('GET', path, undefined, signal)).json() as T }
export async function post<T> (path: string, body?: unknown): Promise<T> { return await (await call('POST', path, body ?? {})).json() as T }

export interface SseEvent { id?: string, event: string, data: string }

/** Reads a server-sent event stream until it ends or `signal` aborts; `onEvent` gets each event. */
export async function readEvents (path: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await call('GET', path, undefined, signal)
  if (res.body === null) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buf += value.replace(/\r\n?/g, '\n')
    let cut: number
    while ((cut = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, cut)
      buf = buf.slice(cut + 2)
      const e: SseEvent = { event: 'message', data: '' }
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const v = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') e.event = v
        else if (field === 'data') data.push(v)
        else if (field === 'id') e.id = v
      }
      if (data.length === 0) continue
      e.data = data.join('\n')
      onEvent(e)
    }
  }
}

/** A result file as a Blob (the API needs the token, so a plain link cannot fetch it). */
export async function fileBlob (jobId: string, name: string, type: string): Promise<Blob> {
  const res = await call('GET', `/v1/jobs/${jobId}/files/${name.split('/').map(encodeURIComponent).join('/')}`)
  return new Blob([await res.arrayBuffer()], { type })
}

// ---- the API's shapes (what the console reads of them) ----

export interface Amount { lp: string, wei: string }
/** A chain of the network: the API serves each it has joined (`served`) */
export interface ChainInfo { chainId: number, name?: string, contracts?: { market: string, token: string }, explorerUrl?: string, served: boolean, error?: { name: string, message: string } }
export interface NodeInfo { network: string, address: string, peerId: string, roles: string[], devnet: boolean, chainId?: number, contracts?: { market: string, token: string }, explorerUrl?: string, chains?: ChainInfo[] }

/** "name (id)", or the id alone */
export function chainLabel (node: NodeInfo, chainId: number | undefined): string {
  if (chainId === undefined) return '?'
  const c = node.chains?.find(x => x.chainId === chainId)
  return c?.name !== undefined ? `${c.name} (${chainId})` : String(chainId)
}

/** Whether the network settles on several chains (then the pages let the user pick one). */
export function multichain (node: NodeInfo): boolean { return (node.chains?.length ?? 1) > 1 }
export interface ModuleInput { name: string, required: boolean, default?: string }
export interface ModuleInfo { ref: string, description?: string, inputs: ModuleInput[] }
export interface JobEvent { seq: number, at: number, type: string, data: Record<string, unknown> }
export interface Job {
  id: string
  state: 'queued' | 'matching' | 'running' | 'done' | 'failed' | 'cancelled'
  /** the chain the job settles on */
  chainId?: number
  phase?: string
  createdAt: string
  updatedAt: string
  request: { module: string, inputs: Record<string, string>, maxPrice?: Amount, target?: string }
  dealIds: string[]
  outcome?: { dealId: string, resultCid: string, exitCode: number, phasesMs: Record<string, number>, challenged: boolean, verdict?: string }
  error?: { name: string, message: string, hint?: string }
  events?: JobEvent[]
  deal?: { id: string, provider: string, jobCreator: string, price: Amount, mediationFee: Amount, phase: string, chainId?: number }
}
export interface Balance { address: string, wallet: Amount, deposit: Amount, locked: Amount, chainId?: number }
/** GET /v1/balances: each chain's balances, or why it could not be read */
export interface Balances { address: string, chains: Array<{ chainId: number, name?: string, wallet?: Amount, deposit?: Amount, locked?: Amount, error?: { name: string, message: string } }> }
