// A unix-socket proxy in front of the real Docker engine, for tests that take the engine away from an executor
// mid-job: every byte is forwarded to /var/run/docker.sock; cut() drops the live connections, down() also
// refuses new ones (as a stopped dockerd does), freeze() keeps connections open but forwards nothing (a hung
// daemon), up() restores service. The engine itself is never touched.
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface DockerProxy {
  /** The socket path to give the executor (`socketPath`). */
  readonly path: string
  /** Connections accepted so far. */
  readonly accepted: number
  cut: () => void
  down: () => Promise<void>
  freeze: () => void
  up: () => Promise<void>
  close: () => Promise<void>
}

export async function startDockerProxy (target = '/var/run/docker.sock'): Promise<DockerProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-docker-proxy-'))
  const path = join(dir, 'docker.sock')
  const live = new Set<Socket>()
  let frozen = false
  let accepted = 0
  let server: Server | undefined

  const onConnection = (client: Socket): void => {
    accepted++
    live.add(client)
    client.on('close', () => { live.delete(client) })
    client.on('error', () => {})
    if (frozen) { client.pause(); return }
    const engine = createConnection(target)
    live.add(engine)
    engine.on('close', () => { live.delete(engine); client.destroy() })
    engine.on('error', () => { client.destroy() })
    client.on('close', () => { engine.destroy() })
    client.pipe(engine)
    engine.pipe(client)
  }

  const listen = async (): Promise<void> => {
    await rm(path, { force: true })
    const s = createServer(onConnection)
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(path, () => { s.off('error', reject); resolve() }) })
    server = s
  }

  const cut = (): void => { for (const s of [...live]) s.destroy() }

  const down = async (): Promise<void> => {
    const s = server
    server = undefined
    cut()
    if (s !== undefined) await new Promise<void>(resolve => { s.close(() => { resolve() }) })
    await rm(path, { force: true })
  }

  await listen()
  return {
    path,
    get accepted () { return accepted },
    cut,
    down,
    freeze: () => {
      frozen = true
      // existing connections stop moving bytes in either direction
      for (const s of live) { s.unpipe(); s.pause() }
    },
    up: async () => {
      frozen = false
      cut() // frozen connections are dead to their clients anyway
      if (server === undefined) await listen()
    },
    close: async () => {
      await down()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
