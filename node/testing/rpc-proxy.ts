// A real HTTP proxy in front of a JSON-RPC endpoint (anvil) that misbehaves on request: it can freeze (hold every
// request unanswered until thawed, as an RPC that stalls), refuse (drop every connection, as an RPC that is down),
// or fail now and then (drop every n-th request), or refuse only some methods (e.g. transactions, while reads pass).
// Tests put it between one node and the chain.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export type ProxyMode = 'pass' | 'stall' | 'refuse'

export class RpcProxy {
  readonly target: URL
  readonly url: string
  mode: ProxyMode = 'pass'
  /** drop every n-th request (0: never) */
  failEvery = 0
  /** JSON-RPC methods whose requests are dropped (a batch with any of them is dropped whole) */
  readonly refuseMethods = new Set<string>()
  /** requests seen, and how many were held, refused or dropped */
  readonly counts = { requests: 0, held: 0, refused: 0, dropped: 0 }
  readonly #server: Server
  readonly #held: Array<() => void> = []
  readonly #sockets = new Set<Socket>()

  private constructor (server: Server, target: URL, url: string) {
    this.#server = server
    this.target = target
    this.url = url
  }

  static async start (target: string): Promise<RpcProxy> {
    let proxy: RpcProxy | undefined
    const server = createServer((req, res) => { proxy?.handle(req, res) })
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => { resolve() }) })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no port')
    proxy = new RpcProxy(server, new URL(target), `http://127.0.0.1:${addr.port}`)
    server.on('connection', s => { proxy.#sockets.add(s); s.once('close', () => { proxy.#sockets.delete(s) }) })
    return proxy
  }

  /** Holds every request from now on until thaw(). */
  stall (): void { this.mode = 'stall' }

  /** Answers the held requests (those whose client has not given up) and passes new ones. */
  thaw (): void {
    this.mode = 'pass'
    for (const go of this.#held.splice(0)) go()
  }

  refuse (): void {
    this.mode = 'refuse'
    for (const s of this.#sockets) s.destroy()
  }

  async stop (): Promise<void> {
    for (const go of this.#held.splice(0)) go()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>(resolve => { this.#server.close(() => { resolve() }) })
  }

  #names (body: Buffer): string[] {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as unknown
      return (Array.isArray(parsed) ? parsed : [parsed]).map(r => String((r as { method?: unknown })?.method))
    } catch {
      return [] // not JSON: passed on, the endpoint answers it with its own error
    }
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    this.counts.requests++
    if (this.mode === 'refuse') { this.counts.refused++; req.socket.destroy(); return }
    if (this.failEvery > 0 && this.counts.requests % this.failEvery === 0) { this.counts.dropped++; req.socket.destroy(); return }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (this.refuseMethods.size > 0 && this.#names(Buffer.concat(chunks)).some(m => this.refuseMethods.has(m))) { this.counts.refused++; req.socket.destroy(); return }
      const forward = (): void => {
        if (req.socket.destroyed) return // the client gave up while we held it
        const up = httpRequest({ hostname: this.target.hostname, port: this.target.port, path: this.target.pathname, method: 'POST', headers: { 'content-type': 'application/json' } }, upRes => {
          res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json' })
          upRes.pipe(res)
        })
        up.on('error', () => { res.destroy() })
        up.end(Buffer.concat(chunks))
      }
      if (this.mode === 'stall') { this.counts.held++; this.#held.push(forward); return }
      forward()
    })
  }
}
