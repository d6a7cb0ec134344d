// How a CLI finds the node that owns its key, and how two nodes are kept from owning one key:
// - a lock file per data dir (<dataDir>/node.lock) and one per key (<home>/nodes/<networkId>/<address>.lock),
//   each {pid, dataDir}, created exclusively; a lock whose process is gone is stale and taken over;
// - <dataDir>/api.json {url, pid, network, address} while the API serves, removed on stop; a stale one (dead pid,
//   refused connection) is ignored by readers;
// - <dataDir>/api-token: the bearer token, mode 0600, made once and kept (an SDK configured with it keeps working).
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export const API_FILE = 'api.json'
export const TOKEN_FILE = 'api-token'
export const LOCK_FILE = 'node.lock'

export interface ApiFile { url: string, pid: number, network: string, address: string }

/** A second node for the same data dir or key while the first runs. */
export class NodeAlreadyRunningError extends Error {
  static override name = 'NodeAlreadyRunningError'
  override name = 'NodeAlreadyRunningError'
  readonly hint: string
  readonly pid: number
  constructor (what: string, pid: number, lock: string) {
    super(`a node for this ${what} already runs (pid ${pid}, lock ${lock})`)
    this.pid = pid
    this.hint = `use that node ("lilypad run", "lilypad jobs" and the SDK go through it), or stop it first (kill ${pid}); one node owns a key's nonce and deals`
  }
}

export function alive (pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** The key's lock: one per network and address under the Lilypad home. */
export function keyLockPath (home: string, networkId: string, address: string): string {
  return join(home, 'nodes', networkId, `${address.toLowerCase()}.lock`)
}

interface LockBody { pid: number, dataDir: string }

async function readLock (path: string): Promise<LockBody | undefined> {
  try {
    const b = JSON.parse(await readFile(path, 'utf8')) as Partial<LockBody>
    return typeof b.pid === 'number' && typeof b.dataDir === 'string' ? { pid: b.pid, dataDir: b.dataDir } : undefined
  } catch { return undefined }
}

/** Locks this process holds now: a second node in the same process (an embedded one, a test) is refused too. */
const heldHere = new Set<string>()

/** Takes the lock at `path` for this process, or throws NodeAlreadyRunningError; a stale lock is taken over. */
export async function acquireLock (path: string, what: string, dataDir: string): Promise<() => Promise<void>> {
  if (heldHere.has(path)) throw new NodeAlreadyRunningError(what, process.pid, path)
  heldHere.add(path)
  try {
    const release = await takeLock(path, what, dataDir)
    let released = false
    return async () => {
      if (released) return
      released = true
      try { await release() } finally { heldHere.delete(path) }
    }
  } catch (err) {
    heldHere.delete(path)
    throw err
  }
}

async function takeLock (path: string, what: string, dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true })
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600)
      try { await fh.writeFile(JSON.stringify({ pid: process.pid, dataDir }) + '\n') } finally { await fh.close() }
      return async () => {
        const now = await readLock(path)
        if (now?.pid === process.pid) await rm(path, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const held = await readLock(path)
      if (held !== undefined && held.pid !== process.pid && alive(held.pid)) throw new NodeAlreadyRunningError(what, held.pid, path)
      // stale (dead pid, unreadable, or left by an earlier start in this process that is gone): removed and tried again
      await rm(path, { force: true })
    }
  }
  throw new Error(`could not take the lock ${path}`)
}

/** The data dir of the live node that holds the key's lock, if any. */
export async function lockedDataDir (home: string, networkId: string, address: string): Promise<string | undefined> {
  const held = await readLock(keyLockPath(home, networkId, address))
  return held !== undefined && alive(held.pid) ? held.dataDir : undefined
}

/** The API token of a data dir, made (32 random bytes, hex, mode 0600) when absent. */
export async function loadOrCreateToken (dataDir: string): Promise<string> {
  const path = join(dataDir, TOKEN_FILE)
  await mkdir(dataDir, { recursive: true })
  try {
    const t = (await readFile(path, 'utf8')).trim()
    if (/^[0-9a-f]{64}$/.test(t)) {
      if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600)
      return t
    }
  } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err }
  const token = randomBytes(32).toString('hex')
  await writeFile(path, token + '\n', { mode: 0o600 })
  await chmod(path, 0o600)
  return token
}

export async function readToken (dataDir: string): Promise<string | undefined> {
  try { return (await readFile(join(dataDir, TOKEN_FILE), 'utf8')).trim() } catch { return undefined }
}

export async function writeApiFile (dataDir: string, f: ApiFile): Promise<void> {
  await writeFile(join(dataDir, API_FILE), JSON.stringify(f) + '\n', { mode: 0o600 })
}

export async function removeApiFile (dataDir: string): Promise<void> {
  const f = await readApiFile(dataDir)
  if (f === undefined || f.pid === process.pid) await rm(join(dataDir, API_FILE), { force: true })
}

/** The api.json of a data dir when its process is alive (a stale one is ignored). */
export async function readApiFile (dataDir: string): Promise<ApiFile | undefined> {
  let f: Partial<ApiFile>
  try { f = JSON.parse(await readFile(join(dataDir, API_FILE), 'utf8')) as Partial<ApiFile> } catch { return undefined }
  if (typeof f.url !== 'string' || typeof f.pid !== 'number' || typeof f.network !== 'string' || typeof f.address !== 'string') return undefined
  if (!alive(f.pid)) return undefined
  return f as ApiFile
}
