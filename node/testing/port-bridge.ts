// Carries TCP connections across network namespaces through a unix socket (unix sockets live in the file
// system, which the namespaces share): the test's root namespace serves the socket and connects each
// stream to a local TCP port (anvil on 127.0.0.1); inside a namespace, this file as a script listens on an
// address there and passes each connection to the socket. No interface or route of the host is touched.
//   node port-bridge.ts <listen ip> <listen port> <socket path>   → prints "listening <port>" once bound
import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

function pipeBoth (a: Socket, b: Socket): void {
  a.pipe(b)
  b.pipe(a)
  const end = (): void => { a.destroy(); b.destroy() }
  a.once('error', end)
  b.once('error', end)
  a.once('close', end)
  b.once('close', end)
}

/** Root side: every connection to the unix socket at `path` goes to 127.0.0.1:`port`. */
export async function serveSocketToPort (path: string, port: number, host = '127.0.0.1'): Promise<{ close: () => Promise<void> }> {
  const open = new Set<Socket>()
  const server: Server = createServer(s => {
    open.add(s)
    s.once('close', () => open.delete(s))
    pipeBoth(s, connect(port, host))
  })
  server.listen(path)
  await once(server, 'listening')
  return {
    close: async () => {
      for (const s of open) s.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [ip, port, path] = process.argv.slice(2)
  const server = createServer(s => { pipeBoth(s, connect(path)) })
  server.listen(Number(port), ip)
  await once(server, 'listening')
  console.log(`listening ${(server.address() as { port: number }).port}`)
}
