// A read-only HTTP gateway over a node's result store, for dapps and block explorers that show results:
// GET /ipfs/<CID>[/<path>] serves a file of a result this node holds (a directory is listed as JSON). Only roots
// pinned here are served, read offline from the local block store — a stranger cannot make the node fetch
// anything from the network through it — every block having been hash-checked when it entered the store. What
// it serves is labelled as data, never as a page (no HTML, no sniffing, a sandboxing CSP), so a result cannot run
// script on the node's origin. Requests in flight are bounded; methods other than GET and HEAD are refused.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import { exporter, type ExporterOptions, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { ResultStore } from './result-store.ts'

export interface GatewayOptions {
  port: number
  /** default loopback: put a reverse proxy in front to publish it */
  host?: string
  /** requests served at once at most (default 32); beyond, 503 */
  maxInFlight?: number
  /** per request (default 30 s) */
  timeoutMs?: number
}

export class GatewayPortError extends Error {
  static override name = 'GatewayPortError'
  override name = 'GatewayPortError'
}

/** result files shown as text; everything else is served as bytes (the job API's result files use the same rule) */
export const TEXT_NAMES = /^(stdout|stderr|exitCode|status)$|\.(txt|json|csv|log|md)$/i
/** a result is data from a stranger: never sniffed, never run as a page */
export const SAFE_HEADERS = { 'x-content-type-options': 'nosniff', 'content-security-policy': "sandbox; default-src 'none'", 'cache-control': 'public, max-age=31536000, immutable' }

function send (res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(`${text}\n`)
}

/** Serves the gateway on host:port. Resolves once listening; close() stops it. */
export async function serveGateway (store: ResultStore, opts: GatewayOptions): Promise<{ url: string, close: () => Promise<void> }> {
  let inFlight = 0
  const max = opts.maxInFlight ?? 32
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.setHeader('allow', 'GET, HEAD'); send(res, 405, 'read-only: GET or HEAD'); return }
    const path = (req.url ?? '').split('?')[0]
    const m = /^\/ipfs\/([^/]+)((?:\/[^/]+)*)\/?$/.exec(path)
    if (m === null) { send(res, 404, 'not found: try GET /ipfs/<CID>/<path>'); return }
    let cid: CID
    try { cid = CID.parse(m[1]) } catch { send(res, 400, `"${m[1].slice(0, 100)}" is not a CID`); return }
    let segments: string[]
    try { segments = m[2].split('/').filter(s => s !== '').map(s => decodeURIComponent(s)) } catch { send(res, 400, 'bad percent-encoding in the path'); return }
    if (segments.some(s => s === '.' || s === '..' || s.includes('/') || s.includes('\0'))) { send(res, 400, 'bad path segment'); return }
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000)
    // a result added moments ago is pinned in the background: wait for those pins before saying no
    const held = async (): Promise<boolean> => await store.helia.pins.isPinned(cid, { signal })
    if (!(await held()) && !(await store.settled().then(held))) { send(res, 404, `${cid.toString()} is not held by this node`); return }
    // offline: a block missing here is an error, never a fetch from the network
    const xopts = { signal, offline: true } as ExporterOptions
    let entry: UnixFSEntry
    try {
      entry = await exporter(segments.length > 0 ? `${cid.toString()}/${segments.join('/')}` : cid, store.helia.blockstore, xopts)
    } catch (err) {
      send(res, 404, `not found in ${cid.toString()}: ${(err as Error).message.slice(0, 200)}`)
      return
    }
    if (entry.type === 'directory') {
      const entries: Array<{ name: string, cid: string }> = []
      for await (const child of entry.entries(xopts)) entries.push({ name: child.name, cid: child.cid.toString() })
      const body = JSON.stringify({ cid: entry.cid.toString(), entries })
      res.writeHead(200, { ...SAFE_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    if (entry.type !== 'file' && entry.type !== 'raw') { send(res, 415, `${entry.type} entries are not served`); return }
    const name = segments.at(-1) ?? ''
    res.writeHead(200, {
      ...SAFE_HEADERS,
      'content-type': TEXT_NAMES.test(name) ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      'content-length': String(entry.size),
      etag: `"${entry.cid.toString()}"`
    })
    if (req.method === 'HEAD') { res.end(); return }
    for await (const chunk of entry.content(xopts)) {
      if (!res.write(chunk)) await new Promise<void>(resolve => { res.once('drain', resolve); res.once('close', resolve) })
      if (res.destroyed) return
    }
    res.end()
  }
  const server: Server = createServer((req, res) => {
    if (inFlight >= max) { res.setHeader('retry-after', '1'); send(res, 503, 'busy: too many requests in flight'); return }
    inFlight++
    handle(req, res).catch(err => {
      if (!res.headersSent) send(res, 500, `gateway error: ${(err as Error).message.slice(0, 200)}`)
      else res.destroy()
    }).finally(() => { inFlight-- })
  })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(new GatewayPortError(`cannot serve the gateway on ${host}:${opts.port}: ${err.code ?? err.message}`)) })
    server.listen(opts.port, host, () => { resolve() })
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port
  return {
    url: `http://${host}:${port}/ipfs/`,
    close: async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() }) }
  }
}
