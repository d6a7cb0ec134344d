// A real single-node Docker Swarm for tests, shared by the test processes that run at the same time (ava runs
// files in parallel on one engine). The first user initialises it (when no swarm is active), the last one
// leaves it; a swarm that was active before any test made it is never left. Users are counted as files in one
// directory, guarded by a lock directory; a dead process's entries (and lock) are cleared by the next user.
// A test that drains the node takes it exclusively: it waits for the jobs other processes run on the swarm
// (each held with shared()) to end, and new ones wait for it (up to just under ava's 5-minute test timeout).
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type Docker from 'dockerode'
import { pause } from '../executor/engine.ts'

const DIR = join(tmpdir(), 'lilypad-test-swarm')
const LOCK = join(DIR, 'lock')
const USERS = join(DIR, 'users')
/** Present while the swarm is one the tests made (and so leave). */
const MADE = join(DIR, 'made')
const GWBRIDGE = 'docker_gwbridge'
/** Swarm jobs running now, one file each (pid-n). */
const JOBS = join(DIR, 'jobs')
/** Present (holding a pid) while a test holds the node exclusively. */
const EXCLUSIVE = join(DIR, 'exclusive')

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch (e) { return (e as { code?: string }).code === 'EPERM' } }

async function locked<T> (fn: () => Promise<T>): Promise<T> {
  await mkdir(DIR, { recursive: true })
  const until = Date.now() + 60_000
  for (;;) {
    try {
      await mkdir(LOCK)
      await writeFile(join(LOCK, 'pid'), String(process.pid))
      break
    } catch (e) {
      // (ENOENT: the last user removed the directory just now)
      if ((e as { code?: string }).code === 'ENOENT') { await mkdir(DIR, { recursive: true }); continue }
      if ((e as { code?: string }).code !== 'EEXIST') throw e
      const holder = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => ''))
      if (holder > 0 && !alive(holder)) { await rm(LOCK, { recursive: true, force: true }); continue }
      if (Date.now() > until) throw new Error(`the test swarm's lock ${LOCK} is held by process ${holder}`)
      await pause(20)
    }
  }
  try { return await fn() } finally { await rm(LOCK, { recursive: true, force: true }) }
}

async function users (): Promise<number[]> {
  await mkdir(USERS, { recursive: true })
  const pids = (await readdir(USERS)).map(Number)
  for (const p of pids) if (!alive(p)) await rm(join(USERS, String(p)), { force: true })
  return pids.filter(alive)
}

async function liveEntries (dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const names = await readdir(dir)
  for (const n of names) if (!alive(Number(n.split('-')[0]))) await rm(join(dir, n), { force: true })
  return names.filter(n => alive(Number(n.split('-')[0])))
}

const exclusiveHolder = async (): Promise<number | undefined> => {
  const pid = Number(await readFile(EXCLUSIVE, 'utf8').catch(() => ''))
  return pid > 0 && alive(pid) ? pid : undefined
}

let seq = 0

/** Runs fn as one of the swarm's jobs: waits while another process holds the node exclusively. */
export async function shared<T> (fn: () => Promise<T>, ms = 280_000): Promise<T> {
  const entry = join(JOBS, `${process.pid}-${seq++}`)
  const until = Date.now() + ms
  for (;;) {
    const ok = await locked(async () => {
      if (await exclusiveHolder() !== undefined) return false
      await mkdir(JOBS, { recursive: true })
      await writeFile(entry, '')
      return true
    })
    if (ok) break
    if (Date.now() > until) throw new Error('the test swarm stayed held exclusively (a drain test)')
    await pause(50)
  }
  try { return await fn() } finally { await rm(entry, { force: true }) }
}

/** Runs fn with the node to itself: no other process's swarm job runs meanwhile. */
export async function exclusive<T> (fn: () => Promise<T>, ms = 280_000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const ok = await locked(async () => {
      if (await exclusiveHolder() !== undefined) return false
      await writeFile(EXCLUSIVE, String(process.pid))
      return true
    })
    if (ok) break
    if (Date.now() > until) throw new Error('another test holds the test swarm exclusively')
    await pause(50)
  }
  try {
    while ((await locked(async () => await liveEntries(JOBS))).length > 0) {
      if (Date.now() > until) throw new Error('swarm jobs of other test processes did not end')
      await pause(50)
    }
    return await fn()
  } finally { await rm(EXCLUSIVE, { force: true }) }
}

export interface TestSwarm {
  /** This engine's node id in the swarm. */
  nodeId: string
  /** Whether the tests made this swarm (and the last user leaves it). */
  made: boolean
  release: () => Promise<void>
}

/** Joins this process to the tests' swarm, initialising it when no swarm is active. */
export async function useSwarm (docker: Docker): Promise<TestSwarm> {
  return await locked(async () => {
    await users()
    const info = await docker.info() as { Swarm?: { LocalNodeState?: string, NodeID?: string } }
    if (info.Swarm?.LocalNodeState !== 'active') {
      // swarm init makes the docker_gwbridge network when there is none, and leaving keeps it: ours to remove then
      const gwbridge = (await docker.listNetworks({ filters: { name: [GWBRIDGE] } })).some(n => n.Name === GWBRIDGE)
      await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' })
      await writeFile(MADE, gwbridge ? '' : GWBRIDGE)
    }
    await writeFile(join(USERS, String(process.pid)), '')
    const made = await readFile(MADE).then(() => true, () => false)
    const nodeId = ((await docker.info()) as { Swarm: { NodeID: string } }).Swarm.NodeID
    return {
      nodeId,
      made,
      release: async () => {
        await locked(async () => {
          await rm(join(USERS, String(process.pid)), { force: true })
          if ((await users()).length > 0) return
          const made = await readFile(MADE, 'utf8').catch(() => undefined)
          if (made !== undefined) {
            await docker.swarmLeave({ force: true })
            if (made === GWBRIDGE) await docker.getNetwork(GWBRIDGE).remove().catch(() => { /* in use by someone else's container */ })
            await rm(MADE, { force: true })
          }
          await rmdir(USERS).catch(() => {})
          await rmdir(JOBS).catch(() => {})
        })
        await rmdir(DIR).catch(() => { /* another process's lock or entries */ })
      }
    }
  })
}
